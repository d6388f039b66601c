"""Fréchet distance between Gaussians (FID), exact by construction, with diagnostics.

``FID = |mu1 - mu2|^2 + tr S1 + tr S2 - 2 tr((S1^(1/2) S2 S1^(1/2))^(1/2))``; the last three terms are the
squared Bures distance ``B^2``. With any factors ``S1 = A A^T``, ``S2 = B B^T``,
``tr((S1^(1/2) S2 S1^(1/2))^(1/2)) = ||B^T A||_*`` (nuclear norm) and ``B^2 = min_U ||A - B U||_F^2`` over
orthogonal ``U`` (orthogonal Procrustes; the minimiser is the polar factor of ``B^T A``).

``method="exact"`` (default) works only with symmetric decompositions in float64, so it is real by
construction, never negative, and exactly 0 for identical statistics:

1. Each covariance is validated (finite, symmetric, positive semidefinite up to rounding) and factored by
   (pivoted) Cholesky, ``S = L L^T`` with ``L`` of shape ``(D, rank)``; rank-deficient covariances
   (N <= D, constant features) get thin factors.
2. *Eigenvalue route* (flat spectra): with ``L`` the factor of the lower-rank side, the eigenvalues ``mu_i``
   of the symmetric PSD matrix ``C = L^T S_other L`` are those of ``S1 S2``, and
   ``tr(...)^(1/2) = sum sqrt(mu_i)``. Its first-order worst-case error bound (eigenvalue perturbation
   ``8 eps ||S1|| ||S2||`` propagated through every square root, plus rounding of the final subtraction) is
   ill-conditioned for tiny ``mu_i`` (``sqrt`` of an absolute error ``eta`` is ``sqrt(eta)``), so the route
   is tried only when the Cholesky pivots predict that the bound passes.
3. *Nuclear-norm route* (decaying and rank-deficient spectra): ``tr(...)^(1/2) = ||B^T A||_*``, the sum of
   the singular values of ``M = B^T A`` (values only, one SVD), computed without squaring: each singular
   value is perturbed by about ``eps ||M||``, however small it is. Its bound (``_bures_nuclear``) adds the
   error of forming ``M``, the SVD's backward error through Mirsky's inequality and the final subtraction.
   A fast route is accepted when its bound is at most ``EIGEN_ROUTE_RTOL`` (1e-9) of the value.
4. Otherwise (close distributions, where the subtraction cancels)
   the *Procrustes route* computes the SVD ``B^T A = W diag(s) Z^T`` and returns ``B^2`` as the sum of
   squares of the residual ``A Z - B W``: nothing cancels, and errors in the singular vectors enter only to
   second order. ``method="procrustes"`` forces this route.

``fid`` of feature arrays whose magnitude is extreme (beyond 2^+-100) rescales them by a power of two before
forming statistics (exact) and scales the result back, so that 1e-155-scale features give the exact value
and 1e-310-scale ones underflow only in the final rounding; a result beyond the float64 range is refused
with a ``ValueError`` that says so.

``method="reference"`` reproduces the public reference code (``calculate_frechet_distance`` of the
text-to-motion / MDM ``utils/metrics.py``): ``scipy.linalg.sqrtm(S1 @ S2)``, a retry with ``eps`` added to both
diagonals if that is not finite, and the real part of a complex result. It never raises: where the reference
would raise ``ValueError("Imaginary component ...")`` (an imaginary diagonal part above 1e-3) or return a
non-finite number, the result says so in its diagnostics and carries the exact value beside it. It works on
every scipy version (``sqrtm``'s ``disp`` argument is detected, not assumed).
"""
from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, overload

import numpy as np
from scipy import linalg as sla
from scipy.linalg import lapack

from .._arrays import nonfinite_rows, to_numpy
from .._io import json_float, jsonable
from .stats import GaussianStats, gaussian_stats

__all__ = ["FrechetResult", "FrechetWarning", "frechet_distance", "fid", "METHODS", "EIGEN_ROUTE_RTOL"]

METHODS = ("exact", "procrustes", "reference")
EPS = float(np.finfo(np.float64).eps)
#: a fast route (eigenvalues, or singular values) is used when its first-order error bound is at most this
#: fraction of the value (observed errors are far below the bounds, ~1e-13 and less)
EIGEN_ROUTE_RTOL = 1e-9
#: relative asymmetry ``max|S - S^T| / max|S|`` accepted as rounding (covariances computed in float32 reach 1e-6)
SYMMETRY_RTOL = 1e-5
#: negative eigenvalues down to ``-PSD_RTOL * max(diag S)`` are rounding (float32 covariances of N < D samples);
#: they are projected out, anything more negative is an error
PSD_RTOL = 1e-5
#: under the exact method, a complex square root of the reference route is worth a warning only when the
#: reference's value differs from the exact one by more than ``RTOL * |exact| + ATOL`` (far below the 3 decimals
#: tables print, far above the 1e-13 rounding of the exact route)
REFERENCE_AGREEMENT_RTOL = 1e-4
REFERENCE_AGREEMENT_ATOL = 1e-6
#: the reference raises when an imaginary diagonal part of its square root exceeds this
REFERENCE_IMAG_ATOL = 1e-3
#: sample count per dimension below which the covariance estimate is called noisy
NOISY_SAMPLES_PER_DIM = 5


class FrechetWarning(UserWarning):
    """Emitted (only with ``warn=True``) for each plain-words warning of a Fréchet distance result."""


@dataclass
class FrechetResult:
    """A Fréchet distance with the numbers needed to judge it.

    ``value`` is the distance of the requested ``method``; ``exact_value`` is always the exact one;
    ``reference_value`` is what the reference code computes (None when it was not run); ``diagnostics`` is a
    JSON-ready dict and ``warnings`` a list of plain-words warnings.
    """

    value: float
    method: str
    exact_value: float
    reference_value: float | None = None
    diagnostics: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def __float__(self) -> float:
        return float(self.value)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: value, method, exact_value, reference_value, diagnostics, warnings."""
        return {
            "value": json_float(self.value),
            "method": self.method,
            "exact_value": json_float(self.exact_value),
            "reference_value": None if self.reference_value is None else json_float(self.reference_value),
            "diagnostics": jsonable(self.diagnostics),
            "warnings": list(self.warnings),
        }


# ============================================================================ public API
# return type by ``return_diagnostics`` (typing only; the implementation follows)
@overload
def frechet_distance(mu1: Any, sigma1: Any, mu2: Any = ..., sigma2: Any = ..., method: str = ..., return_diagnostics: Literal[False] = ...,
                     eps: float = ..., *, n1: int | None = ..., n2: int | None = ..., reference_check: bool | None = ..., warn: bool = ...) -> float: ...
@overload
def frechet_distance(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any, method: str, return_diagnostics: Literal[True],
                     eps: float = ..., *, n1: int | None = ..., n2: int | None = ..., reference_check: bool | None = ..., warn: bool = ...) -> FrechetResult: ...
@overload
def frechet_distance(mu1: Any, sigma1: Any, mu2: Any = ..., sigma2: Any = ..., method: str = ..., *, return_diagnostics: Literal[True],
                     eps: float = ..., n1: int | None = ..., n2: int | None = ..., reference_check: bool | None = ...,
                     warn: bool = ...) -> FrechetResult: ...
@overload
def frechet_distance(mu1: Any, sigma1: Any, mu2: Any = ..., sigma2: Any = ..., method: str = ..., return_diagnostics: bool = ...,
                     eps: float = ..., *, n1: int | None = ..., n2: int | None = ..., reference_check: bool | None = ..., warn: bool = ...) -> float | FrechetResult: ...
def frechet_distance(
    mu1: Any,
    sigma1: Any,
    mu2: Any = None,
    sigma2: Any = None,
    method: str = "exact",
    return_diagnostics: bool = False,
    eps: float = 1e-6,
    *,
    n1: int | None = None,
    n2: int | None = None,
    reference_check: bool | None = None,
    warn: bool = False,
) -> float | FrechetResult:
    """Fréchet distance between ``N(mu1, sigma1)`` and ``N(mu2, sigma2)``.

    ``frechet_distance(stats1, stats2, ...)`` with two :class:`GaussianStats` is accepted too.
    ``method``: ``"exact"`` (default), ``"procrustes"`` (always the cancellation-free residual) or
    ``"reference"`` (the reference code's value, never raising). ``eps`` is the reference's diagonal offset.
    Returns a float, or a :class:`FrechetResult` when ``return_diagnostics``. ``n1``/``n2`` (sample counts,
    taken from ``GaussianStats`` when given) only feed the diagnostics. ``reference_check`` runs the reference
    route beside the exact one (default: with diagnostics); ``warn=True`` also emits each warning as a
    :class:`FrechetWarning`.
    """
    if isinstance(mu1, GaussianStats) or isinstance(sigma1, GaussianStats):
        if not (isinstance(mu1, GaussianStats) and isinstance(sigma1, GaussianStats)) or mu2 is not None \
                or sigma2 is not None:
            raise TypeError("frechet_distance takes (mu1, sigma1, mu2, sigma2) arrays or (stats1, stats2) "
                            "GaussianStats, not a mix")
        s1, s2 = mu1, sigma1
        mu1, sigma1, n1 = s1.mean, s1.cov, s1.n if n1 is None else n1
        mu2, sigma2, n2 = s2.mean, s2.cov, s2.n if n2 is None else n2
    elif mu2 is None or sigma2 is None:
        raise TypeError("frechet_distance needs mu1, sigma1, mu2, sigma2 (or two GaussianStats)")
    return _frechet(mu1, sigma1, mu2, sigma2, method=method, return_diagnostics=return_diagnostics, eps=eps,
                    n=(n1, n2), names=("mu1", "sigma1", "mu2", "sigma2"), reference_check=reference_check,
                    warn=warn, ref_inputs=None)


@overload
def fid(features1: Any, features2: Any, method: str = ..., return_diagnostics: Literal[False] = ..., eps: float = ..., *, reference_check: bool | None = ..., warn: bool = ...) -> float: ...
@overload
def fid(features1: Any, features2: Any, method: str, return_diagnostics: Literal[True],
        eps: float = ..., *, reference_check: bool | None = ..., warn: bool = ...) -> FrechetResult: ...
@overload
def fid(features1: Any, features2: Any, method: str = ..., *, return_diagnostics: Literal[True], eps: float = ...,
        reference_check: bool | None = ..., warn: bool = ...) -> FrechetResult: ...
@overload
def fid(features1: Any, features2: Any, method: str = ..., return_diagnostics: bool = ..., eps: float = ..., *, reference_check: bool | None = ..., warn: bool = ...) -> float | FrechetResult: ...
def fid(
    features1: Any,
    features2: Any,
    method: str = "exact",
    return_diagnostics: bool = False,
    eps: float = 1e-6,
    *,
    reference_check: bool | None = None,
    warn: bool = False,
) -> float | FrechetResult:
    """FID between two feature sets; each side is an ``(N, D)`` array (numpy or torch), a
    :class:`GaussianStats`, or a ``(mean, cov)`` pair. Ground truth first, as the reference loop orders it.

    With ``method="reference"`` and feature arrays, the reference statistics are computed the reference's
    way (mean in the input dtype, e.g. float32; covariance in float64) so that its digits are reproduced;
    the exact value always uses float64 statistics.
    """
    _check_method(method)
    (x1, mu1, s1, n1), (x2, mu2, s2, n2) = (_raw_side(x, f"features{i}") for i, x in ((1, features1), (2, features2)))
    e = _scale_exponent(x1, x2)
    ref_inputs = None
    if (x1 is not None or x2 is not None) and _runs_reference(method, reference_check, return_diagnostics):
        with warnings.catch_warnings(), np.errstate(all="ignore"):  # the reference's own statistics may overflow
            warnings.simplefilter("ignore")
            ref_inputs = (*_reference_stats(x1, mu1, s1), *_reference_stats(x2, mu2, s2))
    (mu1, s1, n1), (mu2, s2, n2) = (_scaled_side(x, mu, s, n, e, f"features{i}")
                                    for i, (x, mu, s, n) in ((1, (x1, mu1, s1, n1)), (2, (x2, mu2, s2, n2))))
    return _frechet(mu1, s1, mu2, s2, method=method, return_diagnostics=return_diagnostics, eps=eps, n=(n1, n2),
                    names=("features1 mean", "features1 covariance", "features2 mean", "features2 covariance"),
                    reference_check=reference_check, warn=warn, ref_inputs=ref_inputs, scale_exp=e)


#: feature arrays whose largest magnitude lies outside [2^-SAFE_LOG2, 2^SAFE_LOG2] are rescaled by a power of
#: two (exact) before their statistics are formed, so that squares neither overflow nor lose digits as
#: subnormals; FID scales with the square of the features and is scaled back at the end
SAFE_LOG2 = 100


def _scale_exponent(*arrays: np.ndarray | None) -> int:
    """``e`` such that ``2^e * max|x|`` lies in [0.5, 1) when the features' magnitude is extreme, else 0."""
    top = 0.0
    for x in arrays:
        if x is None or x.size == 0 or not np.issubdtype(x.dtype, np.floating):
            continue
        m = max(float(np.max(x)), -float(np.min(x)))  # no |x| temporary of the features' size
        if not math.isfinite(m):
            return 0  # the statistics will name the NaN/Inf rows
        top = max(top, m)
    if top == 0.0 or math.ldexp(1.0, -SAFE_LOG2) <= top <= math.ldexp(1.0, SAFE_LOG2):
        return 0
    return -math.frexp(top)[1]


def _raw_side(x: Any, name: str) -> tuple[np.ndarray | None, Any, Any, int | None]:
    """(feature array or None, mean, cov, n) of one side given to ``fid``; mean/cov None for arrays."""
    if isinstance(x, GaussianStats):
        return None, x.mean, x.cov, x.n
    if isinstance(x, tuple) and len(x) == 2 and np.ndim(to_numpy(x[0])) == 1 and np.ndim(to_numpy(x[1])) == 2:
        return None, to_numpy(x[0]), to_numpy(x[1]), None
    arr = to_numpy(x)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of shape (N, D) (one row per sample), a GaussianStats or a "
                         f"(mean, cov) pair; got shape {arr.shape}")
    if arr.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 rows (samples) for a covariance; got {arr.shape[0]}")
    if np.iscomplexobj(arr):
        raise ValueError(f"{name} must be real numbers; got dtype {arr.dtype} (complex features are not cast "
                         "silently; pass the real part explicitly if that is what you mean)")
    return arr, None, None, arr.shape[0]


def _scaled_side(x: np.ndarray | None, mu: Any, cov: Any, n: int | None, e: int,
                 name: str) -> tuple[Any, Any, int | None]:
    """(mean, cov, n) of one side in units of ``2^-e`` (statistics of ``2^e x``)."""
    if x is None:
        if e == 0:
            return mu, cov, n
        mu_a, cov_a = to_numpy(mu), to_numpy(cov)
        if not (np.issubdtype(mu_a.dtype, np.floating) and np.issubdtype(cov_a.dtype, np.floating)):
            return mu, cov, n  # validation names the problem
        with np.errstate(all="ignore"):
            return np.ldexp(mu_a.astype(np.float64), e), np.ldexp(cov_a.astype(np.float64), 2 * e), n
    if e:
        x = np.ldexp(x.astype(np.float64), e)
    stats = gaussian_stats(x, name=name)  # _raw_side checked the shape (N >= 2, 2-D)
    return stats.mean, stats.cov, stats.n


# ============================================================================ driver
def _frechet(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any, *, method: str, return_diagnostics: bool, eps: float,
             n: tuple[int | None, int | None], names: tuple[str, str, str, str], reference_check: bool | None,
             warn: bool, ref_inputs: tuple[Any, ...] | None, scale_exp: int = 0) -> float | FrechetResult:
    _check_method(method)
    raw = (to_numpy(mu1), to_numpy(sigma1), to_numpy(mu2), to_numpy(sigma2))
    m1 = _validate_mean(raw[0], names[0])
    c1 = _validate_cov(raw[1], names[1])
    m2 = _validate_mean(raw[2], names[2])
    c2 = _validate_cov(raw[3], names[3])
    d = m1.shape[0]
    for m, c, mn, cn in ((m1, c1, names[0], names[1]), (m2, c2, names[2], names[3])):
        if c.shape[0] != m.shape[0]:
            raise ValueError(f"{mn} has {m.shape[0]} entries but {cn} is {c.shape[0]}x{c.shape[0]}")
    if m2.shape[0] != d:
        raise ValueError(f"dimension mismatch: side 1 has D = {d} features, side 2 has D = {m2.shape[0]}")

    exact = _exact(m1, c1, m2, c2, names=(names[1], names[3]), force_procrustes=(method == "procrustes"))
    if scale_exp:
        scaled, exact = exact, _unscale(exact, scale_exp)
        if not math.isfinite(exact["value"]):
            raise _overflow_error(_log10_magnitude(scaled["value"], -2 * scale_exp))
    if not math.isfinite(exact["value"]):
        raise _overflow_error(None)
    ref = None
    if _runs_reference(method, reference_check, return_diagnostics):
        ref = _reference(*(ref_inputs if ref_inputs is not None else raw), eps=eps)

    if method == "reference":
        assert ref is not None  # _runs_reference is always true for the reference method
        value = ref["value"]
    else:
        value = exact["value"]
    if not return_diagnostics and not warn:
        return float(value)

    diag = _diagnostics(exact, ref, c1, c2, n, d, full=return_diagnostics, unit_exp=-2 * scale_exp)
    messages = _warnings(exact, ref, diag, n, d, method)
    if warn:
        for msg in messages:
            warnings.warn(msg, FrechetWarning, stacklevel=3)
    if not return_diagnostics:
        return float(value)
    return FrechetResult(value=float(value), method=method, exact_value=float(exact["value"]),
                         reference_value=None if ref is None else float(ref["value"]),
                         diagnostics=diag, warnings=messages)


def _log10_magnitude(x: float, e2: int) -> float:
    """``log10(x * 2^e2)`` for finite positive ``x`` without forming the product."""
    return math.log10(x) + e2 * math.log10(2.0) if x > 0 else -math.inf


def _overflow_error(log10_value: float | None) -> ValueError:
    about = "" if log10_value is None else \
        f" (about {10 ** (log10_value % 1):.3g}e+{math.floor(log10_value)})"
    return ValueError(
        f"the Fréchet distance of these statistics overflows float64{about}: its largest finite value is 1.8e+308. "
        "FID scales with the square of the features: divide the features by a common factor s (means by s, "
        "covariances by s^2) and multiply the result by s^2 yourself")


def _unscale(exact: dict[str, Any], e: int) -> dict[str, Any]:
    """The exact result of statistics of ``2^e x`` in the units of ``x`` (a power of two: exact)."""
    out = dict(exact)
    with np.errstate(all="ignore"):
        for key in ("value", "mean_term", "bures", "error_bound"):
            out[key] = float(np.ldexp(exact[key], -2 * e))
        out["trace"] = tuple(float(np.ldexp(t, -2 * e)) for t in exact["trace"])
    return out


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown FID method {method!r}; choose one of {', '.join(METHODS)}")


def _runs_reference(method: str, reference_check: bool | None, return_diagnostics: bool) -> bool:
    return method == "reference" or (return_diagnostics if reference_check is None else bool(reference_check))


def _reference_stats(x: np.ndarray | None, mu: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Statistics the reference's way: mean in the input's float dtype (float32 stays float32), np.cov."""
    if x is None:
        return mu, cov
    x = x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)
    return np.mean(x, axis=0), np.cov(x, rowvar=False)


# ============================================================================ validation
def _validate_mean(mu: np.ndarray, name: str) -> np.ndarray:
    mu = np.atleast_1d(mu)
    if mu.ndim != 1:
        raise ValueError(f"{name} must be a 1-D mean vector (D,); got shape {mu.shape}")
    if not np.issubdtype(mu.dtype, np.number) or np.iscomplexobj(mu):
        raise ValueError(f"{name} must be real numbers; got dtype {mu.dtype}")
    mu = mu.astype(np.float64, copy=False)
    if not np.isfinite(mu).all():
        bad = np.flatnonzero(~np.isfinite(mu))
        raise ValueError(f"{name} contains NaN or Inf at entry {', '.join(map(str, bad[:10].tolist()))}"
                         f"{' and more' if len(bad) > 10 else ''}; recompute the statistics from finite features")
    return mu


def _validate_cov(sigma: np.ndarray, name: str) -> np.ndarray:
    s = np.atleast_2d(sigma)
    if s.ndim != 2 or s.shape[0] != s.shape[1]:
        raise ValueError(f"{name} must be a square (D, D) covariance matrix; got shape {s.shape}")
    if not np.issubdtype(s.dtype, np.number) or np.iscomplexobj(s):
        raise ValueError(f"{name} must be real numbers; got dtype {s.dtype}")
    s = s.astype(np.float64, copy=False)
    if not np.isfinite(s).all():
        rows = nonfinite_rows(s)
        raise ValueError(f"{name} contains NaN or Inf in {len(rows)} row(s): row index "
                         f"{', '.join(map(str, rows[:10].tolist()))}{' and more' if len(rows) > 10 else ''}. "
                         "The features it came from contain NaN/Inf; remove those samples and recompute it.")
    if not np.array_equal(s, s.T):
        scale = float(np.abs(s).max())
        asym = float(np.abs(s - s.T).max())
        if asym > SYMMETRY_RTOL * scale:
            i, j = np.unravel_index(int(np.argmax(np.abs(s - s.T))), s.shape)
            raise ValueError(
                f"{name} is not symmetric: |S[{i},{j}] - S[{j},{i}]| = {asym:.3g}, {asym / scale:.2g} of its largest "
                f"entry (rounding allows {SYMMETRY_RTOL:g}). A covariance matrix is symmetric; check that you passed "
                "a covariance (numpy.cov(x, rowvar=False)), not a data or cross-covariance matrix.")
        s = 0.5 * s + 0.5 * s.T
    return s


# ============================================================================ factorization
@dataclass
class _Factor:
    L: np.ndarray          # (D, rank) with S ~= L @ L.T
    rank: int
    trace: float
    norm2: float           # estimate of ||S||_2


def _factor(s: np.ndarray, name: str, unit: float = 1.0) -> _Factor:
    """Factor ``L`` (D x rank) of a PSD matrix with ``S ~= L L^T``.

    Cholesky when ``S`` is safely positive definite; otherwise pivoted Cholesky (rank-revealing, LAPACK
    ``dpstrf``), whose left-over Schur complement is replaced by its projection on the PSD cone (its positive
    eigen-part joins the factor). Raises ``ValueError`` when ``S`` has a negative eigenvalue beyond rounding
    (``PSD_RTOL`` of its largest diagonal entry). ``unit`` converts eigenvalues back for messages.
    """
    d = s.shape[0]
    diag = np.diag(s)
    trace = float(diag.sum())
    maxdiag = float(diag.max())
    if maxdiag <= 0.0:
        if np.any(s != 0.0):
            _not_psd(s, name, unit)
        return _Factor(np.zeros((d, 0)), 0, 0.0, 0.0)
    tol = d * EPS * maxdiag  # LAPACK's default rank tolerance for pivoted Cholesky
    try:
        L = np.linalg.cholesky(s)
        if np.min(np.diag(L)) ** 2 > tol:
            return _Factor(L, d, trace, _norm2(s))
    except np.linalg.LinAlgError:
        pass
    c, piv, rank, info = lapack.dpstrf(s, lower=1, tol=tol)
    if info < 0:  # pragma: no cover - argument error inside LAPACK
        raise RuntimeError(f"LAPACK dpstrf failed on {name} (info={info})")
    rank = int(rank)
    order = piv[:d] - 1
    L = np.zeros((d, rank))
    L[order] = np.tril(c[:, :rank])
    rest = order[rank:]
    if rest.size:
        lr = L[rest]
        schur = s[np.ix_(rest, rest)] - lr @ lr.T
        if np.abs(schur).max() > 2 * tol + 8 * (rank + 2) * EPS * maxdiag:  # more than rounding: look closer
            w, v = np.linalg.eigh(0.5 * (schur + schur.T))
            if w[0] < -PSD_RTOL * maxdiag:
                _not_psd(s, name, unit)
            keep = w > tol
            if keep.any():
                extra = np.zeros((d, int(keep.sum())))
                extra[rest] = v[:, keep] * np.sqrt(w[keep])
                L = np.hstack([L, extra])
    return _Factor(L, L.shape[1], trace, _norm2(s))


def _not_psd(s: np.ndarray, name: str, unit: float = 1.0) -> None:
    w = np.linalg.eigvalsh(s) * unit
    raise ValueError(
        f"{name} is not positive semidefinite: its smallest eigenvalue is {w[0]:.3g} while the largest is "
        f"{w[-1]:.3g} (beyond rounding). A covariance matrix has no negative eigenvalues; recompute it with "
        "numpy.cov(x, rowvar=False) in float64, or check that it is not a difference of covariances."
    )


def _norm2(s: np.ndarray, iters: int = 12) -> float:
    """Largest eigenvalue of a PSD matrix by power iteration (an estimate used only for error bounds)."""
    x = np.sqrt(np.abs(np.diag(s))) + 1.0 / math.sqrt(s.shape[0])
    lam = 0.0
    for _ in range(iters):
        y = s @ x
        ny = float(np.linalg.norm(y))
        if ny == 0.0:
            return 0.0
        lam = float(x @ y) / float(x @ x)
        x = y / ny
    return max(lam, float(np.abs(np.diag(s)).max()))


# ============================================================================ exact value
def _exact(m1: np.ndarray, c1: np.ndarray, m2: np.ndarray, c2: np.ndarray, *, names: tuple[str, str],
           force_procrustes: bool) -> dict[str, Any]:
    mean_term = _squared_norm(m1 - m2)
    if np.array_equal(c1, c2):
        f1 = _factor(c1, names[0])  # still validates
        return {"value": mean_term, "mean_term": mean_term, "bures": 0.0, "route": "identical",
                "error_bound": 0.0, "rank": (f1.rank, f1.rank), "trace": (f1.trace, f1.trace)}
    # scale both covariances by the same power of two (exact) so that nothing overflows or underflows
    top = max(float(np.diag(c1).max()), float(np.diag(c2).max()), 0.0)
    shift = 0 if top == 0.0 else max(-math.frexp(top)[1], -1022)  # 2^-shift stays representable
    if shift:
        c1, c2 = np.ldexp(c1, shift), np.ldexp(c2, shift)
    unit = math.ldexp(1.0, -shift)
    f1, f2 = _factor(c1, names[0], unit), _factor(c2, names[1], unit)
    # canonical order (lower rank first) makes the result independent of the argument order
    fa, fb, _sa, sb = (f1, f2, c1, c2) if _first(f1, c1, f2, c2) else (f2, f1, c2, c1)
    route = "procrustes"
    bures = bound = math.nan
    if not force_procrustes:
        for name in ("eigen", "nuclear"):
            if name == "eigen" and not _eigen_route_promising(fa, fb):
                continue
            bures, bound = _bures_eigen(fa, sb, fb) if name == "eigen" else _bures_nuclear(fa, fb)
            # compared in the caller's units (no ldexp of the mean term, which could overflow)
            if bound * unit <= EIGEN_ROUTE_RTOL * (max(bures, 0.0) * unit + mean_term):
                route = name
                break
    if route == "procrustes":
        bures, bound = _bures_procrustes(fa, fb)
    bures = max(bures, 0.0)
    bures *= unit
    return {"value": mean_term + bures, "mean_term": mean_term, "bures": bures, "route": route,
            "error_bound": bound * unit, "rank": (f1.rank, f2.rank),
            "trace": (f1.trace * unit, f2.trace * unit)}


def _squared_norm(v: np.ndarray) -> float:
    """``|v|^2`` without overflow or underflow of the squares (a power of two is factored out: exact)."""
    top = float(np.max(np.abs(v))) if v.size else 0.0
    if top == 0.0:
        return 0.0
    k = math.frexp(top)[1]
    u = np.ldexp(v, -k)
    with np.errstate(over="ignore"):
        return float(np.ldexp(float(u @ u), 2 * k))


def _first(f1: _Factor, c1: np.ndarray, f2: _Factor, c2: np.ndarray) -> bool:
    if (f1.rank, f1.trace) != (f2.rank, f2.trace):
        return (f1.rank, f1.trace) < (f2.rank, f2.trace)
    frob1, frob2 = float(np.sum(c1 * c1)), float(np.sum(c2 * c2))  # only on a tie (rare): two passes
    if frob1 != frob2:
        return frob1 < frob2
    i = int(np.argmax(c1.ravel() != c2.ravel()))
    return bool(c1.ravel()[i] < c2.ravel()[i])


def _bures_eigen(fa: _Factor, sb: np.ndarray, fb: _Factor) -> tuple[float, float]:
    """``tr Sa + tr Sb - 2 sum sqrt(eig(La^T Sb La))`` and a first-order worst-case bound on its error."""
    L = fa.L
    if fa.rank == 0:
        return fb.trace, 4 * EPS * fb.trace
    C = L.T @ (sb @ L)
    C = 0.5 * (C + C.T)
    mu = np.linalg.eigvalsh(C)
    mu = np.maximum(mu, 0.0)
    root = np.sqrt(mu)
    eta = 8 * EPS * max(fa.norm2 * fb.norm2, float(mu[-1]))
    lo = np.sqrt(np.maximum(mu - eta, 0.0))
    hi = np.sqrt(mu + eta)
    err_roots = float(np.maximum(root - lo, hi - root).sum())
    total = fa.trace + fb.trace
    s = float(root.sum())
    value = total - 2.0 * s
    bound = 2.0 * err_roots + 4 * EPS * (total + 2.0 * s) * max(1.0, math.log2(max(len(mu), 2)))
    return value, bound


#: relative error bound (first order, normwise) above which the eigenvalue route is not even tried: it is
#: predicted from the Cholesky pivots, and a decaying spectrum (tiny eigenvalues of ``L^T S L``, whose square
#: roots are ill-conditioned) fails it; the nuclear-norm route is then taken directly
EIGEN_ROUTE_PREDICT = 1e-13


def _eigen_route_promising(fa: _Factor, fb: _Factor) -> bool:
    """Cheap prediction (not a certificate) of whether the eigenvalue route's bound will pass.

    The smallest squared Cholesky pivot over-estimates the smallest eigenvalue; the eigenvalue route's error
    is about ``sum_i eta / (2 sqrt(mu_i))`` with ``eta = 8 eps ||Sa|| ||Sb||`` and ``mu_i >= lam_min(Sa)
    lam_min(Sb)``; it is compared with ``sqrt(tr Sa tr Sb)``, the scale of the value when the sides differ.
    """
    if fa.rank == 0 or fb.rank == 0:
        return True
    pa = float(np.min(np.abs(np.diag(fa.L[:fa.rank] if fa.L.shape[0] == fa.rank else _pivots(fa)))))
    pb = float(np.min(np.abs(np.diag(fb.L[:fb.rank] if fb.L.shape[0] == fb.rank else _pivots(fb)))))
    if pa == 0.0 or pb == 0.0:
        return False
    eta = 8 * EPS * fa.norm2 * fb.norm2
    predicted = fa.rank * eta / (2.0 * pa * pb)
    return predicted <= EIGEN_ROUTE_PREDICT * math.sqrt(fa.trace * fb.trace)


def _pivots(f: _Factor) -> np.ndarray:
    """Largest entry of each column of a (pivoted, thin) factor: its pivot up to rounding."""
    return np.asarray(np.abs(f.L).max(axis=0))


def _bures_nuclear(fa: _Factor, fb: _Factor) -> tuple[float, float]:
    """``||A||_F^2 + ||B||_F^2 - 2 ||B^T A||_*`` (singular values only) and a first-order error bound.

    The singular values of ``M = B^T A`` are the square roots of the eigenvalues of ``A^T S_b A``, computed
    without squaring: a backward-stable SVD perturbs each by at most ``eps ||M||``-ish, not ``sqrt(eps)`` as
    square roots of tiny computed eigenvalues are. Bound (first order, each term worst case):
    forming ``M``: ``|dM| <= D eps |B|^T |A|`` so ``||dM||_* <= D eps sqrt(r) ||A||_F ||B||_F``;
    the SVD: normwise backward error ``||F||_F <= 4 sqrt(r) eps ||M||_F`` (Householder bidiagonalization; the
    worst-case constant ``r^1.5`` is known to be pessimistic by about ``sqrt(r)``, and observed errors are
    orders of magnitude below this bound) and ``sum_i |d sigma_i| <= ||F||_* <= sqrt(r) ||F||_F``
    (Mirsky); plus the summations and the final subtraction.
    """
    A, B = fa.L, fb.L
    if fa.rank == 0 or fb.rank == 0:
        v = float(np.sum(A * A) + np.sum(B * B))
        return v, 4 * EPS * v
    d = A.shape[0]
    r = min(fa.rank, fb.rank)
    M = B.T @ A
    nm = float(np.sqrt(np.einsum("ij,ij->i", M, M).sum()))
    s = float(_singular_values(M, lambda: B.T @ A).sum())  # overwrites M
    ta = float(np.einsum("ij,ij->i", A, A).sum())
    tb = float(np.einsum("ij,ij->i", B, B).sum())
    total = ta + tb
    value = total - 2.0 * s
    form = d * EPS * math.sqrt(r) * math.sqrt(ta * tb)
    svd = 4.0 * r * EPS * nm
    sums = (max(fa.rank, fb.rank) + 64) * EPS * total + r * EPS * s + 4 * EPS * (total + 2.0 * s)
    return value, 2.0 * (form + svd) + sums


def _singular_values(m: np.ndarray, rebuild: Callable[[], np.ndarray]) -> np.ndarray:
    """Singular values of ``m`` (LAPACK ``dgesdd``, values only), overwriting ``m``: its transpose, which has
    the same singular values, is the Fortran-ordered view LAPACK works on without a copy. Should ``dgesdd``
    not converge, ``rebuild()`` forms ``m`` again for numpy's SVD (which raises ``LinAlgError`` if it fails
    too)."""
    _, sv, _, info = lapack.dgesdd(m.T, compute_uv=0, overwrite_a=1)
    if info != 0:  # pragma: no cover - LAPACK convergence failure (not seen on finite input)
        return np.asarray(np.linalg.svd(rebuild(), compute_uv=False))
    return np.asarray(sv)


def _bures_procrustes(fa: _Factor, fb: _Factor) -> tuple[float, float]:
    """``min_U ||A - B U||_F^2`` as the sum of squares of the Procrustes residual, and an error estimate."""
    A, B = fa.L, fb.L
    if fa.rank == 0 or fb.rank == 0:
        v = float(np.sum(A * A) + np.sum(B * B))
        return v, 4 * EPS * v
    M = B.T @ A
    W, _, Zt = np.linalg.svd(M, full_matrices=True)
    AZ = A @ Zt.T
    BW = B @ W
    m = min(fa.rank, fb.rank)
    R = AZ[:, :m] - BW[:, :m]
    value = float(np.sum(R * R) + np.sum(AZ[:, m:] ** 2) + np.sum(BW[:, m:] ** 2))
    d = A.shape[0]
    delta = 4 * math.sqrt(d) * EPS * (math.sqrt(fa.trace) + math.sqrt(fb.trace)) * math.sqrt(max(fa.rank, fb.rank))
    return value, 2.0 * math.sqrt(value) * delta + delta * delta


# ============================================================================ reference route
def _sqrtm(a: np.ndarray) -> np.ndarray:
    """``scipy.linalg.sqrtm`` on any scipy: no printing (old ``disp=True``), no removed argument (>= 1.18)."""
    if _SQRTM_NEEDS_DISP_FALSE:
        result: np.ndarray = sla.sqrtm(a, disp=False)[0]
        return result
    out = sla.sqrtm(a)
    root: np.ndarray = out[0] if isinstance(out, tuple) else out
    return root


def _sqrtm_needs_disp_false() -> bool:
    try:
        p = inspect.signature(sla.sqrtm).parameters.get("disp")
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return False
    return p is not None and p.default is True  # scipy < 1.16: disp=True prints; pass disp=False


_SQRTM_NEEDS_DISP_FALSE = _sqrtm_needs_disp_false()


def _reference(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any, *, eps: float) -> dict[str, Any]:
    """The reference computation, step by step, recording where it would fail instead of failing."""
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    out: dict[str, Any] = {"nonfinite": False, "used_eps_retry": False, "nonfinite_after_retry": False,
                           "complex": False, "max_imag": 0.0, "max_imag_diag": 0.0, "would_raise": False,
                           "error": None, "value": math.nan}
    diff = mu1 - mu2
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            covmean = _sqrtm(sigma1.dot(sigma2))
            if not np.isfinite(covmean).all():
                out["nonfinite"] = out["used_eps_retry"] = True
                offset = np.eye(sigma1.shape[0]) * eps
                covmean = _sqrtm((sigma1 + offset).dot(sigma2 + offset))
                out["nonfinite_after_retry"] = not bool(np.isfinite(covmean).all())
        except (np.linalg.LinAlgError, ValueError) as exc:
            out["error"] = f"scipy.linalg.sqrtm failed: {exc}"
            return out
        if np.iscomplexobj(covmean):
            out["complex"] = True
            imag = np.abs(covmean.imag)
            out["max_imag"] = float(np.nanmax(imag)) if imag.size else 0.0
            out["max_imag_diag"] = float(np.nanmax(np.abs(np.diagonal(covmean).imag)))
            if not np.allclose(np.diagonal(covmean).imag, 0, atol=REFERENCE_IMAG_ATOL):
                out["would_raise"] = True
                out["error"] = f"ValueError: Imaginary component {out['max_imag']}"
            covmean = covmean.real
        tr_covmean = np.trace(covmean)
        out["value"] = float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean)
    return out


# ============================================================================ diagnostics and warnings
def _diagnostics(exact: dict[str, Any], ref: dict[str, Any] | None, c1: np.ndarray, c2: np.ndarray,
                 n: tuple[int | None, int | None], d: int, *, full: bool, unit_exp: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {
        "dim": d, "n1": n[0], "n2": n[1],
        "exact_value": exact["value"], "mean_term": exact["mean_term"], "trace_term": exact["bures"],
        "trace1": exact["trace"][0], "trace2": exact["trace"][1],
        "route": exact["route"], "error_bound": exact["error_bound"],
        "rank1": exact["rank"][0], "rank2": exact["rank"][1],
        "zero_variance_features1": int(np.count_nonzero(np.diag(c1) == 0)),
        "zero_variance_features2": int(np.count_nonzero(np.diag(c2) == 0)),
    }
    if full:
        for k, c in (("1", c1), ("2", c2)):
            w = np.linalg.eigvalsh(c)
            top = float(w[-1]) if w.size else 0.0
            tol = d * EPS * max(top, 0.0)
            out[f"numerical_rank{k}"] = int(np.count_nonzero(w > tol))
            out[f"condition_number{k}"] = float(top / w[0]) if w[0] > tol else math.inf
            if unit_exp:  # eigenvalues in the caller's units (the statistics were rescaled by a power of two)
                with np.errstate(all="ignore"):
                    w = np.ldexp(w, unit_exp)
                top = float(w[-1]) if w.size else 0.0
            out[f"smallest_eigenvalues{k}"] = [float(v) for v in w[:5]]
            out[f"largest_eigenvalue{k}"] = top
    if ref is not None:
        out.update({
            "reference_value": ref["value"],
            "reference_abs_diff": ref["value"] - exact["value"],
            "reference_nonfinite": ref["nonfinite"],
            "reference_used_eps_retry": ref["used_eps_retry"],
            "reference_nonfinite_after_retry": ref["nonfinite_after_retry"],
            "reference_complex": ref["complex"],
            "reference_max_imag": ref["max_imag"],
            "reference_max_imag_diag": ref["max_imag_diag"],
            "reference_would_raise": ref["would_raise"],
            "reference_error": ref["error"],
        })
    return out


def reference_agrees(reference: float, exact: float) -> bool:
    """Whether the reference route's value is within rounding of the exact one
    (``|ref - exact| <= REFERENCE_AGREEMENT_RTOL |exact| + REFERENCE_AGREEMENT_ATOL``)."""
    return bool(abs(reference - exact) <= REFERENCE_AGREEMENT_RTOL * abs(exact) + REFERENCE_AGREEMENT_ATOL)


def _warnings(exact: dict[str, Any], ref: dict[str, Any] | None, diag: dict[str, Any],
              n: tuple[int | None, int | None], d: int, method: str = "exact") -> list[str]:
    msgs: list[str] = []
    for k, nk in (("1", n[0]), ("2", n[1])):
        if nk is not None:
            if nk <= d:
                msgs.append(
                    f"side {k}: {nk:,} samples for {d}-d features: the covariance is singular (rank <= {nk - 1}) and "
                    f"FID is dominated by estimation noise and biased upward; use many more samples than "
                    f"dimensions and compare FID at several N.")
            elif nk < NOISY_SAMPLES_PER_DIM * d:
                msgs.append(
                    f"side {k}: {nk:,} samples for {d}-d features: the covariance estimate is noisy and FID is "
                    f"biased upward; compare FID at several N (e.g. motioneval.fid_infinity).")
        elif diag[f"rank{k}"] < d:
            msgs.append(f"side {k}: the covariance is singular (numerical rank {diag[f'rank{k}']} of {d}); FID "
                        f"then depends on directions in which one side has no variance at all.")
        z = diag[f"zero_variance_features{k}"]
        if z:
            msgs.append(f"side {k}: {z} feature(s) have zero variance (constant columns); check for collapsed "
                        f"or padded embeddings.")
    if ref is not None:
        ex = exact["value"]
        if ref["error"] and not ref["would_raise"]:
            msgs.append(f"the reference implementation fails here ({ref['error']}); the exact FID is {ex:.6g}.")
        if ref["would_raise"]:
            msgs.append(
                f"the reference implementation would raise 'Imaginary component {ref['max_imag']:.3g}' here (its "
                f"matrix square root has imaginary diagonal parts up to {ref['max_imag_diag']:.3g} > "
                f"{REFERENCE_IMAG_ATOL:g}); the exact FID is {ex:.6g}.")
        # with the exact method, a reference value within rounding of the exact one is noise, not news (a complex
        # square root or a -1e-14 for identical inputs stays in the diagnostics without a warning)
        noteworthy = method == "reference" or not reference_agrees(ref["value"], ex)
        if ref["used_eps_retry"]:
            msgs.append(
                f"the reference's matrix square root was not finite; it retried with a small offset added to both "
                f"diagonals{' and still failed' if ref['nonfinite_after_retry'] else ''}; its value is "
                f"{ref['value']:.6g} against the exact {ex:.6g}.")
        elif ref["complex"] and not ref["would_raise"] and ref["max_imag"] > 0 and noteworthy:
            msgs.append(f"the reference's matrix square root came back complex (imaginary parts up to "
                        f"{ref['max_imag']:.2g}) and it kept the real part; its value is {ref['value']:.10g} against "
                        f"the exact {ex:.10g}.")
        if math.isfinite(ref["value"]) and ref["value"] < 0 and noteworthy:
            msgs.append(f"the reference value is negative ({ref['value']:.3g}), which a distance cannot be.")
    return msgs
