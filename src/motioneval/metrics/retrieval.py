"""Text-to-motion retrieval metrics of the protocol: R-precision and Matching Score (MM-Dist).

Rows ``i`` of ``text_emb`` and ``motion_emb`` describe the same sample. The candidate pool is a group of
``pool_size`` (32) *consecutive* rows, as the evaluation batches of the reference loop; the rows of an
incomplete last group are dropped (the reference loaders use ``drop_last``).

Two flavours of the text-to-motion distance ``d(t, m)``, selected by ``flavour=``:

- ``"reference"`` (default, reproduces published numbers): the expanded form on float32 inputs,
  ``d = sqrt(max(|t|^2 + |m|^2 - 2 t.m, 0))`` evaluated in float32 (float64 inputs are rounded to
  float32 first, as the evaluator's embeddings are float32). The reference does not clamp (a
  rounding-negative radicand would give NaN there); clamping at 0 changes nothing where it is finite.
  The Matching Score accumulates float32 per-pool traces in pool order, as the reference loop does.
- ``"exact"``: the direct difference ``d = |t - m|`` evaluated in float64 (no cancellation).

Ties (equal distances) are counted *pessimistically*: the rank of sample ``i`` in its pool is
``#{j != i : d(t_i, m_j) <= d(t_i, m_i)}``, so a distractor at exactly the same distance as the true motion
is ranked before it. The reference's unstable ``argsort`` leaves ties to chance; without ties (the float32
practice) both rules give the same ranks.
"""
from __future__ import annotations

from typing import Any, Literal, NamedTuple

import numpy as np

from motioneval._arrays import as_2d_features, to_numpy

Flavour = Literal["reference", "exact"]
FLAVOURS = ("reference", "exact")

_CHUNK_BYTES = 4 << 20  # one block of direct differences (exact flavour); cache-sized blocks are fastest


class RPrecision(np.ndarray):
    """R-precision rates ``[R@1, ..., R@k]`` (a float64 array) that also records how they were obtained.

    Attributes: ``num_samples`` (rows used: complete pools only), ``num_dropped`` (rows of the incomplete
    last pool), ``pool_size``, ``hit_counts`` (cumulative hits per k, ints) and ``flavour``. Arithmetic on
    it returns plain arrays.
    """

    _META = ("num_samples", "num_dropped", "pool_size", "hit_counts", "flavour")
    num_samples: int
    num_dropped: int
    pool_size: int
    hit_counts: tuple[int, ...]
    flavour: str

    def __new__(cls, rates: Any, *, num_samples: int, num_dropped: int, pool_size: int,
                hit_counts: tuple[int, ...], flavour: str) -> "RPrecision":
        obj = np.asarray(rates, dtype=np.float64).view(cls)
        obj.num_samples = int(num_samples)
        obj.num_dropped = int(num_dropped)
        obj.pool_size = int(pool_size)
        obj.hit_counts = tuple(int(c) for c in hit_counts)
        obj.flavour = str(flavour)
        return obj

    def __array_finalize__(self, obj: Any) -> None:
        for name in self._META:
            setattr(self, name, getattr(obj, name, None))

    def __array_wrap__(self, out: np.ndarray, context: Any = None, return_scalar: bool = False) -> Any:
        out = out.view(np.ndarray)
        return out[()] if return_scalar else out

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_rprecision, (np.asarray(self).copy(), {n: getattr(self, n) for n in self._META}))

    def __repr__(self) -> str:
        rates = ", ".join(f"{v:.4f}" for v in np.asarray(self).ravel())
        return (f"RPrecision([{rates}], num_samples={self.num_samples}, num_dropped={self.num_dropped}, "
                f"pool_size={self.pool_size}, flavour={self.flavour!r})")


def _rebuild_rprecision(values: np.ndarray, meta: dict[str, Any]) -> RPrecision:
    return RPrecision(values, **meta)


class RetrievalResult(NamedTuple):
    """Both retrieval metrics from one distance computation (see :func:`retrieval_metrics`)."""

    r_precision: RPrecision
    matching_score: float


def euclidean_distance_matrix(a: Any, b: Any, *, flavour: Flavour = "reference") -> np.ndarray:
    """Euclidean distances ``dist[..., i, j] = |a[..., i, :] - b[..., j, :]|``.

    ``a`` is ``(..., N1, D)`` and ``b`` is ``(..., N2, D)`` with the same leading (batch) shape, e.g. 2-D
    matrices or ``(num_pools, pool_size, D)`` stacks. ``flavour="reference"`` gives the float32 expanded
    form ``sqrt(max(|a|^2 + |b|^2 - 2 a.b, 0))`` of the reference code (float32 result);
    ``flavour="exact"`` gives the direct float64 ``|a - b|`` (float64 result).
    """
    _check_flavour(flavour)
    dtype = np.float32 if flavour == "reference" else np.float64
    a = np.asarray(to_numpy(a), dtype=dtype)
    b = np.asarray(to_numpy(b), dtype=dtype)
    if a.ndim < 2 or b.ndim != a.ndim or a.shape[:-2] != b.shape[:-2] or a.shape[-1] != b.shape[-1]:
        raise ValueError(
            "euclidean_distance_matrix needs a (..., N1, D) and b (..., N2, D) with equal leading shape and D; "
            f"got {a.shape} and {b.shape}"
        )
    if flavour == "reference":
        return _expanded_distances(a, b)
    return _direct_distances(a, b)


def retrieval_metrics(text_emb: Any, motion_emb: Any, top_k: int = 3, pool_size: int = 32, *,
                      flavour: Flavour = "reference") -> RetrievalResult:
    """R-precision and Matching Score from a single pooled distance computation (same values as the two
    functions :func:`r_precision` and :func:`matching_score`)."""
    dist, _, n_dropped = _pooled_distances(text_emb, motion_emb, pool_size, flavour, top_k=top_k)
    return RetrievalResult(
        _r_precision_from_distances(dist, top_k, n_dropped, flavour),
        _matching_score_from_distances(dist, flavour),
    )


def r_precision(text_emb: Any, motion_emb: Any, top_k: int = 3, pool_size: int = 32, *,
                flavour: Flavour = "reference") -> RPrecision:
    """R-precision ``R@k = #{i : rank_i < k} / n`` for ``k = 1..top_k`` (cumulative hit rates).

    ``rank_i`` is the rank of motion ``i`` among the ``pool_size`` motions of its pool, by distance to
    text ``i`` (ties pessimistic, see the module docstring); ``n`` is the number of rows in complete pools.
    Returns an :class:`RPrecision` array of ``top_k`` rates carrying ``num_samples``, ``num_dropped``,
    ``pool_size`` and ``hit_counts``.
    """
    dist, _, n_dropped = _pooled_distances(text_emb, motion_emb, pool_size, flavour, top_k=top_k)
    return _r_precision_from_distances(dist, top_k, n_dropped, flavour)


def matching_score(text_emb: Any, motion_emb: Any, pool_size: int = 32, *,
                   flavour: Flavour = "reference") -> float:
    """Matching Score (MM-Dist) ``= (1/n) sum_i d(t_i, m_i)`` over the ``n`` rows in complete pools.

    Reference flavour: the float32 trace of each pool's expanded-form distance matrix, accumulated in
    float32 in pool order and divided by ``n`` in float32, as the reference loop. Lower is better.
    """
    dist, _, _ = _pooled_distances(text_emb, motion_emb, pool_size, flavour)
    return _matching_score_from_distances(dist, flavour)


# ----------------------------------------------------------------------------------------------------------
# internals (shared with the accumulator)

def _check_flavour(flavour: str) -> None:
    if flavour not in FLAVOURS:
        raise ValueError(f"flavour must be one of {FLAVOURS}; got {flavour!r}")


def _check_int(value: Any, name: str, low: int, high: int | None = None, hint: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int; got {type(value).__name__}")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be {bound}; got {value}{hint}")
    return int(value)


def _validate_pair(text_emb: Any, motion_emb: Any, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    text = as_2d_features(text_emb, "text_emb", dtype=dtype)
    motion = as_2d_features(motion_emb, "motion_emb", dtype=dtype)
    if text.shape != motion.shape:
        raise ValueError(
            f"text_emb and motion_emb must have the same shape (row i of each describes sample i); "
            f"got {text.shape} and {motion.shape}"
        )
    return text, motion


def _pooled_distances(text_emb: Any, motion_emb: Any, pool_size: int, flavour: str, *,
                      top_k: int | None = None) -> tuple[np.ndarray, int, int]:
    """Distance matrices ``(P, S, S)`` of the complete pools, rows used, rows dropped."""
    _check_flavour(flavour)
    dtype = np.float32 if flavour == "reference" else np.float64
    text, motion = _validate_pair(text_emb, motion_emb, dtype)
    n = text.shape[0]
    pool_size = _check_int(pool_size, "pool_size", 1, n,
                           f" (there are only {n} samples; the protocol pools groups of 32)")
    if top_k is not None:
        _check_int(top_k, "top_k", 1, pool_size, " (top_k cannot exceed the pool size)")
    num_pools = n // pool_size
    used = num_pools * pool_size
    text = text[:used].reshape(num_pools, pool_size, -1)
    motion = motion[:used].reshape(num_pools, pool_size, -1)
    dist = _expanded_distances(text, motion) if flavour == "reference" else _direct_distances(text, motion)
    return dist, used, n - used


def _expanded_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """float32 ``sqrt(max((-2 a.b + |a|^2) + |b|^2, 0))`` in the reference's order of operations."""
    out = np.matmul(a, np.swapaxes(b, -1, -2))
    out *= -2
    out += np.sum(np.square(a), axis=-1, keepdims=True)
    out += np.sum(np.square(b), axis=-1)[..., None, :]
    np.maximum(out, 0, out=out)
    result: np.ndarray = np.sqrt(out, out=out)
    return result


def _direct_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """float64 ``|a_i - b_j|`` by explicit differences, in blocks of bounded memory."""
    lead = a.shape[:-2]
    n1, n2, d = a.shape[-2], b.shape[-2], a.shape[-1]
    a3 = a.reshape(-1, n1, d)
    b3 = b.reshape(-1, n2, d)
    out = np.empty((a3.shape[0], n1, n2), dtype=np.float64)
    rows = max(1, min(n1, _CHUNK_BYTES // max(1, n2 * d * 8)))
    batches = max(1, _CHUNK_BYTES // max(1, rows * n2 * d * 8))
    for p in range(0, a3.shape[0], batches):
        for r in range(0, n1, rows):
            diff = a3[p:p + batches, r:r + rows, None, :] - b3[p:p + batches, None, :, :]
            out[p:p + batches, r:r + rows] = np.sqrt(np.einsum("...d,...d->...", diff, diff))
    return out.reshape(*lead, n1, n2)


def _diagonals(dist: np.ndarray) -> np.ndarray:
    """``(P, S)`` diagonals of ``(P, S, S)`` distance matrices."""
    return np.ascontiguousarray(np.diagonal(dist, axis1=-2, axis2=-1))


def _ranks(dist: np.ndarray) -> np.ndarray:
    """Pessimistic rank of the true motion in each row: ``#{j != i : d_ij <= d_ii}``, shape ``(P, S)``."""
    diag = _diagonals(dist)
    result: np.ndarray = np.count_nonzero(dist <= diag[..., None], axis=-1) - 1
    return result


def _hit_counts(dist: np.ndarray, top_k: int) -> np.ndarray:
    """Cumulative hit counts ``#{i : rank_i < k}`` for ``k = 1..top_k`` (int64)."""
    ranks = _ranks(dist).ravel()
    return np.cumsum(np.bincount(ranks, minlength=top_k)[:top_k]).astype(np.int64)


def _pool_traces(dist: np.ndarray) -> np.ndarray:
    """Per-pool sums of the diagonal (the reference's ``dist_mat.trace()``), in the distances' dtype."""
    result: np.ndarray = _diagonals(dist).sum(axis=-1)
    return result


def _matching_from_traces(traces: np.ndarray, num_samples: int, flavour: str) -> float:
    if num_samples == 0:
        return float("nan")
    if flavour == "reference":
        total = np.cumsum(np.asarray(traces, dtype=np.float32), dtype=np.float32)[-1]
        return float(total / np.float32(num_samples))
    return float(np.sum(np.asarray(traces, dtype=np.float64)) / num_samples)


def _r_precision_from_distances(dist: np.ndarray, top_k: int, num_dropped: int, flavour: str) -> RPrecision:
    counts = _hit_counts(dist, top_k)
    n = dist.shape[0] * dist.shape[1]
    return RPrecision(counts / n, num_samples=n, num_dropped=num_dropped, pool_size=dist.shape[1],
                      hit_counts=tuple(counts), flavour=flavour)


def _matching_score_from_distances(dist: np.ndarray, flavour: str) -> float:
    return _matching_from_traces(_pool_traces(dist), dist.shape[0] * dist.shape[1], flavour)
