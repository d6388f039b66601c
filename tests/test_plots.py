"""Plots: replication values with the protocol's confidence band, training curves from monitoring logs."""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from PIL import Image  # noqa: E402

from motioneval.viz.plots import (  # noqa: E402
    plot_replications,
    plot_training_curves,
    read_monitor_log,
    replications_figure,
    training_figure,
)


def _table(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "ground truth": {"fid": list(0.002 + 0.0005 * rng.standard_normal(20)),
                         "r_precision_top1": list(0.51 + 0.003 * rng.standard_normal(20))},
        "mdm": {"fid": list(0.49 + 0.05 * rng.standard_normal(20)),
                "r_precision_top1": list(0.42 + 0.005 * rng.standard_normal(20)),
                "multimodality": [2.8, None, 2.9, None, 3.0] + [None] * 15},
    }


def _rgb(path):
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def test_replication_plot_file_and_colours(tmp_path):
    out = plot_replications(_table(), tmp_path / "r.png", title="test")
    im = Image.open(out)
    im.verify()
    rgb = _rgb(out)
    blue = (rgb[..., 2] > rgb[..., 0] + 60) & (rgb[..., 2] > rgb[..., 1])
    orange = (rgb[..., 0] > rgb[..., 2] + 100) & (rgb[..., 0] > rgb[..., 1])
    assert blue.sum() > 100 and orange.sum() > 100  # ground truth blue, model orange


def test_band_is_the_protocol_confidence_interval():
    from motioneval.metrics.confidence import confidence_interval

    table = _table(1)
    fig = replications_figure(table, metrics=["fid", "multimodality"])
    ax_fid, ax_mm = fig.axes
    # axhspan patches: one per row, spanning mean - ci .. mean + ci
    spans = sorted((p.get_y(), p.get_y() + p.get_height()) for p in ax_fid.patches)
    expected = sorted((m - h, m + h) for m, h in (confidence_interval(np.array(v)) for v in
                                                   (table["ground truth"]["fid"], table["mdm"]["fid"])))
    np.testing.assert_allclose(spans, expected, rtol=1e-12)
    # values missing in some replications (None) are skipped, not plotted at zero
    (line,) = [l for l in ax_mm.get_lines() if l.get_linestyle() == "None"]
    np.testing.assert_array_equal(line.get_xdata(), [1, 3, 5])
    assert "higher is better" in ax_mm.get_title()


def test_replication_plot_from_result(tmp_path):
    from motioneval.protocol.results import MetricSummary, Result, Row

    t = _table(2)
    rows = [Row(name, "ground_truth" if "ground" in name else "model",
                {k: MetricSummary.from_values(v) for k, v in m.items()}) for name, m in t.items()]
    result = Result(rows=rows, preset={"name": "t2m"}, seed=0, replications=20)
    svg = plot_replications(result, tmp_path / "r.svg")
    assert svg.read_text().lstrip().startswith("<?xml") and "<svg" in svg.read_text()[:2000]
    fig = replications_figure(result.to_dict())
    assert [a.get_title().split(" (")[0] for a in fig.axes] == ["R-precision top 1", "FID", "MultiModality"]
    with pytest.raises(ValueError, match=r"\.png, \.svg or \.pdf"):
        plot_replications(result, tmp_path / "r.jpg")


def _log_records():
    return [{"step": s, "fid": 5.0 / (1 + s / 1000), "r_precision_top1": 0.1 + s / 20000, "seconds": 1.5}
            for s in range(0, 5001, 1000)]


def test_training_curves_from_jsonl_and_csv(tmp_path):
    recs = _log_records()
    jl = tmp_path / "log.jsonl"
    jl.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    csvp = tmp_path / "log.csv"
    csvp.write_text("step,fid,r_precision_top1,seconds\n" + "".join(
        f"{r['step']},{r['fid']!r},{r['r_precision_top1']!r},{r['seconds']}\n" for r in recs))
    for src in (jl, csvp):
        back = read_monitor_log(src)
        assert [r["step"] for r in back] == [r["step"] for r in recs]
        np.testing.assert_allclose([r["fid"] for r in back], [r["fid"] for r in recs], rtol=1e-15)
    out = plot_training_curves(jl, tmp_path / "t.png", best_metric="fid", reference={"fid": 0.5})
    Image.open(out).verify()
    fig = training_figure(recs, best_metric="r_precision_top1")
    assert [a.get_title().split(" (")[0] for a in fig.axes] == ["R-precision top 1", "FID"]  # not 'seconds'
    # the best step (highest R-precision: the last) is marked by a vertical line in each panel
    vlines = [l for l in fig.axes[1].get_lines() if l.get_linestyle() == ":"]
    assert vlines and vlines[0].get_xdata()[0] == 5000
    fig = training_figure(recs, best_metric="fid")  # lower is better: also the last step here
    assert [l for l in fig.axes[1].get_lines() if l.get_linestyle() == ":"][0].get_xdata()[0] == 5000


def test_bad_logs(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"step": 1, "fid": 2}\nnot json\n')
    with pytest.raises(ValueError, match="line 2"):
        read_monitor_log(p)
    p.write_text('{"fid": 2}\n')
    with pytest.raises(ValueError, match="no 'step'"):
        read_monitor_log(p)
    with pytest.raises(FileNotFoundError):
        read_monitor_log(tmp_path / "missing.jsonl")


def test_no_panel_for_a_metric_never_computed_nor_for_flags():
    t = _table(3)
    t["mdm"]["multimodality"] = [None] * 20  # MultiModality switched off: no empty panel
    fig = replications_figure(t)
    assert [a.get_title().split(" (")[0] for a in fig.axes if a.get_visible()] == ["R-precision top 1", "FID"]
    recs = [dict(r, is_best=(r["step"] == 5000)) for r in _log_records()]  # the monitor's flag is no metric
    fig = training_figure(recs)
    assert [a.get_title().split(" (")[0] for a in fig.axes if a.get_visible()] == ["R-precision top 1", "FID"]
