"""protocol/scoring.py: one row of embeddings -> metric values, by a list of scorers."""
from __future__ import annotations

import numpy as np
import pytest

from motioneval.constants import MetricInfo
from motioneval.metrics.stats import gaussian_stats
from motioneval.protocol.ground_truth import pass_rng
from motioneval.protocol.presets import get_preset
from motioneval.protocol.scoring import (
    LIGHT_SCORERS,
    PROTOCOL_SCORERS,
    ColumnMeanScorer,
    Scores,
    score_embeddings,
)


def _rows(n=64, d=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.standard_normal((n, d)), rng.standard_normal((200, d))


def _brute_r_precision(text, motion, pool, top_k):
    """R-precision by hand: in each pool of ``pool`` rows, is row i's motion among the top-k nearest to text i?"""
    hits = np.zeros(top_k)
    n = (len(text) // pool) * pool
    for start in range(0, n, pool):
        t, m = text[start:start + pool], motion[start:start + pool]
        dist = np.sqrt(((t[:, None, :] - m[None, :, :]) ** 2).sum(-1))
        rank = (dist < np.diag(dist)[:, None]).sum(1)  # motions strictly closer than the true one
        for k in range(top_k):
            hits[k] += (rank <= k).sum()
    return hits / n, float(np.mean([np.linalg.norm(text[i] - motion[i]) for i in range(n)]))


def test_protocol_scorers_match_independent_computations():
    p = get_preset("t2m", diversity_pairs=20)
    text, motion, ref = _rows()
    reference = gaussian_stats(ref)
    s = score_embeddings(text, motion, reference, p, seed=3, replication=2, stream=1, name="m")
    assert list(s.values) == ["r_precision_top1", "r_precision_top2", "r_precision_top3", "matching_score", "fid",
                              "diversity", "multimodality"]
    r, ms = _brute_r_precision(text, motion, p.pool_size, p.top_k)
    np.testing.assert_allclose([s.values[f"r_precision_top{k + 1}"] for k in range(3)], r)
    assert s.values["matching_score"] == pytest.approx(ms, rel=1e-6)  # the reference flavour: float32 distances
    # FID of two Gaussians in closed form: |mu1-mu2|^2 + tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2)
    from scipy.linalg import sqrtm

    g = gaussian_stats(motion)
    root = sqrtm(sqrtm(reference.cov) @ g.cov @ sqrtm(reference.cov)).real
    closed = float(np.sum((reference.mean - g.mean) ** 2) + np.trace(reference.cov + g.cov - 2 * root))
    assert s.values["fid"] == pytest.approx(closed, rel=1e-6)
    assert s.diagnostics["fid"]["value"] == pytest.approx(closed, rel=1e-6)
    # Diversity: the pairs drawn from the row's stream (replication 2, stream 1), averaged by hand
    from motioneval.metrics.diversity import diversity

    _, a, b = diversity(motion, 20, rng=pass_rng(3, 2, "diversity", 1), return_indices=True)
    assert s.values["diversity"] == pytest.approx(float(np.linalg.norm(motion[a] - motion[b], axis=1).mean()))
    assert s.values["multimodality"] is None  # the preset computes it, this row has no MultiModality embeddings


def test_ground_truth_rows_have_no_multimodality_and_no_reference_means_no_fid():
    p = get_preset("t2m", diversity_pairs=20)
    text, motion, _ = _rows()
    s = score_embeddings(text, motion, None, p, ground_truth=True, stream=0)
    assert s.values["fid"] is None and s.diagnostics["fid"] is None
    assert "multimodality" not in s.values


def test_multimodality_and_light_scorers():
    p = get_preset("t2m", diversity_pairs=20)
    text, motion, ref = _rows()
    mm = np.random.default_rng(1).standard_normal((10, 30, 6))
    s = score_embeddings(text, motion, gaussian_stats(ref), p, multimodality=mm, seed=0, replication=0)
    rng = pass_rng(0, 0, "multimodality")
    from motioneval.metrics.diversity import multimodality

    assert s.values["multimodality"] == multimodality(mm, p.mm_pairs, rng=rng)
    light = score_embeddings(text, motion, gaussian_stats(ref), p, scorers=LIGHT_SCORERS, diversity_pairs=5)
    assert "multimodality" not in light.values and light.values["fid"] == s.values["fid"]
    assert PROTOCOL_SCORERS[:3] == LIGHT_SCORERS


def test_column_scorer_plugs_in_and_duplicates_are_refused():
    p = get_preset("t2m", diversity_pairs=20)
    text, motion, ref = _rows(n=32)
    info = MetricInfo("skating", "Skate", "Foot skating", "lower")
    col = np.arange(32, dtype=float)
    col[3] = np.nan  # undefined for one clip: left out
    s = score_embeddings(text, motion, gaussian_stats(ref), p, columns={"skating": col},
                         scorers=(*PROTOCOL_SCORERS, ColumnMeanScorer([info])))
    assert list(s.values)[-1] == "skating"
    assert s.values["skating"] == pytest.approx(np.nanmean(col))
    with pytest.raises(ValueError, match="32 rows"):
        score_embeddings(text, motion, None, p, columns={"skating": col[:5]}, scorers=(ColumnMeanScorer([info]),))
    with pytest.raises(KeyError, match="skating"):
        score_embeddings(text, motion, None, p, scorers=(ColumnMeanScorer([info]),))
    with pytest.raises(ValueError, match="same metric"):
        Scores({"fid": 1.0}).update(Scores({"fid": 2.0}))


def test_the_evaluator_kind_picks_the_scorers(tmp_path):
    """An evaluator of another family (``kind = "tmr"``) is not scored with the T2M protocol's metrics unless
    scorers are registered for its kind; registered ones are what the loop uses."""
    from motioneval.protocol import scoring
    from motioneval.protocol.evaluate import Evaluation
    from motioneval.representation.normalization import FeatureStats
    from motioneval.testing import ToyEvaluator, ToyGenerator, write_toy_dataset

    root = write_toy_dataset(tmp_path / "HumanML3D", num_clips=40, seed=1)
    stats = FeatureStats.load(root / "Mean.npy", root / "Std.npy", name="dataset")

    class OtherFamily(ToyEvaluator):
        kind = "other-family"

    kw = dict(dataset=root, generator=ToyGenerator(stats), preset="t2m", overrides={"diversity_pairs": 10,
                                                                                   "mm_replications": 0})
    assert Evaluation(evaluator=ToyEvaluator(stats), **kw).scorers == scoring.PROTOCOL_SCORERS
    with pytest.raises(ValueError, match="evaluator kind 'other-family'"):
        Evaluation(evaluator=OtherFamily(stats), **kw)
    scoring.register_scorers("other-family", LIGHT_SCORERS)
    try:
        assert Evaluation(evaluator=OtherFamily(stats), **kw).scorers == LIGHT_SCORERS
    finally:
        del scoring._SCORERS_BY_KIND["other-family"]
