"""The generated side of the evaluation: the ``Generator`` protocol, adapters, and the conversion of any
output to what the evaluator reads.

A generator is any object with

- ``generate(captions, lengths, seed) -> output``: ``captions`` a list of strings; ``lengths`` an int array
  of frame counts (the ground-truth crop lengths) or ``None`` when the preset lets the model choose
  (``generated_length`` ``"estimator"``/``"model"``); ``seed`` an int to seed *all* randomness of the call
  (the loop derives one per chunk of rows from the run's seed, so results do not depend on how work is
  split across processes). ``output`` is an array ``(N, T, D)`` of features or ``(N, T, J, 3)`` of joint
  positions (numpy or torch), a ``(motions, lengths)`` tuple, a :class:`GeneratedMotion`, or a
  :class:`~motioneval.data.samples.SampleSet`; lengths are required when ``lengths=None`` was passed;
- ``kind``: ``"features"`` or ``"joints"``;
- ``normalization`` (features): ``"raw"``, ``"dataset"`` (the dataset's ``Mean.npy``/``Std.npy``, or the
  generator's own ``stats``, a :class:`~motioneval.representation.normalization.FeatureStats`) or
  ``"evaluator"``;
- ``name`` and ``version``: identify the model in cache keys and results (change ``version`` whenever the
  weights or sampling settings change, or the cache will serve the old samples).

Whatever the output, the loop converts it to *raw* features (joints through
:func:`~motioneval.data.mdm_results.joints_to_feature_samples`: ``L`` joint frames give ``L - 1`` rows;
dataset-normalized features through the dataset statistics), caches that, then normalizes with the
*evaluator's* statistics and pads to ``max_frames`` (:func:`evaluator_features`). Frames at and past each
length are zeroed when the preset's ``generated_padding`` is ``"zeros"``; with ``"none"`` (MDM) every
generated frame up to ``max_frames`` reaches the evaluator, with ``"batch_longest"`` (MoMask) those up to
the longest length of the row's group. Frames a sample does not have (a file that kept nothing past the
length, a generator that returned fewer frames) are zero in *evaluator-normalized* space, which is what the
reference loops' padding amounts to (never raw zeros, which normalize to large values).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .._arrays import gather_rows, scatter_rows, to_numpy
from ..constants import HUMANML3D_DATASET, KIT_DATASET, LOOKAHEAD_FRAMES, MAX_MOTION_FRAMES
from ..representation.normalization import FeatureStats

KINDS = ("features", "joints")
NORMALIZATIONS = ("raw", "dataset", "evaluator")


@runtime_checkable
class Generator(Protocol):
    """What the evaluation loop calls; see the module docstring."""

    kind: str
    normalization: str
    name: str
    version: str

    def generate(self, captions: list[str], lengths: np.ndarray | None, seed: int) -> Any: ...


@dataclass
class GeneratedMotion:
    """A generator's output: ``motions`` ``(N, T, D)`` features or ``(N, T, J, 3)`` joints and their ``lengths``
    (``None``: the requested lengths); ``frames``: per row, how many of the ``T`` stored frames are real output
    (``None``: all ``T``)."""

    motions: Any
    lengths: Any = None
    frames: Any = None


class CallableGenerator:
    """Wrap a plain function ``fn(captions, lengths, seed) -> output`` as a :class:`Generator`."""

    def __init__(self, fn: Callable[..., Any], *, kind: str = "features", normalization: str = "dataset",
                 name: str | None = None, version: str = "0", stats: FeatureStats | None = None) -> None:
        self.fn = fn
        self.kind = kind
        self.normalization = normalization
        self.name = name or getattr(fn, "__name__", "generator")
        self.version = version
        self.stats = stats
        check_generator(self)

    def generate(self, captions: list[str], lengths: np.ndarray | None, seed: int) -> Any:
        return self.fn(captions, lengths, seed)


class MDMGenerator:
    """Example adapter: MDM (Tevet et al.) as a :class:`Generator`, without importing MDM.

    Build MDM as its own scripts do (``model, diffusion = create_model_and_diffusion(args, data)``, load the
    checkpoint, wrap the model in ``ClassifierFreeSampleModel`` for guidance) and pass both here. Outputs are
    dataset-normalized 263-d features ``(N, 196, 263)``, all 196 frames (MDM's evaluation feeds every
    generated frame to the evaluator: use preset ``mdm``). ``version`` should name the checkpoint (e.g. its
    sha256) and the sampling settings.
    """

    kind = "features"
    normalization = "dataset"

    def __init__(self, model: Any, diffusion: Any, *, name: str = "mdm", version: str,
                 guidance_scale: float = 2.5, max_frames: int = MAX_MOTION_FRAMES, device: Any = None) -> None:
        self.model = model
        self.diffusion = diffusion
        self.name = name
        self.version = f"{version};guidance={guidance_scale};frames={max_frames}"
        self.guidance_scale = guidance_scale
        self.max_frames = max_frames
        self.device = device

    def generate(self, captions: list[str], lengths: np.ndarray | None, seed: int) -> GeneratedMotion:
        import torch

        if lengths is None:
            raise ValueError("MDMGenerator needs the ground-truth lengths (presets 'mdm' or 'momask')")
        torch.manual_seed(seed)
        n = len(captions)
        device = self.device or next(self.model.parameters()).device
        lens = torch.as_tensor(np.asarray(lengths), dtype=torch.long, device=device)
        mask = (torch.arange(self.max_frames, device=device)[None, :] < lens[:, None])[:, None, None, :]
        y = {"text": list(captions), "lengths": lens, "mask": mask,
             "scale": torch.full((n,), float(self.guidance_scale), device=device)}
        shape = (n, self.model.njoints, self.model.nfeats, self.max_frames)
        with torch.no_grad():
            sample = self.diffusion.p_sample_loop(self.model, shape, clip_denoised=False,
                                                  model_kwargs={"y": y}, progress=False)
        # MDM's layout (N, 263, 1, T) -> (N, T, 263)
        motions = sample.squeeze(2).permute(0, 2, 1).float().cpu().numpy()
        return GeneratedMotion(motions, np.asarray(lengths))


def check_generator(generator: Any) -> dict[str, str]:
    """Validate a generator's attributes; returns its identity ``{name, version, kind, normalization}``."""
    where = f"generator {getattr(generator, 'name', type(generator).__name__)!r}"
    if not callable(getattr(generator, "generate", None)):
        raise TypeError(f"{where} has no generate(captions, lengths, seed) method")
    kind = getattr(generator, "kind", None)
    if kind not in KINDS:
        raise ValueError(f"{where}: attribute kind must be one of {KINDS}; got {kind!r}")
    norm = getattr(generator, "normalization", "raw" if kind == "joints" else None)
    if kind == "features" and norm not in NORMALIZATIONS:
        raise ValueError(f"{where}: attribute normalization must be one of {NORMALIZATIONS} (how its features are "
                         f"normalized); got {norm!r}")
    return {"name": str(getattr(generator, "name", type(generator).__name__)),
            "version": str(getattr(generator, "version", "unversioned")),
            "kind": str(kind), "normalization": str(norm)}


# --------------------------------------------------------------------------------------------- sample sets
class SampleSetGenerator:
    """Samples generated beforehand (MDM ``results.npy``, our ``.npz`` interchange file, a folder) served as a
    :class:`Generator`.

    Rows are ``num_samples`` prompts x ``num_repetitions`` (repetition-major). :meth:`generate` looks each
    requested caption (and length, when given) up among the prompts and returns repetition
    ``repetition``; a request that no prompt matches is an error naming the request row. The evaluation
    loop instead asks by prompt index (:meth:`take`), after matching every prompt to the dataset's captions
    (:meth:`match`).
    """

    def __init__(self, samples: Any, *, name: str | None = None, version: str | None = None,
                 source: str | None = None) -> None:
        self.samples = samples
        self.kind = samples.kind
        self.normalization = samples.normalization if samples.kind == "features" else "raw"
        meta = samples.metadata.get("source", {}) if isinstance(samples.metadata, dict) else {}
        self.source = source or meta.get("path")
        self.name = name or (Path(self.source).stem if self.source else "samples")
        self.version = version or meta.get("sha256") or _samples_hash(samples)
        self.stats = None

    @classmethod
    def from_path(cls, path: str | Path, *, allow_pickle: bool = False, name: str | None = None) -> "SampleSetGenerator":
        """Load ``path`` (``.npz`` interchange file, a folder with a manifest, or MDM ``results.npy`` with
        ``allow_pickle=True``); the version is the file's sha256."""
        from .._io import sha256_file
        from ..data.samples import load_samples

        path = Path(path)
        samples = load_samples(path, allow_pickle=allow_pickle)
        version = sha256_file(path) if path.is_file() else _samples_hash(samples)
        return cls(samples, name=name or (path.parent.name if path.stem == "results" else path.stem),
                   version=version, source=str(path))

    @property
    def num_prompts(self) -> int:
        return int(self.samples.num_samples)

    @property
    def num_repetitions(self) -> int:
        return int(self.samples.num_repetitions)

    def take(self, prompts: np.ndarray, repetition: int = 0) -> GeneratedMotion:
        """Rows of the given prompt indices in one repetition."""
        rows = repetition * self.num_prompts + np.asarray(prompts, dtype=np.int64)
        return GeneratedMotion(self.samples.motions[rows], self.samples.lengths[rows], self.samples.frames[rows])

    def generate(self, captions: list[str], lengths: np.ndarray | None, seed: int, *,
                 repetition: int = 0) -> GeneratedMotion:
        prompt_caps = self.samples.captions[: self.num_prompts]
        prompt_lens = self.samples.lengths[: self.num_prompts]
        index: dict[tuple[str, int | None], int] = {}
        for p, (c, n) in enumerate(zip(prompt_caps, prompt_lens.tolist())):
            index.setdefault((c, n), p)
            index.setdefault((c, None), p)
        found = []
        for r, caption in enumerate(captions):
            key = (caption, None if lengths is None else int(lengths[r]))
            if key not in index:
                has = [int(n) for c, n in zip(prompt_caps, prompt_lens) if c == caption]
                detail = (f"the samples have this caption only with lengths {has}" if has
                          else "no sample has this caption")
                raise ValueError(f"request row {r} ({caption!r}, length {key[1]}) does not match the sample set "
                                 f"{self.name!r}: {detail}. The samples must be generated for these captions/lengths.")
            found.append(index[key])
        return self.take(np.asarray(found, dtype=np.int64), repetition)

    def match(self, items: Any, *, max_frames: int, truncate: bool = False
              ) -> tuple[list[tuple[str, ...]], list[int | None]]:
        """Match every prompt to the ground truth: returns per prompt its tokens and its item index (or ``None``).

        A prompt whose id is a ground-truth item id must carry one of that item's captions and a length within
        the item's; otherwise its caption is looked up among all captions of the split (its tokens come from
        there unless the sample set has its own). Lengths are compared as feature rows: ``L`` joint frames give
        ``L - 1`` rows (as the conversion and ``doctor`` count them). ``truncate``: lengths over ``max_frames``
        are allowed (the preset cuts them). Errors name the sample row.
        """
        s = self.samples
        ids_to_item = {i: n for n, i in enumerate(items.ids)}
        by_caption = items.caption_index()
        tokens: list[tuple[str, ...]] = []
        matched: list[int | None] = []
        for p in range(self.num_prompts):
            caption, sid = s.captions[p], s.ids[p]
            length = int(s.lengths[p]) - (1 if s.kind == "joints" else 0)  # feature rows
            own = tuple(s.tokens[p]) if s.tokens is not None else None
            where = f"sample set {self.name!r}, row {p} (id {sid!r}, caption {caption!r})"
            unit = " feature rows (L joint frames give L - 1 rows)" if s.kind == "joints" else ""
            if length < 1 or (length > max_frames and not truncate):
                raise ValueError(f"{where}: length {length}{unit} is outside [1, {max_frames}]; the evaluator reads at "
                                 f"most {max_frames} frames (or use a preset with long_motions='truncate')")
            item = ids_to_item.get(sid)
            if item is not None:
                caps = items.captions[item]
                if caption not in caps:
                    raise ValueError(f"{where}: ground-truth item {sid!r} has no such caption (its captions: "
                                     f"{list(caps)[:5]}). The samples do not match the dataset split.")
                if length > int(items.lengths[item]) and not truncate:
                    raise ValueError(f"{where}: length {length}{unit} exceeds the ground-truth item's "
                                     f"{int(items.lengths[item])} frames")
                tokens.append(own if own is not None else items.tokens[item][caps.index(caption)])
                matched.append(item)
                continue
            hits = by_caption.get(caption)
            if hits:
                i, j = hits[0]
                tokens.append(own if own is not None else items.tokens[i][j])
                matched.append(i)
            elif own is not None:
                tokens.append(own)
                matched.append(None)
            else:
                raise ValueError(f"{where}: the caption is not among the captions of the ground-truth split and the "
                                 f"sample set carries no word/POS tokens for it. Generate from the split's captions, "
                                 f"or store tokens with the samples.")
        return tokens, matched


def _samples_hash(samples: Any) -> str:
    import hashlib

    from .cache import canonical_json, hash_arrays

    h = hashlib.sha256()
    h.update(hash_arrays(samples.motions, samples.lengths).encode())
    h.update(canonical_json([samples.captions, samples.tokens, samples.ids, samples.kind, samples.normalization,
                             samples.num_repetitions]).encode())
    return h.hexdigest()


# --------------------------------------------------------------------------------------------- conversion
def output_frames(output: Any, motions: np.ndarray) -> np.ndarray:
    """Per row, the stored frames that are real output: ``output.frames`` when given, else all ``T``."""
    frames = getattr(output, "frames", None)
    n, t = motions.shape[0], motions.shape[1]
    if frames is None:
        return np.full(n, t, dtype=np.int64)
    out = np.asarray(to_numpy(frames)).astype(np.int64).reshape(-1)
    if out.shape != (n,):
        raise ValueError(f"output frames must hold one count per row ({n}); got shape {out.shape}")
    return np.clip(out, 0, t)


def normalize_output(output: Any, requested: np.ndarray | None, *, name: str = "generator") -> tuple[np.ndarray, np.ndarray]:
    """``(motions float32, lengths int64)`` from any supported generator output (see module docstring)."""
    lengths = None
    if hasattr(output, "motions") and hasattr(output, "lengths"):  # GeneratedMotion or SampleSet
        motions, lengths = output.motions, output.lengths
    elif isinstance(output, tuple) and len(output) == 2:
        motions, lengths = output
    else:
        motions = output
    try:
        motions = np.asarray(to_numpy(motions), dtype=np.float32)
        if lengths is not None:
            lengths = np.asarray(to_numpy(lengths))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} returned {type(output).__name__}, which is not motions: return an array "
                         f"(N, T, D) / (N, T, J, 3), (motions, lengths) or a GeneratedMotion ({exc})") from None
    if lengths is None:
        if requested is None:
            raise ValueError(f"{name} was asked to choose lengths (lengths=None) but returned none; return "
                             f"(motions, lengths) or a GeneratedMotion")
        lengths = requested
    lengths = np.asarray(to_numpy(lengths)).astype(np.int64).reshape(-1)
    n = len(requested) if requested is not None else motions.shape[0]
    if motions.shape[0] != n or lengths.shape[0] != n:
        raise ValueError(f"{name} returned {motions.shape[0]} motions and {lengths.shape[0]} lengths for {n} "
                         f"captions")
    return motions, lengths


def to_raw_features(motions: np.ndarray, lengths: np.ndarray, *, kind: str, normalization: str,
                    dataset_stats: FeatureStats | None, evaluator_stats: FeatureStats, padding: str,
                    skeleton: Any = None, name: str = "generator", row_names: Sequence[str] | None = None,
                    frames: np.ndarray | None = None, return_frames: bool = False) -> Any:
    """Convert a generator's motions to raw (unnormalized) float32 features ``(N, T, D)`` and lengths.

    ``frames``: per row, how many stored frames are real output (default: all). Joints go through the
    dataset's forward processing (``L`` frames -> ``L - 1`` rows; unless ``padding == "zeros"`` each row's
    whole stored output is converted, since frames past the length reach the evaluator). Frames past each
    length are zeroed when ``padding == "zeros"``, past each row's real frames otherwise. Errors name the
    row (and ``row_names[row]``) for NaN/Inf or bad lengths. Returns ``(raw, lengths)``, or with
    ``return_frames`` ``(raw, lengths, frames)`` where ``frames`` counts the real feature rows per row.
    """
    full = padding != "zeros"  # frames past the length may reach the evaluator
    masked = False  # whether raw is already zero past each row's kept frames
    if frames is None:
        frames = np.full(len(lengths), motions.shape[1], dtype=np.int64)
    frames = np.maximum(np.minimum(np.asarray(frames, np.int64), motions.shape[1]), np.minimum(lengths, motions.shape[1]))
    names = row_names or [str(i) for i in range(len(lengths))]
    bad = np.flatnonzero(lengths < 1)
    if bad.size:
        raise ValueError(f"{name}: lengths must be >= 1; row {int(bad[0])} ({names[int(bad[0])]}) has "
                         f"{int(lengths[bad[0]])}")
    if kind == "joints":
        from ..data.mdm_results import joints_to_feature_samples
        from ..data.samples import SampleSet

        if motions.ndim != 4 or motions.shape[-1] != 3:
            raise ValueError(f"{name}: kind='joints' needs (N, T, J, 3) joint positions; got {motions.shape}")
        lengths = np.minimum(lengths, motions.shape[1])
        short = np.flatnonzero(lengths < 2)
        if short.size:
            raise ValueError(f"{name}: joint sequences need at least 2 frames (L frames give L - 1 feature rows); "
                             f"row {int(short[0])} ({names[int(short[0])]}) has {int(lengths[short[0]])}")
        conv_lengths = frames if full else lengths  # convert every real frame when they reach the evaluator
        samples = SampleSet(captions=list(names), lengths=conv_lengths, motions=motions, kind="joints",
                            normalization="raw", ids=list(names))
        raw = joints_to_feature_samples(samples, skeleton=skeleton).motions
        lengths = lengths - 1
        frames = (conv_lengths - 1) if full else lengths
    else:
        if not full and motions.ndim == 3:  # frames past the longest length never reach the evaluator
            motions = motions[:, : max(int(lengths.max()), 1)]
        if not full:
            frames = np.minimum(lengths, motions.shape[1])
        if motions.ndim != 3:
            raise ValueError(f"{name}: kind='features' needs (N, T, D) features; got shape {motions.shape}"
                             + (" (joints? set kind='joints')" if motions.ndim == 4 else ""))
        if motions.shape[2] != evaluator_stats.dim:
            raise ValueError(f"{name}: features have {motions.shape[2]} dims but the evaluator reads "
                             f"{evaluator_stats.dim} (HumanML3D {HUMANML3D_DATASET.dim}, KIT-ML {KIT_DATASET.dim})")
        if normalization == "raw":
            raw = motions
        elif normalization in ("dataset", "evaluator"):
            stats = dataset_stats if normalization == "dataset" else evaluator_stats
            if stats is None:
                raise ValueError(f"{name} outputs dataset-normalized features but no dataset statistics were found "
                                 f"(Mean.npy/Std.npy in the dataset folder, or a `stats` attribute on the generator)")
            # de-normalize only the frames that are kept (the rest is zeroed below): bitwise what the whole
            # array's float64 de-normalization and float32 cast give on those frames
            sizes = np.clip(frames if full else lengths, 0, motions.shape[1])
            raw = np.zeros(motions.shape, np.float32)
            _check_dims(motions.shape[2], stats)
            values = gather_rows(motions, sizes)
            values *= np.asarray(stats.std, dtype=np.float64)  # in place: x * std + mean, as denormalize
            values += np.asarray(stats.mean, dtype=np.float64)
            scatter_rows(values, sizes, raw)
            masked = True
        else:
            raise ValueError(f"{name}: unknown normalization {normalization!r}")
    t = np.arange(raw.shape[1])
    frames = np.minimum(frames, raw.shape[1])
    if not masked:
        raw = np.where((t[None, :] < (frames if full else lengths)[:, None])[:, :, None], raw, np.float32(0))
    reach = np.minimum(raw.shape[1], np.maximum(lengths, 0) + LOOKAHEAD_FRAMES)  # the evaluator also sees 3 frames past L
    seen = t[None, :] < (reach[:, None] if not full else frames[:, None])
    # a NaN/Inf anywhere in a frame makes its sum non-finite; only then is the frame-by-frame check needed
    with np.errstate(over="ignore", invalid="ignore"):
        finite = np.isfinite(raw.sum(axis=2)) | ~seen
    if not finite.all():
        finite = np.isfinite(raw).all(axis=2) | ~seen
    if not finite.all():
        rows = np.flatnonzero(~finite.all(axis=1))
        shown = ", ".join(f"row {int(r)} ({names[int(r)]})" for r in rows[:5])
        raise ValueError(f"{name} produced NaN or Inf in {rows.size} sample(s): {shown}. The evaluator cannot embed "
                         f"them; fix the generator or drop these prompts.")
    out_raw, out_lengths = np.ascontiguousarray(raw, dtype=np.float32), lengths.astype(np.int64)
    if return_frames:
        return out_raw, out_lengths, np.maximum(frames, out_lengths).astype(np.int64)
    return out_raw, out_lengths


def visible_frames(lengths: np.ndarray, *, padding: str, max_frames: int, pool_size: int = 32,
                   group_lengths: np.ndarray | None = None) -> np.ndarray:
    """Per row, how many frames the preset feeds the evaluator: the length (``"zeros"``), ``max_frames``
    (``"none"``) or the longest length of the row's group of ``pool_size`` (``"batch_longest"``; the groups
    are those of ``group_lengths``, the whole pass, when given, else of ``lengths``)."""
    lengths = np.asarray(lengths, np.int64)
    if padding == "zeros":
        return np.minimum(lengths, max_frames)
    if padding == "none":
        return np.full(len(lengths), max_frames, dtype=np.int64)
    if padding == "batch_longest":
        base = np.asarray(lengths if group_lengths is None else group_lengths, np.int64)
        groups = np.arange(len(base)) // pool_size
        longest = np.zeros(groups.max() + 1 if len(base) else 0, np.int64)
        np.maximum.at(longest, groups, base)
        return np.minimum(longest[groups], max_frames)
    raise ValueError(f"unknown padding {padding!r}")


def evaluator_features(raw: np.ndarray, lengths: np.ndarray, evaluator_stats: FeatureStats, *, max_frames: int,
                       padding: str, name: str = "generator", frames: np.ndarray | None = None,
                       visible: np.ndarray | None = None, long_motions: str = "error",
                       row_names: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Raw features -> evaluator-normalized float32 ``(N, max_frames, D)``.

    Row ``i`` feeds its first ``visible[i]`` frames (default from ``padding``: the length for ``"zeros"``,
    ``max_frames`` for ``"none"``, see :func:`visible_frames`) of which only the first ``frames[i]`` (default
    all stored) are real; everything else is zero in evaluator-normalized space. Lengths above ``max_frames``
    are an error, or cut to ``max_frames`` with ``long_motions="truncate"`` (T2M-GPT). Values that overflow
    float32 once normalized are refused, naming the row (``row_names[i]``, e.g. the sample id)."""
    lengths = np.asarray(lengths, np.int64)
    over = np.flatnonzero(lengths > max_frames)
    if over.size:
        if long_motions != "truncate":
            where = row_names[int(over[0])] if row_names is not None else f"row {int(over[0])}"
            raise ValueError(f"{name}: {over.size} sample(s) are longer than the evaluator's {max_frames} frames "
                             f"({where}: {int(lengths[over[0]])}); the protocol caps motions at {max_frames} "
                             f"(presets with long_motions='truncate' cut them, as T2M-GPT does)")
        lengths = np.minimum(lengths, max_frames)
    n, t, d = raw.shape
    if visible is None:
        visible = visible_frames(lengths, padding="none" if padding == "batch_longest" else padding,
                                 max_frames=max_frames)
    real = np.full(n, t, np.int64) if frames is None else np.asarray(frames, np.int64)
    limit = np.minimum(np.minimum(np.asarray(visible, np.int64), real), max_frames)
    limit = np.where(padding == "zeros", np.minimum(limit, lengths), limit)
    out = np.zeros((n, max_frames, d), dtype=np.float32)
    keep = min(t, max_frames)
    sizes = np.clip(limit, 0, keep)
    with np.errstate(over="ignore"):  # checked just below, with the row named
        # only the fed frames are normalized (float64, then cast); the rest of the canvas stays zero
        _check_dims(d, evaluator_stats)
        values = gather_rows(raw, sizes)
        values -= np.asarray(evaluator_stats.mean, dtype=np.float64)  # in place: (x - mean) / std, as normalize
        values /= np.asarray(evaluator_stats.std, dtype=np.float64)
        scatter_rows(values, sizes, out)
    with np.errstate(over="ignore", invalid="ignore"):
        total = out.reshape(n, -1).sum(axis=1)  # non-finite whenever a value is (or the float32 sum overflows)
    bad = np.flatnonzero(~np.isfinite(total))
    if bad.size:
        bad = np.flatnonzero(~np.isfinite(out).reshape(n, -1).all(axis=1))
    if bad.size:  # finite input that float32 cannot hold once normalized: refuse rather than feed inf onward
        row = int(bad[0])
        peak = float(np.max(np.abs(np.nan_to_num(raw[row, :keep].astype(np.float64), nan=0.0, posinf=0.0,
                                                 neginf=0.0))))
        where = row_names[row] if row_names is not None else f"row {row}"
        raise ValueError(f"{name}: {bad.size} sample(s) overflow float32 once normalized with the evaluator's "
                         f"statistics ({where}: values up to {peak:.3g}); the generated values are out of range: "
                         f"check the generator's output and its normalization")
    return out, lengths


def padded_rows(lengths: np.ndarray, frames: np.ndarray, visible: np.ndarray, *, lookahead: int = 3) -> np.ndarray:
    """Rows whose fed frames the evaluator reads (up to ``length + lookahead``) include frames the sample does
    not have (padded with evaluator-normalized zeros): boolean mask."""
    need = np.minimum(np.asarray(visible, np.int64), np.asarray(lengths, np.int64) + lookahead)
    return need > np.asarray(frames, np.int64)


def _check_dims(dim: int, stats: FeatureStats) -> None:
    """The error ``FeatureStats.normalize`` gives for features of another width than its statistics."""
    if dim != stats.dim:
        raise ValueError(f"features have {dim} dims in the last axis but statistics {stats.name!r} have {stats.dim}")

