"""evaluate --evaluator (repeatable, kind detected or given) and --tmr-evaluator."""
from __future__ import annotations

import pytest

from motioneval.cli._evaluators import resolve_evaluators
from motioneval.demo.evaluator_assets import demo_tmr_run_dir
from motioneval.demo.run import demo_evaluator_dir

T2M, TMR = str(demo_evaluator_dir()), str(demo_tmr_run_dir())


def test_kinds_are_detected_or_given():
    assert resolve_evaluators([T2M]) == {"t2m": T2M}
    assert resolve_evaluators([TMR, T2M]) == {"t2m": T2M, "tmr": TMR}
    assert resolve_evaluators([T2M], tmr_evaluators=[TMR]) == {"t2m": T2M, "tmr": TMR}
    assert resolve_evaluators([T2M, TMR], ["t2m", "tmr"]) == {"t2m": T2M, "tmr": TMR}


def test_errors_name_the_option(tmp_path):
    with pytest.raises(ValueError, match="two T2M evaluators"):
        resolve_evaluators([T2M, T2M])
    with pytest.raises(ValueError, match="T2M evaluator is required"):
        resolve_evaluators([TMR])
    with pytest.raises(ValueError, match="once per --evaluator"):
        resolve_evaluators([T2M, TMR], ["t2m"])
    with pytest.raises(ValueError, match="choose one of"):
        resolve_evaluators([T2M], ["clip"])
    with pytest.raises(ValueError, match=f"--evaluator {tmp_path}: cannot tell the evaluator kind"):
        resolve_evaluators([str(tmp_path), TMR])
    # a single folder of unknown layout is the T2M evaluator (its loader names the missing files)
    assert resolve_evaluators([str(tmp_path)]) == {"t2m": str(tmp_path)}
    with pytest.raises(FileNotFoundError, match="no such file"):
        resolve_evaluators([str(tmp_path / "x")])
