"""Doctor check ``physical``: generated motions against ground truth on the physical metrics, per clip.

A bad FID says *that* generated motions differ from the data, not *how*. The physical metrics
(:mod:`motioneval.metrics.physical`) often say how: shaking joints, sliding feet, a body hovering above or
sinking into the floor, or motion that barely moves. This check compares the mean over clips of each metric
(NaN clips skipped) with the ground truth's, as a ratio ``generated / ground truth``, and reports what is far
off in plain words ("jitter 10x ground truth").

Rules (fields of :class:`PhysicalThresholds`, defaults in brackets). A group gives a warning when

- **jitter** (``accel``, ``jerk``, ``accel_local``, ``jerk_local``): any ratio ``>= jitter_ratio`` [2.0];
- **skating** (``skate_speed``, ``skate_ratio``): a ratio ``>= skate_ratio`` [2.0] *and* the mean exceeds the
  ground truth's by at least ``skate_speed_excess`` [0.05 m/s] / ``skate_ratio_excess`` [0.05];
- **floating** / **penetration**: the mean exceeds the ground truth's by at least ``ground_excess`` [0.02 m]
  *and* the ratio is ``>= ground_ratio`` [2.0] (or the ground truth's mean is 0);
- **dynamics** (``speed``): ratio ``<= frozen_ratio`` [0.5] ("frozen motion?") or ``>= fast_ratio`` [2.0]
  ("faster than the data: noise?");
- **contact** (``contact``): ratio ``<= contact_ratio`` [0.5] (feet rarely on the floor).

Ratios near 1 are what a model sampling the data distribution gives (the demo's ground-truth resampling stays
within a few percent); the factors of 2 leave room for the spread of a mean over a few hundred clips and for
honest differences between datasets, and flag only gross artefacts. With fewer than ``min_clips`` [5] clips
with a value on either side a metric is not judged (an ``info`` finding says so). A warning lists the clips
whose value lies beyond the ground truth's range (worst first), to look at or render.

Both sides must be computed with the same variant, frame rate and unit; :func:`physical_findings` does that
from motions (features or joints), :func:`check_physical` takes per-clip values already computed.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .findings import Finding

__all__ = ["CHECK", "GROUPS", "PhysicalThresholds", "check_physical", "physical_findings"]

CHECK = "physical"

#: metric groups judged together, in report order
GROUPS: dict[str, tuple[str, ...]] = {
    "jitter": ("accel", "jerk", "accel_local", "jerk_local"),
    "skating": ("skate_speed", "skate_ratio"),
    "floating": ("floating",),
    "penetration": ("penetration",),
    "dynamics": ("speed",),
    "contact": ("contact",),
}


@dataclass(frozen=True)
class PhysicalThresholds:
    """When a physical metric is "far from ground truth" (see the module docstring for each rule)."""

    jitter_ratio: float = 2.0
    skate_ratio: float = 2.0
    skate_speed_excess: float = 0.05  # m/s
    skate_ratio_excess: float = 0.05  # fraction of steps
    ground_ratio: float = 2.0
    ground_excess: float = 0.02  # m
    frozen_ratio: float = 0.5
    fast_ratio: float = 2.0
    contact_ratio: float = 0.5
    min_clips: int = 5

    def __post_init__(self) -> None:
        for key, v in asdict(self).items():
            if not (isinstance(v, (int, float)) and np.isfinite(v) and v >= 0):
                raise ValueError(f"PhysicalThresholds.{key} must be a finite number >= 0; got {v!r}")
        if not (0 < self.frozen_ratio < 1 < self.fast_ratio):
            raise ValueError("PhysicalThresholds needs 0 < frozen_ratio < 1 < fast_ratio; got "
                             f"{self.frozen_ratio} and {self.fast_ratio}")


def _strip(values: Mapping[str, Any]) -> dict[str, np.ndarray]:
    out = {}
    for key, v in values.items():
        name = key[5:] if key.startswith("phys_") else key
        out[name] = np.atleast_1d(np.asarray(v, dtype=np.float64))
    return out


@dataclass
class _Stat:
    gen_mean: float
    ref_mean: float
    ratio: float  # gen / ref; inf when ref is 0 and gen > 0; 1 when both are 0
    gen_n: int
    ref_n: int


def _stat(gen: np.ndarray, ref: np.ndarray) -> _Stat:
    g, r = gen[np.isfinite(gen)], ref[np.isfinite(ref)]
    gm = float(g.mean()) if g.size else float("nan")
    rm = float(r.mean()) if r.size else float("nan")
    if not (np.isfinite(gm) and np.isfinite(rm)):
        ratio = float("nan")
    elif rm == 0:
        ratio = 1.0 if gm == 0 else float("inf")
    else:
        ratio = gm / rm
    return _Stat(gm, rm, ratio, int(g.size), int(r.size))


def _beyond(gen: np.ndarray, ref: np.ndarray, ids: Sequence[str], high: bool) -> list[str]:
    """Ids of generated clips beyond the ground truth's range (above its max, or below its min), worst first."""
    r = ref[np.isfinite(ref)]
    if not r.size:
        return []
    with np.errstate(invalid="ignore"):
        mask = (gen > r.max()) if high else (gen < r.min())
    mask &= np.isfinite(gen)
    idx = np.flatnonzero(mask)
    order = idx[np.argsort(-gen[idx] if high else gen[idx], kind="stable")]
    return [ids[i] for i in order]


def _x(ratio: float) -> str:
    if not np.isfinite(ratio):
        return "inf" if ratio > 0 else "n/a"
    return f"{ratio:.2g}x" if ratio < 10 else f"{ratio:.0f}x"


def check_physical(generated: Mapping[str, Any], reference: Mapping[str, Any], *,
                   ids: Sequence[str] | None = None, thresholds: PhysicalThresholds | None = None,
                   variant: str | None = None, fps: float | None = None) -> list[Finding]:
    """Findings (check ``"physical"``) comparing per-clip physical metrics of generated motions with ground truth.

    ``generated`` / ``reference``: ``{metric: (N,) per-clip values}`` as :func:`~motioneval.metrics.physical.
    physical_metrics` returns (keys with or without the ``phys_`` prefix of ``physical_columns``), computed with
    the same variant, fps and unit. ``ids``: generated clip ids (default ``"0"``, ``"1"``, ...). Only metrics
    present on both sides are judged. Returns one finding per flagged group, or one ``ok`` finding with the
    ratios; plus an ``info`` finding for metrics with too few clips.
    """
    th = thresholds or PhysicalThresholds()
    gen, ref = _strip(generated), _strip(reference)
    n = max((len(v) for v in gen.values()), default=0)
    for key, v in gen.items():
        if len(v) != n:
            raise ValueError(f"generated physical values: metric {key!r} has {len(v)} clips, others {n}")
    row_ids = [str(i) for i in range(n)] if ids is None else [str(i) for i in ids]
    if len(row_ids) != n:
        raise ValueError(f"generated physical values: {n} clips but {len(row_ids)} ids")
    shared = [k for group in GROUPS.values() for k in group if k in gen and k in ref]
    setting = ", ".join(s for s in (f"variant {variant}" if variant else "",
                                    f"{fps:g} fps" if fps else "") if s)
    setting = f" ({setting})" if setting else ""
    if not shared:
        return [Finding(CHECK, "info", "no physical metrics to compare",
                        "Neither side has any of the physical metrics " + ", ".join(k for g in GROUPS.values() for k in g)
                        + ".")]
    stats = {k: _stat(gen[k], ref[k]) for k in shared}
    thin = [k for k, s in stats.items() if min(s.gen_n, s.ref_n) < th.min_clips]
    judged = {k: s for k, s in stats.items() if k not in thin}
    findings: list[Finding] = []

    def numbers(keys: Sequence[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k in keys:
            s = judged[k]
            out[f"{k} generated"] = s.gen_mean
            out[f"{k} ground truth"] = s.ref_mean
            out[f"{k} ratio"] = s.ratio
        return out

    # jitter
    jit = [k for k in GROUPS["jitter"] if k in judged]
    bad = [k for k in jit if judged[k].ratio >= th.jitter_ratio]
    if bad:
        head = "accel" if "accel" in bad else bad[0]
        worst = max(bad, key=lambda k: judged[k].ratio)
        parts = ", ".join(f"{k} {_x(judged[k].ratio)}" for k in jit)
        title = f"jitter {_x(judged[head].ratio)} ground truth" + (
            f" ({worst} {_x(judged[worst].ratio)})" if worst != head else "")
        local = [k for k in bad if k.endswith("_local")]
        explanation = (f"Joint acceleration/jerk of the generated clips is far above the ground truth's{setting}: "
                       f"{parts}. The motion shakes from frame to frame"
                       + (", also relative to the root (the body itself jitters, not only its trajectory)"
                          if local else "")
                       + ". The T2M evaluator barely penalizes jitter, so FID can look fine while motions look bad; "
                       "when FID is bad too, this is a likely cause.")
        findings.append(Finding(CHECK, "warning", title, explanation,
                                "Look at (render) the listed clips. Typical causes: too few diffusion/sampling steps, "
                                "no temporal smoothing of the decoder output, noise added in feature space, or "
                                "features de-normalized with the wrong statistics.",
                                numbers=numbers(jit), ids=_beyond(gen[head], ref[head], row_ids, True)))

    # skating
    sk = [k for k in GROUPS["skating"] if k in judged]
    excess = {"skate_speed": th.skate_speed_excess, "skate_ratio": th.skate_ratio_excess}
    bad = [k for k in sk if judged[k].ratio >= th.skate_ratio
           and judged[k].gen_mean - judged[k].ref_mean >= excess[k]]
    if bad:
        head = bad[0]
        s = judged[head]
        parts = "; ".join(f"{k} {judged[k].gen_mean:.3g} vs {judged[k].ref_mean:.3g} ({_x(judged[k].ratio)})"
                          for k in sk)
        findings.append(Finding(
            CHECK, "warning", f"foot skating {_x(s.ratio)} ground truth",
            f"Feet slide while they touch the floor much more than in the data{setting}: {parts} (skate_speed in "
            f"m/s during contact, skate_ratio the fraction of contact steps sliding faster than the variant's "
            f"threshold).",
            "Look at the listed clips. Foot sliding comes from root velocity and foot motion that disagree "
            "(e.g. noise in the root-velocity features or a model ignoring the foot-contact features); foot-contact "
            "losses or post-hoc foot locking reduce it.",
            numbers=numbers(sk), ids=_beyond(gen[head], ref[head], row_ids, True)))

    # floating and penetration
    for group, what, verb in (("floating", "above", "floats"), ("penetration", "below", "sinks into the floor")):
        if group not in judged:
            continue
        s = judged[group]
        far = s.gen_mean - s.ref_mean >= th.ground_excess and (s.ref_mean == 0 or s.ratio >= th.ground_ratio)
        if far:
            diff_cm = 100 * (s.gen_mean - s.ref_mean)
            findings.append(Finding(
                CHECK, "warning", f"{group} {diff_cm:.1f} cm more than ground truth" +
                (f" ({_x(s.ratio)})" if np.isfinite(s.ratio) else ""),
                f"The lowest joint is on average {100 * s.gen_mean:.1f} cm {what} the floor (ground truth "
                f"{100 * s.ref_mean:.1f} cm){setting}: the body {verb}.",
                "Check the root height (feature dim 3 of HumanML3D / KIT features) and the unit and floor of the "
                "joints; a wrong unit (cm vs m) or a lost root offset moves the whole body.",
                numbers=numbers([group]), ids=_beyond(gen[group], ref[group], row_ids, True)))

    # dynamics
    if "speed" in judged:
        s = judged["speed"]
        if s.ratio <= th.frozen_ratio:
            findings.append(Finding(
                CHECK, "warning", f"dynamics {_x(s.ratio)} ground truth: frozen motion?",
                f"Mean joint speed is {s.gen_mean:.3g} m/s against {s.ref_mean:.3g} m/s in the data{setting}. "
                f"Slow or nearly static motion has little jitter and skating, so low values elsewhere are not a "
                f"sign of quality here.",
                "Look at the listed clips: a model that collapsed to the mean pose, stops early, or was given far "
                "too short lengths moves too little.",
                numbers=numbers(["speed"]), ids=_beyond(gen["speed"], ref["speed"], row_ids, False)))
        elif s.ratio >= th.fast_ratio:
            findings.append(Finding(
                CHECK, "warning", f"dynamics {_x(s.ratio)} ground truth: faster than the data (noise?)",
                f"Mean joint speed is {s.gen_mean:.3g} m/s against {s.ref_mean:.3g} m/s in the data{setting}. "
                f"Frame-to-frame noise raises the speed too; compare with the jitter numbers.",
                "Look at the listed clips; check the frame rate the motions were generated at (a 30 fps model "
                "evaluated as 20 fps looks slower, the reverse faster).",
                numbers=numbers(["speed"]), ids=_beyond(gen["speed"], ref["speed"], row_ids, True)))

    # contact
    if "contact" in judged and judged["contact"].ratio <= th.contact_ratio:
        s = judged["contact"]
        findings.append(Finding(
            CHECK, "warning", f"foot contact {_x(s.ratio)} ground truth: feet rarely touch the floor",
            f"A foot is on the floor in {100 * s.gen_mean:.0f}% of foot-steps against {100 * s.ref_mean:.0f}% in the "
            f"data{setting}.",
            "Check floating (the body may hover) and the floor height and unit of the joints.",
            numbers=numbers(["contact"]), ids=_beyond(gen["contact"], ref["contact"], row_ids, False)))

    if not findings and judged:
        findings.append(Finding(
            CHECK, "ok", "physical metrics close to ground truth",
            f"Jitter, foot skating, floating, penetration, dynamics and contact of the generated clips are within "
            f"the thresholds of the ground truth's{setting}: " + ", ".join(f"{k} {_x(s.ratio)}"
                                                                            for k, s in judged.items()) + ".",
            numbers={f"{k} ratio": s.ratio for k, s in judged.items()}))
    if thin:
        findings.append(Finding(
            CHECK, "info", f"{len(thin)} physical metric(s) not judged: too few clips with a value",
            f"{', '.join(thin)} had fewer than {th.min_clips} clips with a value on one side (e.g. skating needs "
            f"floor contact).", numbers={f"{k} clips": min(stats[k].gen_n, stats[k].ref_n) for k in thin}))
    return findings


def physical_findings(motions: Any, lengths: Any, reference: Any, reference_lengths: Any, *,
                      kind: str = "features", normalization: str = "raw", stats: Any = None,
                      reference_kind: str = "features", reference_normalization: str = "raw",
                      reference_stats: Any = None, ids: Sequence[str] | None = None, fps: float | None = None,
                      variant: Any = None, skeleton: Any = None,
                      thresholds: PhysicalThresholds | None = None) -> list[Finding]:
    """:func:`check_physical` of generated ``motions`` against ``reference`` (ground-truth) motions.

    ``reference`` may also be a list of clips (each ``(T_i, D)`` or ``(T_i, J, 3)``; ``reference_lengths`` then
    ``None``: every frame counts).

    Both go through :func:`motioneval.data.physical.physical_columns_for_motions` with the same ``fps`` (default
    the skeleton's: HumanML3D 20, KIT-ML 12.5), ``variant`` and ``skeleton``: ``(N, T, D)`` features
    (``normalization`` "raw", or "dataset"/"evaluator" with ``stats``) or ``(N, T, J, 3)`` joints
    (``kind="joints"``), with ``(N,)`` lengths.
    """
    from ..data.physical import physical_columns_for_motions
    from ..metrics.physical import get_variant

    cfg = get_variant(variant)
    if isinstance(reference, (list, tuple)):  # a list of clips (T_i, D) or (T_i, J, 3): pad them
        reference, reference_lengths = _pad_clips(reference, reference_lengths)
    gen = physical_columns_for_motions(motions, lengths, kind=kind, normalization=normalization, stats=stats,
                                       fps=fps, skeleton=skeleton, variant=cfg)
    ref = physical_columns_for_motions(reference, reference_lengths, kind=reference_kind,
                                       normalization=reference_normalization, stats=reference_stats, fps=fps,
                                       skeleton=skeleton, variant=cfg)
    return check_physical(gen, ref, ids=ids, thresholds=thresholds, variant=cfg.name, fps=fps)


def _pad_clips(clips: Sequence[Any], lengths: Any) -> tuple[np.ndarray, np.ndarray]:
    if not clips:
        raise ValueError("no reference clips to compare with")
    arrays = [np.asarray(c, dtype=np.float64) for c in clips]
    lens = np.array([len(a) for a in arrays], np.int64) if lengths is None else np.asarray(lengths, np.int64)
    out = np.zeros((len(arrays), int(lens.max())) + arrays[0].shape[1:], np.float64)
    for i, (a, n) in enumerate(zip(arrays, lens)):
        if a.shape[1:] != arrays[0].shape[1:]:
            raise ValueError(f"reference clip {i} has shape {a.shape}; the first has {arrays[0].shape}")
        out[i, :n] = a[:n]
    return out, lens


def samples_physical_findings(motions: Any, lengths: Any, ids: Sequence[str], *, kind: str,
                              chain: Sequence[str] = (), stats: Mapping[str, Any] | None = None,
                              reference_clips: Sequence[Any] = (), variant: Any = None, fps: float | None = None,
                              thresholds: PhysicalThresholds | None = None) -> list[Finding]:
    """The doctor's ``physical`` check on a sample set: ``motions`` are joints (``kind="joints"``) or features that
    the normalization ``chain`` (steps applied to raw features, e.g. ``("dataset",)``, undone in reverse with
    ``stats[step].denormalize``) turns back into raw features; ``reference_clips`` are raw ground-truth feature
    clips of the dataset. Without a reference, or without the statistics the chain needs, an ``info`` finding says
    why nothing was compared."""
    if not len(reference_clips):
        return [Finding(CHECK, "info", "physical metrics not compared",
                        "No ground-truth clips to compare with (the dataset folder's test.txt and new_joint_vecs/).",
                        "Pass --dataset DIR to compare jitter, foot skating, floating and dynamics with the data.")]
    x = np.asarray(motions, dtype=np.float64)
    if kind == "features":
        missing = [step for step in chain if step not in (stats or {})]
        if missing:
            return [Finding(CHECK, "info", "physical metrics not computed",
                            f"The samples are {'+'.join(chain)}-normalized and the {', '.join(missing)} statistics "
                            f"are missing, so they cannot be turned back into raw features and joints.",
                            "Pass --dataset DIR and --evaluator DIR (their statistics files).")]
        for step in reversed(tuple(chain)):
            x = np.asarray((stats or {})[step].denormalize(x), dtype=np.float64)
    try:
        return physical_findings(x, lengths, list(reference_clips), None, kind=kind, ids=ids, fps=fps,
                                 variant=variant, thresholds=thresholds)
    except ValueError as exc:
        return [Finding(CHECK, "info", "physical metrics not computed", f"{exc}.",
                        "Check the samples' feature dimension or joint count against the dataset.")]
