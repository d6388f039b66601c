"""Early stop (--stop-when): parsing, the compare.should_stop rule on the model's values, the recorded reason."""
from __future__ import annotations

import math

import numpy as np
import pytest

from motioneval.protocol.stopping import StopRule, parse_stop_when


def test_parse():
    assert parse_stop_when("fid=0.01, r_precision_top1=3e-3") == {"fid": 0.01, "r_precision_top1": 0.003}
    assert parse_stop_when({"fid": 0.5}) == {"fid": 0.5}
    for bad, msg in (("fid", "METRIC=HALF_WIDTH"), ("fid=x", "must be a number"), ("fid=0", "> 0"),
                     ("fid=1,fid=2", "given twice"), ("", "no target"), ("fid=nan", "> 0")):
        with pytest.raises(ValueError, match=msg):
            parse_stop_when(bad)


def test_rule_stops_exactly_when_the_half_width_reaches_the_target():
    rng = np.random.default_rng(0)
    values = list(0.5 + 0.05 * rng.standard_normal(40))
    target = 0.02
    rule = StopRule.parse(f"fid={target}", min_replications=5)
    stops = [n for n in range(1, 41) if rule.should_stop({"fid": values[:n]})]
    # independent: the first n >= 5 with 1.96 * std(ddof=0) / sqrt(n) <= target
    expected = [n for n in range(5, 41) if 1.96 * np.std(values[:n]) / math.sqrt(n) <= target]
    assert stops == expected and stops
    n = stops[0]
    reason = rule.reason({"fid": values[:n]}, n, 40)
    assert reason.startswith(f"stopped early after {n} of 40 replications")
    assert f"fid ±{1.96 * np.std(values[:n]) / math.sqrt(n):.4g} <= 0.02" in reason


def test_every_target_must_be_met_and_missing_values_wait():
    rule = StopRule.parse("fid=1,diversity=1e-9", min_replications=2)
    assert not rule.should_stop({"fid": [1.0, 1.0, 1.0], "diversity": [1.0, 2.0, 3.0]})
    assert rule.should_stop({"fid": [1.0, 1.0, 1.0], "diversity": [2.0, 2.0, 2.0]})
    assert not rule.should_stop({"fid": [1.0, 1.0, 1.0]})  # no diversity yet: wait
    assert not rule.should_stop({"fid": [1.0, None], "diversity": [2.0, 2.0]})  # one fid value only
    with pytest.raises(ValueError, match=r"\['diversity'\]"):
        rule.check_metrics(["fid", "r_precision_top1"])
    with pytest.raises(ValueError, match="min_replications"):
        StopRule({"fid": 1.0}, min_replications=1)
