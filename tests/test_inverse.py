"""Features -> joints: the shipped real clip, the reference fixtures (numpy and torch, batched, KIT) and a
closed-form trajectory."""
from __future__ import annotations

import numpy as np
import pytest

from motioneval.representation.inverse import features_to_joints, recover_root
from motioneval.representation.skeleton import HUMANML3D, KIT

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def real_clip(data_dir):
    folder = data_dir / "HumanML3D"
    return np.load(folder / "new_joint_vecs" / "012314.npy"), np.load(folder / "new_joints" / "012314.npy")


def _cases(ref, real_clip):
    vecs, joints = real_clip
    return {
        "012314": (vecs, joints),
        "A": (ref["features_A"], ref["joints_from_features_A"]),
        "B": (ref["features_B"], ref["joints_from_features_B"]),
        "random263": (ref["random263_input"], ref["random263_recovered"]),
        "kit": (ref["kit_random251_input"], ref["kit_recovered"]),
    }


def test_reproduces_reference_numpy_and_torch(representation_ref, real_clip):
    for name, (feats, expected) in _cases(representation_ref, real_clip).items():
        got = features_to_joints(feats)
        assert got.shape == expected.shape and got.dtype == np.float32, name
        # float32 outputs of magnitude < 4: one ulp is 2.4e-7 (the real clip reproduces new_joints to ~2e-7)
        np.testing.assert_allclose(got, expected, rtol=0, atol=2.5e-7, err_msg=name)
        got_t = features_to_joints(torch.from_numpy(feats))
        assert isinstance(got_t, torch.Tensor) and got_t.dtype == torch.float32
        np.testing.assert_allclose(got_t.numpy(), expected, rtol=0, atol=2.5e-7, err_msg=name)


def test_any_leading_dims_dtype_and_device(representation_ref):
    x = representation_ref["random263_input"]  # (2, 40, 263)
    base = features_to_joints(x)
    np.testing.assert_array_equal(features_to_joints(x[None, :, None])[0, :, 0], base)
    np.testing.assert_array_equal(features_to_joints(x[1]), base[1])
    assert features_to_joints(x.astype(np.float64)).dtype == np.float64
    t64 = features_to_joints(torch.from_numpy(x).double().reshape(1, 2, 40, 263))
    assert t64.dtype == torch.float64 and t64.shape == (1, 2, 40, 22, 3)
    np.testing.assert_allclose(t64[0].numpy(), features_to_joints(x.astype(np.float64)), rtol=0, atol=1e-12)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    td = features_to_joints(torch.from_numpy(x).to(device))
    assert td.device.type == device
    np.testing.assert_allclose(td.cpu().numpy(), base, rtol=0, atol=1e-6)


def test_closed_form_circle():
    """Constant half-angle rate w and constant local speed v: the root walks a regular polygon."""
    frames, w, v = 30, 0.05, 0.1
    feats = np.zeros((frames, 263))
    feats[:, 0] = w
    feats[:, 2] = v  # forward (+z) in the facing frame
    feats[:, 3] = 0.9
    feats[:, 4:7] = [0.2, 0.1, 0.0]  # joint 1 sits 0.2 to the root's local +x
    joints = features_to_joints(feats)
    half, root = recover_root(feats)
    expected_root = np.zeros((frames, 3))
    for t in range(1, frames):
        # r_t^-1 is the yaw by phi = -2 h_t = -2 w t; R_y(phi) (0, 0, v) = (v sin phi, 0, v cos phi)
        phi = -2 * w * t
        expected_root[t] = expected_root[t - 1] + [v * np.sin(phi), 0.0, v * np.cos(phi)]
    expected_root[:, 1] = 0.9
    np.testing.assert_allclose(half, w * np.arange(frames), atol=1e-15)
    np.testing.assert_allclose(root, expected_root, atol=1e-12)
    np.testing.assert_allclose(joints[:, 0], expected_root, atol=1e-6)
    # joint 1: R_y(-2 w t) (0.2, 0.1, 0) = (0.2 cos 2wt, 0.1, 0.2 sin 2wt), shifted by the root's x, z
    ang = 2 * w * np.arange(frames)
    expected_j1 = np.stack([expected_root[:, 0] + 0.2 * np.cos(ang), np.full(frames, 0.1),
                            expected_root[:, 2] + 0.2 * np.sin(ang)], -1)
    np.testing.assert_allclose(joints[:, 1], expected_j1, atol=1e-6)


def test_skeleton_inference_and_errors():
    assert features_to_joints(np.zeros((5, 251))).shape == (5, 21, 3)
    assert features_to_joints(np.zeros((5, 263)), HUMANML3D).shape == (5, 22, 3)
    with pytest.raises(ValueError, match="263"):
        features_to_joints(np.zeros((5, 100)))
    with pytest.raises(ValueError, match="kit"):
        features_to_joints(np.zeros((5, 263)), KIT)
    with pytest.raises(ValueError, match="shape"):
        features_to_joints(np.zeros(263))
