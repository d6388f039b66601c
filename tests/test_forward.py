"""Joints -> features: the reference fixtures (fixtures README section 3), invariances, batching, errors,
and the quaternion helpers against scipy's independent rotation code."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from motioneval.representation.forward import (
    canonicalize,
    foot_contacts,
    joints_to_features,
    process_joints,
    retarget,
    root_half_angles,
)
from motioneval.representation.inverse import features_to_joints
from motioneval.representation.layout import HUMANML3D_LAYOUT as L
from motioneval.representation.quaternion import (
    cont6d_to_matrix,
    qbetween,
    qconj,
    qmul,
    qrot,
    quat_to_cont6d,
    quat_to_matrix,
    yaw_quat,
)
from motioneval.representation.skeleton import KIT

# fixtures README section 3: rot6d atol 1e-3, other continuous blocks atol 1e-4, contacts exact (rare flip in B)
CONTINUOUS = {"rot_vel": 1e-4, "lin_vel": 1e-4, "root_y": 1e-4, "ric": 1e-4, "rot": 1e-3, "local_vel": 1e-4}


def _yaw_matrix(deg: float) -> np.ndarray:
    a = np.deg2rad(deg)
    return np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])


@pytest.mark.parametrize("case", ["A", "B"])
def test_features_match_reference(representation_ref, case):
    ref = representation_ref
    out = process_joints(ref[f"input_{case}"])
    feats, expected = out.features, ref[f"features_{case}"]
    assert feats.shape == expected.shape == (169, 263) and feats.dtype == np.float32
    for group, atol in CONTINUOUS.items():
        sl = L.groups()[group]
        np.testing.assert_allclose(feats[:, sl], expected[:, sl], rtol=0, atol=atol, err_msg=group)
    flips = int((feats[:, L.contacts] != expected[:, L.contacts]).sum())
    assert flips <= (0 if case == "A" else 1)
    assert set(np.unique(feats[:, L.contacts])) <= {0.0, 1.0}
    # intermediates
    np.testing.assert_allclose(out.global_positions, ref[f"global_positions_{case}"], rtol=0, atol=1e-4)
    np.testing.assert_allclose(out.local_positions, ref[f"local_positions_{case}"], rtol=0, atol=1e-4)
    np.testing.assert_allclose(out.root_velocity, ref[f"l_velocity_{case}"], rtol=0, atol=1e-4)


def test_canonical_frame_and_frame0_quirk(representation_ref):
    out = process_joints(representation_ref["input_B"])
    g = out.global_positions.astype(np.float64)
    assert abs(g[..., 1].min()) < 1e-6  # on the floor
    np.testing.assert_allclose(g[0, 0, [0, 2]], 0.0, atol=1e-6)  # frame-0 root at the origin
    r_hip, l_hip, r_sh, l_sh = 2, 1, 17, 16
    across = (g[0, r_hip] - g[0, l_hip]) + (g[0, r_sh] - g[0, l_sh])
    facing = np.cross([0.0, 1.0, 0.0], across)
    assert abs(facing[0]) < 1e-6 and facing[2] > 0  # frame 0 faces +z
    # r_0 is the identity: frame-0 local positions are the root-centred global ones, unrotated
    assert out.root_half_angle[0] == 0.0
    centred = g[0] - g[0, 0] * np.array([1.0, 0.0, 1.0])
    np.testing.assert_allclose(out.local_positions[0], centred, atol=1e-6)


def test_step_functions_on_one_clip(representation_ref):
    ref = representation_ref
    g = canonicalize(retarget(ref["input_B"]))
    np.testing.assert_allclose(g, ref["global_positions_B"], rtol=0, atol=1e-4)
    np.testing.assert_array_equal(foot_contacts(g), ref["features_B"][:, L.contacts])
    out = process_joints(np.stack([ref["input_A"], ref["input_B"]]))
    np.testing.assert_array_equal(root_half_angles(out.global_positions[1]).shape, (170,))
    np.testing.assert_allclose(root_half_angles(g), out.root_half_angle[1], atol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        retarget(np.zeros((5, 22)))


def test_features_round_trip_to_global_positions(representation_ref):
    for case in "AB":
        out = process_joints(representation_ref[f"input_{case}"])
        back = features_to_joints(out.features)
        np.testing.assert_allclose(back, out.global_positions[:-1], rtol=0, atol=2e-6)


def test_invariant_to_yaw_translation_and_scale(representation_ref):
    a = representation_ref["input_A"].astype(np.float64)
    base = joints_to_features(a)
    moved = 0.8 * a @ _yaw_matrix(-71.0).T + np.array([3.0, 0.25, -1.5])
    other = joints_to_features(moved)
    cont = np.r_[0 : L.contacts.start]
    np.testing.assert_allclose(other[:, cont], base[:, cont], rtol=0, atol=2e-5)
    np.testing.assert_array_equal(other[:, L.contacts], base[:, L.contacts])


def test_batched_and_lengths_match_single_clips(representation_ref):
    a, b = representation_ref["input_A"], representation_ref["input_B"]
    both = joints_to_features(np.stack([a, b]))
    np.testing.assert_array_equal(both[0], joints_to_features(a))
    np.testing.assert_array_equal(both[1], joints_to_features(b))
    padded = np.stack([a, b.copy()])
    padded[1, 100:] = np.nan  # padding is ignored, even when it is garbage
    out = joints_to_features(padded, lengths=[170, 100])
    assert out.shape == (2, 169, 263)
    np.testing.assert_allclose(out[1, :99], joints_to_features(b[:100]), rtol=0, atol=1e-6)
    assert not out[1, 99:].any()
    np.testing.assert_array_equal(out[0], both[0])


def test_errors_name_the_clip(representation_ref):
    a = representation_ref["input_A"]
    bad = np.stack([a, a, a])
    bad[2, 40, 7] = np.nan
    with pytest.raises(ValueError, match=r"clip 2 \(frame 40\)"):
        joints_to_features(bad)
    zeros = np.stack([a, np.zeros_like(a)])
    with pytest.raises(ValueError, match=r"degenerate.*clip 1"):
        joints_to_features(zeros)
    with pytest.raises(ValueError, match=r"first 22"):
        joints_to_features(np.zeros((10, 24, 3)))
    with pytest.raises(ValueError, match="shape"):
        joints_to_features(np.zeros((10, 66)))
    with pytest.raises(ValueError, match="2 frames"):
        joints_to_features(a[:1])
    with pytest.raises(ValueError, match=r"lengths must be in \[2, 170\]"):
        joints_to_features(np.stack([a, a]), lengths=[170, 1])
    with pytest.raises(ValueError, match="with_target_frame"):
        joints_to_features(np.zeros((10, 21, 3)), KIT)


def _synthetic_kit_motion(frames: int = 90) -> tuple[np.ndarray, np.ndarray]:
    """A KIT-skeleton clip: a rest pose from chosen bone lengths, wobbling bones, a curved root path."""
    rng = np.random.default_rng(3)
    lengths = rng.uniform(0.1, 0.4, size=21)
    lengths[0] = 0
    rest = KIT.ancestors @ (KIT.raw_offset_array * lengths[:, None])
    t = np.arange(frames)[:, None, None]
    wobble = 0.03 * np.sin(2 * np.pi * t / rng.uniform(15, 40, (1, 21, 3)) + rng.uniform(0, 6, (1, 21, 3)))
    yaw = np.deg2rad(0.8) * np.arange(frames)
    rot = np.stack([_yaw_matrix(np.rad2deg(y)) for y in yaw])
    pose = np.einsum("tij,tkj->tki", rot, rest[None] + wobble)
    root = np.stack([np.sin(yaw) * 2.0, 1.0 + 0.02 * np.sin(np.arange(frames) / 3), np.cos(yaw) * 2.0], -1)
    return pose + root[:, None], rest


def test_kit_forward_with_a_target_frame():
    clip, rest = _synthetic_kit_motion()
    kit = KIT.with_target_frame(rest)
    out = process_joints(clip, kit)
    assert out.features.shape == (89, 251)
    np.testing.assert_allclose(features_to_joints(out.features), out.global_positions[:-1], atol=2e-6)
    # retargeting to the clip's own rest lengths keeps the bone lengths
    bones = out.global_positions[:, 1:] - out.global_positions[:, list(kit.parents[1:])]
    np.testing.assert_allclose(
        np.linalg.norm(bones, axis=-1), np.broadcast_to(np.linalg.norm(kit.target_offset_array[1:], axis=-1),
                                                        bones.shape[:2]), rtol=1e-5)


# --- quaternion helpers vs scipy (scalar-last there) ----------------------------------------------------------
def _random_quats(n: int, seed: int = 0) -> np.ndarray:
    q = np.random.default_rng(seed).normal(size=(n, 4))
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def _scipy(q: np.ndarray) -> Rotation:
    return Rotation.from_quat(q[:, [1, 2, 3, 0]])


def test_quaternion_helpers_match_scipy():
    q, r = _random_quats(50, 1), _random_quats(50, 2)
    v = np.random.default_rng(3).normal(size=(50, 3))
    np.testing.assert_allclose(quat_to_matrix(q), _scipy(q).as_matrix(), atol=1e-12)
    np.testing.assert_allclose(qrot(q, v), _scipy(q).apply(v), atol=1e-12)
    np.testing.assert_allclose(quat_to_matrix(qmul(q, r)), (_scipy(q) * _scipy(r)).as_matrix(), atol=1e-12)
    np.testing.assert_allclose(qrot(qconj(q), qrot(q, v)), v, atol=1e-12)
    m = quat_to_matrix(q)
    np.testing.assert_allclose(quat_to_cont6d(q), np.concatenate([m[..., :, 0], m[..., :, 1]], -1), atol=1e-12)
    np.testing.assert_allclose(cont6d_to_matrix(quat_to_cont6d(q)), m, atol=1e-12)
    np.testing.assert_allclose(quat_to_matrix(yaw_quat(np.array([0.3]))), _yaw_matrix(np.rad2deg(0.6))[None],
                               atol=1e-12)


def test_qbetween_is_the_shortest_arc():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(100, 3)), rng.normal(size=(100, 3))
    q = qbetween(a, b)
    unit = lambda x: x / np.linalg.norm(x, axis=-1, keepdims=True)  # noqa: E731
    np.testing.assert_allclose(qrot(q, unit(a)), unit(b), atol=1e-12)
    # shortest arc: the angle equals the angle between a and b, the axis is along a x b
    angle = np.arccos(np.clip((unit(a) * unit(b)).sum(-1), -1, 1))
    np.testing.assert_allclose(_scipy(q).magnitude(), angle, atol=1e-9)
    # opposite directions: a half turn about an axis perpendicular to a (the reference gives NaN)
    qa = qbetween(np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0]]), np.array([[0.0, 2.0, 0.0], [-3.0, 0.0, 0.0]]))
    assert np.isfinite(qa).all()
    np.testing.assert_allclose(qrot(qa, np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0]])), [[0, 1, 0], [-1, 0, 0]],
                               atol=1e-12)
