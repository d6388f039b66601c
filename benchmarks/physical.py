"""Benchmark: physical metrics of a HumanML3D-test-sized set, vectorized vs a straightforward per-frame loop.

Synthetic clips (the HumanML3D rest pose walking with wobble and noise, toes dipping in and out of contact),
``--n`` clips (default 4,384, the HumanML3D test set) padded to ``--frames`` (196) with random lengths
40..196, all ten metrics of the default variant.

- ours: ``motioneval.metrics.physical.physical_metrics`` on the padded batch (vectorized over clips, chunks
  of 64 clips).
- per-frame: a plain implementation of the same definitions, a Python loop over clips and frames with small
  numpy operations per frame. It is run on ``--naive-clips`` clips (default 300) and its time is scaled to
  ``--n`` clips (its cost is linear in the number of clips); the values are compared on those clips.

Prints medians over ``--repeats`` runs and the ratio. Usage:
``OMP_NUM_THREADS=2 python benchmarks/physical.py [--n 4384] [--frames 196] [--repeats 3] [--naive-clips 300]``.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from motioneval.metrics.physical import METRICS, VARIANTS, physical_metrics

REST = Path(__file__).resolve().parents[1] / "src" / "motioneval" / "assets" / "skeletons" / "humanml3d_target_frame.npy"


def make_clips(n: int, frames: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rest = np.load(REST).astype(np.float32)
    rest -= np.array([0, rest[:, 1].min(), 0], np.float32)
    t = np.arange(frames, dtype=np.float32)
    clips = np.empty((n, frames, 22, 3), np.float32)
    for i in range(n):
        speed = rng.uniform(0.0, 0.06)
        drift = np.stack([speed * t, np.zeros_like(t), 0.3 * speed * t], axis=1)
        clip = rest + drift[:, None, :] + rng.normal(0, 0.004, (frames, 22, 3)).astype(np.float32)
        clip[:, 10, 1] += 0.04 * (1 + np.sin(t / 3 + i))
        clip[:, 11, 1] += 0.04 * (1 + np.cos(t / 3 + i))
        clips[i] = clip
    lengths = rng.integers(40, frames + 1, size=n)
    for i, length in enumerate(lengths):
        clips[i, length:] = 0.0
    return clips, lengths


def per_frame(joints: np.ndarray, lengths: np.ndarray, fps: float) -> dict[str, np.ndarray]:
    """The default variant's definitions, written plainly: one clip and one frame at a time."""
    cfg = VARIANTS["default"]
    toes = (10, 11)
    out = {k: np.full(len(joints), np.nan) for k in METRICS}
    for i, (clip, n) in enumerate(zip(joints.astype(np.float64), lengths)):
        speeds, acc, jerk, acc_l, jerk_l, floating, pen = [], [], [], [], [], [], []
        contact_speeds, skating, contacts = [], 0, 0
        for t in range(n):
            low = clip[t, :, 1].min()
            floating.append(max(low - cfg.float_tolerance, 0.0))
            pen.append(max(-low, 0.0))
            if t + 1 < n:
                step = clip[t + 1] - clip[t]
                speeds.append(np.linalg.norm(step, axis=1).mean() * fps)
                for toe in toes:
                    if clip[t, toe, 1] < cfg.contact_height and clip[t + 1, toe, 1] < cfg.contact_height:
                        v = np.hypot(step[toe, 0], step[toe, 2]) * fps
                        contact_speeds.append(v)
                        contacts += 1
                        skating += v > cfg.skate_threshold
            if 1 <= t < n - 1:
                a = clip[t + 1] - 2 * clip[t] + clip[t - 1]
                acc.append(np.linalg.norm(a, axis=1).mean() * fps ** 2)
                rel = clip[t - 1: t + 2, 1:] - clip[t - 1: t + 2, :1]
                acc_l.append(np.linalg.norm(rel[2] - 2 * rel[1] + rel[0], axis=1).mean() * fps ** 2)
            if 1 <= t < n - 2:
                j = clip[t + 2] - 3 * clip[t + 1] + 3 * clip[t] - clip[t - 1]
                jerk.append(np.linalg.norm(j, axis=1).mean() * fps ** 3)
                rel = clip[t - 1: t + 3, 1:] - clip[t - 1: t + 3, :1]
                jerk_l.append(np.linalg.norm(rel[3] - 3 * rel[2] + 3 * rel[1] - rel[0], axis=1).mean() * fps ** 3)
        out["speed"][i] = np.mean(speeds)
        out["accel"][i], out["jerk"][i] = np.mean(acc), np.mean(jerk)
        out["accel_local"][i], out["jerk_local"][i] = np.mean(acc_l), np.mean(jerk_l)
        out["floating"][i], out["penetration"][i] = np.mean(floating), np.mean(pen)
        out["contact"][i] = contacts / (2 * (n - 1))
        if contacts:
            out["skate_speed"][i] = np.mean(contact_speeds)
            out["skate_ratio"][i] = skating / contacts
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4384)
    parser.add_argument("--frames", type=int, default=196)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--naive-clips", type=int, default=300)
    args = parser.parse_args()
    fps = 20.0
    joints, lengths = make_clips(args.n, args.frames)
    m = min(args.naive_clips, args.n)
    ours_times, naive_times = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        ours = physical_metrics(joints, fps, lengths)
        ours_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        naive = per_frame(joints[:m], lengths[:m], fps)
        naive_times.append((time.perf_counter() - t0) * args.n / m)
    ours_t, naive_t = statistics.median(ours_times), statistics.median(naive_times)
    print(f"physical metrics, {args.n} clips x {args.frames} frames (lengths 40..{args.frames}), 22 joints, "
          f"median of {args.repeats} runs")
    print(f"  ours (vectorized)      {ours_t:8.2f} s")
    print(f"  per-frame loop         {naive_t:8.2f} s  (measured on {m} clips, scaled to {args.n})")
    print(f"  ratio                  {naive_t / ours_t:8.1f}x")
    worst = max(float(np.nanmax(np.abs(ours[k][:m] - naive[k]) / np.maximum(np.abs(naive[k]), 1e-12)))
                for k in METRICS)
    same_nan = all(np.array_equal(np.isnan(ours[k][:m]), np.isnan(naive[k])) for k in METRICS)
    print(f"  largest relative difference on the compared clips: {worst:.1e} (NaN pattern equal: {same_nan})")


if __name__ == "__main__":
    main()
