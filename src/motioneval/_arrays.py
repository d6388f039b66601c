"""Input conversion and validation shared by the numeric core.

Errors name the argument, the offending rows and what to do, in the style of scikit-learn's checks.
Torch tensors are accepted without importing torch (anything with ``.detach().cpu().numpy()``).
"""
from __future__ import annotations

from typing import Any

import numpy as np


def to_numpy(x: Any) -> np.ndarray:
    """Convert numpy arrays, array-likes and torch tensors (any device) to a numpy array."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def nonfinite_rows(x: np.ndarray) -> np.ndarray:
    """Indices of rows (first axis) that contain NaN or +-Inf."""
    bad = ~np.isfinite(x)
    if bad.ndim > 1:
        bad = bad.reshape(bad.shape[0], -1).any(axis=1)
    return np.flatnonzero(bad)


def check_finite(x: np.ndarray, name: str, *, what: str = "row") -> None:
    """Raise ``ValueError`` naming the first offending rows if ``x`` has NaN/Inf."""
    if np.isfinite(x).all():
        return
    rows = nonfinite_rows(x)
    shown = ", ".join(str(int(i)) for i in rows[:10])
    more = f" and {len(rows) - 10} more" if len(rows) > 10 else ""
    raise ValueError(
        f"{name} contains NaN or Inf in {len(rows)} {what}(s): {what} index {shown}{more}. "
        f"Remove or regenerate these {what}s before computing metrics."
    )


def as_2d_features(x: Any, name: str, *, min_rows: int = 1, dtype: Any = np.float64) -> np.ndarray:
    """Validate an ``(N, D)`` feature array: 2-D, at least ``min_rows`` rows, finite; cast to ``dtype``."""
    arr = to_numpy(x)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of shape (N, D) (one row per sample); got shape {arr.shape}")
    if arr.shape[0] < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} rows (samples); got {arr.shape[0]}")
    if arr.shape[1] < 1:
        raise ValueError(f"{name} has no feature columns (shape {arr.shape})")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{name} must be numeric; got dtype {arr.dtype}")
    arr = arr.astype(dtype, copy=False)
    check_finite(arr, name)
    return arr
