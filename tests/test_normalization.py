"""Dataset normalization statistics and the loaders for the shipped Mean/Std files."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from motioneval.representation.layout import FeatureLayout
from motioneval.representation.normalization import FeatureStats, dataset_statistics, group_average, renormalize

# the dataset's groups, written out from the spec (not from FeatureLayout)
H3D_GROUPS = [(0, 1), (1, 3), (3, 4), (4, 67), (67, 193), (193, 259), (259, 263)]


def _naive_stats(clips):
    """Per-dim mean and population std with plain Python sums, then std averaged per spec group."""
    rows = [row for clip in clips for row in clip.tolist()]
    n, dim = len(rows), len(rows[0])
    mean = [math.fsum(r[d] for r in rows) / n for d in range(dim)]
    std = [math.sqrt(math.fsum((r[d] - mean[d]) ** 2 for r in rows) / n) for d in range(dim)]
    for a, b in H3D_GROUPS:
        avg = math.fsum(std[a:b]) / (b - a)
        std[a:b] = [avg] * (b - a)
    return np.array(mean), np.array(std)


def test_matches_naive_loop_for_every_input_form():
    rng = np.random.default_rng(0)
    lengths = [7, 3, 12, 5]
    scales = rng.uniform(0.1, 3.0, size=263)
    clips = [(rng.normal(size=(n, 263)) * scales + 5.0).astype(np.float32) for n in lengths]
    mean, std = _naive_stats(clips)
    stats = dataset_statistics(clips)
    np.testing.assert_allclose(stats.mean, mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(stats.std, std, rtol=1e-12)
    padded = np.full((4, 12, 263), 1e6, np.float32)  # padding must be ignored
    for i, clip in enumerate(clips):
        padded[i, : len(clip)] = clip
    from_padded = dataset_statistics(padded, lengths=lengths)
    from_rows = dataset_statistics(np.concatenate(clips))
    for other in (from_padded, from_rows):
        np.testing.assert_allclose(other.mean, stats.mean, rtol=1e-13)
        np.testing.assert_allclose(other.std, stats.std, rtol=1e-13)
    assert stats.is_group_averaged() and not FeatureStats(stats.mean, np.asarray(stats.std) * scales).is_group_averaged()


def test_merging_blocks_is_accurate_for_a_large_offset():
    """Many frames (several internal blocks) with a large mean and tiny spread: no catastrophic cancellation."""
    layout = FeatureLayout(2)  # 23 dims
    rng = np.random.default_rng(1)
    clips = [1e4 + 1e-3 * rng.normal(size=(int(n), 23)) for n in rng.integers(150, 250, size=200)]
    stats = dataset_statistics(clips, layout=layout)
    allrows = np.concatenate(clips)
    assert len(allrows) > 2 * (1 << 14)
    exact_mean = np.array([math.fsum(col) / len(col) for col in allrows.T])
    exact_std = np.array([math.sqrt(math.fsum((col - m) ** 2) / len(col)) for col, m in zip(allrows.T, exact_mean)])
    np.testing.assert_allclose(stats.mean, exact_mean, rtol=1e-13)
    np.testing.assert_allclose(stats.std, group_average(exact_std, layout), rtol=1e-9)


def test_nonfinite_clips_named_or_skipped():
    rng = np.random.default_rng(2)
    clips = [rng.normal(size=(6, 263)) for _ in range(3)]
    clips[1][2, 100] = np.nan
    with pytest.raises(ValueError, match=r"'007975' \(#1\)"):
        dataset_statistics(clips, ids=["000001", "007975", "000003"])
    with pytest.warns(UserWarning, match="#1"):
        skipped = dataset_statistics(clips, skip_nonfinite=True)
    reference = dataset_statistics([clips[0], clips[2]])
    np.testing.assert_allclose(skipped.mean, reference.mean, rtol=1e-14)
    np.testing.assert_allclose(skipped.std, reference.std, rtol=1e-14)


def test_bad_inputs():
    with pytest.raises(ValueError, match="constant"):
        dataset_statistics([np.ones((10, 263))])
    with pytest.raises(ValueError, match="clip #1 has 251"):
        dataset_statistics([np.zeros((3, 263)), np.zeros((3, 251))])
    with pytest.raises(ValueError, match="lengths"):
        dataset_statistics(np.zeros((2, 5, 263)), lengths=[5])
    with pytest.raises(ValueError, match="at least 2"):
        dataset_statistics([np.zeros((1, 263))])


def test_shipped_statistics_are_group_averaged(data_dir):
    dataset = FeatureStats.load_dataset(data_dir / "HumanML3D")
    assert dataset.dim == 263 and len(dataset.sources) == 2
    std = np.asarray(dataset.std, dtype=np.float64)
    for a, b in H3D_GROUPS:  # constant within each group ...
        assert np.ptp(std[a:b]) == 0.0
    assert len({float(std[a]) for a, _ in H3D_GROUPS}) == len(H3D_GROUPS)  # ... and distinct between groups
    assert dataset.is_group_averaged() and np.allclose(group_average(std), std, rtol=1e-7, atol=0)
    assert not np.allclose(group_average(dataset.mean), dataset.mean)  # the mean stays per dim
    t2m = FeatureStats.load_evaluator(data_dir / "dataset", "t2m")
    kit = FeatureStats.load_evaluator(data_dir / "dataset", "kit")
    assert t2m.dim == 263 and kit.dim == 251 and t2m.is_group_averaged() and kit.is_group_averaged()
    # real features normalize to moderate values with the dataset's own statistics
    feats = np.load(data_dir / "HumanML3D" / "new_joint_vecs" / "012314.npy")
    z = dataset.normalize(feats)
    assert np.abs(z[:, :259]).mean() < 2.0
    np.testing.assert_allclose(renormalize(z, dataset, t2m), t2m.normalize(feats), rtol=1e-5, atol=1e-3)


def test_loaders_and_save(tmp_path):
    rng = np.random.default_rng(3)
    stats = FeatureStats(rng.normal(size=263), group_average(rng.uniform(0.5, 2, 263)), name="mine")
    paths = stats.save(tmp_path / "HumanML3D")
    assert [p.name for p in paths] == ["Mean.npy", "Std.npy"]
    assert not [p for p in (tmp_path / "HumanML3D").iterdir() if p.name.startswith(".")]
    loaded = FeatureStats.load_dataset(tmp_path / "HumanML3D")
    np.testing.assert_array_equal(loaded.mean, stats.mean)
    np.testing.assert_array_equal(loaded.std, stats.std)
    meta = tmp_path / "t2m" / "Comp_v6_KLD01" / "meta"
    stats.save(meta, mean_name="mean.npy", std_name="std.npy")
    for where in (meta.parent, meta):
        np.testing.assert_array_equal(FeatureStats.load_evaluator(where).std, stats.std)
    with pytest.raises(FileNotFoundError, match="t2m_mean.npy"):
        FeatureStats.load_evaluator(tmp_path)
    with pytest.raises(FileNotFoundError, match="Mean.npy"):
        FeatureStats.load_dataset(tmp_path)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "Mean.npy").write_bytes(b"\x93NUMPY truncated")
    np.save(tmp_path / "broken" / "Std.npy", np.ones(263))
    with pytest.raises(ValueError, match="Mean.npy"):
        FeatureStats.load_dataset(tmp_path / "broken")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert FeatureStats.load_dataset(tmp_path / "HumanML3D").name == "dataset:HumanML3D"


def test_repr_is_one_short_line():
    from motioneval.representation.normalization import FeatureStats

    stats = FeatureStats(np.zeros(263, np.float32), np.ones(263, np.float32), name="dataset",
                         sources={"/data/HumanML3D/Mean.npy": "ab", "/data/HumanML3D/Std.npy": "cd"})
    text = repr(stats)
    assert text == "FeatureStats(name='dataset', dim=263, sources: Mean.npy, Std.npy)"
    assert "in memory" in repr(FeatureStats(np.zeros(3), np.ones(3)))
