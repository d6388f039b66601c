"""Joint positions -> HumanML3D-style features, exactly as the dataset was built (``representation.md``).

For a clip ``p`` of shape ``(T, J, 3)`` (y up, metres):

1. **Retarget** to the target skeleton: every bone keeps its direction ``v_j = (p_j - p_parent) / |.|``
   and gets the target length, ``p'_j = p'_parent + |o_j| v_j`` (this is what inverse kinematics followed by
   forward kinematics with the target offsets ``o`` computes), and the root trajectory is scaled by
   ``leg(target) / leg(source)`` with ``leg = max|o_l1| + max|o_l2|`` measured on frame 0.
2. **Floor**: subtract the minimum height over all joints and frames.
3. **Origin**: move frame 0's root to x = z = 0.
4. **Facing**: rotate about y so that frame 0 faces +z; facing is ``y x across`` with
   ``across = (p_a - p_b) + (p_c - p_d)`` for ``facing_joints = (a, b, c, d)``.
   These are the *global positions*.
5. **Foot contacts**: ``|p_{t+1} - p_t|^2 < threshold`` for the left then the right foot joints.
6. **Root rotation** ``r_t``: the yaw taking the *smoothed* facing to +z, where the facing uses
   ``across = (p_b - p_a) + (p_c - p_d)`` (the hip term flipped, as in the released data), is
   Gaussian-filtered along time (sigma 20 frames, nearest edge) and ``r_0`` is forced to the identity.
7. Per row ``t = 0..T-2``: root half-angle velocity ``arcsin(y(r_{t+1} r_t^-1))``, root x/z velocity
   rotated by ``r_{t+1}``, root height, root-relative joints rotated by ``r_t``, local joint rotations as
   6-d (first two columns of the rotation matrix of ``P^-1 qbetween(rest_j, v_j)``, ``P`` the root rotation
   for the first joint of a chain, else the parent bone's ``qbetween``), joint velocities rotated by
   ``r_t``, foot contacts.

Everything is vectorized over clips, frames and joints and computed in float64 (the reference used float32;
on the reference fixtures the two agree within 3e-6 in positions and velocities and 1e-5 in the 6-d
rotations). The step functions below take one clip ``(T, J, 3)`` or a batch ``(B, T, J, 3)``. Clips of different lengths can share one padded
array through ``lengths``: frames past a clip's length are replaced by its last valid frame, which leaves
the floor, the facing and the nearest-edge smoothing of the valid frames unchanged, and output rows past
``length - 1`` are zero.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter1d

from .._arrays import to_numpy
from ..constants import HUMANML3D_DATASET
from .quaternion import qbetween, qconj, qmul, quat_to_cont6d, yaw_quat
from .skeleton import HUMANML3D, Skeleton

__all__ = [
    "ProcessedMotion",
    "joints_to_features",
    "process_joints",
    "retarget",
    "canonicalize",
    "foot_contacts",
    "root_half_angles",
    "FACING_SMOOTHING_SIGMA",
]

FACING_SMOOTHING_SIGMA = 20.0  # frames, Gaussian filter of the facing direction inside the IK
_CHUNK = 32  # clips processed at once: bounds memory (~10 MB per array) and stays cache-friendly


@dataclass(frozen=True)
class ProcessedMotion:
    """Features and the intermediates of the forward processing (leading batch axis only for batched input).

    - ``features``: ``(..., T-1, D)`` float32;
    - ``global_positions``: ``(..., T, J, 3)`` after retargeting, floor, origin and facing (float32);
    - ``local_positions``: ``(..., T, J, 3)`` root-relative in x/z and rotated by the root rotation (float32);
    - ``root_velocity``: ``(..., T-1, 2)`` root x/z velocity in the facing frame of ``t+1`` (float32);
    - ``root_half_angle``: ``(..., T)`` float64 half yaw angle of the root rotation ``r_t`` (``r_0 = 0``);
    - ``lengths``: ``(B,)`` frame counts (``None`` for an unbatched clip).
    """

    features: np.ndarray
    global_positions: np.ndarray
    local_positions: np.ndarray
    root_velocity: np.ndarray
    root_half_angle: np.ndarray
    lengths: np.ndarray | None


def joints_to_features(joints: Any, skeleton: Skeleton = HUMANML3D, *, lengths: Any = None) -> np.ndarray:
    """Joint positions ``(T, J, 3)`` or ``(B, T, J, 3)`` -> features ``(T-1, D)`` / ``(B, T-1, D)`` float32.

    ``lengths`` (batched input only): valid frames per clip; rows at or past ``length - 1`` are zero.
    Raises ``ValueError`` naming the clip (and frame) for NaN/Inf input or degenerate poses (coincident
    joints, a vertical facing direction), for which the reference code would silently produce NaN.
    """
    return process_joints(joints, skeleton, lengths=lengths).features


def process_joints(joints: Any, skeleton: Skeleton = HUMANML3D, *, lengths: Any = None) -> ProcessedMotion:
    """The full forward processing, returning the features and its intermediates (see ``ProcessedMotion``)."""
    p, lens, batched = _validate(joints, skeleton, lengths)
    with np.errstate(invalid="ignore", divide="ignore"):  # degenerate poses are reported by _check_output
        parts = [
            _process_chunk(p[i : i + _CHUNK], lens[i : i + _CHUNK], skeleton, i) for i in range(0, len(p), _CHUNK)
        ]
    fields = [np.concatenate([part[k] for part in parts], axis=0) for k in range(5)]
    if not batched:
        fields = [f[0] for f in fields]
    features, global_positions, local_positions, root_velocity, root_half_angle = fields
    return ProcessedMotion(features, global_positions, local_positions, root_velocity, root_half_angle,
                           lengths=lens if batched else None)


# --- the steps ------------------------------------------------------------------------------------------------
def _clipwise(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """Let a step take one clip ``(T, J, 3)`` as well as a batch ``(B, T, J, 3)``; computes in float64."""

    @functools.wraps(fn)
    def wrapper(positions: Any, skeleton: Skeleton = HUMANML3D) -> np.ndarray:
        arr = np.asarray(to_numpy(positions), dtype=np.float64)
        if arr.ndim == 3:
            result: np.ndarray = fn(arr[None], skeleton)[0]
            return result
        if arr.ndim != 4 or arr.shape[-1] != 3:
            raise ValueError(f"positions must have shape (T, J, 3) or (B, T, J, 3); got {arr.shape}")
        return fn(arr, skeleton)

    return wrapper


@_clipwise
def retarget(joints: np.ndarray, skeleton: Skeleton = HUMANML3D) -> np.ndarray:
    """Step 1: keep bone directions, take the target bone lengths, scale the root path by the leg ratio."""
    parents = np.asarray(skeleton.parents)
    raw = skeleton.raw_offset_array
    target = skeleton.target_offset_array
    bones = joints[:, :, 1:] - joints[:, :, parents[1:]]  # (B, T, J-1, 3)
    with np.errstate(invalid="ignore", divide="ignore"):
        dirs = bones / np.linalg.norm(bones, axis=-1, keepdims=True)
    l1, l2 = skeleton.leg_joints
    src_len = np.linalg.norm(bones[:, 0], axis=-1)  # (B, J-1), frame 0
    src_leg = np.abs(raw[l1]).max() * src_len[:, l1 - 1] + np.abs(raw[l2]).max() * src_len[:, l2 - 1]
    tgt_leg = np.abs(target[l1]).max() + np.abs(target[l2]).max()
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = tgt_leg / src_leg  # (B,)
    segments = dirs * np.linalg.norm(target[1:], axis=-1)[:, None]
    out = np.empty_like(joints)
    out[:, :, 0] = joints[:, :, 0] * scale[:, None, None]
    for j in _topological_order(skeleton):
        out[:, :, j] = out[:, :, parents[j]] + segments[:, :, j - 1]
    return out


@_clipwise
def canonicalize(positions: np.ndarray, skeleton: Skeleton = HUMANML3D) -> np.ndarray:
    """Steps 2-4: floor at y = 0, frame-0 root at x = z = 0, frame 0 facing +z."""
    p = positions.copy()
    p[..., 1] -= p[..., 1].min(axis=(1, 2))[:, None, None]
    p[..., 0] -= p[:, :1, :1, 0]
    p[..., 2] -= p[:, :1, :1, 2]
    a, b, c, d = skeleton.facing_joints
    first = p[:, 0]
    across = (first[:, a] - first[:, b]) + (first[:, c] - first[:, d])  # (B, 3)
    cos, sin = _facing_yaw(across)  # yaw that maps the facing onto +z
    return _rotate_y(p, cos[:, None, None], sin[:, None, None])


@_clipwise
def foot_contacts(positions: np.ndarray, skeleton: Skeleton = HUMANML3D) -> np.ndarray:
    """Step 5: ``(..., T-1, 4)`` 0/1 contacts, left foot joints then right foot joints."""
    feet = list(skeleton.left_foot_joints) + list(skeleton.right_foot_joints)
    disp = positions[:, 1:, feet] - positions[:, :-1, feet]
    result: np.ndarray = ((disp**2).sum(axis=-1) < skeleton.contact_threshold).astype(np.float64)
    return result


@_clipwise
def root_half_angles(positions: np.ndarray, skeleton: Skeleton = HUMANML3D) -> np.ndarray:
    """Step 6: ``(..., T)`` half yaw angles ``h_t`` of the root rotation ``r_t = (cos h, 0, sin h, 0)``; ``h_0 = 0``."""
    a, b, c, d = skeleton.facing_joints
    across = (positions[:, :, b] - positions[:, :, a]) + (positions[:, :, c] - positions[:, :, d])
    with np.errstate(invalid="ignore", divide="ignore"):
        across = across / np.linalg.norm(across, axis=-1, keepdims=True)
    # forward = y x across = (a_z, 0, -a_x), smoothed along time
    forward = np.stack([across[..., 2], -across[..., 0]], axis=-1)  # (B, T, 2): x, z
    forward = gaussian_filter1d(forward, FACING_SMOOTHING_SIGMA, axis=1, mode="nearest")
    half = 0.5 * np.arctan2(-forward[..., 0], forward[..., 1])
    half[:, 0] = 0.0
    result: np.ndarray = half
    return result


# --- implementation -------------------------------------------------------------------------------------------
def _process_chunk(p: np.ndarray, lens: np.ndarray, skel: Skeleton, offset: int) -> tuple[np.ndarray, ...]:
    nb, nt, nj, _ = p.shape
    parents = np.asarray(skel.parents)
    g = canonicalize(retarget(p, skel), skel)
    contacts = foot_contacts(g, skel)
    half = root_half_angles(g, skel)
    cos, sin = np.cos(2 * half), np.sin(2 * half)

    root = g[:, :, 0]
    dv = root[:, 1:] - root[:, :-1]
    root_vel = np.stack(
        [dv[..., 0] * cos[:, 1:] + dv[..., 2] * sin[:, 1:], -dv[..., 0] * sin[:, 1:] + dv[..., 2] * cos[:, 1:]],
        axis=-1,
    )
    rot_vel = np.arcsin(np.sin(half[:, 1:] - half[:, :-1]))

    centred = g.copy()
    centred[..., 0] -= root[:, :, None, 0]
    centred[..., 2] -= root[:, :, None, 2]
    local = _rotate_y(centred, cos[:, :, None], sin[:, :, None])
    local_vel = _rotate_y(g[:, 1:] - g[:, :-1], cos[:, :-1, None], sin[:, :-1, None])

    # local rotations of joints 1..J-1 on frames 0..T-2
    gv = g[:, :-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        bone_rot = qbetween(skel.raw_offset_array[1:], gv[:, :, 1:] - gv[:, :, parents[1:]])  # (B, T-1, J-1, 4)
    world = np.concatenate([yaw_quat(half[:, :-1])[:, :, None], bone_rot], axis=2)  # index 0: the root
    ik_parent = np.where(skel.chain_starts, 0, parents)[1:]
    local_rot = qmul(qconj(world[:, :, ik_parent]), bone_rot)
    rot6d = quat_to_cont6d(local_rot)

    layout = skel.layout
    feats = np.empty((nb, nt - 1, layout.dim), np.float64)
    feats[..., layout.rot_vel] = rot_vel[..., None]
    feats[..., layout.lin_vel] = root_vel
    feats[..., layout.root_y] = root[:, :-1, 1:2]
    feats[..., layout.ric] = local[:, :-1, 1:].reshape(nb, nt - 1, -1)
    feats[..., layout.rot] = rot6d.reshape(nb, nt - 1, -1)
    feats[..., layout.local_vel] = local_vel.reshape(nb, nt - 1, -1)
    feats[..., layout.contacts] = contacts

    _check_output(feats, lens, offset)
    rows = np.arange(nt - 1)[None, :] < (lens - 1)[:, None]
    frames = np.arange(nt)[None, :] < lens[:, None]
    feats *= rows[:, :, None]
    out = (
        feats.astype(np.float32),
        (g * frames[:, :, None, None]).astype(np.float32),
        (local * frames[:, :, None, None]).astype(np.float32),
        (root_vel * rows[:, :, None]).astype(np.float32),
        half * frames,
    )
    return out


def _facing_yaw(across: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``cos, sin`` of the yaw rotating the facing ``y x across`` onto +z (``theta = atan2(-f_x, f_z)``)."""
    fx, fz = across[..., 2], -across[..., 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = np.hypot(fx, fz)
        return fz / norm, -fx / norm


def _rotate_y(v: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    """Rotate ``(..., 3)`` vectors about +y: ``x' = x cos + z sin``, ``z' = -x sin + z cos``."""
    out = np.empty_like(v)
    x, z = v[..., 0], v[..., 2]
    out[..., 0] = x * cos + z * sin
    out[..., 1] = v[..., 1]
    out[..., 2] = z * cos - x * sin
    return out


def _topological_order(skel: Skeleton) -> list[int]:
    order: list[int] = []
    for chain in skel.kinematic_chains:
        order.extend(chain[1:])
    # chains may start at a joint set by a later chain: sort by depth
    depth = skel.ancestors.sum(axis=1)
    return sorted(order, key=lambda j: depth[j])


def _validate(joints: Any, skel: Skeleton, lengths: Any) -> tuple[np.ndarray, np.ndarray, bool]:
    arr = to_numpy(joints)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number)):
        raise ValueError(f"joints must be a numeric array of shape (T, J, 3) or (B, T, J, 3); got dtype {arr.dtype}")
    if arr.ndim not in (3, 4) or arr.shape[-1] != 3:
        raise ValueError(
            f"joints must have shape (T, J, 3) or (B, T, J, 3) (positions in metres, y up); got shape {arr.shape}"
        )
    batched = arr.ndim == 4
    p = arr.astype(np.float64)[None] if not batched else arr.astype(np.float64)
    nb, nt, nj, _ = p.shape
    if nj != skel.num_joints:
        hint = (
            "; if these are SMPL/SMPL-H joints, HumanML3D uses the first 22: pass joints[..., :22, :]"
            if skel.num_joints == HUMANML3D_DATASET.num_joints and nj > skel.num_joints
            else ""
        )
        raise ValueError(f"skeleton {skel.name!r} has {skel.num_joints} joints but the joints array has {nj}{hint}")
    if lengths is None:
        lens = np.full(nb, nt, dtype=np.int64)
    else:
        if not batched:
            raise ValueError("lengths= applies to batched input (B, T, J, 3) only")
        lens = np.asarray(to_numpy(lengths)).astype(np.int64).reshape(-1)
        if lens.shape != (nb,):
            raise ValueError(f"lengths has {lens.size} entries for {nb} clips")
        bad = np.flatnonzero((lens < 2) | (lens > nt))
        if bad.size:
            raise ValueError(
                f"lengths must be in [2, {nt}] (a clip needs 2 frames for one feature row); clip(s) "
                f"{bad[:10].tolist()} have {lens[bad[:10]].tolist()}"
            )
    if nt < 2:
        raise ValueError(f"a clip needs at least 2 frames to give one feature row; got {nt}")
    valid = np.arange(nt)[None, :] < lens[:, None]
    finite = np.isfinite(p).all(axis=(2, 3)) | ~valid
    if not finite.all():
        clips = np.flatnonzero(~finite.all(axis=1))
        first = [int(np.argmin(finite[c])) for c in clips[:10]]
        detail = ", ".join(f"clip {c} (frame {f})" for c, f in zip(clips[:10].tolist(), first))
        raise ValueError(
            f"joints contain NaN or Inf in {clips.size} clip(s): {detail}. Remove or regenerate these clips."
        )
    if (lens < nt).any():  # edge-pad every clip past its length with its last valid frame
        idx = np.minimum(np.arange(nt)[None, :], (lens - 1)[:, None])
        p = np.take_along_axis(p, idx[:, :, None, None], axis=1)
    return p, lens, batched


def _check_output(feats: np.ndarray, lens: np.ndarray, offset: int) -> None:
    rows = np.arange(feats.shape[1])[None, :] < (lens - 1)[:, None]
    ok = np.isfinite(feats).all(axis=-1) | ~rows
    if ok.all():
        return
    clips = np.flatnonzero(~ok.all(axis=1))
    detail = ", ".join(f"clip {c + offset} (row {int(np.argmin(ok[c]))})" for c in clips[:10].tolist())
    raise ValueError(
        f"{clips.size} clip(s) have degenerate poses (coincident joints, a zero-length bone or a vertical "
        f"facing direction) that give undefined features: {detail}. Check or drop these clips."
    )
