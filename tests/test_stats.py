"""GaussianStats: streaming/merged statistics against direct two-pass computations, IO and validation."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from motioneval import GaussianStats, gaussian_stats


def _direct(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two-pass statistics in extended precision (np.longdouble), as the independent reference."""
    xl = x.astype(np.longdouble)
    mean = xl.mean(axis=0)
    xc = xl - mean
    cov = (xc.T @ xc) / (len(x) - 1)
    return mean.astype(np.float64), cov.astype(np.float64)


def test_single_batch_matches_numpy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 7)) * rng.uniform(0.1, 3, size=7) + rng.normal(size=7)
    s = gaussian_stats(x)
    assert s.n == 200 and s.dim == 7
    np.testing.assert_allclose(s.mean, x.mean(axis=0), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(s.cov, np.cov(x, rowvar=False), rtol=1e-12, atol=1e-14)
    assert np.array_equal(s.cov, s.cov.T)


@pytest.mark.parametrize("sizes", [[1, 1, 1, 97], [50, 50], [3, 0, 40, 1, 56]])
def test_streaming_equals_batch(sizes):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(sum(sizes), 5))
    s = GaussianStats()
    start = 0
    for b in sizes:
        s.update(x[start:start + b])
        start += b
    mean, cov = _direct(x)
    assert s.n == len(x)
    np.testing.assert_allclose(s.mean, mean, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(s.cov, cov, rtol=1e-12, atol=1e-15)


def test_float32_batches_with_large_offset():
    """Raw float32 sums of squares would lose every digit here (mean 1e6, std 1e-2)."""
    rng = np.random.default_rng(2)
    x = (1e6 + 1e-2 * rng.normal(size=(3000, 4))).astype(np.float32)
    s = GaussianStats(4)
    for chunk in np.array_split(x, 17):
        s.update(chunk)
    mean, cov = _direct(x)
    np.testing.assert_allclose(s.mean, mean, rtol=1e-15)
    np.testing.assert_allclose(s.cov, cov, rtol=0, atol=1e-9 * np.abs(cov).max())
    naive = (x.astype(np.float32) ** 2).sum(axis=0, dtype=np.float32) / len(x) - x.mean(axis=0, dtype=np.float32) ** 2
    assert not np.allclose(naive * len(x) / (len(x) - 1), np.diag(cov), rtol=1e-2)  # the failure we avoid


def test_merge_is_exact_and_pure():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 6)) + 50.0
    a, b, c = gaussian_stats(x[:10]), gaussian_stats(x[10:200]), gaussian_stats(x[200:])
    a_cov = a.cov
    ab_c = a.merge(b).merge(c)
    a_bc = a.merge(b.merge(c))
    mean, cov = _direct(x)
    for m in (ab_c, a_bc, a + b + c):
        assert m.n == 300
        np.testing.assert_allclose(m.mean, mean, rtol=1e-14)
        np.testing.assert_allclose(m.cov, cov, rtol=1e-11, atol=1e-14)
    assert a.n == 10 and np.array_equal(a.cov, a_cov)  # inputs unchanged
    assert GaussianStats().merge(a).n == 10 and a.merge(GaussianStats(6)).n == 10


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=6), st.integers(0, 2**32 - 1))
def test_any_split_merges_to_the_whole(sizes, seed):
    sizes = [s for s in sizes if s > 0]
    if sum(sizes) < 2:
        sizes = sizes + [2]
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(sum(sizes), 3)) * 10 ** rng.uniform(-3, 3) + 10 ** rng.uniform(-3, 4)
    parts = np.split(x, np.cumsum(sizes)[:-1])
    merged = GaussianStats()
    for p in parts:
        merged = merged.merge(GaussianStats(3).update(p))
    mean, cov = _direct(x)
    scale = np.abs(cov).max() + 1e-300
    np.testing.assert_allclose(merged.mean, mean, rtol=1e-12, atol=1e-12 * np.abs(mean).max())
    np.testing.assert_allclose(merged.cov, cov, atol=1e-10 * scale)


def test_save_load_roundtrip(tmp_path):
    rng = np.random.default_rng(4)
    s = gaussian_stats(rng.normal(size=(40, 8)))
    p = s.save(tmp_path / "gt_stats.npz")
    with np.load(p, allow_pickle=False) as z:  # documented, pickle-free keys
        assert set(z.files) == {"format", "version", "n", "mean", "cov"}
        assert str(z["format"]) == "motioneval.GaussianStats" and int(z["n"]) == 40
        np.testing.assert_array_equal(z["cov"], s.cov)
    t = GaussianStats.load(p)
    assert t.n == 40 and t.dim == 8
    np.testing.assert_array_equal(t.mean, s.mean)
    np.testing.assert_allclose(t.cov, s.cov, rtol=1e-15, atol=0)
    # loaded statistics keep merging correctly
    extra = rng.normal(size=(5, 8))
    np.testing.assert_allclose(t.merge(gaussian_stats(extra)).cov, s.merge(gaussian_stats(extra)).cov, rtol=1e-13)


def test_from_moments():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(30, 3))
    s = GaussianStats.from_moments(x.mean(0), np.cov(x, rowvar=False), 30)
    np.testing.assert_allclose(s.merge(gaussian_stats(x)).cov, _direct(np.vstack([x, x]))[1], rtol=1e-12)
    with pytest.raises(ValueError, match="shape"):
        GaussianStats.from_moments(np.zeros(3), np.eye(2), 5)


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        GaussianStats.load(tmp_path / "nope.npz")
    np.savez(tmp_path / "other.npz", mu=np.zeros(2), sigma=np.eye(2))
    with pytest.raises(ValueError, match="other.npz.*not a motioneval GaussianStats"):
        GaussianStats.load(tmp_path / "other.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="bad.npz"):
        GaussianStats.load(tmp_path / "bad.npz")


def test_validation_messages():
    x = np.ones((10, 3))
    x[[2, 7], 1] = np.nan
    with pytest.raises(ValueError, match=r"features contains NaN or Inf in 2 row\(s\): row index 2, 7"):
        gaussian_stats(x)
    s = GaussianStats().update(np.zeros((4, 3)))
    y = np.zeros((5, 3))
    y[4, 0] = np.inf
    with pytest.raises(ValueError, match=r"batch 1 .*4 rows were added before it.*row index 4"):
        s.update(y)
    with pytest.raises(ValueError, match="4 features per row but the statistics have D = 3"):
        s.update(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="2-D"):
        s.update(np.zeros(3))
    with pytest.raises(ValueError, match="at least 2 rows"):
        gaussian_stats(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="at least 2 sample"):
        GaussianStats().update(np.zeros((1, 3))).cov  # noqa: B018
    with pytest.raises(ValueError, match="dimension 3 with dimension 4"):
        s.merge(GaussianStats(4))
    assert s.n == 4  # failed updates leave the state unchanged


def test_torch_input():
    torch = pytest.importorskip("torch")
    x = torch.randn(20, 4, dtype=torch.float32)
    s = gaussian_stats(x)
    np.testing.assert_allclose(s.cov, np.cov(x.numpy().astype(np.float64), rowvar=False), rtol=1e-12, atol=1e-14)


def test_in_place_and_pure_merging_are_distinct_and_agree():
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((30, 4)), rng.standard_normal((20, 4)) + 3.0
    a, b = gaussian_stats(x), gaussian_stats(y)
    total = a.merge(b)                      # pure: a and b unchanged
    assert a.n == 30 and b.n == 20 and total.n == 50
    assert (a + b).n == 50 and a.n == 30
    same = gaussian_stats(x).update(b)      # in place: returns the updated object itself
    assert same.n == 50
    np.testing.assert_allclose(same.cov, _direct(np.vstack([x, y]))[1], rtol=1e-12)
    np.testing.assert_array_equal(same.cov, total.cov)
    c = gaussian_stats(x)
    c += b
    assert c.n == 50 and b.n == 20
    np.testing.assert_array_equal(c.mean, total.mean)


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_narrow_floats_validated_on_their_own_dtype(dtype):
    """float16/32 rows are validated (and their scale read) without a float64 pass first: the statistics are
    bitwise those of the rows cast to float64, and NaN, +Inf and -Inf rows are still named."""
    rng = np.random.default_rng(3)
    for scale in (1.0, 2.0 ** -20):
        x = (scale * rng.normal(size=(50, 6))).astype(dtype)
        ours, wide = gaussian_stats(x), gaussian_stats(x.astype(np.float64))
        assert np.array_equal(ours.mean, wide.mean) and np.array_equal(ours.cov, wide.cov)
    for bad, row in ((np.nan, 3), (np.inf, 0), (-np.inf, 49)):
        y = x.copy()
        y[row, 2] = bad
        with pytest.raises(ValueError, match=rf"NaN or Inf in 1 row\(s\): row index {row}\b"):
            gaussian_stats(y)
