"""Guarded ``.npy`` / ``.npz`` reading: thread-safe, size-limited, pickle-free unless asked.

``numpy.load`` parses every ``.npy`` header with ``ast.literal_eval``; CPython 3.11 before 3.11.8 keeps the
``ast`` constructor's recursion counter in shared state, so two threads parsing at once can fail with
``SystemError: AST constructor recursion depth mismatch`` on a good file. Here the header (a Python dict
literal: ``{'descr': '<f4', 'fortran_order': False, 'shape': (170, 263), }``, NEP 1 / ``numpy.lib.format``)
is parsed by a small strict tokenizer that does not use ``ast``. A header it does not understand (e.g. a
string with a backslash escape) goes to numpy's own parser under one process-wide lock.

Before any data is read, the declared size (``prod(shape) * itemsize``) is checked against a limit, so a
hostile or corrupt file cannot make the reader allocate terabytes; the error names the file (and the
``.npz`` member), the declared size and how to raise the limit: the ``max_bytes`` argument,
:func:`set_max_array_bytes`, or the environment variable ``MOTIONEVAL_MAX_ARRAY_BYTES`` (bytes; read at
import). Object arrays are pickles and are refused unless ``allow_pickle=True``.

Every ``np.load`` of the package goes through :func:`load` (a drop-in for the common ``np.load`` uses).
"""
from __future__ import annotations

import os
import pickle
import re
import threading
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = ["ArrayFileError", "ArrayTooLargeError", "NpzArchive", "get_max_array_bytes", "load", "load_npy",
           "load_npz", "set_max_array_bytes"]

ENV_MAX_BYTES = "MOTIONEVAL_MAX_ARRAY_BYTES"
_DEFAULT_MAX_BYTES = 8 * 1024**3  # 8 GiB: far above any HumanML3D/KIT file, far below "allocate the disk"
_MAGIC = b"\x93NUMPY"
_MAX_HEADER = 10000  # numpy's own default cap on the header length
_NUMPY_PARSE_LOCK = threading.Lock()  # serialises the rare fall-back to numpy's ast-based parser


class ArrayFileError(ValueError):
    """A ``.npy``/``.npz`` file (or member) that cannot be read as declared."""


class ArrayTooLargeError(ArrayFileError):
    """The header declares more bytes than the configured limit."""


def _env_limit() -> int:
    raw = os.environ.get(ENV_MAX_BYTES)
    if raw is None or not raw.strip():
        return _DEFAULT_MAX_BYTES
    try:
        value = int(float(raw))
    except ValueError:
        raise ValueError(f"{ENV_MAX_BYTES}={raw!r} is not a number of bytes") from None
    if value <= 0:
        raise ValueError(f"{ENV_MAX_BYTES}={raw!r} must be a positive number of bytes")
    return value


_max_bytes = _env_limit()


def get_max_array_bytes() -> int:
    """The process-wide limit on one array's declared size, in bytes."""
    return _max_bytes


def set_max_array_bytes(limit: int) -> int:
    """Set the process-wide limit (bytes) on one array's declared size; returns the previous limit."""
    global _max_bytes
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit <= 0:
        raise ValueError(f"the array size limit must be a positive integer number of bytes, got {limit!r}")
    previous, _max_bytes = _max_bytes, int(limit)
    return previous


# ----------------------------------------------------------------------------------------- header parsing
_TOKEN = re.compile(r"""\s*(?:(?P<punct>[{}()\[\]:,])|(?P<str>'[^'\\\n]*'|"[^"\\\n]*")|(?P<int>-?\d+)L?|"""
                    r"""(?P<name>True|False|None))""")


class _Unsupported(Exception):
    """The header uses syntax this parser does not accept (handed to numpy's parser under the lock)."""


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos, end = 0, len(text.rstrip())
    while pos < end:
        m = _TOKEN.match(text, pos)
        if m is None:
            raise _Unsupported(f"unexpected text at offset {pos}: {text[pos:pos + 20]!r}")
        if m.group("punct"):
            out.append(("p", m.group("punct")))
        elif m.group("str") is not None:
            out.append(("v", m.group("str")[1:-1]))
        elif m.group("int") is not None:
            out.append(("v", int(m.group("int"))))
        else:
            out.append(("v", {"True": True, "False": False, "None": None}[m.group("name")]))
        pos = m.end()
    return out


def _parse_value(tokens: list[tuple[str, Any]], i: int) -> tuple[Any, int]:
    if i >= len(tokens):
        raise _Unsupported("header ends early")
    kind, tok = tokens[i]
    if kind == "v":
        return tok, i + 1
    closing = {"(": ")", "[": "]", "{": "}"}.get(tok)
    if closing is None:
        raise _Unsupported(f"unexpected {tok!r}")
    items: list[Any] = []
    keys: list[Any] = []
    i += 1
    while True:
        if i < len(tokens) and tokens[i] == ("p", closing):
            i += 1
            break
        if tok == "{":
            key, i = _parse_value(tokens, i)
            if i >= len(tokens) or tokens[i] != ("p", ":"):
                raise _Unsupported("expected ':' in dict")
            keys.append(key)
            i += 1
        value, i = _parse_value(tokens, i)
        items.append(value)
        if i < len(tokens) and tokens[i] == ("p", ","):
            i += 1
        elif not (i < len(tokens) and tokens[i] == ("p", closing)):
            raise _Unsupported(f"expected ',' or {closing!r}")
    if tok == "(":
        return tuple(items), i
    if tok == "[":
        return items, i
    if any(not isinstance(k, (str, int)) for k in keys) or len(set(keys)) != len(keys):
        raise _Unsupported("bad dict keys")
    return dict(zip(keys, items)), i


def parse_header_text(text: str) -> dict[str, Any]:
    """The header dict of a ``.npy`` file, parsed without ``ast``; raises ``_Unsupported`` on other syntax."""
    tokens = _tokens(text)
    value, i = _parse_value(tokens, 0)
    if i != len(tokens) or not isinstance(value, dict):
        raise _Unsupported("the header is not one dict literal")
    return value


def _header_to_layout(d: Any, where: str) -> tuple[np.dtype, tuple[int, ...], bool]:
    """Validate a header dict the way ``numpy.lib.format`` does; returns (dtype, shape, fortran_order)."""
    if not isinstance(d, dict) or set(d) != {"descr", "fortran_order", "shape"}:
        keys = sorted(d) if isinstance(d, dict) else type(d).__name__
        raise ArrayFileError(f"{where}: not a .npy header (keys {keys}); the file is damaged or not a numpy array")
    shape = d["shape"]
    if not isinstance(shape, tuple) or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                                               for n in shape):
        raise ArrayFileError(f"{where}: bad shape {shape!r} in the .npy header")
    if not isinstance(d["fortran_order"], bool):
        raise ArrayFileError(f"{where}: bad fortran_order {d['fortran_order']!r} in the .npy header")
    try:
        dtype = np.lib.format.descr_to_dtype(d["descr"])
    except Exception as exc:  # numpy raises TypeError/ValueError for a bad descr
        raise ArrayFileError(f"{where}: bad dtype {d['descr']!r} in the .npy header ({exc})") from None
    return dtype, shape, d["fortran_order"]


def _read_exact(fh: IO[bytes], n: int, where: str, what: str) -> bytes:
    data = fh.read(n)
    if len(data) != n:
        raise ArrayFileError(f"{where}: file ends inside the {what} ({len(data)} of {n} bytes); it is truncated")
    return data


def _read_header(fh: IO[bytes], where: str) -> tuple[np.dtype, tuple[int, ...], bool, int]:
    """Read magic, version and header; returns (dtype, shape, fortran_order, header bytes consumed)."""
    magic = fh.read(8)
    if len(magic) < 8 or magic[:6] != _MAGIC:
        raise ArrayFileError(f"{where}: not a .npy file (no numpy magic string)")
    major, minor = magic[6], magic[7]
    if (major, minor) == (1, 0):
        hlen, size_bytes, encoding = int.from_bytes(_read_exact(fh, 2, where, "header length"), "little"), 2, "latin1"
    elif (major, minor) in ((2, 0), (3, 0)):
        hlen, size_bytes = int.from_bytes(_read_exact(fh, 4, where, "header length"), "little"), 4
        encoding = "latin1" if major == 2 else "utf8"
    else:
        raise ArrayFileError(f"{where}: unsupported .npy format version {major}.{minor}")
    if hlen > _MAX_HEADER:
        raise ArrayFileError(f"{where}: .npy header of {hlen} bytes is longer than {_MAX_HEADER}; refusing it")
    raw = _read_exact(fh, hlen, where, "header")
    consumed = 8 + size_bytes + hlen
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError:
        raise ArrayFileError(f"{where}: the .npy header is not {encoding} text") from None
    try:
        header = parse_header_text(text)
    except _Unsupported:
        header = _numpy_parse(text, where)
    except RecursionError:  # absurd nesting (no real header nests more than a few levels)
        raise ArrayFileError(f"{where}: the .npy header nests too deeply; the file is damaged or hostile") from None
    dtype, shape, fortran = _header_to_layout(header, where)
    return dtype, shape, fortran, consumed


def _numpy_parse(text: str, where: str) -> Any:
    import ast  # only here, and only under the lock

    with _NUMPY_PARSE_LOCK:
        try:
            return ast.literal_eval(text)
        except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError) as exc:
            raise ArrayFileError(f"{where}: cannot parse the .npy header {text[:80]!r} ({exc})") from None


# ----------------------------------------------------------------------------------------------- reading
def _check_size(dtype: np.dtype, shape: tuple[int, ...], where: str, max_bytes: int | None) -> int:
    limit = _max_bytes if max_bytes is None else int(max_bytes)
    count = 1
    for n in shape:
        count *= n
    nbytes = count * dtype.itemsize
    if nbytes > limit:
        raise ArrayTooLargeError(
            f"{where}: the header declares shape {shape} of {dtype} = {nbytes:,} bytes, above the limit of "
            f"{limit:,} bytes; nothing was read. If the file is trusted, raise the limit: max_bytes=..., "
            f"motioneval._npio.set_max_array_bytes(...) or the environment variable {ENV_MAX_BYTES}=<bytes>")
    return count


def _pickle_refused(where: str) -> ArrayFileError:
    return ArrayFileError(f"{where}: holds Python objects (a pickle); unpickling executes code from the file, so it "
                          "is read only with allow_pickle=True, for a file you trust (numpy: Object arrays cannot "
                          "be loaded when allow_pickle=False)")


def _read_body(fh: IO[bytes], dtype: np.dtype, shape: tuple[int, ...], fortran: bool, count: int, where: str,
               allow_pickle: bool) -> np.ndarray:
    if dtype.hasobject:
        if not allow_pickle:
            raise _pickle_refused(where)
        try:
            arr = pickle.load(fh)  # noqa: S301 - explicit opt-in, as numpy.load(allow_pickle=True)
        except Exception as exc:
            raise ArrayFileError(f"{where}: cannot unpickle the object array ({type(exc).__name__}: {exc})") from exc
        return np.asarray(arr)
    flat = np.empty(count, dtype=dtype)
    if count and dtype.itemsize:
        buf = flat.view(np.uint8).data
        got = 0
        while got < len(buf):
            n = fh.readinto(buf[got:])  # type: ignore[attr-defined]
            if not n:
                raise ArrayFileError(f"{where}: file ends after {got:,} of the {len(buf):,} data bytes the header "
                                     "declares; it is truncated")
            got += n
    if fortran:
        return flat.reshape(shape[::-1]).transpose()
    return flat.reshape(shape)


def _name(file: Any) -> str:
    return str(getattr(file, "name", file))


def load_npy(file: str | os.PathLike[str] | IO[bytes], *, mmap_mode: str | None = None, allow_pickle: bool = False,
             max_bytes: int | None = None) -> np.ndarray:
    """One ``.npy`` array (``numpy.load`` semantics for a path or an open binary file), size-checked first."""
    where = _name(file)
    if hasattr(file, "read"):
        if mmap_mode is not None:
            raise ValueError(f"{where}: mmap_mode needs a path, not an open file")
        fh: IO[bytes] = file  # type: ignore[assignment]
        dtype, shape, fortran, _ = _read_header(fh, where)
        count = _check_size(dtype, shape, where, max_bytes)
        return _read_body(fh, dtype, shape, fortran, count, where, allow_pickle)
    with open(file, "rb") as fh:  # type: ignore[arg-type]
        dtype, shape, fortran, offset = _read_header(fh, where)
        count = _check_size(dtype, shape, where, max_bytes)
        if mmap_mode is None:
            return _read_body(fh, dtype, shape, fortran, count, where, allow_pickle)
    if dtype.hasobject:
        raise ArrayFileError(f"{where}: an object array cannot be memory-mapped")
    needed = offset + count * dtype.itemsize
    if os.path.getsize(file) < needed:
        raise ArrayFileError(f"{where}: the file holds {os.path.getsize(file):,} bytes but the header declares "
                             f"{needed:,}; it is truncated")
    if count == 0:  # np.memmap refuses empty maps
        return np.empty(shape, dtype=dtype, order="F" if fortran else "C")
    return np.memmap(file, dtype=dtype, mode=mmap_mode, shape=shape,  # type: ignore[call-overload]
                     order="F" if fortran else "C", offset=offset)


class NpzArchive(Mapping[str, Any]):
    """A ``.npz`` archive read member by member (like ``numpy.lib.npyio.NpzFile``); each ``.npy`` member is
    size-checked and parsed without ``ast`` when it is accessed. Use as a context manager or call ``close``."""

    def __init__(self, file: str | os.PathLike[str] | IO[bytes], *, allow_pickle: bool = False,
                 max_bytes: int | None = None) -> None:
        self._where = _name(file)
        try:
            self._zip = zipfile.ZipFile(file)  # type: ignore[arg-type]
        except zipfile.BadZipFile as exc:
            raise ArrayFileError(f"{self._where}: not a readable .npz archive ({exc})") from None
        self._allow_pickle, self._max_bytes = allow_pickle, max_bytes
        self._members = self._zip.namelist()
        self.files = [m[:-4] if m.endswith(".npy") else m for m in self._members]

    def _member(self, key: str) -> str:
        if key in self._members and not key.endswith(".npy"):
            return key
        if key + ".npy" in self._members:
            return key + ".npy"
        if key in self._members:
            return key
        raise KeyError(f"{key} is not a file in the archive {self._where}")

    def __getitem__(self, key: str) -> Any:
        member = self._member(key)
        where = f"{self._where}[{member}]"
        with self._zip.open(member) as fh:
            if not member.endswith(".npy"):
                limit = _max_bytes if self._max_bytes is None else self._max_bytes
                size = self._zip.getinfo(member).file_size
                if size > limit:
                    raise ArrayTooLargeError(f"{where}: {size:,} bytes, above the limit of {limit:,} bytes; raise "
                                             f"it with max_bytes=... or {ENV_MAX_BYTES}=<bytes>")
                return fh.read()
            dtype, shape, fortran, _ = _read_header(fh, where)
            count = _check_size(dtype, shape, where, self._max_bytes)
            return _read_body(fh, dtype, shape, fortran, count, where, self._allow_pickle)

    def __iter__(self) -> Iterator[str]:
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self.files

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> NpzArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"NpzArchive({self._where!r}, files={self.files})"


def load_npz(file: str | os.PathLike[str] | IO[bytes], *, allow_pickle: bool = False,
             max_bytes: int | None = None) -> NpzArchive:
    """A ``.npz`` archive whose members are read lazily through the guarded ``.npy`` reader."""
    return NpzArchive(file, allow_pickle=allow_pickle, max_bytes=max_bytes)


def load(file: str | os.PathLike[str] | IO[bytes], mmap_mode: str | None = None, allow_pickle: bool = False, *,
         max_bytes: int | None = None) -> Any:
    """Drop-in for ``numpy.load``: a ``.npy`` array, an :class:`NpzArchive` for ``.npz``, or (only with
    ``allow_pickle=True``) a plain pickle; thread-safe and size-checked as described in the module docstring."""
    where = _name(file)
    if hasattr(file, "read"):
        fh: IO[bytes] = file  # type: ignore[assignment]
        start = fh.tell()
        magic = fh.read(6)
        fh.seek(start)
        kind = _kind(magic)
    else:
        path = Path(file)  # type: ignore[arg-type]
        with open(path, "rb") as raw:
            kind = _kind(raw.read(6))
    if kind == "npz":
        return load_npz(file, allow_pickle=allow_pickle, max_bytes=max_bytes)
    if kind == "npy":
        return load_npy(file, mmap_mode=mmap_mode, allow_pickle=allow_pickle, max_bytes=max_bytes)
    if not allow_pickle:
        raise ArrayFileError(f"{where}: neither a .npy nor a .npz file; if it is a pickle you trust, pass "
                             "allow_pickle=True (unpickling executes code from the file)")
    try:
        if hasattr(file, "read"):
            return pickle.load(file)  # type: ignore[arg-type]  # noqa: S301 - explicit opt-in
        with open(file, "rb") as raw:  # type: ignore[arg-type]
            return pickle.load(raw)  # noqa: S301 - explicit opt-in
    except Exception as exc:
        raise ArrayFileError(f"{where}: cannot read it as .npy, .npz or pickle ({type(exc).__name__}: {exc})") from exc


def _kind(magic: bytes) -> str:
    if magic.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "npz"
    if magic == _MAGIC:
        return "npy"
    return "other"
