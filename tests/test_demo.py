"""The bundled demo: procedural motions, captions, the dataset writer, demo generators and the demo run."""
from __future__ import annotations

import numpy as np
import pytest

from motioneval.data.captions import parse_caption_line, read_captions
from motioneval.demo import captions as demo_captions
from motioneval.demo.captions import all_captions, caption_line, sample_captions, spec_of_caption, tag
from motioneval.demo.dataset import DemoDatasetConfig, build_demo_dataset, clip_plan, is_demo_dataset
from motioneval.demo.motions import FAMILIES, MOTION_SPECS, PARENTS, REST_OFFSETS, SPECS_BY_KEY, synthesize
from motioneval.representation.forward import joints_to_features
from motioneval.representation.layout import HUMANML3D_LAYOUT

LEFT_HIP, RIGHT_HIP, LEFT_SHOULDER, RIGHT_SHOULDER, HEAD = 1, 2, 16, 17, 15
LEFT_WRIST, RIGHT_WRIST, LEFT_FOOT, RIGHT_FOOT = 20, 21, 10, 11


def _facing_angle(joints: np.ndarray) -> np.ndarray:
    """Heading (radians about +y, 0 = +z, positive towards +x = the body's left) per frame, from hips and
    shoulders, independently of the generator's own yaw bookkeeping."""
    across = (joints[:, RIGHT_HIP] - joints[:, LEFT_HIP]) + (joints[:, RIGHT_SHOULDER] - joints[:, LEFT_SHOULDER])
    facing = np.cross([0.0, 1.0, 0.0], across)
    return np.unwrap(np.arctan2(facing[:, 0], facing[:, 2]))


def _body_frame_displacement(joints: np.ndarray) -> np.ndarray:
    """Root displacement (x = left, z = forward) in the body frame of the first frame."""
    a = _facing_angle(joints)[0]
    d = joints[-1, 0] - joints[0, 0]
    return np.array([np.cos(a) * d[0] - np.sin(a) * d[2], np.sin(a) * d[0] + np.cos(a) * d[2]])


# ------------------------------------------------------------------------------------------------- motions
def test_classes_cover_the_families():
    assert {s.family for s in MOTION_SPECS} == set(FAMILIES)
    assert len({s.key for s in MOTION_SPECS}) == len(MOTION_SPECS) >= 40
    for s in MOTION_SPECS:
        lo, hi = s.frame_range
        assert 40 <= lo <= hi <= 196


def test_synthesize_is_deterministic_and_varies_with_the_seed():
    spec = SPECS_BY_KEY["walk-forward-normal"]
    a = synthesize(spec, 100, 7)
    b = synthesize(spec, 100, 7)
    c = synthesize(spec, 100, 8)
    assert a.shape == (100, 22, 3) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    # another seed: another clip of the same class (style, tempo, heading), not a copy
    assert np.abs(a - c).max() > 0.05
    rng1, rng2 = np.random.default_rng(3), np.random.default_rng(3)
    np.testing.assert_array_equal(synthesize(spec, 60, rng1), synthesize(spec, 60, rng2))


@pytest.mark.parametrize("spec", MOTION_SPECS, ids=lambda s: s.key)
def test_every_class_gives_a_valid_clip(spec):
    lo, hi = spec.frame_range
    n = (lo + hi) // 2 + 1
    j = synthesize(spec, n, 11).astype(np.float64)
    assert np.isfinite(j).all()
    # rigid bones: every bone keeps its length over the clip
    bones = np.linalg.norm(j[:, 1:] - j[:, PARENTS[1:]], axis=-1)
    np.testing.assert_allclose(bones, np.broadcast_to(np.linalg.norm(REST_OFFSETS[1:], axis=-1), bones.shape),
                               atol=2e-6)
    # on the floor: nothing below it, the lowest joint touches it except in the air (jumps, running flight)
    lowest = j[..., 1].min(axis=1)
    assert lowest.min() > -1e-5
    if spec.family in ("jump", "run"):
        assert lowest.min() < 0.01 and np.median(lowest) < 0.05
    else:
        assert lowest.max() < 1e-5
    # upright: the head is the top of the body in the rest frames and 1.4-1.8 m up when standing
    assert 1.4 < j[0, HEAD, 1] < 1.8
    feats = joints_to_features(j)
    assert feats.shape == (n - 1, HUMANML3D_LAYOUT.dim) and np.isfinite(feats).all()


def test_motions_do_what_their_captions_say():
    seed = 5

    def clip(key: str, n: int = 120) -> np.ndarray:
        return synthesize(SPECS_BY_KEY[key], n, seed).astype(np.float64)

    # locomotion direction in the body frame, speed ordering
    fwd = [_body_frame_displacement(clip(f"walk-forward-{s}"))[1] for s in ("slow", "normal", "quick")]
    assert 0 < fwd[0] < fwd[1] < fwd[2]
    assert _body_frame_displacement(clip("walk-backward-normal"))[1] < -1.0
    left = _body_frame_displacement(clip("walk-left-normal"))
    right = _body_frame_displacement(clip("walk-right-normal"))
    assert left[0] > 0.5 > abs(left[1]) and right[0] < -0.5
    assert _body_frame_displacement(clip("run-forward-normal"))[1] > 2 * fwd[1]
    # turns: the heading changes by the stated angle (90 +- 10 %, 180 +- 10 %), to the stated side
    for key, angle in (("turn-left", np.pi / 2), ("turn-right", -np.pi / 2)):
        change = np.diff(_facing_angle(clip(key, 100))[[0, -1]])[0]
        assert abs(change - angle) < 0.2, key
    assert abs(abs(np.diff(_facing_angle(clip("turn-around", 100))[[0, -1]])[0]) - np.pi) < 0.35
    ccw = _facing_angle(clip("walk-counterclockwise-normal", 196))
    cw = _facing_angle(clip("walk-clockwise-normal", 196))
    assert ccw[-1] - ccw[0] > np.pi / 2 and cw[-1] - cw[0] < -np.pi / 2
    # arms: the named hand goes above the head, the other one does not
    for side, hand, other in (("left", LEFT_WRIST, RIGHT_WRIST), ("right", RIGHT_WRIST, LEFT_WRIST)):
        for fam in ("wave", "raise"):
            j = clip(f"{fam}-{side}")
            assert (j[:, hand, 1] > j[:, HEAD, 1] - 0.1).any(), (fam, side)
            assert (j[:, other, 1] < j[:, 0, 1]).all(), (fam, side)
    j = clip("raise-both")
    assert ((j[:, LEFT_WRIST, 1] > j[:, HEAD, 1]) & (j[:, RIGHT_WRIST, 1] > j[:, HEAD, 1])).any()
    # kicks: the named foot rises, the other stays down
    for side, foot, other in (("left", LEFT_FOOT, RIGHT_FOOT), ("right", RIGHT_FOOT, LEFT_FOOT)):
        j = clip(f"kick-{side}-x1", 60)
        assert j[:, foot, 1].max() > 0.4 and j[:, other, 1].max() < 0.05
    # jumps leave the floor, as many times as said
    for n in (1, 2, 3):
        j = clip(f"jump-up-x{n}", 40 + 35 * n)
        airborne = j[..., 1].min(axis=1) > 0.05
        assert np.count_nonzero(np.diff(airborne.astype(int)) == 1) == n
    # sitting and squatting lower the pelvis; sit-and-stand-up ends standing
    standing = clip("wave-left")[0, 0, 1]
    assert clip("sit-x1")[-1, 0, 1] < standing - 0.25
    j = clip("sit-x2", 196)
    assert j[:, 0, 1].min() < standing - 0.25 and j[-1, 0, 1] > standing - 0.05
    assert clip("squat-x1", 60)[:, 0, 1].min() < standing - 0.3


# ------------------------------------------------------------------------------------------------ captions
def test_every_caption_of_the_grammar_is_tagged_and_maps_back_to_its_class():
    n = 0
    for spec in MOTION_SPECS:
        caps = all_captions(spec)
        assert len(caps) >= 6
        for cap in caps:
            plain, tokens = tag(cap)
            assert all(t.count("/") == 1 and t.split("/")[1].isupper() for t in tokens)
            assert len(tokens) <= 20
            assert spec_of_caption(plain) == spec
            n += 1
    assert len(demo_captions.caption_index()) == n  # the grammar is unambiguous
    with pytest.raises(ValueError, match="not one of the demo"):
        spec_of_caption("a person juggles.")


def test_caption_lines_parse_like_humanml3d():
    line = caption_line("a person walks forward slowly.")
    assert line == "a person walks forward slowly.#a/DET person/NOUN walk/VERB forward/ADV slowly/ADV#0.0#0.0"
    cap = parse_caption_line(line)
    assert cap.is_whole and cap.tokens == ("a/DET", "person/NOUN", "walk/VERB", "forward/ADV", "slowly/ADV")
    # lemmas for nouns and verbs (not "left"), tag overrides for ambiguous words
    assert tag("someone is waving both hands.")[1] == ["someone/PRON", "is/AUX", "wave/VERB", "both/DET",
                                                       "hand/NOUN"]
    assert tag("a man turns to the left/NOUN.")[1][-1] == "left/NOUN"
    assert tag("a man kicks with his left leg.")[1][-2:] == ["left/ADJ", "leg/NOUN"]
    rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(1)
    spec = SPECS_BY_KEY["kick-left-x2"]
    assert sample_captions(spec, rng_a, 3) == sample_captions(spec, rng_b, 3)
    vocab = demo_captions.vocabulary()
    for word in ("walk", "run", "jump", "turn", "wave", "sit", "kick", "squat", "left", "right", "slowly"):
        assert word in vocab


# ------------------------------------------------------------------------------------------------- dataset
TINY = DemoDatasetConfig(num_train=24, num_val=4, num_test=12, seed=3)


def test_dataset_folder_is_humanml3d_layout_deterministic_and_cached(tmp_path):
    from motioneval.data.dataset import MotionDataset

    root = build_demo_dataset(tmp_path / "demo", TINY)
    assert is_demo_dataset(root, TINY) and not is_demo_dataset(root, DemoDatasetConfig())
    plan = clip_plan(TINY)
    ids = [p[0] for p in plan]
    assert (root / "all.txt").read_text().split() == ids
    assert len((root / "test.txt").read_text().split()) == 12
    for cid, _, spec, n in plan[:6]:
        f = np.load(root / "new_joint_vecs" / f"{cid}.npy")
        j = np.load(root / "new_joints" / f"{cid}.npy")
        assert f.shape == (n, 263) and f.dtype == np.float32 and np.isfinite(f).all()
        assert j.shape == (n, 22, 3)
        caps = read_captions(root / "texts" / f"{cid}.txt")
        assert len(caps) == 3 and all(spec_of_caption(c.text) == spec for c in caps)
    # Mean/Std: the train split's per-dim mean, std averaged within each feature group
    train = np.concatenate([np.load(root / "new_joint_vecs" / f"{c}.npy") for c, s, _, _ in plan if s == "train"])
    mean, std = np.load(root / "Mean.npy"), np.load(root / "Std.npy")
    np.testing.assert_allclose(mean, train.astype(np.float64).mean(0), rtol=1e-5, atol=1e-6)
    ric = HUMANML3D_LAYOUT.ric
    np.testing.assert_allclose(std[ric], np.full(63, train[:, ric].astype(np.float64).std(0).mean()), rtol=1e-5)
    # the reader accepts it
    ds = MotionDataset(root, "test")
    assert len(ds) == 12
    # rebuilt elsewhere: identical bytes; a second build reuses the folder
    other = build_demo_dataset(tmp_path / "again", TINY)
    for name in ("Mean.npy", f"new_joint_vecs/{ids[-1]}.npy", f"texts/{ids[-1]}.txt"):
        assert (root / name).read_bytes() == (other / name).read_bytes()
    stamp = (root / "Mean.npy").stat().st_mtime_ns
    build_demo_dataset(root, TINY)
    assert (root / "Mean.npy").stat().st_mtime_ns == stamp


# ---------------------------------------------------------------------------------------------- generators
WALK = "a person walks forward."
BACK = "a man walks backward."
WAVE = "someone waves with their right hand."


def _through_the_loop(gen, captions, lengths, seed, stats, padding="zeros"):
    """What the evaluation loop makes of a generator's output: raw features and lengths."""
    from motioneval.protocol.generators import check_generator, normalize_output, to_raw_features

    check_generator(gen)
    motions, lens = normalize_output(gen.generate(captions, lengths, seed), lengths, name=gen.name)
    return to_raw_features(motions, lens, kind=gen.kind, normalization=gen.normalization, dataset_stats=stats,
                           evaluator_stats=stats, padding=padding, name=gen.name)


@pytest.fixture(scope="module")
def tiny_stats(tmp_path_factory):
    from motioneval.representation.normalization import FeatureStats

    root = build_demo_dataset(tmp_path_factory.mktemp("demo") / "ds", TINY)
    return FeatureStats.load_dataset(root)


def test_generators_give_what_the_loop_expects(tiny_stats):
    from motioneval.demo.generators import demo_generators

    caps = [WALK, BACK, WAVE, WALK]
    lengths = np.array([60, 44, 80, 52])
    names = set()
    for gen in demo_generators(tiny_stats):
        raw, lens = _through_the_loop(gen, caps, lengths, 5, tiny_stats)
        names.add(gen.name)
        assert raw.shape == (4, 80, 263) and raw.dtype == np.float32, gen.name
        np.testing.assert_array_equal(lens, lengths)
        assert np.isfinite(raw).all()
        for i, n in enumerate(lengths):
            assert not raw[i, n:].any() and np.abs(raw[i, n - 1]).sum() > 0, gen.name
        # seeded: the same call gives the same motions, another seed other motions
        again, _ = _through_the_loop(gen, caps, lengths, 5, tiny_stats)
        np.testing.assert_array_equal(raw, again)
        # lengths=None (presets with a length estimator): lengths from each caption's class range
        out = gen.generate(caps, None, 6)
        assert len(out.lengths) == 4
        # padding "none" (MDM): every stored frame reaches the evaluator; past its length a clip goes on
        # (holds its pose) instead of collapsing to zeros, and the rows before the length are unchanged
        full, _ = _through_the_loop(gen, caps, lengths, 5, tiny_stats, padding="none")
        assert np.isfinite(full).all() and np.abs(full[1, 60:]).sum() > 0, gen.name
        np.testing.assert_allclose(full[1, :44], raw[1, :44], atol=1e-4, err_msg=gen.name)
    assert len(names) == 5


def test_ground_truth_resampling_follows_the_caption(tiny_stats):
    from motioneval.demo.generators import GroundTruthResampler

    raw, _ = _through_the_loop(GroundTruthResampler(), [WALK] * 4 + [BACK] * 4, np.full(8, 100), 1, tiny_stats)
    forward = raw[:, 10:99, HUMANML3D_LAYOUT.lin_vel][..., 1].mean(axis=1)  # body-frame z velocity
    assert (forward[:4] > 0.01).all() and (forward[4:] < -0.01).all()
    assert np.abs(raw[0] - raw[1]).max() > 0.01  # two samples of one caption differ


def test_flawed_generators_have_their_flaw(tiny_stats):
    from motioneval.demo.generators import (
        CaptionIgnoringGenerator,
        GroundTruthResampler,
        JitteryGenerator,
        ModeCollapsedGenerator,
        NoisyGenerator,
    )

    lengths = np.array([60, 60, 60, 60])
    # caption-ignoring: the captions do not change the output
    ign = CaptionIgnoringGenerator()
    a = ign.generate([WALK, WALK, WAVE, BACK], lengths, 3).motions
    b = ign.generate([WAVE, BACK, WALK, WALK], lengths, 3).motions
    np.testing.assert_array_equal(a, b)
    # mode-collapsed: one clip for all walk captions, another for everything else, whatever the seed
    mc = ModeCollapsedGenerator()
    out = mc.generate([WALK, BACK, WAVE, "a person squats twice."], lengths, 1).motions
    np.testing.assert_array_equal(out[0], out[1])
    np.testing.assert_array_equal(out[2], out[3])
    assert np.abs(out[0] - out[2]).max() > 0.1
    np.testing.assert_array_equal(out, mc.generate([WALK, BACK, WAVE, "a man sits down."], lengths, 9).motions)
    # noisy: dataset-normalized real clips plus N(0, sigma^2)
    noisy = NoisyGenerator(tiny_stats, sigma=0.5)
    clean = tiny_stats.normalize(GroundTruthResampler().generate([WALK] * 4, lengths, 2).motions.astype(np.float64))
    residual = noisy.generate([WALK] * 4, lengths, 2).motions - clean
    assert abs(residual.std() - 0.5) < 0.01 and abs(residual.mean()) < 0.01
    # jittery: joints with L + 1 frames, bones no longer rigid
    jit = JitteryGenerator(jitter=1.5).generate([WALK] * 4, lengths, 2)
    assert jit.motions.shape == (4, 61, 22, 3) and (np.asarray(jit.lengths) == 61).all()
    bones = np.linalg.norm(jit.motions[:, :, 1:] - jit.motions[:, :, PARENTS[1:]], axis=-1)
    assert np.ptp(bones, axis=1).max() > 0.02


# -------------------------------------------------------------------------------------------- the demo run
def _table(values):
    from motioneval.protocol.results import MetricSummary, Result, Row

    keys = ("r_precision_top1", "r_precision_top2", "r_precision_top3", "fid", "diversity")
    rows = [Row(name, "ground_truth" if name == "ground truth" else "model",
                {k: MetricSummary.from_values([v]) for k, v in zip(keys, vals)}) for name, vals in values.items()]
    return Result(rows=rows, preset={"name": "custom"}, seed=0, replications=1)


def test_ranking_checks_pass_a_sensible_table_and_catch_each_violation():
    from motioneval.demo.run import merge_results, ranking_checks

    good = {"ground truth": (0.6, 0.85, 0.95, 0.01, 17.0), "ground-truth resampling": (0.59, 0.84, 0.93, 0.1, 16.8),
            "noisy": (0.5, 0.74, 0.86, 5.0, 16.0), "mode-collapsed": (0.05, 0.1, 0.15, 120.0, 9.0),
            "caption-ignoring": (0.03, 0.06, 0.09, 1.3, 16.5)}
    assert all(ranking_checks(_table(good)).values()) and len(ranking_checks(_table(good))) == 4
    for row, vals, failing in (
            ("noisy", (0.5, 0.74, 0.86, 0.05, 16.0), "ground truth has the best FID"),
            ("noisy", (0.7, 0.9, 0.97, 5.0, 16.0), "ground truth has the best R-precision"),
            ("mode-collapsed", (0.01, 0.02, 0.03, 120.0, 9.0), "caption-ignoring has the worst R-precision"),
            ("noisy", (0.5, 0.74, 0.86, 5.0, 8.0), "mode-collapsed has the lowest diversity")):
        checks = ranking_checks(_table({**good, row: vals}))
        assert [k for k, ok in checks.items() if not ok] == [failing]
    # merging: ground truth of the first result, then every model row in order
    a = _table({k: good[k] for k in ("ground truth", "noisy")})
    b = _table({k: good[k] for k in ("ground truth", "caption-ignoring")})
    assert [r.name for r in merge_results([a, b]).rows] == ["ground truth", "noisy", "caption-ignoring"]
    with pytest.raises(ValueError, match="unique"):
        merge_results([a, a])


@pytest.mark.slow
def test_demo_run_ranks_the_generators(tmp_path):
    """A reduced demo (160 test clips, 2 replications) with the shipped evaluator ranks sensibly."""
    import json

    from motioneval.demo.run import demo_evaluator_dir, run_demo

    assert (demo_evaluator_dir() / "t2m" / "text_mot_match" / "model" / "finest.tar").is_file()
    config = DemoDatasetConfig(num_train=64, num_val=0, num_test=160, seed=11)
    demo = run_demo(tmp_path / "out", replications=2, dataset_config=config, overrides={"diversity_pairs": 100})
    res = demo.result
    assert [r.name for r in res.rows] == ["ground truth", "ground-truth resampling", "noisy", "jittery",
                                          "mode-collapsed", "caption-ignoring"]
    assert demo.checks and all(demo.checks.values()), (demo.checks, res.to_markdown())
    # retrieval of real captions far above chance (1/32)
    assert res.row("ground truth")["r_precision_top1"].mean > 0.25
    assert res.row("caption-ignoring")["r_precision_top1"].mean < 0.08
    # mode collapse also shows in MultiModality
    mm = {r.name: r["multimodality"].mean for r in res.rows if r.kind == "model"}
    assert min(mm, key=mm.get) == "mode-collapsed"
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["preset"]["name"] == "custom" and saved["replications"] == 2
    assert {"replications", "mm_captions", "diversity_pairs"} <= set(saved["preset"]["differences"])
    assert any(p.endswith("finest.tar") for p in saved["provenance"]["evaluator"])
    for name in ("results.md", "results.csv", "results.tex"):
        assert (tmp_path / "out" / name).is_file()


def test_demo_command_line_and_settings(tmp_path, capsys):
    from motioneval.cli.main import main
    from motioneval.demo.run import DEMO_OVERRIDES, demo_settings

    with pytest.raises(SystemExit) as exc:
        main(["demo", "--help"])
    assert exc.value.code == 0 and "--replications" in capsys.readouterr().out
    assert main(["demo", "--out", str(tmp_path), "--replications", "0"]) == 1
    assert "--replications must be >= 1" in capsys.readouterr().err
    assert demo_settings("t2m") == DEMO_OVERRIDES
    assert demo_settings("mdm", 5, {"mm_repeats": 20})["replications"] == 5
    assert "mm_captions" not in demo_settings("t2m-gpt")  # MultiModality on every caption there
