"""FID extrapolated to an infinite number of generated samples (Chong & Forsyth, CVPR 2020). Not in the reference.

FID computed from ``N`` samples is biased upward, and the bias falls like ``1/N``:
``FID_N ~ FID_inf + c / N``. FID-infinity evaluates ``FID_{N_i}`` on independent random subsets of
``N_i`` generated rows (drawn without replacement, one subset per size, in the order of ``sizes``)
against the full ground-truth statistics, fits the line ``FID = a + b (1/N)`` by least squares and
reports the intercept ``a = FID_inf``. Comparable across models evaluated with different sample counts.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from motioneval._arrays import (
    as_2d_features,
    ldexp_checked,
    max_abs,
    pow2_exponent,
    scale_pow2,
)
from motioneval.metrics._rng import RNGLike, as_rng, choice_without_replacement
from motioneval.metrics.frechet import frechet_distance
from motioneval.metrics.stats import as_moments, gaussian_stats


class FIDInfinityResult(NamedTuple):
    """``value`` = extrapolated FID at ``1/N = 0``; ``slope`` = ``d FID / d(1/N)``; the points of the fit."""

    value: float
    slope: float
    sizes: np.ndarray
    fids: np.ndarray


def fid_infinity(real: Any, gen_emb: Any, *, sizes: Any = None, num_points: int = 15,
                 min_size: int | None = None, rng: RNGLike = None, method: str = "exact") -> FIDInfinityResult:
    """FID-infinity of generated embeddings ``gen_emb`` ``(M, D)`` against ``real``.

    ``real``: ground-truth embeddings ``(N, D)``, a ``GaussianStats`` or a ``(mean, cov)`` pair (used in
    full at every size). ``sizes``: the subset sizes; by default ``num_points`` sizes evenly spaced from
    ``min_size`` to ``M``, with ``min_size = max(M // 5, min(2 D, M // 2))``. ``method`` is passed to
    ``frechet_distance``. Randomness as in :mod:`motioneval.metrics._rng`.
    """
    gen = as_2d_features(gen_emb, "gen_emb", min_rows=4)
    mean_r, cov_r = _real_stats(real)
    if mean_r.shape[0] != gen.shape[1]:
        raise ValueError(f"real statistics have dimension {mean_r.shape[0]} but gen_emb has {gen.shape[1]}")
    m, d = gen.shape
    size_arr = _resolve_sizes(sizes, num_points, min_size, m, d)
    gen_rng = as_rng(rng)
    fids = np.empty(size_arr.shape[0], dtype=np.float64)
    for i, size in enumerate(size_arr):  # one FID per subset size
        subset = gaussian_stats(gen[choice_without_replacement(gen_rng, m, int(size))])
        fids[i] = float(frechet_distance(mean_r, cov_r, subset.mean, subset.cov, method=method))
    design = np.stack([np.ones_like(fids), 1.0 / size_arr], axis=1)
    e = pow2_exponent(max_abs(fids))  # the fit is linear in the FIDs: factor their scale out of the solver
    (intercept, slope), *_ = np.linalg.lstsq(design, scale_pow2(fids, e), rcond=None)
    if e:
        intercept = ldexp_checked(intercept, e, "fid_infinity intercept")
        slope = ldexp_checked(slope, e, "fid_infinity slope")
    return FIDInfinityResult(float(intercept), float(slope), size_arr, fids)


def _real_stats(real: Any) -> tuple[np.ndarray, np.ndarray]:
    moments = as_moments(real, "real", finite=True)
    if moments is not None:
        return moments
    stats = gaussian_stats(as_2d_features(real, "real", min_rows=2))
    return np.asarray(stats.mean, dtype=np.float64), np.asarray(stats.cov, dtype=np.float64)


def _resolve_sizes(sizes: Any, num_points: int, min_size: int | None, m: int, d: int) -> np.ndarray:
    if sizes is None:
        if isinstance(num_points, bool) or not isinstance(num_points, (int, np.integer)) or num_points < 2:
            raise ValueError(f"num_points must be an int >= 2; got {num_points!r}")
        low = max(m // 5, min(2 * d, m // 2)) if min_size is None else int(min_size)
        if not 2 <= low < m:
            raise ValueError(f"min_size must be in [2, {m - 1}] ({m} generated rows); got {low}")
        sizes = np.linspace(low, m, num_points)
    arr = np.unique(np.round(np.asarray(sizes, dtype=np.float64)).astype(np.int64))
    if arr.ndim != 1 or arr.size < 2:
        raise ValueError(f"fid_infinity needs at least 2 distinct subset sizes; got {sizes!r}")
    if arr[0] < 2 or arr[-1] > m:
        raise ValueError(f"subset sizes must lie in [2, {m}] (the number of generated rows); got {arr.tolist()}")
    return arr
