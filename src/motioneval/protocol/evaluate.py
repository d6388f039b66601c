"""``evaluate``: the whole protocol (``protocol.md``) under a named preset, cached and resumable.

Per replication ``r`` (all randomness from ``SeedSequence(seed, spawn_key=(r, stream, ...))``, see
:mod:`motioneval.protocol.ground_truth`):

1. ground-truth pass A (stream ``gt_match``): shuffled items in whole groups of ``pool_size``, a random
   caption, crop and window per row; text and motion embeddings -> the ground-truth row's R-precision,
   Matching Score and Diversity;
2. ground-truth pass B (``gt_fid``), drawn independently: motion embeddings -> the FID reference statistics
   (the ground-truth row's FID compares B with A, which is why it is ~0.002 and not 0);
3. generated pass (``generated``): another shuffled draw of items, captions and lengths (cut to
   ``generated_samples``); the generator is asked, chunk by chunk with one derived seed per chunk, for a
   motion per row (given the ground-truth length when the preset says so); each row's text embedding is
   its caption's, with its true text length -> R-precision and Matching Score in groups of 32, FID against
   pass B, Diversity;
4. MultiModality (replications ``< mm_replications``): ``mm_captions`` rows of the generated pass chosen by
   ``mm_selection``, each generated ``mm_repeats`` times (seeds per chunk) -> MultiModality.

With ``samples=`` instead of a generator the prompts of the sample set replace the items of step 3: each
replication uses a fresh shuffle of the prompts and repetition ``r % num_repetitions``; MultiModality uses
the first ``mm_repeats`` repetitions.

The preset's loop-semantics fields change these steps (:mod:`.presets`): ``generated_rows=
"ground_truth_batches"`` makes step 3 use the rows of pass A itself (its items, captions and crop lengths;
MoMask, T2M-GPT); ``fid_reference="same_batches"`` takes the FID reference statistics from pass A (pass B
is then not drawn, and the ground-truth row has no FID); ``ground_truth_row=False`` leaves the ground-truth
row out of the table (MoMask); ``generated_padding`` decides how many frames of each generated row reach the
evaluator (frames a sample does not have are zero in evaluator-normalized space, and the rows concerned are
counted in ``sample_counts["padded_rows"]``); ``long_motions="truncate"`` cuts lengths over ``max_frames``;
``text_length="max"`` embeds every generated caption with text length 22 (MDM before 2024);
``evaluator_statistics`` picks the evaluator's meta statistics when the evaluator is loaded from a folder.

Warnings are deduplicated; those that change a number (a setting the run could not honour, padded rows,
another evaluator statistics file than the lineage's) come first and are also printed under the table
(``Result.settings["table_notes"]``).

Units of work are ``(replication, stage, chunk)``; each is stored in the cache (:mod:`.cache`) as soon as
it is done, under a key of everything that produced it, so an interrupted run resumes where it stopped and
gives identical numbers, and re-scoring with other metric settings reuses every embedding.
:class:`Evaluation` exposes the units (``units()``, ``run_unit()``) so that several processes can share
them (issue 8); :func:`evaluate` runs them all and scores.
"""
from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .. import _npio
from .._progress import progress as _progress
from ..representation.normalization import FeatureStats
from .cache import Cache, content_key, hash_arrays
from .generators import (
    SampleSetGenerator,
    check_generator,
    evaluator_features,
    normalize_output,
    output_frames,
    padded_rows,
    to_raw_features,
    visible_frames,
)
from .ground_truth import (
    GroundTruthItems,
    PassPlan,
    derived_seed,
    draw_pass,
    num_rows,
    pass_captions,
    pass_features,
    pass_raw_tokens,
    pass_rng,
)
from .presets import Preset, get_preset
from .results import MetricSummary, Result, Row, library_versions, utc_now

logger = logging.getLogger(__name__)

STAGES = ("gt_match", "gt_fid", "generated", "mm")
GROUND_TRUTH_ROW = "ground truth"


@runtime_checkable
class Evaluator(Protocol):
    """What the loop needs from an evaluator (:class:`motioneval.evaluators.t2m.T2MEvaluator` or a stand-in).

    ``embed_text(tokens)`` takes per row the caption's ``word/POS`` tokens *without* ``sos``/``eos`` (the
    evaluator adds them, keeps the first 20 and pads, ``protocol.md`` step 4); ``embed_motion(features,
    lengths)`` takes evaluator-normalized ``(N, T, D)`` features; both return ``(N, E)`` float arrays in the
    caller's row order. ``stats`` are the evaluator's normalization statistics; ``provenance`` maps every
    file it was loaded from to its sha256.
    """

    stats: FeatureStats
    provenance: Mapping[str, str]

    def embed_text(self, tokens: Sequence[Sequence[str]]) -> np.ndarray: ...

    def embed_motion(self, features: np.ndarray, lengths: np.ndarray) -> np.ndarray: ...


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


class Evaluation:
    """A prepared evaluation run; see the module docstring. Build with the same arguments as :func:`evaluate`."""

    def __init__(self, *, dataset: Any, evaluator: Any, samples: Any = None, generator: Any = None,
                 preset: str | Preset = "t2m", seed: int = 0, split: str = "test", cache_dir: Any = None,
                 chunk_size: int = 128, allow_pickle: bool = False, device: str | None = None,
                 progress: bool = False, name: str | None = None, on_dataset_problem: str = "raise",
                 overrides: Mapping[str, Any] | None = None) -> None:
        if (samples is None) == (generator is None):
            raise ValueError("pass exactly one of samples= (already generated motions) or generator= (a model)")
        if not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive integer; got {chunk_size!r}")
        self.seed = int(seed)
        self.split = split
        self.chunk_size = chunk_size
        self.show_progress = progress
        self.warnings: list[str] = []
        self._t0 = time.perf_counter()
        for what, path in (("samples", samples), ("evaluator folder", evaluator), ("dataset folder", dataset)):
            if isinstance(path, (str, Path)) and not Path(path).exists():  # fail before loading anything
                raise FileNotFoundError(f"{what} not found: {path}")
        if generator is not None:
            check_generator(generator)

        self.items, self.dataset_info = _load_ground_truth(dataset, split, preset, dict(overrides or {}),
                                                           on_dataset_problem)
        base = preset if isinstance(preset, Preset) else get_preset(preset, dataset=self.items.kind)
        self.preset = get_preset(base, dataset=self.items.kind, **dict(overrides or {}))
        self.table_notes: list[str] = []
        self._padded: dict[str, set[str]] = {}
        self.evaluator = _load_evaluator(evaluator, device, statistics=self.preset.evaluator_statistics)
        self._check_evaluator_statistics()
        stats = getattr(self.evaluator, "stats", None)
        if not isinstance(stats, FeatureStats):
            raise TypeError("the evaluator must have a `stats` attribute (FeatureStats of its own mean/std)")
        if stats.dim != self.items.dim:
            raise ValueError(f"the evaluator's statistics have {stats.dim} dims but the dataset's features have "
                             f"{self.items.dim}: a KIT-ML evaluator for HumanML3D data, or the reverse?")

        if samples is not None:
            self.source = (samples if isinstance(samples, SampleSetGenerator)
                           else SampleSetGenerator.from_path(samples, allow_pickle=allow_pickle)
                           if isinstance(samples, (str, Path)) else SampleSetGenerator(samples))
            self.prompt_tokens, self.prompt_items = self.source.match(
                self.items, max_frames=self.preset.max_frames, truncate=self.preset.long_motions == "truncate")
        else:
            self.source = generator
            self.prompt_tokens, self.prompt_items = None, None  # type: ignore[assignment]
        self.identity = check_generator(self.source)
        self.name = name or self.identity["name"]
        if self.name == GROUND_TRUTH_ROW:
            raise ValueError(f"the model cannot be named {GROUND_TRUTH_ROW!r}")
        self.dataset_stats = getattr(self.source, "stats", None) or self.items.dataset_stats
        self.skeleton = _skeleton_for(self.items.kind)
        self._check_feasible()

        provenance = dict(getattr(self.evaluator, "provenance", {}) or {})
        self.cache = Cache(cache_dir)
        if self.cache.enabled and not provenance:
            self._warn("the evaluator records no provenance (file sha256s), so its embeddings cannot be keyed: "
                       "caching is disabled for this run")
            self.cache = Cache(None)
        self._evaluator_key = sorted(provenance.values())
        self._dataset_key = self.items.content_hash()
        self._stats_keys = _stats_keys(self.identity, self.dataset_stats, self.evaluator.stats)
        self._evaluator_stats_key = hash_arrays(self.evaluator.stats.mean, self.evaluator.stats.std)
        self._compute = compute_settings(self.evaluator)
        self._plans: dict[tuple[int, str], Any] = {}

    # ---------------------------------------------------------------------------------------- planning
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
            stages = ["gt_match", "generated"] if self.fid_same_batches else ["gt_match", "gt_fid", "generated"]
            if self.mm_enabled and r < self.preset.effective_mm_replications:
                stages.append("mm")
            for stage in stages:
                n = self.stage_rows(stage)
                for c, start in enumerate(range(0, n, self.chunk_size)):
                    out.append(Unit(r, stage, c, start, min(start + self.chunk_size, n)))
        return out

    # ---------------------------------------------------------------------------------------- keys
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
                                     "chunk_size": self.chunk_size}
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
        parts["evaluator"] = self._evaluator_key
        parts["evaluator_statistics"] = self._evaluator_stats_key
        parts["compute"] = self._compute
        return content_key(parts), parts

    # ---------------------------------------------------------------------------------------- work
    def is_cached(self, unit: Unit) -> bool:
        """Whether the unit's embeddings are already in the cache (a finished unit)."""
        return self.cache.enabled and self.cache.path("embeddings", self.embedding_key(unit)[0]).is_file()

    def run_unit(self, unit: Unit) -> dict[str, np.ndarray]:
        """The unit's embeddings, from the cache or computed (then cached)."""
        key, parts = self.embedding_key(unit)
        cached = self.cache.load("embeddings", key)
        if cached is not None:
            return cached
        rows = slice(unit.start, unit.stop)
        if unit.stage in ("gt_match", "gt_fid"):
            plan: PassPlan = self._plan(unit.replication, unit.stage).take(rows)
            feats = pass_features(self.items, plan, self.evaluator.stats, self.preset)
            out = {"motion": self._embed_motion(feats, plan.lengths)}
            if unit.stage == "gt_match":
                out["text"] = self._embed_text(pass_raw_tokens(self.items, plan))
            out["lengths"] = plan.lengths
        else:
            raw, lengths, frames = self._generated_raw(unit)
            p = self.preset
            if p.long_motions == "truncate":
                lengths = np.minimum(lengths, p.max_frames)
            visible = self._visible(unit, lengths)
            feats, lengths = evaluator_features(raw, lengths, self.evaluator.stats, max_frames=p.max_frames,
                                                padding=p.generated_padding, name=self.name, frames=frames,
                                                visible=visible, long_motions=p.long_motions,
                                                row_names=self._row_names(unit))
            out = {"motion": self._embed_motion(feats, lengths), "lengths": lengths,
                   "padded": padded_rows(lengths, frames, visible) if p.generated_padding != "zeros"
                   else np.zeros(len(lengths), bool)}
            if unit.stage == "generated":
                fixed = p.text_tokens if p.text_length == "max" else None
                out["text"] = self._embed_text(self._plan(unit.replication, "generated").tokens[rows], fixed)
        self.cache.save("embeddings", key, parts, **out)
        return out

    def _generated_raw(self, unit: Unit) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Raw features, lengths and real frames per row of a generated/MultiModality unit (cached per unit in
        generator mode)."""
        req: _Requests = self._plan(unit.replication, "generated")
        rows = np.arange(unit.start, unit.stop)
        if unit.stage == "mm":
            mm = self._plan(unit.replication, "mm")
            row_of, repeat = mm[rows // self.mm_repeats], rows % self.mm_repeats
        else:
            row_of, repeat = rows, None
        names = self._row_names(unit, rows, row_of)
        if self.sample_mode:
            assert req.prompts is not None  # sample-set mode always maps rows to prompts
            if repeat is None:
                out = self.source.take(req.prompts[row_of], req.repetition)
                motions, lengths, frames = out.motions, out.lengths, out.frames
            else:  # MultiModality: repetition j of each prompt
                taken = [self.source.take(req.prompts[row_of[repeat == j]], int(j)) for j in np.unique(repeat)]
                order = np.concatenate([np.flatnonzero(repeat == j) for j in np.unique(repeat)])
                motions = np.empty((len(rows),) + taken[0].motions.shape[1:], dtype=np.float32)
                lengths = np.empty(len(rows), dtype=np.int64)
                frames = np.empty(len(rows), dtype=np.int64)
                motions[order] = np.concatenate([t.motions for t in taken])
                lengths[order] = np.concatenate([t.lengths for t in taken])
                frames[order] = np.concatenate([t.frames for t in taken])
            return to_raw_features(np.asarray(motions, np.float32), np.asarray(lengths, np.int64),
                                   kind=self.identity["kind"], normalization=self.identity["normalization"],
                                   dataset_stats=self.dataset_stats, evaluator_stats=self.evaluator.stats,
                                   padding=self.preset.generated_padding, skeleton=self.skeleton, name=self.name,
                                   row_names=names, frames=np.asarray(frames, np.int64), return_frames=True)
        key, parts = self.sample_key(unit)
        cached = self.cache.load("samples", key)
        if cached is not None:
            raw = _unpack_rows(cached)
            frames = cached.get("frames_per_row")  # type: ignore[assignment]
            if frames is None:  # zeros padding (nothing past the lengths) or a cache written before issue 11
                frames = (cached["lengths"] if self.preset.generated_padding == "zeros"
                          else np.full(len(raw), raw.shape[1], np.int64))
            return raw, cached["lengths"], frames
        stream = "mm_seed" if unit.stage == "mm" else "generator_seed"
        seed = derived_seed(self.seed, unit.replication, stream, unit.chunk)
        captions = [req.captions[int(j)] for j in row_of]
        lengths = None if req.lengths is None else req.lengths[row_of]
        output = self.source.generate(captions, None if lengths is None else lengths.copy(), seed)
        motions, out_lengths = normalize_output(output, lengths, name=self.name)
        real = output_frames(output, motions)
        if lengths is not None and self.identity["kind"] == "features" and not np.array_equal(out_lengths, lengths):
            bad = int(np.flatnonzero(out_lengths != lengths)[0])
            raise ValueError(f"{self.name} returned length {int(out_lengths[bad])} for {names[bad]}, asked for "
                             f"{int(lengths[bad])} (preset {self.preset.name!r} uses ground-truth lengths)")
        raw, out_lengths, frames = to_raw_features(
            motions, out_lengths, kind=self.identity["kind"], normalization=self.identity["normalization"],
            dataset_stats=self.dataset_stats, evaluator_stats=self.evaluator.stats,
            padding=self.preset.generated_padding, skeleton=self.skeleton, name=self.name, row_names=names,
            frames=real, return_frames=True)
        if self.preset.generated_padding == "zeros":  # frames past the lengths are zero: store only the valid ones
            raw = raw[:, : max(int(out_lengths.max()), 1)]
            self.cache.save("samples", key, parts, rows=_pack_rows(raw, out_lengths), lengths=out_lengths,  # type: ignore[arg-type]
                            frames=np.int64(raw.shape[1]))
        else:
            self.cache.save("samples", key, parts, raw=raw, lengths=out_lengths, frames_per_row=frames)
        return raw, out_lengths, frames

    def _visible(self, unit: Unit, lengths: np.ndarray) -> np.ndarray:
        """Frames of each row of a generated/MultiModality unit that the preset feeds the evaluator."""
        p = self.preset
        if p.generated_padding != "batch_longest":
            return visible_frames(lengths, padding=p.generated_padding, max_frames=p.max_frames)
        req: _Requests = self._plan(unit.replication, "generated")
        rows = np.arange(unit.start, unit.stop)
        row_of = self._plan(unit.replication, "mm")[rows // self.mm_repeats] if unit.stage == "mm" else rows
        if req.lengths is None:  # the generator chose the lengths: the longest of this unit's rows per group
            groups = row_of // p.pool_size
            longest = {g: int(lengths[groups == g].max()) for g in np.unique(groups)}
            return np.minimum([longest[g] for g in groups], p.max_frames).astype(np.int64)
        # MultiModality repeats regenerate whole batches, so a repeat keeps its row's batch
        whole = visible_frames(req.lengths, padding="batch_longest", max_frames=p.max_frames, pool_size=p.pool_size)
        return whole[row_of]

    def _row_names(self, unit: Unit, rows: np.ndarray | None = None, row_of: np.ndarray | None = None) -> list[str]:
        """How errors name the rows of a generated/MultiModality unit: the sample id (sample sets) or the
        caption, never only a shuffled row index."""
        req: _Requests = self._plan(unit.replication, "generated")
        if rows is None or row_of is None:
            rows = np.arange(unit.start, unit.stop)
            row_of = self._plan(unit.replication, "mm")[rows // self.mm_repeats] if unit.stage == "mm" else rows
        names = [f"replication {unit.replication}, {unit.stage} row {int(i)}: {req.captions[int(j)]!r}"
                 for i, j in zip(rows, row_of)]
        if self.sample_mode and self.source.samples.ids is not None and req.prompts is not None:
            ids, prompts = self.source.samples.ids, req.prompts
            names = [f"sample {ids[int(prompts[int(j)])]!r} ({name})" for j, name in zip(row_of, names)]
        return names

    def _embed_motion(self, features: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        emb = np.asarray(_to_numpy(self.evaluator.embed_motion(features, np.asarray(lengths, dtype=np.int64))))
        return _check_embeddings(emb, len(features), "motion")

    def _embed_text(self, tokens: Sequence[Sequence[str]], fixed_length: int | None = None) -> np.ndarray:
        keep = self.preset.max_text_tokens  # the evaluator adds sos/eos and keeps at most its own 20
        rows = [list(t)[:keep] for t in tokens]
        if fixed_length is None:
            emb = np.asarray(_to_numpy(self.evaluator.embed_text(rows)))
        else:  # MDM before 2024: every caption read with text length 22 (its unk padding included)
            try:
                emb = np.asarray(_to_numpy(self.evaluator.embed_text(rows, text_lengths=np.full(len(rows),
                                                                                                  fixed_length))))
            except TypeError as exc:
                raise TypeError(f"preset {self.preset.name!r} (text_length='max') needs an evaluator whose "
                                f"embed_text accepts text_lengths=; {type(self.evaluator).__name__} does not "
                                f"({exc})") from exc
        return _check_embeddings(emb, len(tokens), "text")

    def report_samples(self, n: int = 4) -> tuple[Any, Any]:
        """The first ``n`` generated rows of replication 0 and their ground-truth items, as raw-feature
        :class:`~motioneval.data.samples.SampleSet` s (for :func:`motioneval.viz.report.write_report`)."""
        from ..data.samples import SampleSet

        unit = next(u for u in self.units([0]) if u.stage == "generated")
        raw, lengths, _ = self._generated_raw(unit)
        req: _Requests = self._plan(0, "generated")
        rows = [i for i in range(min(n, len(lengths))) if req.items[unit.start + i] is not None]
        if not rows:
            return None, None
        gen = SampleSet(captions=[req.captions[unit.start + i] for i in rows], lengths=lengths[rows],
                        motions=raw[rows], kind="features", normalization="raw")
        clips = [self.items.frames[self.items.offsets[k]: self.items.offsets[k] + self.items.lengths[k]]
                 for k in (req.items[unit.start + i] for i in rows)]
        ref = np.zeros((len(clips), max(len(c) for c in clips), self.items.dim), np.float32)
        for i, c in enumerate(clips):
            ref[i, : len(c)] = c
        reference = SampleSet(captions=list(gen.captions), lengths=np.array([len(c) for c in clips]), motions=ref,
                              kind="features", normalization="raw")
        return gen, reference

    def run(self, replications: Sequence[int] | None = None) -> None:
        """Run (or load from the cache) every unit of the given replications without scoring (e.g. to fill a
        shared cache from several processes; :meth:`score` then only reads it)."""
        units = self.units(replications)
        for unit in _progress(units, total=len(units), desc=f"evaluate {self.name}", enable=self.show_progress,
                              unit="chunk"):
            self.run_unit(unit)

    # ---------------------------------------------------------------------------------------- scoring
    def embeddings(self, r: int) -> dict[str, np.ndarray]:
        """All embeddings of replication ``r`` (running any missing unit)."""
        out: dict[str, list[np.ndarray]] = {}
        for unit in self.units([r]):
            arrays = self.run_unit(unit)
            for k, v in arrays.items():
                out.setdefault(f"{unit.stage}/{k}", []).append(v)
        return {k: np.concatenate(v, axis=0) for k, v in out.items()}

    def score(self) -> Result:
        """Run (or load from the cache) every unit, replication by replication, compute every metric and build
        the Result. Embeddings are held in memory one replication at a time."""
        from ..metrics.diversity import diversity, multimodality
        from ..metrics.frechet import frechet_distance
        from ..metrics.retrieval import retrieval_metrics
        from ..metrics.stats import gaussian_stats

        p = self.preset
        values: dict[str, dict[str, list[float | None]]] = {GROUND_TRUTH_ROW: {}, self.name: {}}
        diagnostics: dict[str, list[Any]] = {GROUND_TRUTH_ROW: [], self.name: []}

        def put(row: str, metric: str, value: float | None) -> None:
            values[row].setdefault(metric, []).append(None if value is None else float(value))

        units = self.units()
        pending: dict[str, list[np.ndarray]] = {}
        for n, unit in enumerate(_progress(units, total=len(units), desc=f"evaluate {self.name}",
                                           enable=self.show_progress, unit="chunk")):
            for k, v in self.run_unit(unit).items():
                pending.setdefault(f"{unit.stage}/{k}", []).append(v)
            if n + 1 < len(units) and units[n + 1].replication == unit.replication:
                continue
            emb = {k: np.concatenate(v, axis=0) for k, v in pending.items()}
            pending = {}
            r = unit.replication
            if self.fid_same_batches:  # the statistics of the scored ground-truth batches (MoMask, T2M-GPT)
                gt_motion = emb["gt_match/motion"]
                reference = gaussian_stats(gt_motion[: self.n_generated] if self.from_gt_batches else gt_motion)
            else:
                reference = gaussian_stats(emb["gt_fid/motion"])
            for stage in ("generated", "mm"):
                if f"{stage}/padded" in emb:
                    self._note_padded(r, stage, emb[f"{stage}/padded"])
            for row, stage, stream in ((GROUND_TRUTH_ROW, "gt_match", 0), (self.name, "generated", 1)):
                text, motion = emb[f"{stage}/text"], emb[f"{stage}/motion"]
                ret = retrieval_metrics(text, motion, top_k=p.top_k, pool_size=p.pool_size)
                for k in range(p.top_k):  # type: ignore[assignment]
                    put(row, f"r_precision_top{k + 1}", ret.r_precision[k])  # type: ignore[arg-type,operator]
                put(row, "matching_score", ret.matching_score)
                if row == GROUND_TRUTH_ROW and self.fid_same_batches:  # FID of the batches with themselves: 0
                    put(row, "fid", None)
                    diagnostics[row].append(None)
                    pairs = p.diversity_pairs_for(len(motion))
                    put(row, "diversity", diversity(motion, pairs, rng=pass_rng(self.seed, r, "diversity", stream)))
                    continue
                fd = frechet_distance(reference, gaussian_stats(motion), method=p.fid_method,
                                      return_diagnostics=True)  # ground truth first, as the reference loop
                put(row, "fid", fd.value)
                diagnostics[row].append(_diagnostics_dict(fd))
                for message in getattr(fd, "warnings", None) or []:
                    self._warn(f"FID ({row}): {message}", quiet=True)
                pairs = p.diversity_pairs_for(len(motion))
                put(row, "diversity", diversity(motion, pairs, rng=pass_rng(self.seed, r, "diversity", stream)))
            if p.effective_mm_replications > 0:  # None where not computed (or not computable)
                if "mm/motion" in emb:
                    mm = emb["mm/motion"].reshape(self.mm_captions, self.mm_repeats, -1)
                    put(self.name, "multimodality",
                        multimodality(mm, p.mm_pairs, rng=pass_rng(self.seed, r, "multimodality")))
                else:
                    put(self.name, "multimodality", None)

        rows = [Row(GROUND_TRUTH_ROW, "ground_truth",
                    {k: MetricSummary.from_values(v) for k, v in values[GROUND_TRUTH_ROW].items()}, self.n_gt),
                Row(self.name, "model", {k: MetricSummary.from_values(v) for k, v in values[self.name].items()},
                    self.n_generated)]
        if not p.ground_truth_row:  # MoMask prints only the model's row
            rows = rows[1:]
            diagnostics.pop(GROUND_TRUTH_ROW, None)
        padded_note = self._padded_note()
        if padded_note:
            self._warn(padded_note, distorting=True)
        settings = self._run_settings()
        settings["table_notes"] = list(self.table_notes)
        return Result(
            rows=rows, preset=p.to_dict(), seed=self.seed, replications=p.replications,
            sample_counts=self._sample_counts(), fid_diagnostics=diagnostics, provenance=self._provenance(),
            versions=library_versions(), settings=settings, warnings=self._ordered_warnings(),
            timing={"seconds": round(time.perf_counter() - self._t0, 3),
                    "cache_hits": self.cache.hits, "cache_misses": self.cache.misses},
            created=utc_now())

    # ---------------------------------------------------------------------------------------- records
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


def evaluate(*, dataset: Any, evaluator: Any, samples: Any = None, generator: Any = None,
             preset: str | Preset = "t2m", out: str | Path | None = None, seed: int = 0, split: str = "test",
             cache_dir: str | Path | None = None, chunk_size: int = 128, allow_pickle: bool = False,
             progress: bool = False, device: str | None = None, name: str | None = None,
             on_dataset_problem: str = "raise", overrides: Mapping[str, Any] | None = None,
             **preset_overrides: Any) -> Result:
    """Evaluate generated motions under the protocol and a preset; see the module docstring.

    ``dataset``: a HumanML3D/KIT-ML folder (or a :class:`~motioneval.data.dataset.MotionDataset` or
    :class:`~motioneval.protocol.ground_truth.GroundTruthItems`); ``evaluator``: an evaluator folder (loaded
    with :meth:`motioneval.evaluators.t2m.T2MEvaluator.load` on ``device``) or an object satisfying
    :class:`Evaluator`; exactly one of ``samples`` (a ``.npz`` sample file, a sample folder, MDM
    ``results.npy`` with ``allow_pickle=True``, or a :class:`~motioneval.data.samples.SampleSet`) and
    ``generator`` (a :class:`~motioneval.protocol.generators.Generator`). ``preset``: ``"t2m"``, ``"mdm"``,
    ``"momask"``, ``"t2m-gpt"``; any preset setting may be overridden by keyword (``replications=5``) or
    ``overrides={...}``. ``out``: folder for ``results.{json,md,csv,tex}`` and, unless ``cache_dir`` is given,
    the cache (``<out>/cache``). ``chunk_size``: rows per unit of work (part of the cache keys and of the
    generator seeds). Returns the :class:`~motioneval.protocol.results.Result`.
    """
    merged = {**dict(overrides or {}), **preset_overrides}
    if cache_dir is None and out is not None:
        cache_dir = Path(out) / "cache"
    run = Evaluation(dataset=dataset, evaluator=evaluator, samples=samples, generator=generator, preset=preset,
                     seed=seed, split=split, cache_dir=cache_dir, chunk_size=chunk_size, allow_pickle=allow_pickle,
                     device=device, progress=progress, name=name, on_dataset_problem=on_dataset_problem,
                     overrides=merged)
    result = run.score()
    if out is not None:
        result.save(out)
    return result


# -------------------------------------------------------------------------------------------- loading helpers
def _load_ground_truth(dataset: Any, split: str, preset: str | Preset, overrides: Mapping[str, Any],
                       on_problem: str) -> tuple[GroundTruthItems, dict[str, Any]]:
    if isinstance(dataset, GroundTruthItems):
        return dataset, {"path": None, "split": split, "kind": dataset.kind, "num_items": len(dataset)}
    from ..data.dataset import DatasetSpec, MotionDataset, get_dataset_spec

    if isinstance(dataset, (str, Path)):
        root = Path(dataset)
        kind = _infer_kind(root, split)
        p = get_preset(preset, dataset=kind, **overrides)  # the item rules (lengths, fps) may be overridden
        std = get_dataset_spec(kind)
        spec = DatasetSpec(kind, std.dim, std.num_joints, fps=p.fps, min_length=p.min_motion_length,
                           max_length=p.max_motion_length)
        dataset = MotionDataset(root, split, kind=spec, on_problem=on_problem)  # type: ignore[arg-type]
    if not isinstance(dataset, MotionDataset):
        raise TypeError(f"dataset must be a folder, a MotionDataset or GroundTruthItems; got {type(dataset).__name__}")
    report = dataset.report
    info = {"path": str(dataset.root), "split": report.split, "kind": dataset.spec.name,
            "num_ids": report.num_ids, "num_clips": report.num_clips, "num_items": len(dataset),
            "problems": report.counts(), "bad_ids": report.bad_ids,
            "statistics": dict(dataset.stats.sources) if dataset.stats is not None else None}
    return GroundTruthItems.from_dataset(dataset), info


def _infer_kind(root: Path, split: str) -> str:
    """``"humanml3d"`` or ``"kit"`` from the feature dimension of the first listed clips (or ``Mean.npy``)."""
    candidates = []
    split_file = root / f"{split}.txt"
    if split_file.is_file():
        ids = [s.strip() for s in split_file.read_text(errors="replace").splitlines() if s.strip()][:20]
        candidates += [root / "new_joint_vecs" / f"{i}.npy" for i in ids]
    candidates.append(root / "Mean.npy")  # after the clips: a wrong Mean.npy is reported, not trusted
    for path in candidates:
        try:
            dim = _npio.load(path, mmap_mode="r", allow_pickle=False).shape[-1]
        except Exception:  # missing or unreadable: MotionDataset reports it precisely
            continue
        return {263: "humanml3d", 251: "kit"}.get(dim, "humanml3d")
    return "humanml3d"


def _load_evaluator(evaluator: Any, device: str | None, statistics: str | None = None) -> Any:
    if isinstance(evaluator, (str, Path)):
        from ..evaluators.t2m import T2MEvaluator

        return T2MEvaluator.load(evaluator, device=device, statistics=statistics)
    if not (callable(getattr(evaluator, "embed_text", None)) and callable(getattr(evaluator, "embed_motion", None))):
        raise TypeError("evaluator must be an evaluator folder or an object with embed_text(tokens), "
                        "embed_motion(features, lengths), stats and provenance")
    return evaluator


def _skeleton_for(kind: str) -> Any:
    from ..representation import skeleton

    return skeleton.KIT if kind == "kit" else skeleton.HUMANML3D


def _check_embeddings(emb: np.ndarray, n: int, what: str) -> np.ndarray:
    if emb.ndim != 2 or emb.shape[0] != n:
        raise RuntimeError(f"the evaluator returned {what} embeddings of shape {emb.shape} for {n} rows")
    if not np.isfinite(emb).all():
        bad = np.flatnonzero(~np.isfinite(emb).all(axis=1))
        raise ValueError(f"the evaluator returned NaN/Inf {what} embeddings for {bad.size} row(s) (first: {bad[:5]})")
    return emb


def _to_numpy(x: Any) -> Any:
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return x


def _diagnostics_dict(fd: Any) -> Any:
    for attr in ("to_dict", "as_dict"):
        if callable(getattr(fd, attr, None)):
            return getattr(fd, attr)()
    return {"value": float(getattr(fd, "value", fd))}


def _natural(text: str) -> list[Any]:
    """Sort key that orders the numbers inside a string numerically ("row 9" before "row 10")."""
    import re

    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _path_str(path: Path | None) -> str | None:
    return None if path is None else str(path)


def _pack_rows(raw: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The valid frames of every row, concatenated: ``(sum(lengths), D)`` (frames past a length are zero)."""
    valid = np.arange(raw.shape[1])[None, :] < np.asarray(lengths)[:, None]
    return raw[valid]


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


def _stats_keys(identity: Mapping[str, Any], dataset_stats: Any, evaluator_stats: FeatureStats) -> dict[str, Any]:
    """Hashes of the statistics that turn generated output into raw features (part of the samples keys): the
    dataset's for dataset-normalized output, the evaluator's for evaluator-normalized output, none for raw
    features or joints (the evaluator's statistics are in every embedding key separately)."""
    norm = identity.get("normalization")
    if identity.get("kind") != "features" or norm not in ("dataset", "evaluator"):
        return {}
    stats = dataset_stats if norm == "dataset" else evaluator_stats
    return {norm: hash_arrays(stats.mean, stats.std) if stats is not None else None}


def _unpack_rows(cached: Mapping[str, np.ndarray]) -> np.ndarray:
    """Inverse of :func:`_pack_rows` for a cached samples unit (or the full padded array, if stored so)."""
    if "raw" in cached:
        return cached["raw"]
    lengths = cached["lengths"]
    rows = cached["rows"]
    raw = np.zeros((len(lengths), int(cached["frames"]), rows.shape[1]), dtype=rows.dtype)
    raw[np.arange(raw.shape[1])[None, :] < lengths[:, None]] = rows
    return raw
