"""Cache keys of an evaluation's units: everything that produced a unit's samples or embeddings
(``docs/cache.md``). Part of :class:`~.evaluate.Evaluation`.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..representation.normalization import FeatureStats
from .cache import content_key, hash_arrays
from .plan import Planning, Unit


class CacheKeys(Planning):
    """The content keys of a run's units (set up by ``Evaluation.__init__``)."""

    _dataset_key: str
    _stats_keys: dict[str, Any]
    _evaluator_key: list[str]
    _evaluator_stats_key: str
    _compute: dict[str, Any]

    def _gt_settings(self) -> dict[str, Any]:
        p = self.preset
        return {k: getattr(p, k) for k in ("unit_length", "crop_shorter_probability", "max_frames",
                                           "max_text_tokens", "pool_size", "min_motion_length",
                                           "max_motion_length", "fps")}

    def _gen_settings(self, stage: str) -> dict[str, Any]:
        p = self.preset
        out = {**self._gt_settings(), "generated_samples": p.generated_samples,
               "generated_length": p.generated_length, "generated_padding": p.generated_padding}
        if self.from_gt_batches:  # added only when not the default, so older cache keys stay valid
            out["generated_rows"] = p.generated_rows
        if stage == "mm":  # only MultiModality units depend on which captions are repeated, and how often
            out.update(mm_selection=p.mm_selection, mm_captions=p.mm_captions, mm_repeats=self.mm_repeats)
        return out

    def sample_key(self, unit: Unit) -> tuple[str, dict[str, Any]]:
        """Key of a unit's generated samples (independent of the evaluator)."""
        parts = {"what": "samples", "stage": unit.stage, "generator": self.identity, "dataset": self._dataset_key,
                 "settings": self._gen_settings(unit.stage), "seed": self.seed, "replication": unit.replication,
                 "chunk": unit.chunk, "chunk_size": self.chunk_size, "statistics": self._stats_keys}
        return content_key(parts), parts

    def embedding_key(self, unit: Unit) -> tuple[str, dict[str, Any]]:
        """Key of a unit's embeddings."""
        if unit.stage in ("gt_match", "gt_fid"):
            parts: dict[str, Any] = {"what": "embeddings", "stage": unit.stage, "dataset": self._dataset_key,
                                     "settings": self._gt_settings(), "seed": self.seed,
                                     "replication": unit.replication, "chunk": unit.chunk,
                                     "chunk_size": self.chunk_size, "motion": "window table"}
            if self.window_registration == "drawn":  # another registered set batches windows differently
                parts["motion"] = f"window table of the windows drawn by {self.preset.replications} replications"
            if unit.stage == "gt_match":  # read from the tables (docs/cache.md), never mixed with per-chunk digits
                parts["text"] = "caption table"
        else:
            p = self.preset
            parts = {"what": "embeddings", "samples": self.sample_key(unit)[0],
                     "padding": p.generated_padding, "max_frames": p.max_frames}
            if p.generated_padding != "zeros":  # missing frames are padded in normalized space since issue 11
                parts["padding_rule"] = "normalized-zeros"
            if p.long_motions != "error":
                parts["long_motions"] = p.long_motions
            if p.text_length != "true" and unit.stage == "generated":
                parts["text_length"] = p.text_length
            if unit.stage == "generated":
                parts["text"] = "caption table"
        parts["evaluator"] = self._evaluator_key
        parts["evaluator_statistics"] = self._evaluator_stats_key
        parts["compute"] = self._compute
        return content_key(parts), parts


def compute_settings(evaluator: Any) -> dict[str, Any]:
    """What of the machine can change an embedding's digits, for the cache keys (``docs/cache.md``): the
    evaluator's class, device type and numpy version, and for a torch evaluator the torch version and, on
    CPU, torch's thread count (reductions split over threads may round differently). A run resumed with
    another thread count therefore recomputes instead of mixing digits; the result records it."""
    device = getattr(evaluator, "device", "cpu")
    out: dict[str, Any] = {"evaluator_class": f"{type(evaluator).__module__}.{type(evaluator).__qualname__}",
                           "device": str(getattr(device, "type", None) or str(device).split(":")[0]),
                           "numpy": np.__version__}
    if type(device).__module__.split(".")[0] == "torch":
        import torch

        out["torch"] = torch.__version__
        if out["device"] == "cpu":
            out["torch_threads"] = int(torch.get_num_threads())
    return out


def stats_keys(identity: Mapping[str, Any], dataset_stats: Any, evaluator_stats: FeatureStats) -> dict[str, Any]:
    """Hashes of the statistics that turn generated output into raw features (part of the samples keys): the
    dataset's for dataset-normalized output, the evaluator's for evaluator-normalized output, none for raw
    features or joints (the evaluator's statistics are in every embedding key separately)."""
    norm = identity.get("normalization")
    if identity.get("kind") != "features" or norm not in ("dataset", "evaluator"):
        return {}
    stats = dataset_stats if norm == "dataset" else evaluator_stats
    return {norm: hash_arrays(stats.mean, stats.std) if stats is not None else None}


