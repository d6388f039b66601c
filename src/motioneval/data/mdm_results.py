"""MDM's generated samples, ``results.npy``: a pickled dict of joint positions, read with an explicit opt-in.

The file is ``numpy.save`` of a Python dict (``formats.md``): ``motion`` float32
``(num_samples * num_repetitions, J, 3, F)`` joint positions in metres (J = 22 HumanML3D, 21 KIT), frames
past each length *not* trimmed; ``text`` one caption per row; ``lengths`` frame counts; ``num_samples`` and
``num_repetitions``. Rows are repetition-major: ``index = repetition * num_samples + sample``.

Loading it means unpickling, and unpickling executes code from the file, so :func:`read_mdm_results`
refuses unless called with ``allow_pickle=True`` for a file the user trusts. The result is a joints
:class:`~motioneval.data.samples.SampleSet` ``(N, F, J, 3)`` that keeps all ``F`` frames of every row
(``frames = F``: MDM's sampler output past each length is real output, and the ``mdm`` preset feeds it to
the evaluator); :func:`joints_to_feature_samples` turns it into raw features (``L`` joint frames give
``L - 1`` rows).
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from .. import _npio
from .._checks import as_positive_int
from .._io import sha256_file
from ..constants import HUMANML3D_DATASET, KIT_DATASET
from .sample_set import SampleSet, SampleSetError

PathLike = str | os.PathLike

REQUIRED_KEYS = ("motion", "text", "lengths", "num_samples", "num_repetitions")


class PickleRefusedError(ValueError):
    """Raised when a pickled file is read without the explicit ``allow_pickle=True`` opt-in."""


def read_mdm_results(path: PathLike, *, allow_pickle: bool = False) -> SampleSet:
    """Read MDM's ``results.npy`` into a joints :class:`SampleSet` (repetition-major rows, every frame kept).

    ``allow_pickle=True`` must be passed explicitly: the file is a pickle, and unpickling executes code
    from it. Pass it only for files you generated yourself or otherwise trust.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MDM results file not found: {path}")
    if not allow_pickle:
        raise PickleRefusedError(
            f"{path} is a pickled Python dict (MDM's results.npy). Unpickling executes code stored in the file, "
            f"so motioneval only reads it when you opt in: read_mdm_results(path, allow_pickle=True) "
            f"(CLI: --allow-pickle). Do this only for files you generated or trust; then convert them once to "
            f"motioneval's pickle-free format (`motioneval convert {path.name} samples.npz --allow-pickle`).")
    try:
        loaded = _npio.load(path, allow_pickle=True)
    except Exception as exc:  # truncated, not an .npy
        raise ValueError(f"{path}: cannot read as a NumPy file: {exc}") from exc
    if isinstance(loaded, np.ndarray) and loaded.dtype == object and loaded.ndim == 0:
        loaded = loaded.item()
    if not isinstance(loaded, dict):
        kind = f"array {loaded.shape} {loaded.dtype}" if isinstance(loaded, np.ndarray) else type(loaded).__name__
        raise ValueError(f"{path}: expected MDM's results dict with keys {list(REQUIRED_KEYS)}; found {kind}")
    return mdm_results_to_samples(loaded, source=path)


def mdm_results_to_samples(results: dict[str, Any], *, source: PathLike | None = None) -> SampleSet:
    """Validate an already-loaded results dict and build the joints :class:`SampleSet`."""
    where = str(source) if source is not None else "results"
    missing = [k for k in REQUIRED_KEYS if k not in results]
    if missing:
        raise ValueError(f"{where}: missing key(s) {missing}; found {sorted(map(str, results))}. Expected MDM's "
                         f"results.npy from sample/generate.py")
    num_samples = as_positive_int(results["num_samples"], "num_samples", where=where)
    num_repetitions = as_positive_int(results["num_repetitions"], "num_repetitions", where=where)
    rows = num_samples * num_repetitions
    motion = np.asarray(results["motion"])
    if motion.ndim != 4 or motion.shape[2] != 3 or motion.shape[1] not in (KIT_DATASET.num_joints, HUMANML3D_DATASET.num_joints):
        raise ValueError(f"{where}: 'motion' has shape {motion.shape}; expected (num_samples * num_repetitions, "
                         f"22, 3, frames) joint positions (21 joints for KIT-ML)")
    if motion.shape[0] != rows:
        raise ValueError(f"{where}: 'motion' has {motion.shape[0]} rows but num_samples * num_repetitions = "
                         f"{num_samples} * {num_repetitions} = {rows}")
    text = results["text"]
    text = list(text.tolist() if isinstance(text, np.ndarray) else text)
    if len(text) != rows:
        raise ValueError(f"{where}: 'text' has {len(text)} captions; expected one per row ({rows})")
    bad = [i for i, t in enumerate(text) if not isinstance(t, str)]
    if bad:
        raise ValueError(f"{where}: 'text' entry {bad[0]} is {type(text[bad[0]]).__name__}, not a caption string")
    lengths = np.asarray(results["lengths"]).reshape(-1) if np.ndim(results["lengths"]) else None
    if lengths is None or lengths.shape != (rows,):
        raise ValueError(f"{where}: 'lengths' must hold one frame count per row ({rows}); got "
                         f"{np.shape(results['lengths'])}")
    joints = np.ascontiguousarray(motion.transpose(0, 3, 1, 2), dtype=np.float32)  # (N, F, J, 3)
    metadata: dict[str, Any] = {"source": {"format": "mdm-results", "path": where}}
    if source is not None:
        metadata["source"]["sha256"] = sha256_file(source)
    try:
        return SampleSet(
            captions=text,
            lengths=lengths,
            motions=joints,
            kind="joints",
            normalization="raw",
            ids=[str(i % num_samples) for i in range(rows)],
            num_repetitions=num_repetitions,
            metadata=metadata,
            frames="all",  # MDM saves every sampled frame; a NaN tail past a length ends that row's frames
        )
    except SampleSetError as exc:
        raise SampleSetError(f"{where}: {exc}") from exc


def joints_to_feature_samples(samples: SampleSet, *, skeleton: Any = None, full: bool = False) -> SampleSet:
    """Convert a joints :class:`SampleSet` to raw features with the dataset's forward processing.

    Uses :func:`motioneval.representation.forward.joints_to_features` on one padded batch, each clip at its own
    length (the processing depends on the whole clip: floor, facing, smoothing). ``L`` joint frames
    give ``L - 1`` feature rows, so lengths drop by one. ``full``: convert each row's stored frames
    (``samples.frames``, past the length too) and keep them (``frames - 1`` feature rows); otherwise only the
    first ``L`` frames are processed and nothing past the length is kept. ``skeleton`` defaults to HumanML3D
    for 22 joints and KIT-ML for 21.
    """
    if samples.kind != "joints":
        raise ValueError(f"expected a joints sample set; this one holds {samples.kind}")
    from ..representation import skeleton as skeletons
    from ..representation.forward import joints_to_features

    num_joints = samples.motions.shape[2]
    if skeleton is None:
        skeleton = skeletons.skeleton_for_joints(num_joints)
    short = np.flatnonzero(samples.lengths < 2)
    if short.size:
        raise ValueError(f"{short.size} row(s) have fewer than 2 frames and give no feature row "
                         f"(first: sample {samples.ids[int(short[0])]!r}, row {int(short[0])})")  # type: ignore[index]  # ids is always set by SampleSet.__post_init__
    out_lengths = samples.lengths - 1
    conv = samples.frames if full else samples.lengths
    frames = int(conv.max())
    try:  # one padded batch: each clip is processed at its own length (floor, facing and smoothing use it)
        features = np.asarray(joints_to_features(samples.motions[:, :frames], skeleton=skeleton,
                                                 lengths=conv), dtype=np.float32)
    except ValueError as exc:  # "clip k" in the message is row k of the sample set: name the samples
        rows = sorted({int(k) for k in re.findall(r"clip (\d+)", str(exc))})
        names = ", ".join(f"{samples.ids[r]!r} (row {r})" for r in rows[:20] if r < samples.num_rows)  # type: ignore[index]
        raise ValueError(f"cannot convert sample(s) {names or '(unknown)'} to features (clip k = sample row k): "
                         f"{exc}") from exc
    metadata = dict(samples.metadata)
    metadata["converted"] = {"from": "joints", "to": "features", "by": "joints_to_features",
                             "rows": "L joint frames -> L-1 feature rows"}
    return SampleSet(
        captions=samples.captions,
        lengths=out_lengths,
        motions=features,  # type: ignore[arg-type]
        kind="features",
        normalization="raw",
        tokens=samples.tokens,
        ids=samples.ids,
        num_repetitions=samples.num_repetitions,
        metadata=metadata,
        frames=(conv - 1) if full else None,
    )
