"""Content-keyed, atomic cache of the evaluation's units of work (generated samples and embeddings).

Every unit (a chunk of one pass of one replication) is stored as one ``.npz`` file whose name is the
sha256 of a canonical JSON description of *everything that produced it*: the generator's identity or the
samples file's sha256, the dataset content, the evaluator files' sha256, the preset settings that shape the
unit, the seed, the replication and the chunk index. Changing any of them gives another key, so a stale
entry is never read; changing only metric settings (diversity pairs, FID method, ...) keeps the keys, so
re-scoring reuses the embeddings without regenerating.

Files are written with :func:`motioneval._io.atomic_save_npz` (temporary file + ``os.replace``): a run
killed at any point (Ctrl-C, ``kill -9``, an exception) leaves only complete entries, and the next run
resumes from them. Each file carries its description under the key ``__key__`` (UTF-8 JSON as bytes) so
the cache can be inspected. Layout: ``<root>/<kind>/<key[:2]>/<key>.npz``.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .. import _npio
from .._io import atomic_save_npz

logger = logging.getLogger(__name__)

CACHE_FORMAT = 2  # bump when the stored arrays change meaning; part of every key
_META = "__key__"


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
    """A folder of content-keyed ``.npz`` units. ``Cache(None)`` is a disabled cache (nothing is stored)."""

    def __init__(self, root: str | os.PathLike | None) -> None:
        self.root = Path(root) if root is not None else None
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.root is not None

    def path(self, kind: str, key: str) -> Path:
        if self.root is None:
            raise RuntimeError("the cache is disabled")
        return self.root / kind / key[:2] / f"{key}.npz"

    def load(self, kind: str, key: str) -> dict[str, np.ndarray] | None:
        """The arrays stored under ``key``, or ``None`` when absent (or unreadable: it is then removed)."""
        if self.root is None:
            return None
        path = self.path(kind, key)
        if not path.is_file():
            self.misses += 1
            return None
        try:
            with _npio.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files if k != _META}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            logger.warning("cache entry %s is unreadable (%s); recomputing it", path, exc)
            try:
                path.unlink()
            except OSError:
                pass
            self.misses += 1
            return None
        self.hits += 1
        return arrays

    def save(self, kind: str, key: str, parts: Mapping[str, Any] | None = None, **arrays: Any) -> Path | None:
        """Store ``arrays`` under ``key`` atomically (with ``parts``, the key's description, for inspection)."""
        if self.root is None:
            return None
        meta = np.frombuffer(canonical_json(dict(parts or {})).encode("utf-8"), dtype=np.uint8)
        return atomic_save_npz(self.path(kind, key), **arrays, **{_META: meta})

    def describe(self, kind: str, key: str) -> dict[str, Any] | None:
        """The description stored with an entry (what produced it), or ``None``."""
        if self.root is None or not self.path(kind, key).is_file():
            return None
        with _npio.load(self.path(kind, key), allow_pickle=False) as data:
            if _META not in data.files:
                return None
            return json.loads(bytes(data[_META]).decode("utf-8"))

    def entries(self, kind: str | None = None) -> list[Path]:
        """Stored entry files (of one kind, or all)."""
        if self.root is None or not self.root.is_dir():
            return []
        base = self.root / kind if kind else self.root
        return sorted(p for p in base.rglob("*.npz") if not p.name.startswith("."))


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
