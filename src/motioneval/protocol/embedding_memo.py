"""Embeddings of distinct ground-truth windows and captions, computed once and reused (issue 15).

Under the t2m lineage a replication draws two ground-truth passes and one generated pass over every item, so
20 replications embed each item's motion 40 times and a caption 40 times, although an item of ``T`` frames
has at most ``2 (T mod 4) + 6 <= 12`` distinct windows (two crop lengths, every start; ``protocol.md`` step 3)
and a few captions. An embedding is a deterministic function of its input, so each distinct input needs to be
embedded once:

- :class:`WindowTable`: motion embeddings keyed by the window ``(item, start, length)``; a run registers
  every drawable window, or only the windows its passes draw when they draw fewer rows than that
  (:attr:`~motioneval.protocol.plan.Planning.window_registration`);
- :class:`TextTable`: text embeddings keyed by the caption's tokens (the first ``max_text_tokens``) and the
  text length the encoder reads (``len + 2``, or a fixed length such as MDM's 22).

Both work in two steps: *register* every row that will be read (:meth:`WindowTable.add`), then *read* rows
(:meth:`WindowTable.motion`). The first read embeds every registered key not yet embedded, in one fixed
order (windows: longest first, then by item and start; captions: sorted), in blocks of ``block`` keys, and
gathers. Which keys share an evaluator batch is therefore a function of the registered set alone, never of
the order of reads: a rerun, a resumed run or another process that registers the same set gets bitwise the
same table. A batched float32 encoder can round a row differently depending on its batch mates (the T2M
motion GRU by up to ~2e-6 relative, the tolerance its batched path is tested to); that is the only way a
table value can differ from embedding the row in the pass's own chunk, and it is why the registered set
(not only the row) identifies a table in cache keys (:meth:`WindowTable.fingerprint`).

Optional persistence: with ``cache`` (a :class:`~motioneval.protocol.cache.Cache`) and ``key_parts`` (what
identifies the embeddings besides the keys: dataset, evaluator, statistics, compute settings) every computed
block is stored as one cache entry (kinds ``windows`` and ``captions``, keyed by ``key_parts`` plus a sha256 of
the block's keys) and read back instead of recomputed: an interrupted table resumes, and another model, seed or
replication count scored against the same data and evaluator reuses the whole table.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..representation.normalization import FeatureStats
from .cache import content_key
from .ground_truth import GroundTruthItems, PassPlan
from .presets import Preset

MotionEmbed = Callable[[np.ndarray, np.ndarray], np.ndarray]
TextEmbed = Callable[[list[list[str]], "int | None"], np.ndarray]

#: Cache kind of the stored blocks of a :class:`WindowTable` (beside the loop's ``samples``/``embeddings``).
CACHE_KIND = "windows"
#: Cache kind of the stored blocks of a :class:`TextTable`.
CAPTIONS_CACHE_KIND = "captions"
#: Windows embedded per evaluator call on CPU (one reused canvas of block x max_frames x D float32, ~53 MB
#: for HumanML3D at 256, small enough to stay fast to fill; a CUDA evaluator is better served by 1,024).
DEFAULT_BLOCK = 256
#: Windows embedded per evaluator call on CUDA (the T2M evaluator's own CUDA chunk).
CUDA_BLOCK = 1024
#: Captions embedded per evaluator call.
TEXT_BLOCK = 1024


class WindowTable:
    """Motion embeddings of ground-truth windows ``(item, start, length)``, each computed once.

    ``embed(features, lengths)`` embeds evaluator-normalized ``(N, max_frames, D)`` windows (e.g. the
    evaluator's ``embed_motion`` behind the loop's checks); windows are cut from ``items`` and normalized with
    ``stats`` exactly as :func:`~motioneval.protocol.ground_truth.pass_features` does.
    """

    def __init__(self, items: GroundTruthItems, stats: FeatureStats, preset: Preset, embed: MotionEmbed, *,
                 block: int = DEFAULT_BLOCK, cache: Any = None, key_parts: Mapping[str, Any] | None = None) -> None:
        if not isinstance(block, int) or block < 1:
            raise ValueError(f"block must be a positive integer; got {block!r}")
        self.items, self.stats, self.preset, self.embed, self.block = items, stats, preset, embed, block
        self.cache, self.key_parts = cache, dict(key_parts or {})
        self._span = int(max(int(np.max(items.lengths)), preset.max_frames)) + 1
        self._pending: list[np.ndarray] = []
        self._keys = np.empty(0, np.int64)      # embedded keys, sorted
        self._emb: np.ndarray | None = None     # their embeddings, same order
        self.embedded = 0                       # windows run through the evaluator by this table
        self.loaded = 0                         # windows read back from the cache

    # ------------------------------------------------------------------------------------- keys
    def _encode(self, item: np.ndarray, start: np.ndarray, length: np.ndarray) -> np.ndarray:
        s = self._span
        item, start, length = (np.asarray(a, np.int64) for a in (item, start, length))
        if item.size and (start.min() < 0 or length.min() < 1 or start.max() >= s or length.max() >= s):
            raise ValueError("window starts/lengths out of range for these items")
        return (item * s + start) * s + length

    def _decode(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s = self._span
        return keys // (s * s), (keys // s) % s, keys % s

    def plan_keys(self, plan: PassPlan) -> np.ndarray:
        return self._encode(plan.item, plan.starts, plan.lengths)

    # ------------------------------------------------------------------------------------- use
    def add(self, plan: PassPlan) -> None:
        """Register the windows of a pass (or of any rows) that will be read."""
        self._pending.append(self.plan_keys(plan))

    def add_every_window(self) -> None:
        """Register every window a pass can draw (``protocol.md`` step 3): per item of ``T`` frames the crop
        lengths ``u*floor(T/u)`` and ``u*(floor(T/u) - 1)`` (those with a non-zero probability, at least ``u``,
        capped at ``max_frames``) at every start ``0..T-L``. The table is then a function of the items and
        the preset's crop rules alone: the same for every seed, replication count and model."""
        self._pending.append(every_window(self.items.lengths, self.preset, self._encode))

    def __len__(self) -> int:
        """Distinct windows registered (embedded or not)."""
        return len(self._all_keys())

    def _all_keys(self) -> np.ndarray:
        return np.unique(np.concatenate([self._keys, *self._pending])) if self._pending else self._keys

    def fingerprint(self) -> str:
        """sha256 of the registered window set (with the block size): together with the evaluator, dataset and
        statistics it determines every value of the table."""
        h = hashlib.sha256(f"windows/block={self.block}/span={self._span}/".encode())
        h.update(np.ascontiguousarray(self._all_keys(), dtype="<i8").tobytes())
        return h.hexdigest()

    def motion(self, plan: PassPlan) -> np.ndarray:
        """Embeddings of the plan's rows ``(rows, E)``, in row order (embedding registered windows first)."""
        keys = self.plan_keys(plan)
        self._compute()
        pos = np.searchsorted(self._keys, keys)
        pos = np.minimum(pos, max(len(self._keys) - 1, 0))
        if not len(self._keys) or not np.array_equal(self._keys[pos], keys):
            bad = int(np.flatnonzero(self._keys[pos] != keys)[0]) if len(self._keys) else 0
            item, start, length = (int(v[bad]) for v in self._decode(keys))
            raise KeyError(f"window (item {self.items.ids[item]}, start {start}, length {length}) was not "
                           f"registered with add() before the table was computed")
        assert self._emb is not None
        return self._emb[pos]

    def _compute(self) -> None:
        if not self._pending:
            return
        new = np.setdiff1d(np.unique(np.concatenate(self._pending)), self._keys, assume_unique=True)
        self._pending = []
        if not new.size:
            return
        # the fixed order: by item (items are in the loader's length order, so a block holds windows of similar
        # lengths, which the evaluator chunks well), then longest crop first, then start
        item, start, length = self._decode(new)
        order = np.lexsort((start, -length, item))
        new, item, start, length = new[order], item[order], start[order], length[order]
        parts: list[np.ndarray] = []
        canvas = None
        for b in range(0, len(new), self.block):
            sl = slice(b, b + self.block)
            emb = self._load(new[sl])
            if emb is None:
                if canvas is None:  # one buffer for every block (no fresh 200 MB allocation per block)
                    canvas = np.zeros((min(self.block, len(new)), self.preset.max_frames, self.items.dim), np.float32)
                feats = window_features(self.items, item[sl], start[sl], length[sl], self.stats,
                                        out=canvas[: len(new[sl])])
                emb = np.asarray(self.embed(feats, length[sl]))
                self.embedded += len(new[sl])
                self._save(new[sl], emb)
            parts.append(emb)
        emb = np.concatenate(parts, axis=0)
        keys = np.concatenate([self._keys, new])
        table = emb if self._emb is None else np.concatenate([self._emb, emb.astype(self._emb.dtype)], axis=0)
        order = np.argsort(keys, kind="stable")
        self._keys, self._emb = keys[order], table[order]

    def _block_key(self, keys: np.ndarray) -> tuple[str, dict[str, Any]] | None:
        if self.cache is None or not getattr(self.cache, "enabled", False):
            return None
        parts = {**self.key_parts, "what": "window embeddings", "span": self._span,
                 "windows": hashlib.sha256(np.ascontiguousarray(keys, dtype="<i8").tobytes()).hexdigest()}
        return content_key(parts), parts

    def _load(self, keys: np.ndarray) -> np.ndarray | None:
        key = self._block_key(keys)
        if key is None:
            return None
        cached = self.cache.load(CACHE_KIND, key[0])
        if cached is None or not np.array_equal(cached.get("keys"), keys):
            return None
        self.loaded += len(keys)
        return np.asarray(cached["motion"])

    def _save(self, keys: np.ndarray, emb: np.ndarray) -> None:
        key = self._block_key(keys)
        if key is not None:
            self.cache.save(CACHE_KIND, key[0], key[1], keys=keys, motion=emb)


def window_features(items: GroundTruthItems, item: np.ndarray, start: np.ndarray, length: np.ndarray,
                    stats: FeatureStats, *, out: np.ndarray) -> np.ndarray:
    """Windows ``(item, start, length)`` normalized with ``stats`` into ``out`` ``(n, frames, D)`` (zero past each length):
    bitwise :func:`~motioneval.protocol.ground_truth.pass_features`, but each frame of the items involved is
    normalized once (float64, then cast) however many windows share it. ``item`` must be sorted."""
    n, width, d = out.shape
    item, start, length = (np.asarray(a, np.int64) for a in (item, start, length))
    if not n:
        return out
    if (length > width).any():
        raise ValueError(f"a window of {int(length.max())} frames does not fit a canvas of {width} frames")
    lo = int(items.offsets[item[0]])
    hi = int(items.offsets[item[-1]] + items.lengths[item[-1]])
    frames = items.frames[lo:hi].astype(np.float64)
    frames -= np.asarray(stats.mean, dtype=np.float64)
    frames /= np.asarray(stats.std, dtype=np.float64)
    norm = frames.astype(np.float32)
    first = (items.offsets[item] + start - lo).tolist()
    for r, (a, m) in enumerate(zip(first, length.tolist())):  # slice copies: faster than a fancy-index scatter
        out[r, :m] = norm[a:a + m]
        out[r, m:] = 0.0
    return out


def every_window(lengths: np.ndarray, preset: Preset,
                 encode: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """Every ``(item, start, length)`` window :func:`~motioneval.protocol.ground_truth.draw_pass` can draw
    from items of ``lengths`` frames, as ``encode(item, start, length)`` (default: an ``(n, 3)`` array)."""
    total = np.asarray(lengths, np.int64)
    unit, p = preset.unit_length, preset.crop_shorter_probability
    crops = [c for c, prob in ((0, 1.0 - p), (1, p)) if prob > 0]
    item_parts, start_parts, length_parts = [], [], []
    for shorter in crops:
        crop = np.minimum(unit * (total // unit - shorter), preset.max_frames)
        ok = crop >= unit
        items = np.flatnonzero(ok)
        span = (total - crop + 1)[ok]                       # starts 0..T-L
        item = np.repeat(items, span)
        first = np.repeat(np.cumsum(span) - span, span)
        item_parts.append(item)
        start_parts.append(np.arange(len(item), dtype=np.int64) - first)
        length_parts.append(crop[item])
    item_all = np.concatenate(item_parts) if item_parts else np.empty(0, np.int64)
    start_all = np.concatenate(start_parts) if start_parts else np.empty(0, np.int64)
    length_all = np.concatenate(length_parts) if length_parts else np.empty(0, np.int64)
    if encode is None:
        return np.stack([item_all, start_all, length_all], axis=1)
    return encode(item_all, start_all, length_all)


class TextTable:
    """Text embeddings of distinct captions, keyed by ``(first max_text_tokens tokens, text length)``.

    ``embed(rows, fixed_length)`` embeds token lists (``word/POS``, without ``sos``/``eos``) with their true
    text lengths (``fixed_length=None``) or all with ``fixed_length`` (e.g. the loop's ``_embed_text``).
    """

    def __init__(self, embed: TextEmbed, *, max_text_tokens: int, block: int = TEXT_BLOCK, cache: Any = None,
                 key_parts: Mapping[str, Any] | None = None) -> None:
        if not isinstance(block, int) or block < 1:
            raise ValueError(f"block must be a positive integer; got {block!r}")
        self.embed, self.max_text_tokens, self.block = embed, int(max_text_tokens), block
        self.cache, self.key_parts = cache, dict(key_parts or {})
        self.loaded = 0
        self._pending: set[tuple[tuple[str, ...], int | None]] = set()
        self._index: dict[tuple[tuple[str, ...], int | None], int] = {}
        self._emb: list[np.ndarray] = []
        self._table: np.ndarray | None = None
        self.embedded = 0

    def _key(self, tokens: Sequence[str], fixed_length: int | None) -> tuple[tuple[str, ...], int | None]:
        return tuple(tokens)[: self.max_text_tokens], None if fixed_length is None else int(fixed_length)

    def add(self, rows: Sequence[Sequence[str]], fixed_length: int | None = None) -> None:
        """Register captions (token lists) that will be read with this text length rule."""
        for toks in rows:
            k = self._key(toks, fixed_length)
            if k not in self._index:
                self._pending.add(k)

    def __len__(self) -> int:
        return len(self._index) + len(self._pending)

    def text(self, rows: Sequence[Sequence[str]], fixed_length: int | None = None) -> np.ndarray:
        """Embeddings ``(rows, E)`` in row order (embedding registered captions first)."""
        keys = [self._key(t, fixed_length) for t in rows]
        self._compute()
        try:
            idx = np.fromiter((self._index[k] for k in keys), dtype=np.int64, count=len(keys))
        except KeyError as exc:
            raise KeyError(f"caption {' '.join(exc.args[0][0])!r} (text length rule {exc.args[0][1]}) was not "
                           f"registered with add() before the table was computed") from None
        assert self._table is not None
        return self._table[idx]

    def _compute(self) -> None:
        if not self._pending:
            return
        # a fixed order: by text length rule, then tokens (never the order rows were registered or read)
        new = sorted(self._pending, key=lambda k: (-1 if k[1] is None else k[1], k[0]))
        self._pending = set()
        for fixed in sorted({k[1] for k in new}, key=lambda f: -1 if f is None else f):
            group = [k for k in new if k[1] == fixed]
            for b in range(0, len(group), self.block):
                chunk = group[b: b + self.block]
                key = self._block_key(chunk)
                cached = None if key is None else self.cache.load(CAPTIONS_CACHE_KIND, key[0])
                if cached is not None and len(cached.get("text", ())) == len(chunk):
                    emb = np.asarray(cached["text"])
                    self.loaded += len(chunk)
                else:
                    emb = np.asarray(self.embed([list(k[0]) for k in chunk], fixed))
                    self.embedded += len(chunk)
                    if key is not None:
                        self.cache.save(CAPTIONS_CACHE_KIND, key[0], key[1], text=emb)
                for k in chunk:
                    self._index[k] = len(self._index)
                self._emb.append(emb)
        self._table = np.concatenate(self._emb, axis=0)
        self._emb = [self._table]

    def _block_key(self, chunk: Sequence[tuple[tuple[str, ...], int | None]]) -> tuple[str, dict[str, Any]] | None:
        if self.cache is None or not getattr(self.cache, "enabled", False):
            return None
        h = hashlib.sha256()
        for tokens, fixed in chunk:  # the block's captions, in order, with their text length rule
            h.update((" ".join(tokens) + f"\x1f{fixed}\x1e").encode())
        parts = {**self.key_parts, "what": "caption embeddings", "max_text_tokens": self.max_text_tokens,
                 "captions": h.hexdigest()}
        return content_key(parts), parts
