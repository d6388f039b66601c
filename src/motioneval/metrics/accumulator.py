"""A stateful accumulator of the protocol metrics for training and generation loops (torchmetrics-like).

``update(text_emb, motion_emb)`` per batch, ``compute()`` at the end, ``merge(other)`` across workers.
Rows are pooled into groups of ``pool_size`` consecutive rows *across* batches, so the numbers equal
the functional form on the concatenated arrays::

    r_precision(T, M, top_k, pool_size), matching_score(T, M, pool_size), diversity(M, pairs, rng),
    frechet_distance(gt.mean, gt.cov, gaussian_stats(M).mean, gaussian_stats(M).cov)   # ground truth first

Complete pools are reduced at ``update`` (hit counts and per-pool distance traces); the motion rows are
kept (``O(N D)`` memory) for diversity and FID. After ``merge`` the numbers equal the functional form on
the rows of ``self`` followed by those of ``other`` whenever each side saw a multiple of ``pool_size``
rows (as with ``drop_last`` batches); otherwise the leftover rows of both sides are pooled together.
"""
from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np

from motioneval._arrays import check_real_numeric, to_numpy
from motioneval._checks import check_int
from motioneval.metrics import retrieval
from motioneval.metrics._rng import RNGLike
from motioneval.metrics.diversity import diversity as _diversity
from motioneval.metrics.frechet import frechet_distance
from motioneval.metrics.stats import as_moments, gaussian_stats


class MetricAccumulator:
    """Accumulate R-precision, Matching Score, diversity and (given ground-truth statistics) FID.

    ``gt_stats``: a :class:`~motioneval.metrics.stats.GaussianStats`, a ``(mean, cov)`` pair or an
    ``(N, D)`` array of ground-truth embeddings (its statistics are computed once). ``diversity_pairs``:
    pairs for diversity (``None`` skips it; ``"momask"`` for the MoMask/T2M-GPT rule); ``rng`` as in
    :func:`~motioneval.metrics.diversity.diversity`, applied at each ``compute()`` (an int seed makes
    ``compute`` repeatable). ``flavour`` selects the retrieval distance (``"reference"`` or ``"exact"``);
    ``fid_method`` is passed to ``frechet_distance``.
    """

    def __init__(self, *, top_k: int = 3, pool_size: int = 32, gt_stats: Any = None,
                 diversity_pairs: int | Literal["momask"] | None = 300, rng: RNGLike = None,
                 flavour: retrieval.Flavour = "reference", fid_method: str = "exact") -> None:
        retrieval.check_flavour(flavour)
        self.pool_size = check_int(pool_size, "pool_size", 1)
        self.top_k = check_int(top_k, "top_k", 1, self.pool_size, " (top_k cannot exceed pool_size)")
        self.flavour = flavour
        self.diversity_pairs = diversity_pairs
        self.rng = rng
        self.fid_method = fid_method
        self._gt = _gt_moments(gt_stats)
        self.reset()

    # ------------------------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget every update (the configuration and ground-truth statistics are kept)."""
        self._dim: int | None = None
        self._hits = np.zeros(self.top_k, dtype=np.int64)
        self._traces: list[np.ndarray] = []
        self._trace_exps: list[np.ndarray] = []  # per-pool power-of-two scale of the traces (0: ordinary)
        self._pooled_rows = 0
        # pending rows keep float64 precision: the narrow cast happens per pool, after any scale is factored out
        self._pending_text: np.ndarray = np.empty((0, 0), dtype=np.float64)
        self._pending_motion: np.ndarray = np.empty((0, 0), dtype=np.float64)
        self._motions: list[np.ndarray] = []

    @property
    def _dtype(self) -> type:
        return np.float32 if self.flavour == "reference" else np.float64

    @property
    def num_rows(self) -> int:
        """Rows given to ``update`` so far (all of them count for diversity and FID)."""
        return int(sum(m.shape[0] for m in self._motions))

    @property
    def num_samples(self) -> int:
        """Rows in complete pools so far (those that count for R-precision and Matching Score)."""
        return self._pooled_rows

    def update(self, text_emb: Any, motion_emb: Any) -> None:
        """Add a batch of paired ``(B, D)`` text and motion embeddings (numpy or torch)."""
        text = np.asarray(to_numpy(text_emb))
        motion = np.asarray(to_numpy(motion_emb))
        if text.ndim != 2 or text.shape != motion.shape:
            raise ValueError(
                f"update needs text_emb and motion_emb of the same shape (B, D); got {text.shape} and {motion.shape}"
            )
        if self._dim is not None and text.shape[1] != self._dim:
            raise ValueError(f"embedding dimension changed between updates: {self._dim} then {text.shape[1]}")
        if text.shape[0] == 0:
            return
        offset = self.num_rows
        converted = []
        for name, arr in (("text_emb", text), ("motion_emb", motion)):
            check_real_numeric(arr, name)
            cause = "NaN or Inf"
            bad = np.flatnonzero(~np.isfinite(arr).all(axis=1)) if arr.dtype.kind == "f" else np.zeros(0, int)
            with np.errstate(over="ignore"):
                arr = arr.astype(np.float64, copy=False)
            if not bad.size:  # finite input that does not fit float64 (e.g. a long double 1e400)
                cause = "values too large for float64 (overflow)"
                bad = np.flatnonzero(~np.isfinite(arr).all(axis=1))
            if bad.size:
                rows = ", ".join(str(int(i) + offset) for i in bad[:10])
                raise ValueError(f"{name} contains {cause} in batch rows {bad[:10].tolist()} "
                                 f"(overall rows {rows}); remove or regenerate these samples")
            converted.append(arr)
        text, motion = converted
        self._dim = text.shape[1]
        self._motions.append(np.array(motion, dtype=np.float64))
        self._add_rows(text, motion)

    def _add_rows(self, text: np.ndarray, motion: np.ndarray) -> None:
        if self._pending_text.size:
            text = np.concatenate([self._pending_text, text])
            motion = np.concatenate([self._pending_motion, motion])
        num_pools = text.shape[0] // self.pool_size
        used = num_pools * self.pool_size
        if num_pools:
            shape = (num_pools, self.pool_size, text.shape[1])
            t, m = text[:used].reshape(shape), motion[:used].reshape(shape)
            dist, exps = retrieval.pool_distances(t, m, self.flavour)
            self._hits += retrieval.hit_counts(dist, self.top_k, exps)
            traces, trace_exps = retrieval.pool_traces(dist, exps)
            self._traces.append(traces)
            self._trace_exps.append(trace_exps)
            self._pooled_rows += used
        self._pending_text = text[used:].copy()
        self._pending_motion = motion[used:].copy()

    def merge(self, other: "MetricAccumulator") -> "MetricAccumulator":
        """Add ``other``'s state to this accumulator (in place) and return ``self``."""
        if not isinstance(other, MetricAccumulator):
            raise TypeError(f"can only merge another MetricAccumulator; got {type(other).__name__}")
        mine = (self.top_k, self.pool_size, self.flavour)
        theirs = (other.top_k, other.pool_size, other.flavour)
        if mine != theirs:
            raise ValueError(f"cannot merge accumulators with different (top_k, pool_size, flavour): {mine} vs {theirs}")
        if self._dim is not None and other._dim is not None and self._dim != other._dim:
            raise ValueError(f"cannot merge accumulators of embedding dimension {self._dim} and {other._dim}")
        if other._dim is None:
            return self
        self._dim = other._dim
        self._hits = self._hits + other._hits
        self._traces.extend(t.copy() for t in other._traces)
        self._trace_exps.extend(e.copy() for e in other._trace_exps)
        self._pooled_rows += other._pooled_rows
        self._motions.extend(m.copy() for m in other._motions)
        if other._pending_text.size:
            self._add_rows(other._pending_text, other._pending_motion)
        return self

    # ------------------------------------------------------------------------------------------------------
    def compute(self) -> dict[str, Any]:
        """The metrics so far: ``r_precision`` (an :class:`~motioneval.metrics.retrieval.RPrecision`),
        ``matching_score``, ``diversity`` (if configured), ``fid`` (if ``gt_stats`` was given), and
        ``num_samples`` / ``num_rows`` (rows in complete pools / all rows)."""
        if self._pooled_rows == 0:
            raise ValueError(
                f"no complete pool of {self.pool_size} rows yet ({self.num_rows} rows given): "
                "update with more samples before compute()"
            )
        traces = np.concatenate(self._traces)
        out: dict[str, Any] = {
            "r_precision": retrieval.RPrecision(
                self._hits / self._pooled_rows, num_samples=self._pooled_rows,
                num_dropped=self._pending_text.shape[0], pool_size=self.pool_size,
                hit_counts=tuple(self._hits), flavour=self.flavour),
            "matching_score": retrieval.matching_from_traces(traces, self._pooled_rows, self.flavour,
                                                              np.concatenate(self._trace_exps)),
            "num_samples": self._pooled_rows,
            "num_rows": self.num_rows,
        }
        motions = np.concatenate(self._motions)
        if self.diversity_pairs is not None:
            try:
                out["diversity"] = _diversity(motions, self.diversity_pairs, self.rng)
            except ValueError as exc:
                warnings.warn(f"diversity not computed: {exc}", RuntimeWarning, stacklevel=2)
                out["diversity"] = float("nan")
        if self._gt is not None:
            gen = gaussian_stats(motions)
            out["fid"] = float(frechet_distance(self._gt[0], self._gt[1], gen.mean, gen.cov, method=self.fid_method))
        return out


def _gt_moments(gt: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """Ground-truth ``(mean, cov)`` from ``GaussianStats``, a ``(mean, cov)`` pair or ``(N, D)`` embeddings."""
    if gt is None:
        return None
    moments = as_moments(gt, "gt_stats")
    if moments is not None:
        return moments
    stats = gaussian_stats(to_numpy(gt))
    return stats.mean, stats.cov
