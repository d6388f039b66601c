"""``motioneval demo --export-samples`` / ``--dataset-only`` and the demo's shared ground-truth memo."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from motioneval.data.dataset import MotionDataset
from motioneval.data.samples import SampleSet, load_samples
from motioneval.demo.dataset import DemoDatasetConfig, build_demo_dataset
from motioneval.demo.export import MDM_FRAMES, export_samples
from motioneval.representation.inverse import features_to_joints
from motioneval.representation.normalization import FeatureStats

TINY = DemoDatasetConfig(num_train=24, num_val=4, num_test=12, seed=5)


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    return build_demo_dataset(tmp_path_factory.mktemp("demo") / "dataset", TINY)


def test_export_writes_the_same_joints_three_ways(tiny_root, tmp_path):
    files = export_samples(tmp_path / "exp", tiny_root, repetitions=2, seed=4)
    assert set(files) == {"samples.npz", "samples", "results.npy"}
    ds = MotionDataset(tiny_root, "test")
    npz = SampleSet.load(files["samples.npz"])
    assert npz.kind == "joints" and npz.num_repetitions == 2 and npz.num_samples == len(ds)
    # ids are the split's items, each with one of its own captions and its own length in frames
    for row in range(npz.num_rows):
        info = ds.items[row % len(ds)]
        assert npz.ids[row] == info.id
        assert npz.captions[row] in [c.text for c in info.captions]
        assert list(npz.tokens[row]) == list(next(c.tokens for c in info.captions if c.text == npz.captions[row]))
        assert npz.lengths[row] == min(info.length, MDM_FRAMES)
    # repetitions are separate generations of the same prompts
    s = npz.num_samples
    assert npz.captions[:s] == npz.captions[s:]
    assert np.abs(npz.motions[:s] - npz.motions[s:]).max() > 1e-3

    folder = load_samples(files["samples"])
    mdm = load_samples(files["results.npy"], allow_pickle=True)
    for other in (folder, mdm):
        assert other.num_rows == npz.num_rows and other.num_repetitions == 2
        assert other.captions == npz.captions
        np.testing.assert_array_equal(other.lengths, npz.lengths)
        t = npz.max_frames
        np.testing.assert_array_equal(other.motions[:, :t], npz.motions)
        assert not other.motions[:, t:].any()
    assert folder.ids == npz.ids


def test_mdm_file_is_the_dict_mdm_writes(tiny_root, tmp_path):
    files = export_samples(tmp_path / "exp", tiny_root, repetitions=3, seed=1)
    with pytest.raises(ValueError):  # a pickle: refused without the explicit opt-in
        np.load(files["results.npy"])
    d = np.load(files["results.npy"], allow_pickle=True).item()
    assert set(d) == {"motion", "text", "lengths", "num_samples", "num_repetitions"}
    n = d["num_samples"]
    assert d["num_repetitions"] == 3 and isinstance(n, int) and isinstance(d["text"], list)
    assert d["motion"].shape == (3 * n, 22, 3, MDM_FRAMES) and d["motion"].dtype == np.float32
    # frames past each length are not zeros: the last pose is held, as a model keeps generating
    for row, length in enumerate(d["lengths"].tolist()):
        tail = d["motion"][row, :, :, length:]
        np.testing.assert_array_equal(tail, np.broadcast_to(d["motion"][row, :, :, length - 1: length], tail.shape))
    npz = SampleSet.load(files["samples.npz"])
    np.testing.assert_array_equal(d["motion"].transpose(0, 3, 1, 2)[:, : npz.max_frames] * (npz.motions != 0),
                                  npz.motions)
    assert pickle.loads(pickle.dumps(d))["text"] == npz.captions


def test_export_of_a_features_generator(tiny_root, tmp_path):
    files = export_samples(tmp_path / "exp", tiny_root, generator="noisy")
    npz = SampleSet.load(files["samples.npz"])
    assert npz.kind == "features" and npz.normalization == "dataset" and npz.motions.shape[-1] == 263
    folder = load_samples(files["samples"])
    assert folder.normalization == "dataset"
    np.testing.assert_array_equal(folder.motions, npz.motions)
    # MDM's joints: the dataset-denormalized features through features_to_joints, computed here independently
    stats = FeatureStats.load_dataset(tiny_root)
    d = np.load(files["results.npy"], allow_pickle=True).item()
    for row in (0, 5):
        n = int(npz.lengths[row])
        raw = (npz.motions[row, :n].astype(np.float64) * stats.std + stats.mean).astype(np.float32)
        np.testing.assert_allclose(d["motion"][row].transpose(2, 0, 1)[:n], features_to_joints(raw), atol=1e-5)
    with pytest.raises(ValueError, match="unknown demo generator"):
        export_samples(tmp_path / "x", tiny_root, generator="perfect")
    with pytest.raises(ValueError, match="repetitions"):
        export_samples(tmp_path / "x", tiny_root, repetitions=0)


def test_cli_dataset_only_and_export(tiny_root, tmp_path, capsys, monkeypatch):
    import shutil

    import motioneval.demo.dataset as demo_dataset
    from motioneval.cli.main import main

    built = []

    def tiny_build(root, config=TINY, **kw):  # the tiny configuration instead of the default 1,620 clips
        built.append(root)
        if not (root / "Mean.npy").exists():
            shutil.copytree(tiny_root, root)
        return root

    monkeypatch.setattr(demo_dataset, "build_demo_dataset", tiny_build)
    out = tmp_path / "demo_out"
    assert main(["demo", "--out", str(out), "--dataset-only"]) == 0
    assert capsys.readouterr().out.strip() == str(out / "dataset")
    assert main(["demo", "--out", str(out), "--export-samples", str(tmp_path / "mine"), "--export-generator",
                 "noisy", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    for name in ("samples.npz", "samples", "results.npy"):
        assert str(tmp_path / "mine" / name) in printed
    assert SampleSet.load(tmp_path / "mine" / "samples.npz").metadata["generator"] == "noisy"
    assert main(["demo", "--out", str(out), "--export-samples", str(tmp_path / "x"), "--export-repetitions",
                 "0"]) == 1
    assert "--export-repetitions must be >= 1" in capsys.readouterr().err
    assert built == [out / "dataset"] * 2


def test_ground_truth_memo_gives_the_numbers_of_separate_runs(tiny_root, torch_one_thread):
    """Two generators evaluated with the demo's shared ground-truth memo give exactly the numbers of two
    separate evaluations, and the second takes every ground-truth unit from the memo."""
    from motioneval.demo.generators import (
        CaptionIgnoringGenerator,
        GroundTruthResampler,
    )
    from motioneval.demo.run import GroundTruthMemo, demo_evaluator_dir
    from motioneval.evaluators.t2m import T2MEvaluator
    from motioneval.protocol.evaluate import Evaluation, evaluate

    evaluator = T2MEvaluator.load(demo_evaluator_dir(), device="cpu")
    settings = {"replications": 2, "pool_size": 4, "diversity_pairs": 4, "mm_replications": 0}
    memo = GroundTruthMemo()
    shared, separate = [], []
    for gen in (GroundTruthResampler(), CaptionIgnoringGenerator()):
        run = Evaluation(dataset=tiny_root, evaluator=evaluator, generator=gen, overrides=settings)
        run.cache = memo.bind(run.cache)
        before = memo.hits
        shared.append(run.score())
        gt_units = [u for u in run.units() if u.stage in GroundTruthMemo.GROUND_TRUTH_STAGES]
        assert memo.hits - before == (len(gt_units) if separate else 0)
        separate.append(evaluate(dataset=tiny_root, evaluator=evaluator, generator=gen, overrides=settings))
    for a, b in zip(shared, separate):
        assert a.settings["cache_dir"] is None
        for ra, rb in zip(a.rows, b.rows):
            assert ra.name == rb.name
            for metric in ra.metrics:
                assert ra[metric].values == rb[metric].values, (ra.name, metric)
