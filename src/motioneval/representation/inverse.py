"""Features -> joint positions (the dataset's ``recover_from_ric``), for numpy arrays and torch tensors.

For features ``f (..., T, D)`` of a skeleton with ``J`` joints:

- root half yaw angle ``h_t = sum_{s < t} f[s, 0]`` (``h_0 = 0``), root rotation ``r_t = (cos h_t, 0, sin h_t, 0)``;
- root x/z: ``cumsum_t r_t^-1 (f[t-1, 1], 0, f[t-1, 2])`` (zero at ``t = 0``), root y: ``f[t, 3]``;
- joints ``1..J-1``: ``r_t^-1 ric_t + (root_x, 0, root_z)`` with ``ric = f[..., 4 : 4 + 3(J-1)]``.

``r^-1`` is the yaw by ``-2h``. The skeleton is inferred from ``D`` (263: HumanML3D, 251: KIT-ML) unless given.
numpy in, numpy out (computed in float64, returned in the input's floating dtype, float32 for others);
torch in, torch out on the same device and dtype (computed in float64, except on Apple MPS).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .._arrays import to_numpy
from .layout import FeatureLayout
from .skeleton import Skeleton, skeleton_for_dim

__all__ = ["features_to_joints", "recover_root"]


def features_to_joints(features: Any, skeleton: Skeleton | None = None) -> Any:
    """``(..., T, D)`` features -> ``(..., T, J, 3)`` joint positions (any leading dims, numpy or torch)."""
    layout = _layout(features, skeleton)
    if _is_torch(features):
        return _to_joints_torch(features, layout)
    arr = to_numpy(features)
    out_dtype = arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.float32
    f = arr.astype(np.float64)
    cos, sin, root = _root_numpy(f, layout)
    ric = f[..., layout.ric].reshape(f.shape[:-1] + (layout.num_joints - 1, 3))
    c, s = cos[..., None], sin[..., None]
    joints = np.empty(f.shape[:-1] + (layout.num_joints, 3), np.float64)
    joints[..., 0, :] = root
    joints[..., 1:, 0] = ric[..., 0] * c - ric[..., 2] * s + root[..., None, 0]
    joints[..., 1:, 1] = ric[..., 1]
    joints[..., 1:, 2] = ric[..., 0] * s + ric[..., 2] * c + root[..., None, 2]
    return joints.astype(out_dtype, copy=False)


def recover_root(features: Any, skeleton: Skeleton | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Root half yaw angle ``(..., T)`` and root position ``(..., T, 3)`` of numpy features (float64)."""
    layout = _layout(features, skeleton)
    f = to_numpy(features).astype(np.float64)
    half = _half_angles_numpy(f)
    _, _, root = _root_numpy(f, layout)
    return half, root


def _half_angles_numpy(f: np.ndarray) -> np.ndarray:
    half = np.zeros(f.shape[:-1], np.float64)
    np.cumsum(f[..., :-1, 0], axis=-1, out=half[..., 1:])
    return half


def _root_numpy(f: np.ndarray, layout: FeatureLayout) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    half = _half_angles_numpy(f)
    cos, sin = np.cos(2 * half), np.sin(2 * half)  # r^-1 is the yaw by -2h
    vx, vz = f[..., :-1, 1], f[..., :-1, 2]
    step = np.zeros(f.shape[:-1] + (3,), np.float64)
    step[..., 1:, 0] = vx * cos[..., 1:] - vz * sin[..., 1:]
    step[..., 1:, 2] = vx * sin[..., 1:] + vz * cos[..., 1:]
    root = np.cumsum(step, axis=-2)
    root[..., 1] = f[..., layout.root_y.start]
    return cos, sin, root


def _to_joints_torch(features: Any, layout: FeatureLayout) -> Any:
    import torch

    f = features
    if not torch.is_floating_point(f):
        f = f.float()
    dtype = f.dtype
    f64 = f.to(torch.float32 if f.device.type == "mps" else torch.float64)  # MPS has no float64
    rot_vel = f64[..., :-1, 0]
    half = torch.cat([torch.zeros_like(f64[..., :1, 0]), torch.cumsum(rot_vel, dim=-1)], dim=-1)
    cos, sin = torch.cos(2 * half), torch.sin(2 * half)
    vx, vz = f64[..., :-1, 1], f64[..., :-1, 2]
    sx = torch.cat([torch.zeros_like(half[..., :1]), vx * cos[..., 1:] - vz * sin[..., 1:]], dim=-1)
    sz = torch.cat([torch.zeros_like(half[..., :1]), vx * sin[..., 1:] + vz * cos[..., 1:]], dim=-1)
    root_x, root_z = torch.cumsum(sx, dim=-1), torch.cumsum(sz, dim=-1)
    root_y = f64[..., layout.root_y.start]
    root = torch.stack([root_x, root_y, root_z], dim=-1)
    ric = f64[..., layout.ric].reshape(f64.shape[:-1] + (layout.num_joints - 1, 3))
    c, s = cos[..., None], sin[..., None]
    others = torch.stack(
        [
            ric[..., 0] * c - ric[..., 2] * s + root_x[..., None],
            ric[..., 1],
            ric[..., 0] * s + ric[..., 2] * c + root_z[..., None],
        ],
        dim=-1,
    )
    return torch.cat([root[..., None, :], others], dim=-2).to(dtype)


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


def _layout(features: Any, skeleton: Skeleton | None) -> FeatureLayout:
    shape = tuple(features.shape) if hasattr(features, "shape") else np.shape(features)
    if len(shape) < 2:
        raise ValueError(f"features must have shape (..., T, D) with at least one frame axis; got shape {shape}")
    dim = shape[-1]
    skel = skeleton if skeleton is not None else skeleton_for_dim(dim)
    if skel.feature_dim != dim:
        raise ValueError(
            f"features have {dim} dims but skeleton {skel.name!r} ({skel.num_joints} joints) uses {skel.feature_dim}"
        )
    return skel.layout
