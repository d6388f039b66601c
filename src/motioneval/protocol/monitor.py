"""Light evaluation during training: a few hundred fixed prompts, one replication, cached ground truth.

:class:`LightEvaluation` prepares once: it draws ``num_samples`` prompts (captions, ground-truth crop
lengths) from the split as the protocol draws a generated pass, embeds their captions, and embeds one full
ground-truth pass for the FID reference statistics. Each call then only generates ``num_samples`` motions,
embeds them and computes R-precision (pools of 32), Matching score, FID against the cached statistics and
Diversity (``min(preset pairs, N - 1)`` pairs). Keeping the prompts fixed across calls removes the prompt
sampling from the step-to-step noise, so curves are smoother than independent small evaluations.

:class:`TrainingMonitor` calls it every ``every`` steps from any training loop (``monitor.step(step,
generate, model=model)``), appends the record to ``metrics.csv`` and ``metrics.jsonl`` (rewritten atomically),
logs to TensorBoard when the ``tensorboard`` package is installed, and keeps the best checkpoint by a chosen
metric: it calls ``save_fn(step=..., metrics=...)`` or saves ``model.state_dict()`` atomically as ``best.pt``.
:func:`lightning_callback` wraps it for PyTorch Lightning (optional dependency).

How the light numbers relate to the full protocol is measured in ``benchmarks/monitor_tracking.py`` and
reported in the README: they rank checkpoints like the full protocol, but FID is biased upwards at small
``N`` (about ``c / N``), so compare light values only with light values.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._arrays import to_numpy
from .._io import atomic_write_bytes, atomic_write_json, atomic_write_text, read_text
from ..constants import METRICS, get_dataset_spec
from .blocks import physical_metric_infos
from .embedding import EvaluatorSource
from .generators import Generator
from .ground_truth import (
    GroundTruthItems,
    draw_pass,
    pass_captions,
    pass_features,
    pass_raw_tokens,
    pass_rng,
)
from .presets import Preset, get_preset
from .scoring import LIGHT_SCORERS, DiversityScorer, Scorer, score_embeddings

log = logging.getLogger(__name__)

#: metric -> "min" or "max" (Diversity is judged by its distance to the ground truth's: "gap"), from the
#: metric catalog (:data:`motioneval.constants.METRICS`) for the metrics the light evaluation reports
DIRECTIONS = {key: {"higher": "max", "lower": "min", "closer to ground truth": "gap"}[METRICS[key].direction]
              for key in ("fid", "matching_score", "r_precision_top1", "r_precision_top2", "r_precision_top3",
                          "diversity")}
#: the physical metrics (``physical=``): lower is better, dynamics and contact closest to the ground truth's
DIRECTIONS.update({m.key: {"higher": "max", "lower": "min", "closer to ground truth": "gap"}[m.direction]
                   for m in physical_metric_infos()})


def _skeleton(items: GroundTruthItems) -> Any:
    from ..representation.skeleton import skeleton_for_dim

    return skeleton_for_dim(items.dim)


def _load_items(dataset: Any, split: str) -> GroundTruthItems:
    if isinstance(dataset, GroundTruthItems):
        return dataset
    from ..data.dataset import MotionDataset

    if not isinstance(dataset, MotionDataset):
        dataset = MotionDataset(dataset, split, on_problem="skip")
    return GroundTruthItems.from_dataset(dataset)


def _load_evaluator(evaluator: EvaluatorSource, device: Any) -> Any:
    if hasattr(evaluator, "embed_motion") and hasattr(evaluator, "embed_text"):
        return evaluator
    from ..evaluators.t2m import T2MEvaluator

    return T2MEvaluator.load(evaluator, device=device)


class LightEvaluation:
    """Fixed prompts and cached ground truth for cheap, repeatable evaluations (see the module docstring).

    ``dataset``: a dataset folder, ``MotionDataset`` or ``GroundTruthItems`` (the ``val`` split is the
    honest choice during training; the default is the protocol's ``test``). ``evaluator``: a folder or a
    loaded evaluator. ``physical``: also log the physical plausibility metrics (``phys_<metric>``, the mean over the
    prompts; ``True`` for the default variant, or a variant name), with the prompts' own ground truth in
    :attr:`reference`. ``num_samples``: prompts per call, rounded down to whole pools of 32. ``gt_rows``:
    rows of the ground-truth pass behind the FID statistics (default: the whole split).
    ``ground_truth_lengths``: ask the generator for the prompts' ground-truth crop lengths (default), or let
    it choose (``lengths=None``) when the preset's ``generated_length`` is not ``"ground_truth"``.
    """

    def __init__(self, dataset: Any, evaluator: EvaluatorSource, *, num_samples: int = 256, preset: str | Preset = "t2m",
                 split: str = "test", seed: int = 0, gt_rows: int | None = None, device: Any = None,
                 ground_truth_lengths: bool = True, physical: Any = None) -> None:
        from ..metrics.stats import gaussian_stats
        from .extras import UnitExtras, pass_raw_windows, physical_scorer

        #: R-precision and Matching Score, FID against the cached statistics, Diversity (:mod:`.scoring`)
        self.scorers: tuple[Scorer, ...] = LIGHT_SCORERS
        self.items = _load_items(dataset, split)
        self.evaluator = _load_evaluator(evaluator, device)
        self.preset = get_preset(preset, dataset=self.items.kind) if not isinstance(preset, Preset) else preset
        #: physical plausibility columns (``phys_<metric>``, mean over the prompts) when ``physical`` is set
        self.physical = UnitExtras(physical=physical, fps=get_dataset_spec(self.items.kind).fps,
                                   skeleton=_skeleton(self.items))
        if self.physical.physical is not None:
            self.scorers = (*self.scorers, physical_scorer())
        self.seed = int(seed)
        self.ground_truth_lengths = bool(ground_truth_lengths)
        p = self.preset
        if num_samples < p.pool_size:
            raise ValueError(f"num_samples must be at least one pool of {p.pool_size}; got {num_samples}")
        plan = draw_pass(self.items, p, pass_rng(self.seed, 0, "generated"), limit=num_samples)
        self.plan = plan  # which item, caption and crop each prompt comes from
        self.captions = pass_captions(self.items, plan)
        self.tokens = pass_raw_tokens(self.items, plan)
        self.lengths = plan.lengths.astype(np.int64)
        self.text_emb = self._embed_text(self.tokens)
        t0 = time.perf_counter()
        gt_plan = draw_pass(self.items, p, pass_rng(self.seed, 0, "gt_fid"), limit=gt_rows)
        gt_emb = self._embed_motion(pass_features(self.items, gt_plan, self.evaluator.stats, p), gt_plan.lengths)
        self.gt_stats = gaussian_stats(gt_emb)
        # the ground truth of the same prompts, scored like a model: the floor the light numbers can reach
        own = self._embed_motion(pass_features(self.items, plan, self.evaluator.stats, p), plan.lengths)
        # the prompts' own ground truth, except Diversity: that of the whole ground-truth pass
        by_prompts = [s for s in self.scorers if not isinstance(s, DiversityScorer)]
        by_pass = [s for s in self.scorers if isinstance(s, DiversityScorer)]
        own_columns = (self.physical.generated(pass_raw_windows(self.items, plan), plan.lengths, [])
                       if self.physical.physical is not None else None)
        scores = score_embeddings(self.text_emb, own, self.gt_stats, p, name="ground truth", ground_truth=True,
                                  scorers=by_prompts, columns=own_columns)
        scores.update(score_embeddings(None, gt_emb, None, p, seed=self.seed, stream=0, name="ground truth",
                                       ground_truth=True, diversity_pairs=self._pairs(len(gt_emb)), scorers=by_pass))
        self.reference: dict[str, float] = {k: float(v) for k, v in scores.values.items() if v is not None}
        self.setup_seconds = time.perf_counter() - t0

    @property
    def num_samples(self) -> int:
        return len(self.captions)

    def _pairs(self, n: int) -> int:
        return min(self.preset.diversity_pairs, n - 1)

    def _embed_text(self, tokens: Sequence[Sequence[str]]) -> np.ndarray:
        keep = self.preset.max_text_tokens
        return np.asarray(to_numpy(self.evaluator.embed_text([list(t)[:keep] for t in tokens])), np.float32)

    def _embed_motion(self, features: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        emb = self.evaluator.embed_motion(features, np.asarray(lengths, np.int64))
        return np.asarray(to_numpy(emb), np.float32)

    def embed_generated(self, generator: Generator, *, seed: int = 0) -> np.ndarray:
        """Generate the fixed prompts with ``generator`` (a ``Generator``) and embed the motions."""
        return self._embed_raw(*self.generate_raw(generator, seed=seed), name=getattr(generator, "name", "generator"))

    def generate_raw(self, generator: Generator, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Generate the fixed prompts with ``generator``: raw features and lengths."""
        from .generators import normalize_output, to_raw_features

        p = self.preset
        gt_lengths = self.ground_truth_lengths or p.generated_length == "ground_truth"
        requested = self.lengths.copy() if gt_lengths else None
        output = generator.generate(list(self.captions), requested, int(seed))
        name = getattr(generator, "name", "generator")
        motions, lengths = normalize_output(output, requested, name=name)
        skeleton = None
        if getattr(generator, "kind", "features") == "joints":
            from ..representation.skeleton import skeleton_for_dim

            skeleton = skeleton_for_dim(self.items.dim)
        raw, lengths = to_raw_features(
            motions, lengths, kind=getattr(generator, "kind", "features"),
            normalization=getattr(generator, "normalization", "dataset"),
            dataset_stats=getattr(generator, "stats", None) or self.items.dataset_stats,
            evaluator_stats=self.evaluator.stats, padding=p.generated_padding, skeleton=skeleton, name=name)
        return raw, lengths

    def _embed_raw(self, raw: np.ndarray, lengths: np.ndarray, *, name: str) -> np.ndarray:
        from .generators import evaluator_features

        p = self.preset
        feats, lengths = evaluator_features(raw, lengths, self.evaluator.stats, max_frames=p.max_frames,
                                            padding=p.generated_padding, name=name)
        return self._embed_motion(feats, lengths)

    def score_embeddings(self, emb: np.ndarray, *, seed: int = 0,
                         columns: dict[str, np.ndarray] | None = None) -> dict[str, float]:
        """Light metrics of motion embeddings ``(num_samples, d)`` of the fixed prompts (``columns``: their per-clip
        physical values, when the monitor computes them)."""
        scores = score_embeddings(self.text_emb, emb, self.gt_stats, self.preset, seed=int(seed), stream=1,
                                  diversity_pairs=self._pairs(len(emb)), scorers=self.scorers, columns=columns)
        return {k: float(v) for k, v in scores.values.items() if v is not None}

    def __call__(self, generator: Generator, *, seed: int = 0) -> dict[str, float]:
        """Generate, embed and score (and measure the physical metrics, when enabled); returns the metrics plus
        ``seconds`` (wall time of this call)."""
        t0 = time.perf_counter()
        raw, lengths = self.generate_raw(generator, seed=seed)
        emb = self._embed_raw(raw, lengths, name=getattr(generator, "name", "generator"))
        columns = self.physical.generated(raw, lengths, []) if self.physical.physical is not None else None
        out = self.score_embeddings(emb, seed=seed, columns=columns)
        out["seconds"] = time.perf_counter() - t0
        return out


def _as_generator(generate: Any, kind: str, normalization: str, stats: Any) -> Any:
    from .generators import CallableGenerator

    if hasattr(generate, "generate"):
        if hasattr(generate, "kind") and hasattr(generate, "normalization"):
            return generate
        # e.g. a LightningModule with generate(): the monitor's kind/normalization describe its output
        return CallableGenerator(generate.generate, kind=kind, normalization=normalization,
                                 stats=getattr(generate, "stats", None) or stats,
                                 name=type(generate).__name__)
    if not callable(generate):
        raise TypeError("generate must be a Generator (with .generate(captions, lengths, seed)) or a callable "
                        "fn(captions, lengths, seed) -> motions")
    return CallableGenerator(generate, kind=kind, normalization=normalization, stats=stats, name="monitored")


class TrainingMonitor:
    """Run a :class:`LightEvaluation` every ``every`` steps, log it, keep the best checkpoint.

    ``log_dir`` receives ``metrics.csv``, ``metrics.jsonl``, ``best.json``, ``best.pt`` (when a ``model`` is
    passed and no ``save_fn``) and ``tensorboard/`` (when ``tensorboard`` is ``True``, or ``"auto"`` and the
    package is installed). ``best_metric`` with ``mode`` ``"min"``/``"max"`` (default per metric; Diversity:
    closest to the ground truth's). ``save_fn(step=, metrics=)`` replaces the built-in checkpointing.
    Plain callables passed as ``generate`` are ``fn(captions, lengths, seed)`` returning motions of ``kind``
    in ``normalization`` (``stats``: the generator's own dataset statistics, if not the dataset's). Records
    already in ``log_dir`` are kept (resume); those at or after the first new step are dropped.
    """

    def __init__(self, light: LightEvaluation, log_dir: str | Path, *, every: int = 1000,
                 best_metric: str = "fid", mode: str | None = None,
                 save_fn: Callable[..., Any] | None = None, tensorboard: bool | str = "auto",
                 kind: str = "features", normalization: str = "dataset", stats: Any = None) -> None:
        if every < 1:
            raise ValueError(f"every must be a positive number of steps; got {every}")
        self.light = light
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.every = int(every)
        self.best_metric = best_metric
        self.mode = mode or DIRECTIONS.get(best_metric, "min")
        if self.mode not in ("min", "max", "gap"):
            raise ValueError(f"mode must be 'min', 'max' or 'gap'; got {self.mode!r}")
        self.save_fn = save_fn
        self.kind, self.normalization, self.stats = kind, normalization, stats
        self.records: list[dict[str, Any]] = self._read_existing()
        self._writer = self._tensorboard(tensorboard)
        self._last_step: int | None = None
        self._trimmed = False

    # ------------------------------------------------------------------------------------------ state
    def _read_existing(self) -> list[dict[str, Any]]:
        path = self.log_dir / "metrics.jsonl"
        if not path.is_file():
            return []
        text = read_text(path, expected="the monitor's metrics.jsonl (one JSON record per line)")
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def _tensorboard(self, tensorboard: bool | str) -> Any:
        if tensorboard is False:
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:  # torch or the tensorboard package missing
            if tensorboard is True:
                raise ImportError("TensorBoard logging needs torch and the tensorboard package: "
                                  "pip install 'motioneval[monitor]'") from exc
            return None
        return SummaryWriter(str(self.log_dir / "tensorboard"))

    def _objective(self, record: dict[str, Any]) -> float:
        v = record.get(self.best_metric)
        if v is None or not math.isfinite(v):
            return math.inf
        if self.mode == "max":
            return -v
        if self.mode == "gap":
            return abs(v - self.light.reference.get(self.best_metric, 0.0))
        return v

    @property
    def best(self) -> dict[str, Any] | None:
        """The best record so far (by ``best_metric``), or None."""
        scored = [r for r in self.records if math.isfinite(self._objective(r))]
        return min(scored, key=self._objective) if scored else None

    def should_run(self, step: int) -> bool:
        """True at multiples of ``every`` not evaluated yet (gradient accumulation repeats a step)."""
        return step % self.every == 0 and step != self._last_step

    # ------------------------------------------------------------------------------------------ step
    def step(self, step: int, generate: Any, *, model: Any = None, force: bool = False,
             seed: int | None = None) -> dict[str, Any] | None:
        """Evaluate at ``step`` if due (or ``force``); returns the logged record, or None when skipped.

        ``generate``: a ``Generator`` or ``fn(captions, lengths, seed)``. ``model``: saved as ``best.pt``
        (its ``state_dict()``) when the record is the best so far and no ``save_fn`` was given. ``seed``:
        the generation seed (default: the monitor's seed, the same every call).
        """
        step = int(step)
        if not force and not self.should_run(step):
            return None
        if not self._trimmed:  # resumed from an earlier checkpoint: later records belong to the abandoned run
            self.records = [r for r in self.records if r["step"] < step]
            self._trimmed = True
        self._last_step = step
        gen = _as_generator(generate, self.kind, self.normalization, self.stats)
        previous = self.best
        metrics = self.light(gen, seed=self.light.seed if seed is None else seed)
        record: dict[str, Any] = {"step": step, **metrics, "num_samples": self.light.num_samples,
                                  "time": time.time()}
        is_best = previous is None or self._objective(record) < self._objective(previous)
        record["is_best"] = bool(is_best and math.isfinite(self._objective(record)))
        self.records.append(record)
        self._write_logs()
        if self._writer is not None:
            for k, v in metrics.items():
                self._writer.add_scalar(f"motioneval/{k}", v, step)
            self._writer.flush()
        if record["is_best"]:
            self._save_best(record, model)
        return record

    def _write_logs(self) -> None:
        keys: list[str] = []
        for r in self.records:
            keys.extend(k for k in r if k not in keys)
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
        w.writeheader()
        for r in self.records:
            w.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in r.items()})
        atomic_write_text(self.log_dir / "metrics.csv", buf.getvalue())
        atomic_write_text(self.log_dir / "metrics.jsonl",
                          "".join(json.dumps(r, allow_nan=True) + "\n" for r in self.records))

    def _save_best(self, record: dict[str, Any], model: Any) -> None:
        saved = None
        if self.save_fn is not None:
            self.save_fn(step=record["step"], metrics=dict(record))
        elif model is not None:
            import torch

            buf = io.BytesIO()
            state = model.state_dict() if hasattr(model, "state_dict") else model
            torch.save({"step": record["step"], "metrics": record, "state_dict": state}, buf)
            saved = str(atomic_write_bytes(self.log_dir / "best.pt", buf.getvalue()))
        atomic_write_json(self.log_dir / "best.json", {"best_metric": self.best_metric, "mode": self.mode,
                                                        "record": record, "checkpoint": saved})

    def reference_record(self) -> dict[str, float]:
        """The ground truth of the fixed prompts scored like a model: the best values the light numbers can reach."""
        return dict(self.light.reference)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> "TrainingMonitor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def lightning_callback(monitor: TrainingMonitor, generate: Any = None) -> Any:
    """A PyTorch Lightning ``Callback`` that runs ``monitor`` at every ``monitor.every``-th global step.

    ``generate``: a ``Generator`` or ``fn(captions, lengths, seed)``; default: the LightningModule itself,
    which must then have ``generate(captions, lengths, seed)``. The module is put in eval mode under
    ``torch.no_grad()`` for the evaluation, only global rank 0 evaluates, and the metrics also go to the
    trainer's loggers as ``motioneval/<metric>``. Requires ``lightning`` (or ``pytorch_lightning``).
    """
    try:
        from lightning.pytorch import Callback
    except ImportError:
        try:
            from pytorch_lightning import Callback  # type: ignore[assignment]
        except ImportError as exc:
            raise ImportError("lightning_callback needs PyTorch Lightning: pip install lightning") from exc

    class MotionEvalCallback(Callback):
        def __init__(self) -> None:
            self.monitor = monitor
            self.generate = generate

        def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any,
                               batch_idx: int) -> None:
            step = int(trainer.global_step)
            if getattr(trainer, "global_rank", 0) != 0 or not self.monitor.should_run(step):
                return
            import torch

            gen = self.generate if self.generate is not None else pl_module
            was_training = pl_module.training
            pl_module.eval()
            try:
                with torch.no_grad():
                    record = self.monitor.step(step, gen, model=pl_module)
            finally:
                pl_module.train(was_training)
            if record:
                metrics = {f"motioneval/{k}": float(v) for k, v in record.items()
                           if isinstance(v, (int, float)) and k not in ("step", "time")}
                for logger in getattr(trainer, "loggers", []) or []:
                    logger.log_metrics(metrics, step=step)

        def on_train_end(self, trainer: Any, pl_module: Any) -> None:
            self.monitor.close()

    return MotionEvalCallback()
