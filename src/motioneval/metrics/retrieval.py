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

Scale: distances are scale-equivariant. A pool in which some row's Euclidean norm lies outside the
ordinary window (``2**-40 .. 2**40`` for the float32 reference, ``2**-200 .. 2**200`` in float64) is
evaluated pair by pair at the pair's own power-of-two scale: each row is multiplied by an exact ``2**-e``
(its own exponent), and the expanded form of pair ``(i, j)`` is assembled at the scale of the larger of the
two rows, so nothing overflows and no row is crushed to zero by a larger one; ranks compare the rescaled
distances exactly and the Matching Score is accumulated at a common scale. For uniformly scaled
embeddings the result is the reference's own digits on the rescaled rows, scaled back: ``x 1e20`` gives
``1e20`` times the Matching Score instead of NaN, and ``x 1e-30`` the same R-precision instead of 0. Pools
inside the window (all ordinary inputs) take the reference route unchanged, bit for bit. The exact flavour
also recomputes any distance below ``2**-400`` (squares near the subnormal range) pair by pair
(:func:`motioneval._arrays.pair_norms`). A result too large for float64 raises ``ValueError`` (overflow).

Ties (equal distances) are counted *pessimistically*: the rank of sample ``i`` in its pool is
``#{j != i : d(t_i, m_j) <= d(t_i, m_i)}``, so a distractor at exactly the same distance as the true motion
is ranked before it. The reference's unstable ``argsort`` leaves ties to chance; without ties (the float32
practice) both rules give the same ranks.
"""
from __future__ import annotations

from typing import Any, Literal, NamedTuple

import numpy as np

from motioneval._arrays import (
    FLOAT32_WINDOW,
    FLOAT64_WINDOW,
    ZERO_ROW_EXPONENT,
    as_2d_features,
    as_float,
    ldexp_checked,
    pair_norms,
    row_exponents,
    to_numpy,
)
from motioneval._checks import check_int

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
    check_flavour(flavour)
    dtype = np.float32 if flavour == "reference" else np.float64
    a, b = to_numpy(a), to_numpy(b)
    if a.ndim < 2 or b.ndim != a.ndim or a.shape[:-2] != b.shape[:-2] or a.shape[-1] != b.shape[-1]:
        raise ValueError(
            "euclidean_distance_matrix needs a (..., N1, D) and b (..., N2, D) with equal leading shape and D; "
            f"got {a.shape} and {b.shape}"
        )
    a, b = as_float(a, "a", None), as_float(b, "b", None)
    lead = a.shape[:-2]
    dist, exps = pool_distances(a.reshape(-1, *a.shape[-2:]), b.reshape(-1, *b.shape[-2:]), flavour)
    dist = dist.reshape(*lead, *dist.shape[-2:])
    if exps is None:
        return np.asarray(dist)
    scaled = ldexp_checked(dist, exps.reshape(dist.shape), f"euclidean_distance_matrix (flavour={flavour!r})",
                           dtype=dtype)
    return np.asarray(scaled)


def retrieval_metrics(text_emb: Any, motion_emb: Any, top_k: int = 3, pool_size: int = 32, *,
                      flavour: Flavour = "reference") -> RetrievalResult:
    """R-precision and Matching Score from a single pooled distance computation (same values as the two
    functions :func:`r_precision` and :func:`matching_score`)."""
    dist, exps, _, n_dropped = _pooled_distances(text_emb, motion_emb, pool_size, flavour, top_k=top_k)
    return RetrievalResult(
        _r_precision_from_distances(dist, exps, top_k, n_dropped, flavour),
        _matching_score_from_distances(dist, exps, flavour),
    )


def r_precision(text_emb: Any, motion_emb: Any, top_k: int = 3, pool_size: int = 32, *,
                flavour: Flavour = "reference") -> RPrecision:
    """R-precision ``R@k = #{i : rank_i < k} / n`` for ``k = 1..top_k`` (cumulative hit rates).

    ``rank_i`` is the rank of motion ``i`` among the ``pool_size`` motions of its pool, by distance to
    text ``i`` (ties pessimistic, see the module docstring); ``n`` is the number of rows in complete pools.
    Returns an :class:`RPrecision` array of ``top_k`` rates carrying ``num_samples``, ``num_dropped``,
    ``pool_size`` and ``hit_counts``.
    """
    dist, exps, _, n_dropped = _pooled_distances(text_emb, motion_emb, pool_size, flavour, top_k=top_k)
    return _r_precision_from_distances(dist, exps, top_k, n_dropped, flavour)


def matching_score(text_emb: Any, motion_emb: Any, pool_size: int = 32, *,
                   flavour: Flavour = "reference") -> float:
    """Matching Score (MM-Dist) ``= (1/n) sum_i d(t_i, m_i)`` over the ``n`` rows in complete pools.

    Reference flavour: the float32 trace of each pool's expanded-form distance matrix, accumulated in
    float32 in pool order and divided by ``n`` in float32, as the reference loop. Lower is better.
    """
    dist, exps, _, _ = _pooled_distances(text_emb, motion_emb, pool_size, flavour)
    return _matching_score_from_distances(dist, exps, flavour)


# ----------------------------------------------------------------------------------------------------------
# internals (shared with the accumulator)

def check_flavour(flavour: str) -> None:
    """Raise ``ValueError`` unless ``flavour`` is one of :data:`FLAVOURS` (``"reference"``: float32 as the
    reference code; ``"exact"``: float64 direct differences)."""
    if flavour not in FLAVOURS:
        raise ValueError(f"flavour must be one of {FLAVOURS}; got {flavour!r}")


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
                      top_k: int | None = None) -> tuple[np.ndarray, np.ndarray | None, int, int]:
    """Distance matrices ``(P, S, S)`` of the complete pools, their per-pair power-of-two exponents (true
    distance = ``dist * 2**exps``; ``None`` when every pool is ordinary), rows used, rows dropped."""
    check_flavour(flavour)
    text, motion = _validate_pair(text_emb, motion_emb, None)
    n = text.shape[0]
    pool_size = check_int(pool_size, "pool_size", 1, n,
                           f" (there are only {n} samples; the protocol pools groups of 32)")
    if top_k is not None:
        check_int(top_k, "top_k", 1, pool_size, " (top_k cannot exceed the pool size)")
    num_pools = n // pool_size
    used = num_pools * pool_size
    text = text[:used].reshape(num_pools, pool_size, -1)
    motion = motion[:used].reshape(num_pools, pool_size, -1)
    dist, exps = pool_distances(text, motion, flavour)
    return dist, exps, used, n - used


def _special_rows(x: np.ndarray, flavour: str) -> np.ndarray:
    """Rows (last axis) outside the ordinary window: Euclidean norm beyond ``2**low .. 2**high`` (one cheap
    pass; all-zero rows are ordinary)."""
    low, high = FLOAT32_WINDOW if flavour == "reference" else FLOAT64_WINDOW
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        sq = np.einsum("...d,...d->...", x, x)
    special = ~((sq >= np.float64(2.0 ** (2 * low))) & (sq <= np.float64(2.0 ** (2 * high))))
    zero = sq == 0
    if zero.any():  # an all-zero row is ordinary; a row of underflowing squares is not
        special[zero] = row_exponents(x[zero]) != ZERO_ROW_EXPONENT
    return np.asarray(special)


def pool_distances(text: np.ndarray, motion: np.ndarray, flavour: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Distances of ``(P, S1, D)`` / ``(P, S2, D)`` stacks (float32 or float64, validated) as ``dist * 2**exps``.

    ``exps`` is ``None`` when every pool is ordinary (then ``dist`` is exactly the reference computation);
    otherwise an int32 ``(P, S1, S2)`` array, zero for the ordinary pools (module docstring)."""
    dtype = np.float32 if flavour == "reference" else np.float64
    num_pools = text.shape[0]
    if num_pools == 0 or text.shape[1] == 0 or motion.shape[1] == 0:
        return np.zeros((num_pools, text.shape[1], motion.shape[1]), dtype=dtype), None
    special = _special_rows(text, flavour).any(axis=1) | _special_rows(motion, flavour).any(axis=1)
    plain = ~special
    dist = np.empty((num_pools, text.shape[1], motion.shape[1]), dtype=dtype)
    exps: np.ndarray | None = None
    if plain.all():
        dist = _plain_distances(text, motion, dtype)
    elif plain.any():
        dist[plain] = _plain_distances(text[plain], motion[plain], dtype)
    if special.any():
        exps = np.zeros(dist.shape, dtype=np.int32)
        for p in np.flatnonzero(special):  # pool by pool: bounded memory for the exact flavour's differences
            if flavour == "reference":
                dist[p], exps[p] = _scaled_expanded(text[p], motion[p], row_exponents(text[p]),
                                                    row_exponents(motion[p]))
            else:
                dist[p], exps[p] = pair_norms(text[p][:, None, :], motion[p][None, :, :])
    if flavour == "exact":  # squares near the subnormal range: recompute those pairs at their own scale
        tiny = np.nonzero(dist < 2.0 ** -400)
        if tiny[0].size:
            mant, exp = pair_norms(text[tiny[0], tiny[1]], motion[tiny[0], tiny[2]])
            dist[tiny] = mant
            if exp.any():
                exps = np.zeros(dist.shape, dtype=np.int32) if exps is None else exps
                exps[tiny] = exp
    return dist, exps


def _plain_distances(text: np.ndarray, motion: np.ndarray, dtype: type) -> np.ndarray:
    """The ordinary route: cast, then the reference's expanded form (float32) or direct differences."""
    text = text.astype(dtype, copy=False)
    motion = motion.astype(dtype, copy=False)
    return _expanded_distances(text, motion) if dtype == np.float32 else _direct_distances(text, motion)


def _scaled_expanded(t: np.ndarray, m: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float32 expanded form of one pool with each row at unit scale (``t = 2**a t'``, ``m = 2**b m'``), pair
    ``(i, j)`` assembled at scale ``c = max(a_i, b_j)``: ``d^2 / 4^c = -2 t'.m' 2^(a+b-2c) + |t'|^2 4^(a-c) +
    |m'|^2 4^(b-c)``, in the reference's order of operations. Returns ``(d / 2^c, c)``."""
    with np.errstate(under="ignore"):
        tu = np.ldexp(t, -a[:, None]).astype(np.float32)
        mu = np.ldexp(m, -b[:, None]).astype(np.float32)
        c = np.maximum(a[:, None], b[None, :])
        out = np.matmul(tu, mu.T)
        out *= -2
        out = np.ldexp(out, a[:, None] + b[None, :] - 2 * c).astype(np.float32, copy=False)
        out += np.ldexp(np.sum(np.square(tu), axis=-1)[:, None], 2 * (a[:, None] - c)).astype(np.float32, copy=False)
        out += np.ldexp(np.sum(np.square(mu), axis=-1)[None, :], 2 * (b[None, :] - c)).astype(np.float32, copy=False)
    np.maximum(out, 0, out=out)
    np.sqrt(out, out=out)
    c[c == ZERO_ROW_EXPONENT] = 0  # both rows zero: distance 0
    return out, c.astype(np.int32)


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


def _ranks(dist: np.ndarray, exps: np.ndarray | None = None) -> np.ndarray:
    """Pessimistic rank of the true motion in each row: ``#{j != i : d_ij <= d_ii}``, shape ``(P, S)``.

    With per-pair exponents, row ``i`` is compared at the scale of ``d_ii`` (exact: powers of two; a
    distractor far larger overflows to inf, one far smaller underflows to 0, both compare correctly)."""
    diag = _diagonals(dist)
    if exps is None:
        return np.asarray(np.count_nonzero(dist <= diag[..., None], axis=-1) - 1)
    shift = exps - _diagonals(exps)[..., None]
    with np.errstate(over="ignore", under="ignore"):
        scaled = np.ldexp(dist.astype(np.float64), shift)
    scaled = np.where(diag[..., None] == 0, dist, scaled)  # d_ii = 0: only exact zeros tie, at any scale
    return np.asarray(np.count_nonzero(scaled <= diag[..., None], axis=-1) - 1)


def hit_counts(dist: np.ndarray, top_k: int, exps: np.ndarray | None = None) -> np.ndarray:
    """Of ``(P, S, S)`` pool distances from :func:`pool_distances` (row ``i`` a text, column ``i`` its motion):
    cumulative hit counts ``#{i : rank_i < k}`` for ``k = 1..top_k`` (int64)."""
    ranks = _ranks(dist, exps).ravel()
    return np.cumsum(np.bincount(ranks, minlength=top_k)[:top_k]).astype(np.int64)


def pool_traces(dist: np.ndarray, exps: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Of :func:`pool_distances`' output: per-pool sums of the diagonal (the reference's ``dist_mat.trace()``), in the distances' dtype, and
    their per-pool exponents (true trace = ``trace * 2**exp``; 0 for ordinary pools)."""
    diag = _diagonals(dist)
    if exps is None:
        return diag.sum(axis=-1), np.zeros(dist.shape[0], dtype=np.int32)
    dexp = _diagonals(exps)
    top = np.where(diag != 0, dexp, np.iinfo(np.int32).min).max(axis=-1)
    top = np.where(top == np.iinfo(np.int32).min, 0, top).astype(np.int32)
    with np.errstate(under="ignore"):
        diag = np.ldexp(diag, dexp - top[:, None]).astype(dist.dtype, copy=False)
    return diag.sum(axis=-1), top


def matching_from_traces(traces: np.ndarray, num_samples: int, flavour: str,
                          exps: np.ndarray | None = None) -> float:
    """Matching Score (mean matched text-motion distance) from :func:`pool_traces`' per-pool traces over
    ``num_samples`` rows (at scale ``2**exps`` when given); ``nan`` for no rows. Traces of several batches
    may be concatenated first (how :class:`~motioneval.metrics.accumulator.MetricAccumulator` streams)."""
    if num_samples == 0:
        return float("nan")
    dtype = np.float32 if flavour == "reference" else np.float64
    traces = np.asarray(traces, dtype=dtype)
    top = 0
    if exps is not None and np.any(exps):
        exps = np.asarray(exps, dtype=np.int32)
        top = int(exps.max())
        with np.errstate(under="ignore"):  # pools 2**-100 times smaller than the largest cannot matter
            traces = np.ldexp(traces, exps - np.int32(top)).astype(dtype, copy=False)
    if flavour == "reference":
        total = np.cumsum(traces, dtype=np.float32)[-1]
        value = total / np.float32(num_samples)
    else:
        value = np.sum(traces) / num_samples
    if top == 0:
        return float(value)
    return float(ldexp_checked(np.float64(value), top, f"matching_score (flavour={flavour!r})"))


def _r_precision_from_distances(dist: np.ndarray, exps: np.ndarray | None, top_k: int, num_dropped: int,
                                flavour: str) -> RPrecision:
    counts = hit_counts(dist, top_k, exps)
    n = dist.shape[0] * dist.shape[1]
    return RPrecision(counts / n, num_samples=n, num_dropped=num_dropped, pool_size=dist.shape[1],
                      hit_counts=tuple(counts), flavour=flavour)


def _matching_score_from_distances(dist: np.ndarray, exps: np.ndarray | None, flavour: str) -> float:
    traces, trace_exps = pool_traces(dist, exps)
    return matching_from_traces(traces, dist.shape[0] * dist.shape[1], flavour, trace_exps)


# Private names of these helpers before they became public (kept for callers outside the package).
_check_flavour, _pool_distances, _hit_counts = check_flavour, pool_distances, hit_counts
_pool_traces, _matching_from_traces = pool_traces, matching_from_traces
