"""Is an FID on these samples reliable? Sample count against dimension, numerical rank, reference failure risk.

- The sample covariance of ``N`` embeddings in ``d`` dimensions has rank at most ``N - 1``; with ``N <= d``
  it is singular, the reference's ``sqrtm(S1 @ S2)`` takes its complex branch and may raise "Imaginary
  component", and FID's bias (about ``c / N``) makes values incomparable across sample counts.
- The numerical rank counts covariance eigenvalues above ``max_eig * d * eps(float64)``; far below
  ``min(N - 1, d)`` means nearly collinear embeddings (duplicates, collapse, a dead evaluator dimension).
- With ground-truth statistics as well, :func:`motioneval.metrics.frechet.frechet_distance` reports its
  diagnostics, including whether the reference algorithm would fail on this pair of statistics.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..metrics.frechet import reference_agrees
from .findings import Finding


def count_finding(n: int, dim: int, *, what: str = "generated samples") -> Finding:
    """Samples against embedding dimension, before any embedding is computed."""
    numbers = {"samples": n, "dimension": dim, "max_rank": max(n - 1, 0)}
    if n <= dim:
        return Finding(
            "fid_reliability", "warning", f"only {n} {what} for a {dim}-dimensional FID",
            f"The covariance of {n} embeddings has rank at most {n - 1} < {dim}, so it is singular. The reference "
            f"implementation (scipy sqrtm of the covariance product) then produces complex values and can fail "
            f"with 'Imaginary component'; motioneval's FID stays exact, but FID is biased upwards by roughly "
            f"c / N, so the value is not comparable with FIDs computed on more samples.",
            f"Evaluate at least {dim + 1} samples (the protocol uses the whole test set, or 1,024 for MDM).",
            numbers=numbers)
    if n < 2 * dim:
        return Finding(
            "fid_reliability", "info", f"{n} {what} for a {dim}-dimensional FID",
            f"Enough for a full-rank covariance, but FID's small-sample bias (about c / N) is noticeable below "
            f"~{2 * dim} samples; compare FIDs only at equal sample counts.", numbers=numbers)
    return Finding("fid_reliability", "ok", f"{n} {what} for a {dim}-dimensional FID",
                   "Enough samples for a full-rank covariance.", numbers=numbers)


def numerical_rank(cov: np.ndarray) -> tuple[int, np.ndarray]:
    """Rank of a symmetric PSD matrix by eigenvalues above ``max_eig * d * eps``; returns (rank, eigenvalues)."""
    eig = np.linalg.eigvalsh((cov + cov.T) / 2.0)
    tol = max(float(eig.max()), 0.0) * cov.shape[0] * np.finfo(np.float64).eps
    return int((eig > tol).sum()), eig


def embedding_findings(emb: np.ndarray, *, gt_emb: np.ndarray | None = None,
                       gt_stats: Any = None) -> list[Finding]:
    """Rank of the generated covariance and, with ground truth, the FID's own diagnostics."""
    emb = np.asarray(emb, dtype=np.float64)
    n, d = emb.shape
    findings = []
    cov = np.cov(emb, rowvar=False) if n > 1 else np.zeros((d, d))
    rank, eig = numerical_rank(cov)
    full = min(n - 1, d)
    numbers = {"rank": rank, "max_possible_rank": full, "dimension": d,
               "condition_number": float(eig.max() / eig[eig > 0].min()) if (eig > 0).any() else float("inf")}
    if rank < full * 0.9:
        findings.append(Finding(
            "fid_reliability", "warning", f"embedding covariance has numerical rank {rank} of {full}",
            "The motion embeddings are nearly collinear (duplicated or collapsed samples, or constant evaluator "
            "dimensions). The covariance square root in FID is ill-conditioned, and the reference implementation "
            "is likely to fail or lose accuracy.",
            "Look at the collapse findings; make sure samples are generated independently.", numbers=numbers))
    else:
        findings.append(Finding("fid_reliability", "ok", f"embedding covariance has numerical rank {rank} of {full}",
                                "The embeddings span as many directions as the sample count allows.",
                                numbers=numbers))
    if gt_emb is not None or gt_stats is not None:
        findings.extend(_frechet_findings(emb, gt_emb, gt_stats))
    return findings


def _frechet_findings(emb: np.ndarray, gt_emb: np.ndarray | None, gt_stats: Any) -> list[Finding]:
    from ..metrics.frechet import frechet_distance
    from ..metrics.stats import GaussianStats, gaussian_stats

    gen = gaussian_stats(emb)
    gt = gt_stats if isinstance(gt_stats, GaussianStats) else gaussian_stats(np.asarray(gt_emb, dtype=np.float64))
    result = frechet_distance(gt, gen, return_diagnostics=True, reference_check=True)
    diag = result.diagnostics
    value = float(result.exact_value)
    keys = ("exact_value", "reference_value", "reference_abs_diff", "route", "rank1", "rank2",
            "reference_would_raise", "reference_used_eps_retry", "reference_complex", "reference_max_imag_diag")
    numbers = {k: diag[k] for k in keys if k in diag}
    risk, level = reference_risk(diag, value)
    notes = " ".join(result.warnings)
    if risk:
        severe = level != "minor"
        return [Finding(
            "fid_reliability", "warning" if severe else "info",
            {"crash": "the reference FID implementation would fail here",
             "inaccurate": "the reference FID implementation is inaccurate here",
             "minor": "the reference FID implementation is slightly inexact here"}[level],
            f"Against the ground-truth statistics, the reference algorithm (scipy sqrtm of the non-symmetric "
            f"covariance product) {risk}. motioneval's exact FID is {value:.6g}; numbers from the reference code on "
            f"these samples would crash or differ. {notes}".strip(),
            "Report motioneval's exact value and say which implementation produced it; do not compare against a "
            "crashed or silently patched reference run." if severe else "",
            numbers=numbers)]
    return [Finding("fid_reliability", "ok", "the reference FID implementation agrees on these statistics",
                    f"FID against the ground truth = {value:.6g}; the reference algorithm gives the same value "
                    f"(difference {diag.get('reference_abs_diff', 0.0):.2g}).", numbers=numbers)]


def reference_risk(diag: dict[str, Any], exact: float) -> tuple[str, str]:
    """Plain-words failure mode of the reference algorithm from FID diagnostics and its level: ``"crash"``
    (raises or returns a non-finite value), ``"inaccurate"`` (off by more than 0.1%, or negative), ``"minor"``
    (complex branch, off by more than 1e-6 relative); ``("", "")`` when it agrees with the exact value."""
    if diag.get("reference_would_raise"):
        return (f"raises 'Imaginary component' (imaginary diagonal parts up to "
                f"{diag.get('reference_max_imag_diag', float('nan')):.3g} > 1e-3)", "crash")
    if diag.get("reference_error"):
        return f"fails ({diag['reference_error']})", "crash"
    ref = diag.get("reference_value")
    if diag.get("reference_nonfinite_after_retry") or (isinstance(ref, float) and not np.isfinite(ref)):
        return "returns a non-finite value even after adding 1e-6 to the diagonals", "crash"
    rel = abs(ref - exact) / max(abs(exact), 1e-12) if isinstance(ref, float) else 0.0
    retry = ("produces non-finite values, retries with 1e-6 added to the diagonals and then "
             if diag.get("reference_used_eps_retry") else "")
    if isinstance(ref, float) and not reference_agrees(ref, exact):  # beyond rounding of the exact value
        if ref < 0:
            return f"{retry}returns a negative value ({ref:.3g}), which a distance cannot be", "inaccurate"
        if rel > 1e-3:
            return f"{retry}differs from the exact value by {rel:.2%} ({ref:.6g})", "inaccurate"
    if retry:
        return f"{retry}agrees within {rel:.2g}", "minor"
    if diag.get("reference_complex") and rel > 1e-6:
        return f"takes its complex branch and keeps the real part (relative error {rel:.2g})", "minor"
    return "", ""
