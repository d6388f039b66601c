"""Atomic file writes, content hashing and text reading, shared by every layer that reads or writes files.

A write goes to a temporary file in the destination folder, is flushed and fsync'ed, then renamed over
the target (``os.replace`` is atomic on POSIX and Windows), so a reader or a resumed run never sees a
half-written file, even after ``kill -9``.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

PathLike = str | os.PathLike

# Read once at import: os.umask can only be read by setting it, which is not thread-safe.
_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write_bytes(path: PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; create parent folders. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def atomic_write_text(path: PathLike, text: str) -> Path:
    """Write UTF-8 text atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: PathLike, obj: Any, *, indent: int = 2) -> Path:
    """Write ``obj`` as JSON atomically (numpy scalars and arrays are converted)."""
    return atomic_write_text(path, json.dumps(obj, indent=indent, default=json_default) + "\n")


def atomic_save_npz(path: PathLike, **arrays: Any) -> Path:
    """``numpy.savez`` atomically; object arrays are refused so that files load without pickle."""
    buf = io.BytesIO()
    for name, value in arrays.items():
        if np.asarray(value).dtype == object:
            raise TypeError(f"array {name!r} has dtype object; refusing to write a pickle into {path}")
    np.savez(buf, **arrays)
    return atomic_write_bytes(path, buf.getvalue())


#: zlib level of :func:`atomic_save_npz_compressed`: 1 is about twice as fast as numpy's default (6) on
#: motion features and only a few percent larger; zero padding shrinks to almost nothing at any level.
NPZ_COMPRESSLEVEL = 1


def atomic_save_npz_compressed(path: PathLike, **arrays: Any) -> Path:
    """``numpy.savez_compressed`` atomically (deflated ``.npy`` members, readable by ``numpy.load`` and
    :func:`motioneval._npio.load`), at zlib level :data:`NPZ_COMPRESSLEVEL`; object arrays are refused."""
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, allowZip64=True, compresslevel=NPZ_COMPRESSLEVEL) as zf:
        for name, value in arrays.items():
            arr = np.asanyarray(value)
            if arr.dtype == object:
                raise TypeError(f"array {name!r} has dtype object; refusing to write a pickle into {path}")
            with zf.open(f"{name}.npy", "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, arr, allow_pickle=False)
    return atomic_write_bytes(path, buf.getvalue())


def atomic_save_npy(path: PathLike, array: Any) -> Path:
    """``numpy.save`` atomically, without pickle."""
    buf = io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=False)
    return atomic_write_bytes(path, buf.getvalue())


def sha256_file(path: PathLike, *, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes (streamed)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk_size), b""):
            h.update(block)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def json_default(obj: Any) -> Any:
    """``json.dumps(default=...)`` hook: numpy scalars/arrays, paths, sets and tuples to plain JSON.

    The one numpy -> JSON conversion of the package. Sets come out sorted when their items can be ordered
    (so equal sets give equal text), else in iteration order."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (Path, os.PathLike)):
        return os.fspath(obj)
    if isinstance(obj, (set, frozenset)):
        try:
            return sorted(obj)
        except TypeError:
            return list(obj)
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def json_float(x: float) -> float | str:
    """``x`` as a float, or ``"nan"``/``"inf"``/``"-inf"`` for the non-finite values strict JSON cannot hold."""
    x = float(x)
    if math.isfinite(x):
        return x
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def jsonable(obj: Any) -> Any:
    """A strict-JSON copy of nested dicts/lists/tuples: keys as ``str``, numpy scalars and arrays as Python
    values, non-finite floats as :func:`json_float` strings; other leaves unchanged."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [jsonable(v) for v in obj.tolist()] if obj.ndim else jsonable(obj.item())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return json_float(float(obj))
    return obj


# ---------------------------------------------------------------------------------------------- reading
def read_text(path: PathLike, *, expected: str) -> str:
    """The UTF-8 text of a file. A file that is not UTF-8 (a binary file given by mistake, a legacy encoding)
    raises ``ValueError`` naming the file, the line and byte, and ``expected`` (what the file should be)."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text at {utf8_error_where(exc)}; expected {expected}") from None


def read_json(path: PathLike, *, expected: str) -> Any:
    """The JSON document of a file, with :func:`read_text`'s errors and ``ValueError`` for invalid JSON."""
    try:
        return json.loads(read_text(path, expected=expected))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); expected {expected}") from None


def utf8_error_where(exc: UnicodeDecodeError) -> str:
    """``"line N (byte 0x..)"`` of the first byte that is not UTF-8 (1-based), from a decode error of a whole file."""
    data = exc.object if isinstance(exc.object, (bytes, bytearray)) else b""
    if not data:
        return "a line"
    line = bytes(data[: exc.start]).count(b"\n") + 1
    return f"line {line} (byte {data[exc.start]:#04x})"
