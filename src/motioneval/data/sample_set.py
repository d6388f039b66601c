"""``SampleSet``: generated (or ground-truth) motions with their captions, and our pickle-free file format.

A sample set has ``num_rows = num_samples * num_repetitions`` rows in repetition-major order (as MDM):
row ``r * num_samples + s`` is repetition ``r`` of sample ``s``, so ``ids``, ``captions`` and ``tokens`` of a
row equal those of row ``s``. Motions are float32, ``(N, T_max, D)`` features or ``(N, T_max, J, 3)``
joints. Row ``i`` is ``lengths[i]`` frames long and keeps ``frames[i] >= lengths[i]`` frames the generator
produced (MDM's sampler, for example, returns all 196 frames whatever the length; some protocols feed the
frames past the length to the evaluator); stored values past ``frames[i]`` are zero.

On disk (``docs/formats.md``) a sample set is one ``.npz`` that loads with ``allow_pickle=False``:
``motions``, ``lengths`` (int64), ``frames`` (int64, stored frames per row) and ``meta``, UTF-8 JSON
stored as a uint8 array, with ``"format": "motioneval.samples/2"``, ``kind``, ``normalization``, ``num_repetitions``, per-row ``ids``,
``captions``, ``tokens`` (or null) and free-form ``metadata``. Writes are atomic and compressed (deflate:
the zero padding past each length costs almost nothing); uncompressed files are read as well. Version 1 files (no
``frames``: nothing past each length) are still read.

This module holds the type and its own ``.npz`` format; the other sources have one module each
(:mod:`~motioneval.data.sample_folder`, :mod:`~motioneval.data.mdm_results`) and
:func:`motioneval.data.samples.load_samples` dispatches between them.
"""
from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__, _npio
from .._arrays import to_numpy
from .._io import atomic_save_npz_compressed, json_default

PathLike = str | os.PathLike

FORMAT = "motioneval.samples/2"
READABLE_FORMATS = ("motioneval.samples/1", FORMAT)  # /1 had no ``frames`` (frames == lengths)
KINDS = ("features", "joints")
NORMALIZATIONS = ("raw", "dataset", "evaluator")
_CHUNK_ROWS = 256  # rows processed at a time by the padding / finiteness checks (bounds temporary memory)


class SampleSetError(ValueError):
    """A sample set (in memory or on disk) does not satisfy the format; the message names rows and ids."""


@dataclass(eq=False)
class SampleSet:
    """Motions with captions; see the module docstring for the layout. Validated on construction.

    ``motions`` is converted to float32 and values past each row's ``frames`` are zeroed (a copy is made only
    when needed; otherwise the array is shared with the caller). ``frames`` (per row, ``lengths[i] <=
    frames[i] <= T_max``): how many stored frames are real generator output; ``None`` means ``lengths``
    (nothing past the length is kept), ``"all"`` means every stored frame. ``ids`` defaults to the sample index as a string.
    ``normalization`` (features only; joints are always ``"raw"``): ``"raw"`` as the dataset stores them,
    ``"dataset"`` normalized with the dataset's ``Mean.npy``/``Std.npy``, ``"evaluator"`` with the
    evaluator's statistics.
    """

    captions: list[str]
    lengths: np.ndarray
    motions: np.ndarray
    kind: str = "features"
    normalization: str = "raw"
    tokens: list[list[str]] | None = None
    ids: list[str] | None = None
    num_repetitions: int = 1
    metadata: dict[str, Any] = field(default_factory=dict)
    frames: Any = None

    def __post_init__(self) -> None:
        self.motions = _check_motions(self.motions, self.kind)
        n, t_max = self.motions.shape[:2]
        if self.kind == "joints" and self.normalization != "raw":
            raise SampleSetError(f"joint positions have no normalization; got normalization={self.normalization!r}")
        if self.normalization not in NORMALIZATIONS:
            raise SampleSetError(f"normalization must be one of {NORMALIZATIONS}; got {self.normalization!r}")
        r = self.num_repetitions
        if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or r < 1 or n % r:
            raise SampleSetError(f"num_repetitions must be a positive integer dividing the {n} rows; got {r!r}")
        self.num_repetitions = int(r)
        self.captions = _check_strings(self.captions, "captions", n)
        if self.ids is None:
            s = n // self.num_repetitions
            self.ids = [str(i % s) for i in range(n)]
        self.ids = _check_strings(self.ids, "ids", n)
        if self.tokens is not None:
            if len(self.tokens) != n:
                raise SampleSetError(f"tokens has {len(self.tokens)} entries; expected one list per row ({n})")
            self.tokens = [_check_strings(t, f"tokens of row {i}", None) for i, t in enumerate(self.tokens)]
        self._check_repetitions()
        if self.tokens is not None:
            _check_tokens(self.tokens, self._row_name)
        self.lengths = _check_lengths(self.lengths, n, t_max, self._row_name)
        self.frames = _check_frames(self.frames, self.lengths, t_max, self._row_name)
        self.frames = _cut_nonfinite_tails(self.motions, self.lengths, self.frames)
        if not isinstance(self.metadata, dict):
            raise SampleSetError(f"metadata must be a dict; got {type(self.metadata).__name__}")
        try:
            json.dumps(self.metadata, default=json_default)
        except (TypeError, ValueError) as exc:
            raise SampleSetError(f"metadata must be JSON-serializable: {exc}") from exc
        self.motions = _zero_past_lengths_and_check(self.motions, self.frames, self._row_name)

    # ------------------------------------------------------------------------------------------ shape
    @property
    def num_rows(self) -> int:
        return int(self.motions.shape[0])

    @property
    def num_samples(self) -> int:
        return self.num_rows // self.num_repetitions

    @property
    def max_frames(self) -> int:
        return int(self.motions.shape[1])

    @property
    def has_frames_past_lengths(self) -> bool:
        """Whether any row keeps generated frames past its length."""
        return bool(np.any(self.frames > self.lengths))

    def __len__(self) -> int:
        return self.num_rows

    def __repr__(self) -> str:
        return (f"SampleSet({self.num_samples} samples x {self.num_repetitions} repetitions, kind={self.kind!r}, "
                f"normalization={self.normalization!r}, motions{tuple(self.motions.shape)})")

    # ------------------------------------------------------------------------------------------ views
    def repetition(self, r: int) -> "SampleSet":
        """Rows of repetition ``r`` as a one-repetition set."""
        if not 0 <= r < self.num_repetitions:
            raise IndexError(f"repetition {r} out of range (this set has {self.num_repetitions})")
        s = self.num_samples
        return self._take(np.arange(r * s, (r + 1) * s), 1)

    def select_samples(self, samples: Sequence[int] | np.ndarray) -> "SampleSet":
        """The given sample indices, all repetitions kept (still repetition-major)."""
        samples = np.asarray(samples, dtype=np.int64).reshape(-1)
        if samples.size and (samples.min() < 0 or samples.max() >= self.num_samples):
            raise IndexError(f"sample indices must lie in [0, {self.num_samples})")
        rows = (np.arange(self.num_repetitions)[:, None] * self.num_samples + samples[None, :]).reshape(-1)
        return self._take(rows, self.num_repetitions)

    def _take(self, rows: np.ndarray, num_repetitions: int) -> "SampleSet":
        return SampleSet(
            captions=[self.captions[i] for i in rows],
            lengths=self.lengths[rows],
            motions=self.motions[rows],
            kind=self.kind,
            normalization=self.normalization,
            tokens=None if self.tokens is None else [self.tokens[i] for i in rows],
            ids=[self.ids[i] for i in rows],  # type: ignore[index]
            num_repetitions=num_repetitions,
            metadata=dict(self.metadata),
            frames=self.frames[rows],
        )

    # ------------------------------------------------------------------------------------------ files
    def save(self, path: PathLike) -> Path:
        """Write the set atomically as one pickle-free ``.npz`` (see the module docstring)."""
        path = Path(path)
        if path.suffix != ".npz":
            raise ValueError(f"sample files end in .npz; got {path}")
        meta = {
            "format": FORMAT,
            "kind": self.kind,
            "normalization": self.normalization,
            "num_repetitions": self.num_repetitions,
            "num_samples": self.num_samples,
            "ids": self.ids,
            "captions": self.captions,
            "tokens": self.tokens,
            "metadata": self.metadata,
            "written_by": f"motioneval {__version__}",
        }
        raw = json.dumps(meta, default=json_default, ensure_ascii=False).encode("utf-8")
        return atomic_save_npz_compressed(path, motions=self.motions, lengths=self.lengths.astype(np.int64),
                                          frames=self.frames.astype(np.int64), meta=np.frombuffer(raw, dtype=np.uint8))

    @classmethod
    def load(cls, path: PathLike) -> "SampleSet":
        """Read and validate a file written by :meth:`save` (never unpickles)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"sample file not found: {path}")
        try:
            with _npio.load(path, allow_pickle=False) as npz:
                missing = {"motions", "lengths", "meta"} - set(npz.files)
                if missing:
                    raise SampleSetError(
                        f"{path}: not a motioneval sample file: arrays {sorted(missing)} missing "
                        f"(found {sorted(npz.files)})")
                meta_bytes = npz["meta"]
                motions = npz["motions"]
                lengths = npz["lengths"]
                frames = npz["frames"] if "frames" in npz.files else None
        except SampleSetError:
            raise
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise SampleSetError(f"{path}: not a readable .npz file (truncated or another format?): {exc}") from exc
        except ValueError as exc:  # object arrays need pickle
            raise SampleSetError(f"{path}: contains pickled objects, which motioneval sample files never do; "
                                 f"refusing to unpickle ({exc})") from exc
        try:
            if meta_bytes.dtype != np.uint8 or meta_bytes.ndim != 1:
                raise ValueError(f"array 'meta' must be uint8 bytes; got {meta_bytes.dtype} {meta_bytes.shape}")
            meta = json.loads(meta_bytes.tobytes().decode("utf-8"))
            if not isinstance(meta, dict):
                raise ValueError("'meta' is not a JSON object")
        except ValueError as exc:
            raise SampleSetError(f"{path}: unreadable metadata: {exc}") from exc
        fmt = meta.get("format")
        if fmt not in READABLE_FORMATS:
            if isinstance(fmt, str) and fmt.startswith("motioneval.samples/"):
                raise SampleSetError(f"{path}: format {fmt!r} is not supported by motioneval {__version__} "
                                     f"(reads {', '.join(READABLE_FORMATS)}); upgrade motioneval")
            raise SampleSetError(f"{path}: not a motioneval sample file (format {fmt!r}, expected {FORMAT!r})")
        lacking = [k for k in ("kind", "normalization", "num_repetitions", "ids", "captions") if k not in meta]
        if lacking:
            raise SampleSetError(f"{path}: metadata lacks {lacking}")
        if fmt == FORMAT and frames is None:
            raise SampleSetError(f"{path}: format {FORMAT!r} needs the array 'frames' (stored frames per row)")
        if fmt != FORMAT:
            frames = None  # version 1: nothing past the lengths was kept
        try:
            return cls(
                captions=meta["captions"],
                lengths=lengths,
                motions=motions,
                kind=meta["kind"],
                normalization=meta["normalization"],
                tokens=meta.get("tokens"),
                ids=meta["ids"],
                num_repetitions=meta["num_repetitions"],
                metadata=meta.get("metadata") or {},
                frames=frames,
            )
        except SampleSetError as exc:
            raise SampleSetError(f"{path}: {exc}") from exc

    # ------------------------------------------------------------------------------------------ helpers
    def _row_name(self, row: int) -> str:
        s = self.num_samples
        rep = f", repetition {row // s}" if self.num_repetitions > 1 else ""
        sample_id = self.ids[row] if self.ids is not None and row < len(self.ids) else str(row)
        return f"sample {sample_id!r} (row {row}{rep})"

    def _check_repetitions(self) -> None:
        s, r = self.num_samples, self.num_repetitions
        if r == 1:
            return
        for name, values in (("ids", self.ids), ("captions", self.captions), ("tokens", self.tokens)):
            if values is None:
                continue
            for row in range(s, s * r):
                if values[row] != values[row % s]:
                    raise SampleSetError(
                        f"rows must be repetition-major (row = repetition * num_samples + sample): {name} of row "
                        f"{row} ({values[row]!r}) differs from row {row % s} ({values[row % s]!r}), the same "
                        f"sample in repetition 0")


def _check_motions(motions: Any, kind: str) -> np.ndarray:
    if kind not in KINDS:
        raise SampleSetError(f"kind must be one of {KINDS}; got {kind!r}")
    arr = to_numpy(motions)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise SampleSetError(f"motions must be numeric; got dtype {arr.dtype}")
    if kind == "features" and arr.ndim != 3:
        hint = " (this looks like joints: pass kind='joints')" if arr.ndim == 4 and arr.shape[-1] == 3 else ""
        raise SampleSetError(f"features must have shape (N, T, D); got {arr.shape}{hint}")
    if kind == "joints" and (arr.ndim != 4 or arr.shape[-1] != 3):
        raise SampleSetError(f"joints must have shape (N, T, J, 3); got {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise SampleSetError(f"a sample set needs at least one row and one frame; got motions of shape {arr.shape}")
    return np.asarray(arr, dtype=np.float32)


def _check_strings(values: Any, name: str, n: int | None) -> list[str]:
    if isinstance(values, str) or not hasattr(values, "__len__"):
        raise SampleSetError(f"{name} must be a list of strings; got {type(values).__name__}")
    values = list(values.tolist() if isinstance(values, np.ndarray) else values)
    if n is not None and len(values) != n:
        raise SampleSetError(f"{name} has {len(values)} entries; expected one per row ({n})")
    for i, v in enumerate(values):
        if not isinstance(v, str):
            raise SampleSetError(f"{name}[{i}] must be a string; got {type(v).__name__}")
    return values


def _check_tokens(tokens: list[list[str]], row_name: Any) -> None:
    """The tokens the evaluator reads (the first ``MAX_TOKENS``) must be ``word/POS``, as in caption files."""
    from .captions import MAX_TOKENS

    for row, toks in enumerate(tokens):
        for position, token in enumerate(toks[:MAX_TOKENS]):
            if token.count("/") != 1:
                raise SampleSetError(f"{row_name(row)}: token {position + 1} {token!r} is not 'word/POS' (as in "
                                     f"HumanML3D caption files); give tokens like 'walk/VERB', or none")


def _check_lengths(lengths: Any, n: int, t_max: int, row_name: Any) -> np.ndarray:
    arr = to_numpy(lengths)
    if arr.shape != (n,):
        raise SampleSetError(f"lengths must have shape ({n},), one per row; got {arr.shape}")
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise SampleSetError(f"lengths must be integers; got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating):
        bad = np.flatnonzero(~np.isfinite(arr) | (arr != np.round(arr)))
        if bad.size:
            raise SampleSetError(f"lengths must be whole numbers; {row_name(int(bad[0]))} has {arr[bad[0]]}")
    out = arr.astype(np.int64)
    for bad, what in ((np.flatnonzero(out < 1), "< 1"), (np.flatnonzero(out > t_max), f"> {t_max} frames stored")):
        if bad.size:
            names = "; ".join(f"{row_name(int(i))}: {int(out[i])}" for i in bad[:5])
            more = f" and {bad.size - 5} more" if bad.size > 5 else ""
            raise SampleSetError(f"{bad.size} length(s) {what}: {names}{more}")
    return out


def _check_frames(frames: Any, lengths: np.ndarray, t_max: int, row_name: Any) -> np.ndarray:
    """Stored generator frames per row: ``None`` -> ``lengths``; ``"all"`` -> ``t_max``; else ``lengths <= frames <= t_max``."""
    if frames is None:
        return lengths.copy()
    if isinstance(frames, str):
        if frames != "all":
            raise SampleSetError(f"frames must be None, 'all' or one integer per row; got {frames!r}")
        return np.full(len(lengths), t_max, dtype=np.int64)
    arr = to_numpy(frames)
    if arr.shape != lengths.shape or not np.issubdtype(arr.dtype, np.integer):
        raise SampleSetError(f"frames must hold one integer per row ({lengths.shape[0]}); got {arr.dtype} {arr.shape}")
    out = arr.astype(np.int64)
    bad = np.flatnonzero((out < lengths) | (out > t_max))
    if bad.size:
        i = int(bad[0])
        raise SampleSetError(f"{bad.size} row(s) have stored frames outside [length, {t_max}]: {row_name(i)} has "
                             f"length {int(lengths[i])} and frames {int(out[i])}")
    return out


def _cut_nonfinite_tails(motions: np.ndarray, lengths: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Stored frames per row, cut before the first NaN/Inf frame that lies past the row's length (such frames
    are not real output; values within the length are checked by :func:`_zero_past_lengths_and_check`)."""
    extra = np.flatnonzero(frames > lengths)
    if not extra.size:
        return frames
    out = frames.copy()
    for lo in range(0, extra.size, _CHUNK_ROWS):
        rows = extra[lo:lo + _CHUNK_ROWS]
        block = motions[rows].reshape(len(rows), motions.shape[1], -1)
        bad = ~np.isfinite(block).all(axis=2)  # (rows, T)
        bad &= np.arange(motions.shape[1])[None, :] >= lengths[rows, None]
        has = bad.any(axis=1)
        out[rows[has]] = np.minimum(out[rows[has]], bad[has].argmax(axis=1))
    return out


def _zero_past_lengths_and_check(motions: np.ndarray, lengths: np.ndarray, row_name: Any) -> np.ndarray:
    """Zero values past each row's stored frames (``lengths`` here; copying only if needed) and require finite
    values within them."""
    n, t_max = motions.shape[:2]
    frames = np.arange(t_max)
    bad_rows: list[np.ndarray] = []
    out = motions
    for lo in range(0, n, _CHUNK_ROWS):
        hi = min(lo + _CHUNK_ROWS, n)
        past = frames[None, :] >= lengths[lo:hi, None]  # (rows, T)
        block = out[lo:hi]
        if past.any() and np.any(block[past] != 0):  # NaN != 0 too
            if out is motions:
                out = motions.copy()
            out[lo:hi][past] = 0.0
            block = out[lo:hi]
        finite = np.isfinite(block.reshape(hi - lo, -1)).all(axis=1)
        bad_rows.append(lo + np.flatnonzero(~finite))
    bad = np.concatenate(bad_rows) if bad_rows else np.empty(0, np.int64)
    if bad.size:
        names = "; ".join(row_name(int(i)) for i in bad[:10])
        more = f" and {bad.size - 10} more" if bad.size > 10 else ""
        raise SampleSetError(f"{bad.size} row(s) contain NaN or Inf within their length: {names}{more}. "
                             f"Regenerate these samples or drop them before evaluating.")
    return out

