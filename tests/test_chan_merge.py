"""``metrics.stats.chan_merge``: the one pairwise moment merge (stats, dataset statistics, doctor summaries)."""
from __future__ import annotations

import numpy as np
import pytest

from motioneval.metrics.stats import chan_merge


def _summary(x: np.ndarray, full: bool):
    mu = x.mean(axis=0)
    c = x - mu
    return len(x), mu, (c.T @ c if full else (c ** 2).sum(axis=0))


@pytest.mark.parametrize("full", [True, False])
def test_merge_equals_two_pass_on_the_union(full):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(37, 5)) * 3 + 1e4  # a large offset: raw sums of squares would lose digits
    n, mean, m2 = chan_merge(*_summary(x[:11], full), *_summary(x[11:], full))
    n_ref, mean_ref, m2_ref = _summary(x, full)
    assert n == n_ref
    np.testing.assert_allclose(mean, mean_ref, rtol=1e-14)
    np.testing.assert_allclose(m2, m2_ref, rtol=1e-9)
    if full:
        np.testing.assert_allclose(m2 / (n - 1), np.cov(x, rowvar=False), rtol=1e-9)


def test_an_empty_side_is_exact_and_no_rows_are_refused():
    mean_b, m2_b = np.array([1.5, -2.0]), np.array([3.0, 4.0])
    n, mean, m2 = chan_merge(0, np.zeros(2), np.zeros(2), 4, mean_b, m2_b)
    assert n == 4 and np.array_equal(mean, mean_b) and np.array_equal(m2, m2_b)
    with pytest.raises(ValueError, match="at least 1"):
        chan_merge(0, np.zeros(2), np.zeros(2), 0, np.zeros(2), np.zeros(2))
