"""Export one demo generator's samples in each of the three input kinds that ``motioneval evaluate`` reads.

:func:`export_samples` asks a demo generator (:mod:`motioneval.demo.generators`) for one motion per item of a
split of the demo dataset (a caption of the item, drawn with the seed, and the item's length, at most
``max_frames``), ``repetitions`` times, and writes the same motions three ways (``docs/formats.md``):

- ``samples.npz``: a motioneval sample file (:meth:`motioneval.data.samples.SampleSet.save`), the generator's
  own output (features with its normalization, or joints), with ids = item ids and the caption tokens;
- ``samples/``: a per-sample folder, ``manifest.json`` plus one ``<id>.npy`` (``<id>_r<k>.npy`` with several
  repetitions) of ``(length, D)`` features or ``(frames, 22, 3)`` joints;
- ``results.npy``: MDM's pickled dict (``motion`` float32 ``(N * R, 22, 3, 196)`` joint positions in metres,
  ``text``, ``lengths``, ``num_samples``, ``num_repetitions``; rows repetition-major), written as MDM's
  ``sample/generate.py`` writes it, every frame past a length holding the last pose (MDM's frames past the
  length are the model's, not zeros).

The default generator (``jittery``) returns joint positions, so the three files hold the same joints and
evaluate to identical numbers. A features generator (e.g. ``noisy``, dataset-normalized features) is
converted for ``results.npy`` with :func:`~motioneval.representation.inverse.features_to_joints` (``L`` rows
give ``L`` joint frames, as MDM's ``recover_from_ric``); reading it back recomputes velocities and rotations
from the positions (``L`` frames give ``L - 1`` rows), so its numbers differ from the other two files', by a
lot for ``noisy``, whose feature noise becomes position noise and then large velocity noise.
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import check_positive_int
from .._io import atomic_write_bytes, atomic_write_json
from ..constants import HUMANML3D_DATASET, MAX_MOTION_FRAMES

#: MDM generates 196 frames per HumanML3D motion (``max_frames``) and stores all of them.
MDM_FRAMES = MAX_MOTION_FRAMES
EXPORT_KINDS = ("samples.npz", "samples", "results.npy")


def demo_generator_by_name(name: str, dataset_root: str | os.PathLike) -> Any:
    """The demo generator called ``name`` (a row name of the demo table, e.g. ``"noisy"``)."""
    from ..representation.normalization import FeatureStats
    from .generators import demo_generators

    gens = demo_generators(FeatureStats.load_dataset(Path(dataset_root)))
    for g in gens:
        if g.name == name:
            return g
    raise ValueError(f"unknown demo generator {name!r}; choose one of {[g.name for g in gens]}")


def export_samples(out: str | os.PathLike, dataset_root: str | os.PathLike, *, generator: str | Any = "jittery",
                   split: str = "test", repetitions: int = 1, seed: int = 0,
                   max_frames: int = MDM_FRAMES) -> dict[str, Path]:
    """Write ``out/samples.npz``, ``out/samples/`` and ``out/results.npy`` (see the module docstring) for every
    item of ``split`` of the (demo) dataset folder ``dataset_root``; returns their paths by kind.

    ``generator``: a demo generator name or object (default ``"jittery"``, whose output is joint positions, so
    that the three files hold exactly the same motions and evaluate to the same numbers; ``"noisy"`` writes
    dataset-normalized features); repetition ``r`` is generated with seed ``seed + r``.
    """
    from ..data.dataset import MotionDataset
    from ..data.samples import SampleSet

    check_positive_int(repetitions, "repetitions", numpy=False)
    gen = demo_generator_by_name(generator, dataset_root) if isinstance(generator, str) else generator
    ds = MotionDataset(dataset_root, split)
    if len(ds) == 0:
        raise ValueError(f"split {split!r} of {dataset_root} has no items")
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(7,)))
    infos = ds.items
    picks = [int(rng.integers(len(info.captions))) for info in infos]
    captions = [info.captions[k].text for info, k in zip(infos, picks)]
    tokens = [list(info.captions[k].tokens) for info, k in zip(infos, picks)]
    ids = [info.id for info in infos]
    lengths = np.minimum(np.array([info.length for info in infos], dtype=np.int64), max_frames)

    kind = getattr(gen, "kind", "features")
    # a joints generator returns L + 1 frames for L feature rows: ask for one row less, so that every sample has
    # the item's length in frames (as MDM's samples have) and never exceeds it
    request = lengths - 1 if kind == "joints" else lengths
    outputs, out_lengths = [], []
    for r in range(repetitions):
        g = gen.generate(list(captions), request.copy(), seed + r)
        m = np.asarray(g.motions, dtype=np.float32)
        n = np.asarray(g.lengths if g.lengths is not None else lengths, dtype=np.int64)
        outputs.append(m)
        out_lengths.append(n)
    t_max = max(m.shape[1] for m in outputs)
    motions = np.concatenate([_pad_hold(m, t_max) for m in outputs])
    row_lengths = np.concatenate(out_lengths)
    normalization = getattr(gen, "normalization", "raw") if kind == "features" else "raw"
    meta = {"generator": gen.name, "version": gen.version, "seed": seed, "split": split,
            "dataset": str(dataset_root), "exported_by": "motioneval demo --export-samples"}
    s = len(ids)
    samples = SampleSet(captions=captions * repetitions, lengths=row_lengths, motions=motions, kind=kind,
                        normalization=normalization, tokens=tokens * repetitions, ids=ids * repetitions,
                        num_repetitions=repetitions, metadata=meta, frames="all")  # frames past each length kept

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = {"samples.npz": samples.save(out / "samples.npz")}
    files["samples"] = _write_folder(out / "samples", samples, meta)
    stats = ds.stats
    raw = motions
    if kind == "features" and normalization == "dataset":
        if stats is None:
            raise ValueError(f"{dataset_root} has no Mean.npy/Std.npy to denormalize the generator's output")
        raw = np.asarray(stats.denormalize(motions.astype(np.float64)), dtype=np.float32)
    elif kind == "features" and normalization != "raw":
        raise ValueError(f"cannot export {normalization}-normalized features as joints; use a generator that "
                         f"returns raw or dataset-normalized features")
    files["results.npy"] = _write_mdm(out / "results.npy", raw, row_lengths, captions * repetitions, kind, s,
                                      repetitions)
    return files


def _pad_hold(m: np.ndarray, frames: int) -> np.ndarray:
    """Pad the time axis (1) to ``frames`` by repeating the last frame."""
    if m.shape[1] >= frames:
        return m[:, :frames]
    tail = np.repeat(m[:, -1:], frames - m.shape[1], axis=1)
    return np.concatenate([m, tail], axis=1)


def _write_folder(folder: Path, samples: Any, meta: dict[str, Any]) -> Path:
    """A per-sample folder (``docs/formats.md``): ``<id>.npy`` with every generated frame (the manifest's
    ``length`` says how many are the motion; the rest is what the generator produced past it, as MDM keeps
    them), ``manifest.json`` last."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    s, reps = samples.num_samples, samples.num_repetitions
    for i in range(samples.num_rows):
        sid, r = samples.ids[i], i // s
        name = f"{sid}.npy" if reps == 1 else f"{sid}_r{r}.npy"
        n = int(samples.lengths[i])
        kept = int(samples.frames[i])
        np.save(folder / name, np.ascontiguousarray(samples.motions[i, :kept]), allow_pickle=False)
        row = {"id": sid, "caption": samples.captions[i], "tokens": list(samples.tokens[i]), "length": n,
               "file": name}
        if reps > 1:
            row["repetition"] = r
        rows.append(row)
    manifest = {"format": "motioneval.sample-folder/1", "kind": samples.kind,
                "normalization": samples.normalization, "metadata": meta, "samples": rows}
    atomic_write_json(folder / "manifest.json", manifest)
    return folder


def _write_mdm(path: Path, raw: np.ndarray, lengths: np.ndarray, texts: list[str], kind: str, num_samples: int,
               num_repetitions: int) -> Path:
    """MDM's ``results.npy``: ``np.save`` of the dict ``sample/generate.py`` builds (joints ``(N, J, 3, F)``)."""
    from ..representation.inverse import features_to_joints

    if kind == "features":
        joints = np.empty((raw.shape[0], raw.shape[1], HUMANML3D_DATASET.num_joints, 3), np.float32)
        for i, n in enumerate(lengths.tolist()):  # each clip at its own length; past it the last pose is held
            joints[i, :n] = features_to_joints(raw[i, :n].astype(np.float32))
            joints[i, n:] = joints[i, n - 1]
    else:
        joints = raw.astype(np.float32)
    joints = _pad_hold(joints, MDM_FRAMES) if joints.shape[1] < MDM_FRAMES else joints
    motion = np.ascontiguousarray(joints.transpose(0, 2, 3, 1))  # (N, J, 3, F), as MDM stores it
    results = {"motion": motion, "text": list(texts), "lengths": np.asarray(lengths, dtype=np.int64),
               "num_samples": num_samples, "num_repetitions": num_repetitions}
    buf = io.BytesIO()
    np.save(buf, results, allow_pickle=True)  # type: ignore[arg-type]  # a pickled dict, exactly as MDM writes it
    return atomic_write_bytes(path, buf.getvalue())


def describe_export(files: dict[str, Path]) -> str:
    """One line per written kind, for the CLI."""
    return "\n".join(f"{k:12s} {p}" for k, p in files.items())


__all__ = ["EXPORT_KINDS", "MDM_FRAMES", "demo_generator_by_name", "describe_export", "export_samples"]
