"""Published registry: every row cites a source; the CLI prints a user's row beside published rows."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from motioneval.protocol.published import (
    beside_published,
    load_registry,
    not_included,
    published,
)

sys.path.insert(0, str(Path(__file__).parent))
from test_compare import synthetic_result


def test_every_number_has_a_source_and_known_metric_keys():
    from motioneval.protocol.results import METRICS

    reg = load_registry()
    assert reg["entries"]
    for e in reg["entries"]:
        src = reg["sources"][e["source"]]  # KeyError if a row names no source
        assert src["url"].startswith("https://") and src["title"] and e["table"]
        assert e["dataset"] in ("humanml3d", "kit")
        for row in e["rows"]:
            assert row["kind"] in ("ground_truth", "model") and row["metrics"]
            for key, v in row["metrics"].items():
                assert key in METRICS and isinstance(v["mean"], float)
                assert v["ci95"] is None or v["ci95"] >= 0
    lineages = {e["lineage"] for e in reg["entries"]}
    assert {"mdm", "momask", "t2m-gpt", "t2m", "motiongpt", "mld"} <= lineages
    # MotionLCM numbers could not be verified: no rows, and the registry says so
    assert not published("motionlcm") and any(k.startswith("motionlcm") for k in not_included())


def test_mdm_corrected_table_matches_the_spec(data_dir):
    """The spec (protocol.md) quotes MDM's corrected HumanML3D table to 3 decimals; the registry holds the
    repository's .tex file (2 decimals for MM Dist / Diversity / MModality): they agree to the printed digits."""
    spec = (data_dir.parent / "spec" / "protocol.md").read_text()
    assert "MDM 0.418/0.604/0.707, FID 0.489, MM Dist 3.631, Diversity 9.449, MultiModality 2.873" in spec
    (gt,) = [r for r in published("mdm", "humanml3d") if r.kind == "ground_truth"]
    mdm = next(r for r in published("mdm", "humanml3d") if r.name == "MDM (paper model)")
    got = {k: v["mean"] for k, v in mdm.metrics.items()}
    assert got["r_precision_top1"] == 0.418 and got["fid"] == 0.489
    assert abs(got["matching_score"] - 3.631) < 0.005 and abs(got["multimodality"] - 2.873) < 0.005
    assert abs(gt.metrics["diversity"]["mean"] - 9.503) < 0.005


def test_beside_published_and_cli(tmp_path, capsys):
    from motioneval.cli.main import main

    res = synthetic_result(0, {"mine": 0.7}, replications=4)
    res.provenance["dataset"]["kind"] = "humanml3d"
    text = beside_published(res, "mdm,momask")
    assert "MDM (paper model)" in text and "MoMask" in text and "fixed_results.tex" in text
    assert "replications: yours 4" in text
    res.save(tmp_path / "a")
    assert main(["compare", str(tmp_path / "a"), "--published", "mdm", "--target-halfwidth", "fid=0.001"]) == 0
    out = capsys.readouterr().out
    assert "Sources and protocol differences" in out and "replications for +-0.001" in out
    with pytest.raises(ValueError, match="unknown lineage"):
        published("nosuch")


def test_cli_compare_two_files_and_rows(tmp_path, capsys):
    from motioneval.cli.main import main

    both = synthetic_result(5, {"good": 0.6, "bad": 1.3}, replications=6)
    both.save(tmp_path / "both")
    assert main(["compare", str(tmp_path / "both"), "--rows", "good,bad", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (c,) = data["comparisons"]
    assert c["paired"] and next(m for m in c["metrics"] if m["metric"] == "fid")["better"] == "A"
    a = synthetic_result(5, {"m": 0.6}, replications=6)
    b = synthetic_result(6, {"m": 0.6}, replications=6)
    a.save(tmp_path / "a")
    b.save(tmp_path / "b")
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "UNPAIRED (Welch): seeds differ" in out
