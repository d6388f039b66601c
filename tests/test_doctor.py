"""The doctor flags each planted fault with a clear finding and stays quiet on a clean set.

Sample sets are built from the real statistics files: raw features ``Mean + Std * z`` where ``z`` has a
per-sample offset plus temporally smooth noise (unit variance per dimension, like real features in
dataset-normalized units), then normalized the right or the wrong way.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from motioneval.diagnostics.doctor import doctor
from motioneval.diagnostics.evaluator_files import check_checksums, find_evaluator_stats, read_checksums
from motioneval.diagnostics.findings import DoctorReport, Finding
from motioneval.diagnostics.normalization import HYPOTHESES, MomentSummary, detect_normalization
from motioneval.representation.normalization import FeatureStats


@pytest.fixture(scope="module")
def stats(data_dir):
    d = FeatureStats.load(data_dir / "HumanML3D" / "Mean.npy", data_dir / "HumanML3D" / "Std.npy", name="dataset")
    e = FeatureStats.load(data_dir / "dataset" / "t2m_mean.npy", data_dir / "dataset" / "t2m_std.npy",
                          name="evaluator")
    return d, e


def _raw_set(stats, n, t, seed):
    from scipy.ndimage import gaussian_filter1d

    rng = np.random.default_rng(seed)
    noise = gaussian_filter1d(rng.standard_normal((n, t, stats.dim)), 2.0, axis=1)
    noise /= noise.std()
    z = 0.6 * rng.standard_normal((n, 1, stats.dim)) + 0.8 * noise
    raw = (np.asarray(stats.mean, np.float64) + np.asarray(stats.std, np.float64) * z).astype(np.float32)
    return raw, rng.integers(40, t + 1, n)


@pytest.fixture(scope="module")
def small_set(stats):
    return _raw_set(stats[0], 96, 56, seed=1)


@pytest.fixture(scope="module")
def folders(data_dir):
    return {"dataset": data_dir / "HumanML3D", "evaluator": data_dir / "dataset"}


def _check(report: DoctorReport, check: str) -> list[Finding]:
    return report.by_check(check)


def _severity(report: DoctorReport, check: str) -> str:
    return max((f.severity for f in _check(report, check)), key=("ok", "info", "warning", "error").index)


# ------------------------------------------------------------------------------------------ normalization


@pytest.mark.parametrize("name", list(HYPOTHESES))
def test_every_normalization_hypothesis_is_recognised_on_the_real_clip(stats, data_dir, name):
    d, e = stats
    raw = np.load(data_dir / "HumanML3D" / "new_joint_vecs" / "012314.npy").astype(np.float64)
    x = raw
    for step in HYPOTHESES[name][0]:
        x = (d if step == "dataset" else e).normalize(x)
    verdict = detect_normalization(MomentSummary.from_features(x), dataset_stats=d, evaluator_stats=e)
    assert verdict.best == name


def test_moment_summary_ignores_padding_and_nonfinite_frames():
    x = np.zeros((2, 5, 3))
    x[0, :3] = [[1, 2, 3], [3, 4, 5], [5, 6, 7]]
    x[1, :2] = [[np.nan, 0, 0], [1, 2, 3]]
    s = MomentSummary.from_features(x, [3, 2])
    frames = np.array([[1, 2, 3], [3, 4, 5], [5, 6, 7], [1, 2, 3]], float)
    np.testing.assert_allclose(s.mean, frames.mean(0))
    np.testing.assert_allclose(s.std, frames.std(0))
    assert s.frames == 4
    # chunked accumulation (moments merged across chunks of rows) equals the direct float64 computation
    rng = np.random.default_rng(0)
    y = (5.0 + rng.standard_normal((11, 9, 4))).astype(np.float32)
    lens = rng.integers(1, 10, 11)
    direct = np.concatenate([y[i, :lens[i]] for i in range(11)]).astype(np.float64)
    chunked = MomentSummary.from_features(y, lens, chunk_rows=3)
    np.testing.assert_allclose(chunked.mean, direct.mean(0), rtol=1e-13)
    np.testing.assert_allclose(chunked.std, direct.std(0), rtol=1e-12)


def test_clean_set_is_quiet(stats, folders):
    raw, lens = _raw_set(stats[0], 540, 48, seed=0)  # more samples than the 512 embedding dimensions
    report = doctor(stats[1].normalize(raw).astype(np.float32), lengths=lens, normalization="evaluator",
                    **folders)
    assert report.exit_code == 0, report.to_text()
    assert report.ok and not report.errors() and not report.warnings()
    (norm,) = _check(report, "normalization")
    assert norm.severity == "ok" and norm.numbers["detected"] == "evaluator"
    assert {f.severity for f in _check(report, "collapse")} == {"ok"}
    ratio = next(f.numbers["ratio"] for f in _check(report, "collapse") if "ratio" in f.numbers)
    assert 0.8 < ratio < 1.3


def test_real_clip_declared_raw_is_recognised(stats, folders, data_dir):
    raw = np.load(data_dir / "HumanML3D" / "new_joint_vecs" / "012314.npy")
    report = doctor(raw[None], lengths=[170], normalization="raw", **folders)
    (norm,) = _check(report, "normalization")
    assert norm.severity == "ok" and norm.numbers["detected"] == "raw"
    assert _severity(report, "values") == "ok" and _severity(report, "range") == "ok"


def test_raw_features_declared_normalized(small_set, stats, folders):
    raw, lens = small_set
    report = doctor(raw, lengths=lens, normalization="evaluator", **folders)
    (norm,) = _check(report, "normalization")
    assert norm.severity == "error" and norm.numbers["detected"] == "raw"
    assert "look raw" in norm.title
    assert report.exit_code == 2


def test_double_normalization(small_set, stats, folders):
    d, e = stats
    raw, lens = small_set
    x = e.normalize(d.normalize(raw))  # dataset-normalized output normalized again without de-normalizing
    report = doctor(x.astype(np.float32), lengths=lens, normalization="evaluator", **folders)
    (norm,) = _check(report, "normalization")
    assert norm.severity == "error" and "twice" in norm.title
    assert norm.numbers["detected"] == "dataset+evaluator"
    assert "Normalize exactly once" in norm.action


def test_wrong_statistics_file(small_set, stats, folders):
    d, _ = stats
    raw, lens = small_set
    report = doctor(d.normalize(raw).astype(np.float32), lengths=lens, normalization="evaluator", **folders)
    (norm,) = _check(report, "normalization")
    assert norm.severity == "error" and norm.title == "wrong statistics file"
    assert norm.numbers["detected"] == "dataset"
    # the evidence: root and contact groups are ~25x off against the evaluator hypothesis
    assert "25x" in norm.explanation
    assert "t2m_mean.npy" in norm.action


def test_nan_clip_named_by_id(small_set, stats, folders):
    raw, lens = small_set
    x = stats[1].normalize(raw).astype(np.float32)
    x[5, 10, 7] = np.nan
    x[9, 0] = np.inf
    x[11, lens[11]:] = np.nan  # past the length: ignored
    ids = [f"{i:06d}" for i in range(len(x))]
    report = doctor(x, lengths=lens, ids=ids, normalization="evaluator", **folders)
    (values,) = _check(report, "values")
    assert values.severity == "error"
    assert values.ids == ["000005", "000009"]
    assert values.numbers["per_sample"]["000005"] == {"nonfinite_frames": 1, "first_frame": 10}
    assert _severity(report, "normalization") == "ok"  # judged on the finite rows


def test_nan_file_is_diagnosed_not_just_refused(tmp_path, small_set, stats, folders):
    from motioneval.data.samples import SampleSet

    raw, lens = small_set
    sset = SampleSet(captions=["c"] * len(raw), lengths=lens, motions=raw, normalization="raw",
                     ids=[f"s{i}" for i in range(len(raw))])
    path = sset.save(tmp_path / "s.npz")
    with np.load(path) as npz:
        arrays = dict(npz)
    arrays["motions"][3, 2, 0] = np.nan
    np.savez(path, **arrays)
    report = doctor(path, **folders)
    assert _severity(report, "load") == "error"
    (values,) = _check(report, "values")
    assert values.ids == ["s3"]


def test_impossible_values(small_set, stats, folders):
    raw, lens = small_set
    x = raw.copy()
    x[4, 3, 200] = 1e4  # a joint velocity of 200 km per frame
    report = doctor(x, lengths=lens, normalization="raw", **folders)
    (rng,) = _check(report, "range")
    assert rng.severity == "error" and rng.ids == ["4"]


def test_lengths_outside_bounds(small_set, folders):
    raw, lens = small_set
    short = lens.copy()
    short[[2, 7]] = [12, 30]
    report = doctor(raw, lengths=short, normalization="raw", **folders)
    (f,) = _check(report, "lengths")
    assert f.severity == "warning" and f.ids == ["2", "7"]
    assert f.numbers["too_short"] == 2


def test_collapsed_set(stats, folders):
    d, e = stats
    raw, _ = _raw_set(d, 96, 48, seed=3)
    rng = np.random.default_rng(4)
    collapsed = raw[:1] + np.asarray(d.std) * 0.01 * rng.standard_normal(raw.shape)
    report = doctor(e.normalize(collapsed).astype(np.float32), lengths=np.full(96, 48), normalization="evaluator",
                    **folders)
    titles = {f.title: f for f in _check(report, "collapse")}
    assert "samples have collapsed: almost no diversity" in titles
    assert titles["samples have collapsed: almost no diversity"].numbers["ratio"] < 0.05
    dup = next(f for t, f in titles.items() if "near-duplicate" in t)
    assert dup.severity == "error" and dup.numbers["samples_involved"] == 96


def test_copied_rows_are_near_duplicates(small_set, folders):
    raw, lens = small_set
    x, ln = raw.copy(), lens.copy()
    x[10:13], ln[10:13] = x[0], ln[0]  # three copies of row 0
    report = doctor(x, lengths=ln, normalization="raw", **folders)
    dup = next(f for f in _check(report, "collapse") if "near_duplicate_pairs" in f.numbers)
    assert dup.numbers["identical_pairs"] == 6 and dup.numbers["samples_involved"] == 4
    assert sorted(dup.ids) == ["0", "10", "11", "12"]
    assert dup.severity == "warning"


def test_joints_input(data_dir):
    j = np.load(data_dir / "HumanML3D" / "new_joints" / "012314.npy")
    clips = np.stack([j[i:i + 100] for i in range(0, 60, 5)])  # 12 overlapping windows
    broken = clips.copy()
    broken[2, 50, 21] += 10.0  # a wrist 10 m away
    report = doctor(broken, kind="joints")
    (rng,) = _check(report, "range")
    assert rng.severity == "error" and rng.ids == ["2"]
    assert not _check(report, "normalization")  # not applicable to joints


def test_dimension_mismatch(small_set, data_dir):
    raw, lens = small_set
    report = doctor(raw, lengths=lens, dataset_stats=FeatureStats.load(
        data_dir / "dataset" / "kit_mean.npy", data_dir / "dataset" / "kit_std.npy"))
    (f,) = _check(report, "dimensions")
    assert f.severity == "error" and "251" in f.explanation


# ------------------------------------------------------------------------------------------ evaluator files


def test_checksums(tmp_path, data_dir):
    import hashlib
    import shutil

    ev = tmp_path / "evaluator"
    ev.mkdir()
    for name in ("t2m_mean.npy", "t2m_std.npy"):
        shutil.copy(data_dir / "dataset" / name, ev / name)
    sums = {name: hashlib.sha256((ev / name).read_bytes()).hexdigest() for name in ("t2m_mean.npy", "t2m_std.npy")}
    good = tmp_path / "SHA256SUMS"
    good.write_text("".join(f"{h}  {n}\n" for n, h in sums.items()))
    assert read_checksums(good) == sums
    assert check_checksums(ev, read_checksums(good)).severity == "ok"
    # a different evaluator version: one file changed
    arr = np.load(ev / "t2m_std.npy")
    np.save(ev / "t2m_std.npy", arr * 1.01)
    bad = check_checksums(ev, sums)
    assert bad.severity == "error" and bad.numbers["mismatched"] == 1
    assert "t2m_std.npy" in bad.explanation
    (ev / "t2m_mean.npy").unlink()
    assert check_checksums(ev, sums).numbers["missing"] == 1
    as_json = tmp_path / "sums.json"
    as_json.write_text(json.dumps(sums))
    assert read_checksums(as_json) == sums
    broken = tmp_path / "broken.txt"
    broken.write_text("not a checksum line\n")
    with pytest.raises(ValueError, match="line 1"):
        read_checksums(broken)


def test_find_evaluator_stats(data_dir):
    assert find_evaluator_stats(data_dir / "dataset", 263)[0].name == "t2m_mean.npy"
    assert find_evaluator_stats(data_dir / "dataset", 251)[0].name == "kit_mean.npy"
    assert find_evaluator_stats(data_dir / "HumanML3D") is None


# ------------------------------------------------------------------------------------------ FID reliability


def test_fid_sample_count_and_rank():
    from motioneval.diagnostics.fid_reliability import count_finding, embedding_findings, numerical_rank

    assert count_finding(300, 512).severity == "warning"
    assert count_finding(700, 512).severity == "info"
    assert count_finding(5000, 512).severity == "ok"
    rng = np.random.default_rng(0)
    low = rng.standard_normal((600, 20)) @ rng.standard_normal((20, 64))  # rank 20 in 64 dims
    rank, _ = numerical_rank(np.cov(low, rowvar=False))
    assert rank == 20
    (f,) = [f for f in embedding_findings(low) if "rank" in f.numbers]
    assert f.severity == "warning" and f.numbers["rank"] == 20 and f.numbers["max_possible_rank"] == 64
    (g,) = [f for f in embedding_findings(rng.standard_normal((600, 64))) if "rank" in f.numbers]
    assert g.severity == "ok" and g.numbers["rank"] == 64


# ------------------------------------------------------------------------------------------ report and CLI


def test_report_text_and_json(small_set, folders):
    raw, lens = small_set
    report = doctor(raw, lengths=lens, normalization="evaluator", **folders)
    text = report.to_text()
    assert "[ERROR  ] normalization" in text and "What to do:" in text
    assert text.index("[ERROR") < text.index("[OK")  # worst first
    data = json.loads(report.to_json())
    assert data["exit_code"] == 2 and data["status"] == "error"
    assert any(f["check"] == "normalization" and f["severity"] == "error" for f in data["findings"])


def test_cli_doctor(tmp_path, small_set, stats, folders, capsys):
    from motioneval.cli.main import main
    from motioneval.data.samples import SampleSet

    raw, lens = small_set
    sset = SampleSet(captions=["c"] * len(raw), lengths=lens, motions=stats[0].normalize(raw),
                     normalization="evaluator")
    path = sset.save(tmp_path / "wrong.npz")
    code = main(["doctor", str(path), "--dataset", str(folders["dataset"]), "--evaluator",
                 str(folders["evaluator"]), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 2 and out["exit_code"] == 2
    norm = [f for f in out["findings"] if f["check"] == "normalization"]
    assert norm[0]["title"] == "wrong statistics file"
    code = main(["doctor", str(path), "--dataset", str(folders["dataset"]), "--evaluator",
                 str(folders["evaluator"]), "--normalization", "dataset"])
    text = capsys.readouterr().out
    assert "as declared" in text and code == 1  # only the FID sample-count warning remains (96 < 512)


# ------------------------------------------------------------------------------------------ with an evaluator


def test_embedding_space_checks_with_an_evaluator(tmp_path):
    pytest.importorskip("torch")
    from motioneval.testing import ToyGenerator, write_toy_dataset, write_toy_evaluator

    root = write_toy_dataset(tmp_path / "HumanML3D", num_clips=60, seed=2)
    ev = write_toy_evaluator(tmp_path / "evaluator", root)
    stats = FeatureStats.load(root / "Mean.npy", root / "Std.npy")
    caps = ["a person walks slowly", "a person runs quickly", "a person jumps forward", "a person kicks slowly"] * 10
    x, lengths = ToyGenerator(stats, noise=0.5).generate(caps, np.full(len(caps), 60), 0)
    report = doctor(x, lengths=lengths, normalization="dataset", dataset=root, evaluator=ev)
    rank = [f for f in _check(report, "fid_reliability") if "rank" in f.numbers]
    assert rank and rank[0].numbers["dimension"] == 32  # the toy evaluator's embedding size
    collapse = _check(report, "collapse")
    assert all(f.numbers["space"] == "evaluator embedding space" for f in collapse)
    assert {f.severity for f in collapse} == {"ok"}
    assert "60 ground-truth embeddings" in collapse[0].numbers["reference_source"]
    # every row the same motion: collapse is seen in the evaluator's embedding space too
    same = np.repeat(x[:1], len(x), axis=0)
    report = doctor(same, lengths=lengths, normalization="dataset", dataset=root, evaluator=ev)
    titles = [f.title for f in _check(report, "collapse") if f.severity == "error"]
    assert "samples have collapsed: almost no diversity" in titles
    low_rank = [f for f in _check(report, "fid_reliability") if "rank" in f.numbers][0]
    assert low_rank.severity == "warning" and low_rank.numbers["rank"] <= 1


def test_near_duplicate_screening_matches_brute_force():
    from motioneval.diagnostics.collapse import identical_pairs, near_duplicate_pairs

    rng = np.random.default_rng(0)
    x = rng.standard_normal((420, 4000))  # N^2 D above the exact-Gram budget: the projected path
    x[10] = x[3] + 0.01 * rng.standard_normal(4000)  # RMS distance ~0.014
    x[50] = x[3] + 0.02 * rng.standard_normal(4000)  # ~0.022 from row 3, ~0.024 from row 10
    x[200] = x[100]  # identical
    x[300] = x[301] + 0.5 * rng.standard_normal(4000)  # 0.5: not a near-duplicate
    threshold = 0.03
    brute = sorted((i, j) for i in range(420) for j in (3, 10, 50, 100, 200, 300, 301)
                   if i < j and np.sqrt(np.mean((x[i] - x[j]) ** 2)) < threshold)
    pairs, exact = near_duplicate_pairs(x, threshold, np.random.default_rng(1))
    assert exact and sorted(map(tuple, pairs.tolist())) == brute == [(3, 10), (3, 50), (10, 50), (100, 200)]
    assert identical_pairs(x) == 1
    # a collapsed set with more candidates than max_verify: projected distances are used, flagged inexact
    same = np.repeat(x[:1], 420, axis=0) + 1e-3 * rng.standard_normal((420, 4000))
    pairs, exact = near_duplicate_pairs(same, threshold, np.random.default_rng(1), max_verify=1000)
    assert not exact and len(pairs) == 420 * 419 // 2


@pytest.mark.slow
def test_realistic_motions_from_the_demo(tmp_path):
    """Procedural motions on the HumanML3D skeleton: a fresh sample of the data distribution passes,
    a mode-collapsed generator (two fixed clips, whatever the caption) is caught."""
    pytest.importorskip("motioneval.demo.generators")
    from motioneval.demo.captions import caption_index
    from motioneval.demo.dataset import DemoDatasetConfig, build_demo_dataset
    from motioneval.demo.generators import GroundTruthResampler, ModeCollapsedGenerator
    from motioneval.representation.layout import HUMANML3D_LAYOUT as lay

    root = build_demo_dataset(tmp_path / "demo", DemoDatasetConfig(num_train=80, num_val=4, num_test=24))
    d = FeatureStats.load(root / "Mean.npy", root / "Std.npy")
    std = np.array(d.std, dtype=np.float64)  # evaluator statistics as the T2M evaluator's relate to Std.npy:
    std[lay.root] /= 25.0                     # root and foot-contact std 25x smaller (protocol.md)
    std[lay.contacts] /= 25.0
    e = FeatureStats(np.asarray(d.mean, np.float64), std)
    rng = np.random.default_rng(0)
    captions = list(caption_index())
    captions = [captions[i] for i in rng.integers(0, len(captions), 240)]
    lengths = rng.integers(40, 120, 240)
    fresh = GroundTruthResampler().generate(captions, lengths, 0)
    report = doctor(np.asarray(fresh.motions), lengths=fresh.lengths, normalization="raw", dataset_stats=d,
                    evaluator_stats=e, dataset=root)
    problems = {(f.check, f.severity) for f in report.findings if f.severity in ("warning", "error")}
    assert problems == {("fid_reliability", "warning")}, report.to_text()  # only: 240 samples < 512 dimensions
    assert _check(report, "normalization")[0].numbers["detected"] == "raw"
    collapsed = ModeCollapsedGenerator().generate(captions, lengths, 0)
    report = doctor(np.asarray(collapsed.motions), lengths=collapsed.lengths, normalization="raw",
                    dataset_stats=d, evaluator_stats=e, dataset=root)
    assert any(f.severity == "error" and "near-duplicate" in f.title for f in _check(report, "collapse"))
    assert report.exit_code == 2


@pytest.mark.slow
def test_fid_reference_risk_against_the_fixture_and_a_cancelling_case(metrics_ref):
    from motioneval.diagnostics.fid_reliability import embedding_findings, reference_risk

    # the reference fixture: 320 generated rows < 512 dims, the reference takes its complex branch but agrees
    f = embedding_findings(metrics_ref["gen_emb"], gt_emb=metrics_ref["gt_emb"])[-1]
    assert f.numbers["exact_value"] == pytest.approx(float(metrics_ref["fid"]), rel=1e-6)
    assert f.numbers["reference_complex"] is True and f.severity in ("ok", "info")
    # nearly identical, rank-deficient statistics: the reference's subtraction cancels and goes negative
    rng = np.random.default_rng(0)
    a = rng.standard_normal((40, 64)) @ rng.standard_normal((64, 64))
    f = embedding_findings(a, gt_emb=a + 1e-3 * rng.standard_normal(a.shape))[-1]
    assert f.severity == "warning" and f.title == "the reference FID implementation is inaccurate here"
    assert f.numbers["reference_value"] < 0 < f.numbers["exact_value"]
    assert reference_risk({"reference_would_raise": True, "reference_max_imag_diag": 0.02}, 1.0)[1] == "crash"
    assert reference_risk({"reference_value": 1.0 + 1e-9}, 1.0) == ("", "")


def test_joint_lengths_are_counted_as_feature_rows_like_evaluate(data_dir):
    """L joint frames give L - 1 feature rows: 197 joint frames are 196 rows (fine), 41 are 40 (fine), 40 are 39."""
    j = np.load(data_dir / "HumanML3D" / "new_joints" / "012314.npy")
    clip = np.concatenate([j, j[::-1][: 197 - len(j)]])  # 197 frames (the file has 170), continuous
    clips = np.stack([clip] * 3)
    ok = doctor(clips, lengths=np.array([197, 41, 100]), kind="joints")
    (lengths,) = _check(ok, "lengths")
    assert lengths.severity == "ok" and "L - 1" in lengths.numbers["counted_as"]
    short = doctor(clips, lengths=np.array([197, 40, 100]), kind="joints")
    (lengths,) = _check(short, "lengths")
    assert lengths.severity == "warning" and lengths.numbers["per_sample"] == {"1": 39}
