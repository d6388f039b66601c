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
    try:
        from ..metrics.frechet import frechet_distance
        from ..metrics.stats import gaussian_stats
    except ImportError:  # the FID module is not available in this build
        return [Finding("fid_reliability", "info", "FID diagnostics unavailable",
                        "motioneval.metrics.frechet could not be imported.")]
    gen = gaussian_stats(emb)
    gt = gt_stats if gt_stats is not None else gaussian_stats(np.asarray(gt_emb, dtype=np.float64))
    result = frechet_distance(gt, gen, return_diagnostics=True)
    diag = _as_dict(getattr(result, "diagnostics", None) or result)
    value = float(getattr(result, "value", np.nan))
    risk = _reference_risk(diag)
    numbers = {"fid": value} | {k: v for k, v in diag.items() if isinstance(v, (int, float, str, bool))}
    if risk:
        return [Finding(
            "fid_reliability", "warning", "the reference FID implementation would be unreliable here",
            f"On these statistics the reference algorithm (scipy sqrtm of the non-symmetric covariance product) "
            f"{risk}. motioneval's FID ({value:.4g}) uses a symmetric route that stays real and exact; numbers "
            f"from the reference code on the same samples may differ or crash.",
            "Report motioneval's value and say so; do not compare against a crashed or patched reference run.",
            numbers=numbers)]
    return [Finding("fid_reliability", "ok", "the reference FID implementation is safe on these statistics",
                    f"FID = {value:.4g}; the reference algorithm would agree.", numbers=numbers)]


def _as_dict(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return dict(obj)
    if hasattr(obj, "to_dict"):
        return dict(obj.to_dict())
    if hasattr(obj, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(obj)
    return {}


def _reference_risk(diag: dict[str, Any]) -> str:
    """Plain-words failure mode of the reference algorithm from FID diagnostics ('' if none)."""
    if diag.get("reference_would_raise") or diag.get("reference_fails"):
        return "raises 'Imaginary component' (the largest imaginary diagonal part exceeds 1e-3)"
    if diag.get("reference_nonfinite") or diag.get("reference_retry"):
        return "produces non-finite values and retries with 1e-6 added to the diagonals"
    imag = diag.get("reference_max_imag_diag", diag.get("max_imag_diag"))
    if isinstance(imag, (int, float)) and imag > 1e-3:
        return f"produces imaginary parts up to {imag:.3g} on the diagonal and raises"
    if diag.get("rank_deficient") or diag.get("singular"):
        return "takes its complex branch on a singular covariance and keeps only the real part"
    return ""
