"""Sample files are written compressed (deflate); uncompressed files (numpy.savez, older motioneval) still read."""
from __future__ import annotations

import zipfile

import numpy as np
import pytest

from motioneval._io import atomic_save_npz, atomic_save_npz_compressed
from motioneval.data.samples import SampleSet


def _mdm_like(rows: int = 160, frames: int = 196, dim: int = 263, seed: int = 0) -> SampleSet:
    """Raw features as `convert --to-features` makes them from MDM's results.npy: lengths 40..196 frames
    (zero past each length), smooth channels plus four 0/1 foot contacts."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(40, frames + 1, size=rows)
    t = np.arange(frames)[None, :, None] / 20.0
    phase = rng.uniform(0, 2 * np.pi, size=(rows, 1, dim - 4))
    smooth = np.sin(2 * np.pi * 0.7 * t + phase) + 0.01 * rng.standard_normal((rows, frames, dim - 4))
    contacts = (np.sin(2 * np.pi * 1.1 * t + rng.uniform(0, 6, size=(rows, 1, 4))) > 0).astype(np.float64)
    motions = np.concatenate([smooth, contacts], axis=-1).astype(np.float32)
    motions[np.arange(frames)[None, :] >= lengths[:, None]] = 0.0
    return SampleSet(captions=[f"a person walks {i}" for i in range(rows)], lengths=lengths, motions=motions,
                     kind="features", normalization="raw")


def test_sample_files_are_compressed_and_padding_costs_almost_nothing(tmp_path):
    s = _mdm_like()
    path = s.save(tmp_path / "samples.npz")
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo("motions.npy").compress_type == zipfile.ZIP_DEFLATED
    raw_bytes = s.motions.nbytes
    valid_bytes = int(s.lengths.sum()) * s.motions.shape[-1] * 4
    size = path.stat().st_size
    # the uncompressed file (what was written before) is the whole padded array
    old = tmp_path / "old.npz"
    atomic_save_npz(old, motions=s.motions, lengths=s.lengths)
    assert old.stat().st_size > raw_bytes
    # compressed: at most the bytes of the valid frames (the zero padding vanishes, float noise stays)
    assert size < valid_bytes, (size, valid_bytes, raw_bytes)
    assert size < 0.75 * old.stat().st_size
    back = SampleSet.load(path)
    np.testing.assert_array_equal(back.motions, s.motions)
    np.testing.assert_array_equal(back.lengths, s.lengths)
    assert back.captions == s.captions


def test_uncompressed_sample_files_still_read(tmp_path):
    s = _mdm_like(rows=12)
    path = s.save(tmp_path / "new.npz")
    with zipfile.ZipFile(path) as zf:  # the same members, stored as numpy.savez stores them
        members = {name[:-4]: np.load(zf.open(name), allow_pickle=False) for name in zf.namelist()}
    old = tmp_path / "old.npz"
    np.savez(old, **members)
    with zipfile.ZipFile(old) as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_STORED}
    a, b = SampleSet.load(path), SampleSet.load(old)
    np.testing.assert_array_equal(a.motions, b.motions)
    assert a.ids == b.ids and a.normalization == b.normalization


def test_compressed_writer_refuses_object_arrays_and_round_trips_with_numpy(tmp_path):
    with pytest.raises(TypeError, match="dtype object"):
        atomic_save_npz_compressed(tmp_path / "x.npz", bad=np.array([{"a": 1}], dtype=object))
    assert not (tmp_path / "x.npz").exists()
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    atomic_save_npz_compressed(tmp_path / "y.npz", x=x, n=np.int64(3))
    with np.load(tmp_path / "y.npz", allow_pickle=False) as npz:
        np.testing.assert_array_equal(npz["x"], x)
        assert int(npz["n"]) == 3
