"""The training monitor can log the physical metrics: the prompts' ground truth as reference, the model's per call."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from motioneval import _npio  # noqa: E402
from motioneval.demo.dataset import DemoDatasetConfig, build_demo_dataset  # noqa: E402
from motioneval.demo.generators import GroundTruthResampler, JitteryGenerator  # noqa: E402
from motioneval.demo.run import demo_evaluator_dir  # noqa: E402
from motioneval.metrics.physical import physical_metrics  # noqa: E402
from motioneval.protocol.monitor import DIRECTIONS, LightEvaluation, TrainingMonitor  # noqa: E402
from motioneval.representation.inverse import features_to_joints  # noqa: E402

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_physical_metrics_in_the_light_evaluation_and_the_log(tmp_path):
    root = build_demo_dataset(tmp_path / "ds", DemoDatasetConfig(num_train=24, num_val=4, num_test=64, seed=3))
    light = LightEvaluation(root, demo_evaluator_dir(), num_samples=64, physical=True, preset="t2m")
    # the reference: the prompts' own ground-truth crops, measured here from the dataset files
    plan = light.plan
    crops = [_npio.load(root / "new_joint_vecs" / f"{light.items.ids[i]}.npy").astype(np.float64)[s:s + n]
             for i, s, n in zip(plan.item, plan.starts, plan.lengths)]
    jerk = [physical_metrics(features_to_joints(c), 20.0)["jerk"] for c in crops]
    assert light.reference["phys_jerk"] == pytest.approx(np.mean(jerk), rel=1e-9)
    jittery = light(JitteryGenerator())
    resampled = light(GroundTruthResampler())
    assert jittery["phys_accel"] > 2 * light.reference["phys_accel"]
    assert resampled["phys_accel"] == pytest.approx(light.reference["phys_accel"], rel=0.25)
    assert DIRECTIONS["phys_speed"] == "gap" and DIRECTIONS["phys_jerk"] == "min"
    with TrainingMonitor(light, tmp_path / "log", every=1, best_metric="phys_accel", tensorboard=False) as mon:
        mon.step(1, JitteryGenerator())
        rec = mon.step(2, GroundTruthResampler())
    assert rec is not None and rec["is_best"] and "phys_accel" in (tmp_path / "log" / "metrics.csv").read_text()
    plain = LightEvaluation(root, demo_evaluator_dir(), num_samples=64)
    assert not any(k.startswith("phys_") for k in plain(GroundTruthResampler()))
