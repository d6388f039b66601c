"""MDM results.npy: explicit pickle opt-in, shape checks, repetition-major rows, conversion to features."""
from __future__ import annotations

import pathlib

import numpy as np
import pytest

from motioneval.data.mdm_results import (
    PickleRefusedError,
    joints_to_feature_samples,
    mdm_results_to_samples,
    read_mdm_results,
)
from motioneval.data.samples import SampleSet, SampleSetError


def results_dict(num_samples=3, reps=2, frames=30, joints=22, seed=0):
    rng = np.random.default_rng(seed)
    rows = num_samples * reps
    lengths = np.tile(rng.integers(10, frames + 1, size=num_samples), reps)
    lengths[0] = frames
    return {
        "motion": rng.normal(size=(rows, joints, 3, frames)).astype(np.float32),  # untrimmed past each length
        "text": [f"caption {i}" for i in range(num_samples)] * reps,
        "lengths": lengths,
        "num_samples": num_samples,
        "num_repetitions": reps,
    }


def save_results(path, results):
    np.save(path, results, allow_pickle=True)
    return path


class _Touch:
    """Unpickling this creates a file: stands in for arbitrary code in a hostile results.npy."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.target),))


def test_refuses_to_unpickle_without_opt_in(tmp_path):
    marker = tmp_path / "code_ran"
    results = results_dict()
    results["extra"] = _Touch(marker)
    path = save_results(tmp_path / "results.npy", results)
    with pytest.raises(PickleRefusedError) as info:
        read_mdm_results(path)
    message = str(info.value)
    assert "executes code" in message and "allow_pickle=True" in message and "--allow-pickle" in message
    assert str(path) in message
    assert not marker.exists()


def test_reads_rows_repetition_major_and_keeps_untrimmed_frames(tmp_path):
    results = results_dict(num_samples=3, reps=2, frames=30)
    path = save_results(tmp_path / "results.npy", results)
    s = read_mdm_results(path, allow_pickle=True)
    assert isinstance(s, SampleSet) and s.kind == "joints" and s.normalization == "raw"
    assert s.motions.shape == (6, 30, 22, 3) and s.num_samples == 3 and s.num_repetitions == 2
    assert s.ids == ["0", "1", "2"] * 2 and s.captions == results["text"]
    for row in range(6):
        length = results["lengths"][row]
        # row = repetition * num_samples + sample; (J, 3, F) -> (F, J, 3)
        # every sampled frame is kept, past the length too (the mdm preset feeds them to the evaluator)
        np.testing.assert_array_equal(s.motions[row], np.moveaxis(results["motion"][row], -1, 0))
        assert s.frames[row] == 30 and s.lengths[row] == length
    assert s.metadata["source"]["format"] == "mdm-results" and len(s.metadata["source"]["sha256"]) == 64
    np.testing.assert_array_equal(s.repetition(1).motions, s.motions[3:])


@pytest.mark.parametrize("change, fragment", [
    (lambda r: r.pop("lengths"), r"missing key\(s\) \['lengths'\]"),
    (lambda r: r.update(motion=r["motion"][:5]), "'motion' has 5 rows but num_samples \\* num_repetitions = 3 \\* 2"),
    (lambda r: r.update(motion=r["motion"][:, :20]), r"'motion' has shape \(6, 20, 3, 30\)"),
    (lambda r: r.update(motion=r["motion"][..., 0]), "expected \\(num_samples \\* num_repetitions, 22, 3, frames\\)"),
    (lambda r: r.update(text=r["text"][:5]), "'text' has 5 captions"),
    (lambda r: r.update(text=[1] * 6), "not a caption string"),
    (lambda r: r.update(lengths=np.full(6, 31)), r"> 30 frames stored: sample '0' \(row 0, repetition 0\): 31"),
    (lambda r: r.update(lengths=np.arange(5)), "one frame count per row"),
    (lambda r: r.update(num_repetitions=0), "'num_repetitions' must be a positive integer"),
    (lambda r: r.update(num_samples="3"), "'num_samples' must be a positive integer"),
    (lambda r: r.update(text=[f"c{i}" for i in range(6)]), "captions of row 3"),
])
def test_bad_contents_give_precise_errors(tmp_path, change, fragment):
    results = results_dict()
    change(results)
    path = save_results(tmp_path / "results.npy", results)
    with pytest.raises(ValueError, match=fragment) as info:
        read_mdm_results(path, allow_pickle=True)
    assert str(path) in str(info.value)


def test_nan_within_length_is_named(tmp_path):
    results = results_dict()
    results["motion"][4, 5, 1, 2] = np.nan  # row 4 = repetition 1, sample 1; frame 2 < its length
    with pytest.raises(SampleSetError, match=r"sample '1' \(row 4, repetition 1\)"):
        mdm_results_to_samples(results)


def test_not_a_results_dict(tmp_path):
    np.save(tmp_path / "plain.npy", np.zeros((2, 3)))
    with pytest.raises(ValueError, match="expected MDM's results dict"):
        read_mdm_results(tmp_path / "plain.npy", allow_pickle=True)
    (tmp_path / "junk.npy").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="cannot read"):
        read_mdm_results(tmp_path / "junk.npy", allow_pickle=True)
    with pytest.raises(FileNotFoundError):
        read_mdm_results(tmp_path / "none.npy", allow_pickle=True)


def test_conversion_to_features_matches_per_clip_processing(tmp_path, data_dir):
    from motioneval.representation.forward import joints_to_features

    real = np.load(data_dir / "HumanML3D" / "new_joints" / "012314.npy")  # (170, 22, 3)
    rng = np.random.default_rng(5)
    lengths = np.array([60, 170, 60, 97])  # two clips share a length: batched together
    frames = 180
    motion = np.zeros((4, 22, 3, frames), np.float32)
    clips = []
    for row, length in enumerate(lengths):
        start = rng.integers(0, 170 - length + 1)
        clip = real[start:start + length] + rng.normal(scale=0.01, size=(length, 22, 3)).astype(np.float32)
        clips.append(clip)
        motion[row, :, :, :length] = np.moveaxis(clip, 0, -1)
        motion[row, :, :, length:] = 7.0  # garbage past the length must not matter
    results = {"motion": motion, "text": ["a", "b", "a", "b"], "lengths": lengths, "num_samples": 2,
               "num_repetitions": 2}
    joints = mdm_results_to_samples(results)
    feats = joints_to_feature_samples(joints)
    assert feats.kind == "features" and feats.normalization == "raw"
    assert feats.lengths.tolist() == (lengths - 1).tolist() and feats.motions.shape == (4, 169, 263)
    assert feats.num_repetitions == 2 and feats.captions == joints.captions
    for row, clip in enumerate(clips):
        expected = joints_to_features(clip)
        np.testing.assert_array_equal(feats.motions[row, : lengths[row] - 1], expected)
        assert not feats.motions[row, lengths[row] - 1:].any()
    assert feats.metadata["converted"]["to"] == "features"
    with pytest.raises(ValueError, match="expected a joints sample set"):
        joints_to_feature_samples(feats)


def test_conversion_names_samples_on_failure():
    results = results_dict(num_samples=2, reps=1, frames=20)
    results["motion"][1] = 0.0  # every joint at the origin: no facing direction
    results["lengths"] = np.array([20, 20])
    with pytest.raises(ValueError, match=r"cannot convert sample\(s\) '1' \(row 1\) to features"):
        joints_to_feature_samples(mdm_results_to_samples(results))
