"""Physical metrics against closed forms, brute-force reimplementations of the published rules, and invariances."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from motioneval.metrics.physical import (
    METRICS,
    VARIANTS,
    PhysicalConfig,
    floor_heights,
    foot_joint_indices,
    get_variant,
    physical_columns,
    physical_metrics,
    resample_joints,
    to_metres,
)
from motioneval.representation.skeleton import HUMANML3D, KIT

ASSET = Path(__file__).resolve().parents[1] / "src" / "motioneval" / "assets" / "skeletons" / "humanml3d_target_frame.npy"
TOES = (10, 11)


@pytest.fixture(scope="module")
def pose() -> np.ndarray:
    """HumanML3D rest pose standing on y = 0 (toes at 0.002 m and 0 m)."""
    frame = np.load(ASSET).astype(np.float64)
    return frame - np.array([0.0, frame[:, 1].min(), 0.0])


def static(pose: np.ndarray, frames: int) -> np.ndarray:
    return np.repeat(pose[None], frames, axis=0)


def rot_y(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


# ------------------------------------------------------------------------------------------ closed forms
def test_static_pose_is_all_zero(pose):
    for variant in VARIANTS:
        m = physical_metrics(static(pose, 30), fps=20, variant=variant)
        for key in ("skate_speed", "skate_ratio", "floating", "penetration", "accel", "jerk", "accel_local",
                    "jerk_local", "speed"):
            assert m[key] == 0.0, (variant, key)
        assert m["contact"] == 1.0  # both toes below 5 cm in every step


@pytest.mark.parametrize("speed", [0.05, 0.35, 1.3])
@pytest.mark.parametrize("fps", [20.0, 12.5, 30.0])
def test_body_sliding_at_known_speed(pose, speed, fps):
    frames = 25
    direction = np.array([math.cos(0.7), 0.0, math.sin(0.7)])
    t = np.arange(frames) / fps
    clip = static(pose, frames) + (speed * t)[:, None, None] * direction
    m = physical_metrics(clip, fps=fps)
    assert m["skate_speed"] == pytest.approx(speed, rel=1e-12)
    assert m["speed"] == pytest.approx(speed, rel=1e-12)
    assert m["skate_ratio"] == (1.0 if speed > 0.2 else 0.0)
    assert m["accel"] == pytest.approx(0.0, abs=1e-9) and m["jerk"] == pytest.approx(0.0, abs=1e-6)
    # the same clip in centimetres, converted explicitly, gives the same metres per second
    m_cm = physical_metrics(clip * 100.0, fps=fps, unit="cm")
    assert m_cm["skate_speed"] == pytest.approx(speed, rel=1e-12)


def test_one_foot_sliding(pose):
    fps, v, frames = 20.0, 0.4, 21
    clip = static(pose, frames)
    clip[:, TOES[0], 0] += v * np.arange(frames) / fps  # only the left toe slides along x
    m = physical_metrics(clip, fps=fps)
    assert m["skate_speed"] == pytest.approx(v / 2, rel=1e-12)  # mean over both toes' contact steps
    assert m["skate_ratio"] == pytest.approx(0.5)
    kimodo = physical_metrics(clip, fps=fps, variant="kimodo")  # 3-D speed: same for horizontal sliding
    assert kimodo["skate_speed"] == pytest.approx(v / 2, rel=1e-12)


def test_vertical_foot_motion_is_not_horizontal_skating(pose):
    fps, frames = 20.0, 21
    clip = static(pose, frames)
    clip[:, TOES[0], 1] += 0.01 * np.sin(np.arange(frames))  # bobbing within the contact band
    assert physical_metrics(clip, fps=fps)["skate_speed"] == pytest.approx(0.0, abs=1e-15)
    assert physical_metrics(clip, fps=fps, variant="kimodo")["skate_speed"] > 0  # kimodo: 3-D speed


@pytest.mark.parametrize("h", [0.03, 0.2])
def test_lifted_and_sunk_body(pose, h):
    frames, a, b = 40, 10, 25
    lifted = static(pose, frames)
    lifted[a:b, :, 1] += h
    m = physical_metrics(lifted, fps=20)
    assert m["floating"] == pytest.approx(h * (b - a) / frames, rel=1e-12)
    assert m["penetration"] == 0.0
    tolerant = physical_metrics(lifted, fps=20, variant="physdiff-joints")  # 5 mm tolerance
    assert tolerant["floating"] == pytest.approx((h - 0.005) * (b - a) / frames, rel=1e-12)
    sunk = static(pose, frames)
    sunk[a:b, :, 1] -= h
    m = physical_metrics(sunk, fps=20)
    assert m["penetration"] == pytest.approx(h * (b - a) / frames, rel=1e-12)
    assert m["floating"] == 0.0
    tolerant = physical_metrics(sunk, fps=20, variant="physdiff-joints")
    assert tolerant["penetration"] == pytest.approx((h - 0.005) * (b - a) / frames, rel=1e-12)
    # a given floor moves the reference: the sunk frames stand on a floor at -h
    m = physical_metrics(sunk, fps=20, floor=-h)
    assert m["penetration"] == 0.0
    assert m["floating"] == pytest.approx(h * (frames - (b - a)) / frames, rel=1e-12)


def test_floor_estimates(pose):
    clip = static(pose, 10) + np.array([0.0, 0.3, 0.0])
    assert physical_metrics(clip, fps=20)["floating"] == pytest.approx(0.3)
    assert physical_metrics(clip, fps=20, floor="clip")["floating"] == pytest.approx(0.0, abs=1e-15)
    batch = np.stack([clip, clip + [0, 0.1, 0], clip + [0, 0.2, 0]])
    np.testing.assert_allclose(floor_heights(batch, floor="clip"), [0.3, 0.4, 0.5])
    np.testing.assert_allclose(floor_heights(batch, floor="dataset"), [0.4, 0.4, 0.4])
    np.testing.assert_allclose(physical_metrics(batch, 20, floor="dataset")["floating"], [0.0, 0.0, 0.1],
                               atol=1e-12)
    np.testing.assert_allclose(physical_metrics(batch, 20, floor="dataset")["penetration"], [0.1, 0.0, 0.0],
                               atol=1e-12)


@pytest.mark.parametrize("fps", [12.5, 20.0, 30.0])
def test_circular_motion_acceleration_and_jerk_closed_form(pose, fps):
    amplitude, freq, frames = 0.07, 1.3, 60
    w, dt = 2 * math.pi * freq, 1.0 / fps
    t = np.arange(frames) * dt
    offset = amplitude * np.stack([np.cos(w * t), np.zeros(frames), np.sin(w * t)], axis=1)
    clip = static(pose, frames) + offset[:, None, :]
    m = physical_metrics(clip, fps=fps)
    s = math.sin(w * dt / 2)
    assert m["accel"] == pytest.approx(4 * s ** 2 * amplitude / dt ** 2, rel=1e-9)
    assert m["jerk"] == pytest.approx(8 * s ** 3 * amplitude / dt ** 3, rel=1e-9)
    assert m["speed"] == pytest.approx(2 * s * amplitude / dt, rel=1e-9)
    assert m["accel_local"] == pytest.approx(0.0, abs=1e-9)  # rigid translation: no root-relative jitter
    assert m["jerk_local"] == pytest.approx(0.0, abs=1e-7)


def test_finite_differences_converge_to_continuous_values(pose):
    amplitude, w, fps = 0.05, 2 * math.pi * 2.0, 2000.0
    t = np.arange(400) / fps
    offset = amplitude * np.stack([np.cos(w * t), np.zeros_like(t), np.sin(w * t)], axis=1)
    m = physical_metrics(static(pose, len(t)) + offset[:, None, :], fps=fps)
    assert m["accel"] == pytest.approx(w ** 2 * amplitude, rel=1e-5)
    assert m["jerk"] == pytest.approx(w ** 3 * amplitude, rel=1e-5)


def test_one_dimensional_sine_oscillation(pose):
    """x = A sin(w t): the second difference is -4 sin^2(w dt/2) x_n / dt^2, the third 8 sin^3(w dt/2) A cos(...)."""
    amplitude, w, fps, frames = 0.02, 2 * math.pi * 0.9, 20.0, 50
    dt = 1 / fps
    t = np.arange(frames) * dt
    clip = static(pose, frames)
    clip[:, :, 1] += 0.5  # in the air: no contact effects
    clip[:, :, 0] += (amplitude * np.sin(w * t))[:, None]
    m = physical_metrics(clip, fps=fps)
    s = math.sin(w * dt / 2)
    accel = 4 * s ** 2 / dt ** 2 * amplitude * np.abs(np.sin(w * t[1:-1]))  # centred at frames 1..L-2
    jerk = 8 * s ** 3 / dt ** 3 * amplitude * np.abs(np.cos(w * (t[1:-2] + dt / 2)))  # centred at n + 1/2
    assert m["accel"] == pytest.approx(accel.mean(), rel=1e-9)
    assert m["jerk"] == pytest.approx(jerk.mean(), rel=1e-9)


# ------------------------------------------------------------------------------------------ fps and resampling
def test_resampling_20_to_30_fps_keeps_per_second_values(pose):
    fps, frames = 20.0, 41  # 2 seconds
    t = np.arange(frames) / fps
    velocity = np.array([0.45, 0.0, -0.2])
    sliding = static(pose, frames) + t[:, None, None] * velocity
    res, lens = resample_joints(sliding, fps, 30.0)
    assert res.shape[0] == 61 and lens.tolist() == [61]
    a, b = physical_metrics(sliding, fps), physical_metrics(res, 30.0)
    for key in ("skate_speed", "speed", "skate_ratio", "floating", "penetration", "contact"):
        assert b[key] == pytest.approx(a[key], rel=1e-12, abs=1e-12), key
    # constant acceleration (a parabola) resampled with the cubic spline: the same m/s^2, zero jerk
    accel = np.array([0.3, -1.1, 0.6])
    parabola = static(pose, frames) + 1.0 + 0.5 * (t ** 2)[:, None, None] * accel
    res, _ = resample_joints(parabola, fps, 30.0, method="cubic")
    a, b = physical_metrics(parabola, fps), physical_metrics(res, 30.0)
    assert a["accel"] == pytest.approx(np.linalg.norm(accel), rel=1e-9)
    assert b["accel"] == pytest.approx(np.linalg.norm(accel), rel=1e-9)
    assert abs(b["jerk"]) < 1e-6 and abs(a["jerk"]) < 1e-6


def test_resample_batch_with_lengths(pose):
    rng = np.random.default_rng(0)
    clips = rng.normal(size=(3, 30, 22, 3))
    lengths = np.array([30, 11, 2])
    out, new = resample_joints(clips, 20.0, 30.0, lengths)
    assert new.tolist() == [44, 16, 2]
    assert out.shape == (3, 44, 22, 3)
    np.testing.assert_array_equal(out[1, 16:], 0.0)
    single, _ = resample_joints(clips[1, :11], 20.0, 30.0)
    np.testing.assert_allclose(out[1, :16], single, atol=1e-12)
    np.testing.assert_allclose(out[:, 0], clips[:, 0])  # frame 0 is kept
    same, same_len = resample_joints(clips, 20.0, 20.0, lengths)
    np.testing.assert_allclose(same[0], clips[0], atol=1e-12)
    assert same_len.tolist() == lengths.tolist()


def test_unit_conversion():
    np.testing.assert_allclose(to_metres(np.ones((2, 3)) * 250, "mm"), 0.25)
    with pytest.raises(ValueError, match="unit"):
        to_metres(np.ones(3), "inch")


# ------------------------------------------------------------------------------------------ invariances, padding
def random_motion(rng: np.random.Generator, pose: np.ndarray, frames: int, noise: float = 0.01) -> np.ndarray:
    """A wobbly walk: smooth root drift, per-joint noise, toes dipping in and out of the contact band."""
    t = np.arange(frames)
    drift = np.cumsum(rng.normal(0, 0.02, size=(frames, 3)), axis=0) * [1, 0, 1]
    clip = static(pose, frames) + drift[:, None, :] + rng.normal(0, noise, size=(frames, 22, 3))
    clip[:, TOES[0], 1] += 0.04 * (1 + np.sin(t / 3.0))
    clip[:, TOES[1], 1] += 0.04 * (1 + np.cos(t / 2.0))
    return clip


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_invariant_to_yaw_and_floor_plane_translation(pose, variant):
    rng = np.random.default_rng(1)
    clip = random_motion(rng, pose, 60)
    moved = clip @ rot_y(1.234).T + np.array([3.5, 0.0, -7.25])
    a = physical_metrics(clip, 20.0, variant=variant)
    b = physical_metrics(moved, 20.0, variant=variant)
    for key in METRICS:
        assert b[key] == pytest.approx(a[key], rel=1e-9, abs=1e-12), key
    assert 0 < a["contact"] < 1 and a["skate_speed"] > 0  # the test motion exercises contact and skating


def test_padding_and_lengths_are_ignored(pose):
    rng = np.random.default_rng(2)
    lengths = [60, 37, 4, 3, 2, 1]
    batch = np.full((len(lengths), 60, 22, 3), 1e3)  # garbage past each length
    for i, n in enumerate(lengths):
        batch[i, :n] = random_motion(rng, pose, n)
    batch[1, 45:, 0, 1] = np.nan  # even NaN past the length
    for variant in VARIANTS:
        together = physical_metrics(batch, 20.0, lengths, variant=variant, chunk_size=4)
        for i, n in enumerate(lengths):
            alone = physical_metrics(batch[i, :n], 20.0, variant=variant)
            for key in METRICS:
                np.testing.assert_allclose(together[key][i], alone[key], rtol=1e-12, err_msg=f"{variant} {key} {i}")
    m = physical_metrics(batch, 20.0, lengths)
    assert np.isnan(m["jerk"][3]) and np.isfinite(m["accel"][3])  # 3 frames: acceleration but no jerk
    assert np.isnan(m["speed"][5]) and np.isfinite(m["floating"][5])  # 1 frame: no rates


def test_no_contact_gives_nan_skate_speed(pose):
    m = physical_metrics(static(pose, 10) + [0, 1.0, 0], 20.0)
    assert np.isnan(m["skate_speed"]) and np.isnan(m["skate_ratio"]) and m["contact"] == 0.0
    lcm = physical_metrics(static(pose, 10) + [0, 1.0, 0], 20.0, variant="motionlcm")
    assert lcm["skate_ratio"] == 0.0  # over all steps


def test_kit_skeleton_feet():
    assert foot_joint_indices(KIT, "toes") == (20, 15)
    assert foot_joint_indices(HUMANML3D, "toes") == (10, 11)
    assert foot_joint_indices(HUMANML3D, "feet") == (7, 10, 8, 11)
    clip = np.zeros((12, 21, 3))
    clip[:, :, 1] = 1.0
    clip[:, [15, 20], 1] = 0.0
    clip[:, 15, 0] = 0.3 * np.arange(12) / 12.5
    m = physical_metrics(clip, 12.5)  # 21 joints -> KIT
    assert m["skate_speed"] == pytest.approx(0.15)


# ------------------------------------------------------------------------------------------ published rules
def kimodo_reference(joints: np.ndarray, lengths: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Kimodo's FootSkateFromHeight and FootSkateRatio, written from their stated rules with loops."""
    speed_out, ratio_out = [], []
    for clip, n in zip(joints, lengths):
        moving, contacts, skates, contacts2 = 0.0, 0, 0, 0
        for t in range(n - 1):
            for toe in TOES:
                v = np.linalg.norm(clip[t + 1, toe] - clip[t, toe]) * fps
                if clip[t, toe, 1] < 0.05:
                    moving += v
                    contacts += 1
                if clip[t, toe, 1] < 0.05 and clip[t + 1, toe, 1] < 0.05:
                    contacts2 += 1
                    skates += v > 0.2
        speed_out.append(moving / contacts if contacts else np.nan)
        ratio_out.append(skates / contacts2 if contacts2 else np.nan)
    return np.array(speed_out), np.array(ratio_out)


def motionlcm_reference(joints: np.ndarray, fps: float) -> np.ndarray:
    """MotionLCM's calculate_skating_ratio (unpadded clips), with scipy's uniform_filter1d as they use it."""
    from scipy.ndimage import uniform_filter1d

    feet = joints[:, :, list(TOES)]
    vel = np.linalg.norm(feet[:, 1:, :, [0, 2]] - feet[:, :-1, :, [0, 2]], axis=-1) * fps
    avg = uniform_filter1d(vel, axis=1, size=5, mode="constant", origin=0)
    height = feet[..., 1]
    contact = (height[:, :-1] < 0.05) & (height[:, 1:] < 0.05)
    skating = contact & (vel > 0.5) & (avg > 0.5)
    skating = skating[:, :, 0] | skating[:, :, 1]
    return skating.sum(axis=1) / skating.shape[1]


def physdiff_joints_reference(joints: np.ndarray, lengths: np.ndarray, fps: float) -> dict[str, np.ndarray]:
    """The joint-based PhysDiff rules (penetrate / float / skate with 5 mm), per clip, with loops, in metres."""
    out: dict[str, list[float]] = {"penetration": [], "floating": [], "skate_speed": []}
    for clip, n in zip(joints, lengths):
        lowest = [clip[t, :, 1].min() for t in range(n)]
        out["penetration"].append(np.mean([max(0.0, -(h + 0.005)) for h in lowest]))
        out["floating"].append(np.mean([max(0.0, h - 0.005) for h in lowest]))
        slides = []
        for t in range(n - 1):
            k = int(np.argmin(clip[t, :, 1]))
            if clip[t, k, 1] < 0.005 and clip[t + 1, k, 1] < 0.005:
                slides.append(np.hypot(*(clip[t + 1, k, [0, 2]] - clip[t, k, [0, 2]])) * fps)
            else:
                slides.append(0.0)
        out["skate_speed"].append(np.mean(slides))
    return {k: np.array(v) for k, v in out.items()}


def test_physdiff_joints_variant_matches_its_rules(pose):
    rng = np.random.default_rng(5)
    lengths = np.array([45, 30, 12])
    batch = np.zeros((3, 45, 22, 3))
    for i, n in enumerate(lengths):
        clip = random_motion(rng, pose, n, noise=0.002)
        clip[..., 1] += rng.normal(0, 0.006, size=(n, 1))  # the body bobs through the floor
        batch[i, :n] = clip
    expected = physdiff_joints_reference(batch, lengths, 20.0)
    m = physical_metrics(batch, 20.0, lengths, variant="physdiff-joints")
    for key, value in expected.items():
        np.testing.assert_allclose(m[key], value, rtol=1e-12, atol=1e-15, err_msg=key)
    assert expected["penetration"].min() > 0 and expected["skate_speed"].max() > 0 and expected["floating"].min() > 0


def test_kimodo_variant_matches_its_rules(pose):
    rng = np.random.default_rng(3)
    lengths = np.array([50, 33, 8])
    batch = np.zeros((3, 50, 22, 3))
    for i, n in enumerate(lengths):
        batch[i, :n] = random_motion(rng, pose, n, noise=0.002) * [0.3, 1, 0.3]  # speeds around 0.2 m/s
    speed, ratio = kimodo_reference(batch, lengths, 30.0)
    m = physical_metrics(batch, 30.0, lengths, variant="kimodo")
    np.testing.assert_allclose(m["skate_speed"], speed, rtol=1e-12)
    np.testing.assert_allclose(m["skate_ratio"], ratio, rtol=1e-12)
    assert 0 < ratio.min() and ratio.max() < 1


def test_motionlcm_variant_matches_its_code(pose):
    rng = np.random.default_rng(4)
    clips = np.stack([random_motion(rng, pose, 40) * [6, 1, 6] for _ in range(4)])
    expected = motionlcm_reference(clips, 20.0)
    got = physical_metrics(clips, 20.0, variant="motionlcm")["skate_ratio"]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert expected.max() > 0


def test_variants_document_their_source():
    for name, cfg in VARIANTS.items():
        assert cfg.name == name and cfg.source and cfg.notes
    assert get_variant(None) is VARIANTS["default"]
    custom = VARIANTS["default"].replace(contact_height=0.08)
    assert custom.name == "default+custom" and get_variant(custom) is custom
    for info in METRICS.values():
        assert info.direction in ("lower", "higher", "closer-to-ground-truth") and info.unit


def test_columns(pose):
    cols = physical_columns(np.stack([static(pose, 8)] * 2), [8, 5], 20.0, "kimodo")
    assert set(cols) == {f"phys_{k}" for k in METRICS}
    assert all(v.shape == (2,) for v in cols.values())


# ------------------------------------------------------------------------------------------ errors
def test_bad_input_errors(pose):
    clip = static(pose, 10)
    with pytest.raises(ValueError, match="shape"):
        physical_metrics(clip[..., :2], 20.0)
    with pytest.raises(ValueError, match="fps"):
        physical_metrics(clip, 0.0)
    with pytest.raises(ValueError, match="lengths must lie"):
        physical_metrics(clip[None], 20.0, [11])
    with pytest.raises(ValueError, match="variant"):
        physical_metrics(clip, 20.0, variant="mesh")
    with pytest.raises(ValueError, match="skeleton"):
        physical_metrics(clip, 20.0, skeleton=KIT)
    with pytest.raises(ValueError, match="no default skeleton"):
        physical_metrics(np.zeros((5, 17, 3)), 20.0)
    bad = np.stack([clip, clip])
    bad[1, 3, 5, 0] = np.nan
    with pytest.raises(ValueError, match="clip 1 has NaN"):
        physical_metrics(bad, 20.0)
    with pytest.raises(ValueError, match="contact_frames"):
        PhysicalConfig(contact_frames="middle")


def test_torch_tensors_are_accepted(pose):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    clips = np.stack([random_motion(rng, pose, 20) for _ in range(2)])
    a = physical_metrics(clips, 20.0, [20, 15])
    b = physical_metrics(torch.from_numpy(clips), 20.0, torch.tensor([20, 15]))
    for key in METRICS:
        np.testing.assert_array_equal(a[key], b[key])
