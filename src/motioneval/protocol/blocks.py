"""Extra blocks of a result: tables beside the protocol's, with their own labels, provenance and caveats.

A :class:`ResultBlock` holds rows (ground truth first, as the reference row, then the models) of
per-replication values, summarized like the protocol's metrics (``mean +- 1.96 * std / sqrt(n)``,
:class:`~motioneval.protocol.results.MetricSummary`), plus a title, a note that says how to read it and what it
is not comparable with, the catalog entry of each column and the block's own provenance and settings.

Two kinds are built here:

- :func:`physical_block` (name ``"physical"``): physical plausibility of the rows' motions
  (:mod:`motioneval.metrics.physical`), the mean over a replication's clips (NaN clips skipped) per
  replication. Not protocol metrics: no evaluator is involved; compare each model with the ground-truth row.
- :func:`tmr_block` (name ``"tmr"``): TMR's retrieval protocols (:func:`motioneval.metrics.tmr_retrieval.
  tmr_protocols`: ``normal`` on all rows, ``guo`` on batches of 32) in both directions and the TMR-space FID,
  matching score and mean score (:func:`~motioneval.metrics.tmr_retrieval.tmr_embedding_scores`). Its numbers
  live in TMR's embedding space and are not comparable with the T2M evaluator's.

:func:`physical_replication_values` and :func:`tmr_replication_values` compute one replication's values of
one row; :meth:`ResultBlock.from_replications` summarizes them.
"""
from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..constants import MetricInfo
from .results import MetricSummary, Row, _latex_escape, _md_escape, latex_cell

__all__ = [
    "ResultBlock", "physical_block", "physical_metric_infos", "physical_replication_values", "tmr_block",
    "tmr_metric_infos", "tmr_replication_values", "PHYSICAL_NOTE", "TMR_SHOWN",
]

_ARROWS = {"higher": "↑", "lower": "↓", "closer to ground truth": "→"}
_LATEX_ARROWS = {"higher": r"$\uparrow$", "lower": r"$\downarrow$", "closer to ground truth": r"$\rightarrow$"}

PHYSICAL_NOTE = ("Physical plausibility on joint positions: not protocol metrics (no evaluator involved). Each value "
                 "is the mean over a replication's clips (clips without a value, e.g. skating without floor "
                 "contact, skipped), then mean ± 95% CI over replications. Lower is better except dynamics and "
                 "contact, which should match the ground-truth row.")


@dataclass
class ResultBlock:
    """A table beside the protocol's (see the module docstring). ``metrics``: catalog entries in column order."""

    name: str
    title: str
    note: str
    metrics: list[MetricInfo]
    rows: list[Row]
    provenance: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    #: keys shown in the Markdown and LaTeX tables (``None``: all); JSON and CSV always hold every column
    shown: list[str] | None = None
    #: per-clip values of one replication ``{row: {metric: (N,)}}`` for distribution plots; not in the JSON, written
    #: beside it as ``<name>_per_clip.npz`` by :meth:`write_per_clip`
    per_clip: dict[str, dict[str, np.ndarray]] | None = field(default=None, repr=False, compare=False)

    def row(self, name: str) -> Row:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(f"block {self.name!r} has no row {name!r}; rows are {[r.name for r in self.rows]}")

    @classmethod
    def from_replications(cls, name: str, title: str, note: str, metrics: Sequence[MetricInfo],
                          values: Mapping[str, Sequence[Mapping[str, float | None]]], *,
                          kinds: Mapping[str, str] | None = None, num_samples: Mapping[str, int] | None = None,
                          provenance: Mapping[str, Any] | None = None,
                          settings: Mapping[str, Any] | None = None, shown: Sequence[str] | None = None
                          ) -> ResultBlock:
        """Summarize ``{row name: [ {metric: value or None} per replication ]}`` (rows in table order; a row's
        kind from ``kinds``, default ``"ground_truth"`` for the first row, ``"model"`` for the others)."""
        rows = []
        for i, (row_name, reps) in enumerate(values.items()):
            kind = (kinds or {}).get(row_name, "ground_truth" if i == 0 else "model")
            summaries = {}
            for info in metrics:
                vals = [None if rep.get(info.key) is None else float(rep[info.key]) for rep in reps]  # type: ignore[arg-type]
                if any(v is not None for v in vals):
                    summaries[info.key] = MetricSummary.from_values(vals)
            rows.append(Row(row_name, kind, summaries, int((num_samples or {}).get(row_name, 0))))
        return cls(name, title, note, list(metrics), rows, dict(provenance or {}), dict(settings or {}),
                   None if shown is None else list(shown))

    # ---------------------------------------------------------------------------------------- (de)serialization
    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "note": self.note,
                "metrics": [{"key": m.key, "label": m.label, "long_label": m.long_label, "direction": m.direction,
                             "unit": m.unit, "description": m.description} for m in self.metrics],
                "rows": [r.to_dict() for r in self.rows], "provenance": self.provenance, "settings": self.settings,
                "shown": self.shown}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ResultBlock:
        return cls(str(d["name"]), str(d.get("title", d["name"])), str(d.get("note", "")),
                   [MetricInfo(m["key"], m["label"], m.get("long_label", m["label"]), m["direction"],
                               m.get("unit", ""), m.get("description", "")) for m in d["metrics"]],
                   [Row.from_dict(r) for r in d["rows"]], dict(d.get("provenance", {})),
                   dict(d.get("settings", {})), None if d.get("shown") is None else list(d["shown"]))

    def per_clip_file(self, folder: str | Path) -> Path:
        return Path(folder) / f"{self.name}_per_clip.npz"

    def write_per_clip(self, folder: str | Path) -> Path | None:
        """Write :attr:`per_clip` atomically to ``<folder>/<name>_per_clip.npz`` (rows and metrics named in a JSON
        array ``index``); ``None`` when there is nothing to write."""
        if not self.per_clip:
            return None
        from .._io import atomic_save_npz

        index, arrays = [], {}
        for i, (row, cols) in enumerate(self.per_clip.items()):
            for j, (key, values) in enumerate(cols.items()):
                name = f"a{i}_{j}"
                index.append([row, key, name])
                arrays[name] = np.asarray(values, dtype=np.float64)
        meta = np.frombuffer(json.dumps(index).encode("utf-8"), dtype=np.uint8)
        return atomic_save_npz(self.per_clip_file(folder), index=meta, **arrays)

    def read_per_clip(self, folder: str | Path) -> bool:
        """Read :attr:`per_clip` back from ``folder`` if the file is there (``True`` when read)."""
        from .. import _npio

        path = self.per_clip_file(folder)
        if not path.is_file():
            return False
        with _npio.load(path, allow_pickle=False) as data:
            index = json.loads(bytes(data["index"]).decode("utf-8"))
            out: dict[str, dict[str, np.ndarray]] = {}
            for row, key, name in index:
                out.setdefault(row, {})[key] = np.asarray(data[name], dtype=np.float64)
        self.per_clip = out
        return True

    # ---------------------------------------------------------------------------------------- views
    def _keys(self, table: bool = False) -> list[MetricInfo]:
        present = {k for r in self.rows for k in r.metrics}
        if table and self.shown is not None:
            present &= set(self.shown)
        return [m for m in self.metrics if m.key in present]

    def to_markdown(self, digits: int = 3) -> str:
        """``### title``, a table of ``mean ± ci95`` cells (units in the header; the ``shown`` columns) and the note."""
        keys = self._keys(table=True)
        header = ["Method"] + [f"{m.label}{f' ({m.unit})' if m.unit else ''} {_ARROWS[m.direction]}" for m in keys]
        lines = [f"### {_md_escape(self.title)}", "",
                 "| " + " | ".join(header) + " |", "|" + "|".join([":---"] + ["---:"] * len(keys)) + "|"]
        for r in self.rows:
            lines.append("| " + " | ".join([_md_escape(r.name)] + [_cell(r.metrics.get(m.key), digits)
                                                                     for m in keys]) + " |")
        if self.note:
            lines += ["", _md_escape(self.note)]
        return "\n".join(lines)

    def csv_rows(self, replications: int) -> list[list[Any]]:
        """Lines ``block, method, kind, metric, mean, ci95, n, replication_0..`` (the header is the caller's)."""
        out = []
        for r in self.rows:
            for m in self._keys():
                s = r.metrics.get(m.key)
                if s is None:
                    continue
                vals = ["" if v is None else repr(float(v)) for v in s.values]
                out.append([self.name, r.name, r.kind, m.key, "" if s.mean is None else repr(float(s.mean)),
                            "" if s.ci95 is None else repr(float(s.ci95)), s.n]
                           + vals + [""] * (replications - len(vals)))
        return out

    def to_csv(self) -> str:
        n = max((len(s.values) for r in self.rows for s in r.metrics.values()), default=0)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["block", "method", "kind", "metric", "mean", "ci95", "n"] + [f"replication_{i}" for i in range(n)])
        w.writerows(self.csv_rows(n))
        return buf.getvalue()

    def to_latex(self, digits: int = 3) -> str:
        """LaTeX rows in the papers' style after comment lines with the title, header and note."""
        keys = self._keys(table=True)
        head = " & ".join(["Method"] + [f"{_latex_escape(m.label)}{_LATEX_ARROWS[m.direction]}" for m in keys])
        lines = [f"% {self.title}", f"% {head} \\\\"]
        for r in self.rows:
            lines.append(" & ".join([_latex_escape(r.name)] + [latex_cell(r.metrics.get(m.key), digits)
                                                                for m in keys]) + r" \\")
        if self.note:
            lines.append(f"% {self.note}")
        return "\n".join(lines)


def _cell(summary: MetricSummary | None, digits: int) -> str:
    if summary is None or summary.mean is None:
        return "-"
    if not math.isfinite(summary.mean):
        return "nan"
    fmt = _fmt(summary.mean, digits)
    if summary.n <= 1 or summary.ci95 is None:
        return fmt
    return f"{fmt} ± {_fmt(summary.ci95, digits)}"


def _fmt(x: float, digits: int) -> str:
    """``digits`` decimals, or ``digits`` significant digits for values below 10^-digits (physical metrics in
    metres can be millimetres)."""
    if x != 0 and abs(x) < 10 ** -digits:
        return f"{x:.{digits}g}"
    return f"{x:.{digits}f}"


# ------------------------------------------------------------------------------------------------ physical
def physical_metric_infos() -> list[MetricInfo]:
    """Catalog entries of the ``phys_<metric>`` columns (labels and units from :mod:`motioneval.metrics.physical`)."""
    from ..metrics.physical import METRICS as PHYS

    direction = {"lower": "lower", "higher": "higher", "closer-to-ground-truth": "closer to ground truth"}
    short = {"skate_speed": "Skate speed", "skate_ratio": "Skate ratio", "contact": "Contact",
             "floating": "Float", "penetration": "Penetration", "accel": "Accel", "jerk": "Jerk",
             "accel_local": "Accel (local)", "jerk_local": "Jerk (local)", "speed": "Speed"}
    return [MetricInfo(f"phys_{k}", short.get(k, m.label), m.label, direction[m.direction], m.unit, m.description)
            for k, m in PHYS.items()]


def physical_replication_values(columns: Mapping[str, Any]) -> dict[str, float | None]:
    """``{phys_<metric>: mean over clips}`` of one replication's per-clip columns (NaN clips skipped; ``None``
    when no clip has a value)."""
    out: dict[str, float | None] = {}
    for key, col in columns.items():
        arr = np.asarray(col, dtype=np.float64).reshape(-1)
        finite = arr[np.isfinite(arr)]
        out[key if key.startswith("phys_") else f"phys_{key}"] = float(finite.mean()) if finite.size else None
    return out


def physical_block(values: Mapping[str, Sequence[Mapping[str, float | None]]], *, variant: Any = None,
                   fps: float | None = None, kinds: Mapping[str, str] | None = None,
                   num_samples: Mapping[str, int] | None = None, sources: Mapping[str, str] | None = None
                   ) -> ResultBlock:
    """The ``"physical"`` block from ``{row: [physical_replication_values(...) per replication]}``.

    ``variant``: the :class:`~motioneval.metrics.physical.PhysicalConfig` (or name) used; ``fps``: the frame rate
    the clips were measured at; ``sources``: per row, how its joints were obtained (e.g. "features ->
    features_to_joints").
    """
    from ..metrics.physical import get_variant

    cfg = get_variant(variant)
    settings: dict[str, Any] = {"variant": cfg.name, "variant_source": cfg.source, "fps": fps, "unit": "m",
                                "settings": {k: getattr(cfg, k) for k in cfg.__dataclass_fields__
                                             if k not in ("name", "source", "notes")}}
    if sources:
        settings["joints_from"] = dict(sources)
    title = f"Physical plausibility (variant {cfg.name}" + (f", {fps:g} fps" if fps else "") + "; not protocol metrics)"
    return ResultBlock.from_replications("physical", title, PHYSICAL_NOTE, physical_metric_infos(), values,
                                         kinds=kinds, num_samples=num_samples, settings=settings)


# ------------------------------------------------------------------------------------------------ TMR
_TMR_PROTOCOLS = {"normal": "all", "guo": "batches of 32"}
_TMR_RANKS = ("R01", "R02", "R03", "R05", "R10", "MedR")
#: columns of the TMR block's Markdown/LaTeX table (the JSON and CSV hold all)
TMR_SHOWN = [f"normal/{d}/{r}" for d in ("t2m", "m2t") for r in ("R01", "R03", "R10", "MedR")] + [
    f"guo/{d}/{r}" for d in ("t2m", "m2t") for r in ("R01", "R03")] + ["tmr_fid", "tmr_matching_score",
                                                                       "tmr_mean_score"]


def tmr_metric_infos() -> list[MetricInfo]:
    """Columns of the TMR block: ``<protocol>/<t2m|m2t>/<R01..R10|MedR>`` (recall in %, median rank), then
    ``tmr_fid``, ``tmr_matching_score``, ``tmr_mean_score``."""
    out = []
    for proto, what in _TMR_PROTOCOLS.items():
        for direction in ("t2m", "m2t"):
            arrow = "T→M" if direction == "t2m" else "M→T"
            for r in _TMR_RANKS:
                label = f"{arrow} {'MedR' if r == 'MedR' else 'R@' + str(int(r[1:]))}"
                out.append(MetricInfo(f"{proto}/{direction}/{r}", f"{label} ({proto})",
                                      f"{label}, protocol {proto} ({what})",
                                      "lower" if r == "MedR" else "higher", "" if r == "MedR" else "%"))
    out += [MetricInfo("tmr_fid", "TMR-FID", "FID in TMR's embedding space", "lower"),
            MetricInfo("tmr_matching_score", "TMR MM Dist", "matching score in TMR's embedding space", "lower"),
            MetricInfo("tmr_mean_score", "TMR score", "mean (cos + 1) / 2 of paired text and motion", "higher")]
    return out


def tmr_replication_values(text_emb: Any, motion_emb: Any, reference_motion_emb: Any | None = None, *,
                           ids: Sequence[str] | None = None, fid_method: str = "exact") -> dict[str, float | None]:
    """One replication of one row: TMR's ``normal`` and (with >= 32 rows) ``guo`` protocols on the paired
    ``(text_emb, motion_emb)`` and, with ``reference_motion_emb`` (the ground truth's motion embeddings of
    another draw), the TMR-space FID (reference first), matching score and mean score."""
    from ..metrics.tmr_retrieval import tmr_embedding_scores, tmr_protocols

    out: dict[str, float | None] = {}
    for proto, vals in tmr_protocols(text_emb, motion_emb, ids=ids).items():
        if proto in _TMR_PROTOCOLS:
            out.update({f"{proto}/{k}": float(v) for k, v in vals.items() if not k.endswith("/len")})
    if reference_motion_emb is not None:
        s = tmr_embedding_scores(reference_motion_emb, motion_emb, text_emb, fid_method=fid_method)
        out["tmr_fid"] = float(s["fid"])
        out["tmr_matching_score"] = float(s["matching_score"])
        out["tmr_mean_score"] = float(s["mean_score"])
    return out


def tmr_block(values: Mapping[str, Sequence[Mapping[str, float | None]]], *, provenance: Mapping[str, Any],
              dataset: str = "", kinds: Mapping[str, str] | None = None,
              num_samples: Mapping[str, int] | None = None, settings: Mapping[str, Any] | None = None
              ) -> ResultBlock:
    """The ``"tmr"`` block from ``{row: [tmr_replication_values(...) per replication]}``; ``provenance``: the TMR
    evaluator's ``{file: sha256}``."""
    from ..metrics.tmr_retrieval import NOT_COMPARABLE

    note = (f"{NOT_COMPARABLE}. Protocols of TMR (Petrovich et al., ICCV 2023): 'normal' ranks each query among all "
            f"rows of the replication, 'guo' among batches of 32; recall in %, ties averaged as TMR does. TMR reads "
            f"whole clips (no 196-frame cap, no crop to multiples of 4) and raw caption text; TMR-FID compares a "
            f"row's motions with the ground-truth clips, so the ground-truth row has none.")
    title = "TMR evaluator" + (f" ({dataset})" if dataset else "") + ": retrieval and TMR-space scores"
    return ResultBlock.from_replications("tmr", title, note, tmr_metric_infos(), values, kinds=kinds,
                                         num_samples=num_samples, provenance={"evaluator": dict(provenance)},
                                         settings=settings, shown=TMR_SHOWN)
