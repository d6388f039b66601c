"""TMR retrieval protocols against brute-force ranking, hand-made ties and near-duplicate captions."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from motioneval.metrics.frechet import fid
from motioneval.metrics.tmr_retrieval import (
    all_contrastive_metrics,
    cosine_similarity,
    guo_batches,
    guo_metrics,
    metrics_from_ranks,
    query_ranks,
    read_split,
    retrieval_metrics,
    subset_metrics,
    tmr_embedding_scores,
    tmr_protocols,
)


# ------------------------------------------------------------------------------------ brute force
def brute_ranks(sims: np.ndarray, near: np.ndarray | None = None) -> np.ndarray:
    """Sort each row by decreasing similarity; the ground truth's value is the best near-duplicate's (or the
    diagonal's); its rank is the mean of the sorted positions holding exactly that value."""
    n = sims.shape[0]
    out = np.empty(n)
    for i in range(n):
        row = [float(v) for v in sims[i]]
        cands = [j for j in range(n) if (near is None and j == i) or (near is not None and near[i][j])]
        target = max(row[j] for j in cands)
        ordered = sorted(row, reverse=True)
        positions = [p for p, v in enumerate(ordered) if v == target]
        out[i] = sum(positions) / len(positions)
    return out


def brute_metrics(ranks: np.ndarray) -> dict[str, float]:
    n = len(ranks)
    out = {f"R{k:02d}": 100.0 * sum(1 for r in ranks if r < k) / n for k in (1, 2, 3, 5, 10)}
    s = sorted(ranks)
    med = s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
    out["MedR"] = med + 1
    return out


def tied_sims(rng: np.random.Generator, n: int) -> np.ndarray:
    """Similarities on a coarse grid (many exact ties) with some identical rows and columns."""
    s = np.round(rng.uniform(-1, 1, (n, n)) * 4) / 4
    s[:, 3] = s[:, 1]  # duplicate candidate
    s[5] = s[2]  # duplicate query
    return s


# ------------------------------------------------------------------------------------ hand-made
def test_hand_made_ties():
    sims = np.array([[0.5, 0.5, 0.1],   # tied with one other at the top: rank 0.5 (an R@1 hit)
                     [0.9, 0.2, 0.9],   # two strictly better: rank 2
                     [0.3, 0.3, 0.3]])  # three-way tie: rank 1 (an R@1 miss)
    np.testing.assert_array_equal(query_ranks(sims), [0.5, 2.0, 1.0])
    m = metrics_from_ranks(query_ranks(sims))
    assert m["R01"] == pytest.approx(100 / 3) and m["R02"] == pytest.approx(200 / 3) and m["R03"] == 100.0
    assert m["MedR"] == 2.0  # median(0.5, 2, 1) + 1
    assert metrics_from_ranks(query_ranks(sims), rounding=2)["R01"] == 33.33


def test_hand_made_near_duplicates():
    # captions 0 and 1 are near-duplicates; motion 1 is closer to text 0 than motion 0 is
    sims = np.array([[0.2, 0.8, 0.5],
                     [0.1, 0.3, 0.9],
                     [0.0, 0.1, 0.7]])
    ts = np.array([[1.0, 0.95, 0.1], [0.95, 1.0, 0.2], [0.1, 0.2, 1.0]])
    np.testing.assert_array_equal(query_ranks(sims), [2.0, 1.0, 0.0])
    # text 0 accepts motion 1 (rank 0); text 1 accepts motion 0 or 1: best is 0.3 -> one better (0.9): rank 1
    np.testing.assert_array_equal(query_ranks(sims, ts, 0.95), [0.0, 1.0, 0.0])
    # motion->text: motion 0 accepts texts 0, 1 (best 0.2 -> rank 0); motion 1 accepts 0, 1 (0.8 -> rank 0);
    # motion 2 accepts text 2 only (0.7), and text 1 scores 0.9: rank 1
    np.testing.assert_array_equal(query_ranks(sims.T, ts, 0.95), [0.0, 0.0, 1.0])
    # threshold on the score scale: cos > 2 * 0.98 - 1 = 0.96 excludes the pair
    np.testing.assert_array_equal(query_ranks(sims, ts, 0.98), [2.0, 1.0, 0.0])


# ------------------------------------------------------------------------------------ brute-force checks
@pytest.mark.parametrize("seed", range(6))
def test_ranks_match_brute_force_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 40))
    sims = tied_sims(rng, max(n, 6))
    np.testing.assert_array_equal(query_ranks(sims), brute_ranks(sims))
    np.testing.assert_array_equal(query_ranks(sims.T), brute_ranks(sims.T))
    got = all_contrastive_metrics(sims)
    for key, val in brute_metrics(brute_ranks(sims)).items():
        assert got[f"t2m/{key}"] == pytest.approx(val, abs=1e-12)
    for key, val in brute_metrics(brute_ranks(sims.T)).items():
        assert got[f"m2t/{key}"] == pytest.approx(val, abs=1e-12)
    assert got["t2m/len"] == got["m2t/len"] == sims.shape[0]


@pytest.mark.parametrize("seed", range(4))
def test_threshold_matches_brute_force(seed):
    rng = np.random.default_rng(100 + seed)
    n = 30
    sims = tied_sims(rng, n)
    e = rng.standard_normal((n, 5))
    e[7] = e[3] + 0.01  # near-duplicate captions
    e[11] = e[3]
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    ts = e @ e.T
    near = ts > 2 * 0.95 - 1
    assert near.sum() > n  # some off-diagonal near-duplicates exist
    np.testing.assert_array_equal(query_ranks(sims, ts, 0.95), brute_ranks(sims, near))
    np.testing.assert_array_equal(query_ranks(sims.T, ts, 0.95), brute_ranks(sims.T, near))


def test_threshold_via_embeddings_and_matrix_agree_and_never_hurt():
    rng = np.random.default_rng(3)
    t, m = rng.standard_normal((50, 6)), rng.standard_normal((50, 6))
    e = rng.standard_normal((50, 4))
    e[1] = e[0]
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    a = retrieval_metrics(t, m, sentence_emb=e)
    b = retrieval_metrics(t, m, text_similarity=e @ e.T, threshold=0.95)
    assert a == b
    plain = retrieval_metrics(t, m)
    for k in ("t2m/R01", "t2m/R05", "m2t/R10"):
        assert a[k] >= plain[k]


def test_threshold_input_errors():
    s = np.eye(3)
    with pytest.raises(ValueError, match="must exceed the threshold"):
        query_ranks(s, np.zeros((3, 3)), 0.95)
    with pytest.raises(ValueError, match="both text_similarity and threshold"):
        query_ranks(s, np.eye(3))
    with pytest.raises(ValueError, match=r"\(3, 3\)"):
        query_ranks(s, np.eye(4), 0.95)
    with pytest.raises(ValueError, match="square"):
        query_ranks(np.ones((2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        retrieval_metrics(np.full((3, 2), np.nan), np.ones((3, 2)))
    with pytest.raises(ValueError, match="rows must be pairs"):
        retrieval_metrics(np.ones((3, 2)), np.ones((4, 2)))


# ------------------------------------------------------------------------------------ cosine
def test_cosine_similarity_and_exact_ties_for_duplicates():
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((40, 16)), rng.standard_normal((37, 16))
    x[9] = x[2]
    y[20] = y[5]
    s = cosine_similarity(x, y)
    ref = (x / np.linalg.norm(x, axis=1, keepdims=True)) @ (y / np.linalg.norm(y, axis=1, keepdims=True)).T
    np.testing.assert_allclose(s, ref, rtol=0, atol=1e-14)
    np.testing.assert_array_equal(s[9], s[2])
    np.testing.assert_array_equal(s[:, 20], s[:, 5])
    # a zero embedding is clamped (TMR's normalize eps), not NaN
    x[0] = 0
    assert np.isfinite(cosine_similarity(x, y)).all() and (cosine_similarity(x, y)[0] == 0).all()


def test_duplicate_captions_tie_in_motion_to_text():
    """Two motions described by the same caption: the two identical text embeddings tie for each motion."""
    rng = np.random.default_rng(5)
    t = rng.standard_normal((6, 8))
    t[4] = t[1]
    m = t + 0.01 * rng.standard_normal((6, 8))
    ranks = query_ranks(cosine_similarity(t, m).T)
    assert ranks[1] == 0.5 and ranks[4] == 0.5
    assert retrieval_metrics(t, m)["m2t/R01"] == 100.0  # rank 0.5 < 1 is a hit (TMR's averaging)


# ------------------------------------------------------------------------------------ guo batches
def test_guo_batches_follow_sorted_ids_and_legacy_shuffle():
    rng = np.random.default_rng(6)
    n = 100
    ids = [f"{i:06d}" for i in rng.permutation(1000)[:n]]
    batches = guo_batches(n, ids)
    # independent: TMR's recipe with the global legacy generator
    keyids = sorted(ids)
    idx = np.arange(n)
    state = np.random.get_state()
    try:
        np.random.seed(0)
        np.random.shuffle(idx)
    finally:
        np.random.set_state(state)
    expected = [[keyids[j] for j in idx[32 * b: 32 * (b + 1)]] for b in range(n // 32)]
    assert len(batches) == 3 and all(len(b) == 32 for b in batches)
    assert [[ids[r] for r in b] for b in batches] == expected


def test_guo_metrics_average_per_batch_brute_force():
    rng = np.random.default_rng(7)
    n = 70
    t = rng.standard_normal((n, 5))
    m = t + rng.standard_normal((n, 5))
    ids = [f"k{i:03d}" for i in range(n)][::-1]
    got = guo_metrics(t, m, ids=ids)
    per = []
    for b in guo_batches(n, ids):
        s = cosine_similarity(t[b], m[b])
        per.append((brute_metrics(brute_ranks(s)), brute_metrics(brute_ranks(s.T))))
    for key in ("R01", "R02", "R03", "R05", "R10", "MedR"):
        assert got[f"t2m/{key}"] == pytest.approx(np.mean([p[0][key] for p in per]), abs=1e-12)
        assert got[f"m2t/{key}"] == pytest.approx(np.mean([p[1][key] for p in per]), abs=1e-12)
    assert got["t2m/len"] == 32.0
    assert guo_metrics(t, m, ids=ids, rounding=2)["t2m/R01"] == round(got["t2m/R01"], 2)
    with pytest.raises(ValueError, match="at least 32"):
        guo_metrics(t[:31], m[:31])


# ------------------------------------------------------------------------------------ subset, protocols
def test_subset_by_ids_and_indices(tmp_path):
    rng = np.random.default_rng(8)
    t, m = rng.standard_normal((20, 4)), rng.standard_normal((20, 4))
    ids = [f"{i:06d}" for i in range(20)]
    split = tmp_path / "nsim_test.txt"
    split.write_text("000003\n000011\n\n000007\n000019\n")
    chosen = read_split(split)
    assert chosen == ["000003", "000011", "000007", "000019"]
    a = subset_metrics(t, m, chosen, ids=ids)
    b = subset_metrics(t, m, [3, 11, 7, 19])
    s = cosine_similarity(t[[3, 11, 7, 19]], m[[3, 11, 7, 19]])
    assert a == b and a["t2m/len"] == 4
    assert a["t2m/R01"] == brute_metrics(brute_ranks(s))["R01"]
    with pytest.raises(ValueError, match="not among the rows"):
        subset_metrics(t, m, ["999999"], ids=ids)
    with pytest.raises(FileNotFoundError, match="nsim_test"):
        read_split(tmp_path / "missing.txt")


def test_tmr_protocols_bundle():
    rng = np.random.default_rng(9)
    t, m = rng.standard_normal((40, 4)), rng.standard_normal((40, 4))
    e = np.eye(40)
    ids = [f"{i:03d}" for i in range(40)]
    out = tmr_protocols(t, m, ids=ids, text_similarity=e, nsim_ids=ids[:10])
    assert set(out) == {"normal", "threshold_0.95", "nsim", "guo"}
    assert out["threshold_0.95"] == out["normal"]  # no near-duplicates: identical to (a)
    assert out["nsim"] == subset_metrics(t, m, list(range(10)))


# ------------------------------------------------------------------------------------ TMR-space scores
def test_embedding_scores():
    rng = np.random.default_rng(10)
    gt, gen, txt = rng.standard_normal((60, 8)), rng.standard_normal((50, 8)) + 0.3, rng.standard_normal((50, 8))
    out = tmr_embedding_scores(gt, gen, txt)
    assert out["fid"] == pytest.approx(fid(gt, gen), rel=1e-12)
    assert out["matching_score"] == pytest.approx(np.mean([np.linalg.norm(a - b) for a, b in zip(txt, gen)]))
    cos = [a @ b / np.linalg.norm(a) / np.linalg.norm(b) for a, b in zip(txt, gen)]
    assert out["mean_score"] == pytest.approx(np.mean(cos) / 2 + 0.5)
    assert "not comparable" in out["note"] and out["evaluator"] == "tmr"


def test_numpy_only():
    code = "import sys, motioneval.metrics.tmr_retrieval; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
