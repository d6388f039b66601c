"""Physical metrics from every input path (features, sample sets, MDM results, plain arrays) and the CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest

from motioneval.cli.main import main
from motioneval.data.physical import (
    physical_metrics_from_file,
    physical_metrics_from_samples,
    samples_to_joints,
)
from motioneval.data.samples import SampleSet
from motioneval.metrics.physical import METRICS, physical_metrics
from motioneval.representation.forward import joints_to_features
from motioneval.representation.normalization import FeatureStats
from motioneval.representation.skeleton import HUMANML3D


def walking_batch(n: int = 3, frames: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Joints (n, frames, 22, 3) on the floor with some drift and wobble, lengths < frames for some."""
    rng = np.random.default_rng(seed)
    rest = np.load(pytest.importorskip("pathlib").Path(__file__).resolve().parents[1] / "src" / "motioneval"
                   / "assets" / "skeletons" / "humanml3d_target_frame.npy").astype(np.float64)
    rest -= [0, rest[:, 1].min(), 0]
    t = np.arange(frames)[:, None, None]
    batch = np.stack([rest + t * [0.02 * (i + 1), 0, 0.01] + 0.01 * np.sin(t / 2 + i)
                      + rng.normal(0, 0.003, (frames, 22, 3)) for i in range(n)])
    lengths = np.array([frames] + [frames - 7 * i for i in range(1, n)])
    for i, length in enumerate(lengths):
        batch[i, length:] = 0.0
    return batch.astype(np.float32), lengths


def test_features_and_joints_of_the_real_sample_agree(data_dir):
    joints = np.load(data_dir / "HumanML3D" / "new_joints" / "012314.npy")
    feats = np.load(data_dir / "HumanML3D" / "new_joint_vecs" / "012314.npy")
    assert len(feats) == len(joints)  # new_joints are the features' recovered joints
    direct = physical_metrics(joints, fps=20.0)
    via = physical_metrics_from_file(data_dir / "HumanML3D" / "new_joint_vecs" / "012314.npy")
    assert via.kind == "features" and via.fps == 20.0 and via.fps_source == "skeleton humanml3d"
    for key in METRICS:
        np.testing.assert_allclose(via.values[key][0], direct[key], rtol=1e-5, err_msg=key)


def test_joint_and_feature_sample_sets(tmp_path):
    joints, lengths = walking_batch()
    jset = SampleSet(captions=["a"] * 3, lengths=lengths, motions=joints, kind="joints", ids=["x", "y", "z"])
    report = physical_metrics_from_samples(jset, variant="motionlcm")
    expected = physical_metrics(joints, 20.0, lengths, variant="motionlcm")
    for key in METRICS:
        np.testing.assert_array_equal(report.values[key], expected[key])
    assert report.ids == ["x", "y", "z"] and report.summary()["speed"]["rows"] == 3

    # the same motions as raw features (L joint frames -> L - 1 rows): joints come back through the inverse
    feats = np.asarray(joints_to_features(joints.astype(np.float64), skeleton=HUMANML3D, lengths=lengths), np.float32)
    fset = SampleSet(captions=["a"] * 3, lengths=lengths - 1, motions=feats, kind="features")
    back, _, skel = samples_to_joints(fset)
    assert skel is HUMANML3D and back.shape[-2:] == (22, 3)
    via_features = physical_metrics_from_samples(fset)
    assert np.all(np.isfinite(via_features.values["speed"]))

    # normalized features need their statistics, and then give the raw features' values
    stats = FeatureStats(mean=np.full(263, 0.3, np.float32), std=np.full(263, 2.0, np.float32))
    nset = SampleSet(captions=["a"] * 3, lengths=lengths - 1, motions=stats.normalize(feats), kind="features",
                     normalization="dataset")
    with pytest.raises(ValueError, match="normalized"):
        physical_metrics_from_samples(nset)
    renorm = physical_metrics_from_samples(nset, stats=stats)
    for key in METRICS:
        np.testing.assert_allclose(renorm.values[key], via_features.values[key], rtol=1e-4, atol=1e-6)


def test_fps_comes_from_argument_then_metadata_then_skeleton():
    joints, lengths = walking_batch(2)
    s = SampleSet(captions=["a"] * 2, lengths=lengths, motions=joints, kind="joints", metadata={"fps": 30})
    assert physical_metrics_from_samples(s).fps_source == "metadata"
    r = physical_metrics_from_samples(s, fps=10.0)
    assert r.fps == 10.0 and r.fps_source == "argument"
    fast = physical_metrics_from_samples(s)  # 30 fps: speeds 1.5 x those at 20 fps
    slow = physical_metrics_from_samples(SampleSet(captions=["a"] * 2, lengths=lengths, motions=joints, kind="joints"))
    np.testing.assert_allclose(fast.values["speed"], 1.5 * slow.values["speed"], rtol=1e-12)


def test_mdm_results_and_plain_arrays(tmp_path):
    joints, lengths = walking_batch(4, 30)
    results = {"motion": joints.transpose(0, 2, 3, 1), "text": ["t"] * 4, "lengths": lengths,
               "num_samples": 2, "num_repetitions": 2}
    path = tmp_path / "results.npy"
    np.save(path, results, allow_pickle=True)
    with pytest.raises(ValueError, match="allow_pickle"):
        physical_metrics_from_file(path)
    report = physical_metrics_from_file(path, allow_pickle=True)
    expected = physical_metrics(joints, 20.0, lengths)
    np.testing.assert_allclose(report.values["skate_speed"], expected["skate_speed"], rtol=1e-6)
    plain = tmp_path / "clip.npy"
    np.save(plain, joints[0, : lengths[0]] * 100.0)  # centimetres
    r = physical_metrics_from_file(plain, unit="cm")
    np.testing.assert_allclose(r.values["speed"][0], expected["speed"][0], rtol=1e-5)
    np.save(tmp_path / "bad.npy", np.zeros((5, 7)))
    with pytest.raises(ValueError, match="neither joints"):
        physical_metrics_from_file(tmp_path / "bad.npy")


def test_cli_physics(tmp_path, capsys):
    joints, lengths = walking_batch(3)
    path = tmp_path / "s.npz"
    SampleSet(captions=["a"] * 3, lengths=lengths, motions=joints, kind="joints").save(path)
    assert main(["physics", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Foot skate speed" in out and "variant default" in out and "20 fps (skeleton humanml3d)" in out
    assert main(["physics", str(path), str(path), "--json", "--variant", "kimodo", "--fps", "30", "--per-row"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    doc = json.loads(lines[0])
    expected = physical_metrics(joints, 30.0, lengths, variant="kimodo")
    assert doc["variant"] == "kimodo" and doc["fps"] == 30.0 and doc["fps_source"] == "argument"
    np.testing.assert_allclose(doc["per_row"]["skate_speed"], expected["skate_speed"], rtol=1e-12)
    assert doc["summary"]["jerk"]["mean"] == pytest.approx(float(np.mean(expected["jerk"])))
    assert main(["physics", str(tmp_path / "missing.npz")]) == 1
    assert main(["physics", str(path), "--floor", "ceiling"]) == 1
    assert "--floor" in capsys.readouterr().err
    assert main(["physics", str(path), "--floor", "clip"]) == 0


def test_demo_jittery_model_has_jitter_above_ground_truth():
    """The integration helper on the demo generators: jitter is far above ground truth, resampling close."""
    from motioneval.data.physical import physical_columns_for_motions, reference_ratios
    from motioneval.demo.captions import sample_captions
    from motioneval.demo.generators import GroundTruthResampler, JitteryGenerator
    from motioneval.demo.motions import MOTION_SPECS

    rng = np.random.default_rng(0)
    specs = list(MOTION_SPECS)[:6]
    captions = [c for spec in specs for c in sample_captions(spec, rng, 2)]
    lengths = np.full(len(captions), 60)
    reference = GroundTruthResampler().generate(captions, lengths, seed=1)
    resampled = GroundTruthResampler().generate(captions, lengths, seed=2)
    jittery = JitteryGenerator().generate(captions, lengths, seed=3)
    ref = physical_columns_for_motions(reference.motions, lengths)
    res = physical_columns_for_motions(resampled.motions, lengths)
    jit = physical_columns_for_motions(jittery.motions, jittery.lengths, kind="joints")
    jit_ratio, res_ratio = reference_ratios(jit, ref), reference_ratios(res, ref)
    assert jit_ratio["phys_jerk"] > 3 and jit_ratio["phys_accel"] > 2
    assert 0.7 < res_ratio["phys_jerk"] < 1.3 and 0.7 < res_ratio["phys_speed"] < 1.3


def test_kit_positions_default_to_millimetres():
    rng = np.random.default_rng(7)
    joints_m = np.zeros((2, 30, 21, 3))
    joints_m[..., 1] = 0.9
    joints_m[:, :, [15, 20], 1] = 0.01
    joints_m += np.cumsum(rng.normal(0, 0.01, (2, 30, 1, 3)), axis=1) * [1, 0, 1]
    kit = SampleSet(captions=["a"] * 2, lengths=np.array([30, 25]), motions=joints_m * 1000.0, kind="joints")
    report = physical_metrics_from_samples(kit)
    assert (report.unit, report.unit_source, report.fps) == ("mm", "skeleton kit", 12.5)
    expected = physical_metrics(joints_m, 12.5, [30, 25])
    for key in METRICS:
        np.testing.assert_allclose(report.values[key], expected[key], rtol=1e-5, err_msg=key)
    assert physical_metrics_from_samples(kit, unit="m").unit_source == "argument"
