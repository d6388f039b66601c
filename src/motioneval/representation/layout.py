"""Named slices of the HumanML3D-style feature vector, so no code hard-codes ``4:67``.

For a skeleton with ``J`` joints a frame has ``4 + 3(J-1) + 6(J-1) + 3J + 4 = 12J - 1`` dims:

=============  =====================  ==========  ==========
group          content                HumanML3D   KIT-ML
=============  =====================  ==========  ==========
``rot_vel``    root yaw velocity      0           0
``lin_vel``    root x/z velocity      1:3         1:3
``root_y``     root height            3           3
``ric``        root-relative joints   4:67        4:64
``rot``        6-d local rotations    67:193      64:184
``local_vel``  joint velocities       193:259     184:247
``contacts``   foot contacts          259:263     247:251
=============  =====================  ==========  ==========
"""
from __future__ import annotations

from dataclasses import dataclass

from ..constants import HUMANML3D_DATASET, KIT_DATASET


@dataclass(frozen=True)
class FeatureLayout:
    """Feature layout for a skeleton with ``num_joints`` joints (22: HumanML3D 263-d, 21: KIT 251-d)."""

    num_joints: int

    @property
    def rot_vel(self) -> slice:
        return slice(0, 1)

    @property
    def lin_vel(self) -> slice:
        return slice(1, 3)

    @property
    def root_y(self) -> slice:
        return slice(3, 4)

    @property
    def root(self) -> slice:
        """All four root dims (yaw velocity, x/z velocity, height)."""
        return slice(0, 4)

    @property
    def ric(self) -> slice:
        return slice(4, 4 + 3 * (self.num_joints - 1))

    @property
    def rot(self) -> slice:
        start = self.ric.stop
        return slice(start, start + 6 * (self.num_joints - 1))

    @property
    def local_vel(self) -> slice:
        start = self.rot.stop
        return slice(start, start + 3 * self.num_joints)

    @property
    def contacts(self) -> slice:
        start = self.local_vel.stop
        return slice(start, start + 4)

    @property
    def dim(self) -> int:
        result: int = self.contacts.stop
        return result

    @property
    def evaluator_dim(self) -> int:
        """Channels the T2M movement encoder reads: everything but the 4 foot contacts (259 / 247)."""
        result: int = self.contacts.start
        return result

    def groups(self) -> dict[str, slice]:
        """Ordered name -> slice of the seven groups that the dataset statistics average over."""
        return {
            "rot_vel": self.rot_vel,
            "lin_vel": self.lin_vel,
            "root_y": self.root_y,
            "ric": self.ric,
            "rot": self.rot,
            "local_vel": self.local_vel,
            "contacts": self.contacts,
        }

    @classmethod
    def for_dim(cls, dim: int) -> "FeatureLayout":
        """The layout whose feature dimension is ``dim`` (263 -> HumanML3D, 251 -> KIT-ML)."""
        # dim = 4 + 3(J-1) + 6(J-1) + 3J + 4 = 12 J - 1
        if (dim + 1) % 12 != 0 or dim < 23:
            raise ValueError(
                f"{dim} is not a HumanML3D-style feature dimension (expected 12*J - 1 for J joints, e.g. "
                f"263 for HumanML3D or 251 for KIT-ML)"
            )
        return cls((dim + 1) // 12)


HUMANML3D_LAYOUT = FeatureLayout(HUMANML3D_DATASET.num_joints)
KIT_LAYOUT = FeatureLayout(KIT_DATASET.num_joints)
