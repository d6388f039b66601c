"""Which normalization do features carry? Raw, dataset-, evaluator- or double-normalized.

Every hypothesis ``h`` says how the observed features ``x`` were made from raw features ``r``: a chain of
``normalize`` steps with the dataset statistics ``D = (M, S)`` (``Mean.npy``/``Std.npy``) and/or the
evaluator statistics ``E`` (``t2m_mean``/``t2m_std``). Each chain is affine per dimension, so undoing it
gives the *implied raw* features ``r_h = a_h x + b_h``. Raw HumanML3D features follow the dataset
statistics, so under the right hypothesis, per feature group ``g`` (root velocity, root height, ric,
rotations, velocities, contacts):

- the implied per-dimension means are close to ``M``: ``mean_err_g = rms_{d in g} (mean r_h,d - M_d) / S_d``;
- the implied per-dimension spreads average to the group's std: ``scale_err_g = |log(avg_d std r_h,d / S_g)|``
  (``Std.npy`` holds per-group averages of the per-dimension std).

The score of ``h`` is the average over groups of ``mean_err_g + scale_err_g``; the lowest score wins. The
hypotheses are well separated because the root and foot-contact groups differ about 25x between ``D`` and
``E`` (``log 25 = 3.2``) and a second normalization scales every group by ``1 / S``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..metrics.stats import chan_merge
from ..representation.layout import FeatureLayout
from ..representation.normalization import FeatureStats

#: hypothesis name -> (chain of statistics applied to raw features, in order; plain-words description)
HYPOTHESES: dict[str, tuple[tuple[str, ...], str]] = {
    "raw": ((), "raw (not normalized)"),
    "dataset": (("dataset",), "normalized with the dataset statistics (Mean.npy / Std.npy)"),
    "evaluator": (("evaluator",), "normalized with the evaluator statistics (t2m_mean / t2m_std)"),
    "dataset+dataset": (("dataset", "dataset"), "normalized twice with the dataset statistics"),
    "evaluator+evaluator": (("evaluator", "evaluator"), "normalized twice with the evaluator statistics"),
    "dataset+evaluator": (
        ("dataset", "evaluator"),
        "dataset-normalized, then normalized again with the evaluator statistics without de-normalizing first",
    ),
    "evaluator+dataset": (
        ("evaluator", "dataset"),
        "evaluator-normalized, then normalized again with the dataset statistics without de-normalizing first",
    ),
}

#: the state each hypothesis leaves the features in, as ``SampleSet.normalization`` names it
STATE = {
    "raw": "raw",
    "dataset": "dataset",
    "evaluator": "evaluator",
    "dataset+dataset": "double",
    "evaluator+evaluator": "double",
    "dataset+evaluator": "double",
    "evaluator+dataset": "double",
}


@dataclass(frozen=True)
class MomentSummary:
    """Per-dimension mean and std of features pooled over all valid frames of all samples."""

    mean: np.ndarray
    std: np.ndarray
    frames: int

    @classmethod
    def from_features(cls, motions: Any, lengths: Any = None, *, chunk_rows: int = 256) -> "MomentSummary":
        """Pool ``(N, T, D)`` (or ``(T, D)``) features over frames ``< lengths[i]``; non-finite frames are skipped.

        Rows are processed ``chunk_rows`` at a time in float64 and the chunks' moments merged (Chan et al.),
        so memory stays bounded for whole test sets.
        """
        x = np.asarray(motions)
        if x.ndim == 2:
            x = x[None]
        if x.ndim != 3:
            raise ValueError(f"features must be (N, T, D) or (T, D); got shape {x.shape}")
        n, t, d = x.shape
        lens = np.full(n, t) if lengths is None else np.asarray(lengths).ravel()
        count, mean, m2 = 0, np.zeros(d), np.zeros(d)
        for lo in range(0, n, chunk_rows):
            valid = np.arange(t)[None, :] < lens[lo:lo + chunk_rows, None]
            frames = np.asarray(x[lo:lo + chunk_rows][valid], dtype=np.float64)
            frames = frames[np.isfinite(frames).all(axis=1)]
            k = frames.shape[0]
            if k == 0:
                continue
            mu = frames.mean(axis=0)
            count, mean, m2 = chan_merge(count, mean, m2, k, mu, ((frames - mu) ** 2).sum(axis=0))
        if count < 2:
            raise ValueError("need at least two finite frames to summarize features")
        return cls(mean=mean, std=np.sqrt(m2 / count), frames=int(count))


@dataclass(frozen=True)
class NormalizationVerdict:
    """Scores of every hypothesis (lower is better), the winner, and per-group evidence for the winner."""

    best: str
    scores: dict[str, float]
    group_scale_ratio: dict[str, dict[str, float]]  # hypothesis -> group -> implied std / expected std
    group_mean_err: dict[str, dict[str, float]]  # hypothesis -> group -> rms mean error in std units
    reference: str  # which statistics describe raw features ("dataset", or "evaluator" if only those)
    excluded_groups: tuple[str, ...] = field(default_factory=tuple)

    @property
    def state(self) -> str:
        return STATE[self.best]

    @property
    def margin(self) -> float:
        """Score gap between the best and the second-best hypothesis (larger: more certain)."""
        ordered = sorted(self.scores.values())
        return float(ordered[1] - ordered[0]) if len(ordered) > 1 else float("inf")

    def runner_up(self) -> str:
        return sorted(self.scores, key=lambda k: self.scores[k])[1]

    def to_dict(self) -> dict[str, Any]:
        return {
            "best": self.best,
            "state": self.state,
            "margin": self.margin,
            "scores": self.scores,
            "reference": self.reference,
            "group_scale_ratio": self.group_scale_ratio,
            "group_mean_err": self.group_mean_err,
            "excluded_groups": list(self.excluded_groups),
        }


def _implied_raw_affine(chain: tuple[str, ...], stats: dict[str, FeatureStats]) -> tuple[np.ndarray, np.ndarray]:
    """``(a, b)`` with ``raw = a * x + b`` for features made by normalizing raw with ``chain`` in order."""
    dim = next(iter(stats.values())).dim
    a, b = np.ones(dim), np.zeros(dim)
    for name in reversed(chain):  # undo the last normalization first: y = x * std + mean
        s = stats[name]
        std, mean = np.asarray(s.std, np.float64), np.asarray(s.mean, np.float64)
        a, b = a * std, b * std + mean
    return a, b


def detect_normalization(
    summary: MomentSummary,
    *,
    dataset_stats: FeatureStats | None = None,
    evaluator_stats: FeatureStats | None = None,
    layout: FeatureLayout | None = None,
) -> NormalizationVerdict:
    """Score every normalization hypothesis that the given statistics allow; see the module docstring.

    Raw features are described by ``dataset_stats``. With only ``evaluator_stats``, the root and contact
    groups (whose evaluator std is deliberately ~25x smaller than the data's) are left out of the scale
    comparison, and hypotheses involving the dataset statistics cannot be scored.
    """
    stats = {k: v for k, v in (("dataset", dataset_stats), ("evaluator", evaluator_stats)) if v is not None}
    if not stats:
        raise ValueError("detect_normalization needs dataset_stats and/or evaluator_stats")
    dim = summary.mean.shape[0]
    for name, s in stats.items():
        if s.dim != dim:
            raise ValueError(f"the {name} statistics have {s.dim} dims but the features have {dim}")
    layout = layout or FeatureLayout.for_dim(dim)
    groups = layout.groups()
    reference = "dataset" if dataset_stats is not None else "evaluator"
    ref = stats[reference]
    ref_mean, ref_std = np.asarray(ref.mean, np.float64), np.asarray(ref.std, np.float64)
    excluded: tuple[str, ...] = ()
    if reference == "evaluator":
        excluded = ("rot_vel", "lin_vel", "root_y", "contacts")
    scores, ratios, merrs = {}, {}, {}
    for name, (chain, _) in HYPOTHESES.items():
        if any(c not in stats for c in chain):
            continue
        a, b = _implied_raw_affine(chain, stats)
        mean_r = a * summary.mean + b
        std_r = np.abs(a) * summary.std
        total, ratio_g, merr_g = 0.0, {}, {}
        for g, sl in groups.items():
            expected = float(ref_std[sl].mean())
            ratio = float(std_r[sl].mean() / expected)
            merr = float(np.sqrt(np.mean(((mean_r[sl] - ref_mean[sl]) / ref_std[sl]) ** 2)))
            ratio_g[g], merr_g[g] = ratio, merr
            if g in excluded:
                continue
            total += min(merr, 50.0) + abs(np.log(max(ratio, 1e-12)))
        scores[name] = total / (len(groups) - len(excluded))
        ratios[name], merrs[name] = ratio_g, merr_g
    best = min(scores, key=lambda k: scores[k])
    return NormalizationVerdict(best=best, scores=scores, group_scale_ratio=ratios, group_mean_err=merrs,
                                reference=reference, excluded_groups=excluded)
