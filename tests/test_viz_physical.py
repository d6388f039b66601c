"""Per-clip physical-metric distributions: densities on shared edges, ground truth in blue, NaN clips counted."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from PIL import Image  # noqa: E402

from motioneval.viz.physical import (  # noqa: E402
    physical_distributions_figure,
    physical_hist_edges,
    plot_physical_distributions,
)


def _rows(seed=0):
    rng = np.random.default_rng(seed)
    gt_accel = rng.lognormal(np.log(5.0), 0.3, 80)
    return {
        "ground truth": {"phys_accel": gt_accel, "phys_skate_ratio": rng.uniform(0.2, 0.6, 80)},
        "jittery": {"phys_accel": 10 * rng.lognormal(np.log(5.0), 0.3, 50),
                    "phys_skate_ratio": np.r_[rng.uniform(0.2, 0.6, 45), [np.nan] * 5]},
    }


def test_densities_are_the_histograms_on_shared_edges():
    rows = _rows()
    fig = physical_distributions_figure(rows, bins=20)
    ax_skate, ax_accel = None, None
    for ax in fig.axes:
        if ax.get_title().startswith("Foot skate ratio"):
            ax_skate = ax
        if ax.get_title().startswith("Acceleration"):
            ax_accel = ax
    assert ax_accel is not None and ax_skate is not None
    assert "lower is better" in ax_accel.get_title()
    # acceleration spans less than LOG_SPAN here -> linear; edges shared by both rows
    steps = [a for a in ax_accel.patches if hasattr(a, "get_data") and not a.get_fill()]
    assert len(steps) == 2
    all_vals = np.concatenate([rows["ground truth"]["phys_accel"], rows["jittery"]["phys_accel"]])
    edges = np.linspace(all_vals.min(), all_vals.max(), 21)
    for step, name in zip(steps, ["ground truth", "jittery"]):
        values, got_edges, _ = step.get_data()
        np.testing.assert_allclose(got_edges, edges, rtol=1e-12)
        expected, _ = np.histogram(rows[name]["phys_accel"], edges, density=True)
        np.testing.assert_allclose(values, expected, rtol=1e-12)
    # NaN clips are skipped (density over the 45 with a value) and counted in the legend
    steps = [a for a in ax_skate.patches if hasattr(a, "get_data") and not a.get_fill()]
    values, e, _ = steps[1].get_data()
    v = rows["jittery"]["phys_skate_ratio"]
    np.testing.assert_allclose(values, np.histogram(v[np.isfinite(v)], e, density=True)[0], rtol=1e-12)
    texts = [t.get_text() for t in ax_skate.get_legend().get_texts()]
    assert texts[1].startswith("jittery: n=45") and texts[1].endswith("5 without value")


def test_log_bins_when_values_span_decades():
    a = np.geomspace(1, 1000, 30)
    edges, is_log = physical_hist_edges([a], bins=6)
    assert is_log and np.allclose(edges, np.geomspace(1, 1000, 7))
    edges, is_log = physical_hist_edges([np.r_[0.0, a]], bins=6)  # a zero: linear
    assert not is_log and edges[0] == 0
    with pytest.raises(ValueError, match="positive"):
        physical_hist_edges([np.r_[0.0, a]], log=True)
    edges, _ = physical_hist_edges([np.full(4, 2.0)], bins=2)  # a constant: a unit-wide range around it
    assert np.allclose(edges, [1.5, 2.0, 2.5])
    rows = {"ground-truth resampling": {"accel": 3 * a}, "ground truth": {"accel": a}}
    fig = physical_distributions_figure(rows, bins=6)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_ylabel() == "density per decade"
    lines = [p for p in ax.patches if not p.get_fill()]
    filled = [p for p in ax.patches if p.get_fill()]
    # the reference is the row named "ground truth" (drawn first, filled), not every name containing "ground"
    assert len(filled) == 1 and lines[0].get_label().startswith("ground truth:")
    edges = np.geomspace(1, 3000, 7)
    for p, v in zip(lines, (a, 3 * a)):  # density per decade: counts / (n * log10 width), integrates to 1
        values, e, _ = p.get_data()
        np.testing.assert_allclose(e, edges, rtol=1e-12)
        counts = np.histogram(v, edges)[0]
        np.testing.assert_allclose(values, counts / (v.size * np.log10(3000) / 6), rtol=1e-12)
        assert np.sum(values * np.diff(np.log10(e))) == pytest.approx(1.0)


def test_violins_and_the_written_file(tmp_path):
    fig = physical_distributions_figure(_rows(1), kind="violin", metrics=["phys_accel"])
    (ax,) = fig.axes
    assert len(ax.collections) >= 2  # two violin bodies (+ the median lines)
    assert [t.get_text().split(":")[0] for t in ax.get_xticklabels()] == ["ground truth", "jittery"]
    out = plot_physical_distributions(_rows(2), tmp_path / "phys.png", title="physical")
    rgb = np.asarray(Image.open(out).convert("RGB")).astype(int)
    blue = (rgb[..., 2] > rgb[..., 0] + 60) & (rgb[..., 2] > rgb[..., 1])
    orange = (rgb[..., 0] > rgb[..., 2] + 100) & (rgb[..., 0] > rgb[..., 1])
    assert blue.sum() > 100 and orange.sum() > 50


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="in no row"):
        physical_distributions_figure(_rows(), metrics=["jerk"])
    with pytest.raises(TypeError, match="non-empty"):
        physical_distributions_figure({})
    with pytest.raises(ValueError, match="kind"):
        physical_distributions_figure(_rows(), kind="box")
    with pytest.raises(ValueError, match="no physical metric"):
        physical_distributions_figure({"ground truth": {"accel": [np.nan]}})
