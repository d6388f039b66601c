"""Confidence interval over replications, as the protocol reports it.

The protocol repeats the whole evaluation ``n`` times (20; MDM's MultiModality pass uses 5) and reports
``mean +- 1.96 * std / sqrt(n)`` with the *population* standard deviation (ddof = 0), per column
(e.g. per k of R-precision). ``method="student_t"`` is the better-founded variant for small ``n``:
``t_{0.975, n-1} * s / sqrt(n)`` with the sample standard deviation ``s`` (ddof = 1).

Both are scale-equivariant: a column whose largest ``|value|`` lies outside ``2**-200 .. 2**200`` (where the
squared deviations would overflow or turn subnormal) is multiplied by an exact power of two first and the
mean and half-width by its inverse after; ordinary values are computed exactly as before. Complex values
are refused by name.
"""
from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np

from motioneval._arrays import as_float, ldexp_checked, pow2_exponent, to_numpy

Z_95 = 1.96


def confidence_interval(values: Any, *, method: Literal["reference", "student_t"] = "reference"
                        ) -> tuple[float, float] | tuple[np.ndarray, np.ndarray]:
    """Mean and 95% half-width of per-replication ``values``: ``(n,)`` -> floats, ``(n, k)`` -> per column.

    ``"reference"``: ``1.96 * std(values, ddof=0) / sqrt(n)`` (the protocol's ``get_metric_statistics``);
    ``"student_t"``: ``t.ppf(0.975, n - 1) * std(values, ddof=1) / sqrt(n)``.
    """
    arr = to_numpy(values)
    if arr.ndim not in (1, 2):
        raise ValueError(
            f"values must be 1-D (one value per replication) or 2-D (replications x metrics); got shape {arr.shape}"
        )
    n = arr.shape[0]
    if n < 1:
        raise ValueError("values is empty: pass one value per replication")
    arr = as_float(arr, "values", np.float64, what="replication")
    flat = arr.reshape(n, -1)
    exps = np.array([pow2_exponent(float(np.max(np.abs(col))) if col.size else 0.0) for col in flat.T],
                    dtype=np.int32).reshape(arr.shape[1:])
    if exps.any():
        arr = np.ldexp(arr, -exps)
    mean = np.mean(arr, axis=0)
    if method == "reference":
        if n == 1:
            warnings.warn("confidence_interval of a single replication: the half-width is 0 by construction",
                          RuntimeWarning, stacklevel=2)
        std = np.std(arr, axis=0)
        half = Z_95 * std / np.sqrt(n)
    elif method == "student_t":
        if n < 2:
            raise ValueError("method='student_t' needs at least 2 replications")
        from scipy.stats import t as student_t

        half = student_t.ppf(0.975, n - 1) * np.std(arr, axis=0, ddof=1) / np.sqrt(n)
    else:
        raise ValueError(f"method must be 'reference' or 'student_t'; got {method!r}")
    if exps.any():
        mean = ldexp_checked(mean, exps, "confidence_interval mean")
        half = ldexp_checked(half, exps, "confidence_interval half-width")
    if arr.ndim == 1:
        return float(mean), float(half)
    return mean, np.asarray(half, dtype=np.float64)
