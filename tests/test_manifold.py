"""Precision/recall and density/coverage: against a naive loop implementation and closed-form cases."""
from __future__ import annotations

import numpy as np
import pytest

import motioneval.metrics.manifold as manifold
from motioneval import density_coverage, precision_recall


def knn_radius(points, k):
    radii = []
    for i, p in enumerate(points):
        d = sorted(float(np.linalg.norm(p - q)) for j, q in enumerate(points) if j != i)
        radii.append(d[k - 1])
    return radii


def naive_all(real, gen, k_pr, k_dc):
    r_real, r_gen = knn_radius(real, k_pr), knn_radius(gen, k_pr)
    dist = [[float(np.linalg.norm(x - y)) for y in gen] for x in real]
    precision = np.mean([any(dist[i][j] <= r_real[i] for i in range(len(real))) for j in range(len(gen))])
    recall = np.mean([any(dist[i][j] <= r_gen[j] for j in range(len(gen))) for i in range(len(real))])
    r_dc = knn_radius(real, k_dc)
    density = sum(dist[i][j] <= r_dc[i] for i in range(len(real)) for j in range(len(gen))) / (k_dc * len(gen))
    coverage = np.mean([min(dist[i]) <= r_dc[i] for i in range(len(real))])
    return precision, recall, density, coverage


@pytest.mark.parametrize("n_real,n_gen,shift", [(40, 30, 0.5), (25, 45, 0.0), (30, 30, 2.0)])
def test_against_naive_loop(n_real, n_gen, shift):
    rng = np.random.default_rng(n_real + n_gen)
    real = rng.normal(size=(n_real, 4))
    gen = 1.3 * rng.normal(size=(n_gen, 4)) + shift
    p, r, d, c = naive_all(real, gen, 3, 5)
    assert precision_recall(real, gen, k=3) == (pytest.approx(p, abs=0), pytest.approx(r, abs=0))
    got = density_coverage(real, gen, k=5)
    assert got.density == pytest.approx(d, rel=1e-12)
    assert got.coverage == c


def test_small_blocks_give_the_same_result(monkeypatch):
    rng = np.random.default_rng(9)
    real, gen = rng.normal(size=(50, 3)), rng.normal(size=(37, 3))
    whole = precision_recall(real, gen), density_coverage(real, gen)
    monkeypatch.setattr(manifold, "_BLOCK_BYTES", 8 * 50 * 3)  # a few rows per block
    assert (precision_recall(real, gen), density_coverage(real, gen)) == whole


def test_closed_form_cases():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(60, 5))
    # identical sets: every sample is the centre of its own ball
    assert precision_recall(real, real) == (1.0, 1.0)
    assert density_coverage(real, real).coverage == 1.0
    # far apart sets: nothing inside
    far = real + 1e3
    assert precision_recall(real, far) == (0.0, 0.0)
    assert density_coverage(real, far) == (0.0, 0.0)
    # generated samples all duplicates of real[0]: perfect precision, the generated balls have radius 0
    # (duplicates are neighbours), so only real[0] is recalled; a real ball is covered iff it contains real[0]
    gen = np.repeat(real[:1], 10, axis=0)
    assert precision_recall(real, gen, k=3) == (1.0, 1 / 60)
    r5 = knn_radius(real, 5)
    covered = [float(np.linalg.norm(x - real[0])) <= r5[i] for i, x in enumerate(real)]
    assert density_coverage(real, gen, k=5).coverage == np.mean(covered)


def test_errors():
    x = np.zeros((5, 2))
    with pytest.raises(ValueError, match="k=5"):
        precision_recall(x, np.ones((10, 2)), k=5)
    with pytest.raises(ValueError, match="k must be"):
        density_coverage(np.zeros((10, 2)), x, k=0)
    with pytest.raises(ValueError, match="same dimension"):
        precision_recall(np.zeros((10, 2)), np.zeros((10, 3)))
    bad = np.zeros((10, 2))
    bad[4, 1] = np.nan
    with pytest.raises(ValueError, match="real_emb.*row index 4"):
        density_coverage(bad, np.zeros((10, 2)))
