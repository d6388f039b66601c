"""Skeletons: constants against the reference fixture, target offsets, structure, validation."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import motioneval
from motioneval.representation.layout import HUMANML3D_LAYOUT, KIT_LAYOUT
from motioneval.representation.skeleton import HUMANML3D, KIT, Skeleton, skeleton_for_dim


def _chains(padded: np.ndarray) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(int(j) for j in row if j >= 0) for row in padded)


def test_humanml3d_constants_match_reference(representation_ref):
    ref = representation_ref
    assert HUMANML3D.num_joints == 22 and HUMANML3D.fps == 20.0
    assert HUMANML3D.layout == HUMANML3D_LAYOUT and HUMANML3D.feature_dim == 263
    np.testing.assert_array_equal(HUMANML3D.raw_offset_array, ref["t2m_raw_offsets"])
    assert HUMANML3D.kinematic_chains == _chains(ref["t2m_kinematic_chain"])
    assert HUMANML3D.facing_joints == tuple(ref["face_joint_indx"].tolist())
    assert HUMANML3D.left_foot_joints == tuple(ref["fid_l"].tolist())
    assert HUMANML3D.right_foot_joints == tuple(ref["fid_r"].tolist())
    assert HUMANML3D.leg_joints == tuple(ref["l_idx"].tolist())
    assert HUMANML3D.contact_threshold == float(ref["feet_thre"])


def test_kit_constants_match_reference(representation_ref):
    ref = representation_ref
    assert KIT.num_joints == 21 and KIT.fps == 12.5 and KIT.contact_threshold == 0.05
    assert KIT.layout == KIT_LAYOUT and KIT.feature_dim == 251
    np.testing.assert_array_equal(KIT.raw_offset_array, ref["kit_raw_offsets"])
    assert KIT.kinematic_chains == _chains(ref["kit_kinematic_chain"])


def test_target_offsets_from_shipped_frame(representation_ref):
    ref = representation_ref
    # the packaged frame is the first 22 rows of TMR's example file, bit for bit
    frame = np.load(motioneval.representation.skeleton._ASSETS / "humanml3d_target_frame.npy")
    np.testing.assert_array_equal(frame, ref["target_example_frame"])
    np.testing.assert_array_equal(frame, ref["target_example_frame_full52"][:22])
    # the reference stores its offsets in float32: agreement to float32 rounding
    np.testing.assert_allclose(HUMANML3D.target_offset_array, ref["tgt_offsets"], rtol=0, atol=1e-7)
    # independent check: offset j = rest direction j times |p_j - p_parent(j)|
    for j, parent in enumerate(HUMANML3D.parents):
        if parent < 0:
            continue
        length = np.sqrt(sum((frame[j, c] - frame[parent, c]) ** 2 for c in range(3)))
        np.testing.assert_allclose(HUMANML3D.target_offset_array[j], HUMANML3D.raw_offset_array[j] * length)


def test_parents_ancestors_and_chain_starts():
    assert HUMANML3D.parents == (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19)
    assert np.flatnonzero(HUMANML3D.chain_starts).tolist() == [1, 2, 3, 13, 14]
    # forward kinematics of the rest pose by summing ancestor bones == walking the chains
    offsets = HUMANML3D.target_offset_array
    walked = np.zeros((22, 3))
    for chain in HUMANML3D.kinematic_chains:
        for a, b in zip(chain[:-1], chain[1:]):
            walked[b] = walked[a] + offsets[b]
    np.testing.assert_allclose(HUMANML3D.ancestors @ offsets, walked, atol=1e-15)
    for skel in (HUMANML3D, KIT):
        a = skel.ancestors
        assert a[0].sum() == 0 and all(a[j, j] == 1 for j in range(1, skel.num_joints))


def test_skeleton_for_dim():
    assert skeleton_for_dim(263) is HUMANML3D and Skeleton.for_dim(251) is KIT
    with pytest.raises(ValueError, match="263"):
        skeleton_for_dim(100)


def test_kit_target_needs_a_frame():
    with pytest.raises(ValueError, match="with_target_frame"):
        KIT.target_offset_array  # noqa: B018
    frame = np.cumsum(KIT.raw_offset_array * 0.1, axis=0)  # not anatomical, only a shape
    kit = KIT.with_target_frame(frame)
    assert kit.target_offsets is not None and KIT.target_offsets is None
    np.testing.assert_allclose(kit.target_offset_array, kit.offsets_from_frame(frame))


def test_frozen_hashable_and_validated():
    with pytest.raises(dataclasses.FrozenInstanceError):
        HUMANML3D.fps = 30.0  # type: ignore[misc]
    assert hash(HUMANML3D) == hash(dataclasses.replace(HUMANML3D)) and HUMANML3D == dataclasses.replace(HUMANML3D)
    with pytest.raises(ValueError, match=r"joints \[15\]"):
        dataclasses.replace(HUMANML3D, kinematic_chains=HUMANML3D.kinematic_chains[:2] + ((0, 3, 6, 9, 12),) +
                            HUMANML3D.kinematic_chains[3:])
    with pytest.raises(ValueError, match="out of range"):
        dataclasses.replace(HUMANML3D, left_foot_joints=(7, 40))
    with pytest.raises(ValueError, match=r"\(22, 3\)"):
        HUMANML3D.offsets_from_frame(np.zeros((21, 3)))
    assert not HUMANML3D.raw_offset_array.flags.writeable
