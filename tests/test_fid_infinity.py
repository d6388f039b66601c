"""FID-infinity: the fit against an independent least-squares line, the per-size FIDs against direct FID
calls, and the extrapolation against the closed-form Fréchet distance of two known Gaussians."""
from __future__ import annotations

import numpy as np
import pytest

from motioneval import fid_infinity, gaussian_stats
from motioneval.metrics.frechet import frechet_distance


def _gaussians(d=8, seed=0):
    rng = np.random.default_rng(seed)
    mu1 = rng.normal(size=d)
    mu2 = mu1 + 0.3 * rng.normal(size=d)
    v1, v2 = rng.uniform(0.5, 2.0, size=d), rng.uniform(0.5, 2.0, size=d)
    true_fid = float(np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2))  # diagonal covariances
    return mu1, v1, mu2, v2, true_fid, rng


def test_fit_points_and_line():
    mu1, v1, mu2, v2, _, rng = _gaussians()
    real = mu1 + np.sqrt(v1) * rng.normal(size=(3000, 8))
    gen = mu2 + np.sqrt(v2) * rng.normal(size=(1000, 8))
    res = fid_infinity(real, gen, num_points=6, rng=0)
    assert res.sizes[-1] == 1000 and len(res.sizes) == 6 and np.all(np.diff(res.sizes) > 0)
    slope, intercept = np.polyfit(1.0 / res.sizes, res.fids, 1)
    assert res.value == pytest.approx(intercept, rel=1e-9) and res.slope == pytest.approx(slope, rel=1e-9)
    # each point is the FID of a subset drawn in the documented order; the full-size subset is a permutation
    draws = np.random.RandomState(0)
    rs, gs = gaussian_stats(real), None
    for size, value in zip(res.sizes, res.fids):
        gs = gaussian_stats(gen[draws.choice(1000, int(size), replace=False)])
        assert value == pytest.approx(float(frechet_distance(rs.mean, rs.cov, gs.mean, gs.cov)), rel=1e-12)


def test_extrapolation_removes_the_small_sample_bias():
    """With the exact population statistics on the real side, only the generated side is biased (~ c/N).
    D = 64 with N <= 2000 makes the bias (~0.7) large against the fit's noise (std ~0.11 over seeds; the
    assertion held for 20 of 20 seeds when the test was written)."""
    mu1, v1, mu2, v2, true_fid, rng = _gaussians(d=64, seed=1)
    gen = mu2 + np.sqrt(v2) * rng.normal(size=(2000, 64))
    res = fid_infinity((mu1, np.diag(v1)), gen, sizes=np.linspace(200, 2000, 15), rng=2)
    bias = res.fids[-1] - true_fid
    assert bias > 0.3  # FID_N is biased upward
    assert abs(res.value - true_fid) < 0.5 * bias
    assert res.slope > 0


def test_default_sizes_and_errors():
    rng = np.random.default_rng(3)
    gen = rng.normal(size=(100, 4))
    res = fid_infinity(rng.normal(size=(200, 4)), gen, num_points=5, rng=0)
    assert res.sizes[0] == 20 and res.sizes[-1] == 100  # min_size = max(M // 5, min(2 D, M // 2)) = 20
    with pytest.raises(ValueError, match="distinct"):
        fid_infinity(gen, gen, sizes=[50, 50])
    with pytest.raises(ValueError, match=r"\[2, 100\]"):
        fid_infinity(gen, gen, sizes=[50, 101])
    with pytest.raises(ValueError, match="dimension"):
        fid_infinity(rng.normal(size=(50, 3)), gen)
    with pytest.raises(ValueError, match="num_points"):
        fid_infinity(gen, gen, num_points=1)
