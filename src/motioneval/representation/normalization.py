"""Feature normalization statistics (``Mean.npy``/``Std.npy`` or the evaluator's ``t2m_mean``/``t2m_std``).

Two different statistics exist (see ``protocol.md``): the dataset's, used by generators, and the
evaluator's own. Generated features must be ``renormalize``-d from the first to the second before
embedding; the root and foot-contact groups differ by about 25x between them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._arrays import to_numpy
from .._io import sha256_file


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
                arrays.append(np.load(p, allow_pickle=False))
            except Exception as exc:  # truncated download, wrong format
                raise ValueError(f"could not read normalization statistics {p}: {exc}") from exc
        return cls(
            mean=arrays[0],
            std=arrays[1],
            name=name or mean_path.stem,
            sources={str(mean_path): sha256_file(mean_path), str(std_path): sha256_file(std_path)},
        )


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
