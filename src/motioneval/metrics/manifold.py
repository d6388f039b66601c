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
blocks of bounded memory.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

from motioneval._arrays import as_2d_features

_BLOCK_BYTES = 32 << 20


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
    for _, d2 in _sq_distance_blocks(gen, real):
        inside_count += int(np.count_nonzero(d2 <= real_r2[None, :]))
    covered = np.empty(real.shape[0], dtype=bool)
    for start, d2 in _sq_distance_blocks(real, gen):
        covered[start:start + d2.shape[0]] = d2.min(axis=1) <= real_r2[start:start + d2.shape[0]]
    density = inside_count / (k * gen.shape[0])
    return DensityCoverage(float(density), float(np.mean(covered)))


def _validate(real_emb: Any, gen_emb: Any, k: int, *, need_gen_neighbours: bool = True
              ) -> tuple[np.ndarray, np.ndarray]:
    real = as_2d_features(real_emb, "real_emb")
    gen = as_2d_features(gen_emb, "gen_emb")
    if real.shape[1] != gen.shape[1]:
        raise ValueError(f"real_emb and gen_emb must have the same dimension; got {real.shape} and {gen.shape}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive int; got {k!r}")
    smallest = min(real.shape[0], gen.shape[0]) if need_gen_neighbours else real.shape[0]
    if k >= smallest:
        raise ValueError(f"k={k} nearest neighbours need more than k samples per set; the smaller set has {smallest}")
    return real, gen


def _sq_distance_blocks(a: np.ndarray, b: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(start, |a[start:stop, None] - b[None]|^2)`` blocks, expanded form clamped at 0."""
    b_sq = np.einsum("ij,ij->i", b, b)
    rows = max(1, _BLOCK_BYTES // (8 * max(1, b.shape[0])))
    for start in range(0, a.shape[0], rows):
        block = a[start:start + rows]
        d2 = block @ b.T
        d2 *= -2.0
        d2 += np.einsum("ij,ij->i", block, block)[:, None]
        d2 += b_sq[None, :]
        np.maximum(d2, 0.0, out=d2)
        yield start, d2


def _knn_sq_radii(x: np.ndarray, k: int) -> np.ndarray:
    """Squared distance from each row to its ``k``-th nearest other row of ``x``."""
    radii = np.empty(x.shape[0], dtype=np.float64)
    for start, d2 in _sq_distance_blocks(x, x):
        rows = np.arange(d2.shape[0])
        d2[rows, start + rows] = np.inf  # exclude the point itself (duplicates still count as neighbours)
        radii[start:start + d2.shape[0]] = np.partition(d2, k - 1, axis=1)[:, k - 1]
    return radii


def _fraction_inside_any(points: np.ndarray, centres: np.ndarray, sq_radii: np.ndarray) -> float:
    """Fraction of ``points`` inside at least one closed ball ``B(centres_i, sqrt(sq_radii_i))``."""
    inside = 0
    for _, d2 in _sq_distance_blocks(points, centres):
        inside += int(np.count_nonzero((d2 <= sq_radii[None, :]).any(axis=1)))
    result: float = inside / points.shape[0]
    return result
