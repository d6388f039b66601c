"""The plan of an evaluation run: its units of work, row counts per stage, the per-replication draws, and the
checks that the sizes can satisfy the preset (before any long work). Part of :class:`~.evaluate.Evaluation`.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .cache import Cache
from .embedding import Evaluator
from .embedding_memo import every_window
from .generators import SampleSetGenerator
from .ground_truth import GroundTruthItems, draw_pass, num_rows, pass_captions, pass_raw_tokens, pass_rng
from .presets import Preset

#: Stages of a replication, in execution order.
STAGES = ("gt_match", "gt_fid", "generated", "mm")


@dataclass(frozen=True)
class Unit:
    """One cacheable unit of work: rows ``[start, stop)`` of one stage of one replication."""

    replication: int
    stage: str
    chunk: int
    start: int
    stop: int


@dataclass(frozen=True, eq=False)
class _Requests:
    """What the generated pass of one replication asks for, row by row."""

    captions: list[str]
    tokens: list[tuple[str, ...]]
    lengths: np.ndarray | None  # None: the generator chooses
    prompts: np.ndarray | None  # sample-set mode: prompt index per row
    repetition: int
    items: list[int | None]  # ground-truth item of each row (None: a sample matched to no item)


class EvaluationState:
    """The attributes every part of an :class:`~.evaluate.Evaluation` reads (set by its ``__init__``), and its
    warning record."""

    seed: int
    split: str
    chunk_size: int
    show_progress: bool
    preset: Preset
    items: GroundTruthItems
    evaluator: Evaluator
    source: Any  # a Generator or a SampleSetGenerator
    identity: dict[str, Any]
    name: str
    cache: Cache
    dataset_stats: Any
    skeleton: Any
    prompt_tokens: list[tuple[str, ...]]
    prompt_items: list[int | None]
    warnings: list[str]
    table_notes: list[str]
    _plans: dict[tuple[int, str], Any]
    _padded: dict[str, set[str]]

    def _warn(self, message: str, *, distorting: bool = False, quiet: bool = False) -> None:
        """Record a warning once. ``distorting``: the number in the table is not the lineage's (also printed
        under the table). ``quiet``: record without a Python warning."""
        if distorting and message not in self.table_notes:
            self.table_notes.append(message)
        if message in self.warnings:
            return
        self.warnings.append(message)
        if not quiet:
            warnings.warn(message, stacklevel=3)

    def _ordered_warnings(self) -> list[str]:
        """Distorting warnings first, then the rest, each once."""
        return [*self.table_notes, *(w for w in self.warnings if w not in self.table_notes)]


class Planning(EvaluationState):
    """Units, row counts and draws of a run (see :mod:`motioneval.protocol.evaluate`)."""

    @property
    def sample_mode(self) -> bool:
        return isinstance(self.source, SampleSetGenerator)

    @property
    def n_gt(self) -> int:
        return num_rows(len(self.items), self.preset)

    @property
    def n_generated(self) -> int:
        n = self.source.num_prompts if self.sample_mode else len(self.items)
        return num_rows(n, self.preset, self.preset.generated_samples)

    @property
    def from_gt_batches(self) -> bool:
        """Whether generated rows are the rows of the scored ground-truth pass (MoMask, T2M-GPT)."""
        return self.preset.generated_rows == "ground_truth_batches" and not self.sample_mode

    @property
    def fid_same_batches(self) -> bool:
        return self.preset.fid_reference == "same_batches"

    @property
    def gt_stages(self) -> tuple[str, ...]:
        """The ground-truth passes of a replication (one when FID reads the matching pass's own rows)."""
        return ("gt_match",) if self.fid_same_batches else ("gt_match", "gt_fid")

    @property
    def window_registration(self) -> str:
        """Which windows the ground-truth window table embeds (:mod:`.embedding_memo`): ``"every"`` window a
        pass can draw -- one table for every seed, replication count and model, worth it when the run's passes
        draw more rows than there are windows (the protocol's 20 replications draw each window ~4 times) -- or
        only the windows this run's passes draw (``"drawn"``), when fewer replications draw fewer rows than that
        and the full table would cost more than it saves. A function of the data, preset and replication count
        alone, so every rank and every rerun registers the same set."""
        memo = getattr(self, "_window_registration", None)
        if memo is None:
            drawn_rows = self.preset.replications * self.n_gt * len(self.gt_stages)
            windows = len(every_window(self.items.lengths, self.preset))
            memo = self._window_registration = "drawn" if drawn_rows < windows else "every"
        return memo

    @property
    def mm_repeats(self) -> int:
        if self.sample_mode:
            return min(self.source.num_repetitions, self.preset.mm_repeats)
        return self.preset.mm_repeats

    @property
    def mm_enabled(self) -> bool:
        return self.preset.effective_mm_replications > 0 and self.mm_repeats > self.preset.mm_pairs

    @property
    def mm_captions(self) -> int:
        p = self.preset
        return self.n_generated if p.mm_selection == "all" else int(p.mm_captions)  # type: ignore[arg-type]

    def _check_feasible(self) -> None:
        """Fail before any long work when the sizes cannot satisfy the preset."""
        p = self.preset
        if self.n_gt == 0:
            raise ValueError(f"{len(self.items)} ground-truth items do not fill one group of {p.pool_size}")
        if self.n_generated == 0:
            if self.sample_mode:
                s = self.source
                have = (f"the sample set has {s.num_prompts} prompt(s) x {s.num_repetitions} repetition(s) = "
                        f"{s.num_prompts * s.num_repetitions} rows")
                fix = (f"Generate at least {p.pool_size} prompts (MDM: sample/generate.py --num_samples "
                       f"{max(p.pool_size, p.generated_samples or p.pool_size)}), or override pool_size (a different "
                       f"R-precision than the papers')")
            else:
                have, fix = f"the split has {len(self.items)} item(s)", "Use a larger split."
            raise ValueError(f"{have}; preset {p.name!r} scores R-precision in whole groups of {p.pool_size} prompts "
                             f"(repetitions are replications, not extra prompts) and needs at least {p.pool_size}"
                             + (f", {p.generated_samples} per replication" if p.generated_samples else "")
                             + f". {fix}.")
        p.diversity_pairs_for(self.n_gt)
        p.diversity_pairs_for(self.n_generated)
        if p.generated_samples is not None and self.n_generated < (p.generated_samples // p.pool_size) * p.pool_size:
            self._warn(f"preset asks for {p.generated_samples} generated samples per replication; only "
                       f"{self.n_generated} are available")
        if p.effective_mm_replications > 0:
            if self.sample_mode and self.mm_repeats <= p.mm_pairs:
                self._warn(f"MultiModality needs more than {p.mm_pairs} generations per caption; the sample set has "
                           f"{self.source.num_repetitions} repetition(s): MultiModality is not computed")
            elif self.mm_captions > self.n_generated:
                raise ValueError(f"MultiModality under preset {p.name!r} takes {self.mm_captions} captions but only "
                                 f"{self.n_generated} rows are generated; override mm_captions")
            elif self.sample_mode and self.mm_repeats < p.mm_repeats:
                self._warn(f"MultiModality uses {self.mm_repeats} repetitions per caption (the sample set's), not "
                           f"{p.mm_repeats}")
        if self.sample_mode:
            reps = self.source.num_repetitions
            if reps < p.replications:
                self._warn(f"the sample set has {reps} repetition(s) for {p.replications} replications: replication "
                           f"r uses repetition r % {reps}, so replications do not regenerate")
            if p.generated_rows == "ground_truth_batches":
                self._warn(f"preset {p.name!r} generates from the ground-truth batches themselves; a sample set has "
                           f"its own prompts, so its rows are scored in their own shuffled groups", distorting=True)

    def _plan(self, r: int, stage: str) -> Any:
        key = (r, stage)
        if key not in self._plans:
            if stage in ("gt_match", "gt_fid"):
                self._plans[key] = draw_pass(self.items, self.preset, pass_rng(self.seed, r, stage))
            elif stage == "generated":
                self._plans[key] = self._generated_requests(r)
            elif stage == "mm":
                self._plans[key] = self._mm_rows(r)
            else:
                raise ValueError(f"unknown stage {stage!r}")
        return self._plans[key]

    def _generated_requests(self, r: int) -> _Requests:
        p = self.preset
        rng = pass_rng(self.seed, r, "generated")
        if self.sample_mode:
            prompts = rng.permutation(self.source.num_prompts)[: self.n_generated]
            s = self.source.samples
            return _Requests([s.captions[i] for i in prompts], [self.prompt_tokens[i] for i in prompts],
                             s.lengths[prompts].astype(np.int64), prompts, r % self.source.num_repetitions,
                             [self.prompt_items[i] for i in prompts])
        if self.from_gt_batches:  # the scored ground-truth pass's own rows (MoMask, T2M-GPT)
            plan = self._plan(r, "gt_match").take(slice(0, self.n_generated))
        else:
            plan = draw_pass(self.items, p, rng, limit=p.generated_samples)
        lengths = plan.lengths if p.generated_length == "ground_truth" else None
        return _Requests(pass_captions(self.items, plan), pass_raw_tokens(self.items, plan), lengths, None, 0,
                         plan.item.tolist())

    def _mm_rows(self, r: int) -> np.ndarray:
        """Indices (into the generated rows) of the MultiModality captions of replication ``r``."""
        p, n, k = self.preset, self.n_generated, self.mm_captions
        rng = pass_rng(self.seed, r, "mm_select")
        if p.mm_selection == "all":
            return np.arange(n)
        if p.mm_selection == "first_groups":
            return np.arange(k)
        if p.mm_selection == "random_items":
            return rng.choice(n, k, replace=False)
        groups = rng.choice(n // p.pool_size, k // p.pool_size, replace=False)
        return (groups[:, None] * p.pool_size + np.arange(p.pool_size)[None, :]).reshape(-1)

    def stage_rows(self, stage: str) -> int:
        if stage in ("gt_match", "gt_fid"):
            return self.n_gt
        if stage == "generated":
            return self.n_generated
        return self.mm_captions * self.mm_repeats

    def units(self, replications: Sequence[int] | None = None) -> list[Unit]:
        """Every unit of work, in execution order (for the given replications, default all)."""
        reps = range(self.preset.replications) if replications is None else replications
        out = []
        for r in reps:
            stages = [*self.gt_stages, "generated"]
            if self.mm_enabled and r < self.preset.effective_mm_replications:
                stages.append("mm")
            for stage in stages:
                n = self.stage_rows(stage)
                for c, start in enumerate(range(0, n, self.chunk_size)):
                    out.append(Unit(r, stage, c, start, min(start + self.chunk_size, n)))
        return out

