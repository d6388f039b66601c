"""Dataset folder reader: the protocol's ground-truth items and the one-pass validation report."""
from __future__ import annotations

import dataclasses
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from motioneval.data.dataset import (
    HUMANML3D_DATASET,
    KIT_DATASET,
    DatasetError,
    MotionDataset,
    check_dataset,
    get_dataset_spec,
    segment_item_id,
)

WHOLE = "a person walks forward.#a/DET person/NOUN walk/VERB forward/ADV#0.0#0.0"


def caption(text: str, start: float | str, end: float | str) -> str:
    words = " ".join(f"{w}/NOUN" for w in text.rstrip(".").split())
    return f"{text}#{words}#{start}#{end}"


def write_dataset(root: Path, clips: dict, texts: dict, *, split: str = "test", dim: int = 263,
                  stats: bool = True, split_ids: list[str] | None = None) -> Path:
    """``clips``: id -> array, or frame count (random features), or None (no file); ``texts``: id -> str or None."""
    (root / "new_joint_vecs").mkdir(parents=True, exist_ok=True)
    (root / "texts").mkdir(exist_ok=True)
    rng = np.random.default_rng(len(clips))
    for cid, clip in clips.items():
        if clip is None:
            continue
        if isinstance(clip, int):
            clip = rng.normal(size=(clip, dim)).astype(np.float32)
        np.save(root / "new_joint_vecs" / f"{cid}.npy", clip)
    for cid, text in texts.items():
        if text is not None:
            (root / "texts" / f"{cid}.txt").write_text(text, encoding="utf-8")
    ids = split_ids if split_ids is not None else list(clips)
    (root / f"{split}.txt").write_text("\n".join(ids) + "\n")
    if stats:
        np.save(root / "Mean.npy", np.zeros(dim, np.float32))
        np.save(root / "Std.npy", np.ones(dim, np.float32))
    return root


def reference_items(root: Path, ids: list[str], fps: float, lo: int, hi: int) -> list[tuple[str, np.ndarray, list[str]]]:
    """An independent statement of protocol.md steps 1-2: (clip id, features, caption texts) per item."""
    out = []
    for name in ids:
        motion = np.load(root / "new_joint_vecs" / f"{name}.npy")
        if len(motion) < lo or len(motion) >= hi:
            continue
        whole = []
        for line in (root / "texts" / f"{name}.txt").read_text().splitlines():
            fields = line.strip().split("#")
            a, b = float(fields[2]), float(fields[3])
            a, b = (0.0 if np.isnan(a) else a), (0.0 if np.isnan(b) else b)
            if a == 0.0 and b == 0.0:
                whole.append(fields[0])
                continue
            seg = motion[int(a * fps):int(b * fps)]
            if lo <= len(seg) < hi:
                out.append((name, seg, [fields[0]]))
        if whole:
            out.append((name, motion, whole))
    return out


def random_dataset(root: Path, n: int, seed: int, dim: int, fps: float) -> list[str]:
    rng = np.random.default_rng(seed)
    clips, texts = {}, {}
    for k in range(n):
        cid = f"{'M' if k % 5 == 0 else ''}{k:06d}"
        clips[cid] = int(rng.integers(15, 240))
        lines = []
        for j in range(int(rng.integers(1, 5))):
            r = rng.random()
            if r < 0.4:
                lines.append(caption(f"whole {j}.", "0.0", "0.0"))
            elif r < 0.5:
                lines.append(caption(f"nan {j}.", "nan", f"{rng.uniform(1, 12):.2f}"))
            else:
                a = rng.uniform(0, 9)
                lines.append(caption(f"seg {j}.", f"{a:.2f}", f"{max(a + rng.uniform(-1, 10), 0.05):.3f}"))
        texts[cid] = "\n".join(lines) + "\n"
    write_dataset(root, clips, texts, dim=dim)
    return list(clips)


@pytest.mark.parametrize("spec", [HUMANML3D_DATASET, KIT_DATASET], ids=lambda s: s.name)
def test_items_match_an_independent_statement_of_the_protocol(tmp_path, spec):
    ids = random_dataset(tmp_path, 40, seed=3 if spec is HUMANML3D_DATASET else 4, dim=spec.dim, fps=spec.fps)
    ds = MotionDataset(tmp_path, kind=spec.name)
    expected = reference_items(tmp_path, ids, spec.fps, spec.min_length, spec.max_length)
    assert len(ds) == len(expected) > 10
    assert any(it.is_segment for it in ds.items) and any(not it.is_segment for it in ds.items)
    for item, (cid, feats, texts) in zip(ds, expected):
        assert item.clip_id == cid
        assert [c.text for c in item.captions] == texts
        np.testing.assert_array_equal(item.features, feats)
        assert item.features.dtype == np.float32 and item.length == len(feats)
    assert len(set(ds.ids)) == len(ds)
    assert ds.report.ok and ds.report.num_items == len(ds)
    # the reference keeps its items stably sorted by length
    order = ds.length_order()
    assert list(ds.lengths[order]) == sorted(ds.lengths)
    assert [ds.ids[i] for i in order] == [ds.ids[i] for i in sorted(range(len(ds)), key=lambda i: ds.lengths[i])]


def test_length_bounds_and_segment_rules(tmp_path):
    texts = {
        "000039": WHOLE, "000040": WHOLE, "000199": WHOLE, "000200": WHOLE,
        # a long clip: its segments are never used, even within bounds (the length filter comes first)
        "000250": caption("part.", 1.0, 4.0),
        # segment-only clip: 2 kept segments (A, C), one too short (B); no whole item
        "000150": "\n".join([caption("first part.", 0.5, 3.0), caption("short.", 1.0, 2.0),
                             caption("end part.", 5.0, 99.0)]),
    }
    clips = {"000039": 39, "000040": 40, "000199": 199, "000200": 200, "000250": 250, "000150": 150}
    write_dataset(tmp_path, clips, texts)
    ds = MotionDataset(tmp_path)
    assert ds.ids == ["000040", "000199", "A_000150", "C_000150"]
    seg = ds["C_000150"]
    assert (seg.start, seg.end, seg.length) == (100, 150, 50) and seg.captions[0].text == "end part."
    assert (ds["A_000150"].start, ds["A_000150"].end) == (10, 60)
    filtered = {(p.kind, p.id) for p in ds.report.filtered}
    assert filtered == {("length_out_of_range", "000039"), ("length_out_of_range", "000200"),
                        ("length_out_of_range", "000250"), ("segment_out_of_range", "000150")}
    assert ds.report.ok and ds.report.num_clips == 3


def test_kit_bounds_and_fps(tmp_path):
    clips = {"00023": 23, "00024": 24, "00100": 100}
    texts = {k: WHOLE for k in clips} | {"00100": caption("part.", 2.32, 6.0)}
    write_dataset(tmp_path, clips, texts, dim=251)
    ds = MotionDataset(tmp_path)  # kind inferred from Mean.npy (251-d)
    assert ds.spec is KIT_DATASET
    assert ds.ids == ["00024", "A_00100"]
    assert (ds["A_00100"].start, ds["A_00100"].end) == (int(2.32 * 12.5), 75) == (28, 75)
    twenty = MotionDataset(tmp_path, kind=dataclasses.replace(KIT_DATASET, fps=20.0))
    assert (twenty["A_00100"].start, twenty["A_00100"].end) == (46, 100)


def test_report_names_every_problem(tmp_path):
    rng = np.random.default_rng(0)
    nan_clip = rng.normal(size=(120, 263)).astype(np.float32)
    nan_clip[7:9, 3] = np.nan
    inf_segment_clip = rng.normal(size=(120, 263)).astype(np.float32)
    inf_segment_clip[110, 0] = np.inf  # only the second segment, 4.0-6.0 s (frames 80..120), sees it
    clips = {
        "000001": 100, "007975": nan_clip, "000003": 100, "000004": None, "000005": 100, "000006": 90,
        "000007": rng.normal(size=(100, 251)).astype(np.float32), "000008": 100, "000009": inf_segment_clip,
    }
    texts = {
        "000001": WHOLE, "007975": WHOLE, "000003": None, "000004": WHOLE, "000005": "",
        "000006": WHOLE + "\n" + "broken line without fields\n", "000007": WHOLE, "000008": WHOLE + "\n\n",
        "000009": caption("early.", 0.0, 3.0) + "\n" + caption("later.", 4.0, 6.0),
    }
    write_dataset(tmp_path, clips, texts)
    (tmp_path / "new_joint_vecs" / "000010.npy").write_bytes(b"not an npy file")
    (tmp_path / "test.txt").write_text("\n".join(list(clips) + ["000010", "000001"]) + "\n")

    report = check_dataset(tmp_path)
    assert not report.ok
    by_kind = {(p.kind, p.id) for p in report.errors}
    assert by_kind == {
        ("nonfinite", "007975"), ("missing_captions", "000003"), ("missing_features", "000004"),
        ("empty_captions", "000005"), ("bad_caption_line", "000006"), ("wrong_shape", "000007"),
        ("nonfinite", "000009"), ("unreadable_features", "000010"),
    }
    for p in report.problems:
        if p.id is not None:
            assert p.message.startswith(f"{p.id}: ")
    nan = next(p for p in report.errors if p.id == "007975")
    assert "2 of 120 frames" in nan.message and "frames 7, 8" in nan.message and nan.items == ("007975",)
    inf = next(p for p in report.errors if p.id == "000009")
    assert inf.items == ("B_000009",)
    bad_line = next(p for p in report.errors if p.id == "000006")
    assert bad_line.line == 2 and "texts/000006.txt, line 2" in bad_line.message
    warns = {(p.kind, p.id) for p in report.warnings}
    assert warns == {("caption_warning", "000008"), ("duplicate_id", "000001")}
    assert report.bad_ids == ["007975", "000003", "000004", "000005", "000006", "000007", "000009", "000010"]

    text = report.summary()
    for cid in report.bad_ids:
        assert cid in text
    doc = json.loads(report.to_json())
    assert doc["ok"] is False and doc["counts"]["error"]["nonfinite"] == 2
    assert {p["id"] for p in doc["problems"] if p["severity"] == "error"} == set(report.bad_ids)

    with pytest.raises(DatasetError) as info:
        MotionDataset(tmp_path)
    assert info.value.report.bad_ids == report.bad_ids and "007975" in str(info.value)

    with pytest.warns(UserWarning, match="skipping 8 clip"):
        ds = MotionDataset(tmp_path, on_problem="skip")
    # the first segment of 000009 is clean and kept; the second, with the Inf frame, is dropped
    assert ds.ids == ["000001", "000008", "A_000009"]


def test_nonfinite_frames_no_item_uses_are_a_warning(tmp_path):
    clip = np.ones((150, 263), np.float32)
    clip[140] = np.nan
    write_dataset(tmp_path, {"000001": clip}, {"000001": caption("start.", 0.0, 3.0)})
    report = check_dataset(tmp_path)
    assert report.ok and [p.kind for p in report.warnings] == ["nonfinite"]


def test_real_split_ids_flag_007975(tmp_path, data_dir):
    ids = (data_dir / "HumanML3D" / "test.txt").read_text().split()
    chosen = ids[:30] + ["007975", "M007975"]
    assert "007975" in ids and "M007975" in ids
    clips = {cid: 60 for cid in chosen}
    for cid in ("007975", "M007975"):
        clips[cid] = np.full((60, 263), np.nan, np.float32)
    write_dataset(tmp_path, clips, {cid: WHOLE for cid in chosen})
    report = check_dataset(tmp_path)
    assert report.bad_ids == ["007975", "M007975"] and report.num_items == 32
    assert "007975: 60 of 60 frames contain NaN" in report.summary()
    assert "motioneval evaluate --skip-bad-items" in report.summary()  # the hint names what a CLI user can do


def test_real_clip_features_joints_and_stats(tmp_path, data_dir):
    src = data_dir / "HumanML3D"
    for sub in ("new_joint_vecs", "new_joints"):
        (tmp_path / sub).mkdir()
        shutil.copy(src / sub / "012314.npy", tmp_path / sub / "012314.npy")
    shutil.copy(src / "Mean.npy", tmp_path / "Mean.npy")
    shutil.copy(src / "Std.npy", tmp_path / "Std.npy")
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "012314.txt").write_text(WHOLE + "\n" + caption("a part.", 1.0, 4.0) + "\n")
    (tmp_path / "test.txt").write_text("012314\n")
    feats = np.load(src / "new_joint_vecs" / "012314.npy")
    joints = np.load(src / "new_joints" / "012314.npy")
    for preload in (True, False):
        ds = MotionDataset(tmp_path, preload=preload, check_joints=True)
        assert ds.spec is HUMANML3D_DATASET and ds.report.problems == ()
        np.testing.assert_array_equal(ds["012314"].features, feats)
        np.testing.assert_array_equal(ds.features("A_012314"), feats[20:80])
        np.testing.assert_array_equal(ds.joints("A_012314"), joints[20:80])
        np.testing.assert_array_equal(ds.stats.mean, np.load(src / "Mean.npy"))
        # preloaded items are read-only views (callers cannot corrupt the cache); lazy ones are fresh copies
        assert ds["012314"].features.flags.writeable is not preload


def test_joints_checks_and_folder_errors(tmp_path):
    write_dataset(tmp_path, {"000001": 100, "000002": 100}, {"000001": WHOLE, "000002": WHOLE})
    (tmp_path / "new_joints").mkdir()
    np.save(tmp_path / "new_joints" / "000001.npy", np.zeros((100, 21, 3), np.float32))
    report = check_dataset(tmp_path, check_joints=True)
    assert report.ok
    assert {(p.kind, p.id) for p in report.warnings} == {("wrong_joints_shape", "000001"),
                                                          ("missing_joints", "000002")}
    with pytest.raises(FileNotFoundError, match=r"split file not found: .*val\.txt \(split lists in .*: test\.txt\)"):
        check_dataset(tmp_path, "val")
    assert check_dataset(tmp_path, tmp_path / "test.txt").num_items == 2
    shutil.rmtree(tmp_path / "texts")
    with pytest.raises(FileNotFoundError, match="captions folder not found"):
        check_dataset(tmp_path)


def test_kind_inference_and_stats_problems(tmp_path):
    write_dataset(tmp_path, {"000001": np.zeros((50, 100), np.float32)}, {"000001": WHOLE}, dim=100)
    with pytest.raises(ValueError, match="found 100-d.*kind='humanml3d'"):
        check_dataset(tmp_path)
    report = check_dataset(tmp_path, kind="humanml3d")
    assert {p.kind for p in report.errors} == {"bad_stats", "wrong_shape"}
    (tmp_path / "Mean.npy").unlink()
    report = check_dataset(tmp_path, kind="kit")
    assert "missing_stats" in {p.kind for p in report.warnings}
    assert get_dataset_spec("t2m") is HUMANML3D_DATASET
    with pytest.raises(ValueError, match="unknown dataset kind"):
        get_dataset_spec("amass")


def test_segment_ids_are_deterministic_and_distinct():
    assert [segment_item_id("007", n) for n in (0, 1, 25, 26, 27, 701, 702)] == [
        "A_007", "B_007", "Z_007", "AA_007", "AB_007", "ZZ_007", "AAA_007"]
    assert len({segment_item_id("x", n) for n in range(2000)}) == 2000


def test_lazy_and_preloaded_agree_and_index_errors(tmp_path):
    random_dataset(tmp_path, 12, seed=9, dim=263, fps=20.0)
    eager = MotionDataset(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lazy = MotionDataset(tmp_path, preload=False)
    assert eager.ids == lazy.ids
    for a, b in zip(eager, lazy):
        np.testing.assert_array_equal(a.features, b.features)
    with pytest.raises(KeyError, match="no item 'nope'"):
        eager["nope"]
    with pytest.raises(TypeError):
        eager[0:2]
    with pytest.raises(ValueError, match="on_problem"):
        MotionDataset(tmp_path, on_problem="ignore")
