"""Published results as package data (``assets/published/registry.json``), and a user's row beside them.

Every number in the registry names its source (``sources``: a repository file at a commit, an issue thread or
a listing of a paper's table) and the table it was read from; protocol settings a source does not state are
``"unstated"``. Numbers that could not be verified are left out and listed under ``not_included``.
"""
from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from .results import METRICS, Result

#: lineage names accepted by :func:`published` (``--published``), with aliases
LINEAGE_ALIASES = {"guo": "t2m", "t2m": "t2m", "text2motion": "t2m", "mdm": "mdm", "mdm-original": "mdm-original",
                   "momask": "momask", "t2m-gpt": "t2m-gpt", "t2mgpt": "t2m-gpt", "mld": "mld",
                   "motionlcm": "motionlcm", "motiongpt": "motiongpt"}


@functools.lru_cache(maxsize=1)
def load_registry() -> dict[str, Any]:
    """The packaged registry of published results."""
    text = (resources.files("motioneval") / "assets" / "published" / "registry.json").read_text(encoding="utf-8")
    return json.loads(text)


@dataclass(frozen=True)
class PublishedRow:
    """One published row: ``metrics`` maps motioneval metric keys to ``{"mean", "ci95"}`` (ci95 may be None)."""

    lineage: str
    dataset: str
    name: str
    kind: str
    metrics: dict[str, dict[str, float | None]]
    source: dict[str, Any]
    table: str
    protocol: dict[str, Any]

    @property
    def citation(self) -> str:
        return f"{self.source['title']}; {self.table} <{self.source['url']}>"


def published(lineages: Sequence[str] | str | None = None, dataset: str | None = None) -> list[PublishedRow]:
    """Published rows of the given lineages (``"mdm,momask"`` or a list; ``None``: all) and dataset."""
    reg = load_registry()
    if isinstance(lineages, str):
        lineages = [s.strip() for s in lineages.split(",") if s.strip()]
    wanted = None
    if lineages is not None:
        wanted = set()
        for name in lineages:
            key = LINEAGE_ALIASES.get(name.lower())
            if key is None:
                raise ValueError(f"unknown lineage {name!r}; known: {', '.join(sorted(set(LINEAGE_ALIASES.values())))}")
            wanted.add(key)
    out = []
    for e in reg["entries"]:
        if wanted is not None and e["lineage"] not in wanted:
            continue
        if dataset is not None and e["dataset"] != dataset:
            continue
        src = {"id": e["source"], **reg["sources"][e["source"]]}
        for r in e["rows"]:
            out.append(PublishedRow(e["lineage"], e["dataset"], r["name"], r["kind"], r["metrics"], src, e["table"],
                                    e["protocol"]))
    return out


def not_included(lineages: Sequence[str] | None = None) -> dict[str, str]:
    """What the registry deliberately leaves out (unverifiable numbers), by ``lineage/dataset``."""
    items = load_registry().get("not_included", {})
    if lineages is None:
        return dict(items)
    keys = {LINEAGE_ALIASES.get(n.lower(), n.lower()) for n in lineages}
    return {k: v for k, v in items.items() if k.split("/")[0] in keys}


def protocol_differences(result: Result, row: PublishedRow) -> list[str]:
    """Plain-words differences between how ``result`` was produced and what the published row's source states
    (or the motioneval preset of its lineage, where the source is silent)."""
    diffs = []
    kind = (result.provenance.get("dataset") or {}).get("kind") or result.preset.get("dataset")
    if kind and kind != row.dataset:
        diffs.append(f"dataset: yours {kind}, published {row.dataset}")
    proto = row.protocol
    reps = proto.get("replications", "unstated")
    if reps != "unstated" and reps != result.replications:
        diffs.append(f"replications: yours {result.replications}, published {reps}")
    elif reps == "unstated":
        diffs.append(f"replications: yours {result.replications}, published unstated by the source")
    preset = proto.get("motioneval_preset")
    if preset is None:
        diffs.append(f"{row.lineage}'s evaluation loop is not one of motioneval's presets: sample counts, "
                     f"MultiModality selection and lengths may differ")
    else:
        from .presets import get_preset

        ref = get_preset(preset, dataset=row.dataset)
        yours = result.preset
        for key, value in ref.settings().items():
            if key in ("name", "description", "base", "replications", "dataset"):
                continue
            if key in yours and yours[key] != value:
                diffs.append(f"{key}: yours {yours[key]!r}, {preset} preset {value!r}")
    if proto.get("mm_replications") == 0 and "multimodality" in result.model.metrics:
        diffs.append("the published run did not compute MultiModality")
    if proto.get("notes"):
        diffs.append(f"source notes: {proto['notes']}")
    return diffs


def beside_published(result: Result, lineages: Sequence[str] | str, *, row: str = "model",
                     digits: int = 3) -> str:
    """The user's row (and ground truth) beside the published rows of ``lineages`` for the result's dataset,
    with every protocol difference spelled out and each published row's citation."""
    kind = (result.provenance.get("dataset") or {}).get("kind") or result.preset.get("dataset") or "humanml3d"
    rows = published(lineages, dataset=kind)
    keys = [k for k in METRICS if k in result.model.metrics or any(k in p.metrics for p in rows)]
    head = ["row", "source"] + [METRICS[k][0] for k in keys]
    table = [head]

    def cell(mean: float | None, ci: float | None) -> str:
        if mean is None:
            return "-"
        return f"{mean:.{digits}f}" + (f"±{ci:.{digits}f}" if ci is not None else "")

    for r in (result.ground_truth, result.row(row)):
        table.append([f"{r.name} (yours)", "this run"] + [cell(r.metrics[k].mean, r.metrics[k].ci95)
                                                         if k in r.metrics else "-" for k in keys])
    for i, p in enumerate(rows, 1):
        table.append([p.name, f"[{i}]"] + [cell(p.metrics[k]["mean"], p.metrics[k].get("ci95"))
                                           if k in p.metrics else "-" for k in keys])
    widths = [max(len(t[c]) for t in table) for c in range(len(head))]
    lines = [(f"Your result ({kind}, preset {result.preset_name}, {result.replications} replications, seed "
              f"{result.seed}) beside published rows:")]
    lines += ["  ".join(c.ljust(w) for c, w in zip(t, widths)) for t in table]
    if not rows:
        lines.append(f"(no published rows for {lineages} on {kind})")
    lines.append("")
    lines.append("Sources and protocol differences:")
    for i, p in enumerate(rows, 1):
        lines.append(f"[{i}] {p.lineage}/{p.dataset} {p.name}: {p.citation}")
        for d in protocol_differences(result, p):
            lines.append(f"      - {d}")
    left = not_included(lineages if not isinstance(lineages, str) else lineages.split(","))
    for k, v in left.items():
        lines.append(f"not in the registry ({k}): {v}")
    from ..data.fingerprints import verify_provenance

    verdicts = verify_provenance(result.provenance, dataset=kind)
    if verdicts:
        lines.append("")
        lines.append("Your inputs against the public reference files:")
        lines.extend(f"  {v.status:12s} {v}" for v in verdicts)
    return "\n".join(lines)
