"""Feature normalization statistics (``Mean.npy``/``Std.npy`` or the evaluator's ``t2m_mean``/``t2m_std``).

Two different statistics exist (see ``protocol.md``): the dataset's, used by generators, and the
evaluator's own. Generated features must be ``renormalize``-d from the first to the second before
embedding; the root and foot-contact groups differ by about 25x between them.

The dataset's statistics (``dataset_statistics``): ``Mean`` is the per-dim mean over every frame of every
training clip; ``Std`` is the per-dim population std (ddof 0), then replaced by its average within each
feature group of the layout (root yaw velocity, root x/z velocity, root height, ric, rotations, joint
velocities, foot contacts), so every dim of a group is scaled alike.
"""
from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import _npio
from .._arrays import to_numpy
from .._io import atomic_save_npy, sha256_file
from ..metrics.stats import chan_merge
from .layout import FeatureLayout

__all__ = ["FeatureStats", "renormalize", "dataset_statistics", "group_average"]


@dataclass(frozen=True)
class FeatureStats:
    """Per-dimension mean and std: ``normalize(x) = (x - mean) / std``."""

    mean: np.ndarray
    std: np.ndarray
    name: str = "stats"
    sources: dict[str, str] = field(default_factory=dict)  # file path -> sha256 (provenance)

    def __post_init__(self) -> None:
        mean = np.asarray(self.mean)
        std = np.asarray(self.std)
        if mean.ndim != 1 or std.shape != mean.shape:
            raise ValueError(
                f"{self.name}: mean and std must be 1-D of equal length; got {mean.shape} and {std.shape}"
            )
        if not (np.isfinite(mean).all() and np.isfinite(std).all()):
            raise ValueError(f"{self.name}: mean/std contain NaN or Inf")
        if (std <= 0).any():
            bad = np.flatnonzero(std <= 0)[:10].tolist()
            raise ValueError(f"{self.name}: std must be positive; dims {bad} are <= 0")

    @property
    def dim(self) -> int:
        return int(np.asarray(self.mean).shape[0])

    def __repr__(self) -> str:
        files = ", ".join(Path(p).name for p in self.sources) or "in memory"
        return f"FeatureStats(name={self.name!r}, dim={self.dim}, sources: {files})"

    def _check(self, x: np.ndarray) -> None:
        if x.shape[-1] != self.dim:
            raise ValueError(
                f"features have {x.shape[-1]} dims in the last axis but statistics {self.name!r} have {self.dim}"
            )

    def normalize(self, x: Any) -> Any:
        """``(x - mean) / std`` along the last axis; numpy in, numpy out (torch in, torch out)."""
        return _apply(x, self, lambda a, m, s: (a - m) / s)

    def denormalize(self, x: Any) -> Any:
        """``x * std + mean`` along the last axis."""
        return _apply(x, self, lambda a, m, s: a * s + m)

    @classmethod
    def load(cls, mean_path: str | Path, std_path: str | Path, *, name: str | None = None) -> "FeatureStats":
        """Load from two ``.npy`` files and record their sha256 for provenance."""
        mean_path, std_path = Path(mean_path), Path(std_path)
        arrays = []
        for p in (mean_path, std_path):
            if not p.is_file():
                raise FileNotFoundError(f"normalization statistics file not found: {p}")
            try:
                arrays.append(_npio.load(p, allow_pickle=False))
            except Exception as exc:  # truncated download, wrong format
                raise ValueError(f"could not read normalization statistics {p}: {exc}") from exc
        return cls(
            mean=arrays[0],
            std=arrays[1],
            name=name or mean_path.stem,
            sources={str(mean_path): sha256_file(mean_path), str(std_path): sha256_file(std_path)},
        )

    @classmethod
    def load_dataset(cls, folder: str | Path, *, name: str | None = None) -> "FeatureStats":
        """The dataset's statistics: ``Mean.npy`` and ``Std.npy`` in a HumanML3D / KIT-ML folder."""
        folder = Path(folder)
        return cls.load(folder / "Mean.npy", folder / "Std.npy", name=name or f"dataset:{folder.name}")

    @classmethod
    def load_evaluator(cls, path: str | Path, dataset: str = "t2m", *, name: str | None = None) -> "FeatureStats":
        """The evaluator's statistics, from any of the layouts they ship in.

        ``path`` may be a folder holding ``{dataset}_mean.npy``/``{dataset}_std.npy`` (MDM's ``dataset/``),
        a text-to-motion checkpoint folder holding ``meta/mean.npy``/``meta/std.npy``, or that ``meta`` folder.
        """
        folder = Path(path)
        candidates = [
            (folder / f"{dataset}_mean.npy", folder / f"{dataset}_std.npy"),
            (folder / "meta" / "mean.npy", folder / "meta" / "std.npy"),
            (folder / "mean.npy", folder / "std.npy"),
        ]
        for mean_path, std_path in candidates:
            if mean_path.is_file() and std_path.is_file():
                return cls.load(mean_path, std_path, name=name or f"evaluator:{dataset}")
        tried = ", ".join(f"{m.name}/{s.name} in {m.parent}" for m, s in candidates)
        raise FileNotFoundError(
            f"no evaluator normalization statistics for {dataset!r} under {folder} (tried {tried}); point to the "
            f"folder holding {dataset}_mean.npy/{dataset}_std.npy or the evaluator checkpoint's meta/ folder"
        )

    def save(self, folder: str | Path, *, mean_name: str = "Mean.npy", std_name: str = "Std.npy") -> tuple[Path, Path]:
        """Write ``Mean.npy``/``Std.npy`` (the dataset's file names) atomically; returns both paths."""
        folder = Path(folder)
        return atomic_save_npy(folder / mean_name, self.mean), atomic_save_npy(folder / std_name, self.std)

    def is_group_averaged(self, layout: FeatureLayout | None = None, *, rtol: float = 1e-6) -> bool:
        """Whether ``std`` is constant within each feature group, as the dataset's ``Std.npy`` is."""
        std = np.asarray(self.std, dtype=np.float64)
        layout = layout or FeatureLayout.for_dim(self.dim)
        return bool(np.allclose(std, group_average(std, layout), rtol=rtol, atol=0.0))


def renormalize(x: Any, from_stats: FeatureStats, to_stats: FeatureStats) -> Any:
    """Re-express features normalized with ``from_stats`` in ``to_stats``: ``normalize_to(denormalize_from(x))``."""
    return to_stats.normalize(from_stats.denormalize(x))


def _apply(x: Any, stats: FeatureStats, fn: Any) -> Any:
    if hasattr(x, "detach"):  # torch tensor: stay in torch on its device/dtype
        import torch

        mean = torch.as_tensor(np.asarray(stats.mean), dtype=x.dtype, device=x.device)
        std = torch.as_tensor(np.asarray(stats.std), dtype=x.dtype, device=x.device)
        if x.shape[-1] != stats.dim:
            stats._check(np.empty((0, x.shape[-1])))
        return fn(x, mean, std)
    arr = to_numpy(x)
    stats._check(arr)
    dtype = arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.float64
    return fn(arr.astype(dtype, copy=False), np.asarray(stats.mean, dtype=dtype), np.asarray(stats.std, dtype=dtype))


def group_average(std: Any, layout: FeatureLayout | None = None) -> np.ndarray:
    """Replace each feature group's per-dim values by their mean (``Std[g] = Std[g].mean()`` for each group)."""
    out = np.array(to_numpy(std), dtype=np.float64)
    if out.ndim != 1:
        raise ValueError(f"std must be 1-D (one value per feature dim); got shape {out.shape}")
    layout = layout or FeatureLayout.for_dim(out.shape[0])
    if layout.dim != out.shape[0]:
        raise ValueError(f"std has {out.shape[0]} dims but the layout has {layout.dim}")
    for sl in layout.groups().values():
        out[sl] = out[sl].mean()
    return out


def dataset_statistics(
    features: Any,
    *,
    lengths: Any = None,
    layout: FeatureLayout | None = None,
    ids: Sequence[str] | None = None,
    skip_nonfinite: bool = False,
    name: str = "dataset",
) -> FeatureStats:
    """Normalization statistics computed the way the dataset computed ``Mean.npy``/``Std.npy``.

    ``features``: a sequence of ``(T_i, D)`` clips, or an ``(N, T, D)`` array (with ``lengths`` to ignore
    padding), or one ``(frames, D)`` array. Over all valid frames: ``mean = E[x]``, ``std = sqrt(E[(x -
    mean)^2])`` (ddof 0), accumulated in float64 by merging per-block means and squared deviations (Chan et
    al.), then averaged within each layout group. Clips with NaN/Inf raise ``ValueError`` naming them (by
    ``ids`` when given), or, with ``skip_nonfinite=True``, are left out with a warning, as the dataset's
    script did.
    """
    clips = _iter_clips(features, lengths)
    count, mean, m2 = 0, None, None
    bad: list[int] = []
    for block, clip_index in _blocks(clips):
        finite = np.isfinite(block).all(axis=1)
        if not finite.all():
            bad_clips = np.unique(clip_index[~finite])
            bad.extend(int(c) for c in bad_clips)
            if not skip_nonfinite:
                continue
            block = block[~np.isin(clip_index, bad_clips)]
        if len(block) == 0:
            continue
        n_b = len(block)
        mean_b = block.mean(axis=0)
        m2_b = ((block - mean_b) ** 2).sum(axis=0)
        if mean is None or m2 is None:
            count, mean, m2 = n_b, mean_b, m2_b
        else:
            count, mean, m2 = chan_merge(count, mean, m2, n_b, mean_b, m2_b)
    if bad:
        shown = ", ".join(_label(c, ids) for c in bad[:10]) + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
        if not skip_nonfinite:
            raise ValueError(
                f"{len(bad)} clip(s) contain NaN or Inf: {shown}. Fix or remove them, or pass "
                f"skip_nonfinite=True to leave them out as the dataset's script did."
            )
        warnings.warn(f"left out {len(bad)} clip(s) with NaN or Inf: {shown}", stacklevel=2)
    if mean is None or m2 is None or count < 2:
        raise ValueError(f"need at least 2 valid frames to compute statistics; got {count}")
    layout = layout or FeatureLayout.for_dim(mean.shape[0])
    std = group_average(np.sqrt(m2 / count), layout)
    flat = [g for g, sl in layout.groups().items() if not (std[sl] > 0).all()]
    if flat:
        raise ValueError(
            f"feature group(s) {flat} are constant over these {count} frames, so their std is 0; "
            f"statistics need more varied data"
        )
    return FeatureStats(mean=mean, std=std, name=name)


def _label(index: int, ids: Sequence[str] | None) -> str:
    if ids is not None and 0 <= index < len(ids):
        return f"{ids[index]!r} (#{index})"
    return f"#{index}"


def _iter_clips(features: Any, lengths: Any) -> Iterable[np.ndarray]:
    if isinstance(features, (list, tuple)) or not hasattr(features, "shape"):
        if lengths is not None:
            raise ValueError("lengths= applies to an (N, T, D) array; a sequence of clips carries its own lengths")
        dim = None
        for i, clip in enumerate(features):
            arr = to_numpy(clip)
            if arr.ndim != 2:
                raise ValueError(f"clip #{i} must have shape (T, D); got {arr.shape}")
            if dim is not None and arr.shape[1] != dim:
                raise ValueError(f"clip #{i} has {arr.shape[1]} feature dims but clip #0 has {dim}")
            dim = arr.shape[1]
            yield arr
        return
    arr = to_numpy(features)
    if arr.ndim == 2:
        if lengths is not None:
            raise ValueError("lengths= applies to an (N, T, D) array, not to one (frames, D) array")
        yield arr
        return
    if arr.ndim != 3:
        raise ValueError(f"features must be (N, T, D), (frames, D) or a list of (T, D) clips; got shape {arr.shape}")
    lens = np.full(len(arr), arr.shape[1]) if lengths is None else np.asarray(to_numpy(lengths)).reshape(-1)
    if lens.shape != (len(arr),):
        raise ValueError(f"lengths has {lens.size} entries for {len(arr)} clips")
    if ((lens < 0) | (lens > arr.shape[1])).any():
        raise ValueError(f"lengths must be in [0, {arr.shape[1]}]")
    for clip, n in zip(arr, lens):
        yield clip[: int(n)]


def _blocks(clips: Iterable[np.ndarray], rows: int = 1 << 14) -> Iterable[tuple[np.ndarray, np.ndarray]]:
    """Concatenate clips into float64 blocks of about ``rows`` frames: (block, clip index of each row)."""
    pending: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    size = 0
    for i, clip in enumerate(clips):
        pending.append(np.asarray(clip, dtype=np.float64))
        owners.append(np.full(len(clip), i))
        size += len(clip)
        if size >= rows:
            yield np.concatenate(pending), np.concatenate(owners)
            pending, owners, size = [], [], 0
    if pending:
        yield np.concatenate(pending), np.concatenate(owners)
