"""Ground-truth items and the protocol's per-access randomness (``protocol.md``, "Ground-truth items").

The items themselves (steps 1-2: length filter, whole-clip and segment items) come from
:class:`motioneval.data.dataset.MotionDataset`. This module packs them for vectorized access and draws what
the reference's ``__getitem__`` and shuffled loader draw, for a whole pass at once:

3. a shuffled order of the items, cut to whole groups of ``pool_size`` (the incomplete last group is
   dropped); per row a caption chosen uniformly among the item's captions; a crop length
   ``L = u*floor(T/u)`` with probability ``1 - p`` or ``u*(floor(T/u) - 1)`` with probability ``p``
   (``u = unit_length = 4``, ``p = crop_shorter_probability = 1/3``); a window start uniform in
   ``0..T-L``; features normalized with the *evaluator's* mean/std and zero-padded to ``max_frames`` (196);
4. tokens ``sos/OTHER`` + the first ``max_text_tokens`` (20) caption tokens + ``eos/OTHER``, padded with
   ``unk/OTHER`` to 22; the text length counts the tokens before padding;
5. rows ``[32g, 32g + 32)`` form group ``g``.

Randomness comes from a ``numpy.random.Generator`` the caller derives from ``(seed, replication, pass)``
with :func:`pass_rng` (``SeedSequence`` spawn keys), so a rerun draws exactly the same pass. The reference
used Python's ``random`` and NumPy's global state; the distributions are the same, the streams are not.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._arrays import scatter_rows
from ..constants import EOS, SOS, UNK, pad_tokens
from ..representation.normalization import FeatureStats
from .presets import Preset

__all__ = ["SOS", "EOS", "UNK", "pad_tokens"]  # re-exported from motioneval.constants (their one home)

#: Stream numbers of the per-replication random streams (part of the seeding contract: never renumber).
STREAMS = {
    "gt_match": 0,      # ground-truth pass scored for R-precision / matching / diversity / FID (model side)
    "gt_fid": 1,        # the second, independent ground-truth pass giving the FID reference statistics
    "generated": 2,     # items, captions and lengths the generator is asked for
    "generator_seed": 3,  # seeds handed to the generator, one per chunk
    "mm_select": 4,     # which generated rows get the MultiModality repeats
    "mm_seed": 5,       # generator seeds of the MultiModality chunks
    "diversity": 6,     # diversity pair draws (one sub-stream per row of the table)
    "multimodality": 7,  # MultiModality pair draws
}


def pass_rng(seed: int, replication: int, stream: str, *extra: int) -> np.random.Generator:
    """``Generator(PCG64(SeedSequence(seed, spawn_key=(replication, STREAMS[stream], *extra))))``."""
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(replication), STREAMS[stream],
                                                                              *map(int, extra))))


def derived_seed(seed: int, replication: int, stream: str, *extra: int) -> int:
    """A 32-bit integer seed for ``(seed, replication, stream, *extra)``, e.g. one per generation chunk."""
    ss = np.random.SeedSequence(int(seed), spawn_key=(int(replication), STREAMS[stream], *map(int, extra)))
    return int(ss.generate_state(1, np.uint32)[0])


@dataclass(frozen=True, eq=False)
class GroundTruthItems:
    """The items of one split, packed: raw features of all items concatenated in ``frames``.

    ``ids[i]`` has ``lengths[i]`` frames ``frames[offsets[i] : offsets[i] + lengths[i]]`` (not normalized)
    and the captions ``captions[i]`` with tokens ``tokens[i]`` (``word/POS``, without ``sos``/``eos``).
    Items are kept in the reference loader's order (stable sort by length).
    """

    ids: tuple[str, ...]
    lengths: np.ndarray
    offsets: np.ndarray
    frames: np.ndarray
    captions: tuple[tuple[str, ...], ...]
    tokens: tuple[tuple[tuple[str, ...], ...], ...]
    kind: str = "humanml3d"
    dataset_stats: FeatureStats | None = None  # the dataset's Mean.npy/Std.npy (for generators' outputs)

    def __post_init__(self) -> None:
        n = len(self.ids)
        if n == 0:
            raise ValueError("no ground-truth items: the split is empty or every clip was filtered out")
        if not (len(self.lengths) == len(self.offsets) == len(self.captions) == len(self.tokens) == n):
            raise ValueError("ids, lengths, offsets, captions and tokens must have one entry per item")
        for i, caps in enumerate(self.captions):
            if not caps:
                raise ValueError(f"ground-truth item {self.ids[i]} has no caption")
            if len(self.tokens[i]) != len(caps):
                raise ValueError(f"ground-truth item {self.ids[i]}: {len(caps)} captions but "
                                 f"{len(self.tokens[i])} token lists")

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def dim(self) -> int:
        return int(self.frames.shape[1])

    @property
    def caption_counts(self) -> np.ndarray:
        return np.fromiter((len(c) for c in self.captions), dtype=np.int64, count=len(self))

    def content_hash(self) -> str:
        """sha256 over ids, lengths, captions, tokens and feature bytes: identifies the data in cache keys."""
        h = hashlib.sha256()
        h.update(self.kind.encode())
        h.update("\x1f".join(self.ids).encode())
        h.update(np.ascontiguousarray(self.lengths, dtype=np.int64).tobytes())
        for caps, toks in zip(self.captions, self.tokens):
            for c, t in zip(caps, toks):
                h.update(c.encode() + b"\x1e" + " ".join(t).encode() + b"\x1d")
        frames = np.ascontiguousarray(self.frames, dtype=np.float32)
        h.update(frames.data.cast("B") if frames.size else b"")
        return h.hexdigest()

    @classmethod
    def from_dataset(cls, dataset: Any) -> "GroundTruthItems":
        """Pack a :class:`motioneval.data.dataset.MotionDataset` (items with ``id``, ``captions`` (``text``,
        ``tokens``) and ``features``), in the reference's length order."""
        order = dataset.length_order() if hasattr(dataset, "length_order") else range(len(dataset))
        items = [dataset[int(i)] for i in order]
        spec = getattr(dataset, "spec", None)
        return cls.from_items(
            [(it.id, it.features, [(c.text, tuple(c.tokens)) for c in it.captions]) for it in items],
            kind=getattr(spec, "name", "humanml3d"), dataset_stats=getattr(dataset, "stats", None), sort=False)

    @classmethod
    def from_items(cls, items: Sequence[tuple[str, Any, Sequence[tuple[str, Sequence[str]]]]], *,
                   kind: str = "humanml3d", dataset_stats: FeatureStats | None = None,
                   sort: bool = True) -> "GroundTruthItems":
        """Pack ``(id, features (T, D), [(caption, tokens), ...])`` triples (stably sorted by length when ``sort``)."""
        items = list(items)
        if sort:
            items.sort(key=lambda it: len(it[1]))
        if not items:
            raise ValueError("no ground-truth items: the split is empty or every clip was filtered out")
        feats = [np.asarray(it[1], dtype=np.float32) for it in items]
        dims = {f.shape[1] if f.ndim == 2 else None for f in feats}
        if len(dims) != 1 or None in dims:
            raise ValueError(f"ground-truth features must all be (T, D) with one D; got dims {sorted(map(str, dims))}")
        lengths = np.array([len(f) for f in feats], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        return cls(
            ids=tuple(str(it[0]) for it in items),
            lengths=lengths,
            offsets=offsets,
            frames=np.concatenate(feats, axis=0),
            captions=tuple(tuple(str(c) for c, _ in it[2]) for it in items),
            tokens=tuple(tuple(tuple(t) for _, t in it[2]) for it in items),
            kind=kind,
            dataset_stats=dataset_stats,
        )

    def caption_index(self) -> dict[str, list[tuple[int, int]]]:
        """``caption text -> [(item index, caption index), ...]`` for matching generated samples to items."""
        out: dict[str, list[tuple[int, int]]] = {}
        for i, caps in enumerate(self.captions):
            for j, c in enumerate(caps):
                out.setdefault(c, []).append((i, j))
        return out


@dataclass(frozen=True, eq=False)
class PassPlan:
    """The draws of one shuffled pass: row ``r`` is item ``item[r]`` with caption ``caption[r]``, cropped to
    ``lengths[r]`` frames starting at ``starts[r]``. Rows are whole groups of ``pool_size``."""

    item: np.ndarray
    caption: np.ndarray
    lengths: np.ndarray
    starts: np.ndarray

    def __len__(self) -> int:
        return len(self.item)

    def take(self, rows: slice | np.ndarray) -> "PassPlan":
        return PassPlan(self.item[rows], self.caption[rows], self.lengths[rows], self.starts[rows])


def num_rows(num_items: int, preset: Preset, limit: int | None = None) -> int:
    """Rows of a pass: whole groups of ``pool_size`` among ``num_items`` (and at most ``limit``, rounded down)."""
    n = num_items if limit is None else min(num_items, limit)
    return (n // preset.pool_size) * preset.pool_size


def draw_pass(items: GroundTruthItems, preset: Preset, rng: np.random.Generator, *,
              limit: int | None = None) -> PassPlan:
    """Draw one shuffled pass (steps 3 and 5): order, captions, crop lengths and windows, vectorized.

    Draw order: the permutation, then per row a caption uniform, a crop uniform and a window uniform.
    """
    n = num_rows(len(items), preset, limit)
    if n == 0:
        raise ValueError(f"{len(items)} ground-truth items do not fill one group of {preset.pool_size}; the protocol "
                         f"drops incomplete groups. Use a larger split or a smaller pool_size.")
    item = rng.permutation(len(items))[:n]
    u_caption, u_crop, u_window = rng.random(n), rng.random(n), rng.random(n)
    counts = items.caption_counts[item]
    caption = np.minimum((u_caption * counts).astype(np.int64), counts - 1)
    total = items.lengths[item]
    unit = preset.unit_length
    lengths = unit * (total // unit - (u_crop < preset.crop_shorter_probability))
    lengths = np.minimum(lengths, preset.max_frames)
    if (lengths < unit).any():
        bad = int(item[np.argmax(lengths < unit)])
        raise ValueError(f"item {items.ids[bad]} has {int(items.lengths[bad])} frames: too short to crop to a multiple "
                         f"of {unit}; raise min_motion_length")
    span = total - lengths + 1
    starts = np.minimum((u_window * span).astype(np.int64), span - 1)
    return PassPlan(item=item, caption=caption, lengths=lengths.astype(np.int64), starts=starts)


def pass_tokens(items: GroundTruthItems, plan: PassPlan, preset: Preset) -> tuple[list[list[str]], np.ndarray]:
    """Padded tokens (``max_text_tokens + 2`` each) and text lengths of the plan's rows (step 4)."""
    padded, text_lengths = [], np.empty(len(plan), dtype=np.int64)
    for r, (i, j) in enumerate(zip(plan.item.tolist(), plan.caption.tolist())):
        toks, text_lengths[r] = pad_tokens(items.tokens[i][j], preset.max_text_tokens)
        padded.append(toks)
    return padded, text_lengths


def pass_captions(items: GroundTruthItems, plan: PassPlan) -> list[str]:
    return [items.captions[i][j] for i, j in zip(plan.item.tolist(), plan.caption.tolist())]


def pass_raw_tokens(items: GroundTruthItems, plan: PassPlan) -> list[tuple[str, ...]]:
    """The chosen captions' tokens without ``sos``/``eos``/padding."""
    return [items.tokens[i][j] for i, j in zip(plan.item.tolist(), plan.caption.tolist())]


def pass_features(items: GroundTruthItems, plan: PassPlan, stats: FeatureStats, preset: Preset, *,
                  frames: int | None = None) -> np.ndarray:
    """Cropped windows normalized with ``stats`` (the evaluator's) and zero-padded: float32
    ``(rows, max_frames, D)``. Normalization in float64 then cast, as the reference's collate does.

    ``frames`` narrows the canvas (at least the longest window; frames past it would be zeros anyway, which
    an evaluator that pads to ``max_frames`` treats identically). Only the valid frames are gathered (slice
    copies) and normalized, in one float64 pass over ``sum(lengths)`` frames; every value is bitwise what
    ``((frame - mean) / std).astype(float32)`` gives row by row.
    """
    lengths = np.asarray(plan.lengths, dtype=np.int64)
    n, d = len(lengths), items.dim
    width = preset.max_frames if frames is None else int(frames)
    if n and int(lengths.max()) > width:
        raise ValueError(f"a window of {int(lengths.max())} frames does not fit a canvas of {width} frames")
    out = np.zeros((n, width, d), dtype=np.float32)
    if n == 0 or int(lengths.sum()) == 0:
        return out
    first = (items.offsets[plan.item] + plan.starts).tolist()
    sizes = lengths.tolist()
    # the valid frames of every row, contiguous (slice copies), normalized in one float64 pass
    valid = np.concatenate([items.frames[a:a + m] for a, m in zip(first, sizes)]).astype(np.float64)
    valid -= np.asarray(stats.mean, dtype=np.float64)
    valid /= np.asarray(stats.std, dtype=np.float64)
    scatter_rows(valid, lengths, out)  # cast to float32 on assignment, as astype rounds
    return out
