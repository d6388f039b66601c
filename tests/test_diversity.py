"""Diversity and MultiModality: legacy-RNG parity with the reference fixtures, rng conventions, the MoMask
lineage rule, an independent loop implementation and input errors."""
from __future__ import annotations

import numpy as np
import pytest

from motioneval import diversity, multimodality
from motioneval.metrics._rng import as_rng


@pytest.fixture
def restore_global_rng():
    state = np.random.get_state()
    yield
    np.random.set_state(state)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_diversity_matches_reference(metrics_ref, seed, restore_global_rng):
    gen = metrics_ref["gen_emb"]
    expected = float(metrics_ref["diversity_by_seed"][seed])
    value, first, second = diversity(gen, 300, np.random.RandomState(seed), return_indices=True)
    np.testing.assert_array_equal(first, metrics_ref["diversity_idx"][seed, 0])
    np.testing.assert_array_equal(second, metrics_ref["diversity_idx"][seed, 1])
    np.testing.assert_allclose(value, expected, rtol=1e-6)
    assert diversity(gen, rng=seed) == value  # int seed == RandomState(seed)
    np.random.seed(seed)
    assert diversity(gen) == value  # rng=None draws from the global legacy state, like the reference


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_multimodality_matches_reference(metrics_ref, seed, restore_global_rng):
    mm = metrics_ref["mm_emb"]
    value, first, second = multimodality(mm, 10, np.random.RandomState(seed), return_indices=True)
    np.testing.assert_array_equal(first, metrics_ref["multimodality_idx"][seed, 0])
    np.testing.assert_array_equal(second, metrics_ref["multimodality_idx"][seed, 1])
    np.testing.assert_allclose(value, float(metrics_ref["multimodality_by_seed"][seed]), rtol=1e-6)
    np.random.seed(seed)
    assert multimodality(mm) == value


def test_against_loop_with_stored_indices(metrics_ref):
    """Recompute both metrics from the reference's stored indices with explicit loops (float64)."""
    gen = metrics_ref["gen_emb"].astype(np.float64)
    a, b = metrics_ref["diversity_idx"][0]
    loop = sum(np.sqrt(sum((gen[i, d] - gen[j, d]) ** 2 for d in range(gen.shape[1]))) for i, j in zip(a, b))
    np.testing.assert_allclose(diversity(gen, rng=0), loop / len(a), rtol=1e-12)
    mm = metrics_ref["mm_emb"].astype(np.float64)
    a, b = metrics_ref["multimodality_idx"][0]
    total = 0.0
    for t in range(mm.shape[0]):
        for i, j in zip(a, b):
            total += np.sqrt(np.sum((mm[t, i] - mm[t, j]) ** 2))
    np.testing.assert_allclose(multimodality(mm, rng=0), total / (mm.shape[0] * len(a)), rtol=1e-12)


def test_generator_and_reproducibility():
    x = np.random.default_rng(1).normal(size=(50, 6))
    v1, a1, b1 = diversity(x, 20, np.random.default_rng(5), return_indices=True)
    v2 = diversity(x, 20, np.random.default_rng(5))
    assert v1 == v2
    assert len(set(a1.tolist())) == 20 and len(set(b1.tolist())) == 20  # without replacement
    # a shared generator advances: two calls give different draws
    g = np.random.default_rng(5)
    assert diversity(x, 20, g) != diversity(x, 20, g)


def test_pairs_are_independent_and_may_repeat_an_index():
    """The two draws are independent, so some pairs join a sample with itself (distance 0)."""
    x = np.random.default_rng(2).normal(size=(11, 3))
    repeats = 0
    for seed in range(20):
        value, a, b = diversity(x, 10, seed, return_indices=True)
        d = np.linalg.norm(x[a] - x[b], axis=1)
        assert np.isclose(value, d.mean())
        assert (d[a == b] == 0).all()
        repeats += int((a == b).any())
    assert repeats > 0  # ~63% of draws of 10 from 11 have a coincidence


def test_momask_lineage_rule():
    x = np.random.default_rng(3).normal(size=(250, 4))
    _, a, _ = diversity(x, "momask", 0, return_indices=True)
    assert len(a) == 100
    y = np.random.default_rng(3).normal(size=(301, 4))
    _, a, _ = diversity(y, "momask", 0, return_indices=True)
    assert len(a) == 300
    with pytest.raises(ValueError, match="more samples than pairs"):
        diversity(x[:100], "momask")


def test_torch_tensors_accepted():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(4).normal(size=(40, 5)).astype(np.float32)
    assert diversity(torch.from_numpy(x), 30, 1) == diversity(x, 30, 1)
    m = np.random.default_rng(4).normal(size=(3, 12, 5)).astype(np.float32)
    assert multimodality(torch.from_numpy(m), 10, 1) == multimodality(m, 10, 1)


def test_errors():
    x = np.zeros((300, 4))
    with pytest.raises(ValueError, match="got 300 motion embeddings for num_pairs=300"):
        diversity(x, 300)
    with pytest.raises(ValueError, match="num_repeats=10 for num_pairs=10"):
        multimodality(np.zeros((5, 10, 4)), 10)
    with pytest.raises(ValueError, match="num_texts, num_repeats, D"):
        multimodality(np.zeros((30, 4)), 10)
    with pytest.raises(ValueError, match="2-D"):
        diversity(np.zeros((5, 400, 4)))
    bad = np.zeros((400, 4))
    bad[123, 0] = np.inf
    with pytest.raises(ValueError, match="row index 123"):
        diversity(bad)
    badm = np.zeros((4, 30, 2))
    badm[2, 5, 1] = np.nan
    with pytest.raises(ValueError, match="text index 2"):
        multimodality(badm)
    with pytest.raises(ValueError, match="momask"):
        diversity(np.zeros((400, 4)), "lots")
    with pytest.raises(ValueError, match="num_pairs"):
        diversity(np.zeros((400, 4)), 0)
    with pytest.raises(TypeError, match="rng"):
        diversity(np.zeros((400, 4)), rng=1.5)
    with pytest.raises(TypeError, match="rng"):
        as_rng(True)
    with pytest.raises(ValueError, match="non-negative"):
        as_rng(-1)


def test_float32_input_gives_the_float64_values():
    """Only the drawn rows are cast to float64: the values are bitwise those of the whole array cast first."""
    x = np.random.default_rng(5).normal(size=(400, 8)).astype(np.float32)
    assert diversity(x, 300, 2) == diversity(x.astype(np.float64), 300, 2)
    m = np.random.default_rng(6).normal(size=(4, 12, 8)).astype(np.float32)
    assert multimodality(m, 10, 2) == multimodality(m.astype(np.float64), 10, 2)
    with pytest.raises(ValueError, match=r"NaN or Inf"):
        diversity(np.where(np.arange(400)[:, None] == 7, np.float32(np.nan), x), 300, 2)
