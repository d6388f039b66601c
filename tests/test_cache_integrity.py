"""Cache integrity (issue 12): tampered entries are detected by path, moved aside and recomputed; keys
cover every input that changes a number (statistics, evaluator, compute settings)."""
from __future__ import annotations

import errno
import os
import shutil
import time
import zipfile

import numpy as np
import pytest

from motioneval.protocol import cache as cache_mod
from motioneval.protocol.cache import QUARANTINE, Cache, checksum_arrays, content_key


def _entry(cache: Cache, n: int, **arrays):
    parts = {"what": "test", "n": n}
    key = content_key(parts)
    arrays = arrays or {"a": np.arange(n + 3, dtype=np.float32)}
    cache.save("emb", key, parts, **arrays)
    return key, arrays


def _assert_rejected(cache: Cache, key: str, caplog) -> None:
    path = cache.path("emb", key)
    with caplog.at_level("WARNING"):
        assert cache.load("emb", key) is None
    assert not path.exists()
    assert any(str(path) in p for p in cache.problems), cache.problems
    assert str(path) in caplog.text
    assert list((cache.root / QUARANTINE).iterdir())
    # the rerun recomputes: saving again works and the next load is verified and returned
    cache.save("emb", key, {"what": "test", "n": 0} if key == content_key({"what": "test", "n": 0}) else None,
               a=np.zeros(2))


def test_round_trip_is_verified(tmp_path):
    cache = Cache(tmp_path)
    key, arrays = _entry(cache, 1, a=np.arange(4.0), b=np.ones((2, 3), np.float32))
    got = cache.load("emb", key)
    assert set(got) == {"a", "b"}
    np.testing.assert_array_equal(got["b"], arrays["b"])
    assert cache.problems == [] and cache.verify() == []


def test_file_copied_over_another_is_detected(tmp_path, caplog):
    cache = Cache(tmp_path)
    k1, _ = _entry(cache, 1)
    k2, _ = _entry(cache, 2)
    shutil.copyfile(cache.path("emb", k1), cache.path("emb", k2))
    _assert_rejected(cache, k2, caplog)
    assert "copied" in cache.problems[0]
    assert cache.load("emb", k1) is not None  # the original is untouched


def test_same_key_other_kind_is_detected(tmp_path, caplog):
    cache = Cache(tmp_path)
    k1, _ = _entry(cache, 1)
    target = cache.path("samples", k1)
    target.parent.mkdir(parents=True)
    shutil.copyfile(cache.path("emb", k1), target)
    assert cache.load("samples", k1) is None and "kind" in cache.problems[0]


def _rewrite_member(path, name, array):
    """Replace one array in an entry, keeping its stored header (so the checksum no longer matches)."""
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays[name] = array
    np.savez(path, **arrays)


@pytest.mark.parametrize("change", ["shape", "dtype", "values"])
def test_edited_arrays_are_detected(tmp_path, caplog, change):
    cache = Cache(tmp_path)
    key, arrays = _entry(cache, 3)
    a = arrays["a"]
    edited = {"shape": a.reshape(2, 3), "dtype": a.astype(np.float64), "values": a + 1e-7}[change]
    _rewrite_member(cache.path("emb", key), "a", edited)
    _assert_rejected(cache, key, caplog)
    assert "checksum" in cache.problems[0]


def test_edited_description_is_detected(tmp_path, caplog):
    cache = Cache(tmp_path)
    key, _ = _entry(cache, 3)
    text = b'{"n":4,"what":"test"}'
    _rewrite_member(cache.path("emb", key), "__key__", np.frombuffer(text, np.uint8))
    _assert_rejected(cache, key, caplog)


def test_header_bytes_edited_in_place_are_detected(tmp_path, caplog):
    cache = Cache(tmp_path)
    key, _ = _entry(cache, 5)  # shape (8,)
    path = cache.path("emb", key)
    raw = path.read_bytes()
    assert b"'shape': (8,)" in raw
    path.write_bytes(raw.replace(b"'shape': (8,)", b"'shape': (4,)", 1))
    _assert_rejected(cache, key, caplog)


def test_unsupported_compression_byte_is_detected(tmp_path, caplog):
    cache = Cache(tmp_path)
    key, _ = _entry(cache, 6)
    path = cache.path("emb", key)
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
    for info in infos:  # local header: method at offset 8; central directory record: method at offset 10
        raw[info.header_offset + 8] = 99
    central = raw.find(b"PK\x01\x02")
    raw[central + 10] = 99
    path.write_bytes(bytes(raw))
    _assert_rejected(cache, key, caplog)


def test_truncated_and_empty_entries(tmp_path, caplog):
    cache = Cache(tmp_path)
    key, _ = _entry(cache, 7)
    cache.path("emb", key).write_bytes(b"")
    _assert_rejected(cache, key, caplog)


def test_directory_in_place_of_an_entry(tmp_path, caplog):
    cache = Cache(tmp_path)
    parts = {"what": "test", "n": 0}
    key = content_key(parts)
    path = cache.path("emb", key)
    (path / "inner").mkdir(parents=True)
    assert cache.load("emb", key) is None and not path.exists()
    assert "folder" in cache.problems[0] and str(path) in cache.problems[0]
    (path / "inner").mkdir(parents=True)  # and a save over a folder moves it aside too
    assert cache.save("emb", key, parts, a=np.arange(2)) == path
    np.testing.assert_array_equal(cache.load("emb", key)["a"], np.arange(2))


def test_entry_without_header_from_an_older_version(tmp_path, caplog):
    cache = Cache(tmp_path)
    key = content_key({"what": "old"})
    path = cache.path("emb", key)
    path.parent.mkdir(parents=True)
    np.savez(path, a=np.arange(3), __key__=np.frombuffer(b'{"what":"old"}', np.uint8))
    _assert_rejected(cache, key, caplog)


def test_verify_walks_every_entry(tmp_path):
    cache = Cache(tmp_path)
    keys = [_entry(cache, n)[0] for n in range(4)]
    shutil.copyfile(cache.path("emb", keys[0]), cache.path("emb", keys[3]))
    problems = cache.verify()
    assert len(problems) == 1 and str(cache.path("emb", keys[3])) in problems[0]
    assert len(cache.entries()) == 3


def test_stale_temporary_files_are_cleaned(tmp_path):
    cache = Cache(tmp_path)
    key, _ = _entry(cache, 1)
    folder = cache.path("emb", key).parent
    old, young = folder / f".{key}.npz.abc.tmp", folder / f".{key}.npz.def.tmp"
    old.write_bytes(b"half")
    young.write_bytes(b"half")
    past = time.time() - cache_mod.TEMP_MAX_AGE_S - 60
    os.utime(old, (past, past))
    Cache(tmp_path)  # opening the cache cleans
    assert not old.exists() and young.exists()  # a young one may belong to a concurrent writer


def test_cache_root_that_is_a_file(tmp_path):
    f = tmp_path / "cache"
    f.write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file"):
        Cache(f)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_failed_write_is_a_warning_and_keeps_the_numbers(tmp_path, monkeypatch, caplog, code):
    cache = Cache(tmp_path)

    def full(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(cache_mod, "atomic_save_npz", full)
    with caplog.at_level("WARNING"):
        assert cache.save("emb", content_key({"n": 1}), {"n": 1}, a=np.arange(2)) is None
        assert cache.save("emb", content_key({"n": 2}), {"n": 2}, a=np.arange(2)) is None
    assert len(cache.problems) == 1 and "numbers are unaffected" in cache.problems[0]


def test_checksum_sensitive_to_names_and_bytes():
    a = {"x": np.arange(3), "y": np.zeros(2)}
    assert checksum_arrays(a) == checksum_arrays({"y": np.zeros(2), "x": np.arange(3)})
    assert checksum_arrays(a) != checksum_arrays({"x": np.arange(3), "z": np.zeros(2)})
    assert checksum_arrays(a) != checksum_arrays({"x": np.arange(3), "y": np.zeros(3)[:2] + 1e-300})


# ------------------------------------------------------------------------------------- keys, end to end
pytest.importorskip("motioneval.metrics.frechet")

from motioneval.protocol.evaluate import Evaluation, compute_settings, evaluate  # noqa: E402
from motioneval.representation.normalization import FeatureStats  # noqa: E402
from motioneval.testing import ToyEvaluator, ToyGenerator, write_toy_dataset  # noqa: E402

SETTINGS = {"preset": "t2m", "chunk_size": 64, "seed": 5, "replications": 2, "mm_replications": 0,
            "diversity_pairs": 40, "diversity_pairs_small": None}


class FolderStatsGenerator:
    """Dataset-normalized output de-normalized with the dataset folder's Mean.npy/Std.npy (no own stats)."""

    kind = "features"
    normalization = "dataset"
    name = "folderstats"
    version = "1"

    def __init__(self, stats: FeatureStats) -> None:
        self._inner = ToyGenerator(stats)

    def generate(self, captions, lengths, seed):
        return self._inner.generate(captions, lengths, seed)


def _rows(result):
    return [(r.name, {k: (m.mean, m.ci95) for k, m in r.metrics.items()}) for r in result.rows]


@pytest.fixture()
def toy(tmp_path):
    root = write_toy_dataset(tmp_path / "HumanML3D", num_clips=70, seed=4)
    stats = FeatureStats.load(root / "Mean.npy", root / "Std.npy", name="dataset")
    return root, stats


def test_changing_dataset_std_changes_cached_numbers_like_a_fresh_run(toy, tmp_path):
    root, stats = toy
    ev = ToyEvaluator(FeatureStats(stats.mean, stats.std * 1.1, name="evaluator"))
    gen = FolderStatsGenerator(stats)  # always emits the same normalized features
    cache = tmp_path / "cache"
    first = evaluate(dataset=root, evaluator=ev, generator=gen, cache_dir=cache, **SETTINGS)
    np.save(root / "Std.npy", (stats.std * 1.5).astype(np.float32))
    cached = evaluate(dataset=root, evaluator=ev, generator=gen, cache_dir=cache, **SETTINGS)
    fresh = evaluate(dataset=root, evaluator=ev, generator=gen, **SETTINGS)
    assert _rows(cached) == _rows(fresh)
    assert _rows(cached) != _rows(first)


def test_tampered_entries_in_a_run_are_recomputed_to_the_same_numbers(toy, tmp_path, caplog):
    root, stats = toy
    kw = {"dataset": root, "evaluator": ToyEvaluator(stats), "cache_dir": tmp_path / "cache", **SETTINGS}
    first = evaluate(generator=ToyGenerator(stats), **kw)
    entries = Cache(tmp_path / "cache").entries()
    shutil.copyfile(entries[0], entries[1])  # a file copied over another
    _rewrite_member(entries[2], "lengths", np.load(entries[2])["lengths"] + 1)  # edited values
    entries[3].unlink()
    entries[3].mkdir()  # a folder in its place
    with caplog.at_level("WARNING"):
        again = evaluate(generator=ToyGenerator(stats), **kw)
    assert _rows(again) == _rows(first)
    for path in entries[1:4]:
        assert str(path) in caplog.text
    with caplog.at_level("WARNING"):
        caplog.clear()
        third = evaluate(generator=ToyGenerator(stats), **kw)
    assert _rows(third) == _rows(first) and "invalid" not in caplog.text  # repaired, no repeated failure


def test_changing_evaluator_statistics_changes_keys(toy):
    root, stats = toy
    kw = {"dataset": root, "generator": ToyGenerator(stats), "preset": "t2m",
          "overrides": {"mm_replications": 0, "diversity_pairs": 40, "diversity_pairs_small": None}}
    a = Evaluation(evaluator=ToyEvaluator(stats), **kw)
    b = Evaluation(evaluator=ToyEvaluator(FeatureStats(stats.mean, stats.std * 2, name="e")), **kw)
    for unit in a.units([0])[:3] + [u for u in a.units([0]) if u.stage == "generated"][:1]:
        assert a.embedding_key(unit)[0] != b.embedding_key(unit)[0]


def test_another_evaluator_reuses_the_cached_samples_of_a_dataset_normalized_generator(toy, tmp_path):
    root, stats = toy
    cache = tmp_path / "cache"
    evaluate(dataset=root, evaluator=ToyEvaluator(stats), generator=ToyGenerator(stats), cache_dir=cache, **SETTINGS)
    other = ToyEvaluator(FeatureStats(stats.mean, stats.std * 2, name="other"), seed=1)
    gen = ToyGenerator(stats)
    cached = evaluate(dataset=root, evaluator=other, generator=gen, cache_dir=cache, **SETTINGS)
    assert gen.calls == 0  # motions come from the cache; only the embeddings are recomputed
    fresh = evaluate(dataset=root, evaluator=other, generator=ToyGenerator(stats), **SETTINGS)
    assert _rows(cached) == _rows(fresh)


def test_thread_count_is_in_the_key_of_torch_cpu_evaluators():
    torch = pytest.importorskip("torch")

    class FakeTorchEvaluator:
        device = torch.device("cpu")

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = compute_settings(FakeTorchEvaluator())
        torch.set_num_threads(2)
        two = compute_settings(FakeTorchEvaluator())
    finally:
        torch.set_num_threads(before)
    assert one["torch_threads"] == 1 and two["torch_threads"] == 2
    assert content_key(one) != content_key(two)
    FakeTorchEvaluator.device = torch.device("cuda", 1)
    cuda = compute_settings(FakeTorchEvaluator())
    assert cuda["device"] == "cuda" and "torch_threads" not in cuda  # ranks on cuda:0/cuda:1 share keys
    assert "torch" not in compute_settings(ToyEvaluator(FeatureStats(np.zeros(3), np.ones(3), name="x")))


def test_result_records_the_compute_settings(toy, tmp_path):
    root, stats = toy
    result = evaluate(dataset=root, evaluator=ToyEvaluator(stats), generator=ToyGenerator(stats), **SETTINGS)
    assert result.to_dict()["settings"]["compute"]["evaluator_class"].endswith("ToyEvaluator")


@pytest.mark.slow
def test_resume_with_another_thread_count_recomputes_and_says_so(toy, tmp_path):
    """Torch CPU embeddings can change in the last bits with the thread count (observed: 1e-6 on a 512-wide
    evaluator), so the thread count is in the embedding keys: a resumed run at another count recomputes and
    gives exactly the numbers of a fresh run at that count; the result records it."""
    torch = pytest.importorskip("torch")
    from motioneval.testing import write_toy_evaluator

    root, stats = toy
    evaluator = write_toy_evaluator(tmp_path / "evaluator", root)
    kw = dict(SETTINGS, replications=1, dataset=root, evaluator=evaluator, device="cpu")
    cache = tmp_path / "cache"
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        evaluate(generator=ToyGenerator(stats), cache_dir=cache, **kw)
        n_entries = len(list(cache.rglob("*.npz")))
        torch.set_num_threads(2)
        resumed = Evaluation(generator=ToyGenerator(stats), cache_dir=cache,
                             **{k: v for k, v in kw.items() if k not in SETTINGS},
                             preset="t2m", chunk_size=64, seed=5,
                             overrides={k: v for k, v in kw.items() if k in SETTINGS and k not in
                                        ("preset", "chunk_size", "seed")})
        assert not any(resumed.is_cached(u) for u in resumed.units())  # nothing mixes across thread counts
        result = resumed.score()
        fresh = evaluate(generator=ToyGenerator(stats), **kw)
    finally:
        torch.set_num_threads(before)
    assert result.to_dict()["settings"]["compute"]["torch_threads"] == 2
    assert _rows(result) == _rows(fresh)
    assert len(list(cache.rglob("*.npz"))) > n_entries
