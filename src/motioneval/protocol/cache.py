"""Content-keyed, atomic, self-verifying cache of the evaluation's units of work (generated samples and
embeddings).

Every unit (a chunk of one pass of one replication) is stored as one ``.npz`` file whose name is the
sha256 of a canonical JSON description of *everything that produced it* (see ``docs/cache.md`` for the
full list per kind): the generator's identity or the samples' sha256, the dataset content, the statistics
used to de-/re-normalize, the evaluator files' sha256 and statistics, the preset settings that shape the
unit, the seed, the replication, the chunk index, the compute settings that change digits (device, torch
threads, library versions). Changing any of them gives another key, so a stale entry is never read;
changing only metric settings (diversity pairs, FID method, ...) keeps the keys, so re-scoring reuses the
embeddings without regenerating.

Each entry also stores its full description (``__key__``, canonical JSON) and a header ``__entry__``
(its kind, its key and a sha256 of its arrays' names, dtypes, shapes and bytes). :meth:`Cache.load`
verifies both: an entry that cannot be read, whose stored key is not its file name, whose description does
not hash to its key, or whose arrays do not match their checksum (a file copied over another, an edited
header, an unsupported compression method, a directory in its place) is reported by path, moved aside into
``<root>/quarantine/`` and recomputed; it is never used, and it cannot make every rerun fail.

Files are written with :func:`motioneval._io.atomic_save_npz` (temporary file + ``os.replace``): a run
killed at any point (Ctrl-C, ``kill -9``, an exception) leaves only complete entries, and the next run
resumes from them; temporary files that killed writers left behind are removed when a cache is opened
(once older than :data:`TEMP_MAX_AGE_S`). A failed write (disk full, read-only folder) is a warning, not an
error: the unit's numbers are already computed, and only resuming is lost.
Layout: ``<root>/<kind>/<key[:2]>/<key>.npz``.
"""
from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .. import _npio
from .._io import atomic_save_npz

logger = logging.getLogger(__name__)

CACHE_FORMAT = 3  # bump when the stored arrays or the key contents change meaning; part of every key
_META = "__key__"  # the entry's description (canonical JSON of the key's parts), as uint8 bytes
_ENTRY = "__entry__"  # {"kind", "key", "checksum"} as uint8 JSON bytes: verified on every read
QUARANTINE = "quarantine"
#: Temporary files (``.<name>.*.tmp``) older than this are leftovers of killed writers and are deleted.
TEMP_MAX_AGE_S = 600.0


class CacheEntryError(ValueError):
    """A cache entry failed verification (it is moved aside and recomputed; raised only internally)."""


def canonical_json(obj: Any) -> str:
    """Deterministic JSON (sorted keys, no whitespace); numpy scalars/arrays, paths and tuples converted."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_default, allow_nan=True)


def content_key(parts: Mapping[str, Any]) -> str:
    """sha256 hex digest of ``canonical_json({"cache_format": CACHE_FORMAT, **parts})``."""
    text = canonical_json({"cache_format": CACHE_FORMAT, **parts})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def hash_arrays(*arrays: Any) -> str:
    """sha256 of the arrays' dtypes, shapes and bytes (C order), for content keys of in-memory data."""
    h = hashlib.sha256()
    for a in arrays:
        arr = np.ascontiguousarray(a)
        h.update(f"{arr.dtype.str}{arr.shape}".encode())
        h.update(arr.data.cast("B") if arr.size else b"")
    return h.hexdigest()


class Cache:
    """A folder of content-keyed, verified ``.npz`` units. ``Cache(None)`` is a disabled cache (nothing is
    stored). ``problems`` lists one line per entry that was moved aside or could not be written."""

    def __init__(self, root: str | os.PathLike | None, *, clean_temporary: bool = True) -> None:
        self.root = Path(root) if root is not None else None
        self.hits = 0
        self.misses = 0
        self.problems: list[str] = []
        self._write_failed = False
        if self.root is not None:
            if self.root.exists() and not self.root.is_dir():
                raise NotADirectoryError(f"cache folder {self.root} is a file, not a folder: remove it or choose "
                                         f"another --cache-dir")
            if clean_temporary:
                self.clean_temporary()

    @property
    def enabled(self) -> bool:
        return self.root is not None

    def path(self, kind: str, key: str) -> Path:
        if self.root is None:
            raise RuntimeError("the cache is disabled")
        return self.root / kind / key[:2] / f"{key}.npz"

    def load(self, kind: str, key: str) -> dict[str, np.ndarray] | None:
        """The verified arrays stored under ``key``, or ``None`` when absent. An entry that fails
        verification is reported (``problems`` and a logged warning), moved aside and counted as a miss."""
        if self.root is None:
            return None
        path = self.path(kind, key)
        if not path.exists() and not path.is_symlink():
            self.misses += 1
            return None
        try:
            arrays = read_entry(path, kind, key)
        except MemoryError as exc:
            self._reject(path, f"too large to read ({exc or 'out of memory'})")
            return None
        except Exception as exc:  # noqa: BLE001 - any unreadable entry is recomputed, never used
            self._reject(path, str(exc) or type(exc).__name__)
            return None
        self.hits += 1
        return arrays

    def save(self, kind: str, key: str, parts: Mapping[str, Any] | None = None, **arrays: Any) -> Path | None:
        """Store ``arrays`` under ``key`` atomically, with ``parts`` (the key's description) and a checksum.

        A failed write (``OSError``: disk full, read-only or permission denied) is reported once and
        returns ``None``: the caller's numbers are unaffected; only resuming them is lost."""
        if self.root is None or self._write_failed:
            return None
        for name in arrays:
            if name in (_META, _ENTRY):
                raise ValueError(f"{name!r} is reserved in cache entries")
        path = self.path(kind, key)
        meta = np.frombuffer(canonical_json(dict(parts or {})).encode("utf-8"), dtype=np.uint8)
        entry = {"kind": kind, "key": key, "checksum": checksum_arrays(arrays)}
        head = np.frombuffer(canonical_json(entry).encode("utf-8"), dtype=np.uint8)
        try:
            if path.is_dir() and not path.is_symlink():  # a folder where the entry belongs: move it aside
                self._reject(path, "a folder stands where the entry belongs")
            return atomic_save_npz(path, **arrays, **{_META: meta, _ENTRY: head})
        except OSError as exc:
            self._write_failed = True
            message = (f"cannot write cache entry {path} ({_os_reason(exc)}); continuing without writing to the "
                       f"cache: the numbers are unaffected, but a rerun will recompute them")
            self.problems.append(message)
            logger.warning("%s", message)
            return None

    def describe(self, kind: str, key: str) -> dict[str, Any] | None:
        """The description stored with an entry (what produced it), or ``None``."""
        if self.root is None or not self.path(kind, key).is_file():
            return None
        with _npio.load(self.path(kind, key), allow_pickle=False) as data:
            if _META not in data.files:
                return None
            return json.loads(bytes(data[_META]).decode("utf-8"))

    def entries(self, kind: str | None = None) -> list[Path]:
        """Stored entry files (of one kind, or all), excluding quarantined ones."""
        if self.root is None or not self.root.is_dir():
            return []
        base = self.root / kind if kind else self.root
        quarantine = self.root / QUARANTINE
        return sorted(p for p in base.rglob("*.npz")
                      if not p.name.startswith(".") and quarantine not in p.parents)

    def verify(self) -> list[str]:
        """Check every entry (as :meth:`load` would); move the bad ones aside. Returns the problems found."""
        before = len(self.problems)
        for path in self.entries():
            kind = path.relative_to(self.root).parts[0] if self.root is not None else ""
            try:
                read_entry(path, kind, path.stem)
            except Exception as exc:  # noqa: BLE001
                self._reject(path, str(exc) or type(exc).__name__)
        return self.problems[before:]

    def clean_temporary(self, max_age_s: float = TEMP_MAX_AGE_S) -> list[Path]:
        """Delete temporary files (``.<entry>.*.tmp``) older than ``max_age_s``: leftovers of writers that
        were killed between creating and renaming them. Younger ones may belong to a concurrent writer."""
        if self.root is None or not self.root.is_dir():
            return []
        now = time.time()
        removed = []
        for tmp in self.root.rglob(".*.tmp"):
            try:
                if tmp.is_file() and now - tmp.stat().st_mtime > max_age_s:
                    tmp.unlink()
                    removed.append(tmp)
            except OSError:  # raced with its writer, or not ours to delete: leave it
                continue
        if removed:
            logger.info("removed %d temporary file(s) left by interrupted cache writes", len(removed))
        return removed

    def _reject(self, path: Path, reason: str) -> None:
        """Report a bad entry by path and move it aside (deleting it if it cannot be moved)."""
        self.misses += 1
        where = "recomputed"
        try:
            if self.root is None:
                raise OSError("no cache folder")
            qdir = self.root / QUARANTINE
            qdir.mkdir(parents=True, exist_ok=True)
            target = qdir / f"{path.name}.{int(time.time() * 1000)}.{os.getpid()}"
            os.replace(path, target)
            where = f"moved to {target}"
        except OSError:
            try:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
                where = "removed"
            except OSError as exc:
                where = f"left in place (cannot remove it: {exc.strerror or exc})"
        message = f"cache entry {path} is invalid ({reason}); {where}; its unit is recomputed"
        self.problems.append(message)
        logger.warning("%s", message)


def checksum_arrays(arrays: Mapping[str, Any]) -> str:
    """sha256 over the arrays' names, dtypes, shapes and bytes (sorted by name)."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        arr = np.asarray(arrays[name])
        h.update(f"{name}\x1f{arr.dtype.str}\x1f{arr.shape}\x1e".encode())
        if arr.ndim == 0 or not arr.size:
            h.update(arr.tobytes())
        else:
            h.update(memoryview(np.ascontiguousarray(arr)).cast("B"))  # type: ignore[arg-type]
    return h.hexdigest()


def read_entry(path: Path, kind: str, key: str) -> dict[str, np.ndarray]:
    """Read and verify one entry; raise :class:`CacheEntryError` (or the reader's error) when it is bad."""
    if path.is_symlink():
        raise CacheEntryError("a symbolic link, which the cache never writes")
    if not path.is_file():
        raise CacheEntryError("not a regular file (a folder where the entry belongs?)")
    with _npio.load(path, allow_pickle=False) as data:
        names = list(data.files)
        if _ENTRY not in names or _META not in names:
            raise CacheEntryError("no verification header (written by another version, or not a cache entry)")
        arrays = {k: data[k] for k in names if k not in (_META, _ENTRY)}
        entry = json.loads(bytes(data[_ENTRY]).decode("utf-8"))
        parts = json.loads(bytes(data[_META]).decode("utf-8"))
    if not isinstance(entry, dict) or entry.get("key") != key or entry.get("kind") != kind:
        got = entry.get("key") if isinstance(entry, dict) else None
        raise CacheEntryError(f"it holds the entry {str(got)[:16]}... of kind "
                              f"{entry.get('kind') if isinstance(entry, dict) else None!r}, not {key[:16]}... of "
                              f"kind {kind!r} (a file copied over another?)")
    if isinstance(parts, dict) and parts and content_key(parts) != key:
        raise CacheEntryError("its stored description does not hash to its key (edited?)")
    if entry.get("checksum") != checksum_arrays(arrays):
        raise CacheEntryError("its arrays do not match their checksum (edited or corrupted)")
    return arrays


def _os_reason(exc: OSError) -> str:
    reasons = {errno.ENOSPC: "disk full", errno.EROFS: "read-only file system", errno.EACCES: "permission denied",
               errno.EPERM: "permission denied", errno.EDQUOT: "disk quota exceeded",
               errno.ENOTDIR: "a file stands where a folder belongs", errno.EISDIR: "a folder stands where a file belongs"}
    return reasons.get(exc.errno or -1, exc.strerror or str(exc))


def _default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (Path, os.PathLike)):
        return os.fspath(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"cannot build a cache key from {type(obj).__name__}")
