"""``motioneval fid``: inputs of every supported kind, text and JSON output, errors naming the file."""
from __future__ import annotations

import json

import numpy as np
import pytest

from motioneval import fid, gaussian_stats
from motioneval.cli.main import main


@pytest.fixture()
def features(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(300, 12)).astype(np.float32)
    b = (rng.normal(size=(50, 12)) * 1.2 + 0.3).astype(np.float32)
    np.save(tmp_path / "gt.npy", a)
    np.save(tmp_path / "gen.npy", b)
    return tmp_path, a, b


def test_text_output(features, capsys):
    path, a, b = features
    assert main(["fid", str(path / "gt.npy"), str(path / "gen.npy")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"FID = {fid(a, b):.6f}  (exact)")
    assert "n = 300" in out and "n = 50" in out and "route:" in out and "reference value" in out
    assert "50 samples for 12-d features" in out  # the noisy-estimate warning


def test_json_output_and_stats_files(features, capsys):
    path, a, b = features
    gaussian_stats(a).save(path / "gt_stats.npz")
    np.savez(path / "gen_pytorch_fid.npz", mu=b.mean(0).astype(np.float64), sigma=np.cov(b, rowvar=False))
    np.savez(path / "gen_feats.npz", emb=b, lengths=np.arange(50))
    expected = fid(a, b)
    assert main(["fid", str(path / "gt_stats.npz"), str(path / "gen.npy"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fid"] == out["value"] == pytest.approx(expected, rel=1e-12)
    assert out["diagnostics"]["n1"] == 300 and out["method"] == "exact" and isinstance(out["warnings"], list)
    assert main(["fid", str(path / "gt_stats.npz"), str(path / "gen_pytorch_fid.npz"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fid"] == pytest.approx(expected, rel=1e-6) and out["diagnostics"]["n2"] is None
    assert main(["fid", str(path / "gt.npy"), str(path / "gen_feats.npz"), "--key", "emb", "--json",
                 "--no-reference-check"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fid"] == pytest.approx(expected, rel=1e-12) and out["reference_value"] is None


def test_reference_method(features, capsys):
    path, a, b = features
    assert main(["fid", str(path / "gt.npy"), str(path / "gen.npy"), "--method", "reference", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["method"] == "reference" and out["fid"] == out["reference_value"]
    assert out["fid"] == pytest.approx(fid(a, b, method="reference"), rel=1e-12)
    assert out["exact_value"] == pytest.approx(fid(a, b), rel=1e-12)


def test_errors_name_the_file(features, capsys):
    path, a, b = features
    assert main(["fid", str(path / "missing.npy"), str(path / "gen.npy")]) == 1
    assert "missing.npy" in capsys.readouterr().err
    bad = a.copy()
    bad[[5, 17]] = np.nan
    np.save(path / "bad.npy", bad)
    assert main(["fid", str(path / "bad.npy"), str(path / "gen.npy")]) == 1
    err = capsys.readouterr().err
    assert "bad.npy" in err and "row index 5, 17" in err
    np.save(path / "cube.npy", np.zeros((2, 3, 4)))
    assert main(["fid", str(path / "cube.npy"), str(path / "gen.npy")]) == 1
    assert "cube.npy" in capsys.readouterr().err
    np.savez(path / "two.npz", x=a, y=b)
    assert main(["fid", str(path / "two.npz"), str(path / "gen.npy")]) == 1
    err = capsys.readouterr().err
    assert "two.npz" in err and "--key" in err
    np.save(path / "wide.npy", np.zeros((10, 5), dtype=np.float32))
    assert main(["fid", str(path / "gt.npy"), str(path / "wide.npy")]) == 1
    assert "D = 12" in capsys.readouterr().err


def test_identical_inputs_print_zero_and_only_warnings_worth_reading(tmp_path, capsys):
    """A set against itself: FID 0 exactly; the reference route's -1e-14 is rounding (no 'negative' warning);
    the two sides' identical sample-count warnings come as one grouped line."""
    x = np.random.default_rng(0).standard_normal((300, 64))
    np.save(tmp_path / "a.npy", x)
    assert main(["fid", str(tmp_path / "a.npy"), str(tmp_path / "a.npy")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("FID = 0.000000  (exact)")
    warnings = [line for line in out.splitlines() if line.startswith("warning:")]
    assert warnings == ["warning: side 1..2: 300 samples for 64-d features: the covariance estimate is noisy and FID "
                        "is biased upward; compare FID at several N (e.g. motioneval.fid_infinity). (2 times)"]
