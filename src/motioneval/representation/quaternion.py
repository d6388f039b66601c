"""Vectorized numpy quaternion helpers, scalar-first ``(w, x, y, z)``, broadcasting over leading axes.

Conventions (those of the HumanML3D processing code):

- ``qmul(q, r)`` is the Hamilton product ``q r`` (apply ``r`` first, then ``q``);
- ``qrot(q, v) = q v q*`` rotates vectors, ``v + 2 w (u x v) + 2 u x (u x v)`` with ``u = (x, y, z)``;
- ``qbetween(a, b)`` is the shortest-arc rotation taking the direction of ``a`` to that of ``b``:
  ``normalize(|a||b| + a.b, a x b)``;
- ``quat_to_cont6d(q)`` is the continuous 6-d rotation of Zhou et al. (CVPR 2019) as the dataset stores it:
  the first two *columns* of the rotation matrix, ``[R[:, 0], R[:, 1]]``.

All functions work in the floating dtype of their inputs (``float64`` for integer inputs).
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "qmul",
    "qconj",
    "qrot",
    "qbetween",
    "qnormalize",
    "quat_to_matrix",
    "quat_to_cont6d",
    "cont6d_to_matrix",
    "yaw_quat",
]


def _float(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    return a if np.issubdtype(a.dtype, np.floating) else a.astype(np.float64)


def qconj(q: np.ndarray) -> np.ndarray:
    """Conjugate ``(w, -x, -y, -z)``: the inverse of a unit quaternion."""
    q = _float(q)
    out = -q
    out[..., 0] = q[..., 0]
    return out


def qmul(q: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Hamilton product ``q r`` (broadcasting over leading axes)."""
    q, r = _float(q), _float(r)
    w1, x1, y1, z1 = (q[..., i] for i in range(4))
    w2, x2, y2, z2 = (r[..., i] for i in range(4))
    return np.stack(
        (
            w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
            w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
            w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
        ),
        axis=-1,
    )


def qrot(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors ``v (..., 3)`` by unit quaternions ``q (..., 4)``: ``v + 2w (u x v) + 2 u x (u x v)``."""
    q, v = _float(q), _float(v)
    u = q[..., 1:]
    uv = np.cross(u, v)
    uuv = np.cross(u, uv)
    return v + 2.0 * (q[..., :1] * uv + uuv)


def qnormalize(q: np.ndarray) -> np.ndarray:
    """``q / |q|``."""
    q = _float(q)
    result: np.ndarray = q / np.linalg.norm(q, axis=-1, keepdims=True)
    return result


def qbetween(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Shortest-arc unit quaternion rotating direction ``a`` onto direction ``b``.

    ``q = normalize(|a||b| + a.b, a x b)``. For (near-)opposite directions, where that formula is 0/0, the
    result is the half turn about an axis perpendicular to ``a`` (the reference code returns NaN there).
    """
    a, b = _float(a), _float(b)
    a, b = np.broadcast_arrays(a, b)
    w = np.sqrt(np.einsum("...i,...i->...", a, a) * np.einsum("...i,...i->...", b, b))
    w = w + np.einsum("...i,...i->...", a, b)
    q = np.concatenate([w[..., None], np.cross(a, b)], axis=-1)
    norm = np.linalg.norm(q, axis=-1, keepdims=True)
    scale = np.sqrt(np.einsum("...i,...i->...", a, a))[..., None]
    degenerate = (norm <= 1e-12 * np.maximum(scale, 1e-300)) & (scale > 0)
    if degenerate.any():
        mask = degenerate[..., 0]
        q = q.copy()
        norm = norm.copy()
        q[mask] = np.concatenate([np.zeros(a[mask].shape[:-1] + (1,), q.dtype), _perpendicular(a[mask])], axis=-1)
        norm[mask] = 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        result: np.ndarray = q / norm
        return result


def _perpendicular(a: np.ndarray) -> np.ndarray:
    """A unit vector perpendicular to each row of ``a`` (crossing with the least-aligned coordinate axis)."""
    axis = np.zeros_like(a)
    axis[np.arange(len(a)), np.argmin(np.abs(a), axis=-1)] = 1.0
    p = np.cross(a, axis)
    result: np.ndarray = p / np.linalg.norm(p, axis=-1, keepdims=True)
    return result


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` of quaternions ``(..., 4)`` (normalized on the fly: ``2 / |q|^2``)."""
    q = _float(q)
    w, x, y, z = (q[..., i] for i in range(4))
    s = 2.0 / np.einsum("...i,...i->...", q, q)
    m = np.stack(
        (
            1 - s * (y * y + z * z), s * (x * y - z * w), s * (x * z + y * w),
            s * (x * y + z * w), 1 - s * (x * x + z * z), s * (y * z - x * w),
            s * (x * z - y * w), s * (y * z + x * w), 1 - s * (x * x + y * y),
        ),
        axis=-1,
    )
    return m.reshape(q.shape[:-1] + (3, 3))


def quat_to_cont6d(q: np.ndarray) -> np.ndarray:
    """6-d rotations ``(..., 6)``: the first two columns of the rotation matrix, ``[R00 R10 R20 R01 R11 R21]``."""
    q = _float(q)
    w, x, y, z = (q[..., i] for i in range(4))
    s = 2.0 / np.einsum("...i,...i->...", q, q)
    return np.stack(
        (
            1 - s * (y * y + z * z), s * (x * y + z * w), s * (x * z - y * w),
            s * (x * y - z * w), 1 - s * (x * x + z * z), s * (y * z + x * w),
        ),
        axis=-1,
    )


def cont6d_to_matrix(d6: np.ndarray) -> np.ndarray:
    """Gram-Schmidt of a 6-d rotation back to a matrix whose first two columns span the same plane."""
    d6 = _float(d6)
    a1, a2 = d6[..., 0:3], d6[..., 3:6]
    b1 = a1 / np.linalg.norm(a1, axis=-1, keepdims=True)
    b3 = np.cross(b1, a2)
    b3 = b3 / np.linalg.norm(b3, axis=-1, keepdims=True)
    b2 = np.cross(b3, b1)
    return np.stack((b1, b2, b3), axis=-1)


def yaw_quat(half_angle: np.ndarray) -> np.ndarray:
    """Rotation about +y by ``2 * half_angle``: ``(cos h, 0, sin h, 0)``."""
    h = _float(half_angle)
    q = np.zeros(h.shape + (4,), h.dtype)
    q[..., 0] = np.cos(h)
    q[..., 2] = np.sin(h)
    return q
