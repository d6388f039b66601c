"""What an evaluation run records besides the numbers: sample counts, provenance, run settings, padded rows and
the evaluator-statistics check. Part of :class:`~.evaluate.Evaluation`.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .generation import Generation
from .plan import _Requests


class RunRecords(Generation):
    """Records of a run (see :meth:`~.evaluate.Evaluation.score`)."""

    dataset_info: dict[str, Any]

    def _sample_counts(self) -> dict[str, Any]:
        p = self.preset
        mm = ({"captions": self.mm_captions, "repeats": self.mm_repeats, "pairs": p.mm_pairs,
               "replications": p.effective_mm_replications} if self.mm_enabled else None)
        return {"ground_truth_items": len(self.items), "ground_truth_rows": self.n_gt,
                "ground_truth_dropped": len(self.items) - self.n_gt, "generated_rows": self.n_generated,
                "diversity_pairs": {"ground_truth": p.diversity_pairs_for(self.n_gt),
                                    "model": p.diversity_pairs_for(self.n_generated)},
                "multimodality": mm,
                "generated_from": "ground-truth batches" if self.from_gt_batches else "independent pass",
                "fid_reference": "same ground-truth batches" if self.fid_same_batches else "independent pass",
                "padded_rows": {stage: {"rows": len(names), "first": sorted(names, key=_natural)[:20]}
                                for stage, names in sorted(self._padded.items())}}

    def _provenance(self) -> dict[str, Any]:
        generated: dict[str, Any] = dict(self.identity)
        if self.sample_mode:
            generated.update({"source": self.source.source, "sha256": self.source.version,
                              "num_prompts": self.source.num_prompts,
                              "num_repetitions": self.source.num_repetitions})
        if self.identity["normalization"] == "dataset" and self.dataset_stats is not None:
            generated["dataset_statistics"] = dict(self.dataset_stats.sources)
        return {"evaluator": dict(getattr(self.evaluator, "provenance", {}) or {}),
                "evaluator_statistics": dict(self.evaluator.stats.sources),
                "dataset": {**self.dataset_info, "content_sha256": self._dataset_key},
                "generated": generated}

    def _run_settings(self) -> dict[str, Any]:
        return {"split": self.split, "chunk_size": self.chunk_size, "cache_dir": _path_str(self.cache.root),
                "device": str(getattr(self.evaluator, "device", "cpu")), "model_name": self.name,
                "compute": dict(self._compute),
                "seeding": "numpy SeedSequence(seed, spawn_key=(replication, stream, ...)); streams in "
                           "motioneval.protocol.ground_truth.STREAMS"}

    def _note_padded(self, r: int, stage: str, mask: np.ndarray) -> None:
        req: _Requests = self._plan(r, "generated")
        rows = np.flatnonzero(mask)
        if not rows.size:
            return
        if stage == "mm":
            rows = self._plan(r, "mm")[rows // self.mm_repeats]
        names = self._padded.setdefault(stage, set())
        for i in rows.tolist():
            names.add(f"prompt {int(req.prompts[i])}" if req.prompts is not None else f"replication {r} row {i}")

    def _padded_note(self) -> str | None:
        if not self._padded:
            return None
        p = self.preset
        counts = ", ".join(f"{len(v)} {k} row(s)" for k, v in sorted(self._padded.items()))
        what = {"none": f"all {p.max_frames} frames", "batch_longest": "frames up to its batch's longest motion"}
        label = p.name if p.name == p.base else f"{p.name} (based on {p.base})"
        return (f"preset {label!r} feeds each generated row {what.get(p.generated_padding, 'its frames')}, but "
                f"{counts} did not have them (a sample file that kept nothing past the lengths, or a generator "
                f"that returned fewer frames): the missing "
                f"frames were padded with zeros in evaluator-normalized space, as the reference pads; the numbers "
                f"differ from the lineage's if its model would have produced those frames. Keep every generated "
                f"frame in the samples (see sample_counts.padded_rows)")

    def _check_evaluator_statistics(self) -> None:
        """Say when the evaluator's statistics are not the lineage's meta folder."""
        want = self.preset.evaluator_statistics
        sources = getattr(getattr(self.evaluator, "stats", None), "sources", None) or {}
        used = [Path(str(k)) for k in (sources if isinstance(sources, Mapping) else [])]
        metas = {u.parent.parent.name for u in used if u.parent.name == "meta" and u.is_file()}
        paths = ", ".join(map(str, used))
        if want and metas and want not in metas:  # another lineage's meta folder (MDM's own copies are not judged)
            self._warn(f"preset {self.preset.name!r} normalizes with the evaluator statistics of {want}/meta; this "
                       f"run used {paths} (numbers can differ slightly). Put {want}/meta in the evaluator folder or "
                       f"override evaluator_statistics", distorting=True)


def _natural(text: str) -> list[Any]:
    """Sort key that orders the numbers inside a string numerically ("row 9" before "row 10")."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _path_str(path: Path | None) -> str | None:
    return None if path is None else str(path)
