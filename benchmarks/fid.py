"""Benchmark: Fréchet distance from given statistics — speed and accuracy in one run.

Three algorithms on the same statistics, interleaved so they share the machine's load:

- ``ours``     ``motioneval.frechet_distance`` (default ``method="exact"``);
- ``sqrtm``    the reference code's route: ``scipy.linalg.sqrtm(S1 @ S2)``, retry with 1e-6 on the diagonals
               if not finite, real part (what pytorch-fid, clean-fid and the motion repositories do);
- ``eigvals``  general eigenvalues of ``S1 @ S2``, ``sum(real(sqrt(eigenvalues)))`` (torchmetrics /
               torch-fidelity style).

Speed: D in {512, 2048}, four kinds of statistics, N = 2048 samples per side unless said otherwise:

- ``decaying``: ``x = z A^T`` with Gaussian ``A`` whose column scales are ``k^-0.4`` (a realistic evaluator
  embedding spectrum; the eigenvalues of ``S1 S2`` span ~16 decades), second set from ``A * (1 + 0.05 G)``;
- ``flat``: white features, second set with per-feature scales ``1 + 0.05 g``;
- ``rank-deficient``: as ``decaying`` with N = D/2 samples (rank D/2 - 1);
- ``low-rank + diagonal``: rank-16 plus diagonal Gaussians, N = 2D (as the fixtures).

Median wall time per call, the ratio sqrtm / ours and the route ours took. ``ours (procrustes)`` times the
cancellation-free route that close pairs take.

Accuracy: covariances whose FID is known exactly (all arithmetic exact in float64): ``S1 = k^2 H``,
``S2 = (kI + R) H (kI + R)`` with integer ``H = G G^T`` and integer symmetric ``R``, so that
``FID = tr(R H R)``. Cases: well-conditioned, near-identical (FID / traces down to 1e-10),
rank-deficient (N < D), ill-conditioned, scaled by 2^40 (~1.1e12) and features whose variances differ by
2^40 (two blocks). Relative error against the exact value; exceptions, negative and NaN values are counted.

Usage: ``python benchmarks/fid.py [--threads N] [--quick] [--sizes 512,2048]``. ``--threads`` (default 1) fixes
the BLAS thread count before numpy loads (and through threadpoolctl when it is installed), so that ratios are
stable on a shared machine; 0 keeps the library default.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--threads", type=int, default=1, help="BLAS threads (0: library default); default 1")
parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats (smoke test)")
parser.add_argument("--sizes", default=None, help="comma-separated D values (default 512,2048; quick: 128,256)")
parser.add_argument("--no-accuracy", action="store_true", help="skip the accuracy table")
ARGS = parser.parse_args()
if ARGS.threads > 0:
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

import warnings  # noqa: E402
from contextlib import nullcontext  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402

from motioneval import frechet_distance  # noqa: E402
from motioneval.metrics.frechet import _sqrtm  # noqa: E402  (sqrtm without the removed/printing `disp`)

try:  # pin BLAS threads also where the environment variables came too late (already-loaded libraries)
    from threadpoolctl import threadpool_limits  # noqa: E402
except ImportError:  # pragma: no cover - optional
    threadpool_limits = None


# ----------------------------------------------------------------------------- the competing algorithms
def ref_sqrtm(mu1, s1, mu2, s2, eps=1e-6):
    diff = mu1 - mu2
    covmean = _sqrtm(s1.dot(s2))
    if not np.isfinite(covmean).all():
        offset = np.eye(s1.shape[0]) * eps
        covmean = _sqrtm((s1 + offset).dot(s2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"Imaginary component {np.max(np.abs(covmean.imag))}")
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def ref_eigvals(mu1, s1, mu2, s2):
    diff = mu1 - mu2
    ev = np.linalg.eigvals(s1 @ s2)
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(ev.astype(complex)).real.sum())


def ours(mu1, s1, mu2, s2):
    return frechet_distance(mu1, s1, mu2, s2)


def ours_procrustes(mu1, s1, mu2, s2):
    return frechet_distance(mu1, s1, mu2, s2, method="procrustes")


SPEED = {"ours": ours, "ours (procrustes)": ours_procrustes, "sqrtm": ref_sqrtm, "eigvals": ref_eigvals}
ACCURACY = {"ours": ours, "sqrtm": ref_sqrtm, "eigvals": ref_eigvals}


# ----------------------------------------------------------------------------- inputs
def _stats(x, y):
    return x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False)


def typical_stats(d, seed=0):
    """GT and generated statistics: low-rank (16) plus diagonal Gaussians, N = 2D samples each."""
    rng = np.random.default_rng(seed)
    a = 0.25 * rng.standard_normal((d, 16))
    diag = rng.uniform(0.05, 0.15, d)
    mu = 0.3 * rng.standard_normal(d)

    def sample(a, diag, mu, n):
        return mu + rng.standard_normal((n, 16)) @ a.T + np.sqrt(diag) * rng.standard_normal((n, d))

    x = sample(a, diag, mu, 2 * d)
    y = sample(a + 0.05 * rng.standard_normal(a.shape), diag * rng.uniform(0.8, 1.25, d),
               mu + 0.05 * rng.standard_normal(d), 2 * d)
    return _stats(x, y)


def decaying_stats(d, n=2048, seed=0):
    """``x = z A^T``, Gaussian A with column scales k^-0.4; the second set's A differs by 5% (relative)."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((d, d)) * np.arange(1, d + 1) ** -0.4
    a2 = a * (1 + 0.05 * rng.standard_normal(a.shape))
    return _stats(rng.standard_normal((n, d)) @ a.T, rng.standard_normal((n, d)) @ a2.T)


def flat_stats(d, n=2048, seed=0):
    rng = np.random.default_rng(seed)
    return _stats(rng.standard_normal((n, d)), rng.standard_normal((n, d)) * (1 + 0.05 * rng.standard_normal(d)))


SPECTRA = {
    "decaying": decaying_stats,
    "flat": flat_stats,
    "rank-deficient": lambda d: decaying_stats(d, n=d // 2),
    "low-rank + diagonal": typical_stats,
}


def exact_case(d, rank, k, *, entries=3, col_scale_log2=0, seed=0, density=0.05):
    """(S1, S2, exact FID) with S2 = T S1 T, T = I + R/k; every number exact in float64."""
    rng = np.random.default_rng(seed)
    g = rng.integers(-entries, entries + 1, size=(d, rank)).astype(np.int64)
    g *= (2 ** rng.integers(0, col_scale_log2 + 1, size=rank)).astype(np.int64)[None, :]
    h = g @ g.T
    r = np.triu(rng.integers(-1, 2, size=(d, d)) * (rng.random((d, d)) < density))
    r = (r + r.T - np.diag(np.diag(r))).astype(np.int64)
    k = max(k, int(np.ceil(np.abs(np.linalg.eigvalsh(r.astype(float))).max())) + 1)
    t = k * np.eye(d, dtype=np.int64) + r
    s1, s2 = k * k * h, t @ h @ t
    assert max(np.abs(s1).max(), np.abs(s2).max()) < 2 ** 53, "not exactly representable"
    return s1.astype(float), s2.astype(float), int(np.trace(r @ h @ r))


def disparity_case(d, seed=0):
    """Two feature blocks whose variances differ by 2^40: FID = 2^40 FID_a + FID_b, exactly."""
    h = d // 2
    s1a, s2a, fa = exact_case(h, h, 3, entries=1, seed=seed)
    s1b, s2b, fb = exact_case(d - h, d - h, 3, entries=1, seed=seed + 1)
    z = np.zeros((h, d - h))
    big = 2.0 ** 40
    s1 = np.block([[s1a * big, z], [z.T, s1b]])
    s2 = np.block([[s2a * big, z], [z.T, s2b]])
    q = np.random.default_rng(seed).permutation(d)  # interleave the two kinds of features
    return s1[np.ix_(q, q)], s2[np.ix_(q, q)], fa * 2 ** 40 + fb


def accuracy_cases(d):
    cases = {
        "well-conditioned": exact_case(d, 4 * d, 3),
        "moderate (FID/tr 1e-3)": exact_case(d, 4 * d, 40),
        "near-identical (FID/tr 1e-6)": exact_case(d, 4 * d, 1000),
        "near-identical (FID/tr 1e-10)": exact_case(d, d, 100000),
        "rank-deficient (rank D/4)": exact_case(d, d // 4, 30),
        "rank-deficient, near-identical": exact_case(d, d // 4, 1000),
        "ill-conditioned (col. scales 2^0..2^10)": exact_case(d, d, 30, col_scale_log2=10),
        "feature variances differ by 2^40": disparity_case(d),
    }
    s1, s2, f = cases["well-conditioned"]
    cases["scaled by 2^40 (~1.1e12)"] = (s1 * 2.0 ** 40, s2 * 2.0 ** 40, f * 2 ** 40)
    return cases


# ----------------------------------------------------------------------------- runs
def timeit(fn, args, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t0)
    return times


def run_speed(sizes, repeats):
    print("\n## Speed (median seconds per call; ratio = sqrtm time / ours)\n")
    print("| D | spectrum | ours | route | ours (procrustes) | sqrtm | eigvals | sqrtm / ours | eigvals / ours |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows = {}
    for fn in SPEED.values():  # warm-up (imports, BLAS buffers)
        fn(*typical_stats(32, seed=1))
    for d in sizes:
        for spectrum, make in SPECTRA.items():
            args = make(d)
            times = {k: [] for k in SPEED}
            for round_ in range(repeats[d]):
                names = list(SPEED)
                names = names[round_ % len(names):] + names[:round_ % len(names)]  # rotate the order
                for k in names:
                    times[k] += timeit(SPEED[k], args, 1)
            med = {k: float(np.median(v)) for k, v in times.items()}
            route = frechet_distance(*args, return_diagnostics=True, reference_check=False).diagnostics["route"]
            rows[(d, spectrum)] = med
            print(f"| {d} | {spectrum} | {med['ours']:.4f} | {route} | {med['ours (procrustes)']:.4f} | "
                  f"{med['sqrtm']:.4f} | {med['eigvals']:.4f} | **{med['sqrtm'] / med['ours']:.1f}x** | "
                  f"{med['eigvals'] / med['ours']:.1f}x |", flush=True)
    return rows


def run_accuracy(d):
    print(f"\n## Accuracy at D = {d} (relative error against the exact value; 'raised' = exception)\n")
    print("| case | FID / (tr S1 + tr S2) | ours | ours route | sqrtm | eigvals |")
    print("|---|---|---|---|---|---|")
    worst = {k: {"well": 0.0, "hard": 0.0} for k in ACCURACY}
    failures = {k: {"raised": 0, "negative": 0, "nan": 0} for k in ACCURACY}
    for name, (s1, s2, exact) in accuracy_cases(d).items():
        zero = np.zeros(d)
        cells = []
        for k, fn in ACCURACY.items():
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    v = fn(zero, s1, zero, s2)
            except Exception as exc:  # noqa: BLE001 - counting failures is the point
                failures[k]["raised"] += 1
                cells.append(f"raised {type(exc).__name__}")
                continue
            if np.isnan(v):
                failures[k]["nan"] += 1
                cells.append("NaN")
                continue
            if v < 0:
                failures[k]["negative"] += 1
            err = abs(v - exact) / exact
            kind = "well" if name in ("well-conditioned", "moderate (FID/tr 1e-3)") else "hard"
            worst[k][kind] = max(worst[k][kind], err)
            cells.append(f"{err:.1e}" + (" (negative)" if v < 0 else ""))
        route = frechet_distance(np.zeros(d), s1, np.zeros(d), s2, return_diagnostics=True,
                                 reference_check=False).diagnostics["route"]
        ratio = exact / (np.trace(s1) + np.trace(s2))
        print(f"| {name} | {ratio:.1e} | {cells[0]} | {route} | {cells[1]} | {cells[2]} |", flush=True)
    return worst, failures


def main():
    if ARGS.sizes:
        sizes = [int(v) for v in ARGS.sizes.split(",")]
    else:
        sizes = [128, 256] if ARGS.quick else [512, 2048]
    repeats = {d: (3 if ARGS.quick else (5 if d <= 512 else 2)) for d in sizes}
    acc_d = 64 if ARGS.quick else 256
    print(f"# FID benchmark  (numpy {np.__version__}, scipy {scipy.__version__}, "
          f"BLAS threads {ARGS.threads if ARGS.threads > 0 else 'default'}"
          f"{' (threadpoolctl)' if threadpool_limits and ARGS.threads > 0 else ''}, {os.cpu_count()} CPUs)")
    t0 = time.perf_counter()
    limit = threadpool_limits(ARGS.threads) if threadpool_limits and ARGS.threads > 0 else nullcontext()
    with limit:
        speed = run_speed(sizes, repeats)
        worst, failures = run_accuracy(acc_d) if not ARGS.no_accuracy else (None, None)
    print("\n## Summary\n")
    for (d, spectrum), med in speed.items():
        r = med["sqrtm"] / med["ours"]
        print(f"- D = {d}, {spectrum}: ours is {r:.1f}x faster than sqrtm (target >= 3x: "
              f"{'met' if r >= 3 else 'NOT met'}; goal 5x: {'met' if r >= 5 else 'not met'})")
    if worst is not None:
        w = worst["ours"]
        print(f"- ours: worst relative error {w['well']:.1e} on well-conditioned cases (target <= 1e-10: "
              f"{'met' if w['well'] <= 1e-10 else 'NOT met'}), {w['hard']:.1e} on hard cases (target <= 1e-10: "
              f"{'met' if w['hard'] <= 1e-10 else 'NOT met'})")
        for k in ACCURACY:
            f = failures[k]
            print(f"- {k}: {f['raised']} exceptions, {f['negative']} negative, {f['nan']} NaN; worst relative "
                  f"error {worst[k]['well']:.1e} (well-conditioned), {worst[k]['hard']:.1e} (hard)")
    print(f"\ntotal time {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
