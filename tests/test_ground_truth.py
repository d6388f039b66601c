"""Ground-truth items and per-access randomness (protocol.md steps 1-5), against direct statements of the rules."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as st

from motioneval.protocol.ground_truth import (
    EOS,
    SOS,
    UNK,
    GroundTruthItems,
    derived_seed,
    draw_pass,
    num_rows,
    pad_tokens,
    pass_captions,
    pass_features,
    pass_raw_tokens,
    pass_rng,
)
from motioneval.protocol.presets import get_preset
from motioneval.representation.normalization import FeatureStats

PRESET = get_preset("t2m")


def _items(lengths, n_captions=1, dim=5, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i, t in enumerate(lengths):
        caps = [(f"caption {i} {j}", [f"w{i}/NOUN", f"c{j}/VERB"]) for j in range(n_captions)]
        out.append((f"{i:06d}", rng.normal(size=(t, dim)).astype(np.float32), caps))
    return GroundTruthItems.from_items(out)


def test_pad_tokens_rules():
    toks = [f"w{i}/NOUN" for i in range(25)]
    padded, n = pad_tokens(toks[:5])
    assert padded == [SOS, *toks[:5], EOS] + [UNK] * 15 and n == 7 and len(padded) == 22
    padded, n = pad_tokens(toks[:20])
    assert padded == [SOS, *toks[:20], EOS] and n == 22
    padded, n = pad_tokens(toks)  # longer captions keep their first 20 tokens
    assert padded == [SOS, *toks[:20], EOS] and n == 22
    padded, n = pad_tokens([])
    assert padded[:2] == [SOS, EOS] and n == 2 and len(padded) == 22


def test_pass_rows_whole_groups_and_permutation():
    items = _items([40 + i % 50 for i in range(100)])
    plan = draw_pass(items, PRESET, pass_rng(0, 0, "gt_match"))
    assert len(plan) == 96 == num_rows(100, PRESET)
    assert len(set(plan.item.tolist())) == 96  # each item at most once per pass
    assert num_rows(100, PRESET, limit=70) == 64
    assert len(draw_pass(items, PRESET, pass_rng(0, 0, "generated"), limit=70)) == 64
    with pytest.raises(ValueError, match="one group"):
        draw_pass(_items([50] * 10), PRESET, pass_rng(0, 0, "gt_match"))


def test_crop_length_distribution_and_windows():
    # T = 57: floor(57/4) = 14 -> L = 56 with probability 2/3, 52 with probability 1/3
    # T = 43: 40 or 36.  Windows uniform over 0..T-L.
    items = _items([57] * 32 + [43] * 32)
    lengths, starts, totals = [], [], []
    for rep in range(400):
        plan = draw_pass(items, PRESET, pass_rng(1, rep, "gt_match"))
        lengths.append(plan.lengths)
        starts.append(plan.starts)
        totals.append(items.lengths[plan.item])
    L, S, T = np.concatenate(lengths), np.concatenate(starts), np.concatenate(totals)
    assert set(L[T == 57].tolist()) == {56, 52} and set(L[T == 43].tolist()) == {40, 36}
    assert np.all(L % 4 == 0) and np.all(S >= 0) and np.all(S + L <= T)
    long_share = np.mean(L == 4 * (T // 4))
    assert st.binomtest(int(np.sum(L == 4 * (T // 4))), L.size, 2 / 3).pvalue > 1e-3, long_share
    # window start for T=57, L=52 is uniform over 0..5
    s = S[(T == 57) & (L == 52)]
    counts = np.bincount(s, minlength=6)
    assert counts.size == 6 and st.chisquare(counts).pvalue > 1e-3


def test_caption_choice_uniform():
    items = _items([48] * 64, n_captions=3)
    picks = np.concatenate([draw_pass(items, PRESET, pass_rng(2, r, "gt_match")).caption for r in range(200)])
    counts = np.bincount(picks, minlength=3)
    assert counts.size == 3 and st.chisquare(counts).pvalue > 1e-3
    plan = draw_pass(items, PRESET, pass_rng(2, 0, "gt_match"))
    caps = pass_captions(items, plan)
    toks = pass_raw_tokens(items, plan)
    for r in range(len(plan)):
        i, j = plan.item[r], plan.caption[r]
        assert caps[r] == f"caption {i} {j}" and toks[r] == (f"w{i}/NOUN", f"c{j}/VERB")


def test_pass_features_crop_normalize_pad():
    items = _items([41, 77, 199, 60] * 8, dim=7, seed=3)
    rng = np.random.default_rng(4)
    stats = FeatureStats(rng.normal(size=7), rng.uniform(0.5, 2.0, size=7))
    plan = draw_pass(items, PRESET, pass_rng(3, 0, "gt_match"))
    feats = pass_features(items, plan, stats, PRESET)
    assert feats.shape == (32, 196, 7) and feats.dtype == np.float32
    for r in range(len(plan)):
        i, s, n = int(plan.item[r]), int(plan.starts[r]), int(plan.lengths[r])
        clip = items.frames[items.offsets[i]: items.offsets[i] + items.lengths[i]].astype(np.float64)
        expected = (clip[s:s + n] - stats.mean) / stats.std
        np.testing.assert_array_equal(feats[r, :n], expected.astype(np.float32))
        assert not feats[r, n:].any()
    assert plan.lengths.max() <= 196


def test_seeding_is_reproducible_and_streams_independent():
    items = _items([40 + i for i in range(64)])
    a = draw_pass(items, PRESET, pass_rng(5, 2, "gt_match"))
    b = draw_pass(items, PRESET, pass_rng(5, 2, "gt_match"))
    c = draw_pass(items, PRESET, pass_rng(5, 2, "gt_fid"))
    d = draw_pass(items, PRESET, pass_rng(5, 3, "gt_match"))
    for f in ("item", "caption", "lengths", "starts"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert not np.array_equal(a.item, c.item) and not np.array_equal(a.item, d.item)
    assert derived_seed(5, 2, "generator_seed", 0) == derived_seed(5, 2, "generator_seed", 0)
    assert derived_seed(5, 2, "generator_seed", 0) != derived_seed(5, 2, "generator_seed", 1)


def test_items_from_dataset_folder(tmp_path):
    from motioneval.data.dataset import MotionDataset
    from motioneval.testing import write_toy_dataset

    root = write_toy_dataset(tmp_path / "ds", num_clips=40, segment_fraction=1.0, min_length=80, max_length=120)
    ds = MotionDataset(root, "test")
    items = GroundTruthItems.from_dataset(ds)
    assert len(items) == len(ds) > 40  # segments become separate items
    assert any("_" in i for i in items.ids)
    assert np.all(np.diff(items.lengths) >= 0)  # the reference's length order
    k = items.ids.index("000003")
    np.testing.assert_array_equal(items.frames[items.offsets[k]: items.offsets[k] + items.lengths[k]],
                                  ds["000003"].features)
    assert items.dataset_stats is not None and items.content_hash() == GroundTruthItems.from_dataset(ds).content_hash()
