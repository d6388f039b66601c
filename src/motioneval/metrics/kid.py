"""Kernel Inception Distance (KID) on evaluator embeddings (Bińkowski et al., ICLR 2018). Not in the reference.

KID is the unbiased estimate of the squared maximum mean discrepancy (MMD^2) with the polynomial kernel
``k(x, y) = (gamma x.y + coef0)^degree`` (defaults ``gamma = 1/D``, ``coef0 = 1``, ``degree = 3``):

    MMD^2_u = sum_{i != j} k(x_i, x_j) / (m (m-1)) + sum_{i != j} k(y_i, y_j) / (m (m-1))
              - 2 sum_{i, j} k(x_i, y_j) / m^2

evaluated on ``num_subsets`` random subsets of ``m = subset_size`` rows from each set (drawn without
replacement, real then generated, subset after subset); the result is the mean of the subset estimates
and their population standard deviation (ddof = 0, as torch-fidelity and clean-fid report it). Unlike
FID it is unbiased in the sample size, and it can be slightly negative when the distributions match.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from motioneval._arrays import as_2d_features
from motioneval.metrics._rng import RNGLike, as_rng, choice_without_replacement


class KIDResult(NamedTuple):
    """Mean and population std of the per-subset unbiased MMD^2 estimates."""

    mean: float
    std: float


def kid(real_emb: Any, gen_emb: Any, *, num_subsets: int = 100, subset_size: int | None = None,
        degree: int = 3, gamma: float | None = None, coef0: float = 1.0, rng: RNGLike = None,
        return_subsets: bool = False) -> KIDResult | tuple[KIDResult, np.ndarray]:
    """KID between ``real_emb`` ``(N1, D)`` and ``gen_emb`` ``(N2, D)`` (see the module docstring).

    ``subset_size`` defaults to ``min(1000, N1, N2)``; an explicit value must not exceed ``min(N1, N2)``.
    With ``return_subsets=True`` also returns the ``num_subsets`` individual estimates.
    Computed in float64; cost ``O(num_subsets * subset_size^2 * D)``.
    """
    real = as_2d_features(real_emb, "real_emb", min_rows=2)
    gen = as_2d_features(gen_emb, "gen_emb", min_rows=2)
    if real.shape[1] != gen.shape[1]:
        raise ValueError(f"real_emb and gen_emb must have the same dimension; got {real.shape} and {gen.shape}")
    n_max = min(real.shape[0], gen.shape[0])
    if subset_size is None:
        subset_size = min(1000, n_max)
    if isinstance(subset_size, bool) or not isinstance(subset_size, (int, np.integer)) or not 2 <= subset_size <= n_max:
        raise ValueError(
            f"subset_size must be an int in [2, {n_max}] (the smaller set has {n_max} rows); got {subset_size!r}"
        )
    if isinstance(num_subsets, bool) or not isinstance(num_subsets, (int, np.integer)) or num_subsets < 1:
        raise ValueError(f"num_subsets must be a positive int; got {num_subsets!r}")
    if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)) or degree < 1:
        raise ValueError(f"degree must be a positive int; got {degree!r}")
    gamma = 1.0 / real.shape[1] if gamma is None else float(gamma)
    gen_rng = as_rng(rng)
    m = int(subset_size)
    estimates = np.empty(int(num_subsets), dtype=np.float64)
    for s in range(int(num_subsets)):  # loop over subsets; each subset is fully vectorized
        x = real[choice_without_replacement(gen_rng, real.shape[0], m)]
        y = gen[choice_without_replacement(gen_rng, gen.shape[0], m)]
        estimates[s] = _mmd2_unbiased(x, y, degree, gamma, coef0)
    result = KIDResult(float(np.mean(estimates)), float(np.std(estimates)))
    return (result, estimates) if return_subsets else result


def _kernel_sum(a: np.ndarray, b: np.ndarray, degree: int, gamma: float, coef0: float,
                off_diagonal: bool) -> float:
    gram = a @ b.T
    gram *= gamma
    gram += coef0
    k = gram ** degree
    total = float(np.sum(k))
    if off_diagonal:
        total -= float(np.trace(k))
    return total


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray, degree: int, gamma: float, coef0: float) -> float:
    m, n = x.shape[0], y.shape[0]
    kxx = _kernel_sum(x, x, degree, gamma, coef0, off_diagonal=True)
    kyy = _kernel_sum(y, y, degree, gamma, coef0, off_diagonal=True)
    kxy = _kernel_sum(x, y, degree, gamma, coef0, off_diagonal=False)
    result: float = kxx / (m * (m - 1)) + kyy / (n * (n - 1)) - 2.0 * kxy / (m * n)
    return result
