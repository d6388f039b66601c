"""The guarded .npy/.npz reader: numpy.load's results, an ast-free header parser, size limits before any read,
no pickles without opt-in, and thread safety where plain numpy.load fails (CPython 3.11.0-3.11.7)."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import motioneval
from motioneval import _npio
from motioneval._npio import ArrayFileError, ArrayTooLargeError

ARRAYS = {
    "f4_2d": np.arange(12, dtype=np.float32).reshape(3, 4),
    "f8_fortran": np.asfortranarray(np.arange(24, dtype=np.float64).reshape(2, 3, 4)),
    "scalar": np.array(3.5),
    "empty": np.zeros((0, 263), dtype=np.float32),
    "big_endian": np.arange(5, dtype=">i4"),
    "bool": np.array([True, False, True]),
    "complex": np.array([1 + 2j, -3j], dtype=np.complex64),
    "unicode": np.array(["walk", "jump"]),
    "datetime": np.array(["2026-11-29", "2000-01-01"], dtype="datetime64[D]"),
    "structured": np.array([(1, 2.0, "a")], dtype=[("id", "<i8"), ("v", "<f4", (2,)), ("s", "<U3")]),
    "noncontig": np.arange(20, dtype=np.int16).reshape(4, 5)[:, ::2],
}


def _same(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", sorted(ARRAYS))
def test_npy_matches_numpy_load(tmp_path, name):
    path = tmp_path / f"{name}.npy"
    np.save(path, ARRAYS[name])
    got = _npio.load(path)
    _same(got, np.load(path))
    assert got.flags.f_contiguous == np.load(path).flags.f_contiguous
    with open(path, "rb") as fh:
        _same(_npio.load(fh), ARRAYS[name])
    if ARRAYS[name].size:
        mm = _npio.load(path, mmap_mode="r")
        assert isinstance(mm, np.memmap)
        _same(np.asarray(mm), ARRAYS[name])


@pytest.mark.parametrize("version", [(1, 0), (2, 0), (3, 0)])
def test_every_format_version(tmp_path, version):
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    path = tmp_path / "v.npy"
    with open(path, "wb") as fh:
        np.lib.format.write_array(fh, a, version=version)
    _same(_npio.load(path), a)


def test_npz_members_and_context(tmp_path):
    path = tmp_path / "a.npz"
    np.savez_compressed(path, **ARRAYS)
    with _npio.load(path) as z, np.load(path) as ref:
        assert z.files == ref.files and set(z) == set(ARRAYS) and "f4_2d" in z and len(z) == len(ARRAYS)
        for key in ARRAYS:
            _same(z[key], ref[key])
        _same(z["scalar.npy"], ref["scalar"])
        with pytest.raises(KeyError, match="missing"):
            z["missing"]


@pytest.mark.parametrize("descr", ["'<f4'", "[('a', '<f4'), ('b', '<i8', (2,))]", '"<f8"'])
def test_header_parser_agrees_with_literal_eval(descr):
    import ast

    text = "{'descr': " + descr + ", 'fortran_order': False, 'shape': (3, 4L), }   \n"
    assert _npio.parse_header_text(text) == ast.literal_eval(text.replace("4L", "4"))


@pytest.mark.parametrize("bad", ["{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'extra': 1}",
                                 "{'descr': '<f4', 'fortran_order': 0, 'shape': (3,)}",
                                 "{'descr': '<f4', 'fortran_order': False, 'shape': (-3,)}",
                                 "{'descr': 'nonsense', 'fortran_order': False, 'shape': (3,)}",
                                 "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)",
                                 "__import__('os')"])
def test_bad_headers_are_refused_with_the_file_name(tmp_path, bad):
    path = tmp_path / "bad.npy"
    header = bad.encode("latin1") + b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + b"\0" * 64)
    with pytest.raises(ArrayFileError, match="bad.npy"):
        _npio.load(path)


def test_deeply_nested_header_is_refused(tmp_path):
    path = tmp_path / "deep.npy"
    text = ("{'descr': " + "[" * 4000 + "]" * 4000 + ", 'fortran_order': False, 'shape': (1,), }").encode() + b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text)
    with pytest.raises(ArrayFileError, match="deep.npy"):
        _npio.load(path)


def test_escaped_header_falls_back_to_numpys_parser(tmp_path):
    a = np.zeros(2, dtype=[("it's", "<f4")])  # numpy writes the field name as "it's" or 'it\'s'
    path = tmp_path / "q.npy"
    np.save(path, a)
    _same(_npio.load(path), a)
    fields = "[('a\\\\b', '<f4')]"  # a backslash escape: handed to the locked literal_eval
    text = ("{'descr': " + fields + ", 'fortran_order': False, 'shape': (2,), }").encode() + b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + b"\0" * 8)
    assert _npio.load(path).dtype.names == ("a\\b",)


def _declare(path, shape, dtype="<f8"):
    text = f"{{'descr': '{dtype}', 'fortran_order': False, 'shape': {tuple(shape)!r}, }}".encode() + b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + b"\0" * 16)  # 16 data bytes


def test_size_limit_before_reading(tmp_path):
    path = tmp_path / "huge.npy"
    _declare(path, (10**6, 10**6))  # 8 TB declared, 16 bytes present
    with pytest.raises(ArrayTooLargeError) as info:
        _npio.load(path)
    msg = str(info.value)
    assert "huge.npy" in msg and "8,000,000,000,000 bytes" in msg and _npio.ENV_MAX_BYTES in msg
    with pytest.raises(ArrayTooLargeError):
        _npio.load(path, mmap_mode="r")
    small = tmp_path / "small.npy"
    np.save(small, np.zeros(100))  # 800 bytes
    with pytest.raises(ArrayTooLargeError, match="800 bytes"):
        _npio.load(small, max_bytes=799)
    _same(_npio.load(small, max_bytes=800), np.zeros(100))
    previous = _npio.set_max_array_bytes(10)
    try:
        with pytest.raises(ArrayTooLargeError, match="limit of 10 bytes"):
            _npio.load(small)
    finally:
        _npio.set_max_array_bytes(previous)
    with pytest.raises(ValueError):
        _npio.set_max_array_bytes(0)


def test_size_limit_names_the_npz_member(tmp_path):
    path = tmp_path / "s.npz"
    np.savez(path, ok=np.zeros(2), big=np.zeros(1000))
    with _npio.load(path, max_bytes=100) as z:
        _same(z["ok"], np.zeros(2))
        with pytest.raises(ArrayTooLargeError, match=r"s\.npz\[big\.npy\].*8,000 bytes"):
            z["big"]


def test_limit_from_the_environment(monkeypatch):
    monkeypatch.setenv(_npio.ENV_MAX_BYTES, "1e6")
    assert _npio._env_limit() == 10**6
    monkeypatch.setenv(_npio.ENV_MAX_BYTES, "lots")
    with pytest.raises(ValueError, match=_npio.ENV_MAX_BYTES):
        _npio._env_limit()
    monkeypatch.delenv(_npio.ENV_MAX_BYTES)
    assert _npio._env_limit() == 8 * 1024**3


def test_truncated_data_is_named(tmp_path):
    path = tmp_path / "cut.npy"
    _declare(path, (10,))  # 80 bytes declared, 16 present
    with pytest.raises(ArrayFileError, match="cut.npy.*truncated"):
        _npio.load(path)
    with pytest.raises(ArrayFileError, match="truncated"):
        _npio.load(path, mmap_mode="r")
    path.write_bytes(b"\x93NUMPY\x01\x00\x50")
    with pytest.raises(ArrayFileError, match="truncated"):
        _npio.load(path)


def test_pickles_only_with_opt_in(tmp_path):
    obj = np.empty(1, dtype=object)
    obj[0] = {"motion": [1, 2]}
    path = tmp_path / "results.npy"
    np.save(path, obj, allow_pickle=True)
    with pytest.raises(ArrayFileError, match="allow_pickle=True"):
        _npio.load(path)
    assert _npio.load(path, allow_pickle=True)[0] == {"motion": [1, 2]}
    npz = tmp_path / "o.npz"
    np.savez(npz, o=obj)
    with _npio.load(npz) as z, pytest.raises(ArrayFileError, match=r"o\.npz\[o\.npy\].*allow_pickle"):
        z["o"]
    raw = tmp_path / "plain.pkl"
    import pickle

    raw.write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(ArrayFileError, match="neither a .npy nor a .npz"):
        _npio.load(raw)
    assert _npio.load(raw, allow_pickle=True) == [1, 2]
    junk = tmp_path / "junk.npy"
    junk.write_bytes(b"not numpy")
    with pytest.raises(ArrayFileError, match="junk.npy"):
        _npio.load(junk, allow_pickle=True)


def test_no_np_load_left_in_the_package():
    """Every read goes through the guarded loader (the module docstring of ``_npio`` promises it)."""
    import motioneval

    root = os.path.dirname(motioneval.__file__)
    offenders = []
    for folder, _, names in os.walk(root):
        for name in names:
            if name.endswith(".py") and name != "_npio.py":
                text = open(os.path.join(folder, name), encoding="utf-8").read()
                for i, line in enumerate(text.splitlines(), 1):
                    code = line.split("#")[0]
                    if ("np.load(" in code or "numpy.load(" in code) and "``" not in code:
                        offenders.append(f"{name}:{i}: {line.strip()}")
    assert not offenders, "use motioneval._npio.load instead of np.load:\n" + "\n".join(offenders)


# ----------------------------------------------------------------------------------------- thread safety
AFFECTED = (3, 11, 0) <= sys.version_info[:3] < (3, 11, 8)
STRESS = Path(__file__).with_name("thread_stress.py")


def _stress(loader: str, rounds: int) -> dict:
    """``tests/thread_stress.py`` in a fresh interpreter (8 threads x 32 files x rounds)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(motioneval.__file__).parents[1]),
                                                        os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, str(STRESS), loader, str(rounds)], capture_output=True, text=True,
                         env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.skipif(not AFFECTED, reason="this Python's ast is thread-safe: plain numpy.load cannot fail this way")
def test_plain_numpy_load_fails_under_threads_on_this_python():
    """The bug exists here: plain ``np.load`` reports a good file as unreadable. Whether one run of the stress
    script provokes it depends on where the collector happens to hand over the GIL; on CPython 3.11.7 about every
    other run of 100 rounds did, so up to 20 runs are made (stopping at the first failure)."""
    seen = []
    for _ in range(20):
        out = _stress("numpy", rounds=150)
        seen.append(out["loads"])
        if out["errors"]:
            break
    assert any("recursion depth mismatch" in e for e in out["errors"]), f"no failure in {len(seen)} runs: {seen}"


def test_guarded_loader_is_thread_safe():
    """The same stress (8 threads at different stack depths, 25,600 loads), and every value checked."""
    out = _stress("guarded", rounds=100)
    assert out["errors"] == [] and out["loads"] == 8 * 32 * 100, out


def test_guarded_npz_from_threads(tmp_path):
    arrays = [np.full((3,) * (1 + i % 3), i, dtype=[np.float32, np.int64][i % 2]) for i in range(16)]
    npz = tmp_path / "all.npz"
    np.savez(npz, **{f"a{i}": a for i, a in enumerate(arrays)})
    errors = []

    def work():
        for _ in range(20):
            with _npio.load(npz) as z:
                for i, a in enumerate(arrays):
                    got = z[f"a{i}"]
                    if got.dtype != a.dtype or not np.array_equal(got, a):
                        errors.append(i)

    pool = [threading.Thread(target=work) for _ in range(4)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []


def test_file_objects_and_bytes(tmp_path):
    buf = io.BytesIO()
    np.save(buf, ARRAYS["f4_2d"])
    buf.seek(0)
    _same(_npio.load(buf), ARRAYS["f4_2d"])
