"""Extra blocks of a result: tables beside the protocol's, with their own labels, provenance and caveats.

A :class:`~motioneval.protocol.results.ResultBlock` (defined beside ``Result``, re-exported here) holds rows (ground truth first, as the reference row, then the models) of
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

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..constants import MetricInfo
from .results import ResultBlock

__all__ = [
    "ResultBlock", "physical_block", "physical_metric_infos", "physical_replication_values", "tmr_block",
    "tmr_metric_infos", "tmr_replication_values", "PHYSICAL_NOTE", "TMR_SHOWN",
]

PHYSICAL_NOTE = ("Physical plausibility on joint positions: not protocol metrics (no evaluator involved). Each value "
                 "is the mean over a replication's clips (clips without a value, e.g. skating without floor "
                 "contact, skipped), then mean ± 95% CI over replications. Lower is better except dynamics and "
                 "contact, which should match the ground-truth row.")


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
