"""Drop-in compat functions: reference signatures, reference statistics, exact distances."""
from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

from motioneval import frechet_distance
from motioneval.compat import calculate_activation_statistics, calculate_frechet_distance


def test_signatures_match_the_reference():
    params = inspect.signature(calculate_frechet_distance).parameters
    assert list(params) == ["mu1", "sigma1", "mu2", "sigma2", "eps"] and params["eps"].default == 1e-6
    assert list(inspect.signature(calculate_activation_statistics).parameters) == ["activations"]


def test_activation_statistics_reproduce_the_fixture(metrics_ref):
    mu, cov = calculate_activation_statistics(metrics_ref["gt_emb"])
    assert mu.dtype == np.float32 and cov.dtype == np.float64  # mean in float32, covariance in float64
    np.testing.assert_array_equal(mu, metrics_ref["gt_mu"])
    np.testing.assert_allclose(cov, metrics_ref["gt_cov"], rtol=1e-12, atol=1e-15)
    mu2, cov2 = calculate_activation_statistics(metrics_ref["gen_emb"])
    np.testing.assert_array_equal(mu2, metrics_ref["gen_mu"])
    np.testing.assert_allclose(cov2, metrics_ref["gen_cov"], rtol=1e-12, atol=1e-15)


def test_frechet_distance_is_exact_on_the_fixture(metrics_ref):
    m = metrics_ref
    got = calculate_frechet_distance(m["gt_mu"], m["gt_cov"], m["gen_mu"], m["gen_cov"])
    assert isinstance(got, float)
    assert got == pytest.approx(float(m["fid"]), rel=1e-6)
    assert got == frechet_distance(m["gt_mu"], m["gt_cov"], m["gen_mu"], m["gen_cov"])


def test_never_raises_where_the_reference_does():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(3, 8)) * 1e3, rng.normal(size=(3, 8)) * 1e3  # reference: 'Imaginary component'
    (m1, s1), (m2, s2) = calculate_activation_statistics(x), calculate_activation_statistics(y)
    res = frechet_distance(m1, s1, m2, s2, method="reference", return_diagnostics=True)
    assert res.diagnostics["reference_would_raise"]
    got = calculate_frechet_distance(m1, s1, m2, s2)
    assert math.isfinite(got) and got == res.exact_value > 0


def test_activation_statistics_validation():
    x = np.zeros((4, 3), dtype=np.float32)
    x[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"activations contains NaN or Inf in 1 row\(s\): row index 2"):
        calculate_activation_statistics(x)
    with pytest.raises(ValueError, match="at least 2 rows"):
        calculate_activation_statistics(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="2-D"):
        calculate_activation_statistics(np.zeros(3))
