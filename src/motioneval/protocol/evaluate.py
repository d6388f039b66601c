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

Beside the protocol's table (:mod:`.extras`, :mod:`.blocks`): ``physical=`` measures the physical plausibility of
the scored rows (ground truth as the reference row), ``tmr_evaluator=`` embeds the same rows with a TMR evaluator
(whole clips, raw captions) for TMR's protocols; both are result blocks, not protocol metrics. ``stop_when=``
ends the loop once the model's half-widths reach their targets (:mod:`.stopping`; the result is ``custom``).

Units of work are ``(replication, stage, chunk)``; each is stored in the cache (:mod:`.cache`) as soon as
it is done, under a key of everything that produced it, so an interrupted run resumes where it stopped and
gives identical numbers, and re-scoring with other metric settings reuses every embedding.
:class:`Evaluation` exposes the units (``units()``, ``run_unit()``) so that several processes can share
them (issue 8); :func:`evaluate` runs them all and scores.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np

from .. import _npio
from .._progress import progress as _progress
from ..constants import HUMANML3D_DATASET, KIT_DATASET, dataset_spec_for_dim, get_dataset_spec
from ..representation.normalization import FeatureStats
from .blocks import ResultBlock, physical_block, tmr_block
from .cache import Cache, hash_arrays
from .embedding import Evaluator, EvaluatorSource, check_embeddings, embed_motion, embed_text, evaluator_kind
from .embedding import load_evaluator as _load_evaluator
from .embedding_memo import CUDA_BLOCK, DEFAULT_BLOCK, TextTable, WindowTable
from .extras import (
    PHYSICAL_KEYS,
    TMR_KEYS,
    TMRScorer,
    UnitExtras,
    item_clips,
    pass_raw_windows,
    physical_scorer,
    row_columns,
)
from .generation import _pack_rows as _pack_rows  # re-exported (tests, older callers)
from .generation import _unpack_rows as _unpack_rows
from .generators import SampleSetGenerator, check_generator, evaluator_features, padded_rows
from .ground_truth import GroundTruthItems, PassPlan, pass_captions, pass_raw_tokens
from .keys import compute_settings, stats_keys
from .plan import STAGES, Unit
from .presets import Preset, get_preset
from .records import RunRecords
from .results import MetricSummary, Result, Row, add_fingerprints, library_versions, utc_now
from .scoring import Scorer, score_embeddings, scorers_for
from .stopping import StopRule

if TYPE_CHECKING:
    from ..data.dataset import MotionDataset
    from ..data.samples import SampleSet
    from .generators import Generator

__all__ = ["evaluate", "Evaluation", "Evaluator", "Unit", "STAGES", "GROUND_TRUTH_ROW", "compute_settings",
           "DatasetSource", "SamplesSource"]

#: What ``dataset=`` accepts: a HumanML3D/KIT-ML folder, a ``MotionDataset`` or prepared ``GroundTruthItems``.
DatasetSource: TypeAlias = "str | Path | MotionDataset | GroundTruthItems"
#: What ``samples=`` accepts: a sample file/folder or MDM ``results.npy``, a ``SampleSet``, a ``SampleSetGenerator``.
SamplesSource: TypeAlias = "str | Path | SampleSet | SampleSetGenerator"

logger = logging.getLogger(__name__)

GROUND_TRUTH_ROW = "ground truth"
# kept importable from here (older callers)
_check_embeddings = check_embeddings


class Evaluation(RunRecords):
    """A prepared evaluation run; see the module docstring. Build with the same arguments as :func:`evaluate`.

    Its parts: :class:`~.plan.Planning` (units, counts, feasibility), :class:`~.keys.CacheKeys`,
    :class:`~.generation.Generation` (generation and conversion), :class:`~.records.RunRecords`; this class
    runs units (embedding) and scores them (:mod:`.scoring`).
    """

    def __init__(self, *, dataset: DatasetSource, evaluator: EvaluatorSource, samples: SamplesSource | None = None,
                 generator: Generator | None = None, preset: str | Preset = "t2m", seed: int = 0,
                 split: str = "test", cache_dir: str | Path | None = None,
                 chunk_size: int = 128, allow_pickle: bool = False, device: str | None = None,
                 progress: bool = False, name: str | None = None, on_dataset_problem: str = "raise",
                 overrides: Mapping[str, Any] | None = None, physical: Any = None, tmr_evaluator: Any = None,
                 tmr_text_model: Any = None, tmr_stats: Any = None, stop_when: Any = None) -> None:
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
        #: what turns a replication's rows into values, by the evaluator's kind (:mod:`.scoring`); extend for more
        #: metrics (per-clip columns: :class:`~.scoring.ColumnMeanScorer`)
        self.scorers: tuple[Scorer, ...] = scorers_for(evaluator_kind(self.evaluator))

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
        self._stats_keys = stats_keys(self.identity, self.dataset_stats, self.evaluator.stats)
        self._evaluator_stats_key = hash_arrays(self.evaluator.stats.mean, self.evaluator.stats.std)
        self._compute = compute_settings(self.evaluator)
        self._plans: dict[tuple[int, str], Any] = {}
        self._windows: WindowTable | None = None
        self._captions: TextTable | None = None
        self._setup_extras(physical, tmr_evaluator, tmr_text_model, tmr_stats, device)
        self.stop_rule = None if stop_when is None else (
            stop_when if isinstance(stop_when, StopRule) else StopRule.parse(stop_when))
        if self.stop_rule is not None:
            self.stop_rule.check_metrics([m.key for s in self.scorers for m in s.metrics(self.preset)])

    def _setup_extras(self, physical: Any, tmr_evaluator: Any, tmr_text_model: Any, tmr_stats: Any,
                      device: Any) -> None:
        """Physical columns and a TMR evaluator's embeddings beside the protocol's (:mod:`.extras`)."""
        tmr = tmr_evaluator
        if isinstance(tmr, (str, Path)):
            if self.items.dim != HUMANML3D_DATASET.dim:
                raise ValueError(f"a TMR evaluator reads HumanML3D's {HUMANML3D_DATASET.dim}-d features; this dataset "
                                 f"has {self.items.dim}-d features ({self.items.kind})")
            from ..evaluators.tmr import TMREvaluator

            tmr = TMREvaluator.load(tmr, device=device, text_model=tmr_text_model, stats=tmr_stats)
        # the motions' own frame rate (HumanML3D 20, KIT-ML 12.5), not the preset's caption time-stamp rate
        self.extras = UnitExtras(physical=physical, tmr=tmr, fps=get_dataset_spec(self.items.kind).fps,
                                 skeleton=self.skeleton)
        scorers = list(self.scorers)
        if self.extras.physical is not None:
            scorers.append(physical_scorer())
        if tmr is not None:
            scorers.append(TMRScorer())
        self.scorers = tuple(scorers)


    # ---------------------------------------------------------------------------------------- tables
    def _table_key_parts(self) -> dict[str, Any]:
        """What identifies the tables' embeddings besides their entries: no seed, replication or model."""
        return {"dataset": self._dataset_key, "settings": self._gt_settings(), "evaluator": self._evaluator_key,
                "evaluator_statistics": self._evaluator_stats_key, "compute": self._compute}

    def window_table(self) -> WindowTable:
        """Ground-truth motion embeddings of the windows the passes read (:mod:`.embedding_memo`; which ones:
        :attr:`window_registration`), computed or read from the cache at the first ground-truth unit that is not
        cached itself."""
        if self._windows is None:
            block = CUDA_BLOCK if self._compute.get("device") == "cuda" else DEFAULT_BLOCK
            table = WindowTable(self.items, self.evaluator.stats, self.preset, self._embed_motion, block=block,
                                cache=self.cache, key_parts=self._table_key_parts())
            if self.window_registration == "every":
                table.add_every_window()
            else:
                for r in range(self.preset.replications):
                    for stage in self.gt_stages:
                        table.add(self._plan(r, stage))
            self._windows = table
        return self._windows

    def caption_table(self) -> TextTable:
        """Text embeddings of every caption of the split (and every prompt of a sample set), with the
        preset's text-length rule for generated rows."""
        if self._captions is None:
            p = self.preset
            table = TextTable(lambda rows, fixed: self._embed_text(rows, fixed), max_text_tokens=p.max_text_tokens,
                              cache=self.cache, key_parts=self._table_key_parts())
            captions = [t for toks in self.items.tokens for t in toks]
            table.add(captions)
            prompts = captions if self.prompt_tokens is None else list(self.prompt_tokens)
            table.add(prompts)
            if p.text_length == "max":
                table.add(prompts, p.text_tokens)
            self._captions = table
        return self._captions

    # ---------------------------------------------------------------------------------------- work
    def is_cached(self, unit: Unit) -> bool:
        """Whether the unit's embeddings are already in the cache (a finished unit)."""
        return self.cache.enabled and self.cache.path("embeddings", self.embedding_key(unit)[0]).is_file()

    def run_unit(self, unit: Unit) -> dict[str, np.ndarray]:
        """The unit's embeddings (and extras: :mod:`.extras`), from the cache or computed (then cached)."""
        key, parts = self.embedding_key(unit)
        cached = self.cache.load("embeddings", key)
        wanted = self.extras.names(unit.stage)
        if cached is not None and wanted <= set(cached):  # extras handed over with the embeddings (distributed)
            return cached
        extras_key = self.extras.key(key, unit.stage) if wanted else None
        extras = self.cache.load("embeddings", extras_key[0]) if extras_key is not None else {}
        if cached is not None and extras is not None:
            return {**cached, **extras}
        out = cached if cached is not None else self._compute_unit(unit, key, parts)
        if extras is None:
            assert extras_key is not None
            extras = self._unit_extras(unit)
            self.cache.save("embeddings", extras_key[0], extras_key[1], **extras)
        return {**out, **extras}

    def _unit_extras(self, unit: Unit) -> dict[str, np.ndarray]:
        rows = slice(unit.start, unit.stop)
        if unit.stage in ("gt_match", "gt_fid"):
            plan: PassPlan = self._plan(unit.replication, unit.stage).take(rows)
            windows = pass_raw_windows(self.items, plan)
            clips, clip_lengths = item_clips(self.items, plan.item)
            return self.extras.ground_truth(unit.stage, windows, plan.lengths, clips, clip_lengths,
                                            pass_captions(self.items, plan))
        raw, lengths, _ = self._generated_raw_once(unit)
        req = self._plan(unit.replication, "generated")
        return self.extras.generated(raw, lengths, req.captions[rows])

    def _generated_raw_once(self, unit: Unit) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`_generated_raw`, kept for the last unit: its embeddings and extras are computed from one
        generation even without a cache."""
        memo = getattr(self, "_raw_memo", None)
        if memo is not None and memo[0] == unit:
            return memo[1]  # type: ignore[no-any-return]
        out = self._generated_raw(unit)
        self._raw_memo = (unit, out)
        return out

    def _compute_unit(self, unit: Unit, key: str, parts: dict[str, Any]) -> dict[str, np.ndarray]:
        rows = slice(unit.start, unit.stop)
        if unit.stage in ("gt_match", "gt_fid"):
            plan: PassPlan = self._plan(unit.replication, unit.stage).take(rows)
            out = {"motion": self.window_table().motion(plan)}  # each window embedded once per data + evaluator
            if unit.stage == "gt_match":
                out["text"] = self.caption_table().text(pass_raw_tokens(self.items, plan))
            out["lengths"] = plan.lengths
        else:
            raw, lengths, frames = self._generated_raw_once(unit)
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
                out["text"] = self.caption_table().text(self._plan(unit.replication, "generated").tokens[rows], fixed)
        self.cache.save("embeddings", key, parts, **out)
        return out


    def _embed_motion(self, features: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        return embed_motion(self.evaluator, features, lengths)

    def _embed_text(self, tokens: Sequence[Sequence[str]], fixed_length: int | None = None) -> np.ndarray:
        return embed_text(self.evaluator, tokens, max_text_tokens=self.preset.max_text_tokens,
                          fixed_length=fixed_length, preset_name=self.preset.name)

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
        from ..metrics.stats import gaussian_stats

        p = self.preset
        values: dict[str, dict[str, list[float | None]]] = {GROUND_TRUTH_ROW: {}, self.name: {}}
        diagnostics: dict[str, list[Any]] = {GROUND_TRUTH_ROW: [], self.name: []}

        def put(row: str, metric: str, value: float | None) -> None:
            values[row].setdefault(metric, []).append(None if value is None else float(value))

        units = self.units()
        pending: dict[str, list[np.ndarray]] = {}
        clips: dict[str, dict[str, np.ndarray]] = {}
        stopped: str | None = None
        done = 0
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
            mm = (emb["mm/motion"].reshape(self.mm_captions, self.mm_repeats, -1) if "mm/motion" in emb else None)
            for row, stage, stream in ((GROUND_TRUTH_ROW, "gt_match", 0), (self.name, "generated", 1)):
                gt = row == GROUND_TRUTH_ROW
                columns = self._row_columns(emb, stage)
                if r == 0 and self.extras.physical is not None:  # the per-clip distributions (report)
                    clips[row] = {k: v for k, v in columns.items() if k in PHYSICAL_KEYS}
                # the ground-truth batches' FID with themselves would be 0: not reported (MoMask, T2M-GPT)
                scores = score_embeddings(emb[f"{stage}/text"], emb[f"{stage}/motion"],
                                          None if gt and self.fid_same_batches else reference, p,
                                          multimodality=None if gt else mm, seed=self.seed, replication=r,
                                          stream=stream, name=row, ground_truth=gt, scorers=self.scorers,
                                          columns=columns)
                for metric, value in scores.values.items():
                    put(row, metric, value)
                diagnostics[row].append(scores.diagnostics.get("fid"))
                for message in scores.warnings:
                    self._warn(message, quiet=True)
            done = r + 1
            if self.stop_rule is not None and done < p.replications and self.stop_rule.should_stop(values[self.name]):
                stopped = self.stop_rule.reason(values[self.name], done, p.replications)
                break

        blocks = self._blocks(values, clips)
        extra = PHYSICAL_KEYS | TMR_KEYS
        rows = [Row(GROUND_TRUTH_ROW, "ground_truth",
                    {k: MetricSummary.from_values(v) for k, v in values[GROUND_TRUTH_ROW].items() if k not in extra},
                    self.n_gt),
                Row(self.name, "model", {k: MetricSummary.from_values(v) for k, v in values[self.name].items()
                                         if k not in extra}, self.n_generated)]
        if not p.ground_truth_row:  # MoMask prints only the model's row
            rows = rows[1:]
            diagnostics.pop(GROUND_TRUTH_ROW, None)
        padded_note = self._padded_note()
        if padded_note:
            self._warn(padded_note, distorting=True)
        preset = p.to_dict()
        if stopped is not None:  # fewer replications than the preset's: no longer its protocol
            base = preset["differences"].get("replications", {}).get("preset", p.replications)
            preset["differences"]["replications"] = {"preset": base, "value": done}
            preset.update(name="custom", replications=done)
            self._warn(stopped, distorting=True)
        settings = self._run_settings()
        settings["table_notes"] = list(self.table_notes)
        if self.stop_rule is not None:
            settings["stop_when"] = {**self.stop_rule.to_dict(), "stopped": stopped, "replications_run": done}
        provenance = self._provenance()
        if self.extras.tmr is not None:
            provenance["tmr_evaluator"] = dict(self.extras.tmr.provenance or {})
        add_fingerprints(provenance)  # also on results that are never saved
        return Result(
            rows=rows, preset=preset, seed=self.seed, replications=done,
            sample_counts=self._sample_counts(), fid_diagnostics=diagnostics, provenance=provenance,
            versions=library_versions(), settings=settings, warnings=self._ordered_warnings(),
            timing={"seconds": round(time.perf_counter() - self._t0, 3),
                    "cache_hits": self.cache.hits, "cache_misses": self.cache.misses},
            created=utc_now(), blocks=blocks)

    def _row_columns(self, emb: Mapping[str, np.ndarray], stage: str) -> dict[str, np.ndarray]:
        """Per-clip columns of a row (physical, TMR embeddings) and, for the model row, the TMR FID reference as the
        protocol's FID: pass B, or pass A under ``fid_reference="same_batches"``. The ground-truth row has no
        TMR-FID: TMR reads whole clips, so its two passes hold the same clips."""
        if stage == "gt_match":
            ref = None  # TMR reads whole clips: both ground-truth passes hold the same clips (a TMR-FID of ~0)
        else:
            ref = "gt_match" if self.fid_same_batches else "gt_fid"
        cols = row_columns(emb, stage, ref)
        if "tmr_reference" in cols and self.fid_same_batches and self.from_gt_batches:
            cols["tmr_reference"] = cols["tmr_reference"][: self.n_generated]
        return cols

    def _blocks(self, values: Mapping[str, Mapping[str, list[float | None]]],
                clips: Mapping[str, Mapping[str, np.ndarray]]) -> list[ResultBlock]:
        """The physical and TMR blocks (ground truth first, as the reference row)."""
        out: list[ResultBlock] = []
        order = (GROUND_TRUTH_ROW, self.name)
        kinds = {GROUND_TRUTH_ROW: "ground_truth", self.name: "model"}
        counts = {GROUND_TRUTH_ROW: self.n_gt, self.name: self.n_generated}

        def per_replication(keys: frozenset[str]) -> dict[str, list[dict[str, float | None]]]:
            out_rows = {}
            for row in order:
                cols = {k: v for k, v in values[row].items() if k in keys}
                n = max((len(v) for v in cols.values()), default=0)
                out_rows[row] = [{k: v[i] for k, v in cols.items()} for i in range(n)]
            return out_rows

        if self.extras.physical is not None:
            block = physical_block(per_replication(PHYSICAL_KEYS), variant=self.extras.physical, fps=self.extras.fps,
                                   kinds=kinds, num_samples=counts,
                                   sources={GROUND_TRUTH_ROW: "pass A windows (raw features) -> features_to_joints",
                                            self.name: "generated rows (raw features) -> features_to_joints"})
            block.per_clip = {row: dict(c) for row, c in clips.items()}
            out.append(block)
        if self.extras.tmr is not None:
            tmr = self.extras.tmr
            out.append(tmr_block(per_replication(TMR_KEYS), provenance=tmr.provenance, dataset=tmr.dataset,
                                 kinds=kinds, num_samples=counts,
                                 settings={"clips": "whole clips (no 196-frame cap, no crop to multiples of 4)",
                                           "text": "raw caption strings", "fid_method": self.preset.fid_method}))
        return out


def evaluate(*, dataset: DatasetSource, evaluator: EvaluatorSource, samples: SamplesSource | None = None,
             generator: Generator | None = None, preset: str | Preset = "t2m", out: str | Path | None = None, seed: int = 0, split: str = "test",
             cache_dir: str | Path | None = None, chunk_size: int = 128, allow_pickle: bool = False,
             progress: bool = False, device: str | None = None, name: str | None = None,
             on_dataset_problem: str = "raise", overrides: Mapping[str, Any] | None = None,
             physical: Any = None, tmr_evaluator: Any = None, tmr_text_model: Any = None, tmr_stats: Any = None,
             stop_when: Any = None, **preset_overrides: Any) -> Result:
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
    generator seeds). Beside the protocol's table (``result.blocks``, :mod:`.extras`): ``physical`` (``True``, a
    variant name or a ``PhysicalConfig``) adds the physical block; ``tmr_evaluator`` (a TMR run folder or a loaded
    ``TMREvaluator``; ``tmr_text_model``, ``tmr_stats`` as for its ``load``) the TMR block from the same generated
    samples; ``stop_when`` (``"fid=0.01"``, a mapping or a :class:`~.stopping.StopRule`) stops once the model's
    half-widths reach their targets (the result is then ``custom``). Returns the
    :class:`~motioneval.protocol.results.Result`.
    """
    merged = {**dict(overrides or {}), **preset_overrides}
    if cache_dir is None and out is not None:
        cache_dir = Path(out) / "cache"
    run = Evaluation(dataset=dataset, evaluator=evaluator, samples=samples, generator=generator, preset=preset,
                     seed=seed, split=split, cache_dir=cache_dir, chunk_size=chunk_size, allow_pickle=allow_pickle,
                     device=device, progress=progress, name=name, on_dataset_problem=on_dataset_problem,
                     overrides=merged, physical=physical, tmr_evaluator=tmr_evaluator, tmr_text_model=tmr_text_model,
                     tmr_stats=tmr_stats, stop_when=stop_when)
    result = run.score()
    if out is not None:
        result.save(out)
    return result


# -------------------------------------------------------------------------------------------- loading helpers
def _load_ground_truth(dataset: DatasetSource, split: str, preset: str | Preset, overrides: Mapping[str, Any],
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


_CLIPS_PROBED = 20  # clips whose width names the dataset kind


def _infer_kind(root: Path, split: str) -> str:
    """``"humanml3d"`` or ``"kit"`` from the feature dimension of the first listed clips (or ``Mean.npy``)."""
    candidates = []
    split_file = root / f"{split}.txt"
    if split_file.is_file():
        ids = [s.strip() for s in split_file.read_text(errors="replace").splitlines() if s.strip()][:_CLIPS_PROBED]
        candidates += [root / "new_joint_vecs" / f"{i}.npy" for i in ids]
    candidates.append(root / "Mean.npy")  # after the clips: a wrong Mean.npy is reported, not trusted
    for path in candidates:
        try:
            dim = _npio.load(path, mmap_mode="r", allow_pickle=False).shape[-1]
        except Exception:  # missing or unreadable: MotionDataset reports it precisely
            continue
        return dataset_spec_for_dim(dim, what=f"features in {path}").name  # another width: a named error
    # nothing readable: MotionDataset reports the missing or unreadable files (checked against HumanML3D's layout)
    return HUMANML3D_DATASET.name


def _skeleton_for(kind: str) -> Any:
    from ..representation import skeleton

    return skeleton.KIT if kind == KIT_DATASET.name else skeleton.HUMANML3D


