"""MetricAccumulator: the same numbers as the functional form, across batch splits and worker merges."""
from __future__ import annotations

import numpy as np
import pytest

from motioneval import MetricAccumulator, diversity, fid, gaussian_stats, matching_score, r_precision
from motioneval.metrics.frechet import frechet_distance


def _data(n=200, d=16, seed=0):
    rng = np.random.default_rng(seed)
    text = rng.normal(size=(n, d)).astype(np.float32)
    motion = (0.7 * text + 0.7 * rng.normal(size=(n, d))).astype(np.float32)
    gt = rng.normal(size=(300, d)).astype(np.float32)
    return text, motion, gt


def _functional(text, motion, gt, seed):
    return {
        "r_precision": np.asarray(r_precision(text, motion)),
        "matching_score": matching_score(text, motion),
        "diversity": diversity(motion, 100, seed),
        "fid": float(fid(gt, motion)),
    }


def _check_equal(out, expected):
    np.testing.assert_array_equal(np.asarray(out["r_precision"]), expected["r_precision"])
    assert out["matching_score"] == expected["matching_score"]
    assert out["diversity"] == expected["diversity"]
    np.testing.assert_allclose(out["fid"], expected["fid"], rtol=1e-10)


@pytest.mark.parametrize("batch", [32, 7, 200, 50])
def test_same_as_functional_for_any_batching(batch):
    text, motion, gt = _data()
    acc = MetricAccumulator(gt_stats=gaussian_stats(gt), diversity_pairs=100, rng=3)
    for s in range(0, len(text), batch):
        acc.update(text[s:s + batch], motion[s:s + batch])
    out = acc.compute()
    _check_equal(out, _functional(text, motion, gt, 3))
    assert out["num_samples"] == 192 and out["num_rows"] == 200
    assert out["r_precision"].num_dropped == 8
    assert acc.compute()["diversity"] == out["diversity"]  # an int seed makes compute() repeatable


def test_matches_reference_fixture(metrics_ref):
    acc = MetricAccumulator(diversity_pairs=None)
    for s in range(0, 320, 32):
        acc.update(metrics_ref["text_emb"][s:s + 32], metrics_ref["motion_emb"][s:s + 32])
    out = acc.compute()
    np.testing.assert_array_equal(np.asarray(out["r_precision"]), metrics_ref["r_precision"])
    np.testing.assert_allclose(out["matching_score"], float(metrics_ref["matching_score"]), rtol=1e-6)
    assert "diversity" not in out and "fid" not in out


def test_merge_of_workers_equals_concatenation():
    text, motion, gt = _data(n=256)
    gt_stats = gaussian_stats(gt)
    workers = [MetricAccumulator(gt_stats=gt_stats, diversity_pairs=100, rng=5) for _ in range(3)]
    bounds = [0, 64, 160, 256]  # multiples of the pool size
    for w, (a, b) in zip(workers, zip(bounds[:-1], bounds[1:])):
        for s in range(a, b, 16):
            w.update(text[s:s + 16], motion[s:s + 16])
    merged = workers[0].merge(workers[1]).merge(workers[2])
    _check_equal(merged.compute(), _functional(text, motion, gt, 5))


def test_merge_pools_leftovers_together():
    text, motion, _ = _data(n=64)
    a, b = MetricAccumulator(diversity_pairs=None), MetricAccumulator(diversity_pairs=None)
    a.update(text[:20], motion[:20])
    b.update(text[20:64], motion[20:64])  # one pool (rows 20..51) + 12 leftover rows
    out = a.merge(b).compute()
    assert out["num_samples"] == 64 and out["r_precision"].num_dropped == 0
    order = np.r_[20:52, 0:20, 52:64]  # b's complete pool first, then a's leftovers with b's
    np.testing.assert_array_equal(np.asarray(out["r_precision"]), np.asarray(r_precision(text[order], motion[order])))
    assert out["matching_score"] == matching_score(text[order], motion[order])


def test_exact_flavour_and_gt_inputs():
    text, motion, gt = _data(n=96)
    stats = gaussian_stats(gt)
    for gt_arg in (gt, (stats.mean, stats.cov), stats):
        acc = MetricAccumulator(flavour="exact", gt_stats=gt_arg, diversity_pairs=50, rng=0)
        acc.update(text, motion)
        out = acc.compute()
        np.testing.assert_array_equal(np.asarray(out["r_precision"]),
                                      np.asarray(r_precision(text, motion, flavour="exact")))
        np.testing.assert_allclose(out["matching_score"], matching_score(text, motion, flavour="exact"), rtol=1e-12)
        gen = gaussian_stats(motion)
        np.testing.assert_allclose(out["fid"], frechet_distance(stats.mean, stats.cov, gen.mean, gen.cov),
                                   rtol=1e-10)


def test_torch_batches():
    torch = pytest.importorskip("torch")
    text, motion, _ = _data(n=64)
    acc = MetricAccumulator(diversity_pairs=None)
    acc.update(torch.from_numpy(text), torch.from_numpy(motion))
    assert acc.compute()["matching_score"] == matching_score(text, motion)


def test_reset_and_errors():
    text, motion, _ = _data(n=64)
    acc = MetricAccumulator(diversity_pairs=None)
    with pytest.raises(ValueError, match="no complete pool"):
        acc.compute()
    acc.update(text[:10], motion[:10])
    with pytest.raises(ValueError, match="10 rows given"):
        acc.compute()
    with pytest.raises(ValueError, match="same shape"):
        acc.update(text[:5], motion[:4])
    with pytest.raises(ValueError, match="dimension changed"):
        acc.update(text[:5, :8], motion[:5, :8])
    bad = motion[:5].copy()
    bad[3, 0] = np.nan
    with pytest.raises(ValueError, match="overall rows 13"):
        acc.update(text[:5], bad)
    acc.reset()
    assert acc.num_rows == 0 and acc.num_samples == 0
    with pytest.raises(ValueError, match="different"):
        acc.merge(MetricAccumulator(pool_size=16))
    with pytest.raises(ValueError, match="top_k"):
        MetricAccumulator(top_k=40)
    few = MetricAccumulator(diversity_pairs=300)
    few.update(text, motion)
    with pytest.warns(RuntimeWarning, match="diversity not computed"):
        assert np.isnan(few.compute()["diversity"])
