"""Random number sources for the sampled metrics (diversity, multimodality, KID subsets, FID-infinity).

The reference code draws its indices from NumPy's *global legacy* ``RandomState``. To reproduce its
numbers an implementation must use the same stream, so the conventions here are:

- ``None``: NumPy's global legacy ``RandomState`` (what the reference uses): ``np.random.seed(s)`` followed
  by a metric call gives the reference's draws;
- an ``int`` seed ``s``: a fresh ``numpy.random.RandomState(s)``, i.e. the same draws as the reference
  after ``np.random.seed(s)``, without touching the global state;
- a ``numpy.random.RandomState`` or ``numpy.random.Generator``: used as given (and advanced).

Both generator kinds offer ``choice(n, k, replace=False)``, the only draw the metrics need.
"""
from __future__ import annotations

import numbers

import numpy as np

RNGLike = int | np.integer | np.random.Generator | np.random.RandomState | None


def as_rng(rng: RNGLike = None) -> np.random.Generator | np.random.RandomState:
    """Return a generator for ``rng`` following the module's conventions (see the module docstring)."""
    if rng is None:
        return np.random.mtrand._rand  # the global legacy state behind np.random.seed / np.random.choice
    if isinstance(rng, (np.random.Generator, np.random.RandomState)):
        return rng
    if isinstance(rng, bool) or not isinstance(rng, numbers.Integral):
        raise TypeError(
            "rng must be None, an int seed, a numpy.random.Generator or a numpy.random.RandomState; "
            f"got {type(rng).__name__}"
        )
    if rng < 0:
        raise ValueError(f"rng seed must be a non-negative integer; got {rng}")
    return np.random.RandomState(int(rng))


def choice_without_replacement(rng: np.random.Generator | np.random.RandomState, n: int, k: int) -> np.ndarray:
    """``k`` distinct indices from ``0..n-1``; the same call as the reference's ``np.random.choice``."""
    return np.asarray(rng.choice(n, k, replace=False), dtype=np.int64)
