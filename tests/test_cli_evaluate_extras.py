"""motioneval evaluate with both evaluators, the physical block and --stop-when, from the command line."""
from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from motioneval.cli.main import main  # noqa: E402
from motioneval.demo.dataset import DemoDatasetConfig, build_demo_dataset  # noqa: E402
from motioneval.demo.evaluator_assets import demo_tmr_run_dir  # noqa: E402
from motioneval.demo.run import demo_evaluator_dir  # noqa: E402

pytestmark = pytest.mark.usefixtures("torch_one_thread")
GEN = "motioneval.demo.generators:JitteryGenerator"


def _args(root, out, *extra):
    return ["evaluate", "--dataset", str(root), "--generator", GEN, "--out", str(out), "--no-progress",
            "--set", "replications=2", "--set", "mm_replications=0", "--set", "diversity_pairs=30",
            "--chunk-size", "64", *extra]


def test_option_errors_come_before_any_work(tmp_path, capsys):
    root = tmp_path / "missing"
    assert main(_args(root, tmp_path / "o", "--evaluator", str(demo_tmr_run_dir()))) == 1
    assert "T2M evaluator is required" in capsys.readouterr().err
    assert main(_args(root, tmp_path / "o", "--evaluator", str(demo_evaluator_dir()), "--physical", "mbench")) == 1
    assert "--physical 'mbench'" in capsys.readouterr().err
    assert main(_args(root, tmp_path / "o", "--evaluator", str(demo_evaluator_dir()), "--stop-when", "fid")) == 1
    assert "METRIC=HALF_WIDTH" in capsys.readouterr().err


@pytest.mark.slow
def test_one_run_both_evaluators_and_the_physical_block(tmp_path, capsys):
    pytest.importorskip("transformers")
    root = build_demo_dataset(tmp_path / "ds", DemoDatasetConfig(num_train=24, num_val=4, num_test=64, seed=3))
    out = tmp_path / "out"
    assert main(_args(root, out, "--evaluator", str(demo_evaluator_dir()), "--evaluator", str(demo_tmr_run_dir()),
                      "--report")) == 0
    text = capsys.readouterr().out
    assert "### Physical plausibility (variant default, 20 fps; not protocol metrics)" in text
    assert "### TMR evaluator (demo)" in text and "not comparable" in text
    data = json.loads((out / "results.json").read_text())
    assert [b["name"] for b in data["blocks"]] == ["physical", "tmr"]
    assert any(p.endswith("motion_encoder.pt") for p in data["blocks"][1]["provenance"]["evaluator"])
    assert any(p.endswith("finest.tar") for p in data["provenance"]["evaluator"])
    assert (out / "physical.png").is_file() and (out / "physical_per_clip.npz").is_file()
    samples = list((out / "cache" / "samples").rglob("*.npz"))
    # rerun with --stop-when and without the physical block: the samples come from the cache, none is added
    assert main(_args(root, out, "--evaluator", str(demo_evaluator_dir()), "--tmr-evaluator", str(demo_tmr_run_dir()),
                      "--no-physical", "--stop-when", "fid=1e9", "--stop-min-replications", "2",
                      "--set", "replications=4")) == 0
    assert sorted((out / "cache" / "samples").rglob("*.npz"))[: len(samples)] and len(
        list((out / "cache" / "samples").rglob("*.npz"))) == len(samples)
    data = json.loads((out / "results.json").read_text())
    assert data["replications"] == 2 and data["preset"]["name"] == "custom"
    assert [b["name"] for b in data["blocks"]] == ["tmr"]
    assert data["settings"]["stop_when"]["stopped"].startswith("stopped early after 2 of 4")
