"""Doctor checks of TMR inputs on a copy of the shipped demo TMR checkout, intact and with planted faults."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from motioneval.demo.evaluator_assets import demo_tmr_run_dir
from motioneval.diagnostics.tmr_files import TMR_CHECKS, check_tmr_folder, find_tmr_stats

torch = pytest.importorskip("torch")


@pytest.fixture()
def run(tmp_path):
    """A writable copy of the demo TMR checkout (models/tmr_demo, models/demo-distilbert, stats/demo/...)."""
    checkout = demo_tmr_run_dir().parent.parent
    shutil.copytree(checkout, tmp_path / "tmr")
    return tmp_path / "tmr" / "models" / "tmr_demo"


def _by(findings):
    return {f.check: f for f in findings}


def test_the_demo_tmr_passes_every_check(run):
    findings = check_tmr_folder(run)
    assert [f.check for f in findings] == list(TMR_CHECKS)
    assert all(f.severity == "ok" for f in findings), [(f.check, f.title, f.explanation) for f in findings]
    digests = _by(findings)["tmr_weights"].numbers["sha256"]
    assert len(digests) == 2 and all(len(v) == 64 for v in digests.values())
    stats = _by(findings)["tmr_stats"].numbers
    assert stats["mean"].endswith("stats/demo/guoh3dfeats/mean.pt")


def test_missing_config_and_checkout_hint(run):
    checkout = run.parent.parent
    (f,) = check_tmr_folder(checkout)
    assert f.severity == "error" and f.check == "tmr_config" and "tmr_demo" in f.explanation
    (f,) = check_tmr_folder(run / "nope")
    assert f.severity == "error" and "does not exist" in f.explanation


def test_config_faults(run):
    cfg = json.loads((run / "config.json").read_text())
    cfg["model"]["text_encoder"]["latent_dim"] = 32
    (run / "config.json").write_text(json.dumps(cfg))
    (f,) = check_tmr_folder(run)
    assert f.severity == "error" and "different latent sizes" in f.title
    cfg["model"]["text_encoder"]["latent_dim"] = 64
    del cfg["model"]["motion_encoder"]["num_heads"]
    (run / "config.json").write_text(json.dumps(cfg))
    (f,) = check_tmr_folder(run)
    assert f.severity == "error" and "model.motion_encoder lacks ['num_heads']" in f.explanation
    cfg["model"]["motion_encoder"]["num_heads"] = 4
    cfg["data"]["motion_loader"]["fps"] = 30.0
    (run / "config.json").write_text(json.dumps(cfg))
    f = _by(check_tmr_folder(run))["tmr_config"]
    assert f.severity == "warning" and "fps is 30.0" in f.explanation


def test_weights_with_a_wrong_shape_are_named(run):
    path = run / "last_weights" / "text_encoder.pt"
    sd = torch.load(path, weights_only=True)
    sd["projection.weight"] = torch.zeros(64, 31)
    torch.save(sd, path)
    f = _by(check_tmr_folder(run))["tmr_weights"]
    assert f.severity == "error" and "projection.weight: shape [64, 31], expected [64, 32]" in f.explanation
    path.unlink()
    f = _by(check_tmr_folder(run))["tmr_weights"]
    assert f.severity == "error" and "text_encoder.pt" in f.explanation
    f = _by(check_tmr_folder(run, load_weights=False))["tmr_weights"]
    assert f.severity == "error"  # still missing


def test_statistics_faults(run, tmp_path):
    stats_dir = run.parent.parent / "stats" / "demo" / "guoh3dfeats"
    mean = torch.load(stats_dir / "mean.pt", weights_only=True).numpy()
    std = torch.load(stats_dir / "std.pt", weights_only=True).numpy()
    shutil.rmtree(stats_dir)
    f = _by(check_tmr_folder(run))["tmr_stats"]
    assert f.severity == "error" and "Mean.npy/Std.npy" in f.action
    # given as .npy in another folder, with a zero std in dim 7
    other = tmp_path / "mystats"
    other.mkdir()
    std[7] = 0.0
    np.save(other / "mean.npy", mean)
    np.save(other / "std.npy", std)
    assert find_tmr_stats(run, {}, other) == (other / "mean.npy", other / "std.npy")
    f = _by(check_tmr_folder(run, stats=other))["tmr_stats"]
    assert f.severity == "error" and "std is <= 0 in dims [7]" in f.explanation
    np.save(other / "std.npy", std[:100])
    f = _by(check_tmr_folder(run, stats=other))["tmr_stats"]
    assert f.severity == "error" and "shape (100,)" in f.explanation


def test_text_model_faults(run, tmp_path):
    text = run.parent / "demo-distilbert"
    cfg = json.loads((text / "config.json").read_text())
    cfg["dim"] = 48
    (text / "config.json").write_text(json.dumps(cfg))
    (text / "tokenizer.json").unlink()
    f = _by(check_tmr_folder(run))["tmr_text_model"]
    assert f.severity == "error"
    assert "48-d but TMR's text encoder reads 32-d" in f.explanation and "no tokenizer files" in f.explanation
    moved = tmp_path / "elsewhere"
    shutil.move(str(text), moved)
    f = _by(check_tmr_folder(run))["tmr_text_model"]
    assert f.severity == "warning" and "'demo-distilbert'" in f.title
    f = _by(check_tmr_folder(run, text_model=tmp_path / "missing"))["tmr_text_model"]
    assert f.severity == "error" and "not a folder" in f.explanation
