"""Extras of an evaluation beside the protocol's metrics, from the same rows: physical plausibility and a TMR
evaluator's block. Part of :class:`~.evaluate.Evaluation` (``physical=``, ``tmr_evaluator=``).

Per unit of work, from the rows the protocol scores (generated samples are generated and cached once):

- **physical** (:mod:`motioneval.metrics.physical`): per-clip ``phys_<metric>`` columns of the ground-truth pass
  A windows (the ground-truth rows the protocol scores, raw features) and of the generated rows (raw features at
  their lengths), each turned into joints by ``features_to_joints`` and measured at the dataset's frame rate with
  the named variant. Scored by :class:`~.scoring.ColumnMeanScorer` (the mean over a replication's clips).
- **TMR** (:class:`motioneval.evaluators.tmr.TMREvaluator`): motion embeddings of whole clips (TMR reads every
  frame: no 196-frame cap, no crop to multiples of 4; the ground-truth rows are the items of pass A, and of pass B
  for the FID reference) normalized with TMR's statistics, and text embeddings of the raw caption strings.
  Scored by :class:`TMRScorer` (:func:`motioneval.protocol.blocks.tmr_replication_values`).

Extras are cached per unit beside the unit's embeddings, under their own key (the unit's embedding key plus the
physical variant and frame rate, or the TMR evaluator's files), so turning them on or off never invalidates the
protocol's embeddings. The values end up in their own result blocks (:mod:`.blocks`), not in the protocol table.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .blocks import physical_metric_infos, tmr_metric_infos, tmr_replication_values
from .cache import content_key
from .scoring import ColumnMeanScorer, RowEmbeddings, ScoreContext, Scores

__all__ = ["UnitExtras", "TMRScorer", "PHYSICAL_KEYS", "TMR_KEYS", "physical_scorer"]

PHYSICAL_KEYS = frozenset(m.key for m in physical_metric_infos())
TMR_KEYS = frozenset(m.key for m in tmr_metric_infos())
_TMR_COLUMNS = ("tmr_text", "tmr_motion", "tmr_reference")


def physical_scorer() -> ColumnMeanScorer:
    """The mean over clips of every ``phys_<metric>`` column (NaN clips skipped)."""
    return ColumnMeanScorer(physical_metric_infos())


class TMRScorer:
    """TMR's protocols and TMR-space scores of a row from its ``tmr_text`` / ``tmr_motion`` columns and, for FID, the
    ``tmr_reference`` column (the ground truth's TMR motion embeddings of the FID reference pass)."""

    def metrics(self, preset: Any) -> tuple[Any, ...]:
        return tuple(tmr_metric_infos())

    def __call__(self, row: RowEmbeddings, context: ScoreContext) -> Scores:
        cols = row.columns
        if "tmr_text" not in cols or "tmr_motion" not in cols:
            raise KeyError(f"{row.name}: no TMR embeddings (columns tmr_text, tmr_motion); have {sorted(cols)}")
        values = tmr_replication_values(cols["tmr_text"], cols["tmr_motion"], cols.get("tmr_reference"),
                                        fid_method=context.preset.fid_method)
        return Scores(dict(values))


class UnitExtras:
    """What a run computes besides the protocol's embeddings (see the module docstring)."""

    def __init__(self, *, physical: Any = None, tmr: Any = None, fps: float, skeleton: Any) -> None:
        from ..metrics.physical import get_variant

        self.physical = None if physical in (None, False) else get_variant(None if physical is True else physical)
        self.tmr = tmr
        self.fps = float(fps)
        self.skeleton = skeleton

    @property
    def enabled(self) -> bool:
        return self.physical is not None or self.tmr is not None

    def key_parts(self) -> dict[str, Any]:
        """What the extras depend on beyond the unit's rows (part of their cache key)."""
        out: dict[str, Any] = {}
        if self.physical is not None:
            cfg = self.physical
            out["physical"] = {"variant": {k: getattr(cfg, k) for k in cfg.__dataclass_fields__
                                           if k not in ("name", "source", "notes")}, "fps": self.fps,
                               "joints": "features_to_joints", "version": 1}
        if self.tmr is not None:
            from .keys import compute_settings

            out["tmr"] = {"files": sorted((self.tmr.provenance or {}).values()), "compute": compute_settings(self.tmr),
                          "whole_clips": True, "version": 1}
        return out

    def names(self, stage: str) -> set[str]:
        """The extra arrays a unit of ``stage`` gets."""
        out: set[str] = set()
        if self.physical is not None and stage in ("gt_match", "generated"):
            out |= PHYSICAL_KEYS
        if self.tmr is not None and stage != "mm":
            out.add("tmr_motion")
            if stage != "gt_fid":
                out.add("tmr_text")
        return out

    def key(self, embedding_key: str, stage: str) -> tuple[str, dict[str, Any]]:
        """Cache key of a unit's extras: its embedding key (everything that made its rows), its ``stage`` and
        :meth:`key_parts`."""
        parts = {"what": "extras", "stage": stage, "embeddings": embedding_key, **self.key_parts()}
        return content_key(parts), parts

    # ------------------------------------------------------------------------------------------------ compute
    def _physical(self, raw: np.ndarray, lengths: np.ndarray) -> dict[str, np.ndarray]:
        from ..data.physical import physical_columns_for_motions

        cols = physical_columns_for_motions(raw, lengths, kind="features", normalization="raw", fps=self.fps,
                                            skeleton=self.skeleton, variant=self.physical)
        return {k: np.asarray(v, np.float64) for k, v in cols.items()}

    def ground_truth(self, stage: str, windows: np.ndarray, window_lengths: np.ndarray, clips: np.ndarray,
                     clip_lengths: np.ndarray, captions: Sequence[str]) -> dict[str, np.ndarray]:
        """Extras of a ground-truth unit: ``windows`` are the rows the protocol scores (raw features), ``clips``
        the whole items (raw features) and ``captions`` the rows' caption strings."""
        out: dict[str, np.ndarray] = {}
        if self.physical is not None and stage == "gt_match":
            out.update(self._physical(windows, window_lengths))
        if self.tmr is not None:
            out["tmr_motion"] = np.asarray(self.tmr.embed_raw_motion(clips, clip_lengths), np.float32)
            if stage == "gt_match":
                out["tmr_text"] = np.asarray(self.tmr.embed_text(list(captions)), np.float32)
        return out

    def generated(self, raw: np.ndarray, lengths: np.ndarray, captions: Sequence[str]) -> dict[str, np.ndarray]:
        """Extras of a generated unit: raw features at their lengths and the captions they were generated from."""
        out: dict[str, np.ndarray] = {}
        if self.physical is not None:
            out.update(self._physical(raw, lengths))
        if self.tmr is not None:
            out["tmr_motion"] = np.asarray(self.tmr.embed_raw_motion(raw, lengths), np.float32)
            out["tmr_text"] = np.asarray(self.tmr.embed_text(list(captions)), np.float32)
        return out


def row_columns(emb: Mapping[str, np.ndarray], stage: str, reference_stage: str | None) -> dict[str, np.ndarray]:
    """A row's per-clip columns from a replication's arrays (``"<stage>/phys_*"``, ``"<stage>/tmr_*"``) and the TMR
    FID reference (``"<reference_stage>/tmr_motion"``; ``None``: no FID)."""
    prefix = f"{stage}/"
    cols = {k[len(prefix):]: v for k, v in emb.items() if k.startswith(prefix)
            and (k[len(prefix):] in PHYSICAL_KEYS or k[len(prefix):] in _TMR_COLUMNS)}
    if reference_stage is not None and f"{reference_stage}/tmr_motion" in emb:
        cols["tmr_reference"] = emb[f"{reference_stage}/tmr_motion"]
    return cols


def pass_raw_windows(items: Any, plan: Any) -> np.ndarray:
    """The raw feature windows a ground-truth pass scores, zero-padded: ``(rows, max(lengths), D)`` float32 (the
    frames of :func:`~.ground_truth.pass_features` before normalization)."""
    t = np.arange(max(int(plan.lengths.max()), 1))
    valid = t[None, :] < plan.lengths[:, None]
    index = np.where(valid, items.offsets[plan.item][:, None] + plan.starts[:, None] + t[None, :], 0)
    out = items.frames[index].astype(np.float32)
    out[~valid] = 0.0
    return out


def item_clips(items: Any, item: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whole clips of ``items`` (raw features, zero-padded ``(rows, max length, D)`` float32) and their lengths."""
    lengths = np.asarray(items.lengths[item], np.int64)
    t = np.arange(max(int(lengths.max()), 1))
    valid = t[None, :] < lengths[:, None]
    index = np.where(valid, items.offsets[item][:, None] + t[None, :], 0)
    out = items.frames[index].astype(np.float32)
    out[~valid] = 0.0
    return out, lengths
