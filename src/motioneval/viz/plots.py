"""Plots of evaluation results, drawn with matplotlib's Agg canvas (headless, no pyplot global state).

- :func:`plot_replications`: each metric's per-replication values with the mean and its 95% confidence band
  (``mean +- 1.96 * std / sqrt(n)``, population std: the protocol's interval), ground truth in blue and
  models in orange and further colours;
- :func:`plot_training_curves`: metrics against the training step from a monitoring log (CSV or JSONL
  written by :class:`motioneval.protocol.monitor.TrainingMonitor`), with the best step marked.

Both accept plain data (``{row: {metric: values}}``, a list of records) as well as motioneval objects,
and write PNG, SVG or PDF (by the file suffix) atomically.
"""
from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_write_bytes, read_text
from ..constants import METRICS, metric_info

GT_COLOR = "#1f77b4"
MODEL_COLORS = ("#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")

#: metric key -> (label, direction) for metrics known to the protocol; others are labelled by their key
#: Long label and direction of the protocol's metrics, in table order, from the metric catalog.
_KNOWN = {key: (info.long_label, info.direction) for key, info in METRICS.items()}


def _label(key: str) -> str:
    info = metric_info(key)  # the catalog: the protocol's metrics and those added with register_metric
    label, direction = (info.long_label, info.direction) if info is not None else (key, "")
    arrow = {"higher": " (higher is better)", "lower": " (lower is better)",
             "closer to ground truth": " (closer to ground truth is better)"}.get(direction, "")
    return label + arrow


def _figure(n_panels: int, cols: int = 3, panel: tuple[float, float] = (4.2, 3.0)) -> tuple[Any, list[Any]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cols = max(1, min(cols, n_panels))
    rows = math.ceil(n_panels / cols)
    fig = Figure(figsize=(panel[0] * cols, panel[1] * rows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(rows, cols, i + 1) for i in range(n_panels)]
    return fig, axes


def _save(fig: Any, path: str | Path, dpi: int) -> Path:
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg", "pdf"):
        raise ValueError(f"plots are written as .png, .svg or .pdf; got {path.name!r}")
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi)
    return atomic_write_bytes(path, buf.getvalue())


def _replication_table(result: Any) -> dict[str, dict[str, list[float | None]]]:
    """``{row name: {metric: per-replication values}}`` from a ``Result``, its dict, or plain data."""
    if hasattr(result, "rows"):
        return {r.name: {k: list(m.values) for k, m in r.metrics.items()} for r in result.rows}
    if isinstance(result, Mapping) and "rows" in result:
        return {r["name"]: {k: list(m["values"]) for k, m in r["metrics"].items()} for r in result["rows"]}
    if isinstance(result, Mapping):
        return {str(name): {str(k): list(np.ravel(v)) for k, v in metrics.items()} for name, metrics in result.items()}
    raise TypeError("result must be a Result, its to_dict(), or {row name: {metric: per-replication values}}")


def _ci(values: np.ndarray) -> tuple[float, float]:
    """The protocol's interval: mean and 1.96 * population std / sqrt(n)."""
    if values.size == 0:
        return float("nan"), float("nan")
    return float(values.mean()), float(1.96 * values.std() / math.sqrt(values.size))


def plot_replications(result: Any, path: str | Path, *, metrics: Sequence[str] | None = None,
                      title: str | None = None, cols: int = 3, dpi: int = 110) -> Path:
    """Per-replication values of each metric, one panel per metric, with each row's mean and 95% CI band.

    ``result``: a :class:`~motioneval.protocol.results.Result`, its ``to_dict()``, or
    ``{row name: {metric: [value per replication (None where not computed)]}}``; a row named
    ``"ground truth"`` (or whose name contains it) is drawn in blue. Returns the written path.
    """
    return _save(replications_figure(result, metrics=metrics, title=title, cols=cols), path, dpi)


def replications_figure(result: Any, *, metrics: Sequence[str] | None = None, title: str | None = None,
                        cols: int = 3) -> Any:
    """The matplotlib ``Figure`` that :func:`plot_replications` saves."""
    table = _replication_table(result)
    if metrics is None:  # metrics with at least one value (MultiModality is often not computed)
        present = {k for row in table.values() for k, vals in row.items() if any(v is not None for v in vals)}
        metrics = [k for k in _KNOWN if k in present] + sorted(present - set(_KNOWN))
    metrics = list(metrics)
    if not metrics:
        raise ValueError("no metrics to plot")
    fig, axes = _figure(len(metrics), cols)
    model_colors = iter(MODEL_COLORS * 10)
    colors = {name: (GT_COLOR if "ground" in name.lower() else next(model_colors)) for name in table}
    for ax, key in zip(axes, metrics):
        plotted = False
        for name, row in table.items():
            vals = row.get(key)
            if vals is None:
                continue
            reps = np.array([i for i, v in enumerate(vals) if v is not None])
            y = np.array([v for v in vals if v is not None], dtype=np.float64)
            if y.size == 0:
                continue
            mean, half = _ci(y)
            c = colors[name]
            ax.plot(reps + 1, y, "o", color=c, ms=4, alpha=0.85, label=f"{name}: {mean:.3f} ± {half:.3f}")
            ax.axhline(mean, color=c, lw=1.2)
            ax.axhspan(mean - half, mean + half, color=c, alpha=0.18, lw=0)
            plotted = True
        ax.set_title(_label(key), fontsize=9)
        ax.set_xlabel("replication", fontsize=8)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.tick_params(labelsize=7)
        if plotted:
            ax.legend(fontsize=7, loc="best")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def read_monitor_log(source: Any) -> list[dict[str, Any]]:
    """Records (dicts with ``step`` and metric values) from a JSONL or CSV monitoring log, or a list of dicts."""
    if isinstance(source, (list, tuple)):
        return [dict(r) for r in source]
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"monitoring log not found: {path}")
    text = read_text(path, expected="a monitoring log (metrics.jsonl or .csv)")
    records: list[dict[str, Any]] = []
    if path.suffix == ".csv":
        for row in csv.DictReader(io.StringIO(text)):
            records.append({k: _num(v) for k, v in row.items()})
    else:
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}, line {n}: not JSON ({exc}); expected one record per line") from exc
    if not records:
        raise ValueError(f"{path}: no records")
    missing = [i for i, r in enumerate(records) if "step" not in r]
    if missing:
        raise ValueError(f"{path}: record {missing[0]} has no 'step'")
    return records


def _num(v: str) -> Any:
    if v in ("", None):
        return None
    try:
        return float(v) if any(c in v for c in ".eEn") else int(v)
    except ValueError:
        return v


def plot_training_curves(log: Any, path: str | Path, *, metrics: Sequence[str] | None = None,
                         best_metric: str | None = None, mode: str | None = None,
                         reference: Mapping[str, float] | None = None, title: str | None = None,
                         cols: int = 3, dpi: int = 110) -> Path:
    """Metrics against training step from a monitoring log (path or records), one panel per metric.

    ``best_metric`` marks the best step (``mode`` ``"min"``/``"max"``, default from the metric); ``reference``
    draws dashed lines, e.g. the ground truth's values or the full protocol's result.
    """
    fig = training_figure(log, metrics=metrics, best_metric=best_metric, mode=mode, reference=reference,
                          title=title, cols=cols)
    return _save(fig, path, dpi)


def training_figure(log: Any, *, metrics: Sequence[str] | None = None, best_metric: str | None = None,
                    mode: str | None = None, reference: Mapping[str, float] | None = None,
                    title: str | None = None, cols: int = 3) -> Any:
    """The matplotlib ``Figure`` that :func:`plot_training_curves` saves."""
    records = sorted(read_monitor_log(log), key=lambda r: r["step"])
    if metrics is None:
        keys = [k for k in records[0] if k != "step" and not k.startswith("is_")
                and isinstance(records[0][k], (int, float)) and not isinstance(records[0][k], bool)]
        metrics = [k for k in _KNOWN if k in keys] + [k for k in keys if k not in _KNOWN and k not in
                                                       ("time", "seconds", "num_samples", "wall_time")]
    metrics = list(metrics)
    if not metrics:
        raise ValueError("no numeric metrics in the log")
    steps = np.array([r["step"] for r in records], dtype=np.float64)
    fig, axes = _figure(len(metrics), cols)
    best_step = None
    if best_metric is not None:
        y = np.array([_float(r.get(best_metric)) for r in records])
        if np.isfinite(y).any():
            direction = mode or ("max" if _KNOWN.get(best_metric, ("", "lower"))[1] == "higher" else "min")
            best_step = steps[np.nanargmax(y) if direction == "max" else np.nanargmin(y)]
    for ax, key in zip(axes, metrics):
        y = np.array([_float(r.get(key)) for r in records])
        ok = np.isfinite(y)
        ax.plot(steps[ok], y[ok], "-o", color=MODEL_COLORS[0], ms=3, lw=1.2)
        if reference and key in reference:
            ax.axhline(float(reference[key]), color=GT_COLOR, ls="--", lw=1, label="reference")
            ax.legend(fontsize=7)
        if best_step is not None:
            ax.axvline(best_step, color="0.4", ls=":", lw=1)
        ax.set_title(_label(key), fontsize=9)
        ax.set_xlabel("training step", fontsize=8)
        ax.tick_params(labelsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def _float(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")
