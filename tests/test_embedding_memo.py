"""Window and caption tables (protocol/embedding_memo.py): every drawable window is in the table, rows read
back equal direct embeddings (bitwise for a row-independent evaluator, within the batched-float32 tolerance for
the T2M networks), the table does not depend on the order rows were registered or read, blocks resume from the
cache, and pass_features is bitwise the row-by-row normalization."""
from __future__ import annotations

import numpy as np
import pytest

from motioneval.protocol.cache import Cache
from motioneval.protocol.embedding_memo import TextTable, WindowTable, every_window, window_features
from motioneval.protocol.ground_truth import (
    GroundTruthItems,
    draw_pass,
    pass_features,
    pass_raw_tokens,
    pass_rng,
)
from motioneval.protocol.presets import get_preset
from motioneval.representation.normalization import FeatureStats
from motioneval.testing import ToyEvaluator

PRESET = get_preset("t2m")
DIM = 263


def _items(lengths, n_captions=3, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i, t in enumerate(lengths):
        caps = [(f"caption {i} {j}", [f"w{i % 7}/NOUN", f"c{j}/VERB"] * (1 + (i + j) % 12)) for j in range(n_captions)]
        out.append((f"{i:06d}", rng.normal(size=(t, DIM)).astype(np.float32), caps))
    return GroundTruthItems.from_items(out)


@pytest.fixture(scope="module")
def items():
    return _items([40 + (7 * i) % 160 for i in range(70)] + [196, 197, 198, 199])


@pytest.fixture(scope="module")
def stats():
    rng = np.random.default_rng(1)
    return FeatureStats(rng.normal(size=DIM), rng.uniform(0.5, 2.0, size=DIM), name="evaluator")


def _passes(items, seeds=(0, 1), reps=4):
    return [draw_pass(items, PRESET, pass_rng(s, r, stage)) for s in seeds for r in range(reps)
            for stage in ("gt_match", "gt_fid")]


def test_every_window_is_exactly_the_drawable_set(items):
    got = {tuple(w) for w in every_window(items.lengths, PRESET).tolist()}
    expected = set()
    for i, t in enumerate(items.lengths.tolist()):  # protocol.md step 3, item by item
        for crop in (4 * (t // 4), 4 * (t // 4 - 1)):
            crop = min(crop, 196)
            expected |= {(i, s, crop) for s in range(t - crop + 1)}
    assert got == expected
    assert max(sum(1 for w in got if w[0] == i) for i in range(len(items))) <= 12
    drawn = {(int(i), int(s), int(n)) for p in _passes(items) for i, s, n in zip(p.item, p.starts, p.lengths)}
    assert drawn <= got
    only_long = get_preset("t2m", crop_shorter_probability=0.0)
    assert {tuple(w) for w in every_window(items.lengths, only_long).tolist()} == \
        {w for w in expected if w[2] == min(4 * (int(items.lengths[w[0]]) // 4), 196)}


def test_pass_features_is_bitwise_the_row_by_row_normalization(items, stats):
    plan = draw_pass(items, PRESET, pass_rng(2, 0, "gt_match"))
    feats = pass_features(items, plan, stats, PRESET)
    assert feats.shape == (len(plan), 196, DIM) and feats.dtype == np.float32
    for r in range(len(plan)):
        i, s, n = int(plan.item[r]), int(plan.starts[r]), int(plan.lengths[r])
        clip = items.frames[items.offsets[i] + s: items.offsets[i] + s + n].astype(np.float64)
        np.testing.assert_array_equal(feats[r, :n], ((clip - stats.mean) / stats.std).astype(np.float32))
        assert not feats[r, n:].any()
    narrow = pass_features(items, plan, stats, PRESET, frames=int(plan.lengths.max()))
    np.testing.assert_array_equal(narrow, feats[:, : narrow.shape[1]])
    with pytest.raises(ValueError, match="does not fit"):
        pass_features(items, plan, stats, PRESET, frames=int(plan.lengths.max()) - 1)


def test_window_features_equal_pass_features_bitwise(items, stats):
    plan = draw_pass(items, PRESET, pass_rng(5, 1, "gt_fid"))
    order = np.argsort(plan.item, kind="stable")
    sub = plan.take(order[:50])
    expected = pass_features(items, sub, stats, PRESET)
    buffer = np.full((60, 196, DIM), np.nan, np.float32)  # a reused buffer: stale values must not survive
    got = window_features(items, sub.item, sub.starts, sub.lengths, stats, out=buffer[:50])
    np.testing.assert_array_equal(got, expected)


def test_window_table_reads_equal_direct_embeddings_row_independent_evaluator(items, stats):
    ev = ToyEvaluator(stats)
    table = WindowTable(items, stats, PRESET, ev.embed_motion, block=100)
    table.add_every_window()
    for plan in _passes(items):
        got = table.motion(plan)
        direct = ev.embed_motion(pass_features(items, plan, stats, PRESET), plan.lengths)
        np.testing.assert_allclose(got, direct, rtol=1e-6, atol=1e-7)  # float64 projections, one rounding to float32
    assert table.embedded == len(table) == len(every_window(items.lengths, PRESET))
    rows = sum(len(p) for p in _passes(items))
    assert ev.calls["motion"] == table.embedded + rows  # the table was embedded once, the direct rows once each


def test_window_table_is_independent_of_registration_and_read_order(items, stats):
    ev = ToyEvaluator(stats)
    passes = _passes(items)
    a = WindowTable(items, stats, PRESET, ev.embed_motion, block=64)
    b = WindowTable(items, stats, PRESET, ev.embed_motion, block=64)
    for p in passes:
        a.add(p)
    for p in reversed(passes):
        b.add(p.take(slice(None, None, -1)))
    assert a.fingerprint() == b.fingerprint() and len(a) < sum(len(p) for p in passes)
    first_a, first_b = a.motion(passes[0]), b.motion(passes[-1])
    np.testing.assert_array_equal(a.motion(passes[-1]), b.motion(passes[-1]))
    np.testing.assert_array_equal(first_a, b.motion(passes[0]))
    np.testing.assert_array_equal(first_b, a.motion(passes[-1]))
    other = draw_pass(items, PRESET, pass_rng(99, 0, "gt_match"))
    unregistered = other.take(np.flatnonzero(~np.isin(a.plan_keys(other), a._keys))[:1])
    if len(unregistered):
        with pytest.raises(KeyError, match="not registered"):
            a.motion(unregistered)


def test_window_table_with_t2m_networks_within_batch_rounding(items, stats):
    torch = pytest.importorskip("torch")
    from motioneval.evaluators.t2m import T2MEvaluator
    from motioneval.evaluators.t2m_modules import T2MConfig, build_modules

    torch.manual_seed(0)
    config = T2MConfig(dim_movement_enc_hidden=32, dim_movement_latent=32, dim_word=8, dim_text_hidden=16,
                       dim_motion_hidden=32, dim_coemb_hidden=16)
    ev = T2MEvaluator(build_modules(config), stats, None, device="cpu")
    table = WindowTable(items, stats, PRESET, ev.embed_motion)
    table.add_every_window()
    for plan in _passes(items, seeds=(0,), reps=2):
        direct = ev.embed_motion(pass_features(items, plan, stats, PRESET), plan.lengths)
        got = table.motion(plan)
        scale = np.abs(direct).max()
        assert np.abs(got - direct).max() <= 2e-6 * scale  # batch mates may round the GRU differently
    again = WindowTable(items, stats, PRESET, ev.embed_motion)
    again.add_every_window()
    plan = _passes(items, seeds=(3,), reps=1)[0]
    np.testing.assert_array_equal(again.motion(plan), table.motion(plan))  # bitwise reproducible


def test_window_table_blocks_resume_from_the_cache(items, stats, tmp_path):
    ev = ToyEvaluator(stats)
    cache = Cache(tmp_path / "cache")
    parts = {"dataset": items.content_hash(), "evaluator": sorted(ev.provenance.values())}
    first = WindowTable(items, stats, PRESET, ev.embed_motion, block=128, cache=cache, key_parts=parts)
    first.add_every_window()
    plan = _passes(items)[0]
    expected = first.motion(plan)
    blocks = cache.entries("windows")
    assert len(blocks) == -(-first.embedded // 128) and first.loaded == 0
    blocks[0].unlink()  # an interrupted table: every block but one survived
    second = WindowTable(items, stats, PRESET, ev.embed_motion, block=128, cache=cache, key_parts=parts)
    second.add_every_window()
    np.testing.assert_array_equal(second.motion(plan), expected)
    assert second.embedded <= 128 and second.loaded == len(second) - second.embedded
    other = WindowTable(items, stats, PRESET, ev.embed_motion, block=128, cache=cache,
                        key_parts={**parts, "evaluator": ["another"]})
    other.add_every_window()
    other.motion(plan)
    assert other.loaded == 0  # another evaluator never reads these blocks


def test_text_table_keys_on_tokens_and_text_length(items, stats):
    ev = ToyEvaluator(stats)

    def embed(rows, fixed):
        return ev.embed_text(rows) if fixed is None else ev.embed_text(rows, text_lengths=np.full(len(rows), fixed))

    table = TextTable(embed, max_text_tokens=20, block=7)
    passes = _passes(items)
    for p in passes:
        table.add(pass_raw_tokens(items, p))
        table.add(pass_raw_tokens(items, p), fixed_length=22)
    distinct = {tuple(t)[:20] for p in passes for t in pass_raw_tokens(items, p)}
    assert len(table) == 2 * len(distinct)
    before = ev.calls["text"]
    for p in passes[:3]:
        rows = pass_raw_tokens(items, p)
        np.testing.assert_array_equal(table.text(rows), ev.embed_text([list(t)[:20] for t in rows]))
        np.testing.assert_array_equal(table.text(rows, fixed_length=22),
                                      ev.embed_text([list(t)[:20] for t in rows], text_lengths=np.full(len(rows), 22)))
    assert table.embedded == len(table) and ev.calls["text"] - before == len(table) + 6 * len(passes[0])
    long = [f"t{k}/NOUN" for k in range(25)]
    table.add([long])
    np.testing.assert_array_equal(table.text([long[:20]]), table.text([long]))  # only 20 tokens are read
    with pytest.raises(KeyError, match="not registered"):
        table.text([["never/VERB"]])


def test_text_table_blocks_come_back_from_the_cache(items, stats, tmp_path):
    ev = ToyEvaluator(stats)
    cache = Cache(tmp_path / "cache")
    rows = [t for toks in items.tokens for t in toks]

    def table(parts):
        t = TextTable(lambda r, fixed: ev.embed_text(r), max_text_tokens=20, block=50, cache=cache, key_parts=parts)
        t.add(rows)
        return t

    first = table({"evaluator": "a"})
    expected = first.text(rows)
    assert first.embedded == len(first) and len(cache.entries("captions")) == -(-len(first) // 50)
    again = table({"evaluator": "a"})
    np.testing.assert_array_equal(again.text(rows), expected)
    assert again.embedded == 0 and again.loaded == len(again)
    other = table({"evaluator": "b"})
    other.text(rows[:3])
    assert other.loaded == 0 and other.embedded == len(other)
