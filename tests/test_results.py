"""Result schema round-trip, summaries (against a direct computation) and the table formats."""
from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from motioneval.protocol.presets import get_preset
from motioneval.protocol.results import (
    SCHEMA_VERSION,
    MetricSummary,
    Result,
    Row,
    format_pm,
    latex_cell,
    library_versions,
)


def _result() -> Result:
    rng = np.random.default_rng(3)
    gt_vals = {"r_precision_top1": 0.5 + 0.01 * rng.standard_normal(4), "fid": 0.002 + 0.0005 * rng.random(4),
               "matching_score": 3.0 + 0.01 * rng.standard_normal(4), "diversity": 9.5 + 0.1 * rng.standard_normal(4)}
    model_vals = {k: v + 0.3 for k, v in gt_vals.items()}
    model_vals["multimodality"] = [2.8, 2.9, None, None]
    rows = [Row("ground truth", "ground_truth", {k: MetricSummary.from_values(v) for k, v in gt_vals.items()}, 64),
            Row("my_model", "model", {k: MetricSummary.from_values(v) for k, v in model_vals.items()}, 64)]
    return Result(rows=rows, preset=get_preset("mdm", replications=4).to_dict(), seed=7, replications=4,
                  sample_counts={"ground_truth": 64}, fid_diagnostics={"my_model": [{"rank": 3}] * 4},
                  provenance={"evaluator": {"finest.tar": "ab" * 32}}, versions=library_versions(),
                  warnings=["w"], created="2025-01-01T00:00:00+00:00")


def test_summary_is_mean_and_population_ci():
    vals = [0.48, 0.50, 0.49, 0.47, 0.52]
    s = MetricSummary.from_values(vals)
    a = np.asarray(vals)
    assert s.mean == pytest.approx(a.mean(), rel=1e-15)
    assert s.ci95 == pytest.approx(1.96 * a.std(ddof=0) / np.sqrt(5), rel=1e-12)
    s = MetricSummary.from_values([2.0, None, 4.0])
    assert s.n == 2 and s.mean == 3.0 and s.values == [2.0, None, 4.0]
    assert MetricSummary.from_values([None, None]).mean is None
    assert MetricSummary.from_values([1.5]).ci95 == 0.0


def test_format_pm_is_the_papers_style():
    assert format_pm(0.489, 0.025) == r"0.489^{\pm.025}"
    assert format_pm(9.4491, 0.0824) == r"9.449^{\pm.082}"
    assert format_pm(12.0, 1.5) == r"12.000^{\pm1.500}"
    assert latex_cell(MetricSummary([0.464, 0.514], 0.489, 0.025)) == r"$0.489^{\pm.025}$"
    assert latex_cell(None) == "-"


def test_roundtrip_and_files(tmp_path):
    r = _result()
    paths = r.save(tmp_path)
    assert {p.name for p in paths.values()} == {"results.json", "results.md", "results.csv", "results.tex"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files left
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["preset"]["name"] == "custom" and data["preset"]["differences"]["replications"]["value"] == 4
    for key in ("rows", "seed", "provenance", "versions", "fid_diagnostics", "sample_counts", "warnings"):
        assert key in data
    assert {"python", "numpy", "scipy", "torch", "motioneval"} <= set(data["versions"])
    back = Result.load(tmp_path)
    assert back.to_dict() == r.to_dict()
    assert back.model["multimodality"].values == [2.8, 2.9, None, None]
    assert back.ground_truth.name == "ground truth"
    with pytest.raises(KeyError, match="no row"):
        back.row("other")


def test_markdown_csv_latex_views():
    r = _result()
    md = r.to_markdown()
    lines = md.splitlines()
    assert lines[0].startswith("| Method | R@1") and "FID ↓" in lines[0]
    s = r.model["fid"]
    assert f"{s.mean:.3f} ± {s.ci95:.3f}" in lines[3]
    assert "Preset `custom`" in md and "replications=4" in md
    rows = list(csv.reader(io.StringIO(r.to_csv())))
    assert rows[0][:6] == ["method", "kind", "metric", "mean", "ci95", "n"]
    mm = [x for x in rows if x[0] == "my_model" and x[2] == "multimodality"][0]
    assert float(mm[3]) == pytest.approx(2.85) and mm[5] == "2" and mm[6:] == ["2.8", "2.9", "", ""]
    tex = r.to_latex().splitlines()
    model_line = tex[-1]
    assert model_line.startswith("my\\_model & ") and model_line.endswith(r" \\")
    assert latex_cell(r.model["fid"]) in model_line
    assert model_line.count("&") == len(r.metric_keys())


def test_schema_version_mismatch(tmp_path):
    d = _result().to_dict()
    d["schema_version"] = 99
    (tmp_path / "results.json").write_text(json.dumps(d))
    with pytest.raises(ValueError, match="schema_version"):
        Result.load(tmp_path / "results.json")
    with pytest.raises(FileNotFoundError):
        Result.load(tmp_path / "nothing.json")
