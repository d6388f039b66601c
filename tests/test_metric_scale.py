"""Property-based tests: every metric stays right at any scale, or refuses by name (issue 12, items 6 and 8).

Properties checked with hypothesis, against independent computations (float64 direct differences, mpmath):

- scale equivariance ``d(c x) = c d(x)`` for ``c`` over many decades (exactly, bit for bit, for powers of two;
  to rounding for powers of ten), and scale invariance of the rank/count metrics;
- permutation behaviour (rows within a pool, pools, sets, replications);
- agreement with float64 / mpmath brute force, including scales where the naive formula overflows or cancels;
- no NaN/inf for finite input whose answer is representable, and a ``ValueError`` saying "overflow" otherwise;
- bad input (NaN, Inf, complex, values too large for the working dtype) raises ``ValueError`` naming the
  argument and the row.
"""
from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from motioneval import MetricAccumulator, confidence_interval
from motioneval.metrics.diversity import diversity, multimodality
from motioneval.metrics.kid import kid
from motioneval.metrics.manifold import density_coverage, precision_recall
from motioneval.metrics.retrieval import (
    euclidean_distance_matrix,
    matching_score,
    r_precision,
    retrieval_metrics,
)
from motioneval.metrics.stats import gaussian_stats

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
seeds = st.integers(0, 2**32 - 1)


def _pair(seed: int, n: int = 64, d: int = 8, dtype=np.float32):
    """Text/motion embeddings that match row by row, no tiny entries (so power-of-two scaling stays normal)."""
    rng = np.random.default_rng(seed)
    text = rng.normal(size=(n, d))
    motion = text + 0.4 * rng.normal(size=(n, d))
    for a in (text, motion):
        a[np.abs(a) < 1e-3] = 1e-3
    return text.astype(dtype), motion.astype(dtype)


def _exact_pool_dist(text: np.ndarray, motion: np.ndarray, pool: int = 32) -> np.ndarray:
    """Brute force float64 direct distances of each pool, ``(P, S, S)``."""
    p = text.shape[0] // pool
    t = text[: p * pool].astype(np.float64).reshape(p, pool, -1)
    m = motion[: p * pool].astype(np.float64).reshape(p, pool, -1)
    return np.sqrt(((t[:, :, None, :] - m[:, None, :, :]) ** 2).sum(-1))


def _expanded_error(text: np.ndarray, motion: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """A bound on the float32 expanded form's error in ``d_ij`` (cancellation in ``|t|^2 + |m|^2 - 2 t.m``):
    ``|d^2 err| <= 2 (D + 2) eps32 (|t_i|^2 + |m_j|^2)`` so ``|d err| <= that / d`` (or its root near 0)."""
    d = text.shape[-1]
    tn = np.sum(text.astype(np.float64) ** 2, axis=-1)
    mn = np.sum(motion.astype(np.float64) ** 2, axis=-1)
    sq_err = 2 * (d + 2) * 2.0 ** -24 * (tn[..., :, None] + mn[..., None, :])
    return np.minimum(sq_err / np.maximum(dist, 1e-300), np.sqrt(sq_err))


def _min_rank_margin(dist: np.ndarray) -> float:
    """Smallest relative gap between a true distance and any distractor's (near-ties make ranks fragile)."""
    diag = np.diagonal(dist, axis1=1, axis2=2)[..., None]
    gap = np.abs(dist - diag) / np.maximum(diag, 1e-300)
    idx = np.arange(dist.shape[1])
    gap[:, idx, idx] = np.inf
    return float(gap.min())


# ---------------------------------------------------------------------------------------------------------
# retrieval

@SETTINGS
@given(seed=seeds, k=st.integers(-100, 100))
def test_reference_retrieval_is_exactly_equivariant_under_powers_of_two(seed, k):
    text, motion = _pair(seed)
    c = np.float32(2.0 ** k)
    base_rp, base_ms = retrieval_metrics(text, motion)
    rp, ms = retrieval_metrics(text * c, motion * c)
    assert rp.hit_counts == base_rp.hit_counts
    assert ms == math.ldexp(base_ms, k)  # the reference's own digits, scaled: bit for bit


@SETTINGS
@given(seed=seeds, k=st.integers(-300, 300), flavour=st.sampled_from(["reference", "exact"]))
def test_retrieval_over_decades_agrees_with_float64_brute_force(seed, k, flavour):
    text, motion = _pair(seed, dtype=np.float64)
    c = 10.0 ** k
    exact = _exact_pool_dist(text, motion)
    assume(_min_rank_margin(exact) > 1e-4)  # a near-tie may flip under float32 rounding of the scaled rows
    p = text.shape[0] // 32
    err = _expanded_error(text.reshape(p, 32, -1), motion.reshape(p, 32, -1), exact)
    diag_err = np.diagonal(err, axis1=1, axis2=2)
    if flavour == "reference":  # the expanded form's own error must not decide a rank
        gap = np.abs(exact - np.diagonal(exact, axis1=1, axis2=2)[..., None])
        assume(np.all((gap > 2 * (err + diag_err[..., None])) | np.eye(32, dtype=bool)))
    ms = matching_score(text * c, motion * c, flavour=flavour)
    rp = r_precision(text * c, motion * c, flavour=flavour)
    assert np.isfinite(ms) and ms > 0
    expected_ms = c * float(np.mean(np.diagonal(exact, axis1=1, axis2=2)))
    if flavour == "reference":
        assert abs(ms - expected_ms) <= c * float(np.mean(diag_err)) + 1e-6 * expected_ms
    else:
        assert ms == pytest.approx(expected_ms, rel=1e-12, abs=0)
    ranks = (exact < np.diagonal(exact, axis1=1, axis2=2)[..., None]).sum(-1).ravel()
    expected_rp = [(ranks < j).mean() for j in (1, 2, 3)]
    np.testing.assert_array_equal(np.asarray(rp), expected_rp)


def test_issue_examples_for_retrieval():
    text, motion = _pair(3)
    base = matching_score(text, motion)
    assert matching_score(text * np.float32(1e20), motion * np.float32(1e20)) == pytest.approx(1e20 * base, rel=1e-5, abs=0)
    np.testing.assert_array_equal(r_precision(text * np.float32(1e20), motion * np.float32(1e20)), r_precision(text, motion))
    np.testing.assert_array_equal(r_precision(text * np.float32(1e-30), motion * np.float32(1e-30)), r_precision(text, motion))
    assert matching_score(text * np.float32(1e-30), motion * np.float32(1e-30)) == pytest.approx(1e-30 * base, rel=1e-5, abs=0)
    # finite float64 values beyond float32's range are scaled, not called NaN/Inf
    big_t, big_m = text.astype(np.float64) * 1e39, motion.astype(np.float64) * 1e39
    assert matching_score(big_t, big_m) == pytest.approx(1e39 * base, rel=1e-5, abs=0)
    # a result beyond float64 is refused by name
    huge = np.full((32, 8), 1.5e308)
    for flavour in ("reference", "exact"):
        with pytest.raises(ValueError, match="matching_score.*overflow"):
            matching_score(huge, -huge, flavour=flavour)


def test_mpmath_matching_score_at_extreme_scales():
    text, motion = _pair(11, n=32, d=4, dtype=np.float64)
    mpmath.mp.dps = 30
    for c in (1e-300, 1e-160, 1e160, 1e300):
        t, m = text * c, motion * c
        ref = sum(mpmath.sqrt(sum((mpmath.mpf(a) - mpmath.mpf(b)) ** 2 for a, b in zip(t[i], m[i])))
                  for i in range(32)) / 32
        assert matching_score(t, m, flavour="exact") == pytest.approx(float(ref), rel=1e-13, abs=0)
        assert matching_score(t, m) == pytest.approx(float(ref), rel=1e-5, abs=0)


@SETTINGS
@given(seed=seeds, perm_seed=seeds)
def test_retrieval_permutations(seed, perm_seed):
    text, motion = _pair(seed, n=96)
    rng = np.random.default_rng(perm_seed)
    rp = r_precision(text, motion)
    ms = matching_score(text, motion, flavour="exact")
    # the same permutation of rows *within* each pool, and a permutation of whole pools
    within = np.concatenate([32 * p + rng.permutation(32) for p in rng.permutation(3)])
    assert r_precision(text[within], motion[within]).hit_counts == rp.hit_counts
    assert matching_score(text[within], motion[within], flavour="exact") == pytest.approx(ms, rel=1e-13, abs=0)


@SETTINGS
@given(rows=st.integers(1, 40), cols=st.integers(1, 6), data=st.data())
def test_retrieval_never_nan_for_finite_input(rows, cols, data):
    """Mixed magnitudes up to 1e300: finite, non-negative, and within float32 accuracy of the float64 result."""
    vals = st.floats(-1e300, 1e300, allow_nan=False, allow_infinity=False, allow_subnormal=False)
    text = np.array(data.draw(st.lists(vals, min_size=rows * cols, max_size=rows * cols))).reshape(rows, cols)
    motion = np.array(data.draw(st.lists(vals, min_size=rows * cols, max_size=rows * cols))).reshape(rows, cols)
    exact = matching_score(text, motion, pool_size=rows, flavour="exact")
    ref = matching_score(text, motion, pool_size=rows)
    assert np.isfinite(exact) and np.isfinite(ref) and ref >= 0
    scale = max(np.abs(text).max(), np.abs(motion).max())
    assert abs(ref - exact) <= 4 * math.sqrt(cols * 2.0 ** -23) * scale + 1e-6 * exact
    dist = euclidean_distance_matrix(text, motion, flavour="exact")
    assert np.isfinite(dist).all()


def test_public_distance_matrix_scales_and_names_float32_overflow():
    text, motion = _pair(5, n=8)
    base = euclidean_distance_matrix(text, motion)
    np.testing.assert_array_equal(euclidean_distance_matrix(text * np.float32(2.0 ** 60), motion * np.float32(2.0 ** 60)),
                                  base * np.float32(2.0 ** 60))
    with pytest.raises(ValueError, match="overflow"):
        euclidean_distance_matrix(text.astype(np.float64) * 1e39, motion.astype(np.float64) * 1e39)  # float32 output


@SETTINGS
@given(seed=seeds, k=st.integers(-120, 100), batch=st.integers(5, 70))
def test_accumulator_equals_functional_at_any_scale(seed, k, batch):
    text, motion = _pair(seed, n=100, dtype=np.float64)
    c = 2.0 ** k
    text, motion = text * c, motion * c
    # one pool far smaller than the others: per-pool scales differ
    text[32:64] *= 2.0 ** -60
    motion[32:64] *= 2.0 ** -60
    acc = MetricAccumulator(diversity_pairs=None)
    for s in range(0, 100, batch):
        acc.update(text[s:s + batch], motion[s:s + batch])
    out = acc.compute()
    rp, ms = retrieval_metrics(text, motion)
    assert out["r_precision"].hit_counts == rp.hit_counts
    assert out["matching_score"] == ms
    assert np.isfinite(ms)


# ---------------------------------------------------------------------------------------------------------
# diversity / multimodality

@SETTINGS
@given(seed=seeds, k=st.integers(-900, 900))
def test_diversity_is_exactly_equivariant_under_powers_of_two(seed, k):
    x = np.random.default_rng(seed).normal(size=(120, 5))
    x[np.abs(x) < 1e-3] = 1e-3
    base = diversity(x, 50, rng=1)
    assert diversity(np.ldexp(x, k), 50, rng=1) == math.ldexp(base, k)
    emb = x[:90].reshape(6, 15, 5)
    assert multimodality(np.ldexp(emb, k), 10, rng=2) == math.ldexp(multimodality(emb, 10, rng=2), k)


@SETTINGS
@given(seed=seeds, k=st.integers(-300, 300))
def test_diversity_over_decades_agrees_with_brute_force(seed, k):
    x = np.random.default_rng(seed).normal(size=(60, 4))
    c = 10.0 ** k
    value, a, b = diversity(x * c, 20, rng=seed, return_indices=True)
    expected = c * np.mean([np.linalg.norm(x[i] - x[j]) for i, j in zip(a, b)])
    assert np.isfinite(value)
    assert value == pytest.approx(expected, rel=1e-12, abs=0)


def test_diversity_overflow_is_named_and_near_limit_values_are_computed():
    x = np.random.default_rng(0).uniform(-1, 1, size=(40, 4))
    with pytest.raises(ValueError, match="diversity.*overflow"):
        diversity(x * 1.7e308, 20, rng=0)
    mpmath.mp.dps = 30
    value, a, b = diversity(x * 1e307, 20, rng=0, return_indices=True)
    ref = sum(mpmath.sqrt(sum((mpmath.mpf(float(u)) * mpmath.mpf(1e307) - mpmath.mpf(float(v)) * mpmath.mpf(1e307)) ** 2
                              for u, v in zip(x[i], x[j]))) for i, j in zip(a, b)) / 20
    assert value == pytest.approx(float(ref), rel=1e-13, abs=0)


# ---------------------------------------------------------------------------------------------------------
# KID

def _mp_mmd2(x, y, coef0=1.0, degree=3):
    d = x.shape[1]
    xs = [[mpmath.mpf(float(v)) for v in row] for row in x]
    ys = [[mpmath.mpf(float(v)) for v in row] for row in y]

    def k(a, b):
        return (sum(p * q for p, q in zip(a, b)) / d + mpmath.mpf(coef0)) ** degree

    m, n = len(xs), len(ys)
    kxx = sum(k(xs[i], xs[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    kyy = sum(k(ys[i], ys[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    kxy = sum(k(xs[i], ys[j]) for i in range(m) for j in range(n)) / (m * n)
    return kxx + kyy - 2 * kxy


@settings(max_examples=15, deadline=None)
@given(seed=seeds, k=st.integers(-150, 50))
def test_kid_agrees_with_mpmath_over_decades(seed, k):
    """Tiny scales: the naive (gamma x.y + 1)^3 loses every digit to the constant; the answer is still representable."""
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 3)) + 1.5
    c = 10.0 ** k
    mpmath.mp.dps = 2 * abs(k) + 60
    expected = _mp_mmd2(x * c, y * c)
    got = kid(x * c, y * c, num_subsets=1, subset_size=6, rng=0).mean
    assert np.isfinite(got)
    assert got == pytest.approx(float(expected), rel=1e-9, abs=0)


@SETTINGS
@given(seed=seeds, k=st.integers(-150, 40))
def test_kid_factors_by_scale(seed, k):
    """KID(c x, c y; coef0 c^2) = c^(2 degree) KID(x, y; coef0) for the polynomial kernel."""
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(30, 4)), rng.normal(size=(30, 4)) + 0.5
    base = kid(x, y, num_subsets=3, subset_size=20, rng=1)
    c = 2.0 ** k
    scaled = kid(x * c, y * c, num_subsets=3, subset_size=20, coef0=c * c, rng=1)
    assert scaled.mean == pytest.approx(math.ldexp(base.mean, 6 * k), rel=1e-12, abs=0)
    assert scaled.std == pytest.approx(math.ldexp(base.std, 6 * k), rel=1e-9, abs=1e-12 * abs(scaled.mean))


def test_kid_overflow_is_named():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 4)), rng.normal(size=(20, 4))
    with pytest.raises(ValueError, match="kid.*not scale-invariant.*overflows float64"):
        kid(x * 1e200, y * 1e200, num_subsets=2, rng=0)


@SETTINGS
@given(seed=seeds)
def test_kid_full_subset_is_permutation_invariant(seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(20, 3)), rng.normal(size=(20, 3)) + 0.3
    base = kid(x, y, num_subsets=1, subset_size=20, rng=0).mean
    got = kid(x[rng.permutation(20)], y[rng.permutation(20)], num_subsets=1, subset_size=20, rng=5).mean
    assert got == pytest.approx(base, rel=1e-10, abs=1e-14)


# ---------------------------------------------------------------------------------------------------------
# manifold metrics

def _manifold_sets(seed):
    rng = np.random.default_rng(seed)
    real = rng.normal(size=(30, 3))
    gen = 1.2 * rng.normal(size=(25, 3)) + 0.4
    for a in (real, gen):
        a[np.abs(a) < 1e-3] = 1e-3
    return real, gen


def _manifold_margin(real, gen):
    """Smallest relative gap between any cross/within distance and any k-NN radius (near-ties are fragile)."""
    def dist(a, b):
        return np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1))
    radii = np.concatenate([np.sort(dist(s, s), axis=1)[:, 1:6].ravel() for s in (real, gen)])
    d = np.concatenate([dist(real, gen).ravel(), dist(real, real).ravel(), dist(gen, gen).ravel()])
    d = d[d > 0]
    gaps = np.abs(d[:, None] - radii[None, :]) / radii[None, :]
    gaps[gaps == 0] = np.inf  # a radius compared with itself
    return float(gaps.min())


@SETTINGS
@given(seed=seeds, k=st.integers(-1000, 1000))
def test_manifold_exactly_invariant_under_powers_of_two(seed, k):
    real, gen = _manifold_sets(seed)
    assume(-1000 < k < 1000)
    base = precision_recall(real, gen), density_coverage(real, gen)
    got = precision_recall(np.ldexp(real, k), np.ldexp(gen, k)), density_coverage(np.ldexp(real, k), np.ldexp(gen, k))
    assert got == base


@SETTINGS
@given(seed=seeds, k=st.integers(-300, 300))
def test_manifold_over_decades(seed, k):
    real, gen = _manifold_sets(seed)
    assume(_manifold_margin(real, gen) > 1e-6)
    c = 10.0 ** k
    assert precision_recall(real * c, gen * c) == precision_recall(real, gen)
    assert density_coverage(real * c, gen * c) == density_coverage(real, gen)


def test_issue_example_far_sets_at_huge_scale():
    real, gen = _manifold_sets(0)
    far = gen + 1e3
    assert precision_recall(real * 1e200, far * 1e200) == (0.0, 0.0)
    assert density_coverage(real * 1e200, far * 1e200) == (0.0, 0.0)


# ---------------------------------------------------------------------------------------------------------
# confidence interval

@SETTINGS
@given(seed=seeds, k=st.integers(-300, 300), n=st.integers(2, 25))
def test_confidence_interval_scale_and_permutation(seed, k, n):
    rng = np.random.default_rng(seed)
    v = rng.normal(loc=3.0, size=n)
    mean, half = confidence_interval(v)
    c = 10.0 ** k
    m2, h2 = confidence_interval(v * c)
    assert np.isfinite(m2) and np.isfinite(h2)
    assert m2 == pytest.approx(c * mean, rel=1e-12, abs=0) and h2 == pytest.approx(c * half, rel=1e-9, abs=0)
    m3, h3 = confidence_interval(v[rng.permutation(n)])
    assert m3 == pytest.approx(mean, rel=1e-13, abs=0) and h3 == pytest.approx(half, rel=1e-9, abs=0)
    cols = np.stack([v, v * c], axis=1)  # columns of very different magnitude are scaled separately
    mc, _ = confidence_interval(cols)
    assert mc[1] == pytest.approx(c * mean, rel=1e-12, abs=0) and mc[0] == pytest.approx(mean, rel=1e-12, abs=0)


# ---------------------------------------------------------------------------------------------------------
# bad input: error class and culprit

def _two_sets(rng):
    return rng.normal(size=(40, 4)), rng.normal(size=(40, 4))


CALLS = {
    "matching_score": (lambda a, b: matching_score(a, b, pool_size=8), ("text_emb", "motion_emb")),
    "r_precision": (lambda a, b: r_precision(a, b, pool_size=8), ("text_emb", "motion_emb")),
    "r_precision_exact": (lambda a, b: r_precision(a, b, pool_size=8, flavour="exact"), ("text_emb", "motion_emb")),
    "kid": (lambda a, b: kid(a, b, num_subsets=1, rng=0), ("real_emb", "gen_emb")),
    "precision_recall": (lambda a, b: precision_recall(a, b), ("real_emb", "gen_emb")),
    "density_coverage": (lambda a, b: density_coverage(a, b), ("real_emb", "gen_emb")),
    "diversity": (lambda a, b: diversity(b, 10, rng=0), (None, "motion_emb")),
    "gaussian_stats": (lambda a, b: gaussian_stats(b), (None, "features")),
}


@settings(max_examples=40, deadline=None)
@given(metric=st.sampled_from(sorted(CALLS)), which=st.integers(0, 1), row=st.integers(0, 39),
       kind=st.sampled_from(["nan", "inf", "complex"]), seed=seeds)
def test_bad_input_names_argument_and_row(metric, which, row, kind, seed):
    fn, names = CALLS[metric]
    if names[which] is None:
        which = 1
    arrays = list(_two_sets(np.random.default_rng(seed)))
    bad = arrays[which]
    if kind == "complex":
        bad = bad.astype(np.complex128)
        bad[row, 1] += 1e-3j
    else:
        bad[row, 2] = np.nan if kind == "nan" else -np.inf
    arrays[which] = bad
    with pytest.raises(ValueError) as info:
        fn(*arrays)
    msg = str(info.value)
    assert names[which] in msg
    assert f"index {row}" in msg
    assert ("complex" in msg) if kind == "complex" else ("NaN or Inf" in msg)


def test_other_culprits_are_named():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(4, 12, 3)).astype(np.complex64)
    with pytest.raises(ValueError, match="emb is complex.*text index 0"):
        emb[0, 3, 1] = 2j
        multimodality(emb, 10)
    vals = np.array([1.0, 2.0, np.nan, 3.0])
    with pytest.raises(ValueError, match="values contains NaN or Inf.*replication index 2"):
        confidence_interval(vals)
    acc = MetricAccumulator(diversity_pairs=None)
    t = rng.normal(size=(8, 3))
    with pytest.raises(ValueError, match="motion_emb is complex"):
        acc.update(t, t + 0j)
    if np.finfo(np.longdouble).max > 1e400:  # 80-bit long double: finite values float64 cannot hold
        big = t.astype(np.longdouble)
        big[5, 0] = np.longdouble("1e400")
        with pytest.raises(ValueError, match=r"text_emb has values too large for float64 \(overflow.*row index 5"):
            matching_score(big, t, pool_size=4)
        with pytest.raises(ValueError, match=r"overflow.*\[5\]"):
            acc.update(big, t)
    # the old message called finite float64 1e39 "NaN or Inf"; now it is computed
    t64 = rng.normal(size=(8, 3))
    t64[3] *= 1e39
    assert np.isfinite(matching_score(t64, t64 + 1, pool_size=4))


# ---------------------------------------------------------------------------------------------------------
# mixed magnitudes: finite answers, or a named overflow only when the true answer is not representable

mixed = st.floats(-1e300, 1e300, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def _draw(data, rows, cols):
    return np.array(data.draw(st.lists(mixed, min_size=rows * cols, max_size=rows * cols))).reshape(rows, cols)


@settings(max_examples=30, deadline=None)
@given(data=st.data(), cols=st.integers(1, 3))
def test_diversity_mixed_magnitudes_against_mpmath(data, cols):
    x = _draw(data, 8, cols)
    mpmath.mp.dps = 40
    try:
        value, a, b = diversity(x, 4, rng=0, return_indices=True)
    except ValueError as exc:
        assert "overflow" in str(exc)
        value = None
        a = np.random.RandomState(0).choice(8, 4, replace=False)
        b = np.random.RandomState(0)
        b.choice(8, 4, replace=False)
        b = b.choice(8, 4, replace=False)
    ref = sum(mpmath.sqrt(sum((mpmath.mpf(float(u)) - mpmath.mpf(float(v))) ** 2 for u, v in zip(x[i], x[j])))
              for i, j in zip(a, b)) / 4
    if value is None:
        assert ref > np.finfo(np.float64).max * (1 - 1e-12)
    else:
        assert np.isfinite(value)
        assert value == pytest.approx(float(ref), rel=1e-12, abs=0)


@settings(max_examples=30, deadline=None)
@given(data=st.data(), cols=st.integers(1, 3))
def test_manifold_and_confidence_mixed_magnitudes_are_finite(data, cols):
    real, gen = _draw(data, 8, cols), _draw(data, 7, cols)
    p, r = precision_recall(real, gen, k=2)
    d, c = density_coverage(real, gen, k=2)
    for v in (p, r, d, c):
        assert np.isfinite(v) and v >= 0
    assert p <= 1 and r <= 1 and c <= 1
    try:
        mean, half = confidence_interval(real[:, 0])
    except ValueError as exc:  # e.g. mean of +-1e300 values beyond float64: must say so
        assert "overflow" in str(exc)
    else:
        assert np.isfinite(mean) and np.isfinite(half) and half >= 0
        mp_mean = mpmath.fsum(mpmath.mpf(float(v)) for v in real[:, 0]) / 8
        assert mean == pytest.approx(float(mp_mean), rel=1e-9, abs=1e-9 * float(np.max(np.abs(real[:, 0]))))


@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_kid_mixed_magnitudes_finite_or_named_overflow(data):
    x, y = _draw(data, 4, 2), _draw(data, 4, 2)
    try:
        res = kid(x, y, num_subsets=1, subset_size=4, rng=0)
    except ValueError as exc:
        assert "overflow" in str(exc)
        mpmath.mp.dps = 50
        assert abs(_mp_mmd2(x, y)) > 1e300
    else:
        assert np.isfinite(res.mean) and np.isfinite(res.std)


def test_gaussian_stats_names_covariance_overflow_and_keeps_ordinary_digits():
    x = np.random.default_rng(0).normal(size=(50, 3))
    with pytest.raises(ValueError, match="covariance.*overflows float64"):
        gaussian_stats(x * 1e200)
    big = gaussian_stats(x * 1e100)  # representable: computed, and equivariant
    np.testing.assert_allclose(big.cov, gaussian_stats(x).cov * 1e200, rtol=1e-12)
    with pytest.raises(ValueError, match="complex"):
        gaussian_stats(x + 1j)


@settings(max_examples=10, deadline=None)
@given(seed=seeds, spread=st.integers(0, 300), flavour=st.sampled_from(["reference", "exact"]))
def test_retrieval_rows_at_wildly_different_scales_against_mpmath(seed, spread, flavour):
    """Each sample at its own scale 10^s (s over up to 300 decades, within one pool): no row is crushed by a
    larger one; ranks and the Matching Score agree with a 30-digit brute force."""
    n = 16
    rng = np.random.default_rng(seed)
    text, motion = _pair(seed, n=n, d=3, dtype=np.float64)
    s = rng.integers(-spread // 2 - 1, spread // 2 + 1, size=n)
    scale = 10.0 ** s.astype(np.float64)
    text, motion = text * scale[:, None], motion * scale[:, None]
    mpmath.mp.dps = 30
    tm = [[mpmath.mpf(float(v)) for v in row] for row in text]
    mm = [[mpmath.mpf(float(v)) for v in row] for row in motion]
    d = [[mpmath.sqrt(sum((p - q) ** 2 for p, q in zip(tm[i], mm[j]))) for j in range(n)] for i in range(n)]
    exact = np.array([[float(v) for v in row] for row in d])
    gap = np.abs(exact - np.diag(exact)[:, None])
    err = _expanded_error(text, motion, exact) if flavour == "reference" else np.zeros((n, n))
    assume(np.all((gap > 1e-4 * np.diag(exact)[:, None] + 2 * (err + np.diag(err)[:, None])) | np.eye(n, dtype=bool)))
    ranks = np.array([sum(d[i][j] <= d[i][i] for j in range(n) if j != i) for i in range(n)])
    rp, ms = retrieval_metrics(text, motion, pool_size=n, flavour=flavour)
    np.testing.assert_array_equal(np.asarray(rp), [(ranks < k).mean() for k in (1, 2, 3)])
    expected = float(sum(d[i][i] for i in range(n)) / n)
    if flavour == "reference":
        assert abs(ms - expected) <= float(np.mean(np.diag(err))) + 1e-6 * expected
    else:
        assert ms == pytest.approx(expected, rel=1e-12, abs=0)
    if flavour == "reference" and exact.max() > np.finfo(np.float32).max:
        with pytest.raises(ValueError, match="overflows float32"):  # the float32 result cannot hold it
            euclidean_distance_matrix(text, motion, flavour=flavour)
    else:
        full = euclidean_distance_matrix(text, motion, flavour=flavour)
        np.testing.assert_allclose(full, exact, rtol=1e-3 if flavour == "reference" else 1e-12,
                                   atol=1e-44 if flavour == "reference" else 0)


@pytest.mark.parametrize("k", [-60, 60])
def test_fid_infinity_scales_with_the_square(k):
    from motioneval.metrics.fid_infinity import fid_infinity
    rng = np.random.default_rng(0)
    real, gen = rng.normal(size=(200, 3)), rng.normal(size=(120, 3)) * 1.3 + 0.5
    base = fid_infinity(real, gen, num_points=4, rng=0)
    c = 2.0 ** k
    got = fid_infinity(real * c, gen * c, num_points=4, rng=0)
    assert got.value == pytest.approx(base.value * c * c, rel=1e-9, abs=0)
    assert got.slope == pytest.approx(base.slope * c * c, rel=1e-7, abs=0)
    with pytest.raises(ValueError, match="complex"):
        fid_infinity((real.mean(0) + 0j, np.cov(real.T)), gen)


@SETTINGS
@given(seed=seeds, k=st.integers(-480, 480))
def test_gaussian_stats_exactly_equivariant_under_powers_of_two(seed, k):
    x = np.random.default_rng(seed).normal(size=(40, 3)) + 2.0
    base = gaussian_stats(x)
    got = gaussian_stats(np.ldexp(x, k))
    np.testing.assert_array_equal(got.mean, np.ldexp(base.mean, k))
    np.testing.assert_array_equal(got.cov, np.ldexp(base.cov, 2 * k))


def test_gaussian_stats_warns_when_the_covariance_is_subnormal():
    x = np.random.default_rng(1).normal(size=(30, 3))
    with pytest.warns(RuntimeWarning, match="lost digits"):
        tiny = gaussian_stats(x * 1e-160)
    np.testing.assert_allclose(tiny.mean, gaussian_stats(x).mean * 1e-160, rtol=1e-12)


def _mp_manifold(real, gen, k_pr, k_dc):
    """precision, recall, density, coverage by 30-digit brute force, and the smallest relative gap between a
    compared distance and a radius (near-ties are fragile in any floating-point evaluation)."""
    mpmath.mp.dps = 30
    r = [[mpmath.mpf(float(v)) for v in row] for row in real]
    g = [[mpmath.mpf(float(v)) for v in row] for row in gen]

    def dist(p, q):
        return mpmath.sqrt(sum((u - v) ** 2 for u, v in zip(p, q)))

    def radii(s, k):
        return [sorted(dist(p, q) for j, q in enumerate(s) if j != i)[k - 1] for i, p in enumerate(s)]

    rg = [[dist(p, q) for q in g] for p in r]
    rr, gr, rd = radii(r, k_pr), radii(g, k_pr), radii(r, k_dc)
    prec = np.mean([any(rg[i][j] <= rr[i] for i in range(len(r))) for j in range(len(g))])
    rec = np.mean([any(rg[i][j] <= gr[j] for j in range(len(g))) for i in range(len(r))])
    dens = sum(rg[i][j] <= rd[i] for i in range(len(r)) for j in range(len(g))) / (k_dc * len(g))
    cov = np.mean([min(rg[i]) <= rd[i] for i in range(len(r))])
    gaps = [abs(rg[i][j] - rad[m]) / rad[m] for i in range(len(r)) for j in range(len(g))
            for rad, m in ((rr, i), (gr, j), (rd, i)) if rad[m] > 0]
    return (float(prec), float(rec), float(dens), float(cov)), float(min(gaps))


@settings(max_examples=10, deadline=None)
@given(seed=seeds, a=st.integers(-300, 300), b=st.integers(-300, 300))
def test_manifold_clusters_at_wildly_different_scales_against_mpmath(seed, a, b):
    """Real rows and most generated rows at 10^a, a cluster of 3 generated rows at 10^b: the small rows are not
    crushed to zero by the cluster's scale. (A lone far row ties with every small row at float precision, so
    the far rows come as a cluster whose k-NN radii are set among themselves.)"""
    rng = np.random.default_rng(seed)
    real = rng.normal(size=(12, 2)) * 10.0 ** a
    gen = np.concatenate([(rng.normal(size=(7, 2)) + 0.3) * 10.0 ** a,
                          (5.0 + 0.3 * rng.normal(size=(3, 2))) * 10.0 ** b])
    expected, gap = _mp_manifold(real, gen, 2, 3)
    assume(gap > 1e-6)
    got = (*precision_recall(real, gen, k=2), *density_coverage(real, gen, k=3))
    assert got == pytest.approx(expected, rel=1e-12, abs=0)


@SETTINGS
@given(seed=seeds, perm_seed=seeds)
def test_manifold_metrics_are_permutation_invariant(seed, perm_seed):
    real, gen = _manifold_sets(seed)
    assume(_manifold_margin(real, gen) > 1e-6)  # the blocked products may round a near-tie differently
    rng = np.random.default_rng(perm_seed)
    pr, dc = precision_recall(real, gen), density_coverage(real, gen)
    real2, gen2 = real[rng.permutation(len(real))], gen[rng.permutation(len(gen))]
    assert precision_recall(real2, gen2) == pr
    assert density_coverage(real2, gen2) == dc
