"""``run_demo``: evaluate every demo generator on the demo dataset with the shipped demo evaluator.

Steps: build (or reuse) the procedural dataset under ``<out>/dataset``; load the evaluator shipped in
``motioneval/assets/demo`` with :meth:`~motioneval.evaluators.t2m.T2MEvaluator.load`; run
:func:`motioneval.protocol.evaluate.evaluate` once per generator under the chosen preset, with fewer
replications and a smaller MultiModality pass (so the result says ``custom`` and lists the differences),
computing the ground-truth passes once for all generators (:class:`GroundTruthMemo` in memory, or the
on-disk cache ``<out>/cache`` with ``cache=True``); and merge the rows into
one :class:`~motioneval.protocol.results.Result` (ground truth first, then each generator) written to
``<out>/results.{json,md,csv,tex}``. :func:`ranking_checks` states what a sensible table must show.
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .dataset import DemoDatasetConfig, build_demo_dataset

logger = logging.getLogger(__name__)

#: Preset settings the demo changes by default (the result is then named "custom" and lists them):
#: a short run, and MultiModality on 32 captions x 10 generations with 5 pairs each.
DEMO_OVERRIDES: dict[str, Any] = {"replications": 3, "mm_captions": 32, "mm_repeats": 10, "mm_pairs": 5}


def demo_settings(preset: str = "t2m", replications: int | None = None,
                  overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The preset overrides of a demo run: :data:`DEMO_OVERRIDES` (without ``mm_captions`` for presets that take
    every caption for MultiModality, ``t2m-gpt``), then ``replications``, then ``overrides``."""
    from ..protocol.presets import get_preset

    settings = dict(DEMO_OVERRIDES)
    if get_preset(preset).mm_selection == "all":
        del settings["mm_captions"]
    if replications is not None:
        settings["replications"] = int(replications)
    settings.update(overrides or {})
    return settings


def demo_evaluator_dir() -> Path:
    """The demo evaluator shipped with the package (official layout: ``t2m/text_mot_match/model/finest.tar``,
    ``glove/``, ``t2m_mean.npy``/``t2m_std.npy``)."""
    return Path(str(resources.files("motioneval") / "assets" / "demo"))


@dataclass
class DemoResult:
    """The merged result, one result per generator, the ranking checks and notes (e.g. why a block is missing)."""

    result: Any                      # motioneval.protocol.results.Result, all rows
    per_generator: dict[str, Any]    # generator name -> its own Result (ground truth + that model)
    checks: dict[str, bool]
    files: dict[str, Path]
    seconds: float
    notes: list[str] = field(default_factory=list)


def demo_tmr_evaluator(tmr: Any = True, device: str | None = None) -> tuple[Any, str | None]:
    """``(TMREvaluator or None, why not)``: the shipped demo TMR (``tmr=True``), a TMR run folder, or none
    (``tmr=False``). Without ``transformers`` (the ``tmr`` extra) the block is left out and the note says why."""
    if tmr is False or tmr is None:
        return None, None
    try:
        import transformers  # noqa: F401
    except ImportError:
        return None, ("TMR block not shown: the TMR evaluator's text side needs `transformers` "
                      "(pip install 'motioneval[tmr]')")
    from ..evaluators.tmr import TMREvaluator
    from .evaluator_assets import demo_tmr_run_dir

    folder = demo_tmr_run_dir() if tmr is True else Path(tmr)
    return _quiet_load(TMREvaluator.load, folder, device=device), None


def _quiet_load(load: Any, *args: Any, **kwargs: Any) -> Any:
    """``load(...)`` without transformers' weight-loading progress bar."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        return load(*args, **kwargs)
    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        return load(*args, **kwargs)
    finally:
        if enabled:
            hf_logging.enable_progress_bar()


def run_demo(out: str | os.PathLike, *, replications: int | None = None, preset: str = "t2m", seed: int = 0,
             dataset_dir: str | os.PathLike | None = None, evaluator_dir: str | os.PathLike | None = None,
             dataset_config: DemoDatasetConfig = DemoDatasetConfig(), device: str | None = None,
             progress: bool = False, generators: Sequence[Any] | None = None,
             overrides: Mapping[str, Any] | None = None, threads: int | None = 1, cache: bool = False,
             physical: Any = True, tmr: Any = True) -> DemoResult:
    """Evaluate the demo generators (default :func:`~motioneval.demo.generators.demo_generators`) under
    ``preset`` with :data:`DEMO_OVERRIDES` (``replications`` and ``overrides`` take precedence) and write the
    merged result files to ``out``.

    ``cache``: keep the evaluation cache in ``<out>/cache`` (every generated sample and embedding, about 2 GB
    for the default run; a rerun then resumes from it). Off by default: a whole demo run takes a minute or two.
    ``threads``: torch intra-op threads during the run (restored afterwards; ``None``: leave as is). The
    demo networks are tiny: one thread is fastest, and several threads become many times slower (spinning
    OpenMP workers) when other processes share the cores. ``physical``: the physical-plausibility block (``True``:
    the default variant, a variant name, or ``False``); ``tmr``: the TMR block with the shipped demo TMR evaluator
    (``True``), a TMR run folder, or ``False`` (left out, with a note, when ``transformers`` is missing).
    """
    import torch

    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        return _run_demo(out, replications=replications, preset=preset, seed=seed, dataset_dir=dataset_dir,
                         evaluator_dir=evaluator_dir, dataset_config=dataset_config, device=device,
                         progress=progress, generators=generators, overrides=overrides, cache=cache,
                         physical=physical, tmr=tmr)
    finally:
        torch.set_num_threads(previous)


def _run_demo(out: str | os.PathLike, *, replications: int | None, preset: str, seed: int,
              dataset_dir: str | os.PathLike | None, evaluator_dir: str | os.PathLike | None,
              dataset_config: DemoDatasetConfig, device: str | None, progress: bool,
              generators: Sequence[Any] | None, overrides: Mapping[str, Any] | None, cache: bool,
              physical: Any = True, tmr: Any = True) -> DemoResult:
    from ..evaluators.t2m import T2MEvaluator
    from ..protocol.evaluate import Evaluation
    from ..representation.normalization import FeatureStats
    from .generators import demo_generators

    t0 = time.perf_counter()
    out = Path(out)
    settings = demo_settings(preset, replications, overrides)
    root = Path(dataset_dir) if dataset_dir is not None else out / "dataset"
    logger.info("demo: building or reusing the procedural dataset in %s", root)
    build_demo_dataset(root, dataset_config, progress=progress)
    evaluator = T2MEvaluator.load(evaluator_dir or demo_evaluator_dir(), device=device)
    tmr_evaluator, tmr_note = demo_tmr_evaluator(tmr, device)
    notes = [tmr_note] if tmr_note else []
    extras = {"physical": physical or None, "tmr_evaluator": tmr_evaluator}
    gens = list(generators) if generators is not None else demo_generators(FeatureStats.load_dataset(root))
    per: dict[str, Any] = {}
    shared = None if cache else GroundTruthMemo()
    for gen in gens:
        logger.info("demo: evaluating %s", gen.name)
        if shared is None:  # the on-disk cache already shares the ground-truth units between generators
            run = Evaluation(dataset=root, evaluator=evaluator, generator=gen, preset=preset, seed=seed,
                             cache_dir=out / "cache", progress=progress, overrides=settings, **extras)
            per[gen.name] = run.score()
        else:
            run = Evaluation(dataset=root, evaluator=evaluator, generator=gen, preset=preset, seed=seed,
                             progress=progress, overrides=settings, **extras)
            run.cache = shared.bind(run.cache)  # type: ignore[assignment]
            per[gen.name] = run.score()
    merged = merge_results(list(per.values()), demo={"dataset": str(root), "generators": {
        g.name: {"class": type(g).__name__, "version": g.version, "description": getattr(g, "description", "")}
        for g in gens}})
    files = merged.save(out)
    return DemoResult(merged, per, ranking_checks(merged), files, time.perf_counter() - t0, notes)


class GroundTruthMemo:
    """In-memory store of the ground-truth units' embeddings, shared by the demo's evaluations.

    Every generator of a demo run is evaluated on the same dataset, evaluator, preset and seed, so the two
    ground-truth passes of each replication are the same for all of them; their units carry the same
    content keys (:meth:`motioneval.protocol.evaluate.Evaluation.embedding_key`, which do not involve the
    generator). Without an on-disk cache each evaluation would recompute them; this memo keeps them (a few
    hundred kB) for the run. :meth:`bind` wraps an evaluation's own disabled cache: generated units are
    never stored, nothing is written to disk, and the numbers are those of separate runs, bit for bit.
    """

    GROUND_TRUTH_STAGES = ("gt_match", "gt_fid")

    def __init__(self) -> None:
        self._store: dict[str, dict[str, Any]] = {}
        self.hits = 0

    def bind(self, cache: Any) -> _MemoCache:
        if getattr(cache, "enabled", False):
            raise ValueError("GroundTruthMemo replaces a disabled cache only")
        return _MemoCache(self, cache)


class _MemoCache:
    """The :class:`~motioneval.protocol.cache.Cache` interface used by ``Evaluation``: ground-truth
    embeddings from/to the memo, everything else passed to the wrapped (disabled) cache."""

    def __init__(self, memo: GroundTruthMemo, inner: Any) -> None:
        self._memo = memo
        self._inner = inner

    def __getattr__(self, name: str) -> Any:  # root, enabled, hits, misses, path, ... of the wrapped cache
        return getattr(self._inner, name)

    def load(self, kind: str, key: str) -> dict[str, Any] | None:
        arrays = self._memo._store.get(key) if kind == "embeddings" else None
        if arrays is None:
            return self._inner.load(kind, key)
        self._memo.hits += 1
        return {k: v.copy() for k, v in arrays.items()}

    def save(self, kind: str, key: str, parts: Mapping[str, Any] | None = None, **arrays: Any) -> Any:
        if kind == "embeddings" and parts is not None and parts.get("stage") in GroundTruthMemo.GROUND_TRUTH_STAGES:
            self._memo._store[key] = {k: v.copy() for k, v in arrays.items()}
        return self._inner.save(kind, key, parts, **arrays)


def merge_results(results: Sequence[Any], *, demo: Mapping[str, Any] | None = None) -> Any:
    """One result with the ground-truth row of the first and the model row of each (same preset and seed)."""
    from ..protocol.results import Result

    if not results:
        raise ValueError("no results to merge")
    first = results[0]
    for r in results[1:]:
        if r.preset != first.preset or r.seed != first.seed:
            raise ValueError("results to merge must share preset and seed")
    rows = [first.ground_truth] + [r.model for r in results]
    names = [row.name for row in rows]
    if len(set(names)) != len(names):
        raise ValueError(f"row names must be unique; got {names}")
    fid_diag = dict(first.fid_diagnostics)
    provenance = dict(first.provenance)
    generated = {}
    for r in results:
        fid_diag.update({k: v for k, v in r.fid_diagnostics.items() if k == r.model.name})
        generated[r.model.name] = r.provenance.get("generated")
    provenance["generated"] = generated
    settings = {**first.settings, "demo": dict(demo or {})}
    warnings = list(dict.fromkeys(w for r in results for w in r.warnings))
    blocks = [_merge_block(b.name, results) for b in first.blocks]
    timing = {"seconds": sum(float(r.timing.get("seconds", 0.0)) for r in results)}
    return Result(rows=rows, preset=first.preset, seed=first.seed, replications=first.replications,
                  sample_counts=first.sample_counts, fid_diagnostics=fid_diag, provenance=provenance,
                  versions=first.versions, settings=settings, warnings=warnings, timing=timing,
                  created=first.created, blocks=blocks)


def _merge_block(name: str, results: Sequence[Any]) -> Any:
    """One block ``name`` with the ground-truth row of the first result and the model row of each."""
    import copy

    first = results[0].block(name)
    merged = copy.deepcopy(first)
    gt = [r for r in first.rows if r.kind == "ground_truth"]
    merged.rows = gt + [next(row for row in r.block(name).rows if row.kind == "model") for r in results]
    if first.per_clip is not None:
        per = {g.name: first.per_clip.get(g.name, {}) for g in gt}
        for r in results:
            block = r.block(name)
            model = next(row for row in block.rows if row.kind == "model")
            per[model.name] = (block.per_clip or {}).get(model.name, {})
        merged.per_clip = per
    return merged


def ranking_checks(result: Any) -> dict[str, bool]:
    """What the demo table must show, by row name (see :mod:`motioneval.demo.generators`).

    R-precision is compared on the mean of R@1, R@2 and R@3: at chance level (caption-ignoring, and
    mode-collapsed, whose caption only chooses between two motions) R@1 alone differs by a few hits.
    """
    from .generators import CaptionIgnoringGenerator, GroundTruthResampler, JitteryGenerator, ModeCollapsedGenerator

    def mean(row: str, metric: str) -> float:
        return float(result.row(row)[metric].mean)

    def rprec(row: str) -> float:
        return sum(mean(row, f"r_precision_top{k}") for k in (1, 2, 3)) / 3.0

    gt, resampled = "ground truth", GroundTruthResampler.name
    models = [r.name for r in result.rows if r.kind == "model"]
    others = [m for m in models if m != resampled]
    checks: dict[str, bool] = {}
    if resampled in models and others:
        best_fid = min(mean(m, "fid") for m in models)
        checks["ground truth has the best FID"] = (mean(gt, "fid") <= best_fid
                                                   and mean(resampled, "fid") == best_fid)
        checks["ground truth has the best R-precision"] = min(rprec(gt), rprec(resampled)) > max(
            rprec(m) for m in others)
    ignoring = CaptionIgnoringGenerator.name
    if ignoring in models:
        checks["caption-ignoring has the worst R-precision"] = rprec(ignoring) < min(
            rprec(m) for m in [*models, gt] if m != ignoring)
    collapsed = ModeCollapsedGenerator.name
    if collapsed in models:
        checks["mode-collapsed has the lowest diversity"] = mean(collapsed, "diversity") < min(
            mean(m, "diversity") for m in [*models, gt] if m != collapsed)
    names = {b.name for b in result.blocks}
    if "physical" in names:  # jitter: the mean joint acceleration against the ground truth's
        phys = result.block("physical")
        gt_accel = float(phys.row(gt)["phys_accel"].mean)
        jittery = JitteryGenerator.name
        if jittery in models:
            checks["jittery has a jitter clearly above ground truth (acceleration >= 2x)"] = float(
                phys.row(jittery)["phys_accel"].mean) >= 2 * gt_accel
        if resampled in models:
            checks["ground-truth resampling stays close to ground truth on jitter (within 25%)"] = abs(
                float(phys.row(resampled)["phys_accel"].mean) / gt_accel - 1) <= 0.25
    if "tmr" in names and ignoring in models and resampled in models:  # TMR retrieval in batches of 32
        tmr = result.block("tmr")
        key = "guo/t2m/R03"
        checks["TMR: caption-ignoring retrieves worse than ground-truth resampling"] = float(
            tmr.row(ignoring)[key].mean) < float(tmr.row(resampled)[key].mean)
    return checks
