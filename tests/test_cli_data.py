"""``motioneval check-dataset`` and ``motioneval convert`` end to end (in-process)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from motioneval.cli.main import main
from motioneval.data.samples import SampleSet

WHOLE = "a person walks.#a/DET person/NOUN walk/VERB#0.0#0.0\n"


def make_dataset(root, *, nan_id=None):
    (root / "new_joint_vecs").mkdir(parents=True)
    (root / "texts").mkdir()
    ids = ["000001", "000002", "007975"]
    for n, cid in enumerate(ids):
        x = np.full((60 + n, 263), 0.5, np.float32)
        if cid == nan_id:
            x[3] = np.nan
        np.save(root / "new_joint_vecs" / f"{cid}.npy", x)
        (root / "texts" / f"{cid}.txt").write_text(WHOLE)
    (root / "test.txt").write_text("\n".join(ids) + "\n")
    (root / "val.txt").write_text("000001\n")
    np.save(root / "Mean.npy", np.zeros(263, np.float32))
    np.save(root / "Std.npy", np.ones(263, np.float32))
    return root


def test_check_dataset_ok_and_with_problems(tmp_path, capsys):
    good = make_dataset(tmp_path / "good")
    assert main(["check-dataset", str(good)]) == 0
    out = capsys.readouterr().out
    assert "OK: 0 error(s)" in out and "3 ids -> 3 items" in out

    bad = make_dataset(tmp_path / "bad", nan_id="007975")
    assert main(["check-dataset", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "PROBLEMS" in out and "007975: 1 of 62 frames contain NaN" in out

    assert main(["check-dataset", str(bad), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False and doc["bad_ids"] == ["007975"]

    assert main(["check-dataset", str(bad), "--split", "val"]) == 0
    assert "1 ids -> 1 items" in capsys.readouterr().out

    assert main(["check-dataset", str(tmp_path / "missing")]) == 1
    assert "dataset folder not found" in capsys.readouterr().err


def _results(path, rows=4, reps=2, frames=24):
    rng = np.random.default_rng(0)
    data = {"motion": rng.normal(size=(rows, 22, 3, frames)).astype(np.float32),
            "text": ["jump", "run"] * reps, "lengths": np.array([24, 12] * reps),
            "num_samples": rows // reps, "num_repetitions": reps}
    np.save(path, data, allow_pickle=True)
    return path


def test_convert_mdm_results(tmp_path, capsys):
    src = _results(tmp_path / "results.npy")
    out = tmp_path / "samples.npz"
    assert main(["convert", str(src), str(out)]) == 1
    err = capsys.readouterr().err
    assert "--allow-pickle" in err and "executes code" in err and not out.exists()

    assert main(["convert", str(src), str(out), "--allow-pickle"]) == 0
    assert "2 samples x 2 repetition(s) = 4 rows, joints (4, 24, 22, 3)" in capsys.readouterr().out
    s = SampleSet.load(out)
    assert s.kind == "joints" and s.lengths.tolist() == [24, 12, 24, 12]

    assert main(["convert", str(src), str(out), "--allow-pickle"]) == 1
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert main(["convert", str(src), str(out), "--allow-pickle", "--overwrite", "--to-features"]) == 0
    s = SampleSet.load(out)
    assert s.kind == "features" and s.motions.shape == (4, 23, 263) and s.lengths.tolist() == [23, 11, 23, 11]

    assert main(["convert", str(out), str(tmp_path / "copy.npz")]) == 0  # re-validate our own format
    assert main(["convert", str(src), str(tmp_path / "bad.out"), "--allow-pickle"]) == 1
    assert "must be a .npz" in capsys.readouterr().err


def test_convert_sample_folder(tmp_path, capsys):
    folder = tmp_path / "gen"
    folder.mkdir()
    np.save(folder / "a.npy", np.ones((30, 263), np.float32))
    np.save(folder / "b.npy", np.ones((20, 263), np.float32))
    (folder / "manifest.csv").write_text("id,caption\na,walks\nb,runs\n")
    out = tmp_path / "s.npz"
    assert main(["convert", str(folder), str(out)]) == 1
    assert "normalization" in capsys.readouterr().err
    assert main(["convert", str(folder), str(out), "--normalization", "dataset"]) == 0
    s = SampleSet.load(out)
    assert s.normalization == "dataset" and s.lengths.tolist() == [30, 20]


@pytest.mark.parametrize("argv", [["check-dataset", "--help"], ["convert", "--help"]])
def test_help(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    assert "usage: motioneval" in capsys.readouterr().out
