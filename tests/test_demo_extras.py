"""The demo's physical and TMR blocks: merged across generators, checked, and left out with a reason."""
from __future__ import annotations

import builtins

import pytest

from motioneval.protocol.blocks import physical_block, tmr_block
from motioneval.protocol.results import MetricSummary, Result, Row


def _result(model, accel, r3):
    keys = ("r_precision_top1", "r_precision_top2", "r_precision_top3", "fid", "diversity")
    rows = [Row("ground truth", "ground_truth", {k: MetricSummary.from_values([0.5]) for k in keys}),
            Row(model, "model", {k: MetricSummary.from_values([0.5]) for k in keys})]
    phys = physical_block({"ground truth": [{"phys_accel": 5.0}], model: [{"phys_accel": accel}]}, fps=20.0)
    phys.per_clip = {"ground truth": {"phys_accel": [5.0]}, model: {"phys_accel": [accel]}}
    tmr = tmr_block({"ground truth": [{"guo/t2m/R03": 90.0}], model: [{"guo/t2m/R03": r3}]}, provenance={})
    return Result(rows=rows, preset={"name": "custom"}, seed=0, replications=1, blocks=[phys, tmr])


def test_blocks_merge_and_ranking_checks():
    from motioneval.demo.run import merge_results, ranking_checks

    merged = merge_results([_result("ground-truth resampling", 5.2, 90.0), _result("jittery", 50.0, 5.0),
                            _result("caption-ignoring", 5.1, 9.0)])
    phys = merged.block("physical")
    assert [r.name for r in phys.rows] == ["ground truth", "ground-truth resampling", "jittery", "caption-ignoring"]
    assert list(phys.per_clip) == [r.name for r in phys.rows] and phys.per_clip["jittery"]["phys_accel"] == [50.0]
    assert [r.name for r in merged.block("tmr").rows][-1] == "caption-ignoring"
    checks = ranking_checks(merged)  # (the protocol's checks see equal values here: only the blocks' are asserted)
    assert checks["jittery has a jitter clearly above ground truth (acceleration >= 2x)"]
    assert checks["ground-truth resampling stays close to ground truth on jitter (within 25%)"]
    assert checks["TMR: caption-ignoring retrieves worse than ground-truth resampling"]
    bad = ranking_checks(merge_results([_result("ground-truth resampling", 7.0, 90.0),
                                        _result("jittery", 8.0, 5.0)]))
    assert not bad["jittery has a jitter clearly above ground truth (acceleration >= 2x)"]
    assert not bad["ground-truth resampling stays close to ground truth on jitter (within 25%)"]


def test_tmr_block_left_out_with_the_reason_without_transformers(monkeypatch):
    from motioneval.demo.run import demo_tmr_evaluator

    real = builtins.__import__

    def no_transformers(name, *args, **kwargs):
        if name == "transformers" or name.startswith("transformers."):
            raise ImportError("No module named 'transformers'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_transformers)
    ev, note = demo_tmr_evaluator(True)
    assert ev is None and "pip install 'motioneval[tmr]'" in note
    assert demo_tmr_evaluator(False) == (None, None)


@pytest.mark.slow
def test_demo_shows_both_blocks(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from motioneval.demo.dataset import DemoDatasetConfig
    from motioneval.demo.run import run_demo

    config = DemoDatasetConfig(num_train=64, num_val=0, num_test=160, seed=11)
    demo = run_demo(tmp_path / "out", replications=2, dataset_config=config, overrides={"diversity_pairs": 100})
    assert [b.name for b in demo.result.blocks] == ["physical", "tmr"] and not demo.notes
    assert all(demo.checks.values()), (demo.checks, demo.result.to_markdown())
    assert (tmp_path / "out" / "physical_per_clip.npz").is_file()
