"""Fingerprints of the public reference files: digests recomputed independently, drift named per dim."""
from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

from motioneval.data.fingerprints import (
    known_bad_clips,
    load_fingerprints,
    provenance_fingerprints,
    verify_dataset_folder,
    verify_evaluator_folder,
    verify_file,
)


def test_table_agrees_with_the_shared_checksums(data_dir):
    """Every digest in the package equals the one in the data folder's SHA256SUMS and of the bytes on disk."""
    sums = {}
    for line in (data_dir / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        sums[name.strip()] = digest
    files = load_fingerprints()["files"]
    assert {"HumanML3D/Mean.npy", "HumanML3D/Std.npy", "HumanML3D/test.txt", "dataset/t2m_mean.npy",
            "dataset/t2m_std.npy", "dataset/kit_mean.npy", "dataset/kit_std.npy"} <= set(files)
    for name, entry in files.items():
        raw = (data_dir / name).read_bytes()
        assert entry["sha256"] == sums[name] == hashlib.sha256(raw).hexdigest(), name
        assert entry["size"] == len(raw)
        if name.endswith(".npy"):
            arr = np.load(data_dir / name)
            assert entry["shape"] == list(arr.shape) and entry["dtype"] == str(arr.dtype)
            np.testing.assert_array_equal(np.asarray(entry["values"], arr.dtype), arr)


def test_public_files_match(data_dir):
    verdicts = verify_dataset_folder(data_dir / "HumanML3D") + verify_evaluator_folder(data_dir / "dataset")
    assert len(verdicts) == 9 and all(v.status == "match" and v.severity == "ok" for v in verdicts)


def test_drifted_statistics_name_the_dims_that_moved(tmp_path, data_dir):
    mean = np.load(data_dir / "HumanML3D" / "Mean.npy")
    std = np.load(data_dir / "HumanML3D" / "Std.npy")
    moved = {2: 0.4, 10: -0.05, 260: 0.2}  # root x/z velocity, a ric coordinate, a foot contact
    for d, z in moved.items():
        mean[d] += z * std[d]
    np.save(tmp_path / "Mean.npy", mean)
    v = verify_file(tmp_path / "Mean.npy")
    assert v.status == "differs" and v.relation == "drift" and v.severity == "warning"
    assert [d["dim"] for d in v.details["largest"]] == [2, 260, 10]
    assert v.details["largest"][0]["name"] == "lin_vel[1] (dim 2)"
    assert v.details["largest"][1]["name"] == "contacts[1] (dim 260)"
    np.testing.assert_allclose([d["score"] for d in v.details["largest"]], [0.4, 0.2, -0.05], rtol=1e-4)
    assert v.details["moved_dims"] == 3 and v.details["groups"]["ric"]["moved"] == 1
    assert "dim 2" in v.message and "drifted" in v.message
    # a std scaled in one dim: log ratio
    std2 = std.copy()
    std2[100] *= 1.5
    np.save(tmp_path / "Std.npy", std2)
    s = verify_file(tmp_path / "Std.npy")
    assert s.status == "differs" and s.details["largest"][0]["dim"] == 100
    assert s.details["largest"][0]["score"] == pytest.approx(np.log(1.5), rel=1e-5)


def test_same_values_other_dtype_and_unrelated_and_unknown(tmp_path, data_dir):
    np.save(tmp_path / "t2m_mean.npy", np.load(data_dir / "dataset" / "t2m_mean.npy").astype(np.float32))
    v = verify_file(tmp_path / "t2m_mean.npy")
    assert v.status == "values_match" and v.reference == "dataset/t2m_mean.npy" and v.severity == "ok"
    np.save(tmp_path / "Mean.npy", np.random.default_rng(0).normal(size=263).astype(np.float32))
    u = verify_file(tmp_path / "Mean.npy")
    assert u.status == "differs" and u.relation == "unrelated" and u.severity == "info"
    (tmp_path / "finest.tar").write_bytes(b"weights")
    w = verify_file(tmp_path / "finest.tar")
    assert w.status == "not_verified" and w.severity == "info" and "not verified" in w.message


def test_split_list_missing_and_reordered_ids(tmp_path, data_dir):
    ids = (data_dir / "HumanML3D" / "test.txt").read_text().split()
    (tmp_path / "test.txt").write_text("\n".join([i for i in ids if i not in ("007975", "M007975")]) + "\n")
    v = verify_file(tmp_path / "test.txt")
    assert v.status == "differs" and v.details["missing"] == ["007975", "M007975"] and v.details["num_extra"] == 0
    (tmp_path / "test.txt").write_text("\n".join(ids[::-1]) + "\n")
    r = verify_file(tmp_path / "test.txt")
    assert r.status == "values_match" and r.details["order_differs"] and r.severity == "warning"
    assert known_bad_clips("humanml3d") == ["007975", "M007975"] and known_bad_clips("kit") == []


def test_check_dataset_and_doctor_report_drift(tmp_path, data_dir):
    from motioneval.cli.main import main
    from motioneval.data.dataset import check_dataset
    from motioneval.diagnostics.doctor import doctor
    from motioneval.testing import write_toy_dataset

    write_toy_dataset(tmp_path, num_clips=6)
    base = check_dataset(tmp_path)
    assert not [p for p in base.problems if p.kind == "stats_drift"]  # a toy dataset is unrelated, not drifted
    mean = np.load(data_dir / "HumanML3D" / "Mean.npy")
    mean[70] += 0.3 * np.load(data_dir / "HumanML3D" / "Std.npy")[70]
    np.save(tmp_path / "Mean.npy", mean)
    shutil.copy(data_dir / "HumanML3D" / "Std.npy", tmp_path / "Std.npy")
    # with the toy split list (not the public ids) the folder is a different dataset: no drift warning
    assert not [p for p in check_dataset(tmp_path).problems if p.kind == "stats_drift"]
    # the same statistics in a folder listing public test ids: a drift of the public dataset
    public = (data_dir / "HumanML3D" / "test.txt").read_text().split()
    toy_ids = (tmp_path / "test.txt").read_text().split()
    for old, new in zip(toy_ids, public):
        (tmp_path / "new_joint_vecs" / f"{old}.npy").rename(tmp_path / "new_joint_vecs" / f"{new}.npy")
        (tmp_path / "texts" / f"{old}.txt").rename(tmp_path / "texts" / f"{new}.txt")
    (tmp_path / "test.txt").write_text("\n".join(public[:len(toy_ids)]) + "\n")
    report = check_dataset(tmp_path)
    (drift,) = [p for p in report.problems if p.kind == "stats_drift"]
    assert drift.severity == "warning" and "rot[3] (dim 70)" in drift.message
    rng = np.random.default_rng(0)
    samples = rng.normal(size=(8, 60, 263)).astype(np.float32)
    rep = doctor(samples, lengths=np.full(8, 60), dataset=tmp_path, normalization="dataset")
    (f,) = rep.by_check("fingerprints")
    assert f.severity == "warning" and "dim 70" in f.explanation
    assert main(["check-dataset", str(tmp_path), "--json"]) == 0


def test_provenance_verdicts(tmp_path, data_dir):
    prov = {"evaluator": {str(data_dir / "dataset" / "t2m_mean.npy"): load_fingerprints()["files"][
                "dataset/t2m_mean.npy"]["sha256"], "/nowhere/finest.tar": "ab" * 32},
            "dataset": {"kind": "humanml3d", "statistics": {"/gone/Mean.npy": "cd" * 32}, "content_sha256": "ef" * 32}}
    out = provenance_fingerprints(prov)
    assert out[str(data_dir / "dataset" / "t2m_mean.npy")]["status"] == "match"
    assert out["/nowhere/finest.tar"]["status"] == "not_verified"
    assert out["/gone/Mean.npy"]["status"] == "differs" and out["/gone/Mean.npy"]["reference"] == "HumanML3D/Mean.npy"
    json.dumps(out)


def test_saved_results_carry_fingerprints(tmp_path, data_dir):
    from motioneval.protocol.results import MetricSummary, Result, Row

    t2m_mean = data_dir / "dataset" / "t2m_mean.npy"
    prov = {"evaluator": {"/x/finest.tar": "ab" * 32},
            "evaluator_statistics": {str(t2m_mean): load_fingerprints()["files"]["dataset/t2m_mean.npy"]["sha256"]}}
    res = Result([Row("ground truth", "ground_truth", {"fid": MetricSummary.from_values([0.1, 0.2])})],
                 preset={"name": "t2m"}, seed=0, replications=2, provenance=prov)
    res.save(tmp_path)
    fp = Result.load(tmp_path).provenance["fingerprints"]
    assert fp[str(t2m_mean)]["status"] == "match" and fp["/x/finest.tar"]["status"] == "not_verified"


def test_check_dataset_cli_names_known_bad_clips(tmp_path, capsys):
    from motioneval.cli.main import main
    from motioneval.testing import write_toy_dataset

    write_toy_dataset(tmp_path, num_clips=6)
    ids = (tmp_path / "test.txt").read_text().split()
    old = ids[0]
    (tmp_path / "new_joint_vecs" / f"{old}.npy").rename(tmp_path / "new_joint_vecs" / "007975.npy")
    (tmp_path / "texts" / f"{old}.txt").rename(tmp_path / "texts" / "007975.txt")
    feats = np.load(tmp_path / "new_joint_vecs" / "007975.npy")
    np.save(tmp_path / "new_joint_vecs" / "007975.npy", np.full_like(feats, np.nan))
    (tmp_path / "test.txt").write_text("\n".join(["007975"] + ids[1:]) + "\n")
    assert main(["check-dataset", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "known-bad clips 007975" in out and "public reference files" in out


def test_evaluator_statistics_beside_another_vocabulary_are_another_evaluator_not_a_drift(tmp_path, data_dir):
    """Evaluator statistics that differ slightly from t2m_mean are a drift warning -- unless the folder's GloVe
    vocabulary is not the public one: the official evaluator was trained with that vocabulary, so this is
    another evaluator (info: not comparable with published numbers), in a folder and in a result's provenance."""
    mean = np.load(data_dir / "dataset" / "t2m_mean.npy")
    std = np.load(data_dir / "dataset" / "t2m_std.npy")
    mean[2] += 0.3 * std[2]
    official = tmp_path / "official"
    (official / "meta").mkdir(parents=True)
    np.save(official / "meta" / "t2m_mean.npy", mean)
    shutil.copytree(data_dir / "glove", official / "glove")
    [stats] = [v for v in verify_evaluator_folder(official) if v.reference == "dataset/t2m_mean.npy"]
    assert stats.relation == "drift" and stats.severity == "warning" and "drifted" in stats.message

    other = tmp_path / "other"
    shutil.copytree(official, other)
    (other / "glove" / "our_vab_words.pkl").write_bytes(b"another vocabulary")
    verdicts = {v.reference: v for v in verify_evaluator_folder(other)}
    assert verdicts["glove/our_vab_words.pkl"].status == "differs"
    stats = verdicts["dataset/t2m_mean.npy"]
    assert stats.status == "differs" and stats.relation == "unrelated" and stats.severity != "warning"
    assert "another evaluator than the official one" in stats.message
    prov = {"evaluator": {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
                          for p in (other / "meta" / "t2m_mean.npy", other / "glove" / "our_vab_words.pkl")}}
    assert provenance_fingerprints(prov)[str(other / "meta" / "t2m_mean.npy")]["relation"] == "unrelated"
