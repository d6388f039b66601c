"""The one output style on real commands: a default `evaluate` prints at most five warning lines, each warning
once; --verbose lists all; --quiet prints the table only; --json one JSON object. Also `doctor` and
`convert --to-features` phases, on a small demo dataset with the shipped demo evaluator."""
from __future__ import annotations

import json

import pytest

from motioneval.cli.main import main

pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("torch_one_thread")

SMALL = ["--set", "replications=3", "--set", "mm_captions=8", "--set", "mm_pairs=2", "--set", "diversity_pairs=20"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """40 test clips and three generations per caption of the jittery demo generator (joints)."""
    from motioneval.demo.dataset import DemoDatasetConfig, build_demo_dataset
    from motioneval.demo.export import export_samples
    from motioneval.demo.run import demo_evaluator_dir

    base = tmp_path_factory.mktemp("out")
    root = build_demo_dataset(base / "dataset", DemoDatasetConfig(num_train=24, num_val=4, num_test=40, seed=5))
    files = export_samples(base / "samples", root, repetitions=3, seed=4)
    return root, files["samples.npz"], demo_evaluator_dir()


def _evaluate(tiny, out, *extra):
    root, samples, evaluator = tiny
    return main(["evaluate", "--dataset", str(root), "--evaluator", str(evaluator), "--samples", str(samples),
                 "--out", str(out), "--no-cache", "--device", "cpu", *SMALL, *extra])


def _warning_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "warning" in line.lower().split(":", 1)[0]
            or line.startswith("WARNING")]


def test_default_run_prints_a_header_and_at_most_five_warning_lines_each_once(tiny, tmp_path, capsys):
    assert _evaluate(tiny, tmp_path / "default", "--no-progress") == 0
    captured = capsys.readouterr()
    assert "| Method | R@1" in captured.out and "| samples |" in captured.out
    assert captured.err.startswith("motioneval evaluate: preset t2m with replications=3")  # what will run
    for word in ("samples", "dataset", "evaluator", "device", "cache"):
        assert f"\n  {word} " in captured.err
    assert "\n  plan       3 replication(s)" in captured.err
    assert "cpu, 1 CPU thread\n" in captured.err
    lines = _warning_lines(captured.err)
    assert 1 <= len(lines) <= 5, captured.err
    assert "py.warnings" not in captured.err  # not printed a second time with a source line
    # every warning of the result is covered by a line (grouped ones by their shared text)
    result = json.loads((tmp_path / "default" / "results.json").read_text())
    assert len(result["warnings"]) > len(lines)  # this run has more warnings than lines: they were grouped
    assert any("times)" in line for line in lines)

    assert _evaluate(tiny, tmp_path / "verbose", "--no-progress", "--verbose") == 0
    verbose = _warning_lines(capsys.readouterr().err)
    assert len(verbose) == len(result["warnings"])


def test_quiet_prints_the_table_only_and_json_one_object(tiny, tmp_path, capsys):
    assert _evaluate(tiny, tmp_path / "quiet", "--quiet") == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.startswith("| Method | R@1")
    assert "wrote" not in captured.out

    assert _evaluate(tiny, tmp_path / "json", "--json") == 0
    captured = capsys.readouterr()
    payload = json.loads(captured.out)  # stdout is exactly one JSON document
    assert payload["result"]["rows"][1]["name"] == "samples"
    assert payload["files"] and all(p.startswith(str(tmp_path / "json")) for p in payload["files"])
    assert payload["warnings"] == payload["result"]["warnings"] or set(payload["result"]["warnings"]) <= set(
        payload["warnings"])
    assert captured.err == ""


def test_convert_and_doctor_show_their_phases_and_doctor_takes_the_real_embedding_size(tiny, tmp_path, capsys,
                                                                                      monkeypatch):
    root, samples, evaluator = tiny
    monkeypatch.setattr("motioneval._progress.QUIET_SECONDS", 0.0)  # every phase leaves its line, however short
    features = tmp_path / "features.npz"
    assert main(["convert", str(samples), str(features), "--to-features"]) == 0
    err = capsys.readouterr().err
    assert f"reading {samples}: done" in err
    assert "joints -> features: done (120/120 clip" in err
    assert f"writing {features}: done" in err

    status = main(["doctor", str(features), "--dataset", str(root), "--evaluator", str(evaluator), "--device", "cpu"])
    captured = capsys.readouterr()
    assert status in (0, 1, 2)
    assert captured.err.startswith(f"motioneval doctor: {features}\n  dataset    {root}\n")  # header first
    for line in ("reading the samples: done", "loading the evaluator: done", "embedding 120 samples: done (120/120",
                 "ground-truth clips: done"):
        assert line in captured.err, captured.err
    # the demo evaluator embeds in 128 dimensions: the sample-count finding says so (it said 512 before)
    assert "120 generated samples for a 128-dimensional FID" in captured.out
    assert "512" not in captured.out.split("fid_reliability", 1)[1].split("\n", 1)[0]

    # joints: nothing is embedded, the size still comes from the loaded evaluator
    main(["doctor", str(samples), "--dataset", str(root), "--evaluator", str(evaluator), "--device", "cpu",
          "--quiet"])
    captured = capsys.readouterr()
    assert "120 generated samples for a 128-dimensional FID" in captured.out
    assert captured.err == ""  # --quiet: the report only

    main(["doctor", str(samples), "--no-progress"])  # no evaluator: the T2M evaluator's 512 is assumed
    assert "for a 512-dimensional FID" in capsys.readouterr().out
