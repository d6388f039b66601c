"""Result blocks beside the protocol table: summaries, formats, physical and TMR replication values."""
from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest

from motioneval.metrics.confidence import confidence_interval
from motioneval.protocol.blocks import (
    TMR_SHOWN,
    ResultBlock,
    physical_block,
    physical_metric_infos,
    physical_replication_values,
    tmr_block,
    tmr_metric_infos,
    tmr_replication_values,
)


def _phys_values():
    rng = np.random.default_rng(0)
    return {
        "ground truth": [{"phys_accel": 5 + 0.1 * rng.standard_normal(), "phys_floating": 0.004} for _ in range(5)],
        "jittery": [{"phys_accel": 50 + rng.standard_normal(), "phys_floating": None if i == 2 else 0.003}
                    for i in range(5)],
    }


def test_summaries_are_the_protocol_interval():
    values = _phys_values()
    block = physical_block(values, variant="default", fps=20.0, num_samples={"ground truth": 10, "jittery": 10})
    gt, model = block.rows
    assert (gt.kind, model.kind) == ("ground_truth", "model")
    m, h = confidence_interval(np.array([v["phys_accel"] for v in values["jittery"]]))
    assert model["phys_accel"].mean == pytest.approx(m, rel=1e-15) and model["phys_accel"].ci95 == pytest.approx(h)
    # a replication without a value is None, not 0, and does not count
    assert model["phys_floating"].values[2] is None and model["phys_floating"].n == 4
    assert "phys_jerk" not in model.metrics  # no values: no column
    assert block.settings["variant"] == "default" and block.settings["fps"] == 20.0
    assert "not protocol metrics" in block.title


def test_round_trip_and_views():
    block = physical_block(_phys_values(), variant="kimodo", fps=20.0)
    again = ResultBlock.from_dict(block.to_dict())
    assert again.to_dict() == block.to_dict()
    md = block.to_markdown()
    lines = md.splitlines()
    assert lines[0].startswith("### Physical plausibility (variant kimodo, 20 fps")
    assert "Accel (m/s^2) ↓" in lines[2] and "Float (m) ↓" in lines[2]
    gt_line = [ln for ln in lines if ln.startswith("| ground truth")][0]
    assert "0.004" in gt_line  # small values keep their digits
    assert "not protocol metrics" in md
    rows = list(csv.reader(io.StringIO(block.to_csv())))
    assert rows[0][:7] == ["block", "method", "kind", "metric", "mean", "ci95", "n"]
    accel = [r for r in rows if r[1] == "jittery" and r[3] == "phys_accel"][0]
    assert float(accel[4]) == pytest.approx(block.row("jittery")["phys_accel"].mean) and accel[6] == "5"
    tex = block.to_latex()
    assert tex.startswith("% Physical plausibility") and r"jittery & $" in tex


def test_physical_replication_values_skip_nan_clips():
    vals = physical_replication_values({"phys_accel": [1.0, np.nan, 3.0], "skate_speed": [np.nan, np.nan]})
    assert vals == {"phys_accel": 2.0, "phys_skate_speed": None}
    keys = [m.key for m in physical_metric_infos()]
    assert keys[0] == "phys_skate_speed" and "phys_speed" in keys
    speed = [m for m in physical_metric_infos() if m.key == "phys_speed"][0]
    assert speed.direction == "closer to ground truth" and speed.unit == "m/s"


def _brute_r_at_1(t, m):
    tn = t / np.linalg.norm(t, axis=1, keepdims=True)
    mn = m / np.linalg.norm(m, axis=1, keepdims=True)
    s = tn @ mn.T
    return 100 * np.mean([np.sum(s[i] > s[i, i]) == 0 for i in range(len(t))])


def test_tmr_replication_values_against_independent_computations():
    from motioneval.metrics.frechet import fid

    rng = np.random.default_rng(1)
    n, d = 40, 8
    text = rng.standard_normal((n, d))
    motion = text + 0.8 * rng.standard_normal((n, d))
    ref = rng.standard_normal((n, d)) + 0.3
    vals = tmr_replication_values(text, motion, ref)
    assert vals["normal/t2m/R01"] == pytest.approx(_brute_r_at_1(text, motion))
    assert vals["normal/m2t/R01"] == pytest.approx(_brute_r_at_1(motion, text))
    assert vals["tmr_fid"] == pytest.approx(fid(ref, motion), rel=1e-12)
    assert vals["tmr_matching_score"] == pytest.approx(np.linalg.norm(text - motion, axis=1).mean())
    assert "guo/t2m/R01" in vals  # 40 >= 32 rows
    assert set(vals) <= {m.key for m in tmr_metric_infos()}
    few = tmr_replication_values(text[:20], motion[:20])
    assert "guo/t2m/R01" not in few and "tmr_fid" not in few
    block = tmr_block({"ground truth": [vals, vals], "model": [few, few]}, provenance={"a.pt": "0" * 64},
                      dataset="demo")
    md = block.to_markdown()
    header = md.splitlines()[2]
    assert header.count("|") == len(TMR_SHOWN) + 2  # only the shown columns
    assert "not comparable" in md and block.provenance == {"evaluator": {"a.pt": "0" * 64}}
    assert block.row("model")["normal/t2m/R01"].ci95 == 0.0
    assert math.isclose(block.row("ground truth")["tmr_fid"].mean, vals["tmr_fid"])


def test_per_clip_values_round_trip_beside_the_json(tmp_path):
    block = physical_block(_phys_values(), fps=20.0)
    assert block.write_per_clip(tmp_path) is None  # nothing to write
    block.per_clip = {"ground truth": {"phys_accel": np.array([1.0, np.nan, 2.5])},
                      "a|b/c": {"phys_accel": np.arange(4.0), "phys_speed": np.ones(4)}}
    path = block.write_per_clip(tmp_path)
    assert path == tmp_path / "physical_per_clip.npz"
    again = ResultBlock.from_dict(block.to_dict())
    assert again.per_clip is None and "per_clip" not in block.to_dict()
    assert again.read_per_clip(tmp_path)
    assert list(again.per_clip) == ["ground truth", "a|b/c"]
    np.testing.assert_array_equal(again.per_clip["ground truth"]["phys_accel"], [1.0, np.nan, 2.5])
    np.testing.assert_array_equal(again.per_clip["a|b/c"]["phys_speed"], np.ones(4))
