"""Per-clip distributions of the physical metrics, generated models against ground truth (matplotlib Agg).

One panel per metric (:data:`motioneval.metrics.physical.METRICS`): a density histogram per row on bin edges
shared by all rows of the panel (``kind="hist"``, ground truth filled in blue, models as outlines in further
colours), or one violin per row (``kind="violin"``). Each density is ``counts / (n * bin width)`` over the row's
clips with a value (NaN clips, e.g. no floor contact for skating, are skipped and counted in the legend), so
rows with different clip counts compare. Bins are log-spaced when every value of the panel is positive and
they span more than :data:`LOG_SPAN` (a jittery model's acceleration is ten times the data's); ``log=`` forces
either. On log-spaced bins the width is measured in decades (``log10`` of the edges): density per decade,
so that equal areas hold equal fractions of clips on the log axis. The legend gives each row's clip count
and mean. The reference row is the one named ``reference`` ("ground truth"), whatever the other names.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .plots import GT_COLOR, MODEL_COLORS, _figure, _save

__all__ = ["LOG_SPAN", "physical_distributions_figure", "physical_hist_edges", "plot_physical_distributions"]

#: max / min of a panel's values above which bins are log-spaced (when ``log=None``)
LOG_SPAN = 50.0
_DIRECTIONS = {"lower": "lower is better", "higher": "higher is better",
               "closer-to-ground-truth": "closer to ground truth is better"}


def _per_clip(rows: Any) -> dict[str, dict[str, np.ndarray]]:
    """``{row: {metric: (N,) float64}}`` (``phys_`` prefixes removed) from mappings or ``PhysicsReport`` s."""
    if not isinstance(rows, Mapping) or not rows:
        raise TypeError("rows must be a non-empty {row name: {metric: per-clip values}} (or {row: PhysicsReport})")
    out: dict[str, dict[str, np.ndarray]] = {}
    for name, values in rows.items():
        if not isinstance(values, Mapping):
            values = getattr(values, "values", values)  # a PhysicsReport
        if not isinstance(values, Mapping):
            raise TypeError(f"row {name!r}: expected {{metric: per-clip values}}; got {type(values).__name__}")
        out[str(name)] = {(k[5:] if k.startswith("phys_") else k): np.ravel(np.asarray(v, np.float64))
                          for k, v in values.items()}
    return out




def physical_hist_edges(values: Sequence[np.ndarray], *, bins: int = 30, log: bool | None = None
                        ) -> tuple[np.ndarray, bool]:
    """Bin edges shared by several rows' values (finite values only) and whether they are log-spaced."""
    if bins < 1:
        raise ValueError(f"bins must be >= 1; got {bins}")
    finite = np.concatenate([v[np.isfinite(v)] for v in values]) if values else np.empty(0)
    if finite.size == 0:
        return np.array([0.0, 1.0]), False
    lo, hi = float(finite.min()), float(finite.max())
    if log is None:
        log = lo > 0 and hi / lo > LOG_SPAN
    if log:
        if lo <= 0:
            raise ValueError("log-spaced bins need positive values; pass log=False")
        return np.geomspace(lo, hi, bins + 1), True
    if hi == lo:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, bins + 1), False


def physical_distributions_figure(rows: Any, *, metrics: Sequence[str] | None = None, kind: str = "hist",
                                  bins: int = 30, log: bool | None = None, cols: int = 3,
                                  title: str | None = None, reference: str = "ground truth") -> Any:
    """The matplotlib ``Figure`` of :func:`plot_physical_distributions`."""
    from ..metrics.physical import METRICS

    if kind not in ("hist", "violin"):
        raise ValueError(f"kind must be 'hist' or 'violin'; got {kind!r}")
    table = _per_clip(rows)
    present = {k for row in table.values() for k, v in row.items() if np.isfinite(v).any()}
    if metrics is None:
        metrics = [k for k in METRICS if k in present] + sorted(present - set(METRICS))
    metrics = [m[5:] if m.startswith("phys_") else m for m in metrics]
    if not metrics:
        raise ValueError("no physical metric with a value to plot")
    missing = [m for m in metrics if not any(m in row for row in table.values())]
    if missing:
        raise ValueError(f"metrics {missing} are in no row; rows have {sorted({k for r in table.values() for k in r})}")
    # ground truth first (drawn underneath), then the models in their order
    names = sorted(table, key=lambda n: n != reference)
    model_colors = iter(MODEL_COLORS * 10)
    colors = {n: (GT_COLOR if n == reference else next(model_colors)) for n in names}
    fig, axes = _figure(len(metrics), cols)
    for ax, key in zip(axes, metrics):
        shown = [n for n in names if key in table[n]]
        data = [table[n][key] for n in shown]
        edges, is_log = physical_hist_edges(data, bins=bins, log=log)
        if kind == "hist":
            for name, v in zip(shown, data):
                ok = v[np.isfinite(v)]
                label = _legend(name, v)
                if ok.size == 0:
                    ax.plot([], [], color=colors[name], label=label)
                    continue
                counts, _ = np.histogram(ok, edges)
                widths = np.diff(np.log10(edges)) if is_log else np.diff(edges)
                density = counts / (ok.size * widths)
                ref = name == reference
                ax.stairs(density, edges, color=colors[name], lw=1.4, label=label)
                if ref:  # the reference is also shaded
                    ax.stairs(density, edges, color=colors[name], fill=True, alpha=0.25, lw=0)
            if is_log:
                ax.set_xscale("log")
            unit = METRICS[key].unit if key in METRICS else ""
            ax.set_xlabel(unit, fontsize=8)
            ax.set_ylabel("density per decade" if is_log else "density", fontsize=8)
        else:
            pos = [i + 1 for i, v in enumerate(data) if np.isfinite(v).any()]
            finite = [v[np.isfinite(v)] for v in data if np.isfinite(v).any()]
            if finite:
                parts = ax.violinplot(finite, positions=pos, showmedians=True, showextrema=False)
                used = [n for n, v in zip(shown, data) if np.isfinite(v).any()]
                for body, name in zip(parts["bodies"], used):
                    body.set_facecolor(colors[name])
                    body.set_edgecolor(colors[name])
                    body.set_alpha(0.5)
            ax.set_xticks(range(1, len(shown) + 1), [_legend(n, v) for n, v in zip(shown, data)], fontsize=6,
                          rotation=20, ha="right")
            if is_log:
                ax.set_yscale("log")
            ax.set_ylabel(METRICS[key].unit if key in METRICS else "", fontsize=8)
        info = METRICS.get(key)
        label = info.label if info else key
        direction = _DIRECTIONS.get(info.direction, "") if info else ""
        ax.set_title(label + (f" ({direction})" if direction else ""), fontsize=9)
        ax.tick_params(labelsize=7)
        if kind == "hist":
            ax.legend(fontsize=6, loc="best")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def _legend(name: str, v: np.ndarray) -> str:
    ok = v[np.isfinite(v)]
    text = f"{name}: n={ok.size}" + (f", mean {ok.mean():.3g}" if ok.size else "")
    if ok.size < v.size:
        text += f", {v.size - ok.size} without value"
    return text


def plot_physical_distributions(rows: Any, path: str | Path, *, metrics: Sequence[str] | None = None,
                                kind: str = "hist", bins: int = 30, log: bool | None = None, cols: int = 3,
                                title: str | None = None, reference: str = "ground truth", dpi: int = 110) -> Path:
    """Per-clip distributions of each physical metric, one panel per metric, every row against ground truth.

    ``rows``: ``{row name: {metric: per-clip values}}`` (keys as :func:`~motioneval.metrics.physical.
    physical_metrics` returns them, or with the ``phys_`` prefix of ``physical_columns``) or
    ``{row name: PhysicsReport}``; the row named ``reference`` is drawn in blue, filled. ``kind``:
    ``"hist"`` or ``"violin"``. Writes PNG, SVG or PDF (by suffix) atomically; returns the path.
    """
    fig = physical_distributions_figure(rows, metrics=metrics, kind=kind, bins=bins, log=log, cols=cols,
                                        title=title, reference=reference)
    return _save(fig, path, dpi)
