"""benchmarks/gpu.sh, the one prepared GPU check, is rehearsed on the CPU (REHEARSAL=1: every step at small
sizes, two gloo ranks for the distributed step), so that GPU time is never spent finding a broken script.
Without REHEARSAL and without CUDA it must skip cleanly."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "gpu.sh"


def _run(tmp_path, **env):
    full = {**os.environ, "PYTHON": sys.executable, "OUT": str(tmp_path / "out"), "OMP_NUM_THREADS": "1", **env}
    return subprocess.run(["bash", str(SCRIPT)], cwd=REPO, env=full, capture_output=True, text=True, timeout=900)


def test_without_cuda_the_script_skips_cleanly(tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: the script would run its checks")
    out = _run(tmp_path)
    assert out.returncode == 0 and "GPU checks skipped" in out.stdout


@pytest.mark.slow
def test_rehearsal_runs_every_step_and_passes(tmp_path):
    pytest.importorskip("torch")
    out = _run(tmp_path, REHEARSAL="1")
    summary = out.stdout.split("== motioneval GPU summary ==")[-1]
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "evaluator parity tests on cpu: passed" in summary
    assert "speed-up" in summary and "GFLOP/s" in summary
    assert summary.count("loop (cpu): | official |") == 2  # the reference-style and our loop
    assert "two-rank gloo evaluate --distributed: passed, metrics identical to the single process" in summary
