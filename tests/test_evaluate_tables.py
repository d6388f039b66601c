"""evaluate() reads ground-truth motion embeddings from the window table and text embeddings from the caption
table (protocol/embedding_memo.py): the numbers are those of embedding each row directly (bitwise for a
row-independent evaluator, within the T2M batched-float32 tolerance otherwise); a table of every window (runs
whose passes draw at least as many rows as there are windows) does not depend on the seed, the replication count
or what was cached before, and a table of the drawn windows (fewer replications) agrees with it within that
tolerance; a second model embeds only its own rows, and the FID reference route is checked on the first
replication."""
from __future__ import annotations

import numpy as np
import pytest

from motioneval.protocol.cache import Cache
from motioneval.protocol.embedding_memo import every_window
from motioneval.protocol.evaluate import Evaluation, evaluate
from motioneval.protocol.ground_truth import pass_features, pass_raw_tokens
from motioneval.representation.normalization import FeatureStats
from motioneval.testing import ToyEvaluator, ToyGenerator, write_toy_dataset, write_toy_evaluator

SMALL = dict(replications=3, mm_replications=0, diversity_pairs=50, diversity_pairs_small=None,
             generated_rows="independent", fid_reference="independent_pass", ground_truth_row=True,
             generated_padding="zeros")


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = write_toy_dataset(tmp_path_factory.mktemp("tables") / "HumanML3D", num_clips=70, seed=5,
                             max_length=120)
    ds_stats = FeatureStats.load(root / "Mean.npy", root / "Std.npy", name="dataset")
    evaluator = write_toy_evaluator(tmp_path_factory.mktemp("tables-evaluator"), root)
    return root, ds_stats, evaluator


def _run(toy, overrides=None, **kw):
    root, ds_stats, evaluator = toy
    return Evaluation(dataset=root, evaluator=evaluator, generator=ToyGenerator(ds_stats), preset="t2m",
                      chunk_size=32, device="cpu", overrides={**SMALL, **(overrides or {})}, **kw)


#: replications at which this toy data's passes (64 rows, two passes) draw at least as many rows as it has windows
EVERY = 10


@pytest.mark.parametrize("replications", [SMALL["replications"], EVERY])
def test_ground_truth_rows_are_the_direct_embeddings(toy, replications):
    run = _run(toy, overrides={"replications": replications})
    assert run.window_registration == ("drawn" if replications == SMALL["replications"] else "every")
    ev = run.evaluator
    for r in range(2):
        emb = run.embeddings(r)
        for stage in ("gt_match", "gt_fid"):
            plan = run._plan(r, stage)
            direct = ev.embed_motion(pass_features(run.items, plan, ev.stats, run.preset), plan.lengths)
            assert np.abs(emb[f"{stage}/motion"] - direct).max() <= 2e-6 * np.abs(direct).max()
        plan = run._plan(r, "gt_match")
        direct = ev.embed_text(pass_raw_tokens(run.items, plan))
        assert np.abs(emb["gt_match/text"] - direct).max() <= 2e-6 * np.abs(direct).max()
        req = run._plan(r, "generated")
        direct = ev.embed_text([list(t) for t in req.tokens])
        assert np.abs(emb["generated/text"] - direct).max() <= 2e-6 * np.abs(direct).max()
    table = run.window_table()
    if run.window_registration == "every":
        registered = len(every_window(run.items.lengths, run.preset))
    else:
        registered = len(np.unique(np.concatenate([table.plan_keys(run._plan(r, s))
                                                   for r in range(replications) for s in run.gt_stages])))
        assert registered < len(every_window(run.items.lengths, run.preset))
    assert table.embedded == len(table) == registered  # each window once


def test_tables_do_not_depend_on_seed_replications_or_order(toy):
    a, b = _run(toy, overrides={"replications": EVERY}), _run(toy, overrides={"replications": EVERY + 5})
    c = _run(toy, overrides={"replications": EVERY}, seed=7)
    assert {a.window_registration, b.window_registration, c.window_registration} == {"every"}
    ea = a.embeddings(0)
    for unit in reversed(b.units([0])):  # another read order: the second pass and the generated rows first
        b.run_unit(unit)
    eb = b.embeddings(0)
    for key in ("gt_match/motion", "gt_fid/motion", "gt_match/text", "generated/text"):
        np.testing.assert_array_equal(ea[key], eb[key])
    c.embeddings(0)
    np.testing.assert_array_equal(a.window_table()._keys, c.window_table()._keys)
    np.testing.assert_array_equal(a.window_table()._emb, c.window_table()._emb)
    # a run of fewer replications registers only its drawn windows: the same rows, other batch mates
    few = _run(toy)
    assert few.window_registration == "drawn"
    ef = few.embeddings(0)
    for key in ("gt_match/motion", "gt_fid/motion"):
        assert np.abs(ef[key] - ea[key]).max() <= 2e-6 * np.abs(ea[key]).max()


def test_resumed_run_with_t2m_networks_is_bitwise_identical(toy, tmp_path):
    root, ds_stats, evaluator = toy
    kw = dict(dataset=root, evaluator=evaluator, preset="t2m", chunk_size=32, device="cpu", **SMALL)
    first = evaluate(generator=ToyGenerator(ds_stats), out=tmp_path / "a", **kw)
    cache = Cache(tmp_path / "a" / "cache")
    for path in cache.entries("embeddings")[::2] + cache.entries("windows")[:1] + cache.entries("captions"):
        path.unlink()  # an interrupted run: some units and table blocks missing
    again = evaluate(generator=ToyGenerator(ds_stats), out=tmp_path / "a", **kw)
    assert again.to_dict()["rows"] == first.to_dict()["rows"]
    assert again.fid_diagnostics == first.fid_diagnostics
    fresh = evaluate(generator=ToyGenerator(ds_stats), out=tmp_path / "b", **kw)
    assert fresh.to_dict()["rows"] == first.to_dict()["rows"]


def test_a_second_model_embeds_only_its_own_rows(toy, tmp_path):
    root, ds_stats, _ = toy
    ev_stats = FeatureStats(ds_stats.mean, ds_stats.std * 1.1, name="evaluator")
    kw = dict(dataset=root, preset="t2m", chunk_size=32, cache_dir=tmp_path / "cache", **SMALL)
    ev = ToyEvaluator(ev_stats)
    first = evaluate(evaluator=ev, generator=ToyGenerator(ds_stats), **kw)
    n_gen = first.sample_counts["generated_rows"]
    run = Evaluation(dataset=root, evaluator=ev, generator=ToyGenerator(ds_stats), preset="t2m", overrides=SMALL)
    assert run.window_registration == "drawn"
    windows = len(np.unique(np.concatenate([run.window_table().plan_keys(run._plan(r, s))
                                            for r in range(SMALL["replications"]) for s in run.gt_stages])))
    assert ev.calls["motion"] == windows + SMALL["replications"] * n_gen  # each window once, each generated row once
    ev = ToyEvaluator(ev_stats)
    evaluate(evaluator=ev, generator=ToyGenerator(ds_stats, name="other", noise=0.8), **kw)
    assert ev.calls == {"text": 0, "motion": SMALL["replications"] * n_gen}


def test_fid_reference_route_is_checked_on_the_first_replication(toy):
    root, ds_stats, _ = toy
    run = Evaluation(dataset=root, evaluator=ToyEvaluator(FeatureStats(ds_stats.mean, ds_stats.std, name="e")),
                     generator=ToyGenerator(ds_stats), preset="t2m", chunk_size=32, overrides=SMALL)
    result = run.score()
    for row, diags in result.fid_diagnostics.items():
        assert diags[0]["reference_value"] == pytest.approx(diags[0]["exact_value"], rel=1e-6)
        assert "reference_abs_diff" in diags[0]["diagnostics"]
        for d in diags[1:]:  # the exact route's diagnostics stay on every replication
            assert d["reference_value"] is None and "reference_abs_diff" not in d["diagnostics"]
            assert d["diagnostics"]["route"] and "condition_number1" in d["diagnostics"]
        fid = {r.name: r for r in result.rows}[row].metrics["fid"].values
        assert [d["exact_value"] for d in diags] == fid
