"""A one-page report of an evaluation: results table, replication plot, a few rendered samples, provenance.

:func:`write_report` writes ``report.html`` (self-contained: images are embedded as data URIs, so the file
can be mailed or attached) and ``report.md`` (images as files beside it) into ``out_dir``, plus the image
files themselves. ``motioneval evaluate --report`` calls it with the run's result and samples.
"""
from __future__ import annotations

import base64
import html
import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._io import atomic_write_text, json_default
from ..constants import METRICS

log = logging.getLogger(__name__)

#: Column labels with the direction arrow, from the metric catalog (``motioneval.constants.METRICS``).
_LABELS = {key: f"{info.label} {info.arrow}" for key, info in METRICS.items()}
_ORDER = list(_LABELS)


def _cell(summary: Any, digits: int = 3) -> str:
    mean = getattr(summary, "mean", None)
    if mean is None:
        return "-"
    if not math.isfinite(mean):
        return "nan"
    ci = getattr(summary, "ci95", None)
    n = getattr(summary, "n", 0)
    if ci is None or n <= 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {ci:.{digits}f}"


def _metric_keys(result: Any) -> list[str]:
    present = {k for r in result.rows for k in r.metrics}
    return [k for k in _ORDER if k in present] + sorted(present - set(_ORDER))


def _stats_from_provenance(result: Any, normalization: str) -> Any:
    """The statistics recorded in the result's provenance for ``normalization``, if the files still exist."""
    from ..representation.normalization import FeatureStats

    prov = getattr(result, "provenance", {}) or {}
    sources = (prov.get("generated", {}) or {}).get("dataset_statistics") if normalization == "dataset" \
        else prov.get("evaluator_statistics")
    paths = [Path(p) for p in (sources or {})]
    if len(paths) == 2 and all(p.is_file() for p in paths):
        return FeatureStats.load(paths[0], paths[1], name=normalization)
    return None


def _render_samples(samples: Any, out: Path, *, reference: Any, stats: Any, reference_stats: Any,
                    result: Any, max_samples: int, fps: float | None) -> tuple[list[Path], str | None]:
    """Render up to ``max_samples`` samples (GIF grid and a filmstrip); returns files and a note if skipped."""
    from .render import as_joint_clips, filmstrip, render

    captions = None
    if hasattr(samples, "motions"):
        norm = getattr(samples, "normalization", "raw")
        if samples.kind == "features" and norm != "raw" and stats is None:
            stats = _stats_from_provenance(result, norm)
            if stats is None:
                return [], (f"samples are {norm}-normalized and no statistics were given (stats=), so they were not "
                            f"rendered")
        captions = list(samples.captions)
        n = min(max_samples, getattr(samples, "num_samples", len(samples.lengths)))
        clips = as_joint_clips(samples, stats=stats)[:n]
    else:
        clips = as_joint_clips(samples, stats=stats)[:max_samples]
    caps = captions[: len(clips)] if captions else None
    ref = None
    if reference is not None:
        ref = as_joint_clips(reference, stats=reference_stats)[: len(clips)]
        if len(ref) != len(clips):
            ref = None
    files = [render(clips, out / "samples.gif", captions=caps, reference=ref, fps=fps, panel_size=(200, 200),
                    font_size=11)]
    files.append(filmstrip(clips[:1], out / "filmstrip.png", captions=caps[:1] if caps else None,
                           reference=ref[:1] if ref else None, fps=fps, num_frames=6))
    return files, None


def _data_uri(path: Path) -> str:
    mime = {".png": "image/png", ".gif": "image/gif", ".svg": "image/svg+xml"}[path.suffix.lower()]
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def write_report(
    result: Any,
    out_dir: str | Path,
    samples: Any = None,
    *,
    reference: Any = None,
    stats: Any = None,
    reference_stats: Any = None,
    training_log: Any = None,
    title: str | None = None,
    max_samples: int = 4,
    fps: float | None = None,
    formats: Sequence[str] = ("html", "md"),
) -> dict[str, Path]:
    """Write a one-page report of ``result`` into ``out_dir``; returns ``{name: path}`` of everything written.

    ``result``: a :class:`~motioneval.protocol.results.Result` (or a path to ``results.json``). ``samples``:
    generated motions to show (a ``SampleSet``, arrays or clips; normalized features need ``stats``, else the
    statistics recorded in the result's provenance are used when their files exist); ``reference``: ground
    truth to draw beside them (blue). ``training_log``: a monitoring log to plot against training steps.
    ``formats``: ``"html"`` (self-contained) and/or ``"md"``.
    """
    from ..protocol.results import Result
    from .plots import plot_replications, plot_training_curves

    if isinstance(result, (str, Path)):
        result = Result.load(result)
    bad = set(formats) - {"html", "md"}
    if bad or not formats:
        raise ValueError(f"formats must be a non-empty subset of ('html', 'md'); got {list(formats)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    images: list[tuple[str, Path]] = []
    images.append(("Per-replication values with mean and 95% confidence band",
                   plot_replications(result, out / "replications.png")))
    written["replications_plot"] = images[-1][1]
    if training_log is not None:
        images.append(("Metrics during training", plot_training_curves(training_log, out / "training.png",
                                                                         best_metric="fid")))
        written["training_plot"] = images[-1][1]
    note = None
    sample_files: list[Path] = []
    if samples is not None:
        try:
            sample_files, note = _render_samples(samples, out, reference=reference, stats=stats,
                                                 reference_stats=reference_stats, result=result,
                                                 max_samples=max_samples, fps=fps)
        except (ValueError, ImportError) as exc:  # a report without pictures is still a report
            note = f"samples were not rendered: {exc}"
            log.warning(note)
        for f in sample_files:
            written[f.stem] = f
    model = next((r.name for r in result.rows if r.kind == "model"), "model")
    title = title or f"motioneval report: {model}"
    if "html" in formats:
        written["html"] = atomic_write_text(out / "report.html",
                                            _html(result, title, images, sample_files, note))
    if "md" in formats:
        written["markdown"] = atomic_write_text(out / "report.md",
                                                _markdown(result, title, images, sample_files, note))
    return written


def _settings_line(result: Any) -> str:
    diffs = (result.preset or {}).get("differences") or {}
    custom = f" with {len(diffs)} override(s): " + ", ".join(f"{k}={v.get('value')}" for k, v in diffs.items()) \
        if diffs else ""
    return (f"Preset {result.preset_name}{custom}; {result.replications} replication(s), seed {result.seed}; "
            f"values are mean ± 95% CI (1.96 · std / √n).")


def _provenance_items(result: Any) -> list[str]:
    items = []
    prov = result.provenance or {}
    for section in ("evaluator", "evaluator_statistics"):
        for path, digest in (prov.get(section) or {}).items():
            items.append(f"{section}: {path} (sha256 {str(digest)[:12]}…)")
    ds = prov.get("dataset") or {}
    if ds:
        items.append("dataset: " + ", ".join(f"{k}={ds[k]}" for k in ("path", "split", "num_items") if k in ds))
    gen = prov.get("generated") or {}
    if gen:
        items.append("generated: " + ", ".join(f"{k}={gen[k]}" for k in ("name", "version", "kind", "normalization")
                                               if k in gen))
    versions = result.versions or {}
    if versions:
        items.append("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items() if v))
    return items


def _html(result: Any, title: str, images: list[tuple[str, Path]], samples: list[Path], note: str | None) -> str:
    e = html.escape
    keys = _metric_keys(result)
    head = "".join(f"<th>{e(_LABELS.get(k, k))}</th>" for k in keys)
    body = "".join(
        f"<tr><td class='name'>{e(r.name)}</td>" + "".join(f"<td>{e(_cell(r.metrics.get(k)))}</td>" for k in keys)
        + "</tr>" for r in result.rows)
    parts = [
        "<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>", f"<title>{e(title)}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}"
        "td.name{text-align:left}th{background:#f3f3f3}img{max-width:100%}.warn{color:#a33}"
        "pre{background:#f6f6f6;padding:8px;overflow:auto;font-size:12px}</style></head><body>",
        f"<h1>{e(title)}</h1>", f"<p>{e(_settings_line(result))}</p>",
        f"<table><thead><tr><th>Method</th>{head}</tr></thead><tbody>{body}</tbody></table>",
    ]
    if result.warnings:
        parts.append("<h2>Warnings</h2><ul class='warn'>" + "".join(f"<li>{e(w)}</li>" for w in result.warnings)
                     + "</ul>")
    for caption, path in images:
        parts.append(f"<h2>{e(caption)}</h2><img alt='{e(caption)}' src='{_data_uri(path)}'>")
    if samples or note:
        parts.append("<h2>Samples (ground truth blue, generated orange)</h2>")
        parts.extend(f"<p><img alt='{e(p.stem)}' src='{_data_uri(p)}'></p>" for p in samples)
        if note:
            parts.append(f"<p class='warn'>{e(note)}</p>")
    prov = _provenance_items(result)
    if prov:
        parts.append("<h2>Provenance</h2><ul>" + "".join(f"<li>{e(p)}</li>" for p in prov) + "</ul>")
    if result.fid_diagnostics:
        parts.append("<details><summary>FID diagnostics per replication</summary><pre>"
                     + e(json.dumps(result.fid_diagnostics, indent=1, default=_display_default)) + "</pre></details>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _markdown(result: Any, title: str, images: list[tuple[str, Path]], samples: list[Path], note: str | None) -> str:
    lines = [f"# {title}", "", result.to_markdown(), ""]
    if result.warnings:
        lines += ["## Warnings", ""] + [f"- {w}" for w in result.warnings] + [""]
    for caption, path in images:
        lines += [f"## {caption}", "", f"![{caption}]({path.name})", ""]
    if samples or note:
        lines += ["## Samples (ground truth blue, generated orange)", ""]
        lines += [f"![{p.stem}]({p.name})" for p in samples]
        if note:
            lines.append(f"*{note}*")
        lines.append("")
    prov = _provenance_items(result)
    if prov:
        lines += ["## Provenance", ""] + [f"- {p}" for p in prov] + [""]
    return "\n".join(lines)


def _display_default(obj: Any) -> Any:
    """JSON hook for display: like ``json_default`` but never fails (unknown objects as their ``str``)."""
    try:
        return json_default(obj)
    except TypeError:
        return str(obj)
