"""Paired comparison: calibrated under the null, decisive for clearly different models, narrower than Welch.

Per-replication values are simulated the way the protocol draws them: each replication ``r`` draws a
ground-truth sample (from ``pass_rng(seed, r, ...)``, shared by every model evaluated with that seed), the
model's embeddings are the ground truth's plus the model's own noise (drawn from the model's generator seed),
and the real metric functions (FID, matching score / R-precision, diversity) score them.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from motioneval.metrics.diversity import diversity
from motioneval.metrics.frechet import frechet_distance
from motioneval.metrics.retrieval import retrieval_metrics
from motioneval.metrics.stats import gaussian_stats
from motioneval.protocol.compare import (
    compare,
    compare_rows,
    paired_test,
    pairing_reason,
    replication_plan,
    replications_for_halfwidth,
    replications_to_resolve,
    should_stop,
    welch_test,
)
from motioneval.protocol.ground_truth import pass_rng
from motioneval.protocol.presets import get_preset
from motioneval.protocol.results import MetricSummary, Result, Row

N, D = 96, 6  # rows per replication (3 groups of 32), embedding dimension


def _replication(seed: int, r: int, noises: dict[str, float], model_seed: dict[str, int]) -> dict[str, dict]:
    rng = pass_rng(seed, r, "gt_match")
    content = rng.normal(size=(N, D))
    text = content + 0.6 * rng.normal(size=(N, D))
    gt_motion = content + 0.6 * rng.normal(size=(N, D))
    reference = content + 0.6 * rng.normal(size=(N, D))  # the FID pass of the ground truth
    ref = gaussian_stats(reference)
    out = {}
    rows = {"ground truth": gt_motion}
    for name, noise in noises.items():
        mrng = np.random.default_rng([model_seed[name], seed, r])
        rows[name] = content + noise * mrng.normal(size=(N, D))
    for name, motion in rows.items():
        ret = retrieval_metrics(text, motion, top_k=3, pool_size=32)
        out[name] = {"r_precision_top1": ret.r_precision[0], "matching_score": ret.matching_score,
                     "fid": float(frechet_distance(ref, gaussian_stats(motion))),
                     "diversity": diversity(motion, 40, rng=pass_rng(seed, r, "diversity", len(out)))}
    return out


def synthetic_result(seed: int, noises: dict[str, float], *, replications: int = 8,
                     model_seed: dict[str, int] | None = None) -> Result:
    """A Result with the ground-truth row and one row per model, drawn as described in the module docstring."""
    model_seed = model_seed or {k: 1000 + i for i, k in enumerate(noises)}
    per = [_replication(seed, r, noises, model_seed) for r in range(replications)]
    rows = []
    for name in ["ground truth", *noises]:
        metrics = {k: MetricSummary.from_values([p[name][k] for p in per]) for k in per[0][name]}
        rows.append(Row(name, "ground_truth" if name == "ground truth" else "model", metrics, N))
    preset = get_preset("t2m", replications=replications).to_dict()
    return Result(rows=rows, preset=preset, seed=seed, replications=replications,
                  provenance={"dataset": {"content_sha256": "d" * 64}, "evaluator": {"e.tar": "e" * 64}},
                  settings={"split": "test"})


def test_clearly_different_models_resolve_with_tiny_p():
    res = synthetic_result(0, {"good": 0.6, "noisy": 1.2}, replications=10)
    c = compare_rows(res, "good", res, "noisy")
    assert c.paired and c.reason is None
    fid = c["fid"]
    assert fid.resolved and fid.better == "A" and fid.difference > 0
    assert fid.p_t < 1e-4 and fid.p_permutation == pytest.approx(2 / 2 ** 10)  # exact sign-flip minimum
    assert c["matching_score"].better == "A"
    assert "paired" in c.to_text() and "FID" in c.to_text()


def test_two_results_with_the_same_seed_pair_and_different_seeds_do_not():
    a = synthetic_result(3, {"m": 0.6}, model_seed={"m": 1})
    b = synthetic_result(3, {"m": 0.8}, model_seed={"m": 2})
    assert pairing_reason(a, b) is None
    c = compare(a, b)
    assert c.paired
    other = synthetic_result(4, {"m": 0.8}, model_seed={"m": 2})
    reason = pairing_reason(a, other)
    assert reason is not None and "seeds differ" in reason
    w = compare(a, other)
    assert not w.paired and w.reason == reason and all(m.method == "welch" for m in w.metrics)
    assert "UNPAIRED" in w.to_text()
    # recorded settings equal but the ground-truth values differ: refused with that reason
    forged = synthetic_result(4, {"m": 0.8}, model_seed={"m": 2})
    forged.seed = 3
    assert "ground-truth rows differ" in pairing_reason(a, forged)
    changed = synthetic_result(3, {"m": 0.8}, model_seed={"m": 2})
    changed.preset = {**changed.preset, "pool_size": 16}
    assert "pool_size" in pairing_reason(a, changed)
    changed.preset = {**a.preset, "generated_length": "model"}  # generator-side setting: still paired
    assert pairing_reason(a, changed) is None


def test_paired_ci_narrower_than_unpaired():
    res = synthetic_result(1, {"a": 0.7, "b": 0.75}, replications=12)
    paired = compare_rows(res, "a", res, "b")
    unpaired = compare_rows(res, "a", res, "b", pair="never")
    assert not unpaired.paired and "pair='never'" in unpaired.reason
    for metric in ("fid", "matching_score", "r_precision_top1"):
        assert paired[metric].ci95 < unpaired[metric].ci95, metric
        assert paired[metric].difference == pytest.approx(unpaired[metric].difference)


@pytest.mark.parametrize("paired", [True, False])
def test_same_model_is_resolved_no_more_often_than_alpha(paired):
    """Two runs of one model (different generator seeds; paired: same evaluation seed, unpaired: different
    evaluation seeds) are 'resolved' at most about alpha of the time over many seeds."""
    alpha, trials, hits, total = 0.1, 120, 0, 0
    for s in range(trials):
        a = synthetic_result(s, {"m": 0.8}, replications=6, model_seed={"m": 10 * s + 1})
        b = synthetic_result(s if paired else s + 10_000, {"m": 0.8}, replications=6,
                             model_seed={"m": 10 * s + 2})
        c = compare(a, b, alpha=alpha, metrics=["fid"], permutations=999, seed=s)
        assert c.paired is paired
        hits += c["fid"].resolved
        total += 1
    rate = hits / total
    # binomial(120, <= 0.1): mean 12, sd 3.3; 4 sd above the nominal rate
    assert rate <= alpha + 4 * math.sqrt(alpha * (1 - alpha) / total), rate


def test_tests_against_closed_forms_and_scipy():
    from scipy import stats

    rng = np.random.default_rng(0)
    a = rng.normal(size=9)
    b = a + 0.3 + 0.2 * rng.normal(size=9)
    s = paired_test(a, b)
    ref = stats.ttest_rel(b, a)
    assert s["p_t"] == pytest.approx(ref.pvalue, rel=1e-10)
    d = b - a
    assert s["ci95"] == pytest.approx(stats.t.ppf(0.975, 8) * d.std(ddof=1) / 3, rel=1e-12)
    # exact sign-flip p-value by brute force over all 512 sign patterns
    import itertools

    obs = abs(d.mean())
    count = sum(abs(np.dot(sg, d)) / 9 >= obs - 1e-12 for sg in itertools.product([-1, 1], repeat=9))
    assert s["p_permutation"] == pytest.approx(count / 512)
    w = welch_test(a, b + 1.0, permutations=2000)
    assert w["p_t"] == pytest.approx(stats.ttest_ind(b + 1.0, a, equal_var=False).pvalue, rel=1e-10)


def test_replication_planning_and_should_stop():
    rng = np.random.default_rng(0)
    vals = list(rng.normal(1.0, 0.2, size=10))
    s = np.std(vals, ddof=1)
    n = replications_for_halfwidth(vals, 0.05)
    assert n == math.ceil((1.96 * s / 0.05) ** 2)
    assert 1.96 * s / math.sqrt(n) <= 0.05 < 1.96 * s / math.sqrt(n - 1)
    # power by simulation agrees with the planned n (paired t at alpha 0.05, power 0.8)
    diffs = list(rng.normal(0.1, 0.25, size=20))
    sd = np.std(diffs, ddof=1)
    k = replications_to_resolve(diffs, 0.1)
    from scipy import stats

    sim = np.random.default_rng(1).normal(0.1, sd, size=(4000, k))
    power = np.mean(np.abs(stats.ttest_1samp(sim, 0.0, axis=1).pvalue) < 0.05)
    assert 0.76 < power < 0.86 and k > 2
    assert should_stop({"fid": [1.0, 1.01, 0.99, 1.0, 1.0]}, 0.05)
    assert not should_stop({"fid": [1.0, 1.5, 0.5, 1.0, 1.2]}, 0.05)
    assert not should_stop({"fid": [1.0, 1.0]}, 0.05)  # fewer than min_replications
    assert should_stop({"fid": [1.0] * 5, "r1": [0.1, 0.9] * 3}, {"fid": 0.01})  # only metrics with a target
    res = synthetic_result(2, {"a": 0.7, "b": 0.9}, replications=6)
    plan = replication_plan(res, row="a", targets={"fid": 0.001}, resolve={"fid": 0.01}, other_row="b")
    assert plan[0]["replications_needed"] > 6 and plan[1]["kind"] == "resolve"


@pytest.mark.slow
def test_demo_noisy_vs_resampling_resolves_and_pairing_narrows(tmp_path):
    """On the demo (shipped evaluator, reduced dataset): noisy vs ground-truth resampling is resolved with a
    tiny paired-t p-value (the exact sign-flip p at its minimum 2/2^n); for a small change of one model
    (noise 0.50 -> 0.55, same seeds) the paired CI is much narrower than Welch's."""
    from motioneval.demo.dataset import DemoDatasetConfig, build_demo_dataset
    from motioneval.demo.generators import GroundTruthResampler, NoisyGenerator
    from motioneval.demo.run import run_demo
    from motioneval.representation.normalization import FeatureStats

    config = DemoDatasetConfig(num_train=64, num_val=0, num_test=160, seed=11)
    root = build_demo_dataset(tmp_path / "ds", config)
    stats = FeatureStats.load_dataset(root)
    small, large = NoisyGenerator(stats, sigma=0.5), NoisyGenerator(stats, sigma=0.55)
    small.name, large.name = "noisy 0.50", "noisy 0.55"
    demo = run_demo(tmp_path / "out", replications=8, dataset_dir=root, dataset_config=config,
                    generators=[GroundTruthResampler(), small, large],
                    overrides={"diversity_pairs": 100, "mm_replications": 0})
    c = compare_rows(demo.result, "ground-truth resampling", demo.result, "noisy 0.50")
    assert c.paired
    assert c["fid"].resolved and c["fid"].better == "A" and c["fid"].p_t < 1e-4
    assert c["fid"].p_permutation == pytest.approx(2 / 2 ** 8)
    paired = compare_rows(demo.result, "noisy 0.50", demo.result, "noisy 0.55")
    unpaired = compare_rows(demo.result, "noisy 0.50", demo.result, "noisy 0.55", pair="never")
    for metric in ("fid", "matching_score"):
        assert paired[metric].ci95 < 0.6 * unpaired[metric].ci95, metric
