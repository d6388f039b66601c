"""Benchmark: joints -> HumanML3D features for 1,000 clips of 196 frames, and features -> joints.

Times ``joints_to_features`` (vectorized over clips, frames and joints) against two straightforward
implementations of the same algorithm in the same run, on a subset:

- ``per-frame``: one clip at a time, one frame at a time, one joint at a time (the textbook loop);
- ``per-clip``: one clip at a time, vectorized over frames, looping over the kinematic chains as the
  dataset's reference code does.

Both baselines are checked to give the same features. Prints medians, clips per second and ratios.
Clips are realistic: the real HumanML3D clip 012314 tiled to 196 frames, randomly rotated about y,
translated, scaled and perturbed by smooth per-joint sinusoids (from ``MOTIONEVAL_SHARED`` or
``../shared``; without it a synthetic walking skeleton is used).

    python benchmarks/representation.py [--clips 1000] [--frames 196] [--repeats 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter1d

from motioneval.representation.forward import joints_to_features
from motioneval.representation.inverse import features_to_joints
from motioneval.representation.quaternion import qbetween, qconj, qmul, qrot, quat_to_cont6d
from motioneval.representation.skeleton import HUMANML3D, Skeleton

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MOTIONEVAL_SHARED", REPO.parent / "shared"))


# --- inputs ---------------------------------------------------------------------------------------------------
def base_clip(frames: int) -> tuple[np.ndarray, str]:
    path = SHARED / "data" / "HumanML3D" / "new_joints" / "012314.npy"
    if path.is_file():
        clip = np.load(path).astype(np.float64)
        source = f"real clip 012314 ({len(clip)} frames) tiled"
    else:  # a rest pose walking forward with swinging limbs
        rest = HUMANML3D.ancestors @ HUMANML3D.target_offset_array
        t = np.arange(170)[:, None, None]
        swing = 0.05 * np.sin(2 * np.pi * t / 30 + np.arange(22)[None, :, None])
        clip = rest[None] + swing + np.stack([np.zeros(170), np.full(170, 0.9), 0.02 * np.arange(170)], -1)[:, None]
        source = "synthetic walking skeleton (shared data not found)"
    tiled = np.concatenate([clip, clip[::-1]] * (frames // (2 * len(clip)) + 1))[:frames]
    return tiled, source


def make_clips(n: int, frames: int, seed: int = 0) -> tuple[np.ndarray, str]:
    clip, source = base_clip(frames)
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, 2 * np.pi, n)
    c, s = np.cos(angle), np.sin(angle)
    rot = np.zeros((n, 3, 3))
    rot[:, 0, 0], rot[:, 0, 2], rot[:, 1, 1], rot[:, 2, 0], rot[:, 2, 2] = c, s, 1, -s, c
    scale = rng.uniform(0.9, 1.1, (n, 1, 1, 1))
    shift = rng.uniform(-2, 2, (n, 1, 1, 3)) * np.array([1, 0, 1])
    t = np.arange(frames)[None, :, None, None]
    wobble = 0.015 * np.sin(2 * np.pi * t / rng.uniform(25, 60, (n, 1, 22, 3)) + rng.uniform(0, 6.3, (n, 1, 22, 3)))
    clips = scale * np.einsum("nij,tkj->ntki", rot, clip) + shift + wobble
    return clips.astype(np.float32), source


# --- baselines: the same algorithm, written the straightforward way ---------------------------------------------
def _yaw_rotate(v: np.ndarray, theta: float) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    return np.array([v[0] * c + v[2] * s, v[1], -v[0] * s + v[2] * c])


def per_frame_features(joints: np.ndarray, skel: Skeleton = HUMANML3D) -> np.ndarray:
    """One clip, loops over frames and joints (only the Gaussian filter is a library call)."""
    p = joints.astype(np.float64)
    nt, nj = p.shape[:2]
    parents, raw, target = skel.parents, skel.raw_offset_array, skel.target_offset_array
    tlen = np.linalg.norm(target, axis=-1)
    l1, l2 = skel.leg_joints
    src_leg = np.linalg.norm(p[0, l1] - p[0, parents[l1]]) + np.linalg.norm(p[0, l2] - p[0, parents[l2]])
    scale = (abs(target[l1]).max() + abs(target[l2]).max()) / src_leg
    g = np.zeros_like(p)
    for t in range(nt):
        g[t, 0] = p[t, 0] * scale
        for chain in skel.kinematic_chains:
            for a, b in zip(chain[:-1], chain[1:]):
                d = p[t, b] - p[t, a]
                g[t, b] = g[t, a] + tlen[b] * d / np.linalg.norm(d)
    g[..., 1] -= g[..., 1].min()
    g -= g[0, 0] * np.array([1.0, 0.0, 1.0])
    a, b, c, d = skel.facing_joints
    across = (g[0, a] - g[0, b]) + (g[0, c] - g[0, d])
    theta0 = np.arctan2(-across[2], -across[0])  # facing (a_z, 0, -a_x) onto +z
    for t in range(nt):
        for j in range(nj):
            g[t, j] = _yaw_rotate(g[t, j], theta0)
    forward = np.zeros((nt, 2))
    for t in range(nt):
        acr = (g[t, b] - g[t, a]) + (g[t, c] - g[t, d])
        acr = acr / np.linalg.norm(acr)
        forward[t] = (acr[2], -acr[0])
    forward = gaussian_filter1d(forward, 20, axis=0, mode="nearest")
    half = np.array([0.0] + [0.5 * np.arctan2(-fx, fz) for fx, fz in forward[1:]])
    feet = list(skel.left_foot_joints) + list(skel.right_foot_joints)
    layout = skel.layout
    out = np.zeros((nt - 1, layout.dim))
    for t in range(nt - 1):
        th, th1 = 2 * half[t], 2 * half[t + 1]
        row = [np.arcsin(np.sin(half[t + 1] - half[t]))]
        v = _yaw_rotate(g[t + 1, 0] - g[t, 0], th1)
        row += [v[0], v[2], g[t, 0, 1]]
        for j in range(1, nj):
            row += list(_yaw_rotate(g[t, j] - g[t, 0] * np.array([1.0, 0.0, 1.0]), th))
        root_q = np.array([np.cos(half[t]), 0.0, np.sin(half[t]), 0.0])
        world = {0: root_q}
        for chain in skel.kinematic_chains:
            for k, (pa, ch) in enumerate(zip(chain[:-1], chain[1:])):
                q = qbetween(raw[ch], g[t, ch] - g[t, pa])
                parent_q = root_q if k == 0 else world[pa]
                world[ch] = q
                out[t, layout.rot.start + 6 * (ch - 1) : layout.rot.start + 6 * ch] = quat_to_cont6d(
                    qmul(qconj(parent_q), q)
                )
        for j in range(nj):
            row += list(_yaw_rotate(g[t + 1, j] - g[t, j], th))
        out[t, : layout.ric.stop] = row[: layout.ric.stop]
        out[t, layout.local_vel] = row[layout.ric.stop :]
        for k, j in enumerate(feet):
            out[t, layout.contacts.start + k] = float(((g[t + 1, j] - g[t, j]) ** 2).sum() < skel.contact_threshold)
    return out.astype(np.float32)


def per_clip_features(joints: np.ndarray, skel: Skeleton = HUMANML3D) -> np.ndarray:
    """One clip, vectorized over frames, loops over the kinematic chains (the reference code's structure)."""
    p = joints.astype(np.float64)
    nt, nj = p.shape[:2]
    raw, target = skel.raw_offset_array, skel.target_offset_array
    l1, l2 = skel.leg_joints
    pa = skel.parents
    scale = (abs(target[l1]).max() + abs(target[l2]).max()) / (
        np.linalg.norm(p[0, l1] - p[0, pa[l1]]) + np.linalg.norm(p[0, l2] - p[0, pa[l2]])
    )
    # IK + FK: rotate each target offset by the accumulated bone rotations
    g = np.zeros_like(p)
    g[:, 0] = p[:, 0] * scale
    for chain in skel.kinematic_chains:
        for a, b in zip(chain[:-1], chain[1:]):
            q = qbetween(np.broadcast_to(raw[b], (nt, 3)), p[:, b] - p[:, a])
            g[:, b] = g[:, a] + qrot(q, np.broadcast_to(target[b], (nt, 3)))
    g[..., 1] -= g[..., 1].min()
    g -= g[0, 0] * np.array([1.0, 0.0, 1.0])
    a, b, c, d = skel.facing_joints
    across = (g[0, a] - g[0, b]) + (g[0, c] - g[0, d])
    q0 = qbetween(np.cross([0.0, 1.0, 0.0], across), np.array([0.0, 0.0, 1.0]))
    g = qrot(np.broadcast_to(q0, g.shape[:-1] + (4,)), g)
    acr = (g[:, b] - g[:, a]) + (g[:, c] - g[:, d])
    acr /= np.linalg.norm(acr, axis=-1, keepdims=True)
    fwd = gaussian_filter1d(np.cross([0.0, 1.0, 0.0], acr), 20, axis=0, mode="nearest")
    r = qbetween(fwd, np.broadcast_to([0.0, 0.0, 1.0], fwd.shape))
    r[0] = [1.0, 0.0, 0.0, 0.0]
    rot6d = np.zeros((nt, nj - 1, 6))
    for chain in skel.kinematic_chains:
        parent_q = r
        for a_, b_ in zip(chain[:-1], chain[1:]):
            q = qbetween(np.broadcast_to(raw[b_], (nt, 3)), g[:, b_] - g[:, a_])
            rot6d[:, b_ - 1] = quat_to_cont6d(qmul(qconj(parent_q), q))
            parent_q = q
    vel = qrot(r[1:], g[1:, 0] - g[:-1, 0])
    rot_vel = np.arcsin(qmul(r[1:], qconj(r[:-1]))[:, 2])
    centred = g - g[:, :1] * np.array([1.0, 0.0, 1.0])
    local = qrot(np.repeat(r[:, None], nj, axis=1), centred)
    local_vel = qrot(np.repeat(r[:-1, None], nj, axis=1), g[1:] - g[:-1])
    feet_l, feet_r = list(skel.left_foot_joints), list(skel.right_foot_joints)
    contacts = [((g[1:, f] - g[:-1, f]) ** 2).sum(-1) < skel.contact_threshold for f in (feet_l, feet_r)]
    return np.concatenate(
        [
            rot_vel[:, None], vel[:, [0, 2]], g[:-1, 0, 1:2], local[:-1, 1:].reshape(nt - 1, -1),
            rot6d[:-1].reshape(nt - 1, -1), local_vel.reshape(nt - 1, -1), *[x.astype(np.float64) for x in contacts],
        ],
        axis=-1,
    ).astype(np.float32)


def per_frame_joints(features: np.ndarray) -> np.ndarray:
    """features -> joints, one frame at a time."""
    nt = len(features)
    out = np.zeros((nt, 22, 3))
    half, root = 0.0, np.zeros(3)
    for t in range(nt):
        if t > 0:
            half += features[t - 1, 0]
            v = features[t - 1]
            root = root + _yaw_rotate(np.array([v[1], 0.0, v[2]]), -2 * half)
        out[t, 0] = [root[0], features[t, 3], root[2]]
        for j in range(1, 22):
            ric = features[t, 4 + 3 * (j - 1) : 4 + 3 * j]
            out[t, j] = _yaw_rotate(ric, -2 * half) + [root[0], 0.0, root[2]]
    return out.astype(np.float32)


# --- timing ---------------------------------------------------------------------------------------------------
def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=1000)
    ap.add_argument("--frames", type=int, default=196)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--frame-subset", type=int, default=5, help="clips timed with the per-frame baseline")
    ap.add_argument("--clip-subset", type=int, default=100, help="clips timed with the per-clip baseline")
    args = ap.parse_args(argv)

    clips, source = make_clips(args.clips, args.frames)
    print(f"input: {args.clips} clips x {args.frames} frames x 22 joints ({source}); numpy {np.__version__}")

    ours = median_time(lambda: joints_to_features(clips), args.repeats)
    feats = joints_to_features(clips)
    fsub, csub = clips[: args.frame_subset], clips[: args.clip_subset]
    t_frame = median_time(lambda: [per_frame_features(c) for c in fsub], 1) / len(fsub)
    t_clip = median_time(lambda: [per_clip_features(c) for c in csub], args.repeats) / len(csub)
    check_f = np.stack([per_frame_features(c) for c in fsub[:3]])
    check_c = np.stack([per_clip_features(c) for c in csub[:3]])
    cont = slice(0, 259)
    print(
        "agreement with ours (max abs, continuous dims): "
        f"per-frame {np.abs(check_f[..., cont] - feats[:3, :, cont]).max():.1e}, "
        f"per-clip {np.abs(check_c[..., cont] - feats[:3, :, cont]).max():.1e}"
    )
    per_clip_ours = ours / args.clips
    print("\njoints -> features (median of repeats; baselines timed per clip on a subset, extrapolated):")
    print(f"  motioneval (vectorized)      {ours:8.2f} s total  {args.clips / ours:9.1f} clips/s")
    print(
        f"  per-clip chain loop          {t_clip * args.clips:8.2f} s total  {1 / t_clip:9.1f} clips/s"
        f"   ratio {t_clip / per_clip_ours:6.1f}x  ({len(csub)} clips timed)"
    )
    print(
        f"  per-frame loop               {t_frame * args.clips:8.2f} s total  {1 / t_frame:9.1f} clips/s"
        f"   ratio {t_frame / per_clip_ours:6.1f}x  ({len(fsub)} clips timed)"
    )
    print(f"  target: {args.clips} clips in < 30 s -> {'met' if ours < 30 else 'NOT met'}")

    inv = median_time(lambda: features_to_joints(feats), args.repeats)
    t_inv = median_time(lambda: [per_frame_joints(f) for f in feats[: args.frame_subset]], 1) / args.frame_subset
    err = np.abs(np.stack([per_frame_joints(f) for f in feats[:3]]) - features_to_joints(feats[:3])).max()
    print("\nfeatures -> joints:")
    print(f"  motioneval (vectorized)      {inv:8.3f} s total  {args.clips / inv:9.1f} clips/s")
    print(
        f"  per-frame loop               {t_inv * args.clips:8.3f} s total  {1 / t_inv:9.1f} clips/s"
        f"   ratio {t_inv / (inv / args.clips):6.1f}x  (agreement {err:.1e})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
