"""Fréchet distance: closed forms, exact-arithmetic constructions, high precision, fixtures, properties."""
from __future__ import annotations

import json
import math
import warnings

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from motioneval import FrechetResult, GaussianStats, fid, frechet_distance, gaussian_stats
from motioneval.metrics import frechet as F

METHODS_EXACT = ("exact", "procrustes")


# ----------------------------------------------------------------------------- independent references
def exact_integer_case(d: int, rank: int, k: int, *, col_scale_log2: int = 0, seed: int = 0, density: float = 0.05):
    """Covariances with an exactly known FID, all arithmetic exact in float64.

    ``H = G G^T`` (integer G, d x rank), ``S1 = k^2 H``, ``S2 = (kI + R) H (kI + R) = T S1 T`` with
    ``T = I + R/k`` SPD (R integer symmetric), so ``tr((S1^1/2 S2 S1^1/2)^1/2) = tr(T S1)`` and
    ``FID = tr((I - T) S1 (I - T)) = tr(R H R)``, an integer. Large k: nearly identical distributions.
    """
    rng = np.random.default_rng(seed)
    g = rng.integers(-3, 4, size=(d, rank)).astype(np.int64)
    g *= (2 ** rng.integers(0, col_scale_log2 + 1, size=rank)).astype(np.int64)[None, :]
    h = g @ g.T
    r = np.triu(rng.integers(-1, 2, size=(d, d)) * (rng.random((d, d)) < density))
    r = (r + r.T - np.diag(np.diag(r))).astype(np.int64)
    k = max(k, int(np.ceil(np.abs(np.linalg.eigvalsh(r.astype(float))).max())) + 1)
    t = k * np.eye(d, dtype=np.int64) + r
    s1, s2 = k * k * h, t @ h @ t
    assert max(np.abs(s1).max(), np.abs(s2).max()) < 2 ** 53  # exactly representable
    return s1.astype(float), s2.astype(float), float(np.trace(r @ h @ r))


def mp_frechet(mu1, s1, mu2, s2, dps: int = 60) -> float:
    """FID of the given float64 matrices in 60-digit arithmetic (tiny negative eigenvalues clipped to 0)."""
    with mp.workdps(dps):
        a, b = mp.matrix(s1.tolist()), mp.matrix(s2.tolist())
        w, q = mp.eigsy(a)
        root = q * mp.diag([mp.sqrt(max(w[i], 0)) for i in range(a.rows)]) * q.T
        mu = mp.eigsy(root * b * root, eigvals_only=True)
        tr = mp.fsum(a[i, i] for i in range(a.rows)) + mp.fsum(b[i, i] for i in range(b.rows))
        dm = mp.fsum((mp.mpf(float(x)) - mp.mpf(float(y))) ** 2 for x, y in zip(mu1, mu2))
        return float(dm + tr - 2 * mp.fsum(mp.sqrt(max(m, 0)) for m in mu))


def random_psd(rng, d: int, rank: int | None = None, cond: float = 10.0, scale: float = 1.0) -> np.ndarray:
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    w = np.geomspace(1.0, 1.0 / cond, d) * scale
    if rank is not None:
        w[rank:] = 0.0
    s = (q * w) @ q.T
    return 0.5 * (s + s.T)


# ----------------------------------------------------------------------------- closed forms
@pytest.mark.parametrize("method", METHODS_EXACT)
def test_commuting_covariances_closed_form(method):
    rng = np.random.default_rng(0)
    a = rng.uniform(0.1, 5.0, size=9)
    b = rng.uniform(0.1, 5.0, size=9)
    a[2] = b[5] = 0.0  # zero-variance features on either side
    mu1, mu2 = rng.normal(size=9), rng.normal(size=9)
    q, _ = np.linalg.qr(rng.normal(size=(9, 9)))
    expected = float(np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2))
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b), method=method) == pytest.approx(expected, rel=1e-13)
    # the same pair in a rotated basis (commuting, not diagonal); rotating a singular matrix leaves
    # rounding-level eigenvalues (+-1e-15) whose square roots move FID by ~1e-9, so full rank here
    a[2] = b[5] = 0.5
    expected = float(np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2))
    s1, s2 = (q * a) @ q.T, (q * b) @ q.T
    got = frechet_distance(q @ mu1, 0.5 * (s1 + s1.T), q @ mu2, 0.5 * (s2 + s2.T), method=method)
    assert got == pytest.approx(expected, rel=1e-12)


def test_one_dimensional_and_means_only():
    assert frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(4.0 + 1.0, rel=1e-15)
    rng = np.random.default_rng(1)
    s = random_psd(rng, 6)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    assert frechet_distance(mu1, s, mu2, s) == float(np.sum((mu1 - mu2) ** 2))


@pytest.mark.parametrize("rank", [None, 3])
def test_identical_statistics_give_exactly_zero(rank):
    rng = np.random.default_rng(2)
    s = random_psd(rng, 8, rank=rank, cond=1e6)
    mu = rng.normal(size=8)
    for method in METHODS_EXACT:
        assert frechet_distance(mu, s, mu, s.copy(), method=method) == 0.0
    x = rng.normal(size=(50, 8))
    assert fid(x, x) == 0.0
    assert frechet_distance(gaussian_stats(x), gaussian_stats(x)) == 0.0


# ----------------------------------------------------------------------------- invariances
def test_symmetry_translation_rotation():
    rng = np.random.default_rng(3)
    d = 12
    s1, s2 = random_psd(rng, d, cond=1e3), random_psd(rng, d, rank=5, cond=10.0)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    for method in METHODS_EXACT:
        base = frechet_distance(mu1, s1, mu2, s2, method=method)
        assert frechet_distance(mu2, s2, mu1, s1, method=method) == base  # bitwise: canonical ordering
        shift = 100.0 * rng.normal(size=d)
        assert frechet_distance(mu1 + shift, s1, mu2 + shift, s2, method=method) == pytest.approx(base, rel=1e-11)
        q, _ = np.linalg.qr(rng.normal(size=(d, d)))
        r1, r2 = q @ s1 @ q.T, q @ s2 @ q.T
        got = frechet_distance(q @ mu1, 0.5 * (r1 + r1.T), q @ mu2, 0.5 * (r2 + r2.T), method=method)
        assert got == pytest.approx(base, rel=1e-10)
        for c in (2.0 ** 40, 2.0 ** -40):  # scale covariance c, means sqrt(c): FID scales by c
            got = frechet_distance(mu1 * math.sqrt(c), s1 * c, mu2 * math.sqrt(c), s2 * c, method=method)
            assert got == pytest.approx(base * c, rel=1e-12)


# ----------------------------------------------------------------------------- exact-arithmetic constructions
CASES = {
    "well-separated": dict(rank=64, k=3),
    "moderate": dict(rank=64, k=30),
    "near-identical": dict(rank=64, k=1000),  # FID / (tr S1 + tr S2) ~ 1e-6
    "near-identical-1e-10": dict(rank=64, k=100000),  # FID / traces ~ 1e-10
    "rank-deficient": dict(rank=24, k=1000),
    "rank-deficient-far": dict(rank=24, k=3),
    "ill-conditioned": dict(rank=64, k=30, col_scale_log2=10),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("method", METHODS_EXACT)
def test_t_s_t_construction(name, method):
    s1, s2, expected = exact_integer_case(64, **CASES[name])
    for scale in (1.0, 2.0 ** 40, 2.0 ** -40):  # 1e12-scaled copies are exact too
        got = frechet_distance(np.zeros(64), s1 * scale, np.zeros(64), s2 * scale, method=method,
                               return_diagnostics=True, reference_check=False)
        assert got.value >= 0.0
        assert got.value == pytest.approx(expected * scale, rel=1e-9), (name, scale, got.diagnostics["route"])
        bound, route = got.diagnostics["error_bound"], got.diagnostics["route"]
        assert bound <= F.EIGEN_ROUTE_RTOL * got.value or route == "procrustes"


def test_route_selection():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(600, 48)), rng.normal(size=(600, 48)) * 1.05  # white features: eigenvalue route
    assert fid(x, y, return_diagnostics=True, reference_check=False).diagnostics["route"] == "eigen"
    s1, s2, _ = exact_integer_case(64, rank=64, k=3)
    assert frechet_distance(np.zeros(64), s1, np.zeros(64), s2, return_diagnostics=True,
                            reference_check=False).diagnostics["route"] in ("eigen", "nuclear")
    s1, s2, _ = exact_integer_case(64, rank=64, k=100000)
    assert frechet_distance(np.zeros(64), s1, np.zeros(64), s2, return_diagnostics=True,
                            reference_check=False).diagnostics["route"] == "procrustes"


def test_feature_scale_disparity_against_mpmath():
    """Features whose variances differ by 1e12 (coordinate-aligned, as raw unnormalized features)."""
    rng = np.random.default_rng(4)
    d = 10
    scales = np.where(np.arange(d) < 5, 1e6, 1.0)
    x = rng.normal(size=(200, d)) @ rng.normal(size=(d, d)) * scales
    y = (rng.normal(size=(150, d)) @ rng.normal(size=(d, d)) + 0.3) * scales
    s1, s2 = gaussian_stats(x), gaussian_stats(y)
    truth = mp_frechet(s1.mean, s1.cov, s2.mean, s2.cov)
    for method in METHODS_EXACT:
        assert frechet_distance(s1, s2, method=method) == pytest.approx(truth, rel=1e-10)


@pytest.mark.parametrize("kind", ["full", "rank-deficient", "ill-conditioned", "close", "both-deficient"])
def test_against_mpmath(kind):
    rng = np.random.default_rng(hash(kind) % 2 ** 32)
    d = 10
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    if kind == "full":
        s1, s2 = random_psd(rng, d, cond=20), random_psd(rng, d, cond=50)
    elif kind == "ill-conditioned":
        s1, s2 = random_psd(rng, d, cond=1e8), random_psd(rng, d, cond=1e6)
    elif kind == "close":
        s1 = random_psd(rng, d, cond=100)
        e = 1e-5 * random_psd(rng, d)
        s2 = s1 + e
        mu2 = mu1 + 1e-4 * rng.normal(size=d)
    else:  # exactly low-rank integer Gram matrices (exact in float64)
        g1 = rng.integers(-4, 5, size=(d, 4)).astype(float)
        g2 = rng.integers(-4, 5, size=(d, 6 if kind == "rank-deficient" else 3)).astype(float)
        s1, s2 = g1 @ g1.T, (g2 @ g2.T if kind == "both-deficient" else random_psd(rng, d) * 7 + g2 @ g2.T)
    truth = mp_frechet(mu1, s1, mu2, s2)
    for method in METHODS_EXACT:
        got = frechet_distance(mu1, s1, mu2, s2, method=method)
        assert got == pytest.approx(truth, rel=1e-10, abs=1e-13), (kind, method)


def test_routes_agree_on_random_statistics():
    rng = np.random.default_rng(5)
    for _ in range(10):
        d = int(rng.integers(2, 30))
        n1, n2 = int(rng.integers(2, 3 * d)), int(rng.integers(2, 3 * d))
        x = rng.normal(size=(n1, d)) * rng.uniform(0.1, 3, size=d)
        y = rng.normal(size=(n2, d)) * rng.uniform(0.1, 3, size=d) + 0.1
        a = fid(x, y)
        b = fid(x, y, method="procrustes")
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12)


# ----------------------------------------------------------------------------- fixtures of the reference code
def test_fixture_main(metrics_ref):
    m = metrics_ref
    args = (m["gt_mu"], m["gt_cov"], m["gen_mu"], m["gen_cov"])
    expected = float(m["fid"])
    res = frechet_distance(*args, method="reference", return_diagnostics=True)
    # same scipy and numpy as the fixture; BLAS kernels differ between machines (1e-9 relative here)
    assert res.value == pytest.approx(expected, rel=1e-7)
    d = res.diagnostics
    assert d["reference_complex"] and not d["reference_would_raise"] and not d["reference_used_eps_retry"]
    assert 1e-9 < d["reference_max_imag"] < 1e-5  # the fixture records 1.4e-7: its complex branch
    assert res.exact_value == pytest.approx(expected, rel=1e-6)
    procrustes = frechet_distance(*args, method="procrustes")
    assert procrustes == pytest.approx(expected, rel=1e-6)
    assert res.exact_value == pytest.approx(procrustes, rel=1e-12)
    assert any("came back complex" in w for w in res.warnings)


def test_fixture_fullrank(metrics_fullrank_ref):
    m = metrics_fullrank_ref
    expected = float(m["fid"])
    res = fid(m["gt_emb"], m["gen_emb"], method="reference", return_diagnostics=True)
    assert res.value == pytest.approx(expected, rel=1e-7)  # reference-style float32 means
    assert not res.diagnostics["reference_complex"]
    cov1, cov2 = np.cov(m["gt_emb"], rowvar=False), np.cov(m["gen_emb"], rowvar=False)
    for method in METHODS_EXACT:
        assert frechet_distance(m["gt_mu"], cov1, m["gen_mu"], cov2, method=method) == pytest.approx(expected,
                                                                                                  rel=1e-8)
    # float64 means move |mu1 - mu2|^2 by 2e-8 relative against the reference's float32 means
    assert res.exact_value == pytest.approx(expected, rel=1e-7)
    np.testing.assert_array_equal(np.mean(m["gt_emb"], axis=0), m["gt_mu"])


# ----------------------------------------------------------------------------- the reference route
def test_reference_would_raise_is_reported_not_raised():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(3, 8)) * 1e3, rng.normal(size=(3, 8)) * 1e3
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    res = frechet_distance(np.zeros(8), s1, np.zeros(8), s2, method="reference", return_diagnostics=True)
    d = res.diagnostics
    assert d["reference_would_raise"] and d["reference_max_imag_diag"] > 1e-3
    assert "Imaginary component" in d["reference_error"]
    assert any("would raise 'Imaginary component" in w for w in res.warnings)
    assert res.exact_value == pytest.approx(mp_frechet(np.zeros(8), s1, np.zeros(8), s2), rel=1e-9)
    assert math.isfinite(res.value)  # the reference's real part, as the reference would have had it
    assert frechet_distance(np.zeros(8), s1, np.zeros(8), s2) == pytest.approx(res.exact_value, rel=0)


def test_reference_eps_retry(monkeypatch):
    calls = []

    def fake_sqrtm(a):
        calls.append(a.copy())
        return np.full_like(a, np.nan) if len(calls) == 1 else F.sla.sqrtm(a)

    monkeypatch.setattr(F, "_sqrtm", fake_sqrtm)
    s1, s2 = np.diag([1.0, 2.0]), np.diag([3.0, 4.0])
    res = frechet_distance([0, 0], s1, [0, 0], s2, method="reference", return_diagnostics=True, eps=1e-3)
    assert res.diagnostics["reference_used_eps_retry"] and res.diagnostics["reference_nonfinite"]
    np.testing.assert_allclose(calls[1], (s1 + 1e-3 * np.eye(2)) @ (s2 + 1e-3 * np.eye(2)))
    expected = 1 + 3 + 2 + 4 - 2 * (math.sqrt((1 + 1e-3) * (3 + 1e-3)) + math.sqrt((2 + 1e-3) * (4 + 1e-3)))
    assert res.value == pytest.approx(expected, rel=1e-12)
    assert res.exact_value == pytest.approx((1 - math.sqrt(3)) ** 2 + (math.sqrt(2) - 2) ** 2, rel=1e-13)
    assert any("retried" in w for w in res.warnings)


def test_sqrtm_signature_detection(monkeypatch):
    def new_sqrtm(a):  # scipy >= 1.18: no disp argument
        return np.eye(len(a))

    def old_sqrtm(a, disp=True, blocksize=64):  # scipy < 1.16: disp=True prints
        assert disp is False, "disp=True would print from library code"
        return np.eye(len(a)) * 2, 0.0

    monkeypatch.setattr(F.sla, "sqrtm", new_sqrtm)
    assert F._sqrtm_needs_disp_false() is False
    monkeypatch.setattr(F, "_SQRTM_NEEDS_DISP_FALSE", False)
    np.testing.assert_array_equal(F._sqrtm(np.ones((2, 2))), np.eye(2))
    monkeypatch.setattr(F.sla, "sqrtm", old_sqrtm)
    assert F._sqrtm_needs_disp_false() is True
    monkeypatch.setattr(F, "_SQRTM_NEEDS_DISP_FALSE", True)
    np.testing.assert_array_equal(F._sqrtm(np.ones((2, 2))), 2 * np.eye(2))


def test_reference_is_silent():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frechet_distance(gaussian_stats(x), gaussian_stats(x + 1), method="reference")


# ----------------------------------------------------------------------------- validation
def test_validation_errors():
    good_mu, good_s = np.zeros(3), np.eye(3)
    bad = np.eye(3)
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"sigma2 contains NaN or Inf in 1 row\(s\): row index 1"):
        frechet_distance(good_mu, good_s, good_mu, bad)
    with pytest.raises(ValueError, match="mu1 contains NaN or Inf at entry 2"):
        frechet_distance(np.array([0, 0, np.inf]), good_s, good_mu, good_s)
    asym = np.eye(3)
    asym[0, 1] = 0.5
    with pytest.raises(ValueError, match="sigma1 is not symmetric"):
        frechet_distance(good_mu, asym, good_mu, good_s)
    with pytest.raises(ValueError, match="sigma2 is not positive semidefinite.*smallest eigenvalue is -1"):
        frechet_distance(good_mu, good_s, good_mu, np.diag([1.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match="not positive semidefinite"):
        frechet_distance(good_mu, good_s, good_mu, np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0.0]]))
    with pytest.raises(ValueError, match="D = 3 .* D = 2"):
        frechet_distance(good_mu, good_s, np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="mu1 has 2 entries but sigma1 is 3x3"):
        frechet_distance(np.zeros(2), good_s, good_mu, good_s)
    with pytest.raises(ValueError, match="square"):
        frechet_distance(good_mu, np.ones((3, 2)), good_mu, good_s)
    with pytest.raises(ValueError, match="unknown FID method 'sqrtm'"):
        frechet_distance(good_mu, good_s, good_mu, good_s, method="sqrtm")
    with pytest.raises(TypeError):
        frechet_distance(GaussianStats(3), good_s)
    x = np.ones((5, 3))
    x[[1, 4], 0] = np.nan
    with pytest.raises(ValueError, match=r"features2 contains NaN or Inf in 2 row\(s\): row index 1, 4"):
        fid(np.random.default_rng(0).normal(size=(5, 3)), x)
    with pytest.raises(ValueError, match="features1 needs at least 2 rows"):
        fid(np.zeros((1, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="features2 must be a 2-D array"):
        fid(np.zeros((4, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="D = 3 .* D = 4"):
        fid(np.random.default_rng(0).normal(size=(5, 3)), np.random.default_rng(0).normal(size=(5, 4)))


def test_rounding_level_asymmetry_and_negativity_are_accepted():
    """float32-computed covariances of N < D samples: asymmetric and indefinite at the 1e-7 level."""
    rng = np.random.default_rng(6)
    x = rng.normal(size=(4, 12)).astype(np.float32)
    xc = x - x.mean(0)
    s32 = (xc.T @ xc / np.float32(3)).astype(np.float64)
    s64 = np.cov(x.astype(np.float64), rowvar=False)
    assert np.linalg.eigvalsh(s32)[0] < 0 or not np.array_equal(s32, s32.T)
    other = random_psd(rng, 12, cond=10)
    got = frechet_distance(np.zeros(12), s32, np.zeros(12), other)
    # sqrt(1e-7 rounding * eigenvalue) per missing direction: agreement to ~1e-3 is what the input allows
    assert got == pytest.approx(frechet_distance(np.zeros(12), s64, np.zeros(12), other), rel=1e-3)
    assert got >= 0
    noisy = s64 + 1e-9 * rng.normal(size=s64.shape)
    assert math.isfinite(frechet_distance(np.zeros(12), noisy, np.zeros(12), other))


# ----------------------------------------------------------------------------- inputs, diagnostics, warnings
def test_stats_and_pairs_and_torch():
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(40, 5)), rng.normal(size=(30, 5)) + 0.5
    gx, gy = gaussian_stats(x), gaussian_stats(y)
    ref = frechet_distance(gx.mean, gx.cov, gy.mean, gy.cov)
    assert fid(x, y) == ref
    assert fid(gx, (gy.mean, gy.cov)) == ref
    assert frechet_distance(gx, gy) == ref
    res = frechet_distance(gx, gy, return_diagnostics=True)
    assert (res.diagnostics["n1"], res.diagnostics["n2"]) == (40, 30)
    torch = pytest.importorskip("torch")
    assert fid(torch.from_numpy(x), torch.from_numpy(y)) == ref


def test_diagnostics_and_warnings():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(1024, 16))
    y = rng.normal(size=(12, 16))
    y[:, 3] = 1.0  # a constant feature
    res = fid(x[:60], y, return_diagnostics=True)
    assert isinstance(res, FrechetResult) and float(res) == res.value == res.exact_value
    d = res.diagnostics
    assert d["n1"] == 60 and d["n2"] == 12 and d["dim"] == 16
    assert d["rank2"] == 11 and d["numerical_rank2"] == 11 and d["zero_variance_features2"] == 1
    assert d["condition_number2"] == math.inf and len(d["smallest_eigenvalues1"]) == 5
    assert d["mean_term"] + d["trace_term"] == pytest.approx(res.value, rel=1e-14)
    text = " ".join(res.warnings)
    assert "12 samples for 16-d features: the covariance is singular" in text
    assert "60 samples for 16-d features: the covariance estimate is noisy" in text
    assert "1 feature(s) have zero variance" in text
    json.dumps(res.to_dict())
    assert res.to_dict()["diagnostics"]["condition_number2"] == "inf"
    with pytest.warns(F.FrechetWarning) as record:
        value = fid(x[:60], y, warn=True)
    expected = fid(x[:60], y, return_diagnostics=True, reference_check=False).warnings
    assert [str(r.message) for r in record] == expected and any("12 samples" in m for m in expected)
    assert value == res.value
    big = fid(x, rng.normal(size=(1024, 16)), return_diagnostics=True, reference_check=False)
    assert big.warnings == [] and big.reference_value is None and "reference_value" not in big.diagnostics
    msgs = fid(rng.normal(size=(1024, 512))[:, :300], rng.normal(size=(1024, 300)), return_diagnostics=True,
               reference_check=False).warnings
    assert any("1,024 samples for 300-d features: the covariance estimate is noisy" in m for m in msgs)


# ----------------------------------------------------------------------------- properties
@st.composite
def statistics(draw):
    d = draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(2):
        r = draw(st.integers(0, d + 2))
        scale = 10.0 ** draw(st.integers(-8, 8))
        g = rng.normal(size=(d, r)) * scale
        if draw(st.booleans()):
            g[rng.integers(0, d)] = 0.0  # a zero-variance feature
        s = g @ g.T
        mu = rng.normal(size=d) * 10.0 ** draw(st.integers(-4, 4))
        out += [mu, s]
    return out


@settings(max_examples=60, deadline=None)
@given(statistics())
def test_never_fails_on_finite_input(stats):
    mu1, s1, mu2, s2 = stats
    for method in METHODS_EXACT:
        v = frechet_distance(mu1, s1, mu2, s2, method=method)
        assert math.isfinite(v) and v >= 0.0
    res = frechet_distance(mu1, s1, mu2, s2, method="reference", return_diagnostics=True)
    assert math.isfinite(res.exact_value) and res.exact_value >= 0.0
    assert res.exact_value == pytest.approx(frechet_distance(mu1, s1, mu2, s2), rel=0)
    dm, t1, t2 = float(np.sum((mu1 - mu2) ** 2)), float(np.trace(s1)), float(np.trace(s2))
    # |dmu|^2 + (sqrt(tr S1) - sqrt(tr S2))^2 <= FID <= |dmu|^2 + tr S1 + tr S2 (Bures = min_U ||A - B U||_F^2)
    upper, lower = dm + t1 + t2, dm + (math.sqrt(t1) - math.sqrt(t2)) ** 2
    assert lower * (1 - 1e-9) - 1e-300 <= res.exact_value <= upper * (1 + 1e-12) + 1e-300


# ----------------------------------------------------------------------------- decaying spectra, extreme scales
def decaying_features(rng, n: int, d: int, change: float = 0.05):
    """``x = z A^T`` with column scales k^-0.4 (a realistic, decaying embedding spectrum); a second set whose
    mixing matrix differs by ``change`` relative."""
    a = rng.normal(size=(d, d)) * np.arange(1, d + 1) ** -0.4
    a2 = a * (1 + change * rng.normal(size=a.shape))
    return rng.normal(size=(n, d)) @ a.T, rng.normal(size=(n, d)) @ a2.T


def test_decaying_spectrum_takes_the_nuclear_route_and_matches_mpmath():
    rng = np.random.default_rng(11)
    # tiny eigenvalues (condition ~1e8): square roots of computed eigenvalues are useless there
    s1 = random_psd(rng, 12, cond=1e8)
    s2 = random_psd(rng, 12, cond=1e7)
    mu1, mu2 = rng.normal(size=12), rng.normal(size=12)
    res = frechet_distance(mu1, s1, mu2, s2, return_diagnostics=True, reference_check=False)
    assert res.diagnostics["route"] == "nuclear"
    truth = mp_frechet(mu1, s1, mu2, s2)
    assert res.value == pytest.approx(truth, rel=1e-12)
    assert abs(res.value - truth) <= res.diagnostics["error_bound"] + 1e-15 * truth  # the bound holds


def test_decaying_features_nuclear_route_agrees_with_procrustes():
    x, y = decaying_features(np.random.default_rng(3), 256, 96)
    res = fid(x, y, return_diagnostics=True, reference_check=False)
    assert res.diagnostics["route"] == "nuclear"
    assert res.value == pytest.approx(fid(x, y, method="procrustes"), rel=1e-12)
    assert res.diagnostics["error_bound"] <= F.EIGEN_ROUTE_RTOL * res.value


def test_nuclear_route_against_mpmath_on_decaying_statistics():
    x, y = decaying_features(np.random.default_rng(8), 40, 10)
    s1, s2 = gaussian_stats(x), gaussian_stats(y)
    truth = mp_frechet(s1.mean, s1.cov, s2.mean, s2.cov)
    fa, fb = F._factor(s1.cov, "a"), F._factor(s2.cov, "b")
    bures, bound = F._bures_nuclear(fa, fb)
    mean_term = float(np.sum((s1.mean - s2.mean) ** 2))
    assert mean_term + bures == pytest.approx(truth, rel=1e-12)
    assert abs(mean_term + bures - truth) <= bound + 1e-15 * truth


@pytest.mark.parametrize("scale", [2.0 ** -515, 1e-155, 1e-150, 2.0 ** 400, 1e120])
def test_fid_of_features_is_scale_equivariant(scale):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(300, 6)), rng.normal(size=(250, 6)) * 1.1 + 0.2
    base = fid(x, y)
    got = fid(x * scale, y * scale, return_diagnostics=True, reference_check=False)
    assert got.value == pytest.approx(base * scale * scale, rel=1e-12)
    assert got.diagnostics["trace1"] == pytest.approx(np.trace(np.cov(x, rowvar=False)) * scale * scale, rel=1e-12)
    assert got.diagnostics["largest_eigenvalue1"] == pytest.approx(
        np.linalg.eigvalsh(np.cov(x, rowvar=False))[-1] * scale * scale, rel=1e-10)


def test_fid_tiny_scales_never_raise_and_underflow_only_to_the_nearest_double():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(100, 5)), rng.normal(size=(100, 5)) + 0.3
    base = fid(x, y)
    for s in (1e-155, 1e-160, 1e-310):
        for method in ("exact", "procrustes", "reference"):
            v = fid(x * s, y * s, method=method)
            assert math.isfinite(v) and v >= 0.0
        v = fid(x * s, y * s)
        # the true value base*s^2 rounded to float64 (subnormal or zero): within one subnormal spacing
        assert abs(v - base * s * s) <= 2 * 5e-324 + 1e-12 * base * s * s
    # covariances at 1e-310 with means of order 1: no OverflowError, the mean term dominates exactly
    c = np.cov(x, rowvar=False) * 1e-310
    assert frechet_distance(np.ones(5), c, np.zeros(5), c * 2) == pytest.approx(5.0, rel=1e-15)


def test_fid_overflow_is_refused_by_name():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(50, 4)), rng.normal(size=(50, 4)) + 1.0
    with pytest.raises(ValueError, match="overflows float64.*about"):
        fid(x * 1e200, y * 1e200)
    with pytest.raises(ValueError, match="real numbers"):
        fid(x + 0j, y)


def test_fid_of_features_equals_fid_of_gaussian_stats():
    rng = np.random.default_rng(10)
    x, y = decaying_features(rng, 300, 40)
    a = fid(x.astype(np.float32), y.astype(np.float32))
    b = frechet_distance(gaussian_stats(x.astype(np.float32)), gaussian_stats(y.astype(np.float32)))
    assert a == pytest.approx(b, rel=1e-12)


def test_complex_reference_root_is_no_warning_under_the_exact_method(metrics_ref):
    """A complex sqrtm whose real part gives the exact value is noise when the user asked for the exact FID
    (it stays in the diagnostics); with method="reference" it is reported."""
    m = metrics_ref
    args = (m["gt_mu"], m["gt_cov"], m["gen_mu"], m["gen_cov"])
    exact = frechet_distance(*args, return_diagnostics=True)
    assert exact.diagnostics["reference_complex"] and exact.diagnostics["reference_max_imag"] > 0
    assert abs(exact.reference_value - exact.value) <= 1e-6 * exact.value
    assert not any("came back complex" in w for w in exact.warnings)
    ref = frechet_distance(*args, method="reference", return_diagnostics=True)
    assert any("came back complex" in w for w in ref.warnings)


@pytest.mark.parametrize("ref_value,warned", [(1.0 + 5e-7, False), (1.0 + 5e-4, True)])
def test_complex_reference_root_warns_under_exact_only_when_the_value_moves(ref_value, warned):
    from motioneval.metrics.frechet import _warnings

    ref = {"value": ref_value, "error": None, "would_raise": False, "used_eps_retry": False, "complex": True,
           "max_imag": 1e-8, "max_imag_diag": 1e-9, "nonfinite_after_retry": False}
    diag = {"rank1": 4, "rank2": 4, "zero_variance_features1": 0, "zero_variance_features2": 0}
    msgs = _warnings({"value": 1.0}, ref, diag, (None, None), 4, "exact")
    assert any("came back complex" in m for m in msgs) is warned
    assert any("came back complex" in m for m in _warnings({"value": 1.0}, ref, diag, (None, None), 4, "reference"))


def test_a_reference_value_within_rounding_of_the_exact_one_is_no_warning():
    """Identical statistics: the reference route returns a -1e-14-scale number. Under the exact method that is
    rounding (kept in the diagnostics, no warning); under method="reference" the returned value itself is
    negative, which is worth saying. Doctor's reference-risk verdict follows the same rule."""
    from motioneval.diagnostics.fid_reliability import reference_risk

    x = np.random.default_rng(0).standard_normal((300, 64))
    mu, sigma = x.mean(axis=0), np.cov(x, rowvar=False)
    exact = frechet_distance(mu, sigma, mu, sigma, return_diagnostics=True)
    assert exact.value == 0.0 and exact.reference_value is not None and exact.reference_value < 0
    assert not [w for w in exact.warnings if "negative" in w]
    ref = frechet_distance(mu, sigma, mu, sigma, method="reference", return_diagnostics=True)
    assert ref.value < 0 and [w for w in ref.warnings if "negative" in w]
    assert reference_risk({"reference_value": exact.reference_value}, 0.0) == ("", "")
    assert reference_risk({"reference_value": -0.5}, 0.0)[1] == "inaccurate"
    assert reference_risk({"reference_value": 1.01}, 1.0)[1] == "inaccurate"
