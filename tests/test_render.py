"""Stick-figure rendering: files, frame counts and sizes, colours, camera behaviour, inputs, CLI."""
from __future__ import annotations

import numpy as np
import pytest

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

from motioneval.viz.render import BACKGROUND, View, as_joint_clips, filmstrip, render  # noqa: E402

PANEL = (120, 120)
FOOTER_10PT = 16  # footer (progress bar, frame counter) below the panels at font size 10: 1.25 lines + 4 px


@pytest.fixture(scope="module")
def clip_joints(data_dir):
    return np.load(data_dir / "HumanML3D" / "new_joints" / "012314.npy")


@pytest.fixture(scope="module")
def clip_features(data_dir):
    return np.load(data_dir / "HumanML3D" / "new_joint_vecs" / "012314.npy")


def _blue(rgb: np.ndarray) -> np.ndarray:
    r, g, b = (rgb[..., i].astype(int) for i in range(3))
    return (b > r + 60) & (b > g)


def _orange(rgb: np.ndarray) -> np.ndarray:
    r, g, b = (rgb[..., i].astype(int) for i in range(3))
    return (r > b + 100) & (r > g)


def _gif_frames(path):
    im = Image.open(path)
    frames = []
    for k in range(im.n_frames):
        im.seek(k)
        frames.append(np.asarray(im.convert("RGB")))
    return frames


def _figure_bbox(mask: np.ndarray):
    ys, xs = np.nonzero(mask)
    return xs.min(), xs.max(), ys.min(), ys.max()


def test_gif_frames_size_colours_and_figures_inside(tmp_path, clip_joints):
    gen = clip_joints[:50].copy()
    gen[..., 0] += 0.2  # a different motion: shifted sideways
    out = render(gen, tmp_path / "a.gif", reference=clip_joints[:36], captions=["a person walks"],
                 panel_size=PANEL, font_size=10)
    frames = _gif_frames(out)
    assert len(frames) == 50  # the longest clip; the 36-frame reference holds its last pose
    h, w, _ = frames[0].shape
    assert w == 2 * PANEL[0]
    assert h > PANEL[1]
    assert Image.open(out).info["duration"] == 50  # 20 fps
    for k in (0, 25, 49):
        f = frames[k]
        blue, orange = _blue(f), _orange(f)
        # ground truth is drawn in the left panel in blue, the generated motion in the right panel in orange
        assert blue.sum() > 80 and orange.sum() > 80
        top = h - PANEL[1] - FOOTER_10PT  # one row: caption and labels above the panels, footer below
        bx0, bx1, by0, by1 = _figure_bbox(blue[top:top + PANEL[1]])
        ox0, ox1, oy0, oy1 = _figure_bbox(orange[top:top + PANEL[1]])
        assert 2 < bx0 and bx1 < PANEL[0] - 2, "ground-truth figure must lie inside the left panel"
        assert PANEL[0] + 2 < ox0 and ox1 < 2 * PANEL[0] - 2, "generated figure must lie inside the right panel"
        assert 2 < min(by0, oy0) and max(by1, oy1) < PANEL[1] - 2, "figures must not touch the panel's edges"
    assert not np.array_equal(frames[0], frames[25])  # it moves


def test_mp4_frame_count_and_size(tmp_path, clip_joints):
    iio = pytest.importorskip("imageio.v2")
    pytest.importorskip("imageio_ffmpeg")
    out = render([clip_joints[:30], clip_joints[5:45]], tmp_path / "b.mp4", panel_size=(96, 96), font_size=9)
    reader = iio.get_reader(str(out))
    try:
        n = reader.count_frames()
        first = reader.get_data(0)
    finally:
        reader.close()
    assert n == 40
    # two cells side by side (near-square grid), each 96 wide; height padded up to a multiple of 16
    assert first.shape[1] == 2 * 96
    assert first.shape[0] % 16 == 0 and first.shape[0] >= 96
    assert _orange(first).sum() > 40 and _blue(first).sum() == 0


def test_features_render_like_their_joints(tmp_path, clip_joints, clip_features):
    # the dataset's joints are features_to_joints(features) to float32 precision, so drawings coincide
    a = _gif_frames(render(clip_features[:20], tmp_path / "f.gif", panel_size=PANEL))
    b = _gif_frames(render(clip_joints[:20], tmp_path / "j.gif", panel_size=PANEL))
    assert len(a) == len(b) == 20
    differing = np.mean([(x != y).any(axis=2).mean() for x, y in zip(a, b)])
    assert differing < 0.002


def test_normalized_features_need_and_use_stats(data_dir, clip_features):
    from motioneval.data.samples import SampleSet
    from motioneval.representation.normalization import FeatureStats

    stats = FeatureStats.load(data_dir / "HumanML3D" / "Mean.npy", data_dir / "HumanML3D" / "Std.npy")
    sset = SampleSet(captions=["walk"], lengths=np.array([30]), motions=stats.normalize(clip_features[None, :40]),
                     normalization="dataset")
    with pytest.raises(ValueError, match="stats="):
        as_joint_clips(sset)
    (clip,) = as_joint_clips(sset, stats=stats)
    assert clip.shape == (30, 22, 3)
    from motioneval.representation.inverse import features_to_joints

    np.testing.assert_allclose(clip, features_to_joints(clip_features[:30].astype(np.float64)), atol=1e-4)


def test_follow_camera_keeps_figure_centred_and_fixed_camera_does_not(tmp_path, clip_joints):
    pose = clip_joints[0] - clip_joints[0, :1] * np.array([1, 0, 1])
    walk = np.stack([pose + np.array([0.05 * t, 0.0, 0.0]) for t in range(30)])  # glide 1.5 m along +x
    view = View(azimuth=0.0, elevation=10.0, perspective=False)
    centres = {}
    for fixed in (False, True):
        frames = _gif_frames(render(walk, tmp_path / f"w{fixed}.gif", fixed_camera=fixed, view=view,
                                    panel_size=(160, 120)))
        centres[fixed] = np.array([np.nonzero(_orange(f))[1].mean() for f in frames])
    assert np.ptp(centres[False]) < 2.0  # follows the root: the figure stays put
    assert centres[True][-1] - centres[True][0] > 30  # fixed: the figure crosses the panel to the right
    assert np.all(np.diff(centres[True]) > -1.0)


def test_grid_layout_and_lengths(tmp_path, clip_joints):
    clips = [clip_joints[:n] for n in (10, 20, 12, 8, 15)]
    out = render(clips, tmp_path / "g.gif", layout=(2, 3), panel_size=(64, 64), font_size=8,
                 captions=[f"motion {i}" for i in range(5)])
    im = Image.open(out)
    assert im.n_frames == 20
    assert im.size[0] == 3 * 64
    # default near-square grid: 5 cells -> 3 columns, 2 rows
    auto = Image.open(render(clips, tmp_path / "g2.gif", panel_size=(64, 64), font_size=8,
                             captions=[f"motion {i}" for i in range(5)]))
    assert auto.size == im.size
    with pytest.raises(ValueError, match="layout"):
        render(clips, tmp_path / "bad.gif", layout=(1, 2))


def test_filmstrip_png(tmp_path, clip_joints):
    out = filmstrip(clip_joints, tmp_path / "s.png", num_frames=5, reference=clip_joints[::-1].copy(),
                    captions="a person walks", panel_size=(80, 100), font_size=10)
    im = np.asarray(Image.open(out).convert("RGB"))
    assert im.shape[1] == 5 * 80
    half = im.shape[0] // 2
    assert _blue(im[:half]).sum() > 100 and _orange(im[half:]).sum() > 100  # GT row first, then generated
    assert _orange(im[:half]).sum() == 0 and _blue(im[half:]).sum() == 0
    # five key frames: every panel column holds a figure
    figure = _blue(im) | _orange(im)
    assert all(figure[:, k * 80:(k + 1) * 80].sum() > 30 for k in range(5))
    assert (im == np.array(BACKGROUND)).all(axis=2).mean() > 0.5


def test_bad_inputs(tmp_path, clip_joints):
    bad = clip_joints[:10].copy()
    bad[3, 4, 1] = np.nan
    with pytest.raises(ValueError, match=r"motions\[1\] contains NaN"):
        render([clip_joints[:10], bad], tmp_path / "x.gif")
    with pytest.raises(ValueError, match=r"\.gif or \.mp4"):
        render(clip_joints, tmp_path / "x.avi")
    with pytest.raises(ValueError, match="reference has 1"):
        render([clip_joints, clip_joints], tmp_path / "x.gif", reference=clip_joints)
    with pytest.raises(ValueError, match="cannot tell joints from features"):
        render(np.zeros((10, 7)), tmp_path / "x.gif")
    with pytest.raises(ValueError, match="no known skeleton"):
        render(np.zeros((10, 5, 3)), tmp_path / "x.gif")
    assert not list(tmp_path.glob("*.gif")) and not list(tmp_path.glob(".*"))


def test_cli_render(tmp_path, data_dir, capsys):
    from motioneval.cli.main import main

    feats = data_dir / "HumanML3D" / "new_joint_vecs" / "012314.npy"
    joints = data_dir / "HumanML3D" / "new_joints" / "012314.npy"
    code = main(["render", str(feats), "-o", str(tmp_path / "c.gif"), "--reference", str(joints), "--size", "96"])
    assert code == 0
    assert "170 frames" in capsys.readouterr().out
    with Image.open(tmp_path / "c.gif") as gif:
        assert gif.n_frames == 170
    assert main(["render", str(joints), "-o", str(tmp_path / "c.png"), "--frames", "4", "--size", "96"]) == 0
    with Image.open(tmp_path / "c.png") as png:
        assert png.size[0] == 4 * 64


def _one_clip_dataset(root, data_dir):
    """A HumanML3D-layout folder holding the real clip 012314 (features, joints, one caption)."""
    import shutil

    src = data_dir / "HumanML3D"
    for sub in ("new_joint_vecs", "new_joints"):
        (root / sub).mkdir(parents=True)
        shutil.copy(src / sub / "012314.npy", root / sub / "012314.npy")
    for name in ("Mean.npy", "Std.npy"):
        shutil.copy(src / name, root / name)
    (root / "texts").mkdir()
    (root / "texts" / "012314.txt").write_text("a person walks forward.#a/DET person/NOUN walk/VERB "
                                               "forward/ADV#0.0#0.0\n")
    (root / "test.txt").write_text("012314\n")
    return root


def test_lone_ground_truth_clip_is_drawn_in_the_ground_truth_colour(tmp_path, clip_joints):
    render(clip_joints[:12], tmp_path / "gt.gif", role="ground truth", panel_size=(96, 96))
    render(clip_joints[:12], tmp_path / "gen.gif", panel_size=(96, 96))
    gt, gen = _gif_frames(tmp_path / "gt.gif")[5], _gif_frames(tmp_path / "gen.gif")[5]
    assert _blue(gt).sum() > 50 and _orange(gt).sum() == 0
    assert _orange(gen).sum() > 50 and _blue(gen).sum() == 0
    with pytest.raises(ValueError, match="role"):
        render(clip_joints[:12], tmp_path / "x.gif", role="truth")


def test_cli_render_dataset_folder_as_input_and_as_reference(tmp_path, data_dir, capsys):
    from motioneval.cli.main import main

    root = _one_clip_dataset(tmp_path / "HumanML3D", data_dir)
    # A dataset folder (or a clip inside it) is ground truth: drawn in blue.
    assert main(["render", str(root), "-o", str(tmp_path / "gt.png"), "--frames", "3", "--size", "96"]) == 0
    png = np.asarray(Image.open(tmp_path / "gt.png").convert("RGB"))
    assert _blue(png).sum() > 50 and _orange(png).sum() == 0
    # Generated samples (here: the clip's own features, id 012314) beside their ground truth from the folder.
    from motioneval.data.samples import SampleSet

    feats = np.load(root / "new_joint_vecs" / "012314.npy")
    sset = SampleSet(captions=["a person walks forward."], lengths=np.array([len(feats)]),
                     motions=feats[None], kind="features", normalization="raw", ids=["012314"])
    sset.save(tmp_path / "samples.npz")
    assert main(["render", str(tmp_path / "samples.npz"), "-o", str(tmp_path / "pair.png"), "--frames", "3",
                 "--size", "96", "--reference", str(root)]) == 0
    pair = np.asarray(Image.open(tmp_path / "pair.png").convert("RGB"))
    assert _blue(pair).sum() > 50 and _orange(pair).sum() > 50
    capsys.readouterr()
    assert main(["render", str(root), "-o", str(tmp_path / "x.png"), "--ids", "000001"]) != 0
    assert "ids not in the 'test' split" in capsys.readouterr().err
