"""Procedural motions on the HumanML3D skeleton: the clips of the bundled demo dataset.

A clip is made by forward kinematics. Each action family (walk, run, jump, ...) is a small program
that produces, per frame, joint angles (flexion about the parent's x axis, abduction about its z
axis), a heading (yaw about +y), a planned root displacement and a lift above the floor. Forward
kinematics turns them into joint positions ``(T, 22, 3)``, y up, metres, 20 fps, in the joint order of
``representation.md``; the root height then puts the lowest joint of each frame on the floor (plus the
lift of jumps), and in-place actions keep their planted foot still.

Every clip is a deterministic function of its :class:`MotionSpec` (the caption-level class: family,
direction, speed, side, count), its number of frames and a seed, and differs from other clips of its
class by a few random style parameters: amplitude, tempo, phase, timing, rest posture, heading.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter1d

from ..constants import HUMANML3D_DATASET, MAX_MOTION_FRAMES

FPS = int(HUMANML3D_DATASET.fps)
NUM_JOINTS = HUMANML3D_DATASET.num_joints
MIN_FRAMES = HUMANML3D_DATASET.min_length  # the protocol keeps clips with 40 <= T < 200 feature frames
MAX_FRAMES = MAX_MOTION_FRAMES

# Parent of each joint (HumanML3D kinematic chains [0,2,5,8,11], [0,1,4,7,10], [0,3,6,9,12,15],
# [9,14,17,19,21], [9,13,16,18,20]).
PARENTS = np.array([-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19])

# Rest pose (standing, arms down, facing +z, left = +x): offset of each joint from its parent, metres.
# Bone lengths are close to those of the HumanML3D target skeleton; joints_to_features retargets to it.
REST_OFFSETS = np.array([
    [0.0, 0.0, 0.0],        # 0 pelvis
    [0.06, -0.085, 0.0],    # 1 left_hip
    [-0.06, -0.085, 0.0],   # 2 right_hip
    [0.0, 0.12, -0.02],     # 3 spine1
    [0.0, -0.39, 0.0],      # 4 left_knee
    [0.0, -0.39, 0.0],      # 5 right_knee
    [0.0, 0.14, 0.01],      # 6 spine2
    [0.0, -0.42, -0.02],    # 7 left_ankle
    [0.0, -0.42, -0.02],    # 8 right_ankle
    [0.0, 0.057, 0.01],     # 9 spine3
    [0.0, -0.06, 0.13],     # 10 left_foot
    [0.0, -0.06, 0.13],     # 11 right_foot
    [0.0, 0.215, -0.02],    # 12 neck
    [0.07, 0.115, 0.0],     # 13 left_collar
    [-0.07, 0.115, 0.0],    # 14 right_collar
    [0.0, 0.09, 0.05],      # 15 head
    [0.125, -0.02, 0.0],    # 16 left_shoulder
    [-0.125, -0.02, 0.0],   # 17 right_shoulder
    [0.0, -0.26, 0.0],      # 18 left_elbow
    [0.0, -0.26, 0.0],      # 19 right_elbow
    [0.0, -0.25, 0.02],     # 20 left_wrist
    [0.0, -0.25, 0.02],     # 21 right_wrist
])

# Joints whose angle rotates the bones below them.
HIP = {"left": 1, "right": 2}
KNEE = {"left": 4, "right": 5}
ANKLE = {"left": 7, "right": 8}
SHOULDER = {"left": 16, "right": 17}
ELBOW = {"left": 18, "right": 19}
SPINE = (3, 6, 9)
# R_x(-a) swings a downward bone forward; knees bend the other way, and the spine's bones point up.
FLEX_SIGN = -np.ones(NUM_JOINTS)
FLEX_SIGN[[3, 4, 5, 6, 9, 12]] = 1.0
# Abduction (away from the body) is +z rotation on the left side and -z on the right.
SIDE_SIGN = {"left": 1.0, "right": -1.0}


@dataclass(frozen=True)
class MotionSpec:
    """The class of a clip: everything its captions say about it.

    ``family`` is one of :data:`FAMILIES`; the other fields are ``None`` where they do not apply.
    """

    family: str
    direction: str | None = None  # walk/run: forward backward left right clockwise counterclockwise
    speed: str | None = None      # slow normal quick
    side: str | None = None       # left right both (wave/raise/kick), left right around (turn)
    count: int | None = None      # repetitions of jump/kick/squat; sit: 1 = sit down, 2 = sit and stand up

    @property
    def key(self) -> str:
        """Stable name such as ``walk-forward-quick`` or ``kick-left-x2``."""
        parts = [self.family]
        parts += [p for p in (self.direction, self.speed, self.side) if p is not None]
        if self.count is not None:
            parts.append(f"x{self.count}")
        return "-".join(parts)

    @property
    def frame_range(self) -> tuple[int, int]:
        """Range of clip lengths (feature frames, inclusive) in the dataset: long enough for the action to
        fit, short enough that it fills most of the clip."""
        n = self.count or 1
        lo, hi = {
            "walk": (60, MAX_FRAMES), "run": (60, MAX_FRAMES), "turn": (40, 100), "wave": (50, 160),
            "raise": (40, 120), "jump": (20 + 20 * n, 30 + 45 * n), "kick": (20 + 20 * n, 30 + 40 * n),
            "squat": (10 + 30 * n, 30 + 55 * n), "sit": (50, 120) if n == 1 else (80, MAX_FRAMES),
        }[self.family]
        return max(lo, MIN_FRAMES), min(hi, MAX_FRAMES)


def _specs() -> tuple[MotionSpec, ...]:
    out: list[MotionSpec] = []
    for d in ("forward", "backward", "left", "right", "clockwise", "counterclockwise"):
        for s in ("slow", "normal", "quick"):
            out.append(MotionSpec("walk", direction=d, speed=s))
    for s in ("slow", "normal", "quick"):
        out.append(MotionSpec("run", direction="forward", speed=s))
    out.append(MotionSpec("run", direction="counterclockwise", speed="normal"))
    out.append(MotionSpec("run", direction="clockwise", speed="normal"))
    for d in ("up", "forward"):
        for n in (1, 2, 3):
            out.append(MotionSpec("jump", direction=d, count=n))
    for side in ("left", "right", "around"):
        out.append(MotionSpec("turn", side=side))
    for side in ("left", "right", "both"):
        out.append(MotionSpec("wave", side=side))
        out.append(MotionSpec("raise", side=side))
    for side in ("left", "right"):
        for n in (1, 2):
            out.append(MotionSpec("kick", side=side, count=n))
    out.append(MotionSpec("sit", count=1))
    out.append(MotionSpec("sit", count=2))
    for n in (1, 2, 3):
        out.append(MotionSpec("squat", count=n))
    return tuple(out)


#: Every class of the demo dataset (48 of them).
MOTION_SPECS: tuple[MotionSpec, ...] = _specs()
FAMILIES = ("walk", "run", "jump", "turn", "wave", "raise", "kick", "sit", "squat")
SPECS_BY_KEY: dict[str, MotionSpec] = {s.key: s for s in MOTION_SPECS}


# ---------------------------------------------------------------------------------------------
# rotations and forward kinematics


def forward_kinematics(flex: np.ndarray, abd: np.ndarray, yaw: np.ndarray,
                       offsets: np.ndarray = REST_OFFSETS) -> np.ndarray:
    """Joint positions relative to the root, ``(T, 22, 3)``.

    ``flex``/``abd`` ``(T, 22)``: the local rotation of joint j is ``R_z(abd) R_x(FLEX_SIGN_j flex)``, which
    rotates the bones from j to its children; positive flexion is the anatomical direction (hip,
    shoulder, elbow: forward; knee: backward; spine, neck: lean forward; ankle: toes up).
    Global rotation ``G_j = G_parent(j) R_j`` with ``G_root = R_y(yaw) R_root``;
    position ``p_j = p_parent + G_parent(j) offset_j``.
    """
    # Structure of arrays: a rotation is a (3, 3, T) array, so every product below is 27 vectorized
    # multiply-adds over frames (much faster than numpy's matmul on stacks of 3x3 matrices).
    T = flex.shape[0]
    ca, sa = np.cos(abd.T), np.sin(abd.T)  # (22, T)
    flex_signed = FLEX_SIGN[:, None] * flex.T
    cb, sb = np.cos(flex_signed), np.sin(flex_signed)
    zero = np.zeros_like(ca)
    # R_z(a) R_x(b) = [[ca, -sa cb, sa sb], [sa, ca cb, -ca sb], [0, sb, cb]]
    local = np.array([[ca, -sa * cb, sa * sb], [sa, ca * cb, -ca * sb], [zero, sb, cb]])  # (3, 3, 22, T)
    cy, sy = np.cos(yaw), np.sin(yaw)
    z1, o1 = np.zeros_like(cy), np.ones_like(cy)
    root_yaw = np.array([[cy, z1, sy], [z1, o1, z1], [-sy, z1, cy]])  # R_y, (3, 3, T)
    glob: list[np.ndarray] = [_mat_mul(root_yaw, local[:, :, 0])]
    pos = np.zeros((NUM_JOINTS, 3, T))
    for j in range(1, NUM_JOINTS):
        p = PARENTS[j]
        glob.append(_mat_mul(glob[p], local[:, :, j]))
        g, o = glob[p], offsets[j]
        pos[j] = pos[p] + (g[:, 0] * o[0] + g[:, 1] * o[1] + g[:, 2] * o[2])
    return pos.transpose(2, 0, 1)


def _mat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Product of two stacks of 3x3 matrices stored as ``(3, 3, T)``."""
    return np.array([[a[i, 0] * b[0, k] + a[i, 1] * b[1, k] + a[i, 2] * b[2, k] for k in range(3)]
                     for i in range(3)])


# ---------------------------------------------------------------------------------------------
# building blocks of the programs


def smoothstep(x: np.ndarray) -> np.ndarray:
    """0 below 0, 1 above 1, ``3x^2 - 2x^3`` between."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def envelope(t: np.ndarray, start: float, rise: float, hold: float, fall: float) -> np.ndarray:
    """0 -> 1 over ``rise`` seconds from ``start``, 1 for ``hold``, back to 0 over ``fall``."""
    up = smoothstep((t - start) / rise)
    down = smoothstep((t - start - rise - hold) / fall)
    return up * (1.0 - down)


def cycle_phase(t: np.ndarray, starts: np.ndarray, cycle: float) -> np.ndarray:
    """Phase ``u`` in [0, 1] inside each repetition ``[start, start + cycle)``, 0 elsewhere."""
    u = np.zeros_like(t)
    for s in starts:  # a handful of repetitions, vectorized over frames
        inside = (t >= s) & (t < s + cycle)
        u[inside] = (t[inside] - s) / cycle
    return u


def keyframes(u: np.ndarray, knots: list[float], values: list[float]) -> np.ndarray:
    """Piecewise-linear track over the phase ``u`` (smoothed later)."""
    return np.interp(u, knots, values)


def schedule(rng: np.random.Generator, duration: float, count: int, nominal: float) -> tuple[np.ndarray, float]:
    """Start times and cycle length of ``count`` repetitions of a ``nominal``-second action.

    The cycle shrinks when the clip is too short; the first start is random within the slack.
    """
    cycle = min(nominal, 0.85 * duration / count)
    gap = rng.uniform(0.0, 0.3) * cycle
    busy = count * cycle + (count - 1) * gap
    slack = max(duration - busy, 0.0)
    first = rng.uniform(0.1, 0.7) * slack
    return first + np.arange(count) * (cycle + gap), cycle


class _Program:
    """Per-frame controls of one clip; families fill them in."""

    def __init__(self, num_frames: int, rng: np.random.Generator) -> None:
        self.T = num_frames
        self.t = np.arange(num_frames) / FPS
        self.duration = num_frames / FPS
        self.rng = rng
        self.flex = np.zeros((num_frames, NUM_JOINTS))
        self.abd = np.zeros((num_frames, NUM_JOINTS))
        self.yaw = np.zeros(num_frames)
        self.velocity = np.zeros((num_frames, 2))  # planned root velocity (x, z) in the body frame, m/s
        self.lift = np.zeros(num_frames)           # height above the floor rule (jumps, running flight)
        self.anchor: np.ndarray | None = None      # (T, 2) weights of left/right ankle kept in place
        self.airborne: np.ndarray | None = None    # (T,) bool: frames where both feet are off the floor
        self.start = np.zeros(2)                   # initial root x, z
        # style: small per-clip differences in amplitude, tempo, rest posture
        self.amp = rng.uniform(0.85, 1.15)
        self.tempo = rng.uniform(0.85, 1.15)
        self.phase = rng.uniform(0.0, 2.0 * np.pi)

    def rest_posture(self) -> None:
        rng, t = self.rng, self.t
        arm_out = rng.uniform(0.04, 0.18)
        elbow = rng.uniform(0.05, 0.3)
        lean = rng.uniform(-0.04, 0.08)
        for side in ("left", "right"):
            self.abd[:, SHOULDER[side]] += SIDE_SIGN[side] * arm_out
            self.flex[:, ELBOW[side]] += elbow
        sway = 0.025 * np.sin(2 * np.pi * rng.uniform(0.15, 0.35) * t + self.phase)
        for j in SPINE:
            self.flex[:, j] += (lean + sway) / 3.0
        self.flex[:, 15] += rng.uniform(-0.1, 0.15)  # head pitch

    def plant(self, left: float | np.ndarray = 0.5, right: float | np.ndarray = 0.5) -> None:
        w = np.stack(np.broadcast_arrays(np.asarray(left, float) * np.ones(self.T),
                                         np.asarray(right, float) * np.ones(self.T)), axis=-1)
        self.anchor = w / w.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------------------------------------
# families

_WALK = {"slow": (0.62, 0.26), "normal": (0.88, 0.36), "quick": (1.12, 0.45)}  # stride Hz, hip amplitude
_RUN = {"slow": (1.2, 0.5), "normal": (1.38, 0.62), "quick": (1.55, 0.75)}
_LEG = 0.9  # hip-to-floor length used to turn hip swing into step length


def _gait(p: _Program, freq: float, amp: float, *, run: bool, backward: bool) -> None:
    """Alternating leg swing with knee bend in the swing phase and opposite arm swing."""
    phi = 2 * np.pi * freq * p.t + p.phase
    swing_dir = -1.0 if backward else 1.0
    for side, sgn in (("left", 1.0), ("right", -1.0)):
        hip = sgn * amp * np.sin(phi)
        moving = sgn * np.cos(phi) * swing_dir  # > 0 while this leg swings in the walking direction
        knee_gain = 1.3 if run else 0.75
        knee = (0.35 if run else 0.08) + knee_gain * np.clip(moving, 0, None) ** 2 * (amp / 0.4)
        p.flex[:, HIP[side]] += hip + (0.25 if run else 0.0)
        p.flex[:, KNEE[side]] += knee
        p.flex[:, ANKLE[side]] += 0.2 * np.clip(moving, 0, None)
        p.flex[:, SHOULDER[side]] += -(0.9 if run else 0.7) * hip
        p.flex[:, ELBOW[side]] += (1.35 if run else 0.15) + (0.3 if run else 0.15) * np.clip(-hip, 0, None)
    for j in SPINE:
        p.flex[:, j] += (0.22 if run else 0.04) / 3.0
    if run:
        p.lift += 0.045 * np.abs(np.sin(phi)) * p.amp


def _walk_or_run(p: _Program, spec: MotionSpec) -> None:
    freq0, amp0 = (_RUN if spec.family == "run" else _WALK)[spec.speed or "normal"]
    freq, amp = freq0 * p.tempo, amp0 * p.amp
    run = spec.family == "run"
    step = 2 * _LEG * np.sin(amp)                    # one step
    speed = 2 * step * freq * (1.25 if run else 1.0)  # two steps per stride
    d = spec.direction
    ramp = smoothstep(p.t / 0.6)                     # start from standing
    if d in ("left", "right"):
        # side-stepping: abduct the leading leg, bring the other one in
        phi = 2 * np.pi * freq * p.t + p.phase
        lead, trail = (d, "right" if d == "left" else "left")
        a = 0.8 * amp * ramp
        p.abd[:, HIP[lead]] += SIDE_SIGN[lead] * a * np.clip(np.sin(phi), 0, None)
        p.abd[:, HIP[trail]] += SIDE_SIGN[trail] * 0.5 * a * np.clip(-np.sin(phi), 0, None)
        for side in ("left", "right"):
            p.flex[:, KNEE[side]] += 0.1 + 0.25 * ramp * np.clip(np.cos(phi), 0, None)
            p.abd[:, SHOULDER[side]] += SIDE_SIGN[side] * 0.15 * ramp
        side_speed = 2 * 0.55 * _LEG * np.sin(a.max() if a.size else 0) * freq
        p.velocity[:, 0] = SIDE_SIGN[d] * side_speed * ramp
        return
    _gait(p, freq, amp, run=run, backward=d == "backward")
    p.velocity[:, 1] = (-1.0 if d == "backward" else 1.0) * speed * ramp
    if d in ("clockwise", "counterclockwise"):
        radius = p.rng.uniform(1.2, 2.2) * (1.5 if run else 1.0)
        omega = speed / radius * ramp
        sign = 1.0 if d == "counterclockwise" else -1.0  # counterclockwise seen from above = to the left
        p.yaw = sign * np.cumsum(omega) / FPS
        for j in SPINE:  # lean into the turn
            p.abd[:, j] += -sign * 0.04 * ramp


def _jump(p: _Program, spec: MotionSpec) -> None:
    starts, cycle = schedule(p.rng, p.duration, spec.count or 1, 1.15 / p.tempo)
    u = cycle_phase(p.t, starts, cycle)
    k = [0.0, 0.3, 0.4, 0.55, 0.7, 0.82, 1.0]
    height = p.rng.uniform(0.2, 0.35) * p.amp
    for side in ("left", "right"):
        p.flex[:, HIP[side]] += keyframes(u, k, [0, 0.95, 0.05, 0.5, 0.1, 0.7, 0])
        p.flex[:, KNEE[side]] += keyframes(u, k, [0, 1.65, 0.05, 0.9, 0.1, 1.2, 0])
        p.flex[:, ANKLE[side]] += keyframes(u, k, [0, 0.4, -0.5, -0.2, -0.3, 0.3, 0])
        p.flex[:, SHOULDER[side]] += keyframes(u, k, [0, -0.8, 2.4, 1.8, 0.8, 0.2, 0]) * p.amp
        p.flex[:, ELBOW[side]] += keyframes(u, k, [0, 0.2, 0.2, 0.5, 0.3, 0.3, 0])
    for j in SPINE:
        p.flex[:, j] += keyframes(u, k, [0, 0.55, -0.05, 0.1, 0.05, 0.35, 0]) / 3.0
    flight = (u > 0.4) & (u < 0.7)
    p.lift += np.where(flight, height * np.sin(np.pi * (u - 0.4) / 0.3), 0.0)
    if spec.direction == "forward":
        dist = p.rng.uniform(0.4, 0.8) * p.amp
        p.velocity[:, 1] = np.where(flight, dist / (0.3 * cycle), 0.0)
    p.plant()
    p.airborne = flight  # the planted-feet correction pauses in the air


def _turn(p: _Program, spec: MotionSpec) -> None:
    side = spec.side
    if side == "around":
        angle = np.pi * p.rng.choice([-1.0, 1.0])
    else:
        angle = SIDE_SIGN[side or "left"] * np.pi / 2
    angle *= p.rng.uniform(0.9, 1.1)
    dur = min(abs(angle) / np.pi * 1.6 / p.tempo + 0.4, 0.8 * p.duration)
    start = p.rng.uniform(0.1, 0.9) * (p.duration - dur)
    progress = smoothstep((p.t - start) / dur)
    p.yaw = angle * progress
    active = envelope(p.t, start, 0.2, max(dur - 0.4, 0.0), 0.2)
    phi = 2 * np.pi * 2.0 * p.tempo * (p.t - start)
    for side_, sgn in (("left", 1.0), ("right", -1.0)):
        lifting = np.clip(sgn * np.sin(phi), 0, None) * active
        p.flex[:, HIP[side_]] += 0.35 * lifting * p.amp
        p.flex[:, KNEE[side_]] += 0.7 * lifting * p.amp
    p.plant()


def _arm_action(p: _Program, spec: MotionSpec) -> None:
    sides = ("left", "right") if spec.side == "both" else (spec.side or "right",)
    if spec.family == "wave":
        hold = p.rng.uniform(1.2, 3.0) / p.tempo
    else:
        hold = p.rng.uniform(0.5, 2.0) / p.tempo
    rise = 0.6 / p.tempo
    total = min(2 * rise + hold, 0.9 * p.duration)
    hold = max(total - 2 * rise, 0.1)
    start = p.rng.uniform(0.05, 0.95) * (p.duration - total)
    e = envelope(p.t, start, rise, hold, rise)
    for side in sides:
        s = SIDE_SIGN[side]
        if spec.family == "wave":
            freq = p.rng.uniform(1.6, 2.4) * p.tempo
            wag = 0.45 * p.amp * np.sin(2 * np.pi * freq * p.t + p.phase)
            p.abd[:, SHOULDER[side]] += s * 1.45 * e
            p.flex[:, SHOULDER[side]] += 0.25 * e
            p.abd[:, ELBOW[side]] += s * (1.35 + wag) * e
        else:
            p.flex[:, SHOULDER[side]] += 2.85 * p.amp ** 0.3 * e
            p.abd[:, SHOULDER[side]] += s * 0.15 * e
            p.flex[:, ELBOW[side]] += -0.15 * e
    p.plant()


def _kick(p: _Program, spec: MotionSpec) -> None:
    side = spec.side or "right"
    other = "left" if side == "right" else "right"
    starts, cycle = schedule(p.rng, p.duration, spec.count or 1, 1.0 / p.tempo)
    u = cycle_phase(p.t, starts, cycle)
    k = [0.0, 0.3, 0.5, 0.75, 1.0]
    p.flex[:, HIP[side]] += keyframes(u, k, [0, 1.0, 1.45, 0.5, 0]) * p.amp
    p.flex[:, KNEE[side]] += keyframes(u, k, [0, 1.5, 0.05, 0.9, 0])
    p.flex[:, KNEE[other]] += keyframes(u, k, [0, 0.15, 0.1, 0.15, 0])
    p.flex[:, SHOULDER[other]] += keyframes(u, k, [0, 0.3, 0.6, 0.3, 0])
    p.flex[:, SHOULDER[side]] += keyframes(u, k, [0, -0.2, -0.5, -0.2, 0])
    p.abd[:, SHOULDER[side]] += SIDE_SIGN[side] * keyframes(u, k, [0, 0.3, 0.4, 0.3, 0])
    for j in SPINE:
        p.flex[:, j] += keyframes(u, k, [0, 0.0, -0.25, -0.1, 0]) / 3.0
    p.plant(left=1.0 if side == "right" else 0.0, right=1.0 if side == "left" else 0.0)


def _squat(p: _Program, spec: MotionSpec) -> None:
    starts, cycle = schedule(p.rng, p.duration, spec.count or 1, 1.9 / p.tempo)
    u = cycle_phase(p.t, starts, cycle)
    k = [0.0, 0.4, 0.6, 1.0]
    depth = p.amp
    for side in ("left", "right"):
        p.flex[:, HIP[side]] += keyframes(u, k, [0, 1.7, 1.7, 0]) * depth
        p.flex[:, KNEE[side]] += keyframes(u, k, [0, 2.1, 2.1, 0]) * depth
        p.flex[:, SHOULDER[side]] += keyframes(u, k, [0, 1.35, 1.35, 0])
    for j in SPINE:
        p.flex[:, j] += keyframes(u, k, [0, 0.45, 0.45, 0]) * depth / 3.0
    p.plant()


def _sit(p: _Program, spec: MotionSpec) -> None:
    stand_up = spec.count == 2
    down = 1.3 / p.tempo
    hold = p.rng.uniform(0.8, 2.5) if stand_up else 10.0
    total = min(2 * down + hold, 0.9 * p.duration) if stand_up else down
    start = p.rng.uniform(0.1, 0.8) * max(p.duration - total - (0 if stand_up else 1.0), 0.0)
    if stand_up:
        hold = max(total - 2 * down, 0.2)
        e = envelope(p.t, start, down, hold, down)
    else:
        e = smoothstep((p.t - start) / down)
    bump = np.sin(np.pi * np.clip(e, 0, 1)) * (e < 0.999)  # lean forward while going down/up
    for side in ("left", "right"):
        p.flex[:, HIP[side]] += 1.5 * e
        p.flex[:, KNEE[side]] += 1.5 * e
        p.flex[:, SHOULDER[side]] += 0.35 * e
        p.flex[:, ELBOW[side]] += 0.4 * e
    for j in SPINE:
        p.flex[:, j] += (0.55 * bump + 0.1 * e) / 3.0
    p.plant()


_FAMILY_PROGRAMS = {
    "walk": _walk_or_run,
    "run": _walk_or_run,
    "jump": _jump,
    "turn": _turn,
    "wave": _arm_action,
    "raise": _arm_action,
    "kick": _kick,
    "squat": _squat,
    "sit": _sit,
}


def synthesize(spec: MotionSpec, num_frames: int, seed: Any = None) -> np.ndarray:
    """One clip of class ``spec``: joint positions ``(num_frames, 22, 3)`` float32, y up, metres, 20 fps.

    Deterministic in ``seed`` (an int, a ``SeedSequence`` or a ``numpy.random.Generator``). The lowest
    joint touches the floor (y = 0) whenever the body is not in the air.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return synthesize_batch([spec], [num_frames], [rng])[0]


def synthesize_batch(specs: Sequence[MotionSpec], num_frames: Any,
                     rng: np.random.Generator | Sequence[np.random.Generator]) -> np.ndarray:
    """Clips of the given classes and frame counts, zero-padded to ``(N, max(num_frames), 22, 3)`` float32.

    ``rng``: one generator per clip, or a generator whose ``spawn``-ed children are used, one per clip.
    Forward kinematics runs once over all clips (vectorized over clips, frames and joints' children).
    """
    num_frames = np.asarray(num_frames, dtype=np.int64).reshape(-1)
    if len(specs) != len(num_frames):
        raise ValueError(f"{len(specs)} classes but {len(num_frames)} frame counts")
    if len(specs) and num_frames.min() < 2:
        raise ValueError(f"a clip needs at least 2 frames; got {int(num_frames.min())}")
    rngs = rng.spawn(len(specs)) if isinstance(rng, np.random.Generator) else list(rng)
    if len(rngs) != len(specs):
        raise ValueError(f"{len(specs)} classes but {len(rngs)} random generators")
    programs = [_program(spec, int(n), r) for spec, n, r in zip(specs, num_frames, rngs)]
    t_max = int(num_frames.max(initial=2))
    out = np.zeros((len(specs), t_max, NUM_JOINTS, 3), np.float32)
    if not programs:
        return out
    # every frame is independent in forward kinematics: run it once over the clips' own frames, end to end
    # (no padding to the longest clip)
    flex = np.concatenate([np.asarray(p.flex, np.float64) for p in programs])
    abd = np.concatenate([np.asarray(p.abd, np.float64) for p in programs])
    yaw = np.concatenate([np.asarray(p.yaw, np.float64) for p in programs])
    rel = forward_kinematics(flex, abd, yaw)
    start = 0
    for i, p in enumerate(programs):
        out[i, : p.T] = _place(p, rel[start: start + p.T])
        start += p.T
    return out


def _program(spec: MotionSpec, num_frames: int, rng: np.random.Generator) -> _Program:
    """The per-frame controls of one clip (all its random draws happen here)."""
    if spec.family not in _FAMILY_PROGRAMS:
        raise ValueError(f"unknown motion family {spec.family!r}; expected one of {FAMILIES}")
    p = _Program(num_frames, rng)
    p.rest_posture()
    _FAMILY_PROGRAMS[spec.family](p, spec)
    # light smoothing removes the kinks of piecewise-linear key frames
    p.flex = gaussian_filter1d(p.flex, 1.2, axis=0, mode="nearest")
    p.abd = gaussian_filter1d(p.abd, 1.2, axis=0, mode="nearest")
    p.yaw = p.yaw + rng.uniform(-np.pi, np.pi)  # initial heading
    p.start = rng.uniform(-1.0, 1.0, size=2)     # initial x, z
    return p


def _place(p: _Program, rel: np.ndarray) -> np.ndarray:
    """World positions from root-relative ones: root path from the planned velocity, planted feet, floor."""
    # root trajectory: planned body-frame velocity rotated by the heading, integrated
    c, s = np.cos(p.yaw), np.sin(p.yaw)
    vx = c * p.velocity[:, 0] + s * p.velocity[:, 1]
    vz = -s * p.velocity[:, 0] + c * p.velocity[:, 1]
    root_xz = np.stack([np.cumsum(vx), np.cumsum(vz)], axis=-1) / FPS
    if p.anchor is not None:
        # keep the weighted ankle position still (feet planted), except while airborne
        feet = rel[:, [ANKLE["left"], ANKLE["right"]]][..., [0, 2]]  # (T, 2 feet, xz)
        anchor = np.einsum("tf,tfc->tc", p.anchor, feet)
        drift = anchor - anchor[0]
        if p.airborne is not None:  # hold the correction constant in the air
            idx = np.maximum.accumulate(np.where(~p.airborne, np.arange(p.T), 0))
            drift = drift[idx]
        root_xz = root_xz - drift
    root_y = -rel[..., 1].min(axis=1) + p.lift
    root = np.stack([root_xz[:, 0] + p.start[0], root_y, root_xz[:, 1] + p.start[1]], axis=-1)
    return (rel + root[:, None, :]).astype(np.float32)
