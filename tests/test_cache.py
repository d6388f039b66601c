"""The content-keyed atomic cache."""
from __future__ import annotations

import numpy as np

from motioneval.protocol.cache import Cache, canonical_json, content_key, hash_arrays


def test_keys_are_canonical_and_sensitive():
    a = content_key({"seed": 0, "preset": {"x": 1, "y": [1, 2]}})
    assert a == content_key({"preset": {"y": (1, 2), "x": np.int64(1)}, "seed": 0})
    assert a != content_key({"seed": 1, "preset": {"x": 1, "y": [1, 2]}})
    assert canonical_json({"b": 1, "a": 2}) == '{"a":2,"b":1}'
    x = np.arange(6, dtype=np.float32)
    assert hash_arrays(x) == hash_arrays(x.copy())
    assert hash_arrays(x) != hash_arrays(x.astype(np.float64))
    assert hash_arrays(x) != hash_arrays(x.reshape(2, 3))


def test_save_load_describe(tmp_path):
    cache = Cache(tmp_path)
    key = content_key({"k": 1})
    assert cache.load("emb", key) is None
    cache.save("emb", key, {"k": 1}, a=np.arange(3), b=np.ones((2, 2), np.float32))
    got = cache.load("emb", key)
    assert set(got) == {"a", "b"} and got["b"].dtype == np.float32
    assert cache.describe("emb", key) == {"k": 1}
    assert cache.entries("emb") == [cache.path("emb", key)]
    assert (cache.hits, cache.misses) == (1, 1)


def test_corrupt_entry_is_dropped(tmp_path):
    cache = Cache(tmp_path)
    key = content_key({"k": 2})
    cache.save("emb", key, a=np.arange(3))
    cache.path("emb", key).write_bytes(b"truncated")
    assert cache.load("emb", key) is None
    assert not cache.path("emb", key).exists()


def test_disabled_cache():
    cache = Cache(None)
    assert not cache.enabled
    assert cache.save("emb", "ab" * 32, a=np.arange(2)) is None
    assert cache.load("emb", "ab" * 32) is None


def test_sample_rows_are_stored_without_padding_and_restored_exactly():
    from motioneval.protocol.evaluate import _pack_rows, _unpack_rows

    rng = np.random.default_rng(0)
    lengths = np.array([5, 1, 7, 3])
    raw = rng.normal(size=(4, 7, 6)).astype(np.float32)
    raw[np.arange(7)[None, :] >= lengths[:, None]] = 0.0
    rows = _pack_rows(raw, lengths)
    assert rows.shape == (lengths.sum(), 6)
    np.testing.assert_array_equal(rows[:5], raw[0, :5])
    back = _unpack_rows({"rows": rows, "lengths": lengths, "frames": np.int64(7)})
    assert back.dtype == raw.dtype
    np.testing.assert_array_equal(back, raw)
    np.testing.assert_array_equal(_unpack_rows({"raw": raw, "lengths": lengths}), raw)
