"""Skeletons of the two datasets: joints, kinematic chains, rest directions and processing constants.

``HUMANML3D``: 22 SMPL body joints, y up, metres, 20 fps, 263-d features. Its target skeleton (the bone
lengths every clip is retargeted to) is frame 0 of the dataset's example clip ``000021``, shipped in
``motioneval/assets/skeletons/humanml3d_target_frame.npy`` (the first 22 rows of TMR's
``skeleton_example_h3d.npy``).

``KIT``: 21 MMM joints, 12.5 fps, 251-d features. Its target frame (clip ``03950_gt``) is not distributed,
so ``KIT.target_offsets`` is ``None``: converting features back to joints works, converting KIT joints to
features needs ``KIT.with_target_frame(frame)``.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from .. import _npio
from ..constants import HUMANML3D_DATASET, KIT_DATASET
from .layout import FeatureLayout

__all__ = ["Skeleton", "HUMANML3D", "KIT", "skeleton_for_dim"]

_ASSETS = Path(__file__).resolve().parent.parent / "assets" / "skeletons"

Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class Skeleton:
    """A kinematic tree plus the constants of the HumanML3D feature processing.

    ``facing_joints = (a, b, c, d)`` are passed as the reference passes them (right hip, left hip, right
    shoulder, left shoulder for HumanML3D). The initial facing uses ``across = (p_a - p_b) + (p_c - p_d)``;
    the per-frame facing inside the inverse kinematics unpacks them differently and uses
    ``(p_b - p_a) + (p_c - p_d)``: a quirk of the released data that is reproduced.
    """

    name: str
    joint_names: tuple[str, ...]
    kinematic_chains: tuple[tuple[int, ...], ...]
    raw_offsets: tuple[Vec3, ...]  # unit bone directions in the rest pose, joint 0 = (0, 0, 0)
    target_offsets: tuple[Vec3, ...] | None  # bone vectors of the target skeleton; None: not available
    left_foot_joints: tuple[int, ...]  # contact columns 0, 1 of the contacts block
    right_foot_joints: tuple[int, ...]  # contact columns 2, 3
    facing_joints: tuple[int, int, int, int]
    leg_joints: tuple[int, int]  # leg length = max |offset| of these two joints, summed
    contact_threshold: float  # squared displacement per frame below which a foot is in contact
    fps: float

    def __post_init__(self) -> None:
        j = len(self.joint_names)
        if len(self.raw_offsets) != j:
            raise ValueError(f"skeleton {self.name}: {len(self.raw_offsets)} raw offsets for {j} joints")
        if self.target_offsets is not None and len(self.target_offsets) != j:
            raise ValueError(f"skeleton {self.name}: {len(self.target_offsets)} target offsets for {j} joints")
        seen = [0] * j
        for chain in self.kinematic_chains:
            for k in chain:
                if not 0 <= k < j:
                    raise ValueError(f"skeleton {self.name}: joint index {k} in chain {chain} out of range")
            for child in chain[1:]:
                seen[child] += 1
        bad = [k for k in range(1, j) if seen[k] != 1] + ([0] if seen[0] else [])
        if bad:
            raise ValueError(
                f"skeleton {self.name}: every joint but the root must be a chain child exactly once; "
                f"joints {bad} are not"
            )
        for k in (*self.left_foot_joints, *self.right_foot_joints, *self.facing_joints, *self.leg_joints):
            if not 0 <= k < j:
                raise ValueError(f"skeleton {self.name}: joint index {k} out of range for {j} joints")
        if len(self.left_foot_joints) + len(self.right_foot_joints) != 4:
            raise ValueError(f"skeleton {self.name}: the feature layout has exactly 4 foot-contact columns")

    # --- structure -------------------------------------------------------------------------------------
    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def layout(self) -> FeatureLayout:
        """Named slices of this skeleton's feature vector (``12 J - 1`` dims)."""
        return FeatureLayout(self.num_joints)

    @property
    def feature_dim(self) -> int:
        return self.layout.dim

    @cached_property
    def parents(self) -> tuple[int, ...]:
        """Parent of each joint (-1 for the root), read off the kinematic chains."""
        parents = [-1] * self.num_joints
        for chain in self.kinematic_chains:
            for a, b in zip(chain[:-1], chain[1:]):
                parents[b] = a
        return tuple(parents)

    @cached_property
    def chain_starts(self) -> np.ndarray:
        """Boolean mask of joints that are the first child of a chain (their IK parent rotation is the root's)."""
        mask = np.zeros(self.num_joints, bool)
        for chain in self.kinematic_chains:
            if len(chain) > 1:
                mask[chain[1]] = True
        return mask

    @cached_property
    def ancestors(self) -> np.ndarray:
        """``(J, J)`` 0/1 matrix: ``A[j, k] = 1`` if bone ``k`` (joint ``k`` and its parent) lies on root -> ``j``."""
        a = np.zeros((self.num_joints, self.num_joints))
        for j in range(1, self.num_joints):
            k = j
            while k > 0:
                a[j, k] = 1.0
                k = self.parents[k]
        a.flags.writeable = False
        return a

    @cached_property
    def raw_offset_array(self) -> np.ndarray:
        """``(J, 3)`` float64 rest directions."""
        return _frozen(np.asarray(self.raw_offsets, dtype=np.float64))

    @cached_property
    def target_offset_array(self) -> np.ndarray:
        """``(J, 3)`` float64 target bone vectors; raises if this skeleton has none."""
        if self.target_offsets is None:
            raise ValueError(
                f"skeleton {self.name!r} has no target skeleton (its example frame is not distributed), so joint "
                f"positions cannot be retargeted to features; use skeleton.with_target_frame(frame) with a (J, 3) "
                f"frame of the dataset's example clip"
            )
        return _frozen(np.asarray(self.target_offsets, dtype=np.float64))

    # --- construction ----------------------------------------------------------------------------------
    def offsets_from_frame(self, frame: Any) -> np.ndarray:
        """Bone vectors of a ``(J, 3)`` frame: ``raw_offset[j] * |p[j] - p[parent(j)]|`` (root: zeros)."""
        p = np.asarray(frame, dtype=np.float64)
        if p.shape != (self.num_joints, 3):
            raise ValueError(f"skeleton {self.name}: expected a ({self.num_joints}, 3) frame, got shape {p.shape}")
        parents = np.array(self.parents)
        lengths = np.zeros(self.num_joints)
        lengths[1:] = np.linalg.norm(p[1:] - p[parents[1:]], axis=-1)
        return self.raw_offset_array * lengths[:, None]

    def with_target_frame(self, frame: Any) -> "Skeleton":
        """A copy whose target skeleton is built from ``frame`` (``(J, 3)`` positions), as the dataset did."""
        offsets = self.offsets_from_frame(frame)
        return dataclasses.replace(self, target_offsets=_as_vec3_tuple(offsets))

    @classmethod
    def for_dim(cls, dim: int) -> "Skeleton":
        """``HUMANML3D`` for 263-d features, ``KIT`` for 251-d."""
        return skeleton_for_dim(dim)


def skeleton_for_dim(dim: int) -> Skeleton:
    """The shipped skeleton whose feature dimension is ``dim`` (263 -> HumanML3D, 251 -> KIT-ML)."""
    for skel in (HUMANML3D, KIT):
        if skel.feature_dim == dim:
            return skel
    raise ValueError(
        f"features with {dim} dims match no known skeleton ({HUMANML3D.feature_dim}: HumanML3D, {KIT.feature_dim}: "
        "KIT-ML); pass skeleton= explicitly"
    )


def skeleton_for_joints(num_joints: int, *, hint: str = "") -> Skeleton:
    """The shipped skeleton with ``num_joints`` joints (22 -> HumanML3D, 21 -> KIT-ML); never guesses: another
    count is a ``ValueError`` (``hint`` is appended to its message, e.g. what ``skeleton=`` may be)."""
    for skel in (HUMANML3D, KIT):
        if skel.num_joints == num_joints:
            return skel
    raise ValueError(f"no default skeleton: no known skeleton has {num_joints} joints (HumanML3D: "
                     f"{HUMANML3D.num_joints}, KIT-ML: {KIT.num_joints}); pass skeleton={hint}")


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def _as_vec3_tuple(a: np.ndarray | Sequence[Sequence[float]]) -> tuple[Vec3, ...]:
    return tuple((float(x), float(y), float(z)) for x, y, z in np.asarray(a, dtype=np.float64))


# --- HumanML3D ---------------------------------------------------------------------------------------------
_H3D_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle",
    "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
)
_H3D_CHAINS = ((0, 2, 5, 8, 11), (0, 1, 4, 7, 10), (0, 3, 6, 9, 12, 15), (9, 14, 17, 19, 21), (9, 13, 16, 18, 20))
_X, _NX, _Y, _NY, _Z, _O = (1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, 0)
_H3D_RAW = (_O, _X, _NX, _Y, _NY, _NY, _Y, _NY, _NY, _Y, _Z, _Z, _Y, _X, _NX, _Z, _NY, _NY, _NY, _NY, _NY, _NY)

_H3D_BASE = Skeleton(
    name="humanml3d",
    joint_names=_H3D_NAMES,
    kinematic_chains=_H3D_CHAINS,
    raw_offsets=_as_vec3_tuple(_H3D_RAW),
    target_offsets=None,
    left_foot_joints=(7, 10),
    right_foot_joints=(8, 11),
    facing_joints=(2, 1, 17, 16),
    leg_joints=(5, 8),
    contact_threshold=0.002,
    fps=HUMANML3D_DATASET.fps,
)
HUMANML3D: Skeleton = _H3D_BASE.with_target_frame(
    _npio.load(_ASSETS / "humanml3d_target_frame.npy", allow_pickle=False)
)

# --- KIT-ML (MMM joint names; chains, rest directions and constants as the dataset's processing used) -----
_KIT_NAMES = (
    "root", "BP", "BT", "BLN", "BUN", "LS", "LE", "LW", "RS", "RE", "RW",
    "LH", "LK", "LA", "LMrot", "LF", "RH", "RK", "RA", "RMrot", "RF",
)
_KIT_CHAINS = ((0, 11, 12, 13, 14, 15), (0, 16, 17, 18, 19, 20), (0, 1, 2, 3, 4), (3, 5, 6, 7), (3, 8, 9, 10))
_KIT_RAW = (_O, _Y, _Y, _Y, _Y, _X, _NY, _NY, _NX, _NY, _NY, _X, _NY, _NY, _Z, _Z, _NX, _NY, _NY, _Z, _Z)

KIT: Skeleton = Skeleton(
    name="kit",
    joint_names=_KIT_NAMES,
    kinematic_chains=_KIT_CHAINS,
    raw_offsets=_as_vec3_tuple(_KIT_RAW),
    target_offsets=None,
    left_foot_joints=(19, 20),
    right_foot_joints=(14, 15),
    facing_joints=(11, 16, 5, 8),
    leg_joints=(17, 18),
    contact_threshold=0.05,
    fps=KIT_DATASET.fps,
)
