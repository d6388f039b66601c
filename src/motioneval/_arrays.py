"""Input conversion and validation shared by the numeric core.

Errors name the argument, the offending rows and what to do, in the style of scikit-learn's checks.
Torch tensors are accepted without importing torch (anything with ``.detach().cpu().numpy()``).

Scale robustness. Metrics that are scale-equivariant (distances) or that can be factored by a scale
(kernels, moments) are evaluated on inputs multiplied by an exact power of two ``2**-e`` chosen by
:func:`pow2_exponent`, and the result is multiplied back by ``2**e`` with :func:`ldexp_checked`. Scaling
by a power of two is exact in binary floating point (barring subnormals), so the scaled route gives the
ordinary route's digits, scaled, whenever the ordinary route would not overflow or underflow. Inputs whose
magnitude lies inside the ordinary window keep ``e = 0`` and are computed exactly as before.
"""
from __future__ import annotations

from typing import Any

import numpy as np

#: ``max |x|`` window (as powers of two) inside which float32 expanded-form distances neither overflow nor
#: lose digits to subnormals: squares stay within ``[2**-80, 2**80]`` (float32 spans ``2**-126 .. 2**128``).
FLOAT32_WINDOW = (-40, 40)
#: The same for float64 computations (float64 spans ``2**-1022 .. 2**1024``).
FLOAT64_WINDOW = (-200, 200)


def to_numpy(x: Any) -> np.ndarray:
    """Convert numpy arrays, array-likes and torch tensors (any device) to a numpy array."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def as_lengths(lengths: Any, name: str) -> np.ndarray:
    """``lengths`` (numpy, torch or a list) as a 1-D int64 array; whole-number floats are accepted."""
    arr = to_numpy(lengths)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array (one length per row); got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} must be whole numbers")
    return arr.astype(np.int64)


def gather_rows(x: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The first ``sizes[r]`` frames of every row of ``x`` ``(N, T, D)``, concatenated as float64 ``(sum, D)``
    (slice copies: contiguous, faster than a boolean-mask gather)."""
    out = np.empty((int(np.sum(sizes)), x.shape[2]), np.float64)
    pos = 0
    for r, k in enumerate(np.asarray(sizes).tolist()):
        out[pos:pos + k] = x[r, :k]
        pos += k
    return out


def scatter_rows(values: np.ndarray, sizes: np.ndarray, out: np.ndarray) -> None:
    """Inverse of :func:`gather_rows` into ``out`` (cast to its dtype, as ``astype`` rounds)."""
    pos = 0
    for r, k in enumerate(np.asarray(sizes).tolist()):
        out[r, :k] = values[pos:pos + k]
        pos += k


def nonfinite_rows(x: np.ndarray) -> np.ndarray:
    """Indices of rows (first axis) that contain NaN or +-Inf."""
    bad = ~np.isfinite(x)
    if bad.ndim > 1:
        bad = bad.reshape(bad.shape[0], -1).any(axis=1)
    return np.flatnonzero(bad)


def _rows_text(rows: np.ndarray, what: str) -> str:
    shown = ", ".join(str(int(i)) for i in rows[:10])
    more = f" and {len(rows) - 10} more" if len(rows) > 10 else ""
    return f"{len(rows)} {what}(s): {what} index {shown}{more}"


def check_finite(x: np.ndarray, name: str, *, what: str = "row") -> None:
    """Raise ``ValueError`` naming the first offending rows if ``x`` has NaN/Inf."""
    if np.isfinite(x).all():
        return
    rows = nonfinite_rows(x)
    raise ValueError(
        f"{name} contains NaN or Inf in {_rows_text(rows, what)}. "
        f"Remove or regenerate these {what}s before computing metrics."
    )


def check_real_numeric(arr: np.ndarray, name: str, *, what: str = "row") -> None:
    """Refuse complex, non-numeric (object, string) and datetime arrays with a ``ValueError`` naming ``name``.

    Complex input is never cast silently (NumPy would drop the imaginary part): the error names the rows
    with a non-zero imaginary part and says to pass ``x.real`` explicitly.
    """
    if np.iscomplexobj(arr):
        bad = arr.imag != 0
        if bad.ndim > 1:
            bad = bad.reshape(bad.shape[0], -1).any(axis=1) if bad.shape[0] else np.zeros(0, dtype=bool)
        rows = np.flatnonzero(bad)
        detail = (f"non-zero imaginary parts in {_rows_text(rows, what)}" if rows.size
                  else "all imaginary parts are zero")
        raise ValueError(
            f"{name} is complex (dtype {arr.dtype}; {detail}); metrics need real values. "
            f"Pass the real part explicitly (e.g. {name}.real) if the imaginary part is meaningless."
        )
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{name} must be numeric; got dtype {arr.dtype}")


def as_float(arr: np.ndarray, name: str, dtype: Any = np.float64, *, what: str = "row") -> np.ndarray:
    """Validate a real numeric array and cast it to ``dtype``; name the rows that are NaN/Inf or overflow.

    ``dtype=None`` keeps float32/float64 (and casts other numbers to float64). Finite values too large for
    ``dtype`` (e.g. float64 ``1e39`` cast to float32, or a long double ``1e400``) are reported as an
    *overflow*, not as NaN/Inf; NaN/Inf already in the input are reported as such.
    """
    check_real_numeric(arr, name, what=what)
    if dtype is None:
        dtype = arr.dtype if arr.dtype in (np.float32, np.float64) else np.float64
    dtype = np.dtype(dtype)
    if arr.dtype.kind == "f":
        check_finite(arr, name, what=what)  # NaN/Inf in the input itself, before any cast
    with np.errstate(over="ignore", invalid="ignore"):
        out = arr.astype(dtype, copy=False)
    if out is not arr and out.dtype.kind == "f" and not np.isfinite(out).all():  # (no cast: checked above)
        rows = nonfinite_rows(out)
        flat = np.abs(arr.reshape(arr.shape[0], -1)[rows[0]] if arr.ndim > 1 else arr[rows[0]])
        biggest = flat.max() if np.ndim(flat) else flat
        raise ValueError(
            f"{name} has values too large for {dtype} (overflow, |x| up to {float(np.float64(biggest)):.3g} > "
            f"{float(np.finfo(dtype).max):.3g}) in {_rows_text(rows, what)}. These are finite but not "
            f"representable in {dtype}; check the producer of these values or rescale them."
        )
    return out


def as_2d_features(x: Any, name: str, *, min_rows: int = 1, dtype: Any = np.float64) -> np.ndarray:
    """Validate an ``(N, D)`` feature array: 2-D, at least ``min_rows`` rows, real, finite; cast to ``dtype``.

    ``dtype=None`` keeps float32/float64 input as it is (other numbers become float64); use it when the
    caller factors the scale out itself before a narrower cast. Complex input is refused, and values that
    overflow ``dtype`` are reported as an overflow (see :func:`as_float`).
    """
    arr = to_numpy(x)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of shape (N, D) (one row per sample); got shape {arr.shape}")
    if arr.shape[0] < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} rows (samples); got {arr.shape[0]}")
    if arr.shape[1] < 1:
        raise ValueError(f"{name} has no feature columns (shape {arr.shape})")
    return as_float(arr, name, dtype)


def max_abs(*arrays: np.ndarray) -> float:
    """``max |x|`` over all the arrays as a float64 (0.0 when all are empty)."""
    best = 0.0
    for a in arrays:
        if a.size:  # max(-min, max) rather than max(abs): no temporary array
            best = max(best, -float(np.min(a)), float(np.max(a)))
    return best


def pow2_exponent(magnitude: float, window: tuple[int, int] = FLOAT64_WINDOW) -> int:
    """Exponent ``e`` such that ``magnitude * 2**-e`` lies in ``[0.5, 1)``, or 0 when ``magnitude`` is 0
    or already inside ``[2**window[0], 2**window[1]]`` (the ordinary route is then kept, bit for bit)."""
    if magnitude == 0.0 or not np.isfinite(magnitude):
        return 0
    if 2.0 ** window[0] <= magnitude <= 2.0 ** window[1]:
        return 0
    return int(np.frexp(magnitude)[1])


def scale_pow2(x: np.ndarray, e: int) -> np.ndarray:
    """``x * 2**-e`` exactly (a power-of-two scaling; the dtype is kept). Returns ``x`` itself for ``e = 0``."""
    if e == 0:
        return x
    return np.ldexp(x, np.int32(-e)).astype(x.dtype, copy=False)


def ldexp_checked(value: Any, e: Any, what: str, *, dtype: Any = np.float64) -> Any:
    """``value * 2**e`` in ``dtype``; raise ``ValueError`` saying *overflow* when the result is not finite.

    Used to undo :func:`scale_pow2` on a result computed at unit scale; ``what`` names the quantity.
    """
    arr = np.asarray(value, dtype=dtype)
    exps = np.asarray(e, dtype=np.int32)
    if exps.any():
        with np.errstate(over="ignore", under="ignore"):
            arr = np.ldexp(arr, exps).astype(dtype, copy=False)
    if not np.isfinite(arr).all():
        raise ValueError(
            f"{what} overflows {np.dtype(dtype)} (the value at unit scale is "
            f"{float(np.max(np.abs(np.asarray(value, dtype=np.float64)))):.6g} times 2**{int(np.max(exps))}): the input "
            f"magnitude is too large for the result to be representable. Rescale the inputs."
        )
    return arr


#: Exponent given to all-zero rows by :func:`row_exponents`: far below any float's, so that a zero row never
#: sets the scale of a pair (``ldexp`` of anything by it is 0).
ZERO_ROW_EXPONENT = -(1 << 20)


def row_exponents(x: np.ndarray) -> np.ndarray:
    """Binary exponents ``e`` (int32) with ``max |x[..., :]| * 2**-e`` in ``[0.5, 1)`` per row (last axis);
    :data:`ZERO_ROW_EXPONENT` for all-zero rows."""
    if x.shape[-1] == 0:
        return np.full(x.shape[:-1], ZERO_ROW_EXPONENT, dtype=np.int32)
    mag = np.maximum(np.max(x, axis=-1), -np.min(x, axis=-1))
    exps = np.frexp(mag.astype(np.float64, copy=False))[1].astype(np.int32)
    exps[mag == 0] = ZERO_ROW_EXPONENT
    return exps


def pair_norms(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``|a - b|`` over the last axis (shapes broadcast) as ``mant * 2**exp`` in float64, never overflowing or
    losing the distance to subnormal squares: each pair is scaled by its larger row's power of two before the
    subtraction (no overflow), and the difference by its own before squaring (like LAPACK's ``dnrm2``).
    ``mant`` is 0 (exp 0) for identical rows, else in ``[0.5, sqrt(D))``."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    c = np.maximum(row_exponents(a), row_exponents(b))
    with np.errstate(under="ignore"):
        diff = np.ldexp(a, -c[..., None]) - np.ldexp(b, -c[..., None])
        k = row_exponents(diff)
        zero = k == ZERO_ROW_EXPONENT
        k[zero] = 0
        unit = np.ldexp(diff, -k[..., None])
        mant = np.sqrt(np.add.reduce(unit * unit, axis=-1))  # numpy.linalg.norm's own formula
    exp = np.where(zero, 0, c + k).astype(np.int32)
    return mant, exp


def mean_of_scaled(mant: np.ndarray, exp: np.ndarray, what: str) -> float:
    """``mean(mant * 2**exp)`` as a float64 computed at the largest exponent's scale (no overflow in the sum;
    terms ``2**-1000`` times smaller than the largest cannot matter); overflow of the mean is a named error."""
    mant = np.asarray(mant, dtype=np.float64)  # shape kept: np.mean sums in the same order as the caller's
    exp = np.asarray(exp, dtype=np.int32)
    if mant.size == 0:
        return float("nan")
    top = int(exp[mant != 0].max()) if np.any(mant != 0) else 0
    with np.errstate(under="ignore"):
        value = np.mean(np.ldexp(mant, exp - np.int32(top)))
    return float(ldexp_checked(value, top, what))
