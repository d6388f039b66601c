"""Kernel Inception Distance (KID) on evaluator embeddings (Bińkowski et al., ICLR 2018). Not in the reference.

KID is the unbiased estimate of the squared maximum mean discrepancy (MMD^2) with the polynomial kernel
``k(x, y) = (gamma x.y + coef0)^degree`` (defaults ``gamma = 1/D``, ``coef0 = 1``, ``degree = 3``):

    MMD^2_u = sum_{i != j} k(x_i, x_j) / (m (m-1)) + sum_{i != j} k(y_i, y_j) / (m (m-1))
              - 2 sum_{i, j} k(x_i, y_j) / m^2

evaluated on ``num_subsets`` random subsets of ``m = subset_size`` rows from each set (drawn without
replacement, real then generated, subset after subset); the result is the mean of the subset estimates
and their population standard deviation (ddof = 0, as torch-fidelity and clean-fid report it). Unlike
FID it is unbiased in the sample size, and it can be slightly negative when the distributions match.

Evaluation. With ``u = gamma x.y`` the kernel is expanded binomially,
``k = sum_j C(degree, j) coef0^(degree - j) u^j``; the ``j = 0`` term is the same constant in all three sums
and cancels exactly in MMD^2_u (weights ``1 + 1 - 2 = 0``), so it is dropped instead of being subtracted in
floating point (which loses every digit when ``|u| << coef0``, e.g. for tiny embeddings). KID is *not*
scale-invariant, but it factors by scale: with ``x = 2^s x'``, ``u = 4^s u'``, so each term ``j`` is computed
from the unit-scale rows ``x'`` and multiplied by ``2^(2 s j)`` (combined by exponent, never by overflowing
powers). A result beyond the float64 range raises ``ValueError`` saying *overflow* (e.g. degree-3 KID of
embeddings of magnitude ``1e200`` is about ``1e1200``).
"""
from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from motioneval._arrays import (
    as_2d_features,
    ldexp_checked,
    max_abs,
    pow2_exponent,
    scale_pow2,
)
from motioneval._checks import check_positive_int, is_int
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
    if not is_int(subset_size) or not 2 <= subset_size <= n_max:
        raise ValueError(
            f"subset_size must be an int in [2, {n_max}] (the smaller set has {n_max} rows); got {subset_size!r}"
        )
    check_positive_int(num_subsets, "num_subsets", what="a positive int")
    check_positive_int(degree, "degree", what="a positive int")
    gamma = 1.0 / real.shape[1] if gamma is None else float(gamma)
    if not (math.isfinite(gamma) and math.isfinite(float(coef0))):
        raise ValueError(f"gamma and coef0 must be finite; got gamma={gamma!r}, coef0={coef0!r}")
    # factor the common scale 2**e out of both sets (e = 0 when max |x| is already in [0.5, 1))
    # and gamma's binary exponent out of u = gamma x.y, so u' = g' x'.y' stays near unit scale
    e = pow2_exponent(max_abs(real, gen), (0, -1))
    real, gen = scale_pow2(real, e), scale_pow2(gen, e)
    g_mant, g_exp = math.frexp(gamma)
    weights = _binomial_weights(int(degree), float(coef0), 2 * e + g_exp)
    gen_rng = as_rng(rng)
    m = int(subset_size)
    estimates = np.empty(int(num_subsets), dtype=np.float64)
    for s in range(int(num_subsets)):  # loop over subsets; each subset is fully vectorized
        x = real[choice_without_replacement(gen_rng, real.shape[0], m)]
        y = gen[choice_without_replacement(gen_rng, gen.shape[0], m)]
        estimates[s] = _mmd2_unbiased(x, y, g_mant, weights)
    result = _mean_std(estimates)
    return (result, estimates) if return_subsets else result


def _binomial_weights(degree: int, coef0: float, unit_exp: int) -> list[tuple[int, float, int]]:
    """``(j, mantissa, exponent)`` with ``mantissa * 2**exponent = C(d, j) coef0^(d-j) 2^(unit_exp j)`` for the
    terms ``j = 1..d`` of the binomial expansion (``u = 2^unit_exp u'``; module docstring)."""
    out = []
    c_mant, c_exp = math.frexp(coef0)
    for j in range(1, degree + 1):
        if coef0 == 0.0 and j < degree:
            continue
        mant, exp = math.frexp(float(math.comb(degree, j)))
        for _ in range(degree - j):  # coef0^(d-j), renormalised at each step so it never overflows
            mant, step = math.frexp(mant * c_mant)
            exp += step + c_exp
        out.append((j, mant, exp + unit_exp * j))
    return out


def _power_sums(a: np.ndarray, b: np.ndarray, gamma: float, degree: int, off_diagonal: bool) -> np.ndarray:
    """``[sum u^j for j = 1..degree]`` with ``u = gamma a b^T`` (diagonal excluded when ``off_diagonal``)."""
    u = a @ b.T
    u *= gamma
    if off_diagonal:
        np.fill_diagonal(u, 0.0)
    sums = np.empty(degree, dtype=np.float64)
    power = u.copy()
    for j in range(degree):
        if j:
            power *= u
        sums[j] = float(np.sum(power))
    return sums


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray, gamma: float, weights: list[tuple[int, float, int]]) -> float:
    """Unbiased MMD^2 from unit-scale rows: ``sum_j w_j (mean_xx u^j + mean_yy u^j - 2 mean_xy u^j)`` with the
    weights' binary exponents applied by ``ldexp`` (overflow raises a named ``ValueError``)."""
    m, n = x.shape[0], y.shape[0]
    degree = weights[-1][0]
    sxx = _power_sums(x, x, gamma, degree, True) / (m * (m - 1))
    syy = _power_sums(y, y, gamma, degree, True) / (n * (n - 1))
    sxy = _power_sums(x, y, gamma, degree, False) / (m * n)
    top = max(w[2] for w in weights)
    total = 0.0
    with np.errstate(under="ignore"):
        for j, mant, exp in weights:
            total += float(np.ldexp(mant * (sxx[j - 1] + syy[j - 1] - 2.0 * sxy[j - 1]), exp - top))
    return float(ldexp_checked(total, top, "kid (the unbiased MMD^2 of a subset; KID is not scale-invariant, "
                                           "it grows like scale**(2 * degree))"))


def _mean_std(estimates: np.ndarray) -> KIDResult:
    """Mean and population std of the estimates, with their scale factored out (no overflow in the squares)."""
    e = pow2_exponent(max_abs(estimates))
    scaled = scale_pow2(estimates, e)
    mean, std = np.mean(scaled), np.std(scaled)
    if e == 0:
        return KIDResult(float(mean), float(std))
    return KIDResult(float(ldexp_checked(mean, e, "kid mean")), float(ldexp_checked(std, e, "kid std")))
