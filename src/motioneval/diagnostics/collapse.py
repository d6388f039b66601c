"""Mode collapse: near-duplicate samples and diversity far below the ground truth's.

Each sample is summarized by a fixed-length *descriptor*. Without an evaluator it is the motion's features
in dataset standard-deviation units (``z = (raw - Mean) / Std``) at ``K = 16`` evenly spaced instants of its
length, flattened. Two independent draws from the data distribution then differ by an RMS of
``sqrt(2 * mean_d var_d(z)) ~ sqrt(2)`` per coordinate (each ``z`` coordinate has unit variance over the
dataset), which is the ground-truth reference when no ground-truth clips are at hand. With an evaluator the
descriptors are the motion embeddings and the reference is the ground truth's embedding diversity.

- *diversity ratio*: mean RMS distance between random sample pairs over the reference's;
- *near duplicates*: pairs closer than ``0.02 x`` the reference distance (screened with a Gaussian random
  projection when there are many samples, then checked exactly); bit-identical rows are counted apart.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .findings import Finding

DESCRIPTOR_INSTANTS = 16
#: near-duplicate: closer than this fraction of the reference distance. Independent procedural demo clips of
#: one class and similar length come no closer than ~0.04 (the 1st percentile of nearest neighbours: 0.07)
NEAR_DUPLICATE_FRACTION = 0.02
_EXACT_WORK = 3e8  # all pairs are compared exactly while N * N * D stays below this


def instant_positions(lengths: np.ndarray, t_max: int, instants: int = DESCRIPTOR_INSTANTS) -> np.ndarray:
    """``(N, instants)`` frame indices evenly spaced over each sample's length (first and last frame included)."""
    lens = np.clip(np.asarray(lengths, dtype=np.int64), 1, t_max)
    return np.round(np.linspace(0.0, 1.0, instants)[None, :] * (lens[:, None] - 1)).astype(np.int64)


def time_descriptors(x: np.ndarray, lengths: np.ndarray, instants: int = DESCRIPTOR_INSTANTS, *,
                     scale: np.ndarray | float = 1.0, offset: np.ndarray | float = 0.0) -> np.ndarray:
    """``(N, instants * D)``: each sample's frames ``x * scale + offset`` at ``instants`` evenly spaced positions
    of its length (non-finite values become 0: such rows are excluded by the caller)."""
    n, t = x.shape[:2]
    pos = instant_positions(lengths, t, instants)
    frames = np.asarray(x[np.arange(n)[:, None], pos], dtype=np.float64) * scale + offset  # (N, K, ...)
    return np.where(np.isfinite(frames), frames, 0.0).reshape(n, -1)


def rms_pair_distances(x: np.ndarray, i: np.ndarray, j: np.ndarray, *, chunk: int = 512) -> np.ndarray:
    """RMS (per coordinate) Euclidean distances between rows ``x[i]`` and ``x[j]`` (in chunks of pairs)."""
    out = np.empty(len(i))
    for lo in range(0, len(i), chunk):
        diff = x[i[lo:lo + chunk]] - x[j[lo:lo + chunk]]
        out[lo:lo + chunk] = np.sqrt(np.mean(diff * diff, axis=1))
    return out


def mean_pair_distance(x: np.ndarray, rng: np.random.Generator, max_pairs: int = 3000) -> float:
    """Mean RMS distance over distinct pairs (all pairs if few, else ``max_pairs`` random ones)."""
    n = x.shape[0]
    if n < 2:
        return float("nan")
    if n * (n - 1) // 2 <= max_pairs:
        i, j = np.triu_indices(n, k=1)
    else:
        i = rng.integers(0, n, max_pairs)
        j = (i + rng.integers(1, n, max_pairs)) % n  # j != i
    return float(rms_pair_distances(x, i, j).mean())


def identical_pairs(x: np.ndarray) -> int:
    """Number of pairs of bit-identical rows (copied samples)."""
    rows = np.ascontiguousarray(x).view(np.dtype((np.void, x.dtype.itemsize * x.shape[1]))).ravel()
    _, counts = np.unique(rows, return_counts=True)
    return int((counts * (counts - 1) // 2).sum())


def near_duplicate_pairs(x: np.ndarray, threshold: float, rng: np.random.Generator,
                         max_verify: int = 200_000) -> tuple[np.ndarray, bool]:
    """``(pairs (P, 2) with i < j whose RMS distance is below threshold, exact)``.

    For small inputs (``N^2 D`` up to ``3e8``) all pairs come from the Gram matrix (exact up to rounding).
    Otherwise candidates come from a 256-d Gaussian random projection (Johnson-Lindenstrauss: distances kept
    within about ±25%) at twice the threshold and are checked exactly; when more than ``max_verify``
    candidates appear (a collapsed set), the projected distances at the threshold are used as they are and
    ``exact`` is False.
    """
    n, d = x.shape
    if n < 2:
        return np.empty((0, 2), np.int64), True
    x = x - x.mean(axis=0)
    projected = n * n * d > _EXACT_WORK and d > 256
    screen, limit = x, threshold
    if projected:
        screen = x @ (rng.standard_normal((d, 256)) / np.sqrt(256))
        limit = 2.0 * threshold
    sq = np.einsum("ij,ij->i", screen, screen)
    pairs, dists = [], []
    for lo in range(0, n, 512):
        blk = screen[lo:lo + 512]
        d2 = np.maximum(sq[lo:lo + 512, None] + sq[None, :] - 2.0 * blk @ screen.T, 0.0) / d
        ii, jj = np.nonzero(d2 < limit ** 2)
        keep = ii + lo < jj
        pairs.append(np.stack([ii[keep] + lo, jj[keep]], axis=1))
        dists.append(np.sqrt(d2[ii[keep], jj[keep]]))
    cand = np.concatenate(pairs)
    if not projected:
        return cand, True
    if len(cand) > max_verify:
        return cand[np.concatenate(dists) < threshold], False
    return cand[rms_pair_distances(x, cand[:, 0], cand[:, 1]) < threshold], True


def check_collapse(desc: np.ndarray, ids: Sequence[str], *, reference_distance: float, reference_source: str,
                   space: str, rng: np.random.Generator, num_repetitions: int = 1) -> list[Finding]:
    """Diversity ratio and near-duplicate findings for descriptors ``desc`` (rows: samples)."""
    n = desc.shape[0]
    if n < 3:
        return [Finding("collapse", "info", "too few samples to judge collapse", f"{n} usable sample(s).")]
    div = mean_pair_distance(desc, rng)
    ratio = div / reference_distance if reference_distance > 0 else float("nan")
    numbers = {"diversity": div, "reference": reference_distance, "ratio": ratio, "space": space,
               "reference_source": reference_source, "samples": n}
    findings = []
    if ratio < 0.2:
        findings.append(Finding(
            "collapse", "error", "samples have collapsed: almost no diversity",
            f"Random pairs of samples differ by {div:.3g} on average in {space}, {ratio:.1%} of the ground "
            f"truth's {reference_distance:.3g} ({reference_source}). The generator produces nearly the same "
            f"motion for every caption; FID and Diversity will be very poor and R-precision near chance.",
            "Check the sampling code (noise seeding, classifier-free guidance scale, whether the caption reaches "
            "the model) and inspect a few samples with `motioneval render`.", numbers=numbers))
    elif ratio < 0.5:
        findings.append(Finding(
            "collapse", "warning", "diversity is much lower than the ground truth's",
            f"Random pairs of samples differ by {div:.3g} on average in {space}, {ratio:.1%} of the ground "
            f"truth's {reference_distance:.3g} ({reference_source}).",
            "Check for partial mode collapse (guidance scale too high, temperature too low).", numbers=numbers))
    else:
        findings.append(Finding("collapse", "ok", "diversity is comparable to the ground truth's",
                                f"Pairs differ by {div:.3g} on average in {space}, {ratio:.0%} of the reference "
                                f"{reference_distance:.3g} ({reference_source}).", numbers=numbers))
    threshold = NEAR_DUPLICATE_FRACTION * reference_distance
    pairs, verified = near_duplicate_pairs(desc, threshold, rng)
    involved = np.unique(pairs) if pairs.size else np.empty(0, np.int64)
    frac = involved.size / n
    exact = identical_pairs(desc)
    dup_numbers = {"near_duplicate_pairs": int(len(pairs)), "samples_involved": int(involved.size),
                   "fraction": frac, "identical_pairs": exact, "threshold": threshold, "space": space,
                   "counts_exact": verified}
    if pairs.size:
        dup_numbers["examples"] = [[ids[a], ids[b]] for a, b in pairs[:10]]
    if frac > 0.5 or (involved.size and frac > 0.02):
        severity = "error" if frac > 0.5 else "warning"
        rep = (" Repetitions of one caption (MultiModality) should differ too." if num_repetitions > 1 else "")
        findings.append(Finding(
            "collapse", severity, f"{involved.size} of {n} samples have a near-duplicate",
            f"{len(pairs)} pair(s) of samples differ by less than {threshold:.3g} ({NEAR_DUPLICATE_FRACTION:.0%} of "
            f"the ground-truth distance) in {space}" + (f"; {exact} pair(s) are identical (copied rows?)" if exact else "") + "."
            + rep,
            "Make sure each row is generated independently (fresh noise per sample) and rows are not copied.",
            numbers=dup_numbers, ids=[ids[int(i)] for i in involved]))
    else:
        findings.append(Finding("collapse", "ok", "no near-duplicate samples" if not involved.size else
                                f"{involved.size} sample(s) have a near-duplicate (few)",
                                (f"No two samples are closer than {threshold:.3g} ({NEAR_DUPLICATE_FRACTION:.0%} "
                                 f"of the ground-truth distance) in {space}." if not pairs.size else
                                 f"{len(pairs)} pair(s) closer than {threshold:.3g} in {space}."),
                                numbers=dup_numbers))
    return findings
