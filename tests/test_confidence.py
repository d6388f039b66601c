"""Confidence interval over replications: exact reference parity and the Student-t variant."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from motioneval import confidence_interval


def test_matches_reference_exactly(metrics_ref):
    assert confidence_interval(metrics_ref["ci_values"]) == (float(metrics_ref["ci_mean"]),
                                                             float(metrics_ref["ci_conf"]))
    assert confidence_interval(metrics_ref["ci_values_5"]) == (float(metrics_ref["ci5_mean"]),
                                                               float(metrics_ref["ci5_conf"]))
    mean, half = confidence_interval(metrics_ref["ci_values_rprec"])
    np.testing.assert_array_equal(mean, metrics_ref["ci_rprec_mean"])
    np.testing.assert_array_equal(half, metrics_ref["ci_rprec_conf"])


def test_closed_form_small_case():
    # values 1, 2, 3, 4: mean 2.5, population std sqrt(1.25)
    mean, half = confidence_interval([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5
    assert math.isclose(half, 1.96 * math.sqrt(1.25) / 2, rel_tol=1e-15)
    mean, half = confidence_interval([1.0, 2.0, 3.0, 4.0], method="student_t")
    assert math.isclose(half, stats.t.ppf(0.975, 3) * math.sqrt(5 / 3) / 2, rel_tol=1e-12)


def test_columns_are_independent():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(7, 3))
    mean, half = confidence_interval(v)
    for j in range(3):
        assert (mean[j], half[j]) == confidence_interval(v[:, j])


def test_single_replication_warns_and_errors():
    with pytest.warns(RuntimeWarning, match="single replication"):
        assert confidence_interval([0.3]) == (0.3, 0.0)
    with pytest.raises(ValueError, match="at least 2"):
        confidence_interval([0.3], method="student_t")
    with pytest.raises(ValueError, match="empty"):
        confidence_interval([])
    with pytest.raises(ValueError, match="replication index 1"):
        confidence_interval([0.1, np.nan, 0.2])
    with pytest.raises(ValueError, match="1-D"):
        confidence_interval(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="method"):
        confidence_interval([1.0, 2.0], method="bootstrap")
