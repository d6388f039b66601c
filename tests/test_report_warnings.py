"""The report groups similar warnings as the commands do (one line per kind, every message on demand)."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from motioneval.protocol.results import MetricSummary, Result, Row  # noqa: E402
from motioneval.viz.report import write_report  # noqa: E402


def test_report_groups_repeated_warnings(tmp_path):
    fid = {"fid": MetricSummary.from_values(np.array([0.4, 0.5, 0.45]))}
    messages = [f"FID ({row}): side {side}: 32 samples for 128-d features: FID is biased upward"
                for row in ("ground truth", "samples") for side in (1, 2)] + ["the cache was rebuilt"]
    result = Result(rows=[Row("ground truth", "ground_truth", fid, 32), Row("samples", "model", fid, 32)],
                    preset={"name": "t2m"}, seed=0, replications=3, warnings=messages)
    files = write_report(result, tmp_path)
    page = files["html"].read_text()
    section = page.split("<h2>Warnings</h2>", 1)[1].split("</ul>", 1)[0]
    assert ("FID (ground truth, samples): side 1..2: 32 samples for 128-d features: FID is biased upward "
            "(4 times)<details><summary>all 4</summary>") in section
    for m in messages:  # every message is still in the page, under its group
        assert m in page
    md = files["markdown"].read_text()
    warn = md.split("## Warnings", 1)[1].split("##", 1)[0]
    assert [ln for ln in warn.splitlines() if ln.startswith("- ")] == [
        "- FID (ground truth, samples): side 1..2: 32 samples for 128-d features: FID is biased upward (4 times)",
        "- the cache was rebuilt"]
