"""Doctor check ``physical``: generated vs ground-truth physical metrics, with the thresholds of its docstring.

On the demo generators: the jittery model must be flagged for jitter, ground-truth resampling must stay
quiet; planted faults (a lifted body, frozen motion) are reported with their exact sizes.
"""
from __future__ import annotations

import numpy as np
import pytest

from motioneval.demo.captions import all_captions, tag
from motioneval.demo.generators import GroundTruthResampler, JitteryGenerator, real_features
from motioneval.demo.motions import MOTION_SPECS
from motioneval.diagnostics.findings import DoctorReport
from motioneval.diagnostics.physical import PhysicalThresholds, check_physical, physical_findings
from motioneval.metrics.physical import physical_metrics
from motioneval.representation.inverse import features_to_joints

N = 48


@pytest.fixture(scope="module")
def demo_batch():
    """Ground-truth clips (raw features) of N demo captions, their lengths and captions."""
    rng = np.random.default_rng(7)
    specs = [MOTION_SPECS[i] for i in rng.integers(len(MOTION_SPECS), size=N)]
    captions = [tag(all_captions(s)[0])[0] for s in specs]
    lengths = rng.integers(60, 120, size=N)
    feats = real_features(specs, lengths, rng)
    return captions, lengths, feats


def _severities(findings):
    return [f.severity for f in findings]


def test_jittery_generator_is_flagged(demo_batch):
    captions, lengths, gt = demo_batch
    out = JitteryGenerator().generate(captions, lengths, seed=3)
    ids = [f"clip{i}" for i in range(N)]
    findings = physical_findings(out.motions, out.lengths, gt, lengths, kind="joints", ids=ids)
    jitter = [f for f in findings if f.title.startswith("jitter")]
    assert len(jitter) == 1 and jitter[0].severity == "warning"
    assert jitter[0].numbers["accel ratio"] >= 2.0
    assert jitter[0].ids and set(jitter[0].ids) <= set(ids)
    # ids are worst first: the listed clips' accelerations decrease
    accel = physical_metrics(features_to_joints(gt.astype(np.float64)), 20.0, lengths)["accel"]
    gen_accel = physical_metrics(out.motions, 20.0, out.lengths)["accel"]
    listed = [ids.index(i) for i in jitter[0].ids]
    assert np.all(np.diff(gen_accel[listed]) <= 0) and np.all(gen_accel[listed] > accel.max())
    # the title states the ratio of the means, computed independently here
    ratio = gen_accel.mean() / accel.mean()
    assert jitter[0].numbers["accel ratio"] == pytest.approx(ratio, rel=1e-12)
    assert f"jitter {ratio:.2g}x" in jitter[0].title or f"jitter {ratio:.0f}x" in jitter[0].title
    assert DoctorReport(findings).exit_code == 1


def test_ground_truth_resampling_stays_quiet(demo_batch):
    captions, lengths, gt = demo_batch
    out = GroundTruthResampler().generate(captions, lengths, seed=11)
    findings = physical_findings(out.motions, out.lengths, gt, lengths)
    assert _severities(findings) == ["ok"] or set(_severities(findings)) <= {"ok", "info"}
    # the reference as a list of clips (as the doctor reads them from the dataset) gives the same verdict
    clips = [gt[i, : lengths[i]] for i in range(N)]
    again = physical_findings(out.motions, out.lengths, clips, None)
    assert [f.to_dict() for f in again] == [f.to_dict() for f in findings]
    ok = [f for f in findings if f.severity == "ok"]
    assert len(ok) == 1 and ok[0].title == "physical metrics close to ground truth"
    assert all(0.5 < v < 2.0 for k, v in ok[0].numbers.items() if k.endswith("ratio") and np.isfinite(v))


def test_lifted_body_floats_by_exactly_the_lift(demo_batch):
    _, lengths, gt = demo_batch
    joints = features_to_joints(gt.astype(np.float64))
    ref = physical_metrics(joints, 20.0, lengths)
    lifted = joints.copy()
    lifted[..., 1] += 0.10
    gen = physical_metrics(lifted, 20.0, lengths)
    assert np.all(ref["penetration"] == 0)  # so floating grows by the lift on every frame
    findings = check_physical(gen, ref)
    (f,) = [f for f in findings if f.title.startswith("floating")]
    assert f.numbers["floating generated"] - f.numbers["floating ground truth"] == pytest.approx(0.10, abs=1e-9)
    assert f.title.startswith("floating 10.0 cm more than ground truth")
    # jitter and speed are unchanged by a constant lift; the feet leave the floor: no contact, so skating has
    # no value (not judged)
    assert [g.title for g in findings if g.severity == "warning"] == [
        f.title, "foot contact 0x ground truth: feet rarely touch the floor"]
    (info,) = [g for g in findings if g.severity == "info"]
    assert set(info.numbers) == {"skate_speed clips", "skate_ratio clips"}


def test_frozen_motion_is_reported(demo_batch):
    _, lengths, gt = demo_batch
    joints = features_to_joints(gt.astype(np.float64))
    ref = physical_metrics(joints, 20.0, lengths)
    frozen = np.repeat(joints[:, :1], joints.shape[1], axis=1)
    gen = physical_metrics(frozen, 20.0, lengths)
    findings = check_physical(gen, ref, ids=[f"c{i}" for i in range(N)])
    (f,) = [f for f in findings if f.title.startswith("dynamics")]
    assert f.severity == "warning" and "frozen motion?" in f.title and f.numbers["speed ratio"] == 0.0
    assert len(f.ids) == N  # every clip is slower than the slowest ground-truth clip
    assert not any(g.title.startswith("jitter") for g in findings)


# ------------------------------------------------------------------------------------------ the thresholds
def _const(v, n=20):
    return np.full(n, float(v))


def test_jitter_threshold_is_inclusive_at_the_ratio():
    ref = {"accel": _const(4.0)}
    assert _severities(check_physical({"accel": _const(8.0)}, ref)) == ["warning"]
    assert _severities(check_physical({"accel": _const(7.96)}, ref)) == ["ok"]
    th = PhysicalThresholds(jitter_ratio=1.5)
    assert _severities(check_physical({"accel": _const(6.0)}, ref, thresholds=th)) == ["warning"]


def test_skating_needs_ratio_and_absolute_excess():
    ref = {"skate_speed": _const(0.01)}
    # 3x but only 0.02 m/s more: not flagged
    assert _severities(check_physical({"skate_speed": _const(0.03)}, ref)) == ["ok"]
    (f,) = check_physical({"phys_skate_speed": _const(0.3)}, {"phys_skate_speed": _const(0.1)})
    assert f.severity == "warning" and f.title == "foot skating 3x ground truth"


def test_floating_against_a_zero_reference():
    ref = {"floating": _const(0.0), "penetration": _const(0.0)}
    f = check_physical({"floating": _const(0.03), "penetration": _const(0.01)}, ref)
    assert [g.title for g in f] == ["floating 3.0 cm more than ground truth"]
    assert f[0].numbers["floating ratio"] == float("inf")


def test_fast_motion_and_low_contact():
    ref = {"speed": _const(1.0), "contact": _const(0.8)}
    titles = [f.title for f in check_physical({"speed": _const(2.5), "contact": _const(0.2)}, ref)]
    assert titles == ["dynamics 2.5x ground truth: faster than the data (noise?)",
                      "foot contact 0.25x ground truth: feet rarely touch the floor"]


def test_nan_clips_are_skipped_and_thin_metrics_not_judged():
    gen = {"accel": np.array([1.0, np.nan, 1.0, 1.0, 1.0, 1.0]), "skate_speed": np.array([np.nan] * 5 + [9.0])}
    ref = {"accel": _const(1.0, 6), "skate_speed": _const(0.1, 6)}
    findings = check_physical(gen, ref, ids=list("abcdef"))
    assert _severities(findings) == ["ok", "info"]
    assert findings[0].numbers == {"accel ratio": 1.0}
    assert findings[1].numbers == {"skate_speed clips": 1}


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="'jerk' has 3 clips"):
        check_physical({"accel": _const(1, 4), "jerk": _const(1, 3)}, {"accel": _const(1)})
    with pytest.raises(ValueError, match="4 clips but 2 ids"):
        check_physical({"accel": _const(1, 4)}, {"accel": _const(1)}, ids=["a", "b"])
    with pytest.raises(ValueError, match="frozen_ratio"):
        PhysicalThresholds(frozen_ratio=1.5)
    assert _severities(check_physical({"x": _const(1)}, {"y": _const(1)})) == ["info"]


def test_the_doctor_entry_undoes_the_normalization(demo_batch):
    from motioneval.diagnostics.physical import samples_physical_findings
    from motioneval.representation.normalization import FeatureStats

    captions, lengths, gt = demo_batch
    rng = np.random.default_rng(0)
    d = FeatureStats(mean=rng.standard_normal(263), std=0.5 + rng.random(263), name="dataset")
    e = FeatureStats(mean=rng.standard_normal(263), std=0.5 + rng.random(263), name="evaluator")
    out = JitteryGenerator().generate(captions, lengths, seed=3)
    from motioneval.representation.forward import joints_to_features

    feats = joints_to_features(np.asarray(out.motions, np.float64), lengths=out.lengths)
    flen = out.lengths - 1
    clips = [gt[i, : lengths[i]] for i in range(N)]
    ids = [f"c{i}" for i in range(N)]
    plain = samples_physical_findings(feats, flen, ids, kind="features", reference_clips=clips)
    # double-normalized samples (dataset, then evaluator) give the same findings once the chain is undone
    double = e.normalize(d.normalize(feats))
    again = samples_physical_findings(double, flen, ids, kind="features", chain=("dataset", "evaluator"),
                                      stats={"dataset": d, "evaluator": e}, reference_clips=clips)
    assert [f.title for f in again] == [f.title for f in plain]
    assert any(f.title.startswith("jitter") for f in plain)
    (f,) = samples_physical_findings(double, flen, ids, kind="features", chain=("dataset", "evaluator"),
                                     stats={"dataset": d}, reference_clips=clips)
    assert f.severity == "info" and "evaluator statistics are missing" in f.explanation
    (f,) = samples_physical_findings(feats, flen, ids, kind="features")
    assert f.severity == "info" and "--dataset" in f.action
    (f,) = samples_physical_findings(feats[..., :100], flen, ids, kind="features", reference_clips=clips)
    assert f.severity == "info" and f.title == "physical metrics not computed"
