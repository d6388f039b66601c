"""KID: against a naive double-loop unbiased MMD^2, a closed form for the linear kernel, and errors."""
from __future__ import annotations

import numpy as np
import pytest

from motioneval import kid


def naive_mmd2(x, y, degree=3, coef0=1.0):
    d = x.shape[1]

    def k(a, b):
        return (float(np.dot(a, b)) / d + coef0) ** degree

    m, n = len(x), len(y)
    kxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    kyy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    kxy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return kxx + kyy - 2 * kxy


def test_full_subset_equals_naive_loop():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(25, 4))
    y = rng.normal(loc=0.4, size=(25, 4))
    expected = naive_mmd2(x, y)
    # a subset of all rows is a permutation: every subset estimate equals the full estimate
    res, subsets = kid(x, y, num_subsets=3, subset_size=25, rng=1, return_subsets=True)
    np.testing.assert_allclose(subsets, expected, rtol=1e-12)
    np.testing.assert_allclose(res.mean, expected, rtol=1e-12)
    assert res.std < 1e-12 * abs(expected)


def test_subsets_follow_documented_draw_order():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 3))
    y = rng.normal(size=(30, 3))
    res, subsets = kid(x, y, num_subsets=4, subset_size=12, rng=7, return_subsets=True)
    draws = np.random.RandomState(7)
    expected = []
    for _ in range(4):
        ix = draws.choice(40, 12, replace=False)
        iy = draws.choice(30, 12, replace=False)
        expected.append(naive_mmd2(x[ix], y[iy]))
    np.testing.assert_allclose(subsets, expected, rtol=1e-12)
    assert res.mean == pytest.approx(np.mean(expected), rel=1e-12)
    assert res.std == pytest.approx(np.std(expected), rel=1e-9)


def test_linear_kernel_closed_form():
    """degree 1: MMD^2_u = gamma (|sum x|^2 - sum |x_i|^2)/(m(m-1)) + (same for y) - 2 gamma xbar.ybar."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(30, 5))
    y = rng.normal(size=(30, 5)) + 0.3
    gamma, m = 0.7, 30

    def within(z):
        s = z.sum(axis=0)
        return gamma * (s @ s - np.sum(z * z)) / (m * (m - 1))

    expected = within(x) + within(y) - 2 * gamma * x.mean(axis=0) @ y.mean(axis=0)
    got = kid(x, y, num_subsets=1, subset_size=30, degree=1, gamma=gamma, coef0=5.0, rng=0)
    assert got.mean == pytest.approx(expected, rel=1e-10)


def test_same_distribution_is_near_zero_and_shift_is_positive():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(400, 8)), rng.normal(size=(400, 8))
    same = kid(a, b, num_subsets=20, subset_size=200, rng=0)
    shifted = kid(a, b + 1.0, num_subsets=20, subset_size=200, rng=0)
    assert abs(same.mean) < 3 * same.std + 1e-3
    assert shifted.mean > 10 * max(same.std, abs(same.mean))


def test_default_subset_size_and_errors():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(50, 3)), rng.normal(size=(60, 3))
    res = kid(x, y, num_subsets=2, rng=0)  # subset_size defaults to min(1000, 50, 60)
    assert np.isfinite(res.mean) and np.isfinite(res.std)
    mean, std = res
    assert (mean, std) == (res.mean, res.std)
    with pytest.raises(ValueError, match="subset_size"):
        kid(x, y, subset_size=51)
    with pytest.raises(ValueError, match="num_subsets"):
        kid(x, y, num_subsets=0)
    with pytest.raises(ValueError, match="same dimension"):
        kid(x, rng.normal(size=(60, 4)))
    bad = y.copy()
    bad[9] = np.nan
    with pytest.raises(ValueError, match="gen_emb.*row index 9"):
        kid(x, bad)
