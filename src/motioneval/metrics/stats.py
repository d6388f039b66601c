"""Gaussian statistics of features: mean and unbiased covariance, streaming and mergeable.

``GaussianStats`` keeps, in float64, the sample count ``n``, the mean and the centred scatter matrix
``M2 = sum_i (x_i - mean)(x_i - mean)^T``; the covariance is ``M2 / (n - 1)`` (ddof = 1, rows are samples,
as ``numpy.cov(x, rowvar=False)``). Memory is O(D^2) whatever the number of samples.

Each batch is reduced exactly as a two-pass computation in float64 (its own mean, then its centred scatter),
and two partial results combine with the pairwise update of Chan, Golub & LeVeque (1979)::

    n = na + nb,  delta = mean_b - mean_a,  mean = mean_a + delta * nb / n,
    M2 = M2_a + M2_b + outer(delta, delta) * na * nb / n

so float32 batches with large mean offsets lose no digits (no raw sums of squares are ever formed), and
statistics of shards computed by different workers merge to the statistics of the whole set.

Scale: a batch whose largest ``|value|`` lies outside ``2**-200 .. 2**200`` is reduced at unit scale (rows
times an exact ``2**-e``) and its mean and scatter scaled back by ``2**e`` and ``4**e``, so nothing
overflows or turns subnormal on the way; ordinary batches are reduced exactly as before. A scatter beyond
float64 raises ``ValueError`` (overflow); one below float64's normal range (features around ``1e-155``)
is stored as well as float64 can and a ``RuntimeWarning`` says that digits were lost.

File format (``save``/``load``): an ``.npz`` written atomically and readable without pickle, keys

======================  ==========================  ===============================================
key                     dtype / shape               meaning
======================  ==========================  ===============================================
``format``              str                         ``"motioneval.GaussianStats"``
``version``             int64 scalar                ``1``
``n``                   int64 scalar                number of samples
``mean``                float64 ``(D,)``            sample mean
``cov``                 float64 ``(D, D)``          unbiased covariance (ddof = 1); zeros when n < 2
======================  ==========================  ===============================================

Any tool can read it with ``numpy.load(path)``; ``mean``/``cov`` are what ``frechet_distance`` takes.
"""
from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .. import _npio
from .._arrays import as_float, check_finite, check_real_numeric, max_abs, pow2_exponent, to_numpy
from .._io import atomic_save_npz

FORMAT_NAME = "motioneval.GaussianStats"
FORMAT_VERSION = 1


class GaussianStats:
    """Streaming, mergeable mean and unbiased covariance of ``(N, D)`` features, in float64.

    >>> s = GaussianStats().update(batch1).update(batch2)   # doctest: +SKIP
    >>> s.n, s.mean.shape, s.cov.shape                      # doctest: +SKIP
    """

    __slots__ = ("_dim", "_n", "_mean", "_m2", "_batches")

    def __init__(self, dim: int | None = None) -> None:
        if dim is not None:
            dim = int(dim)
            if dim < 1:
                raise ValueError(f"GaussianStats: dim must be a positive integer; got {dim}")
        self._dim: int | None = dim
        self._n = 0
        # empty placeholders until the first batch fixes the dimension (every reader checks n first)
        self._mean: np.ndarray = np.zeros(dim if dim is not None else 0)
        self._m2: np.ndarray = np.zeros((dim, dim) if dim is not None else (0, 0))
        self._batches = 0

    # ------------------------------------------------------------------ properties
    @property
    def n(self) -> int:
        """Number of samples seen."""
        return self._n

    @property
    def dim(self) -> int | None:
        """Feature dimension D (None until the first batch when not given)."""
        return self._dim

    @property
    def mean(self) -> np.ndarray:
        """Sample mean, float64 ``(D,)`` (a copy)."""
        self._require(1, "mean")
        mean: np.ndarray = self._mean.copy()
        return mean

    @property
    def m2(self) -> np.ndarray:
        """Centred scatter matrix ``sum (x - mean)(x - mean)^T``, float64 ``(D, D)`` (a copy)."""
        self._require(1, "m2")
        m2: np.ndarray = self._m2.copy()
        return m2

    @property
    def cov(self) -> np.ndarray:
        """Unbiased covariance ``M2 / (n - 1)``, float64 ``(D, D)``, exactly symmetric."""
        self._require(2, "cov")
        cov: np.ndarray = self._m2 / (self._n - 1)
        return cov

    def _require(self, k: int, what: str) -> None:
        if self._n < k:
            raise ValueError(
                f"GaussianStats.{what} needs at least {k} sample(s); {self._n} seen. Add more rows with update()."
            )

    # ------------------------------------------------------------------ updates
    def update(self, batch: Any) -> "GaussianStats":
        """Add a ``(B, D)`` batch of rows (numpy, array-like or torch tensor), or another ``GaussianStats``'s
        rows, to ``self`` in place; returns ``self``. (:meth:`merge` is the pure form: a new object.)

        Raises ``ValueError`` naming the offending rows if the batch has NaN/Inf, and when D does not match.
        """
        if isinstance(batch, GaussianStats):
            merged = self.merge(batch)
            self._dim, self._n, self._mean, self._m2, self._batches = (
                merged._dim, merged._n, merged._mean, merged._m2, merged._batches)
            return self
        where = f"batch {self._batches} passed to GaussianStats.update"
        return self._add(to_numpy(batch), where,
                         f"{where} (rows counted from 0 within the batch; {self._n} rows were added before it)")

    def _add(self, x: np.ndarray, where: str, finite_name: str) -> "GaussianStats":
        if x.ndim != 2:
            raise ValueError(f"{where} must be a 2-D array of shape (N, D) (one row per sample); got shape {x.shape}")
        if x.shape[1] < 1:
            raise ValueError(f"{where} has no feature columns (shape {x.shape})")
        check_real_numeric(x, where)
        if self._dim is not None and x.shape[1] != self._dim:
            raise ValueError(f"{where} has {x.shape[1]} features per row but the statistics have D = {self._dim}")
        if x.shape[0] == 0:
            return self
        if x.dtype.kind == "f" and x.dtype.itemsize <= 8:
            # float16/32/64 convert to float64 exactly: the input's extremes (NaN propagates through min/max)
            # validate it and give the scale in two passes over the narrow array
            lo, hi = float(np.min(x)), float(np.max(x))
            if not (math.isfinite(lo) and math.isfinite(hi)):
                check_finite(x, finite_name)  # raises, naming the rows with NaN/Inf
            magnitude = max(-lo, hi)
            xc = x.astype(np.float64, copy=False)
        else:
            if x.dtype.kind == "f":
                check_finite(x, finite_name)  # NaN/Inf in the input itself
            with np.errstate(over="ignore"):
                xc = x.astype(np.float64, copy=False)
            if not np.isfinite(xc).all():  # finite input that float64 cannot hold (e.g. long double 1e400)
                check_finite(xc, finite_name + " (values too large for float64: overflow)")
            magnitude = max_abs(xc)
        nb = x.shape[0]
        e = pow2_exponent(magnitude)
        if e:  # extreme magnitudes: mean and scatter of the rows times 2**-e, scaled back (module docstring)
            xc = np.ldexp(xc, np.int32(-e))
        mean_b = xc.mean(axis=0)
        if xc is x:  # the caller's float64 array: centre a copy
            xc = x - mean_b
        else:  # our own float64 copy: centre it in place (one large allocation fewer)
            xc -= mean_b
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            m2_b = xc.T @ xc
            m2_b += m2_b.T  # exact symmetry (the product is symmetric up to rounding)
            m2_b *= 0.5
            if e:
                mean_b = np.ldexp(mean_b, np.int32(e))
                m2_b = np.ldexp(m2_b, np.int32(2 * e))
        if not np.isfinite(m2_b).all():
            raise ValueError(
                f"{where}: the covariance of these features overflows float64 (largest |x - mean| = "
                f"{float(np.max(np.abs(xc))):.3g} * 2**{e}; squares beyond 1.8e308). Features this large cannot "
                "be summarised as float64 statistics; rescale them (FID scales with the square of the features)."
            )
        _warn_if_subnormal(m2_b, where)
        if self._dim is None:
            self._dim = x.shape[1]
        self._combine(nb, mean_b, m2_b)
        self._batches += 1
        return self

    def _combine(self, nb: int, mean_b: np.ndarray, m2_b: np.ndarray) -> None:
        if self._n == 0:
            self._n, self._mean, self._m2 = nb, mean_b.copy(), m2_b.copy()
            return
        with np.errstate(over="ignore", invalid="ignore"):
            n, mean, m2 = chan_merge(self._n, self._mean, self._m2, nb, mean_b, m2_b)
        if not (np.isfinite(mean).all() and np.isfinite(m2).all()):
            raise ValueError(
                "GaussianStats: combining the statistics overflows float64 (the batches' means are too far apart "
                "or their scatter too large to be represented); rescale the features."
            )
        self._n, self._mean, self._m2 = n, mean, m2

    def __add__(self, other: "GaussianStats") -> "GaussianStats":
        """``a + b``: :meth:`merge` (a new object)."""
        return self.merge(other) if isinstance(other, GaussianStats) else NotImplemented

    def __iadd__(self, other: "GaussianStats") -> "GaussianStats":
        """``a += b``: :meth:`update` with another ``GaussianStats`` (in place)."""
        return self.update(other) if isinstance(other, GaussianStats) else NotImplemented

    def merge(self, other: "GaussianStats") -> "GaussianStats":
        """Statistics of the union of both sample sets as a **new object**; neither input changes (write
        ``total = a.merge(b)``, or ``a.update(b)`` / ``a += b`` to add ``b`` to ``a`` in place)."""
        if not isinstance(other, GaussianStats):
            raise TypeError(f"GaussianStats.merge expects a GaussianStats; got {type(other).__name__}")
        if self._dim is not None and other._dim is not None and self._dim != other._dim:
            raise ValueError(f"cannot merge statistics of dimension {self._dim} with dimension {other._dim}")
        out = GaussianStats(self._dim if self._dim is not None else other._dim)
        for part in (self, other):
            if part._n:
                out._combine(part._n, part._mean, part._m2)
        out._batches = self._batches + other._batches
        return out


    # ------------------------------------------------------------------ construction / IO
    @classmethod
    def from_moments(cls, mean: Any, cov: Any, n: int) -> "GaussianStats":
        """Statistics from a mean ``(D,)``, an unbiased covariance ``(D, D)`` and the sample count ``n``."""
        mean, cov = to_numpy(mean), to_numpy(cov)
        check_real_numeric(mean, "from_moments: mean")
        check_real_numeric(cov, "from_moments: cov")
        mean = np.asarray(mean, dtype=np.float64)
        cov = np.asarray(cov, dtype=np.float64)
        n = int(n)
        if mean.ndim != 1:
            raise ValueError(f"from_moments: mean must be 1-D (D,); got shape {mean.shape}")
        d = mean.shape[0]
        if cov.shape != (d, d):
            raise ValueError(f"from_moments: cov must have shape ({d}, {d}) to match the mean; got {cov.shape}")
        if n < 1:
            raise ValueError(f"from_moments: n must be >= 1; got {n}")
        if not (np.isfinite(mean).all() and np.isfinite(cov).all()):
            raise ValueError("from_moments: mean/cov contain NaN or Inf")
        out = cls(d)
        out._n = n
        out._mean = mean.copy()
        out._m2 = (cov + cov.T) * (0.5 * (n - 1)) if n > 1 else np.zeros((d, d))
        return out

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the statistics atomically to a pickle-free ``.npz`` (keys in the module docstring)."""
        self._require(1, "save")
        cov = self._m2 / (self._n - 1) if self._n > 1 else np.zeros_like(self._m2)
        return atomic_save_npz(path, format=np.str_(FORMAT_NAME), version=np.int64(FORMAT_VERSION),
                               n=np.int64(self._n), mean=self._mean, cov=cov)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "GaussianStats":
        """Read statistics written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"statistics file not found: {path}")
        try:
            with _npio.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except Exception as exc:  # truncated or not an npz
            raise ValueError(f"could not read statistics file {path}: {exc}") from exc
        missing = [k for k in ("format", "n", "mean", "cov") if k not in data]
        if missing or str(data.get("format", "")) != FORMAT_NAME:
            raise ValueError(
                f"{path} is not a motioneval GaussianStats file (keys {sorted(data)}; missing {missing}). "
                "Write one with GaussianStats.save, or pass (mean, cov) arrays directly."
            )
        version = int(data.get("version", FORMAT_VERSION))
        if version > FORMAT_VERSION:
            raise ValueError(f"{path} has GaussianStats format version {version}; this motioneval reads <= "
                             f"{FORMAT_VERSION}. Upgrade motioneval.")
        try:
            out = cls.from_moments(data["mean"], data["cov"], int(data["n"]))
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from exc
        return out

    def __repr__(self) -> str:
        return f"GaussianStats(n={self._n}, dim={self._dim})"


def _warn_if_subnormal(m2: np.ndarray, where: str) -> None:
    """Warn when the largest scatter entry is so small that float64 cannot hold it to full precision."""
    top = float(np.max(np.abs(m2))) if m2.size else 0.0
    if 0.0 < top < 2.0 ** -969:  # entries 2**-53 below the largest are subnormal: digits are lost
        warnings.warn(
            f"{where}: the scatter of these features ({top:.3g}) is near or below the smallest normal float64 "
            "(2.2e-308); the covariance has lost digits. Rescale the features (FID scales with their square).",
            RuntimeWarning, stacklevel=4)


def chan_merge(na: int, mean_a: np.ndarray, m2_a: np.ndarray, nb: int, mean_b: np.ndarray,
               m2_b: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """Pairwise combination of two ``(count, mean, centred scatter)`` summaries (Chan, Golub & LeVeque 1979)::

        n = na + nb,  delta = mean_b - mean_a,  mean = mean_a + delta * nb / n,
        M2 = M2_a + M2_b + delta delta^T * na * nb / n

    ``m2`` is either the full scatter matrix ``(D, D)`` (``outer(delta, delta)``) or its diagonal ``(D,)``, the
    per-dimension sums of squared deviations (``delta**2``). ``na = 0`` gives ``(nb, mean_b, m2_b)`` exactly.
    Returns ``(n, mean, m2)``; ``n`` must be positive.
    """
    n = na + nb
    if n <= 0:
        raise ValueError(f"chan_merge: the counts must add up to at least 1; got {na} + {nb}")
    delta = mean_b - mean_a
    mean = mean_a + delta * (nb / n)
    cross = np.outer(delta, delta) if np.ndim(m2_a) == 2 or np.ndim(m2_b) == 2 else delta ** 2
    m2 = m2_a + m2_b + cross * (na * nb / n)
    return n, mean, m2


def gaussian_stats(features: Any, *, name: str = "features") -> GaussianStats:
    """Mean and unbiased covariance (float64) of an ``(N, D)`` feature array with N >= 2; errors (shape,
    NaN/Inf rows, overflow) name the array ``name``."""
    x = to_numpy(features)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of shape (N, D) (one row per sample); got shape {x.shape}")
    if x.shape[0] < 2:
        raise ValueError(f"{name} need at least 2 rows (samples) for a covariance; got {x.shape[0]}")
    return GaussianStats(x.shape[1])._add(x, name, name)


def as_moments(x: Any, name: str, *, finite: bool = False) -> tuple[np.ndarray, np.ndarray] | None:
    """Float64 ``(mean, cov)`` of a :class:`GaussianStats` or a ``(mean, cov)`` pair; ``None`` for anything
    else (embeddings ``(N, D)``, which the caller reduces itself). The one place such pairs are parsed.

    The pair must be real numbers of shapes ``(D,)`` and ``(D, D)`` (errors say ``{name}=(mean, cov)``);
    ``finite=True`` also refuses NaN/Inf and values beyond float64, naming ``{name} mean`` / ``{name} cov``.
    """
    if isinstance(x, GaussianStats):
        return np.asarray(x.mean, dtype=np.float64), np.asarray(x.cov, dtype=np.float64)
    if not (isinstance(x, tuple) and len(x) == 2):
        return None
    parts = []
    for v, what in zip(x, (f"{name} mean", f"{name} cov")):
        arr = to_numpy(v)
        if finite:
            arr = as_float(np.atleast_1d(arr), what, np.float64)
        else:
            check_real_numeric(np.asarray(arr), what)
        parts.append(np.asarray(arr, dtype=np.float64))
    mean, cov = parts
    if mean.ndim != 1 or cov.shape != (mean.shape[0], mean.shape[0]):
        raise ValueError(f"{name}=(mean, cov) needs shapes (D,) and (D, D); got {mean.shape} and {cov.shape}")
    return mean, cov
