"""doctor's physical and TMR checks on the demo: the jittery model is explained, the resampling model is not."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from motioneval.demo.dataset import DemoDatasetConfig, build_demo_dataset
from motioneval.demo.generators import GroundTruthResampler, JitteryGenerator, NoisyGenerator
from motioneval.diagnostics.doctor import doctor
from motioneval.representation.normalization import FeatureStats

CONFIG = DemoDatasetConfig(num_train=24, num_val=4, num_test=64, seed=3)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = build_demo_dataset(tmp_path_factory.mktemp("demo") / "ds", CONFIG)
    ids = (root / "test.txt").read_text().split()
    captions = [(root / "texts" / f"{i}.txt").read_text().split("#")[0] for i in ids]
    lengths = np.random.default_rng(0).integers(60, 120, len(ids))
    return root, captions, lengths


def _physical(report):
    return report.by_check("physical")


def test_jittery_is_explained_and_resampling_is_quiet(demo):
    root, captions, lengths = demo
    jit = JitteryGenerator().generate(captions, lengths, seed=1)
    report = doctor(np.asarray(jit.motions), dataset=root, lengths=jit.lengths, kind="joints")
    titles = [f.title for f in _physical(report) if f.severity == "warning"]
    assert any(t.startswith("jitter") for t in titles), report.to_text()
    res = GroundTruthResampler().generate(captions, lengths, seed=1)
    report = doctor(np.asarray(res.motions), dataset=root, lengths=res.lengths, kind="features",
                    normalization="raw")
    assert [f.severity for f in _physical(report)] == ["ok"], report.to_text()
    report = doctor(np.asarray(res.motions), dataset=root, lengths=res.lengths, kind="features",
                    normalization="raw", physical=False)
    assert not _physical(report)


def test_normalized_samples_are_measured_after_undoing_the_normalization(demo):
    root, captions, lengths = demo
    stats = FeatureStats.load_dataset(root)
    out = NoisyGenerator(stats).generate(captions, lengths, seed=2)  # dataset-normalized features + noise
    report = doctor(np.asarray(out.motions), dataset=root, lengths=out.lengths, kind="features",
                    normalization="dataset")
    assert any(f.title.startswith("jitter") for f in _physical(report)), report.to_text()
    # without a dataset: nothing to compare with, and the doctor says so
    report = doctor(np.asarray(out.motions), lengths=out.lengths, kind="features", normalization="dataset")
    assert [f.severity for f in _physical(report)] in ([], ["info"])


def test_tmr_folder_is_checked(demo, tmp_path):
    pytest.importorskip("torch")
    from motioneval.demo.evaluator_assets import demo_tmr_run_dir

    root, captions, lengths = demo
    res = GroundTruthResampler().generate(captions, lengths, seed=1)
    report = doctor(np.asarray(res.motions), dataset=root, evaluator=demo_tmr_run_dir(), lengths=res.lengths,
                    kind="features", normalization="raw")
    checks = {f.check: f.severity for f in report.findings if f.check.startswith("tmr_")}
    assert checks == {"tmr_config": "ok", "tmr_weights": "ok", "tmr_stats": "ok", "tmr_text_model": "ok"}
    # a broken copy given as --tmr-evaluator beside the T2M evaluator
    broken = tmp_path / "tmr"
    shutil.copytree(demo_tmr_run_dir().parent.parent, broken)
    (broken / "models" / "tmr_demo" / "last_weights" / "text_encoder.pt").unlink()
    report = doctor(np.asarray(res.motions), dataset=root, tmr_evaluator=broken / "models" / "tmr_demo",
                    lengths=res.lengths, kind="features", normalization="raw")
    assert [f.severity for f in report.by_check("tmr_weights")] == ["error"] and report.exit_code == 2
