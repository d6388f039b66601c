"""Generated output -> evaluator input (protocol/generators.py): to_raw_features and evaluator_features against
a direct row-by-row statement of the rules (float64 arithmetic, one cast to float32, zeros elsewhere), including
non-finite values in frames the evaluator never reads and ones it does."""
from __future__ import annotations

import numpy as np
import pytest

from motioneval.protocol.generators import evaluator_features, to_raw_features
from motioneval.representation.normalization import FeatureStats

D = 263


@pytest.fixture(scope="module")
def stats():
    rng = np.random.default_rng(0)
    return (FeatureStats(rng.normal(size=D), rng.uniform(0.2, 3.0, D), name="dataset"),
            FeatureStats(rng.normal(size=D), rng.uniform(0.2, 3.0, D), name="evaluator"))


@pytest.mark.parametrize("normalization", ["dataset", "evaluator", "raw"])
@pytest.mark.parametrize("padding", ["zeros", "none"])
def test_conversion_row_by_row(stats, normalization, padding):
    ds, ev = stats
    rng = np.random.default_rng(len(normalization) + len(padding))
    n, t = 37, 200
    motions = rng.normal(size=(n, t, D)).astype(np.float32)
    lengths = rng.integers(1, 197, n)
    frames = np.maximum(lengths, rng.integers(1, t + 1, n))
    for r in range(0, n, 5):  # NaN/Inf past what the evaluator reads never matters
        motions[r, frames[r] + 3:] = np.nan if r % 2 else np.inf
    raw, out_lengths, out_frames = to_raw_features(motions, lengths, kind="features", normalization=normalization,
                                                   dataset_stats=ds, evaluator_stats=ev, padding=padding,
                                                   frames=frames, return_frames=True)
    back = {"dataset": ds, "evaluator": ev, "raw": None}[normalization]
    keep = lengths if padding == "zeros" else frames
    assert raw.dtype == np.float32 and np.array_equal(out_lengths, lengths)
    for r in range(n):
        m = motions[r, : keep[r]]
        expected = m if back is None else (m.astype(np.float64) * back.std + back.mean).astype(np.float32)
        np.testing.assert_array_equal(raw[r, : keep[r]], expected)
        assert not raw[r, keep[r]:].any()
    feats, fed = evaluator_features(raw, out_lengths, ev, max_frames=196, padding=padding, frames=out_frames,
                                    long_motions="truncate")
    assert feats.shape == (n, 196, D) and feats.dtype == np.float32
    for r in range(n):
        limit = min(int(lengths[r]) if padding == "zeros" else 196, int(out_frames[r]), 196)
        expected = ((raw[r, :limit].astype(np.float64) - ev.mean) / ev.std).astype(np.float32)
        np.testing.assert_array_equal(feats[r, :limit], expected)
        assert not feats[r, limit:].any()


def test_non_finite_values_that_reach_the_evaluator_name_the_row(stats):
    ds, ev = stats
    motions = np.zeros((4, 60, D), np.float32)
    lengths = np.array([40, 40, 40, 40])
    motions[2, 41, 5] = np.nan  # within the 3 frames past the length the evaluator reads
    with pytest.raises(ValueError, match=r"NaN or Inf in 1 sample\(s\): row 2 \(c\)"):
        to_raw_features(motions, lengths, kind="features", normalization="raw", dataset_stats=ds, evaluator_stats=ev,
                        padding="none", row_names=["a", "b", "c", "d"])
    big = np.zeros((2, 50, D), np.float32)
    big[1, 3, :] = 3e38  # finite, and the float32 sum over a frame overflows: still accepted
    raw, lengths = to_raw_features(big, np.array([50, 50]), kind="features", normalization="raw",
                                   dataset_stats=ds, evaluator_stats=ev, padding="zeros")
    assert raw[1, 3, 0] == np.float32(3e38)
    huge = FeatureStats(np.zeros(D), np.full(D, 1e-30), name="tiny std")
    with pytest.raises(ValueError, match="overflow float32 once normalized"):
        evaluator_features(raw, lengths, huge, max_frames=196, padding="zeros")
