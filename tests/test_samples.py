"""SampleSet: the in-memory contract, the pickle-free .npz format and the per-sample folder reader."""
from __future__ import annotations

import csv
import dataclasses
import io
import json

import numpy as np
import pytest

from motioneval.data.samples import FORMAT, SampleSet, SampleSetError, load_samples, read_sample_folder


def make_set(n_samples=4, reps=2, t=30, d=263, kind="features", seed=0, **kw) -> SampleSet:
    rng = np.random.default_rng(seed)
    rows = n_samples * reps
    shape = (rows, t, d) if kind == "features" else (rows, t, 22, 3)
    lengths = np.tile(rng.integers(5, t + 1, size=n_samples), reps)
    caps = [f"caption {i}" for i in range(n_samples)] * reps
    toks = [[f"w{i}/NOUN", "walk/VERB"] for i in range(n_samples)] * reps
    ids = [f"{i:06d}" for i in range(n_samples)] * reps
    args = dict(captions=caps, lengths=lengths, motions=rng.normal(size=shape).astype(np.float32), kind=kind,
                normalization="dataset" if kind == "features" else "raw", tokens=toks, ids=ids,
                num_repetitions=reps, metadata={"generator": "test", "seed": 3})
    args.update(kw)
    return SampleSet(**args)


def test_padding_is_zeroed_without_touching_the_input():
    motions = np.ones((3, 10, 263), np.float32)
    s = SampleSet(captions=["a", "b", "c"], lengths=[10, 4, 7], motions=motions)
    assert motions.sum() == 3 * 10 * 263  # caller's array untouched
    mask = np.arange(10)[None, :] < np.array([10, 4, 7])[:, None]
    np.testing.assert_array_equal(s.motions, np.broadcast_to(mask[:, :, None], (3, 10, 263)).astype(np.float32))
    assert s.ids == ["0", "1", "2"] and s.num_samples == 3 and s.max_frames == 10
    # already zero-padded float32 input is shared, not copied
    again = SampleSet(captions=s.captions, lengths=s.lengths, motions=s.motions)
    assert np.shares_memory(again.motions, s.motions)


def test_nan_past_the_length_is_dropped_but_within_it_is_named():
    motions = np.zeros((4, 8, 263), np.float32)
    motions[1, 6:] = np.nan  # past length 5: harmless
    s = SampleSet(captions=list("abcd"), lengths=[8, 5, 8, 8], motions=motions)
    assert np.isfinite(s.motions).all()
    motions[3, 2, 7] = np.inf
    ids = ["s0", "s1", "s0", "s1"]
    with pytest.raises(SampleSetError, match=r"1 row\(s\) contain NaN or Inf.*sample 's1' \(row 3, repetition 1\)"):
        SampleSet(captions=list("abab"), lengths=[8, 5, 8, 8], motions=motions, ids=ids, num_repetitions=2)


@pytest.mark.parametrize("change, fragment", [
    (dict(lengths=np.array([5, 31, 5, 5, 5, 5, 5, 5])), r"length\(s\) > 30 frames stored: sample '000001' \(row 1, "
                                                        r"repetition 0\): 31"),
    (dict(lengths=np.array([5, 5, 5, 5, 5, 0, 5, 5])), r"length\(s\) < 1: sample '000001' \(row 5, repetition 1\)"),
    (dict(lengths=np.full(8, 5.5)), "whole numbers"),
    (dict(lengths=np.arange(7)), r"shape \(8,\)"),
    (dict(captions=["x"] * 7), "captions has 7 entries"),
    (dict(ids=[f"{i}" for i in range(8)]), r"ids of row 4 \('4'\) differs from row 0"),
    (dict(captions=[f"c{i}" for i in range(8)]), "captions of row 4"),
    (dict(num_repetitions=3), "num_repetitions must be a positive integer dividing the 8 rows"),
    (dict(normalization="zscore"), "normalization must be one of"),
    (dict(kind="latent"), "kind must be one of"),
    (dict(metadata={"bad": object()}), "JSON-serializable"),
    (dict(motions=np.zeros((8, 30, 22, 3), np.float32)), "looks like joints"),
    (dict(motions=np.zeros((8, 30, 263), dtype=complex)), "numeric"),
    (dict(tokens=[["a/DET"]] * 3), "tokens has 3 entries"),
])
def test_invalid_sets_give_precise_errors(change, fragment):
    with pytest.raises(SampleSetError, match=fragment):
        make_set(**change)


def test_joints_kind():
    s = make_set(kind="joints")
    assert s.motions.shape[2:] == (22, 3) and s.normalization == "raw"
    with pytest.raises(SampleSetError, match="no normalization"):
        make_set(kind="joints", normalization="dataset")


def test_npz_round_trip_is_exact_and_pickle_free(tmp_path):
    s = make_set(metadata={"generator": "mdm", "seed": np.int64(3), "guidance": 2.5, "note": "ünïcode ✓"})
    s.captions[0:1] = ["a man jumps — twice"]
    s.captions[4] = "a man jumps — twice"
    s = dataclasses.replace(s)
    path = s.save(tmp_path / "out" / "samples.npz")
    with np.load(path, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["frames", "lengths", "meta", "motions"]
        meta = json.loads(npz["meta"].tobytes().decode("utf-8"))
    assert meta["format"] == FORMAT == "motioneval.samples/2"
    assert meta["num_samples"] == 4 and meta["captions"][0] == "a man jumps — twice"
    back = SampleSet.load(path)
    np.testing.assert_array_equal(back.motions, s.motions)
    np.testing.assert_array_equal(back.lengths, s.lengths)
    assert back.lengths.dtype == np.int64 and back.motions.dtype == np.float32
    for f in ("captions", "tokens", "ids", "kind", "normalization", "num_repetitions"):
        assert getattr(back, f) == getattr(s, f), f
    assert back.metadata == {"generator": "mdm", "seed": 3, "guidance": 2.5, "note": "ünïcode ✓"}
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["samples.npz"]  # no temporary left behind
    assert load_samples(path).ids == s.ids
    with pytest.raises(ValueError, match="end in .npz"):
        s.save(tmp_path / "samples.npy")


def test_load_rejects_foreign_or_damaged_files(tmp_path):
    good = make_set().save(tmp_path / "good.npz")
    raw = good.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(SampleSetError, match="trunc.npz: not a readable .npz"):
        SampleSet.load(tmp_path / "trunc.npz")

    np.savez(tmp_path / "other.npz", x=np.arange(3))
    with pytest.raises(SampleSetError, match=r"arrays \['lengths', 'meta', 'motions'\] missing"):
        SampleSet.load(tmp_path / "other.npz")

    np.savez(tmp_path / "pickled.npz", motions=np.zeros((1, 2, 263)), lengths=np.array([2]),
             meta=np.array([{"format": FORMAT}], dtype=object))
    with pytest.raises(SampleSetError, match="pickled objects"):
        SampleSet.load(tmp_path / "pickled.npz")

    def rewrite(name, **meta_changes):
        with np.load(good) as npz:
            arrays = dict(npz)
        meta = json.loads(arrays["meta"].tobytes()) | meta_changes
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
        np.savez(tmp_path / name, **arrays)
        return tmp_path / name

    with pytest.raises(SampleSetError, match="motioneval.samples/3.*upgrade"):
        SampleSet.load(rewrite("v3.npz", format="motioneval.samples/3"))
    with pytest.raises(SampleSetError, match="not a motioneval sample file"):
        SampleSet.load(rewrite("x.npz", format="something"))
    with pytest.raises(SampleSetError, match=r"bad.npz: .*length\(s\) > 30"):
        with np.load(good) as npz:
            arrays = dict(npz)
        arrays["lengths"] = arrays["lengths"] + 100
        np.savez(tmp_path / "bad.npz", **arrays)
        SampleSet.load(tmp_path / "bad.npz")
    with pytest.raises(FileNotFoundError):
        SampleSet.load(tmp_path / "missing.npz")


def test_repetition_views():
    s = make_set(n_samples=5, reps=3)
    r1 = s.repetition(1)
    assert r1.num_repetitions == 1 and r1.num_rows == 5
    np.testing.assert_array_equal(r1.motions, s.motions[5:10])
    sub = s.select_samples([3, 0])
    assert sub.num_samples == 2 and sub.num_repetitions == 3
    assert sub.ids == ["000003", "000000"] * 3
    np.testing.assert_array_equal(sub.motions[2], s.motions[5 + 3])  # repetition 1 of sample 3
    with pytest.raises(IndexError):
        s.repetition(3)
    with pytest.raises(IndexError):
        s.select_samples([5])


def _write_clips(folder, clips):
    folder.mkdir(exist_ok=True)
    for name, arr in clips.items():
        np.save(folder / name, arr)


def test_folder_with_json_manifest(tmp_path):
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(40, 263)).astype(np.float32), rng.normal(size=(25, 263)).astype(np.float32)
    _write_clips(tmp_path, {"s1.npy": a, "custom.npy": b})
    manifest = {"normalization": "dataset", "metadata": {"model": "x"}, "samples": [
        {"id": "s1", "caption": "a person waves.", "tokens": "a/DET person/NOUN wave/VERB"},
        {"id": "s2", "caption": "jumps.", "tokens": ["jump/VERB"], "length": 20, "file": "custom.npy"},
    ]}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    s = read_sample_folder(tmp_path)
    assert s.kind == "features" and s.normalization == "dataset" and s.max_frames == 40
    assert s.lengths.tolist() == [40, 20] and s.tokens == [["a/DET", "person/NOUN", "wave/VERB"], ["jump/VERB"]]
    np.testing.assert_array_equal(s.motions[0], a)
    np.testing.assert_array_equal(s.motions[1, :25], b)  # frames past the length are the generator's: kept
    assert not s.motions[1, 25:].any() and s.frames.tolist() == [40, 25]
    assert s.metadata["model"] == "x" and s.metadata["source"]["format"] == "sample-folder"
    assert load_samples(tmp_path, normalization="raw").normalization == "raw"  # argument overrides manifest

    manifest["samples"][1]["length"] = 26
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SampleSetError, match="sample 's2': length 26 but custom.npy has 25 frames"):
        read_sample_folder(tmp_path)
    del manifest["normalization"]
    manifest["samples"][1]["length"] = 5
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SampleSetError, match="normalization"):
        read_sample_folder(tmp_path)


def test_folder_with_csv_manifest_and_repetitions(tmp_path):
    rng = np.random.default_rng(2)
    clips = {f"{sid}_{r}.npy": rng.normal(size=(12 + r, 22, 3)).astype(np.float32)
             for sid in ("b", "a") for r in range(2)}
    _write_clips(tmp_path, clips)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["id", "caption", "repetition", "file", "length"])
    w.writerow(["a", "a man, walking", 1, "a_1.npy", ""])  # rows in any order; repetition 0 sets the order
    w.writerow(["b", 'he says "hi"', 0, "b_0.npy", 10])
    w.writerow(["a", "a man, walking", 0, "a_0.npy", ""])
    w.writerow(["b", 'he says "hi"', 1, "b_1.npy", 11])
    (tmp_path / "manifest.csv").write_text(buf.getvalue())
    s = read_sample_folder(tmp_path)
    assert s.kind == "joints" and s.num_repetitions == 2 and s.ids == ["b", "a", "b", "a"]
    assert s.captions[0] == 'he says "hi"' and s.lengths.tolist() == [10, 12, 11, 13]
    np.testing.assert_array_equal(s.motions[3, :13], clips["a_1.npy"])

    (tmp_path / "manifest.csv").write_text("id,caption,repetition,file\na,x,0,a_0.npy\nb,y,0,b_0.npy\na,x,1,a_1.npy\n")
    with pytest.raises(SampleSetError, match="repetition 1 does not list the same ids"):
        read_sample_folder(tmp_path)
    (tmp_path / "manifest.csv").write_text("id,caption\na,x\nb,y\n")
    with pytest.raises(FileNotFoundError, match="sample 'a': file .*a.npy not found"):
        read_sample_folder(tmp_path)
    (tmp_path / "manifest.csv").write_text("id,caption,speed\na,x,1\n")
    with pytest.raises(SampleSetError, match="unknown column"):
        read_sample_folder(tmp_path)


def test_folder_shape_errors(tmp_path):
    _write_clips(tmp_path, {"a.npy": np.zeros((10, 263), np.float32), "b.npy": np.zeros((10, 22, 3), np.float32),
                            "c.npy": np.zeros((10, 4, 4), np.float32)})
    (tmp_path / "manifest.csv").write_text("id,caption\na,x\nb,y\n")
    with pytest.raises(SampleSetError, match="sample 'b': b.npy holds joints .* but the set is features"):
        read_sample_folder(tmp_path, normalization="raw")
    (tmp_path / "manifest.csv").write_text("id,caption\nc,x\n")
    with pytest.raises(SampleSetError, match=r"sample 'c': c.npy has shape \(10, 4, 4\)"):
        read_sample_folder(tmp_path)
    (tmp_path / "manifest.csv").unlink()
    with pytest.raises(FileNotFoundError, match="no manifest.json or manifest.csv"):
        read_sample_folder(tmp_path)


def test_load_samples_dispatch_errors(tmp_path):
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(ValueError, match="unknown sample source"):
        load_samples(tmp_path / "x.txt")
    with pytest.raises(FileNotFoundError):
        load_samples(tmp_path / "none.bin")


# ------------------------------------------------------------------------------- frames past each length (issue 11)
def test_frames_past_lengths_round_trip_and_version_1_still_reads(tmp_path):
    rng = np.random.default_rng(3)
    motions = rng.normal(size=(3, 30, 263)).astype(np.float32)
    s = SampleSet(captions=["a", "b", "c"], lengths=np.array([10, 20, 30]), motions=motions, frames="all")
    assert s.frames.tolist() == [30, 30, 30] and s.has_frames_past_lengths
    np.testing.assert_array_equal(s.motions, motions)  # nothing zeroed: every stored frame is output
    back = SampleSet.load(s.save(tmp_path / "v2.npz"))
    np.testing.assert_array_equal(back.motions, motions)
    assert back.frames.tolist() == [30, 30, 30] and back.lengths.tolist() == [10, 20, 30]
    # a version-1 file (no 'frames'): nothing past the lengths, exactly as before
    with np.load(tmp_path / "v2.npz", allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files if k != "frames"}
    meta = json.loads(arrays["meta"].tobytes()) | {"format": "motioneval.samples/1"}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(tmp_path / "v1.npz", **arrays)
    old = SampleSet.load(tmp_path / "v1.npz")
    assert old.frames.tolist() == [10, 20, 30] and not old.motions[0, 10:].any()
    np.testing.assert_array_equal(old.motions[2], motions[2])


def test_frames_default_keeps_old_behaviour_and_nonfinite_tails_are_cut():
    motions = np.ones((2, 8, 263), np.float32)
    motions[1, 6] = np.nan  # past the length: not output, the stored frames stop there
    s = SampleSet(captions=["a", "b"], lengths=np.array([4, 5]), motions=motions.copy())
    assert s.frames.tolist() == [4, 5] and not s.motions[:, 5:].any()
    t = SampleSet(captions=["a", "b"], lengths=np.array([4, 5]), motions=motions.copy(), frames="all")
    assert t.frames.tolist() == [8, 6] and np.isfinite(t.motions).all() and not t.motions[1, 6:].any()
    with pytest.raises(SampleSetError, match="stored frames outside"):
        SampleSet(captions=["a", "b"], lengths=np.array([4, 5]), motions=motions, frames=np.array([3, 8]))
