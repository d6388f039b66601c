"""The result of an evaluation run: per-replication values, summaries, provenance, and its file formats.

``results.json`` (schema below, ``schema_version`` 1) is the complete record; ``results.md`` (Markdown table),
``results.csv`` (one line per method and metric) and ``results.tex`` (LaTeX rows in the papers' style,
``$0.489^{\\pm.025}$``) are views of it. All are written atomically.

``results.json``::

    {
      "schema_version": 1,
      "motioneval_version": "0.1.0",
      "created": "2025-01-01T00:00:00+00:00",          # UTC, informational
      "preset": {"name": "mdm" | "custom", "base": "mdm", ..., "differences": {key: {"preset": a, "value": b}}},
      "seed": 0,
      "replications": 20,
      "rows": [                                        # ground truth first, then the model
        {"name": "ground truth", "kind": "ground_truth",
         "num_samples": 4384,                          # rows scored per replication
         "metrics": {"r_precision_top1": {"values": [...], "mean": 0.51, "ci95": 0.003, "n": 20}, ...}},
        {"name": "<model>", "kind": "model", ...}],
      "sample_counts": {...},                          # items, rows per pass, MultiModality captions x repeats
      "fid_diagnostics": {"<row name>": [diagnostics dict per replication]},
      "provenance": {"evaluator": {file: sha256}, "dataset": {...}, "generated": {...}},
      "versions": {"python": ..., "numpy": ..., "scipy": ..., "torch": ..., "motioneval": ...},
      "settings": {...},                               # run settings outside the preset (split, chunk size, ...)
      "warnings": ["..."],
      "timing": {"seconds": ...}
    }

A metric value is ``null`` in a replication where it was not computed (MultiModality outside
``mm_replications``); ``mean``/``ci95`` summarize the computed values with
:func:`motioneval.metrics.confidence.confidence_interval` (``mean +- 1.96 * std / sqrt(n)``, population std).
"""
from __future__ import annotations

import copy
import csv
import io
import json
import math
import platform
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_write_json, atomic_write_text, json_default, read_json
from ..constants import METRICS as CATALOG
from ..constants import metric_info

SCHEMA_VERSION = 1

#: Metric keys in table order, with their column label and direction (what "better" means): a view of the
#: metric catalog :data:`motioneval.constants.METRICS`.
METRICS: dict[str, tuple[str, str]] = {key: (info.label, info.direction) for key, info in CATALOG.items()}
_ARROWS = {"higher": "↑", "lower": "↓", "closer to ground truth": "→"}
_LATEX_ARROWS = {"higher": r"$\uparrow$", "lower": r"$\downarrow$", "closer to ground truth": r"$\rightarrow$"}

FILES = {"json": "results.json", "markdown": "results.md", "csv": "results.csv", "latex": "results.tex"}


@dataclass
class MetricSummary:
    """Per-replication ``values`` (``None`` where not computed) and their ``mean`` and 95% half-width ``ci95``."""

    values: list[float | None]
    mean: float | None = None
    ci95: float | None = None

    @property
    def n(self) -> int:
        """Replications with a value."""
        return sum(v is not None for v in self.values)

    @classmethod
    def from_values(cls, values: Sequence[float | None]) -> "MetricSummary":
        """Summarize with the protocol's confidence interval (see module docstring)."""
        from ..metrics.confidence import confidence_interval

        vals = [None if v is None else float(v) for v in values]
        present = [v for v in vals if v is not None]
        if not present:
            return cls(vals)
        if not all(math.isfinite(v) for v in present):
            return cls(vals, float("nan"), float("nan"))
        if len(present) == 1:
            return cls(vals, present[0], 0.0)
        mean, half = confidence_interval(np.asarray(present, dtype=np.float64))
        return cls(vals, float(mean), float(half))

    def to_dict(self) -> dict[str, Any]:
        return {"values": self.values, "mean": self.mean, "ci95": self.ci95, "n": self.n}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "MetricSummary":
        return cls(list(d["values"]), d.get("mean"), d.get("ci95"))


@dataclass
class Row:
    """One method of the table: the ground truth or a model."""

    name: str
    kind: str  # "ground_truth" | "model"
    metrics: dict[str, MetricSummary]
    num_samples: int = 0

    def __getitem__(self, metric: str) -> MetricSummary:
        try:
            return self.metrics[metric]
        except KeyError:
            raise KeyError(f"row {self.name!r} has no metric {metric!r}; it has {sorted(self.metrics)}") from None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "num_samples": self.num_samples,
                "metrics": {k: v.to_dict() for k, v in self.metrics.items()}}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Row":
        return cls(d["name"], d["kind"], {k: MetricSummary.from_dict(v) for k, v in d["metrics"].items()},
                   int(d.get("num_samples", 0)))


@dataclass
class Result:
    """Everything an evaluation produced; see the module docstring for the JSON schema.

    ``result.model["fid"].mean``, ``result.ground_truth["r_precision_top1"].values`` ...
    """

    rows: list[Row]
    preset: dict[str, Any]
    seed: int
    replications: int
    sample_counts: dict[str, Any] = field(default_factory=dict)
    fid_diagnostics: dict[str, list[Any]] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str | None] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    timing: dict[str, float] = field(default_factory=dict)
    created: str = ""
    schema_version: int = SCHEMA_VERSION
    #: tables beside the protocol's (:class:`motioneval.protocol.blocks.ResultBlock`: physical, TMR), in order
    blocks: list[Any] = field(default_factory=list)

    # -------------------------------------------------------------------- access
    def row(self, name_or_kind: str) -> Row:
        """The row named ``name_or_kind``, or the first of that kind (``"ground_truth"``/``"model"``)."""
        for r in self.rows:
            if r.name == name_or_kind:
                return r
        for r in self.rows:
            if r.kind == name_or_kind:
                return r
        raise KeyError(f"no row {name_or_kind!r}; rows are {[r.name for r in self.rows]}")

    def block(self, name: str) -> Any:
        """The extra block named ``name`` (``"physical"``, ``"tmr"``); ``KeyError`` listing those present."""
        for b in self.blocks:
            if b.name == name:
                return b
        raise KeyError(f"no block {name!r}; the result has {[b.name for b in self.blocks] or 'none'}")

    @property
    def ground_truth(self) -> Row:
        return self.row("ground_truth")

    @property
    def model(self) -> Row:
        return self.row("model")

    @property
    def preset_name(self) -> str:
        return str(self.preset.get("name", "?"))

    # -------------------------------------------------------------------- (de)serialization
    def to_dict(self) -> dict[str, Any]:
        """A deep copy of the record as plain Python data (the ``results.json`` content)."""
        extra = {"blocks": [b.to_dict() for b in self.blocks]} if self.blocks else {}
        return copy.deepcopy({
            "schema_version": self.schema_version,
            "motioneval_version": self.versions.get("motioneval"),
            "created": self.created,
            "preset": self.preset,
            "seed": self.seed,
            "replications": self.replications,
            "rows": [r.to_dict() for r in self.rows],
            "sample_counts": self.sample_counts,
            "fid_diagnostics": self.fid_diagnostics,
            "provenance": self.provenance,
            "versions": self.versions,
            "settings": self.settings,
            "warnings": self.warnings,
            "timing": self.timing,
            **extra,
        })

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Result":
        version = d.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ValueError(f"results schema_version {version!r} is not supported (this motioneval reads "
                             f"version {SCHEMA_VERSION}); re-score the run with this version")
        return cls(
            blocks=[ResultBlock.from_dict(b) for b in d.get("blocks") or []],
            rows=[Row.from_dict(r) for r in d["rows"]],
            preset=dict(d["preset"]),
            seed=int(d["seed"]),
            replications=int(d["replications"]),
            sample_counts=dict(d.get("sample_counts", {})),
            fid_diagnostics=dict(d.get("fid_diagnostics", {})),
            provenance=dict(d.get("provenance", {})),
            versions=dict(d.get("versions", {})),
            settings=dict(d.get("settings", {})),
            warnings=list(d.get("warnings", [])),
            timing=dict(d.get("timing", {})),
            created=str(d.get("created", "")),
            schema_version=int(version),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=json_default, allow_nan=True) + "\n"

    @classmethod
    def load(cls, path: str | Path) -> "Result":
        """Read ``results.json`` (or the folder holding it)."""
        path = Path(path)
        if path.is_dir():
            path = path / FILES["json"]
        if not path.is_file():
            raise FileNotFoundError(f"results file not found: {path}")
        data = read_json(path, expected="a results.json written by motioneval (evaluate, demo)")
        result = cls.from_dict(data)
        for block in result.blocks:
            block.read_per_clip(path.parent)
        return result

    def save(self, out_dir: str | Path) -> dict[str, Path]:
        """Write results.json/.md/.csv/.tex atomically into ``out_dir``; returns ``{format: path}``."""
        out = Path(out_dir)
        add_fingerprints(self.provenance)
        paths = {
            "json": atomic_write_json(out / FILES["json"], json.loads(self.to_json())),
            "markdown": atomic_write_text(out / FILES["markdown"], self.to_markdown() + "\n"),
            "csv": atomic_write_text(out / FILES["csv"], self.to_csv()),
            "latex": atomic_write_text(out / FILES["latex"], self.to_latex() + "\n"),
        }
        for block in self.blocks:
            written = block.write_per_clip(out)
            if written is not None:
                paths[f"{block.name}_per_clip"] = written
        return paths

    # -------------------------------------------------------------------- views
    def metric_keys(self) -> list[str]:
        """Metrics present in any row, in table order (extras after the protocol's)."""
        present = {k for r in self.rows for k in r.metrics}
        return [k for k in METRICS if k in present] + sorted(present - set(METRICS))

    def to_markdown(self, digits: int = 3) -> str:
        """A Markdown table, ``mean ± ci95`` per cell, with a caption line naming preset, seed and counts."""
        keys = self.metric_keys()
        header = ["Method"] + [_label(k) + " " + _ARROWS.get(_direction(k), "") for k in keys]
        lines = ["| " + " | ".join(h.strip() for h in header) + " |",
                 "|" + "|".join([":---"] + ["---:"] * len(keys)) + "|"]
        for r in self.rows:
            cells = [_md_escape(r.name)] + [_plain_cell(r.metrics.get(k), digits) for k in keys]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        lines.append(f"Preset `{self.preset_name}`" + _differences_text(self.preset)
                     + f", {self.replications} replications, seed {self.seed}, mean ± 95% CI "
                     f"(1.96 · std / √n).")
        for note in self.settings.get("table_notes") or []:  # settings that distort a number, under the table
            lines.append("")
            lines.append(f"**Warning:** {_md_escape(str(note))}")
        for block in self.blocks:
            lines += ["", block.to_markdown(digits)]
        return "\n".join(lines)

    def to_csv(self) -> str:
        """One line per (method, metric): mean, ci95, replications with a value, then per-replication values."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        n = self.replications
        w.writerow(["method", "kind", "metric", "mean", "ci95", "n"] + [f"replication_{i}" for i in range(n)])
        for r in self.rows:
            for k in self.metric_keys():
                s = r.metrics.get(k)
                if s is None:
                    continue
                values = [("" if v is None else repr(float(v))) for v in s.values]
                w.writerow([r.name, r.kind, k, _csv_num(s.mean), _csv_num(s.ci95), s.n]
                           + values + [""] * (n - len(values)))
        for block in self.blocks:  # metric "<block>/<key>", e.g. physical/phys_accel, tmr/normal/t2m/R01
            for line in block.csv_rows(n):
                w.writerow([line[1], line[2], f"{line[0]}/{line[3]}"] + line[4:])
        return buf.getvalue()

    def to_latex(self, digits: int = 3) -> str:
        """LaTeX table rows in the papers' style: ``Name & $0.489^{\\pm.025}$ & ... \\\\`` after a header comment."""
        keys = self.metric_keys()
        head = " & ".join(["Method"] + [f"{_label(k)}{_LATEX_ARROWS.get(_direction(k), '')}" for k in keys])
        lines = [f"% motioneval {self.versions.get('motioneval', '')}, preset {self.preset_name}, "
                 f"{self.replications} replications, seed {self.seed}",
                 f"% {head} \\\\"]
        for r in self.rows:
            cells = [_latex_escape(r.name)] + [latex_cell(r.metrics.get(k), digits) for k in keys]
            lines.append(" & ".join(cells) + r" \\")
        for block in self.blocks:
            lines += ["", block.to_latex(digits)]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_markdown()


# ---------------------------------------------------------------------------------------- formatting helpers
def format_pm(mean: float, ci: float, digits: int = 3) -> str:
    r"""The papers' ``mean^{\pm ci}`` with ``digits`` decimals and the CI's leading zero dropped:
    ``format_pm(0.489, 0.025) == "0.489^{\pm.025}"``."""
    m = f"{mean:.{digits}f}"
    c = f"{abs(ci):.{digits}f}"
    if c.startswith("0.") and digits > 0:
        c = c[1:]
    return f"{m}^{{\\pm{c}}}"


def latex_cell(summary: MetricSummary | None, digits: int = 3) -> str:
    if summary is None or summary.mean is None:
        return "-"
    if not math.isfinite(summary.mean):
        return "nan"
    if summary.n <= 1 or summary.ci95 is None:
        return f"${summary.mean:.{digits}f}$"
    return "$" + format_pm(summary.mean, summary.ci95, digits) + "$"


def _plain_cell(summary: MetricSummary | None, digits: int) -> str:
    if summary is None or summary.mean is None:
        return "-"
    if summary.n <= 1 or summary.ci95 is None:
        return f"{summary.mean:.{digits}f}"
    return f"{summary.mean:.{digits}f} ± {summary.ci95:.{digits}f}"


def _label(key: str) -> str:
    """The catalog's column label (metrics registered with ``constants.register_metric`` included), else the key."""
    info = metric_info(key)
    return info.label if info is not None else key


def _direction(key: str) -> str:
    info = metric_info(key)
    return info.direction if info is not None else ""


def _differences_text(preset: Mapping[str, Any]) -> str:
    diffs = preset.get("differences") or {}
    if not diffs:
        return ""
    parts = [f"{k}={v['value']} (preset {preset.get('base')}: {v['preset']})" for k, v in diffs.items()]
    return " (" + "; ".join(parts) + ")"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def _latex_escape(text: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#"),
                 ("$", r"\$"), ("{", r"\{"), ("}", r"\}")):
        text = text.replace(a, b)
    return text


def _csv_num(x: float | None) -> str:
    return "" if x is None else repr(float(x))


# ---------------------------------------------------------------------------------------- provenance helpers
def library_versions() -> dict[str, str | None]:
    """Versions of python, numpy, scipy, torch (``None`` if absent) and motioneval, plus the platform."""
    import importlib.metadata as md

    from .. import __version__

    def version(pkg: str) -> str | None:
        module = sys.modules.get(pkg)
        if module is not None and hasattr(module, "__version__"):
            return str(module.__version__)
        try:
            return md.version(pkg)
        except md.PackageNotFoundError:
            return None

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": version("scipy"),
        "torch": version("torch"),
        "motioneval": __version__,
        "platform": platform.platform(),
    }


def utc_now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def add_fingerprints(provenance: dict[str, Any]) -> dict[str, Any]:
    """Add ``provenance["fingerprints"]``: for every recorded ``{file: sha256}``, whether it matches a public
    reference file, differs (per-dim statistics), or is not verified (:mod:`motioneval.data.fingerprints`).
    Kept if already present; returns ``provenance``."""
    if provenance and "fingerprints" not in provenance:
        from ..data.fingerprints import provenance_fingerprints

        provenance["fingerprints"] = provenance_fingerprints(provenance)
    return provenance


# ---------------------------------------------------------------------------------------- extra blocks
# Tables beside the protocol's (physical plausibility, another evaluator family); built in .blocks.
_BLOCK_ARROWS = {"higher": "↑", "lower": "↓", "closer to ground truth": "→"}
_LATEX_BLOCK_ARROWS = {"higher": r"$\uparrow$", "lower": r"$\downarrow$", "closer to ground truth": r"$\rightarrow$"}

@dataclass
class ResultBlock:
    """A table beside the protocol's (see the module docstring). ``metrics``: catalog entries in column order."""

    name: str
    title: str
    note: str
    metrics: list[Any]  # motioneval.constants.MetricInfo
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
    def from_replications(cls, name: str, title: str, note: str, metrics: Sequence[Any],
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
        from ..constants import MetricInfo

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
    def _keys(self, table: bool = False) -> list[Any]:
        present = {k for r in self.rows for k in r.metrics}
        if table and self.shown is not None:
            present &= set(self.shown)
        return [m for m in self.metrics if m.key in present]

    def to_markdown(self, digits: int = 3) -> str:
        """``### title``, a table of ``mean ± ci95`` cells (units in the header; the ``shown`` columns) and the note."""
        keys = self._keys(table=True)
        header = ["Method"] + [f"{m.label}{f' ({m.unit})' if m.unit else ''} {_BLOCK_ARROWS[m.direction]}" for m in keys]
        lines = [f"### {_md_escape(self.title)}", "",
                 "| " + " | ".join(header) + " |", "|" + "|".join([":---"] + ["---:"] * len(keys)) + "|"]
        for r in self.rows:
            lines.append("| " + " | ".join([_md_escape(r.name)] + [_block_cell(r.metrics.get(m.key), digits)
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
        head = " & ".join(["Method"] + [f"{_latex_escape(m.label)}{_LATEX_BLOCK_ARROWS[m.direction]}" for m in keys])
        lines = [f"% {self.title}", f"% {head} \\\\"]
        for r in self.rows:
            lines.append(" & ".join([_latex_escape(r.name)] + [latex_cell(r.metrics.get(m.key), digits)
                                                                for m in keys]) + r" \\")
        if self.note:
            lines.append(f"% {self.note}")
        return "\n".join(lines)


def _block_cell(summary: MetricSummary | None, digits: int) -> str:
    if summary is None or summary.mean is None:
        return "-"
    if not math.isfinite(summary.mean):
        return "nan"
    fmt = _block_fmt(summary.mean, digits)
    if summary.n <= 1 or summary.ci95 is None:
        return fmt
    return f"{fmt} ± {_block_fmt(summary.ci95, digits)}"


def _block_fmt(x: float, digits: int) -> str:
    """``digits`` decimals, or ``digits`` significant digits for values below 10^-digits (physical metrics in
    metres can be millimetres)."""
    if x != 0 and abs(x) < 10 ** -digits:
        return f"{x:.{digits}g}"
    return f"{x:.{digits}f}"
