"""k-nearest-neighbour manifold metrics on evaluator embeddings. Not in the reference.

Each sample ``x`` of a set ``S`` gets a ball ``B(x, r_k(x))`` whose radius ``r_k(x)`` is the distance to its
``k``-th nearest neighbour in ``S`` other than itself. Balls are closed (a point at distance exactly
``r_k`` is inside). ``X`` = real (ground-truth) embeddings, ``Y`` = generated ones, ``N = |X|``, ``M = |Y|``.

- Precision / recall (Kynkäänniemi et al., NeurIPS 2019), default ``k = 3``:
  ``precision = (1/M) #{j : Y_j in union_i B(X_i, r_k(X_i))}`` (fidelity) and
  ``recall = (1/N) #{i : X_i in union_j B(Y_j, r_k(Y_j))}`` (coverage of the real manifold).
- Density / coverage (Naeem et al., ICML 2020), default ``k = 5``, real balls only:
  ``density = (1/(k M)) sum_j #{i : Y_j in B(X_i, r_k(X_i))}`` (can exceed 1) and
  ``coverage = (1/N) #{i : some Y_j in B(X_i, r_k(X_i))}``.

Distances are Euclidean, float64, compared as squares from the expanded form (clamped at 0), in row
blocks of bounded memory. All four metrics are scale-invariant. When some row's largest ``|value|`` lies
outside ``2**-200 .. 2**200`` (where the squares would overflow to inf, making every point "inside", or
turn subnormal), every row is taken at unit scale (times an exact power of two ``2**-e_i``), the expanded
form of each pair is assembled at the larger row's scale, and each comparison is made at the scale of
the row whose ball is tested (a zero row counts as scale 1). Scaling by powers of two is exact, so this
changes no comparison that the ordinary route gets right, and no row is crushed by a far larger one;
ordinary inputs are compared exactly as before.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

from motioneval._arrays import (
    FLOAT64_WINDOW,
    ZERO_ROW_EXPONENT,
    as_2d_features,
    row_exponents,
)
from motioneval._checks import check_positive_int

_BLOCK_BYTES = 32 << 20


class _Rows(NamedTuple):
    """A validated set: ``x`` rows (at unit scale when ``e`` is given), per-row exponents ``e`` (None: the
    ordinary route) and ``ref``, the exponent at which this set's squared distances are compared."""

    x: np.ndarray
    e: np.ndarray | None
    ref: np.ndarray | None


class PrecisionRecall(NamedTuple):
    precision: float
    recall: float


class DensityCoverage(NamedTuple):
    density: float
    coverage: float


def precision_recall(real_emb: Any, gen_emb: Any, *, k: int = 3) -> PrecisionRecall:
    """Improved precision and recall (Kynkäänniemi et al. 2019) with ``k``-NN balls (module docstring)."""
    real, gen = _validate(real_emb, gen_emb, k)
    real_r2 = _knn_sq_radii(real, k)
    gen_r2 = _knn_sq_radii(gen, k)
    precision = _fraction_inside_any(gen, real, real_r2)
    recall = _fraction_inside_any(real, gen, gen_r2)
    return PrecisionRecall(precision, recall)


def density_coverage(real_emb: Any, gen_emb: Any, *, k: int = 5) -> DensityCoverage:
    """Density and coverage (Naeem et al. 2020) with ``k``-NN balls around the real samples (module docstring)."""
    real, gen = _validate(real_emb, gen_emb, k, need_gen_neighbours=False)
    real_r2 = _knn_sq_radii(real, k)
    inside_count = 0
    for _, d2 in _sq_distance_blocks(gen, real, at="b"):
        inside_count += int(np.count_nonzero(d2 <= real_r2[None, :]))
    covered = np.empty(real.x.shape[0], dtype=bool)
    for start, d2 in _sq_distance_blocks(real, gen, at="a"):
        covered[start:start + d2.shape[0]] = d2.min(axis=1) <= real_r2[start:start + d2.shape[0]]
    density = inside_count / (k * gen.x.shape[0])
    return DensityCoverage(float(density), float(np.mean(covered)))


def _validate(real_emb: Any, gen_emb: Any, k: int, *, need_gen_neighbours: bool = True) -> tuple[_Rows, _Rows]:
    real = as_2d_features(real_emb, "real_emb")
    gen = as_2d_features(gen_emb, "gen_emb")
    if real.shape[1] != gen.shape[1]:
        raise ValueError(f"real_emb and gen_emb must have the same dimension; got {real.shape} and {gen.shape}")
    check_positive_int(k, "k", what="a positive int")
    smallest = min(real.shape[0], gen.shape[0]) if need_gen_neighbours else real.shape[0]
    if k >= smallest:
        raise ValueError(f"k={k} nearest neighbours need more than k samples per set; the smaller set has {smallest}")
    exps = [row_exponents(real), row_exponents(gen)]
    low, high = FLOAT64_WINDOW
    if all(((e == ZERO_ROW_EXPONENT) | ((e > low) & (e <= high))).all() for e in exps):
        return _Rows(real, None, None), _Rows(gen, None, None)
    out = []
    for x, e in zip((real, gen), exps):
        unit = np.ldexp(x, np.where(e == ZERO_ROW_EXPONENT, 0, -e)[:, None])
        out.append(_Rows(unit, e, np.where(e == ZERO_ROW_EXPONENT, 0, e).astype(np.int32)))
    return out[0], out[1]


def _sq_distance_blocks(a: _Rows, b: _Rows, *, at: str) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(start, |a[start:stop, None] - b[None]|^2)`` blocks, expanded form clamped at 0, expressed at
    the scale ``4**ref`` of the rows of ``a`` (``at="a"``) or of the columns ``b`` (``at="b"``)."""
    b_sq = np.einsum("ij,ij->i", b.x, b.x)
    rows = max(1, _BLOCK_BYTES // (8 * max(1, b.x.shape[0])))
    for start in range(0, a.x.shape[0], rows):
        block = a.x[start:start + rows]
        d2 = block @ b.x.T
        d2 *= -2.0
        if a.e is None or b.e is None:  # the ordinary route
            d2 += np.einsum("ij,ij->i", block, block)[:, None]
            d2 += b_sq[None, :]
            np.maximum(d2, 0.0, out=d2)
            yield start, d2
            continue
        ea, eb = a.e[start:start + rows, None], b.e[None, :]
        c = np.maximum(ea, eb)  # each pair at the larger row's scale
        ref = a.ref[start:start + rows, None] if at == "a" else b.ref[None, :]  # type: ignore[index]
        with np.errstate(under="ignore", over="ignore"):
            d2 = np.ldexp(d2, ea + eb - 2 * c)
            d2 += np.ldexp(np.einsum("ij,ij->i", block, block)[:, None], 2 * (ea - c))
            d2 += np.ldexp(b_sq[None, :], 2 * (eb - c))
            np.maximum(d2, 0.0, out=d2)
            d2 = np.ldexp(d2, 2 * (np.where(c == ZERO_ROW_EXPONENT, ref, c) - ref))
        yield start, d2


def _knn_sq_radii(x: _Rows, k: int) -> np.ndarray:
    """Squared distance from each row to its ``k``-th nearest other row of ``x`` (at the row's own scale)."""
    radii = np.empty(x.x.shape[0], dtype=np.float64)
    for start, d2 in _sq_distance_blocks(x, x, at="a"):
        rows = np.arange(d2.shape[0])
        d2[rows, start + rows] = np.inf  # exclude the point itself (duplicates still count as neighbours)
        radii[start:start + d2.shape[0]] = np.partition(d2, k - 1, axis=1)[:, k - 1]
    return radii


def _fraction_inside_any(points: _Rows, centres: _Rows, sq_radii: np.ndarray) -> float:
    """Fraction of ``points`` inside at least one closed ball ``B(centres_i, sqrt(sq_radii_i))``."""
    inside = 0
    for _, d2 in _sq_distance_blocks(points, centres, at="b"):
        inside += int(np.count_nonzero((d2 <= sq_radii[None, :]).any(axis=1)))
    result: float = inside / points.x.shape[0]
    return result
