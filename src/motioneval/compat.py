"""Drop-in replacements for the FID functions of the reference ``utils/metrics.py``.

Every text-to-motion code base derived from text-to-motion (Guo et al. 2022) — MDM, MoMask, T2M-GPT and their
forks — calls ``calculate_activation_statistics(activations)`` and
``calculate_frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6)``. Importing these two names from here
instead keeps every call site unchanged::

    from motioneval.compat import calculate_activation_statistics, calculate_frechet_distance

``calculate_frechet_distance`` returns the *exact* Fréchet distance (``motioneval.frechet_distance``): it never
raises "Imaginary component", never returns NaN or a negative number on finite input, and needs no
particular scipy version. Use ``motioneval.frechet_distance(..., method="reference")`` to get the reference's
own digits instead.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ._arrays import check_finite, to_numpy
from .metrics.frechet import frechet_distance

__all__ = ["calculate_activation_statistics", "calculate_frechet_distance"]


def calculate_activation_statistics(activations: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(mu, cov)`` exactly as the reference computes them: ``np.mean(activations, axis=0)`` in the input's
    dtype (float32 embeddings give a float32 mean) and ``np.cov(activations, rowvar=False)`` (float64).

    Unlike the reference, bad input raises a clear ``ValueError`` (not 2-D, fewer than 2 rows, NaN/Inf rows).
    """
    x = to_numpy(activations)
    if x.ndim != 2:
        raise ValueError(f"activations must be a 2-D array (N, D) (one row per sample); got shape {x.shape}")
    if x.shape[0] < 2:
        raise ValueError(f"activations need at least 2 rows (samples) for a covariance; got {x.shape[0]}")
    if not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"activations must be numeric; got dtype {x.dtype}")
    check_finite(x, "activations")
    mu = np.mean(x, axis=0)
    cov = np.cov(x, rowvar=False)
    return mu, cov


def calculate_frechet_distance(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any, eps: float = 1e-6) -> float:
    """Exact Fréchet distance with the reference signature (``eps`` is accepted and unused: the exact method
    needs no diagonal offset)."""
    return float(frechet_distance(mu1, sigma1, mu2, sigma2, method="exact", eps=eps))
