"""Physical plausibility of joint positions: foot skating, floating, penetration, jitter, dynamics.

Inputs are joint positions ``(T, J, 3)`` or padded batches ``(N, T, J, 3)`` with ``lengths``, **y up**, in
metres (``unit=`` converts cm/mm explicitly: KIT-ML positions are in millimetres, pass ``unit="mm"``),
sampled at an explicit ``fps``. Every value is per clip; every rate is per second, so values at different
frame rates are comparable. Frames past a clip's length are ignored. Foot joints come from the skeleton
(``Skeleton.left_foot_joints``/``right_foot_joints``, ankle then toe; the toe is the last of each), never
from indices written here.

With ``p[t, j]`` the position of joint ``j`` at frame ``t`` (``t < L``), ``dt = 1 / fps``, ``g`` the floor
height and ``h = y - g``:

=================  ==========================================================================  =========
``skate_speed``    mean over contact steps (foot, t) of the foot's speed ``|p[t+1] - p[t]| / dt``    m/s
                   (horizontal x/z by default); a step is in contact when the foot is below
                   ``contact_height`` (at both frames, or at frame ``t``; see ``contact_frames``);
                   ``skate_speed_over="steps"``: over all steps, non-contact ones as zero
``skate_ratio``    skating steps / contact steps (or / all steps, ``ratio_over="steps"``); a step    1
                   skates when its speed, and its ``skate_window``-frame moving average, exceed
                   ``skate_threshold``
``contact``        contact steps / (feet * (L - 1)), with the ``skate_ratio`` contact rule         1
``floating``       mean over frames of ``max(0, min_j h[t, j] - float_tolerance)``                   m
``penetration``    mean over frames of ``max(0, -min_j h[t, j] - penetration_tolerance)``            m
``accel``          mean over (t, j) of ``|p[t+1] - 2 p[t] + p[t-1]| / dt^2``                          m/s^2
``jerk``           mean over (t, j) of ``|p[t+2] - 3 p[t+1] + 3 p[t] - p[t-1]| / dt^3``               m/s^3
``accel_local``,   the same on root-relative positions ``p[t, j] - p[t, 0]``, joints ``1..J-1``     m/s^2,
``jerk_local``     (jitter of the body without the trajectory)                                      m/s^3
``speed``          mean over (t, j) of ``|p[t+1] - p[t]| / dt`` (dynamics; compare with ground      m/s
                   truth, do not minimize)
=================  ==========================================================================  =========

A value is NaN when the clip has too few frames (speed/skating: 2, accel: 3, jerk: 4) or, for
``skate_speed`` and a contact-step ``skate_ratio``, no contact step (a clip that never touches the floor
has no skating speed); aggregate with ``nanmean``. Finite-difference factors: for
``p(t) = A (cos wt, 0, sin wt)`` the second difference is exactly ``4 sin^2(w dt / 2) A / dt^2`` in
magnitude and the third ``8 sin^3(w dt / 2) A / dt^3`` (the continuous values are ``w^2 A`` and ``w^3 A``).

The named settings (:data:`VARIANTS`) reproduce published rules on joints; each states its source and
what differs. Numpy only; torch tensors are accepted and converted.
"""
from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._arrays import to_numpy
from .._checks import check_scalar

__all__ = [
    "METRICS",
    "VARIANTS",
    "MetricInfo",
    "PhysicalConfig",
    "floor_heights",
    "foot_joint_indices",
    "get_variant",
    "physical_columns",
    "physical_metrics",
    "resample_joints",
    "to_metres",
]

_UNITS = {"m": 1.0, "dm": 0.1, "cm": 0.01, "mm": 0.001}


# ------------------------------------------------------------------------------------------ configuration
@dataclass(frozen=True)
class PhysicalConfig:
    """Every rule and threshold of the physical metrics (lengths in metres, speeds in m/s).

    - ``contact_joints``: ``"toes"`` (the last foot joint of each side: HumanML3D 10/11, KIT 20/15),
      ``"feet"`` (ankles and toes) or ``"lowest"`` (at each step, the joint lowest at its first frame).
    - ``contact_height`` (0.05 m): a foot joint is low enough for contact when ``h < contact_height``.
    - ``contact_frames``: ``"both"`` (frames ``t`` and ``t+1`` low, the default) or ``"first"`` (frame ``t``).
    - ``ratio_contact_frames`` (None: as ``contact_frames``): the contact rule of ``skate_ratio`` (and
      ``contact``) when it differs from that of ``skate_speed``.
    - ``contact_speed`` (None): if set, a contact step also needs speed ``< contact_speed``.
    - ``skate_horizontal`` (True): foot speed on the floor plane (x, z); False: full 3-D speed.
    - ``skate_threshold`` (0.2 m/s) and ``skate_window`` (1 frame: no smoothing): see ``skate_ratio``. The
      moving average is centred (frames ``t - w//2 .. t + (w-1)//2``) and counts steps outside the clip as
      zero speed.
    - ``skate_speed_over``: ``"contact"`` (mean over contact steps) or ``"steps"`` (mean over all steps
      and contact feet, non-contact steps counting as zero speed).
    - ``ratio_over``: ``"contact"`` (skating / contact steps, per foot) or ``"steps"`` (steps where any foot
      skates / all ``L - 1`` steps).
    - ``floor``: a height in metres (default 0.0: the datasets put the floor at y = 0), ``"clip"`` (each
      clip's lowest joint height over its frames) or ``"dataset"`` (the median over the clips passed of
      their lowest joint heights).
    - ``ground_joints``: ``"all"`` (the body's lowest joint) or ``"feet"`` for floating/penetration.
    - ``float_tolerance`` / ``penetration_tolerance`` (0.0 m): floating / penetration count only what
      exceeds them.
    """

    name: str = "default"
    contact_joints: str = "toes"
    contact_height: float = 0.05
    contact_frames: str = "both"
    ratio_contact_frames: str | None = None
    contact_speed: float | None = None
    skate_horizontal: bool = True
    skate_threshold: float = 0.2
    skate_window: int = 1
    skate_speed_over: str = "contact"
    ratio_over: str = "contact"
    floor: float | str = 0.0
    ground_joints: str = "all"
    float_tolerance: float = 0.0
    penetration_tolerance: float = 0.0
    source: str = "motioneval"
    notes: str = ""

    def __post_init__(self) -> None:
        choices = {"contact_joints": ("toes", "feet", "lowest"), "contact_frames": ("both", "first"),
                   "skate_speed_over": ("contact", "steps"),
                   "ratio_contact_frames": (None, "both", "first"),
                   "ratio_over": ("contact", "steps"), "ground_joints": ("all", "feet")}
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise ValueError(f"PhysicalConfig.{key} must be one of {allowed}; got {getattr(self, key)!r}")
        if isinstance(self.floor, str):
            if self.floor not in ("clip", "dataset"):
                raise ValueError(f"PhysicalConfig.floor must be a height in metres, 'clip' or 'dataset'; "
                                 f"got {self.floor!r}")
        elif not np.isfinite(float(self.floor)):
            raise ValueError(f"PhysicalConfig.floor must be finite; got {self.floor!r}")
        for key in ("contact_height", "skate_threshold", "float_tolerance", "penetration_tolerance"):
            v = getattr(self, key)
            if not (np.isfinite(v) and v >= 0):
                raise ValueError(f"PhysicalConfig.{key} must be a finite number >= 0; got {v!r}")
        if self.contact_speed is not None and not (np.isfinite(self.contact_speed) and self.contact_speed > 0):
            raise ValueError(f"PhysicalConfig.contact_speed must be None or > 0; got {self.contact_speed!r}")
        if isinstance(self.skate_window, bool) or not isinstance(self.skate_window, int) or self.skate_window < 1:
            raise ValueError(f"PhysicalConfig.skate_window must be an integer >= 1; got {self.skate_window!r}")

    def replace(self, **changes: Any) -> PhysicalConfig:
        """A copy with some fields changed (the name gets a ``+custom`` suffix unless given)."""
        if "name" not in changes and changes:
            changes["name"] = self.name if self.name.endswith("+custom") else f"{self.name}+custom"
        return dataclasses.replace(self, **changes)


VARIANTS: dict[str, PhysicalConfig] = {
    "default": PhysicalConfig(
        source="motioneval",
        notes="Toe joints, contact below 5 cm at both frames of a step, horizontal speed, skating above "
              "0.2 m/s, ratio over contact steps; floor y = 0 (the datasets' convention); floating and "
              "penetration of the lowest joint."),
    "kimodo": PhysicalConfig(
        name="kimodo", contact_joints="toes", contact_height=0.05, contact_frames="first",
        ratio_contact_frames="both",
        skate_horizontal=False, skate_threshold=0.2, skate_window=1, ratio_over="contact", floor=0.0,
        source="Kimodo (nv-tlabs/kimodo, kimodo/metrics/foot_skate.py: FootSkateFromHeight, FootSkateRatio)",
        notes="skate_speed is FootSkateFromHeight: mean 3-D toe speed over steps whose first frame has the "
              "toe below 5 cm (y = 0 floor). skate_ratio is FootSkateRatio, whose contact needs both frames "
              "below 5 cm and skating means 3-D speed > 0.2 m/s (ratio_contact_frames='both'; the contact "
              "column uses that rule too). Kimodo divides by (contacts + 1e-6), giving 0 for a clip without contact; here NaN."),
    "motionlcm": PhysicalConfig(
        name="motionlcm", contact_joints="toes", contact_height=0.05, contact_frames="both",
        skate_horizontal=True, skate_threshold=0.5, skate_window=5, ratio_over="steps", floor=0.0,
        source="MotionLCM (Dai-Wenxun/MotionLCM, mld/models/metrics/utils.py: calculate_skating_ratio; "
               "from GMD / OmniControl)",
        notes="Skate ratio: steps where either toe is below 5 cm at both frames and its horizontal speed "
              "and its 5-frame centred moving average (zero outside the clip) both exceed 0.5 m/s, over "
              "the L - 1 steps of the clip (the original divides by the padded batch length and averages "
              "across padding; on KIT-ML it applies the metre thresholds to millimetre positions, here "
              "positions are converted to metres first). skate_speed, floating, jitter are motioneval's definitions."),
    "physdiff-joints": PhysicalConfig(
        name="physdiff-joints", contact_joints="lowest", contact_height=0.005, contact_frames="both",
        skate_horizontal=True, skate_speed_over="steps", skate_threshold=0.2, ratio_over="contact", floor=0.0,
        ground_joints="all", float_tolerance=0.005, penetration_tolerance=0.005,
        source="PhysDiff (Yuan et al., ICCV 2023) Penetrate / Float / Skate, as computed on joints by public "
               "reimplementations (functions calculate_penetration, calculate_floating, calculate_foot_sliding "
               "'based on PhysDiff's implementation'); PhysDiff's own evaluation code is not public",
        notes="Per frame the lowest joint: penetration = max(0, -(h + 5 mm)), floating = max(0, h - 5 mm). "
              "Skate: at each step the joint lowest at frame t is in contact if it is below 5 mm at t and "
              "t + 1 (the reimplementation uses <=); its horizontal displacement counts, other steps count "
              "zero, averaged over all steps. Those report mm and mm per frame: multiply floating and "
              "penetration by 1000, skate_speed by 1000 / fps, and they pool frames over all clips where "
              "this is per clip. PhysDiff itself measures the lowest SMPL mesh vertex, not joints (joint "
              "centres sit a few cm above the skin: more floating, less penetration and contact). "
              "skate_ratio (0.2 m/s over contact steps) is motioneval's addition."),
}


def get_variant(variant: str | PhysicalConfig | None) -> PhysicalConfig:
    """The named setting (see :data:`VARIANTS`), or the config itself."""
    if variant is None:
        return VARIANTS["default"]
    if isinstance(variant, PhysicalConfig):
        return variant
    try:
        return VARIANTS[variant]
    except KeyError:
        raise ValueError(f"unknown physical-metrics variant {variant!r}; choose one of {sorted(VARIANTS)} "
                         f"or pass a PhysicalConfig") from None


@dataclass(frozen=True)
class MetricInfo:
    """Catalog entry of a per-clip physical metric."""

    key: str
    label: str
    unit: str
    direction: str  # "lower" | "higher" | "closer-to-ground-truth"
    description: str


METRICS: dict[str, MetricInfo] = {m.key: m for m in (
    MetricInfo("skate_speed", "Foot skate speed", "m/s", "lower",
               "mean foot speed during floor contact"),
    MetricInfo("skate_ratio", "Foot skate ratio", "fraction", "lower",
               "fraction of contact steps (or of all steps) whose foot slides faster than the threshold"),
    MetricInfo("contact", "Foot contact", "fraction", "closer-to-ground-truth",
               "fraction of foot steps in floor contact"),
    MetricInfo("floating", "Floating", "m", "lower", "mean height of the lowest joint above the floor"),
    MetricInfo("penetration", "Penetration", "m", "lower", "mean depth of the lowest joint below the floor"),
    MetricInfo("accel", "Acceleration (jitter)", "m/s^2", "lower", "mean joint acceleration magnitude"),
    MetricInfo("jerk", "Jerk (jitter)", "m/s^3", "lower", "mean joint jerk magnitude"),
    MetricInfo("accel_local", "Root-relative acceleration", "m/s^2", "lower",
               "mean acceleration of root-relative joint positions"),
    MetricInfo("jerk_local", "Root-relative jerk", "m/s^3", "lower",
               "mean jerk of root-relative joint positions"),
    MetricInfo("speed", "Mean joint speed (dynamics)", "m/s", "closer-to-ground-truth",
               "mean joint speed; compare with ground truth, frozen motion scores zero jitter"),
)}


# ------------------------------------------------------------------------------------------ helpers
def to_metres(joints: Any, unit: str) -> np.ndarray:
    """Joint positions in ``unit`` (``"m"``, ``"dm"``, ``"cm"``, ``"mm"``) converted to metres (float64)."""
    if unit not in _UNITS:
        raise ValueError(f"unit must be one of {sorted(_UNITS)}; got {unit!r}")
    return to_numpy(joints).astype(np.float64) * _UNITS[unit]


def foot_joint_indices(skeleton: Any, which: str = "toes") -> tuple[int, ...]:
    """Foot joints of ``skeleton`` (``left_foot_joints``/``right_foot_joints``, ankle then toe).

    ``"toes"``: the last joint of each side (HumanML3D ``(10, 11)``, KIT ``(20, 15)``); ``"feet"``: all.
    """
    left, right = tuple(skeleton.left_foot_joints), tuple(skeleton.right_foot_joints)
    if which == "toes":
        return (left[-1], right[-1])
    if which == "feet":
        return left + right
    raise ValueError(f"which must be 'toes' or 'feet'; got {which!r}")


def _default_skeleton(num_joints: int) -> Any:
    # representation.skeleton is numpy-only; imported lazily so that the numeric core has no import-time
    # dependency on the representation layer.
    from ..representation.skeleton import skeleton_for_joints

    return skeleton_for_joints(num_joints, hint=" (any object with num_joints, left_foot_joints and "
                                                "right_foot_joints)")


def _as_batch(joints: Any, lengths: Any | None, unit: str) -> tuple[np.ndarray, np.ndarray, bool]:
    arr = to_numpy(joints)
    if arr.ndim not in (3, 4) or arr.shape[-1] != 3:
        raise ValueError(f"joints must have shape (T, J, 3) or (N, T, J, 3) with y up; got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"joints must be numeric; got dtype {arr.dtype}")
    single = arr.ndim == 3
    if single:
        arr = arr[None]
    if unit not in _UNITS:
        raise ValueError(f"unit must be one of {sorted(_UNITS)}; got {unit!r}")
    n, t_max = arr.shape[:2]
    if lengths is None:
        lens = np.full(n, t_max, np.int64)
    else:
        raw = to_numpy(lengths).reshape(-1) if np.ndim(to_numpy(lengths)) else to_numpy(lengths).reshape(1)
        if raw.shape != (n,):
            raise ValueError(f"lengths must hold one frame count per clip ({n}); got shape {raw.shape}")
        if raw.dtype == bool or not np.issubdtype(raw.dtype, np.number) or np.any(raw != np.round(raw)):
            raise ValueError(f"lengths must be whole frame counts; got {raw[:5]}")
        lens = raw.astype(np.int64)
        bad = np.flatnonzero((lens < 1) | (lens > t_max))
        if bad.size:
            raise ValueError(f"lengths must lie in [1, {t_max}] (the frames stored); clip {int(bad[0])} has "
                             f"{int(lens[bad[0]])}" + (f" ({bad.size} clips in all)" if bad.size > 1 else ""))
    return arr, lens, single


def floor_heights(joints: Any, lengths: Any | None = None, floor: float | str = 0.0, *,
                  unit: str = "m") -> np.ndarray:
    """Per-clip floor height ``(N,)`` in metres: a given height, ``"clip"`` or ``"dataset"`` (see PhysicalConfig)."""
    arr, lens, _ = _as_batch(joints, lengths, unit)
    n = arr.shape[0]
    if not isinstance(floor, str):
        return np.full(n, float(floor))
    if floor not in ("clip", "dataset"):
        raise ValueError(f"floor must be a height in metres, 'clip' or 'dataset'; got {floor!r}")
    valid = np.arange(arr.shape[1])[None, :] < lens[:, None]
    y = np.where(valid[:, :, None], arr[..., 1].astype(np.float64) * _UNITS[unit], np.inf)
    lowest = y.min(axis=(1, 2))
    if floor == "clip":
        return np.asarray(lowest)
    return np.full(n, float(np.median(lowest)))


# ------------------------------------------------------------------------------------------ metrics
def physical_metrics(joints: Any, fps: float, lengths: Any | None = None, *,
                     variant: str | PhysicalConfig | None = None, skeleton: Any = None, unit: str = "m",
                     floor: float | str | np.ndarray | None = None,
                     chunk_size: int = 64) -> dict[str, np.ndarray | float]:
    """Per-clip physical metrics of joint positions (see the module docstring for every definition).

    ``joints``: ``(T, J, 3)`` or padded ``(N, T, J, 3)``, y up, in ``unit``; ``lengths``: ``(N,)`` frame
    counts (default: all frames); ``fps``: frames per second of ``joints`` (required: rates are per second).
    ``variant``: a name in :data:`VARIANTS` or a :class:`PhysicalConfig`. ``skeleton``: anything with
    ``num_joints``, ``left_foot_joints``, ``right_foot_joints`` (default by joint count: 22 HumanML3D,
    21 KIT-ML). ``floor`` overrides the variant's floor (a height, ``"clip"``, ``"dataset"`` or an ``(N,)``
    array of per-clip heights in metres). Returns ``{metric: (N,) float64}`` (floats for a single clip).
    """
    cfg = get_variant(variant)
    if not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number (frames per second of the joints); got {fps!r}")
    arr, lens, single = _as_batch(joints, lengths, unit)
    n, num_joints = arr.shape[0], arr.shape[2]
    skel = skeleton if skeleton is not None else _default_skeleton(num_joints)
    if getattr(skel, "num_joints", num_joints) != num_joints:
        raise ValueError(f"joints have {num_joints} joints but skeleton {getattr(skel, 'name', skel)!r} has "
                         f"{skel.num_joints}")
    contact_idx = (None if cfg.contact_joints == "lowest"
                   else np.array(foot_joint_indices(skel, cfg.contact_joints)))
    ground_idx = None if cfg.ground_joints == "all" else np.array(foot_joint_indices(skel, "feet"))

    chosen = cfg.floor if floor is None else floor
    if isinstance(chosen, np.ndarray) and chosen.ndim == 1:
        if chosen.shape != (n,):
            raise ValueError(f"a per-clip floor must have shape ({n},); got {chosen.shape}")
        floors = chosen.astype(np.float64)
    else:
        floors = floor_heights(arr, lens, chosen, unit=unit)  # type: ignore[arg-type]

    check_scalar(chunk_size, "chunk_size", numbers.Integral, min_val=1)
    out = {k: np.empty(n, np.float64) for k in METRICS}
    scale = _UNITS[unit]
    for lo in range(0, n, chunk_size):
        hi = min(lo + chunk_size, n)
        t_chunk = int(lens[lo:hi].max())
        # coordinate planes (3, n, T, J): x, y, z each contiguous, for fast differences and norms
        p = np.ascontiguousarray(np.moveaxis(arr[lo:hi, :t_chunk], -1, 0), dtype=np.float64)
        if scale != 1.0:
            p *= scale
        valid = np.arange(t_chunk)[None, :] < lens[lo:hi, None]
        finite = np.isfinite(p).all(axis=(0, 3)) | ~valid
        if not finite.all():
            bad = lo + int(np.flatnonzero(~finite.all(axis=1))[0])
            raise ValueError(f"clip {bad} has NaN or Inf joint positions within its length; regenerate or drop it")
        p[:, ~valid] = 0.0
        part = _chunk_metrics(p, lens[lo:hi], float(fps), cfg, contact_idx, ground_idx, floors[lo:hi])
        for k, v in part.items():
            out[k][lo:hi] = v
    if single:
        return {k: float(v[0]) for k, v in out.items()}
    return out  # type: ignore[return-value]


def _masked_mean(values: np.ndarray, mask: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    total = np.where(mask, values, 0.0).sum(axis=axes)
    count = mask.sum(axis=axes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _norm(x: np.ndarray) -> np.ndarray:
    """Euclidean norm over the leading coordinate axis of ``x (3, ...)``."""
    out = np.multiply(x[0], x[0])
    tmp = np.multiply(x[1], x[1])
    out += tmp
    np.multiply(x[2], x[2], out=tmp)
    out += tmp
    return np.asarray(np.sqrt(out, out=out))


def _chunk_metrics(p: np.ndarray, lens: np.ndarray, fps: float, cfg: PhysicalConfig, contact_idx: np.ndarray | None,
                   ground_idx: np.ndarray | None, floors: np.ndarray) -> dict[str, np.ndarray]:
    """Metrics of one padded chunk of coordinate planes ``p (3, n, T, J)`` (float64, zero past lengths)."""
    n, t_max = p.shape[1:3]
    frames = np.arange(t_max)
    m0 = frames[None, :] < lens[:, None]  # (n, T) valid frames
    m1 = frames[None, : max(t_max - 1, 0)] < (lens[:, None] - 1)  # valid steps t -> t+1
    m2 = frames[None, : max(t_max - 2, 0)] < (lens[:, None] - 2)  # valid second differences
    m3 = frames[None, : max(t_max - 3, 0)] < (lens[:, None] - 3)  # valid third differences
    res: dict[str, np.ndarray] = {}

    # dynamics and jitter (global, then root-relative)
    d1 = p[:, :, 1:] - p[:, :, :-1]  # (3, n, T-1, J)
    res["speed"] = _mean_over_joints(_norm(d1), m1, n) * fps
    d2 = d1[:, :, 1:] - d1[:, :, :-1]
    res["accel"] = _mean_over_joints(_norm(d2), m2, n) * fps ** 2
    d3 = d2[:, :, 1:] - d2[:, :, :-1]
    res["jerk"] = _mean_over_joints(_norm(d3), m3, n) * fps ** 3
    # root-relative: differences of p[j] - p[0] are the differences of p[j] minus those of the root
    res["accel_local"] = _mean_over_joints(_norm(d2[..., 1:] - d2[..., :1]), m2, n) * fps ** 2
    res["jerk_local"] = _mean_over_joints(_norm(d3[..., 1:] - d3[..., :1]), m3, n) * fps ** 3
    del d2, d3

    # floor contact and skating
    height = p[1] - floors[:, None, None]  # (n, T, J)
    if contact_idx is None:  # the joint lowest at the first frame of each step, followed to the next frame
        k = np.argmin(height[:, :-1], axis=2)[:, :, None]  # (n, T-1, 1)
        low_t = np.take_along_axis(height[:, :-1], k, axis=2) < cfg.contact_height
        low_t1 = np.take_along_axis(height[:, 1:], k, axis=2) < cfg.contact_height
        step = np.stack([np.take_along_axis(d1[c], k, axis=2) for c in range(3)])  # (3, n, T-1, 1)
    else:
        low = height[:, :, contact_idx] < cfg.contact_height  # (n, T, F)
        low_t, low_t1 = low[:, :-1], low[:, 1:]
        step = d1[:, :, :, contact_idx]  # (3, n, T-1, F)
    num_feet = step.shape[-1]
    if cfg.skate_horizontal:
        foot_speed = np.sqrt(step[0] ** 2 + step[2] ** 2) * fps
    else:
        foot_speed = _norm(step) * fps
    def contact_steps(rule: str) -> np.ndarray:
        c = low_t & low_t1 if rule == "both" else low_t.copy()
        if cfg.contact_speed is not None:
            c &= foot_speed < cfg.contact_speed
        return c & m1[:, :, None]

    contact = contact_steps(cfg.contact_frames)
    n_contact = contact.sum(axis=(1, 2))
    steps = np.maximum(lens - 1, 0)
    moving = np.where(contact, foot_speed, 0.0).sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        if cfg.skate_speed_over == "contact":
            res["skate_speed"] = np.where(n_contact > 0, moving / np.maximum(n_contact, 1), np.nan)
        else:
            res["skate_speed"] = np.where(steps > 0, moving / np.maximum(num_feet * steps, 1), np.nan)
    rule = cfg.ratio_contact_frames or cfg.contact_frames
    if rule != cfg.contact_frames:
        contact = contact_steps(rule)
        n_contact = contact.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        res["contact"] = np.where(steps > 0, n_contact / np.maximum(num_feet * steps, 1), np.nan)
    fast = foot_speed > cfg.skate_threshold
    if cfg.skate_window > 1:
        smoothed = _moving_average(np.where(m1[:, :, None], foot_speed, 0.0), cfg.skate_window)
        fast &= smoothed > cfg.skate_threshold
    skating = contact & fast
    with np.errstate(invalid="ignore", divide="ignore"):
        if cfg.ratio_over == "contact":
            res["skate_ratio"] = np.where(n_contact > 0, skating.sum(axis=(1, 2)) / np.maximum(n_contact, 1),
                                          np.nan)
        else:
            res["skate_ratio"] = np.where(steps > 0, skating.any(axis=2).sum(axis=1) / np.maximum(steps, 1),
                                          np.nan)
    if t_max < 2:
        res["skate_speed"][:] = np.nan
        res["skate_ratio"][:] = np.nan

    # floating and penetration of the lowest (ground) joint
    ground_h = height if ground_idx is None else height[:, :, ground_idx]
    lowest = ground_h.min(axis=2)  # (n, T)
    res["floating"] = _masked_mean(np.maximum(lowest - cfg.float_tolerance, 0.0), m0, (1,))
    res["penetration"] = _masked_mean(np.maximum(-lowest - cfg.penetration_tolerance, 0.0), m0, (1,))
    return res


def _mean_over_joints(values: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    """Mean of ``values (n, K, J)`` over the valid ``K`` (``mask (n, K)``) and all joints; NaN if none."""
    if values.shape[1] == 0:
        return np.full(n, np.nan)
    per_frame = values.sum(axis=2) / values.shape[2]
    return _masked_mean(per_frame, mask, (1,))


def _moving_average(x: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average along axis 1 over frames ``t - w//2 .. t + (w-1)//2``, zeros outside."""
    before, after = window // 2, (window - 1) // 2
    pad = [(0, 0)] * x.ndim
    pad[1] = (before + 1, after)
    c = np.cumsum(np.pad(x, pad), axis=1)
    length = x.shape[1]
    return np.asarray((c[:, window: window + length] - c[:, :length]) / window)


# ------------------------------------------------------------------------------------------ columns
def physical_columns(joints: Any, lengths: Any | None, fps: float, variant: str | PhysicalConfig | None = None,
                     **kwargs: Any) -> dict[str, np.ndarray]:
    """Per-clip values ``{"phys_<metric>": (N,)}`` for a results table; see :data:`METRICS` for labels,
    units and directions (``METRICS[key]`` with the ``phys_`` prefix removed)."""
    values = physical_metrics(joints, fps, lengths, variant=variant, **kwargs)
    return {f"phys_{k}": np.atleast_1d(np.asarray(v, np.float64)) for k, v in values.items()}


# ------------------------------------------------------------------------------------------ resampling
def resample_joints(joints: Any, fps: float, target_fps: float, lengths: Any | None = None, *,
                    method: str = "linear") -> tuple[np.ndarray, np.ndarray]:
    """Resample ``(T, J, 3)`` / ``(N, T, J, 3)`` joints from ``fps`` to ``target_fps`` (float64).

    A clip of ``L`` frames spans ``(L - 1) / fps`` seconds; it becomes ``floor((L - 1) * target / fps) + 1``
    frames at times ``k / target_fps``. ``method``: ``"linear"`` (exact for constant velocity) or ``"cubic"``
    (not-a-knot cubic spline via scipy, exact for cubic trajectories; needs 4 frames, else linear).
    Returns ``(joints, lengths)``; batches are zero-padded past each new length.
    """
    for name, v in (("fps", fps), ("target_fps", target_fps)):
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be a positive number; got {v!r}")
    if method not in ("linear", "cubic"):
        raise ValueError(f"method must be 'linear' or 'cubic'; got {method!r}")
    arr, lens, single = _as_batch(joints, lengths, "m")
    arr = arr.astype(np.float64)
    ratio = float(target_fps) / float(fps)
    new_lens = np.floor((lens - 1) * ratio + 1e-9).astype(np.int64) + 1
    t_new = int(new_lens.max())
    out = np.zeros((arr.shape[0], t_new) + arr.shape[2:], np.float64)
    for i, (length, new_length) in enumerate(zip(lens, new_lens)):
        src = arr[i, :length]
        s = np.arange(new_length) / ratio  # source frame coordinate of each new frame
        s = np.minimum(s, length - 1)
        if length == 1:
            out[i, :new_length] = src[0]
        elif method == "cubic" and length >= 4:
            from scipy.interpolate import CubicSpline

            out[i, :new_length] = CubicSpline(np.arange(length), src, axis=0)(s)
        else:
            i0 = np.minimum(np.floor(s).astype(np.int64), length - 2)
            w = (s - i0)[:, None, None]
            out[i, :new_length] = src[i0] * (1 - w) + src[i0 + 1] * w
    if single:
        return out[0], new_lens[:1]
    return out, new_lens
