"""R-precision, Matching Score and the pairwise distance: reference parity, an independent naive
implementation, tie rule, edge cases and input errors."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from motioneval import matching_score, r_precision
from motioneval.metrics.retrieval import RPrecision, euclidean_distance_matrix, retrieval_metrics


def naive_retrieval(text, motion, top_k, pool_size):
    """Per-pool loop with a stable argsort of float64 direct distances (independent of the library)."""
    n_pools = len(text) // pool_size
    hits = np.zeros(top_k, dtype=int)
    total = 0.0
    for p in range(n_pools):
        t = np.asarray(text[p * pool_size:(p + 1) * pool_size], dtype=np.float64)
        m = np.asarray(motion[p * pool_size:(p + 1) * pool_size], dtype=np.float64)
        d = np.array([[np.sqrt(np.sum((ti - mj) ** 2)) for mj in m] for ti in t])
        for i in range(pool_size):
            rank = list(np.argsort(d[i], kind="stable")).index(i)
            for k in range(top_k):
                hits[k] += rank <= k
            total += d[i, i]
    n = n_pools * pool_size
    return hits / n, total / n, hits


# ---------------------------------------------------------------------------------------------------------
# reference parity (fixtures produced by the public reference code)

def test_distance_matrix_matches_reference(metrics_ref):
    t, m = metrics_ref["text_emb"], metrics_ref["motion_emb"]
    d0 = euclidean_distance_matrix(t[:32], m[:32])
    assert d0.dtype == np.float32 and d0.shape == (32, 32)
    np.testing.assert_allclose(d0, metrics_ref["dist_batch0"], rtol=0, atol=1e-5)
    batched = euclidean_distance_matrix(t.reshape(10, 32, -1), m.reshape(10, 32, -1))
    np.testing.assert_allclose(batched, metrics_ref["dist_all_batches"], rtol=0, atol=1e-5)
    exact = euclidean_distance_matrix(t[:32], m[:32], flavour="exact")
    assert exact.dtype == np.float64
    np.testing.assert_allclose(exact, metrics_ref["dist_batch0"], rtol=0, atol=1e-5)


def test_r_precision_matches_reference_exactly(metrics_ref):
    t, m = metrics_ref["text_emb"], metrics_ref["motion_emb"]
    rp = r_precision(t, m)
    assert isinstance(rp, RPrecision)
    np.testing.assert_array_equal(np.asarray(rp), metrics_ref["r_precision"])
    assert rp.hit_counts == tuple(metrics_ref["top_k_count"].tolist())
    assert (rp.num_samples, rp.num_dropped, rp.pool_size, rp.flavour) == (320, 0, 32, "reference")
    first = r_precision(t[:32], m[:32])
    assert first.hit_counts == tuple(metrics_ref["r_precision_sumall_batch0"].tolist())
    assert first.hit_counts == tuple(metrics_ref["top_k_mat_batch0"].sum(axis=0).tolist())
    # ranks from the stored reference argsorts give the same counts
    argsorts = metrics_ref["argsort_all_batches"]
    ref_rank = np.argmax(argsorts == np.arange(32)[None, :, None], axis=2)
    assert rp.hit_counts == tuple(int((ref_rank < k).sum()) for k in (1, 2, 3))
    # the ranking is robust: the exact flavour gives the same rates (fixture diagnostics)
    np.testing.assert_array_equal(np.asarray(r_precision(t, m, flavour="exact")), metrics_ref["r_precision"])


def test_matching_score_matches_reference(metrics_ref):
    t, m = metrics_ref["text_emb"], metrics_ref["motion_emb"]
    expected = float(metrics_ref["matching_score"])
    np.testing.assert_allclose(matching_score(t, m), expected, rtol=1e-6)
    # the exact flavour differs from the float32 reference only by rounding (1.2e-7 in the diagnostics)
    np.testing.assert_allclose(matching_score(t, m, flavour="exact"), expected, rtol=1e-6)
    both = retrieval_metrics(t, m)
    assert both.matching_score == matching_score(t, m)
    np.testing.assert_array_equal(np.asarray(both.r_precision), np.asarray(r_precision(t, m)))


def test_matching_score_is_float32_trace_accumulation(metrics_ref):
    """The reference accumulates float32 per-pool traces: redo it from the fixture's own distances."""
    total = np.float32(0)
    for d in metrics_ref["dist_all_batches"]:
        total = total + np.float32(np.trace(d))
    assert total / np.float32(320) == metrics_ref["matching_score"]
    assert abs(matching_score(metrics_ref["text_emb"], metrics_ref["motion_emb"]) - float(total / 320)) < 2e-6


# ---------------------------------------------------------------------------------------------------------
# an independent implementation, incomplete last pool, other sizes

@pytest.mark.parametrize("n,pool_size,top_k", [(100, 32, 5), (45, 9, 3), (64, 32, 32), (7, 1, 1)])
def test_against_naive_loop(n, pool_size, top_k):
    rng = np.random.default_rng(n + pool_size)
    text = rng.normal(size=(n, 16)).astype(np.float32)
    motion = (0.7 * text + 0.8 * rng.normal(size=(n, 16))).astype(np.float32)
    rates, score, hits = naive_retrieval(text, motion, top_k, pool_size)
    for flavour in ("reference", "exact"):
        rp = r_precision(text, motion, top_k=top_k, pool_size=pool_size, flavour=flavour)
        np.testing.assert_array_equal(np.asarray(rp), rates)
        assert rp.hit_counts == tuple(hits.tolist())
        assert rp.num_samples == (n // pool_size) * pool_size
        assert rp.num_dropped == n % pool_size
        np.testing.assert_allclose(matching_score(text, motion, pool_size=pool_size, flavour=flavour), score,
                                   rtol=1e-6 if flavour == "reference" else 1e-12)


def test_incomplete_pool_is_dropped():
    rng = np.random.default_rng(3)
    text = rng.normal(size=(70, 8)).astype(np.float32)
    motion = rng.normal(size=(70, 8)).astype(np.float32)
    full = r_precision(text, motion)
    head = r_precision(text[:64], motion[:64])
    np.testing.assert_array_equal(np.asarray(full), np.asarray(head))
    assert (full.num_samples, full.num_dropped) == (64, 6)
    # rows past the last complete pool are never read
    motion2 = motion.copy()
    motion2[64:] = 1e3
    assert matching_score(text, motion2) == matching_score(text, motion)


def test_distance_matrix_against_cdist():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(13, 5)), rng.normal(size=(11, 5))
    np.testing.assert_allclose(euclidean_distance_matrix(a, b, flavour="exact"), cdist(a, b), rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(euclidean_distance_matrix(a, b), cdist(a, b), rtol=1e-5, atol=1e-5)


def test_expanded_form_is_clamped_not_nan():
    """Identical rows of large norm: the float32 radicand rounds to tiny negatives; we clamp to 0."""
    rng = np.random.default_rng(5)
    x = (100 * rng.normal(size=(64, 512))).astype(np.float32)
    d = euclidean_distance_matrix(x, x)
    assert np.isfinite(d).all() and (d >= 0).all()
    assert matching_score(x, x) < 0.1 * float(np.median(d))
    assert matching_score(x, x, flavour="exact") == 0.0


# ---------------------------------------------------------------------------------------------------------
# ties

def test_ties_count_against_the_sample():
    """Motion 1 duplicates motion 0: text 0 is equidistant to both, so its rank is 1 (pessimistic)."""
    text = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]], dtype=np.float32)
    motion = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 9.0], [10.0, 12.0]], dtype=np.float32)
    rp = r_precision(text, motion, top_k=4, pool_size=4)
    # text 0: tie between motion 0 and motion 1 -> rank 1; text 1: motion 1 at 9 vs motion 0 at 9 -> rank 1;
    # texts 2 and 3: unique nearest -> rank 0
    np.testing.assert_array_equal(np.asarray(rp), [0.5, 1.0, 1.0, 1.0])


def test_all_equal_distances_rank_last():
    text = np.zeros((8, 3), dtype=np.float32)
    motion = np.ones((8, 3), dtype=np.float32)
    rp = r_precision(text, motion, top_k=8, pool_size=8)
    np.testing.assert_array_equal(np.asarray(rp), [0, 0, 0, 0, 0, 0, 0, 1])


# ---------------------------------------------------------------------------------------------------------
# result object, inputs and errors

def test_rprecision_object_behaves_like_an_array():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(64, 4))
    rp = r_precision(x, x + 0.1 * rng.normal(size=x.shape))
    assert rp.shape == (3,) and rp.dtype == np.float64
    scaled = rp * 100
    assert type(scaled) is np.ndarray
    assert isinstance(rp[0], float)
    back = pickle.loads(pickle.dumps(rp))
    assert isinstance(back, RPrecision) and back.num_samples == 64 and back.hit_counts == rp.hit_counts
    assert "num_samples=64" in repr(rp)


def test_torch_tensors_accepted():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    t = rng.normal(size=(64, 8)).astype(np.float32)
    m = rng.normal(size=(64, 8)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(r_precision(torch.from_numpy(t), torch.from_numpy(m))),
                                  np.asarray(r_precision(t, m)))
    assert matching_score(torch.from_numpy(t), torch.from_numpy(m)) == matching_score(t, m)


def test_errors():
    x = np.zeros((40, 4), dtype=np.float32)
    with pytest.raises(ValueError, match="same shape"):
        r_precision(x, x[:39])
    with pytest.raises(ValueError, match="same shape"):
        matching_score(x, np.zeros((40, 5)))
    with pytest.raises(ValueError, match="pool_size.*only 40 samples"):
        r_precision(x, x, pool_size=41)
    with pytest.raises(ValueError, match="top_k"):
        r_precision(x, x, top_k=33)
    with pytest.raises(ValueError, match="top_k"):
        r_precision(x, x, top_k=0)
    with pytest.raises(TypeError, match="pool_size"):
        r_precision(x, x, pool_size=3.5)
    with pytest.raises(ValueError, match="flavour"):
        matching_score(x, x, flavour="fast")
    with pytest.raises(ValueError, match="2-D"):
        r_precision(x[None], x[None])
    bad = x.copy()
    bad[17, 2] = np.nan
    with pytest.raises(ValueError, match="motion_emb.*row index 17"):
        r_precision(x, bad)
    with pytest.raises(ValueError, match="equal leading shape"):
        euclidean_distance_matrix(np.zeros((3, 4)), np.zeros((3, 5)))
