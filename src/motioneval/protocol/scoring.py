"""Embeddings to metric values: the one scoring step of :func:`~motioneval.protocol.evaluate.evaluate`, of the
training monitor (:mod:`.monitor`) and of the distributed reduction (which scores through ``Evaluation.score``).

A table row of one replication is a :class:`RowEmbeddings` (text and motion embeddings in row order, the
MultiModality embeddings ``(captions, repeats, E)`` of a model row, and optional per-clip columns such as
:func:`motioneval.metrics.physical.physical_columns`). :func:`score_embeddings` hands it, with a
:class:`ScoreContext` (preset, seeds, the FID reference statistics), to a list of *scorers*; each scorer turns
the row into named values whose catalog entries (:class:`motioneval.constants.MetricInfo`) it declares. The
protocol's scorers, in table order, are :data:`PROTOCOL_SCORERS`:

- :class:`RetrievalScorer`: R-precision top ``1..top_k`` in pools of ``pool_size`` and Matching Score
  (:func:`motioneval.metrics.retrieval.retrieval_metrics`);
- :class:`FIDScorer`: Fréchet distance of the row's motion statistics to the reference (ground truth first, as
  the reference loop), with diagnostics; no reference: ``None``;
- :class:`DiversityScorer`: :func:`motioneval.metrics.diversity.diversity` with the preset's pair rule,
  ``rng = pass_rng(seed, replication, "diversity", stream)``;
- :class:`MultiModalityScorer`: :func:`motioneval.metrics.diversity.multimodality`, model rows only, present
  when the preset computes MultiModality (``None`` in replications without MultiModality embeddings).

More metrics (physical plausibility, another evaluator family's retrieval protocols) are more scorers: the
loop only concatenates what the scorers return. :class:`ColumnMeanScorer` averages per-clip columns.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..constants import METRICS, MetricInfo, metric_info
from ..metrics.stats import GaussianStats
from .ground_truth import pass_rng
from .presets import Preset

__all__ = ["RowEmbeddings", "ScoreContext", "Scores", "Scorer", "RetrievalScorer", "FIDScorer", "DiversityScorer",
           "MultiModalityScorer", "ColumnMeanScorer", "PROTOCOL_SCORERS", "LIGHT_SCORERS", "score_row",
           "score_embeddings", "fid_diagnostics", "register_scorers", "scorers_for"]


@dataclass(frozen=True, eq=False)
class RowEmbeddings:
    """One table row of one replication: what the scorers read.

    ``text``/``motion``: ``(N, E)`` embeddings in row order (``text`` may be ``None`` for scorers that need
    none); ``multimodality``: ``(captions, repeats, E)`` or ``None``; ``columns``: per-clip arrays ``(N,)``
    keyed by metric (e.g. physical plausibility); ``ground_truth``: the ground-truth row (no MultiModality)."""

    name: str
    motion: np.ndarray
    text: np.ndarray | None = None
    multimodality: np.ndarray | None = None
    columns: Mapping[str, np.ndarray] = field(default_factory=dict)
    ground_truth: bool = False


@dataclass(frozen=True, eq=False)
class ScoreContext:
    """What the scorers need besides the row: the preset, the run's seed, the replication, the row's random
    stream (0: ground truth, 1: model), the FID reference statistics (``None``: no FID for this row) and an
    optional fixed number of Diversity pairs (``None``: the preset's rule :meth:`Preset.diversity_pairs_for`)."""

    preset: Preset
    seed: int = 0
    replication: int = 0
    stream: int = 1
    reference: GaussianStats | None = None
    diversity_pairs: int | None = None


@dataclass
class Scores:
    """Named values (``None``: not computable) in table order, per-metric diagnostics (FID: a dict or
    ``None``) and warnings already naming their row."""

    values: dict[str, float | None] = field(default_factory=dict)
    diagnostics: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def update(self, other: Scores) -> None:
        overlap = set(self.values) & set(other.values)
        if overlap:
            raise ValueError(f"two scorers produce the same metric(s) {sorted(overlap)}")
        self.values.update(other.values)
        self.diagnostics.update(other.diagnostics)
        self.warnings.extend(other.warnings)


@runtime_checkable
class Scorer(Protocol):
    """Turns a row of one replication into named values; ``metrics(preset)`` lists the catalog entries of the
    keys it can produce (for tables and best-checkpoint directions)."""

    def metrics(self, preset: Preset) -> tuple[MetricInfo, ...]: ...

    def __call__(self, row: RowEmbeddings, context: ScoreContext) -> Scores: ...


class RetrievalScorer:
    """R-precision ``r_precision_top1..top_k`` and ``matching_score`` (pools of ``preset.pool_size``)."""

    def metrics(self, preset: Preset) -> tuple[MetricInfo, ...]:
        keys = [f"r_precision_top{k + 1}" for k in range(preset.top_k)] + ["matching_score"]
        return tuple(metric_info(k) or MetricInfo(k, k, k, "higher") for k in keys)

    def __call__(self, row: RowEmbeddings, context: ScoreContext) -> Scores:
        from ..metrics.retrieval import retrieval_metrics

        if row.text is None:
            raise ValueError(f"{row.name}: R-precision and Matching Score need text embeddings")
        p = context.preset
        ret = retrieval_metrics(row.text, row.motion, top_k=p.top_k, pool_size=p.pool_size)
        values: dict[str, float | None] = {f"r_precision_top{k + 1}": float(ret.r_precision[k])
                                           for k in range(p.top_k)}
        values["matching_score"] = float(ret.matching_score)
        return Scores(values)


def fid_diagnostics(fd: Any) -> Any:
    """A JSON-ready dict of a :class:`~motioneval.metrics.frechet.FrechetResult` (or ``{"value": x}``)."""
    for attr in ("to_dict", "as_dict"):
        if callable(getattr(fd, attr, None)):
            return getattr(fd, attr)()
    return {"value": float(getattr(fd, "value", fd))}


class FIDScorer:
    """``fid``: Fréchet distance from ``context.reference`` to the row's motion statistics, with the preset's
    ``fid_method``; diagnostics under ``"fid"``; ``None`` (and no diagnostics) without a reference.

    ``reference_check``: when the reference route (scipy ``sqrtm``, the costliest part of a D = 512 FID) also
    runs, to fill the diagnostics' ``reference_*`` fields and their warnings: ``"first"`` replication (the
    default; the exact route's diagnostics are kept on every replication), ``"every"`` one, or ``"never"``.
    It never changes the value under the exact methods; ``fid_method="reference"`` always runs it."""

    CHECKS = ("first", "every", "never")

    def __init__(self, reference_check: str = "first") -> None:
        if reference_check not in self.CHECKS:
            raise ValueError(f"reference_check must be one of {self.CHECKS}; got {reference_check!r}")
        self.reference_check = reference_check

    def metrics(self, preset: Preset) -> tuple[MetricInfo, ...]:
        return (METRICS["fid"],)

    def __call__(self, row: RowEmbeddings, context: ScoreContext) -> Scores:
        from ..metrics.frechet import frechet_distance
        from ..metrics.stats import gaussian_stats

        if context.reference is None:
            return Scores({"fid": None}, {"fid": None})
        check = self.reference_check == "every" or (self.reference_check == "first" and context.replication == 0)
        fd = frechet_distance(context.reference, gaussian_stats(row.motion), method=context.preset.fid_method,
                              return_diagnostics=True, reference_check=check)  # ground truth first, as the reference
        warnings = [f"FID ({row.name}): {m}" for m in (getattr(fd, "warnings", None) or [])]
        return Scores({"fid": float(fd.value)}, {"fid": fid_diagnostics(fd)}, warnings)


class DiversityScorer:
    """``diversity``: mean distance of random pairs of the row's motion embeddings."""

    def metrics(self, preset: Preset) -> tuple[MetricInfo, ...]:
        return (METRICS["diversity"],)

    def __call__(self, row: RowEmbeddings, context: ScoreContext) -> Scores:
        from ..metrics.diversity import diversity

        p, n = context.preset, len(row.motion)
        pairs = p.diversity_pairs_for(n) if context.diversity_pairs is None else context.diversity_pairs
        rng = pass_rng(context.seed, context.replication, "diversity", context.stream)
        return Scores({"diversity": float(diversity(row.motion, pairs, rng=rng))})


class MultiModalityScorer:
    """``multimodality`` of a model row when the preset computes it: ``None`` without MultiModality
    embeddings (replications past ``mm_replications``, or too few repetitions)."""

    def metrics(self, preset: Preset) -> tuple[MetricInfo, ...]:
        return (METRICS["multimodality"],) if preset.effective_mm_replications > 0 else ()

    def __call__(self, row: RowEmbeddings, context: ScoreContext) -> Scores:
        from ..metrics.diversity import multimodality

        p = context.preset
        if row.ground_truth or p.effective_mm_replications <= 0:
            return Scores()
        if row.multimodality is None:
            return Scores({"multimodality": None})
        rng = pass_rng(context.seed, context.replication, "multimodality")
        return Scores({"multimodality": float(multimodality(row.multimodality, p.mm_pairs, rng=rng))})


class ColumnMeanScorer:
    """The mean over clips of per-clip columns (``row.columns[key]``), for per-row metrics such as physical
    plausibility; NaN entries (a clip where the metric is undefined) are left out, all-NaN gives ``None``.
    ``infos``: the catalog entry of each column (register them with :func:`motioneval.constants.register_metric`)."""

    def __init__(self, infos: Sequence[MetricInfo]) -> None:
        self.infos = tuple(infos)

    def metrics(self, preset: Preset) -> tuple[MetricInfo, ...]:
        return self.infos

    def __call__(self, row: RowEmbeddings, context: ScoreContext) -> Scores:
        out: dict[str, float | None] = {}
        for info in self.infos:
            if info.key not in row.columns:
                raise KeyError(f"{row.name}: no per-clip column {info.key!r} (have {sorted(row.columns)})")
            col = np.asarray(row.columns[info.key], dtype=np.float64).reshape(-1)
            if len(col) != len(row.motion):
                raise ValueError(f"{row.name}: column {info.key!r} has {len(col)} values for {len(row.motion)} rows")
            finite = col[~np.isnan(col)]
            out[info.key] = float(finite.mean()) if finite.size else None
        return Scores(out)


#: The protocol's scorers in table order (R-precision, Matching Score, FID, Diversity, MultiModality).
PROTOCOL_SCORERS: tuple[Scorer, ...] = (RetrievalScorer(), FIDScorer(), DiversityScorer(), MultiModalityScorer())
#: The training monitor's (no MultiModality).
LIGHT_SCORERS: tuple[Scorer, ...] = PROTOCOL_SCORERS[:3]


_SCORERS_BY_KIND: dict[str, tuple[Scorer, ...]] = {"t2m": PROTOCOL_SCORERS}


def register_scorers(kind: str, scorers: Sequence[Scorer]) -> None:
    """Declare the scorers of an evaluator family (``Evaluator.kind``, e.g. ``"tmr"``); replaces earlier ones."""
    _SCORERS_BY_KIND[str(kind)] = tuple(scorers)


def scorers_for(kind: str) -> tuple[Scorer, ...]:
    """The scorers of evaluator family ``kind``; an error for a family without any (its embeddings would be
    scored with another family's metrics)."""
    try:
        return _SCORERS_BY_KIND[kind]
    except KeyError:
        raise ValueError(f"no scorers are registered for evaluator kind {kind!r} (known: {sorted(_SCORERS_BY_KIND)}); "
                         f"the protocol's metrics are defined on T2M embeddings. Register them with "
                         f"motioneval.protocol.scoring.register_scorers") from None


def score_row(row: RowEmbeddings, context: ScoreContext, scorers: Sequence[Scorer] = PROTOCOL_SCORERS) -> Scores:
    """Every scorer's values of ``row``, concatenated in scorer order (a metric twice is an error)."""
    out = Scores()
    for scorer in scorers:
        out.update(scorer(row, context))
    return out


def score_embeddings(text: np.ndarray | None, motion: np.ndarray, reference: GaussianStats | None, preset: Preset,
                     *, multimodality: np.ndarray | None = None, seed: int = 0, replication: int = 0,
                     stream: int = 1, name: str = "model", ground_truth: bool = False,
                     diversity_pairs: int | None = None, columns: Mapping[str, np.ndarray] | None = None,
                     scorers: Sequence[Scorer] = PROTOCOL_SCORERS) -> Scores:
    """Metric values of one row of one replication from its (text, motion) embeddings, the FID ``reference``
    statistics and the ``preset``; see the module docstring. ``stream`` is the row's Diversity stream (0:
    ground truth, 1: model); ``diversity_pairs`` fixes the pairs (default: the preset's rule)."""
    row = RowEmbeddings(name=name, motion=motion, text=text, multimodality=multimodality,
                        columns=dict(columns or {}), ground_truth=ground_truth)
    context = ScoreContext(preset=preset, seed=int(seed), replication=int(replication), stream=int(stream),
                           reference=reference, diversity_pairs=diversity_pairs)
    return score_row(row, context, scorers)
