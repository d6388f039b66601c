"""Per-sample value checks: NaN/Inf, physically impossible magnitudes, lengths outside the protocol's bounds."""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .findings import Finding

#: a feature further than this many dataset standard deviations from the dataset mean is impossible for a
#: human motion (e.g. 100 std of joint velocity is ~39 m/s; of root height ~15 m). A real clip reaches ~25.
FEATURE_Z_LIMIT = 100.0
#: a joint further than this many figure heights from the root is not a body (limbs reach ~0.65 heights)
JOINT_REACH_LIMIT = 2.0


def _valid_mask(lengths: np.ndarray, t_max: int) -> np.ndarray:
    return np.arange(t_max)[None, :] < lengths[:, None]


def _clip_lengths(lengths: np.ndarray, t_max: int) -> np.ndarray:
    return np.clip(lengths, 0, t_max)


def check_finite(motions: np.ndarray, lengths: np.ndarray, ids: Sequence[str]) -> tuple[Finding, np.ndarray]:
    """NaN/Inf within each sample's length. Returns the finding and a boolean mask of the bad rows."""
    n, t = motions.shape[:2]
    valid = _valid_mask(_clip_lengths(lengths, t), t)
    flat = motions.reshape(n, t, -1)
    bad_frames = np.concatenate([~np.isfinite(flat[lo:lo + 256]).all(axis=2) for lo in range(0, n, 256)]) & valid
    bad_rows = bad_frames.any(axis=1)
    if not bad_rows.any():
        return Finding("values", "ok", "no NaN or Inf values", "Every frame within each sample's length is finite.",
                       numbers={"samples": n}), bad_rows
    rows = np.flatnonzero(bad_rows)
    frames = bad_frames[rows].sum(axis=1)
    first = bad_frames[rows].argmax(axis=1)
    detail = {ids[int(r)]: {"nonfinite_frames": int(f), "first_frame": int(s)} for r, f, s in
              zip(rows[:20], frames[:20], first[:20])}
    return Finding(
        "values", "error", f"{len(rows)} sample(s) contain NaN or Inf",
        "These samples have non-finite values within their length. Every metric computed over them is NaN, and "
        "the reference FID fails much later with an opaque error. Known causes: a diverging generator, a "
        "division by a zero std, or clips such as 007975 / M007975 that come out NaN in many local "
        "re-processings of HumanML3D.",
        "Regenerate or drop these samples (and re-process the listed dataset clips) before evaluating.",
        numbers={"bad_samples": int(len(rows)), "of": n, "per_sample": detail},
        ids=[ids[int(r)] for r in rows],
    ), bad_rows


def check_feature_range(motions: np.ndarray, scale: np.ndarray, offset: np.ndarray, lengths: np.ndarray,
                        ids: Sequence[str], skip: np.ndarray, unit: str, *, chunk_rows: int = 256) -> Finding:
    """Flag samples with any ``|z| > FEATURE_Z_LIMIT`` where ``z = motions * scale + offset`` (standard-deviation
    units) over each sample's valid frames; rows in ``skip`` (non-finite) are ignored. Processed in chunks."""
    n, t, _ = motions.shape
    valid = _valid_mask(_clip_lengths(lengths, t), t) & ~skip[:, None]
    peak = np.zeros(n)
    for lo in range(0, n, chunk_rows):
        z = np.abs(np.asarray(motions[lo:lo + chunk_rows], dtype=np.float64) * scale + offset)
        z = np.where(np.isfinite(z), z, 0.0).max(axis=2)
        peak[lo:lo + chunk_rows] = np.where(valid[lo:lo + chunk_rows], z, 0.0).max(axis=1)
    bad = np.flatnonzero(peak > FEATURE_Z_LIMIT)
    overall = float(peak.max()) if n else 0.0
    if not bad.size:
        return Finding("range", "ok", "feature values are within a plausible range",
                       f"The largest value is {overall:.1f} {unit} from the mean (limit {FEATURE_Z_LIMIT:g}).",
                       numbers={"max_abs_z": overall, "limit": FEATURE_Z_LIMIT})
    return Finding(
        "range", "error", f"{bad.size} sample(s) have impossible feature values",
        f"Values more than {FEATURE_Z_LIMIT:g} {unit} from the dataset mean cannot come from a human motion "
        f"(100 std of joint velocity is about 39 m/s). A diverging generator or corrupted files produce them; "
        f"they dominate FID and Diversity.",
        "Inspect these samples (`motioneval render`), regenerate or drop them.",
        numbers={"max_abs_z": overall, "limit": FEATURE_Z_LIMIT,
                 "per_sample_max_abs_z": {ids[int(i)]: float(peak[i]) for i in bad[:20]}},
        ids=[ids[int(i)] for i in bad],
    )


def check_joint_range(joints: np.ndarray, lengths: np.ndarray, ids: Sequence[str], skip: np.ndarray, *,
                      chunk_rows: int = 256) -> Finding:
    """Flag samples where a joint is more than ``JOINT_REACH_LIMIT`` figure heights from the root."""
    n, t = joints.shape[:2]
    valid = _valid_mask(_clip_lengths(lengths, t), t) & ~skip[:, None]
    height = np.full((n, t), np.nan)
    reach = np.zeros((n, t))
    for lo in range(0, n, chunk_rows):
        j = np.asarray(joints[lo:lo + chunk_rows], dtype=np.float64)
        y = j[..., 1]
        height[lo:lo + chunk_rows] = y.max(axis=2) - y.min(axis=2)
        reach[lo:lo + chunk_rows] = np.nan_to_num(np.linalg.norm(j - j[:, :, :1], axis=-1).max(axis=2), nan=0.0)
    height = np.where(valid, height, np.nan)
    typical = float(np.nanmedian(height)) if np.isfinite(height).any() else float("nan")
    if not typical > 0:
        return Finding("range", "info", "joint range not checked", "No valid frames with a positive figure height.")
    peak = np.where(valid, reach / typical, 0.0).max(axis=1)
    bad = np.flatnonzero(peak > JOINT_REACH_LIMIT)
    if not bad.size:
        return Finding("range", "ok", "joint positions form plausible bodies",
                       f"No joint is further than {float(peak.max()):.2f} figure heights from the root.",
                       numbers={"max_reach_in_heights": float(peak.max()), "median_height": typical})
    return Finding(
        "range", "error", f"{bad.size} sample(s) have joints far from the body",
        f"A joint lies more than {JOINT_REACH_LIMIT:g} figure heights (median height {typical:.3g}) from the root; "
        f"limbs reach about 0.65. The skeleton is broken or the joints are in the wrong order or units.",
        "Inspect these samples (`motioneval render`); check the joint order and axis convention (y up).",
        numbers={"per_sample_max_reach": {ids[int(i)]: float(peak[i]) for i in bad[:20]}, "median_height": typical},
        ids=[ids[int(i)] for i in bad],
    )


def check_lengths(lengths: np.ndarray, ids: Sequence[str], *, min_length: int, max_length: int,
                  t_max: int, row_name: Callable[[int], str] | None = None) -> Finding:
    """Lengths must be within ``[min_length, max_length]`` (the evaluator reads at most 196 frames)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    hard = np.flatnonzero((lengths < 1) | (lengths > t_max))
    if hard.size:
        return Finding("lengths", "error", f"{hard.size} sample(s) have impossible lengths",
                       f"Lengths must lie in 1..{t_max} (the stored frames).",
                       "Fix the lengths array: one frame count per sample.",
                       numbers={"per_sample": {ids[int(i)]: int(lengths[i]) for i in hard[:20]}},
                       ids=[ids[int(i)] for i in hard])
    short = np.flatnonzero(lengths < min_length)
    long = np.flatnonzero(lengths > max_length)
    numbers = {"min": int(lengths.min()), "median": float(np.median(lengths)), "max": int(lengths.max()),
               "bounds": [min_length, max_length]}
    if not (short.size or long.size):
        return Finding("lengths", "ok", "lengths are within the protocol's bounds",
                       f"All lengths lie in [{min_length}, {max_length}] frames.", numbers=numbers)
    numbers.update({"too_short": int(short.size), "too_long": int(long.size)})
    bad = np.concatenate([short, long])
    return Finding(
        "lengths", "warning", f"{bad.size} sample(s) have lengths outside [{min_length}, {max_length}]",
        f"The protocol keeps ground-truth clips of {min_length} to {max_length} frames and the evaluator reads at "
        f"most 196 frames (length // 4 movement tokens). Shorter samples give the evaluator fewer than "
        f"{min_length // 4} tokens; longer ones are cut, so scores are not comparable to the protocol's.",
        "Generate with the ground-truth lengths (or clamp them to the bounds) before evaluating.",
        numbers=numbers | {"per_sample": {ids[int(i)]: int(lengths[i]) for i in bad[:20]}},
        ids=[ids[int(i)] for i in bad],
    )
