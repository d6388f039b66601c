"""Interrupted runs resume where they stopped and give bitwise-identical results: kill -9 of the process,
Ctrl-C (KeyboardInterrupt) through the CLI, corrupted cache entries."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("motioneval.metrics.frechet", reason="the Fréchet distance module (issue 2) is not installed")

from motioneval.protocol.evaluate import Evaluation, evaluate
from motioneval.protocol.results import Result
from motioneval.representation.normalization import FeatureStats
from motioneval.testing import ToyEvaluator, ToyGenerator, write_toy_dataset  # noqa: E402

SETTINGS = dict(preset="momask", chunk_size=32, seed=11, replications=2, mm_captions=32, mm_repeats=12, mm_pairs=5,
                diversity_pairs=50, diversity_pairs_small=None, generated_rows="independent",
                fid_reference="independent_pass", ground_truth_row=True, generated_padding="zeros")


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = write_toy_dataset(tmp_path_factory.mktemp("resume") / "HumanML3D", num_clips=100, seed=3)
    ds_stats = FeatureStats.load(root / "Mean.npy", root / "Std.npy", name="dataset")
    ev_stats = FeatureStats(ds_stats.mean, ds_stats.std * 1.2, name="evaluator")
    return root, ds_stats, ev_stats


@pytest.fixture(scope="module")
def uninterrupted(toy, tmp_path_factory):
    root, ds_stats, ev_stats = toy
    gen = ToyGenerator(ds_stats)
    result = evaluate(dataset=root, evaluator=ToyEvaluator(ev_stats), generator=gen,
                      out=tmp_path_factory.mktemp("full"), **SETTINGS)
    return result, gen.calls


def _comparable(result: Result) -> dict:
    d = result.to_dict()
    for key in ("timing", "created"):
        d.pop(key)
    d["settings"].pop("cache_dir")
    return d


def _generated_units(root, ev_stats, ds_stats) -> int:
    run = Evaluation(dataset=root, evaluator=ToyEvaluator(ev_stats), generator=ToyGenerator(ds_stats),
                     overrides={k: v for k, v in SETTINGS.items() if k not in ("preset", "chunk_size", "seed")},
                     preset=SETTINGS["preset"], chunk_size=SETTINGS["chunk_size"], seed=SETTINGS["seed"])
    return sum(u.stage in ("generated", "mm") for u in run.units())


def test_kill_9_mid_run_resumes_to_identical_numbers(toy, uninterrupted, tmp_path):
    root, ds_stats, ev_stats = toy
    full, full_calls = uninterrupted
    assert full_calls == _generated_units(root, ev_stats, ds_stats)
    kill_after = 4
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(f"""
        import numpy as np
        from motioneval.testing import ToyEvaluator, ToyGenerator
        from motioneval.protocol.evaluate import evaluate
        from motioneval.representation.normalization import FeatureStats
        ds = FeatureStats.load({str(root / 'Mean.npy')!r}, {str(root / 'Std.npy')!r}, name="dataset")
        ev = FeatureStats(ds.mean, ds.std * 1.2, name="evaluator")
        gen = ToyGenerator(ds, kill_after={kill_after})  # SIGKILLs its own process on call {kill_after + 1}
        evaluate(dataset={str(root)!r}, evaluator=ToyEvaluator(ev), generator=gen, out={str(tmp_path / 'out')!r},
                 **{SETTINGS!r})
    """))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert not (tmp_path / "out" / "results.json").exists()
    cached = list((tmp_path / "out" / "cache" / "samples").rglob("*.npz"))
    assert len(cached) == kill_after  # every finished chunk survived the kill

    gen = ToyGenerator(ds_stats)
    resumed = evaluate(dataset=root, evaluator=ToyEvaluator(ev_stats), generator=gen, out=tmp_path / "out",
                       **SETTINGS)
    assert gen.calls == full_calls - kill_after  # resumed where it stopped
    assert _comparable(resumed) == _comparable(full)
    assert _comparable(Result.load(tmp_path / "out")) == _comparable(full)


def test_ctrl_c_through_the_cli_then_rerun(toy, uninterrupted, tmp_path, capsys):
    from motioneval.cli.main import main

    root, ds_stats, _ = toy
    full, full_calls = uninterrupted
    gen_file = tmp_path / "interruptible.py"
    gen_file.write_text(textwrap.dedent(f"""
        import os
        from motioneval.testing import ToyGenerator
        from motioneval.representation.normalization import FeatureStats

        class Interrupted(ToyGenerator):
            def generate(self, captions, lengths, seed):
                if os.environ.get("STOP_AFTER") and self.calls >= int(os.environ["STOP_AFTER"]):
                    raise KeyboardInterrupt
                return super().generate(captions, lengths, seed)

        def make():
            return Interrupted(FeatureStats.load({str(root / 'Mean.npy')!r}, {str(root / 'Std.npy')!r}))
    """))
    # the CLI loads the toy evaluator through an in-process stand-in module: patch the loader
    import motioneval.protocol.evaluate as ev_module

    ev_stats = toy[2]
    original = ev_module._load_evaluator
    ev_module._load_evaluator = lambda evaluator, device, **kw: ToyEvaluator(ev_stats)
    try:
        argv = ["evaluate", "--dataset", str(root), "--evaluator", str(tmp_path), "--generator", f"{gen_file}:make",
                "--preset", "momask", "--out", str(tmp_path / "out"), "--seed", "11", "--chunk-size", "32",
                "--no-progress"]
        for k, v in SETTINGS.items():
            if k not in ("preset", "chunk_size", "seed"):
                argv += ["--set", f"{k}={'none' if v is None else v}"]
        os.environ["STOP_AFTER"] = "3"
        try:
            assert main(argv) == 130
        finally:
            del os.environ["STOP_AFTER"]
        assert "rerun resumes" in capsys.readouterr().err
        assert main(argv) == 0
    finally:
        ev_module._load_evaluator = original
    cli = Result.load(tmp_path / "out")
    a, b = _comparable(cli), _comparable(full)
    assert a["rows"][1]["name"] == "toy"
    assert a["rows"] == b["rows"] and a["fid_diagnostics"] == b["fid_diagnostics"]


def test_corrupt_and_partial_cache_entries(toy, uninterrupted, tmp_path):
    root, ds_stats, ev_stats = toy
    full, _ = uninterrupted
    kw = dict(dataset=root, evaluator=ToyEvaluator(ev_stats), out=tmp_path, **SETTINGS)
    evaluate(generator=ToyGenerator(ds_stats), **kw)
    entries = sorted((tmp_path / "cache" / "embeddings").rglob("*.npz"))  # units (table blocks load on demand)
    entries[0].write_bytes(entries[0].read_bytes()[:100])  # truncated by a full disk, say
    (entries[1].parent / f".{entries[1].name}.abc.tmp").write_bytes(b"half-written")  # a killed atomic write
    again = evaluate(generator=ToyGenerator(ds_stats), **kw)
    assert _comparable(again)["rows"] == _comparable(full)["rows"]
    assert np.load(entries[0]).files  # rewritten whole
