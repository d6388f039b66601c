"""Generation and conversion: a generated/MultiModality unit's motions (from the generator, chunk by chunk with
derived seeds, or from a sample set) turned into raw features, the frames the preset shows the evaluator, and
how errors name the rows. Part of :class:`~.evaluate.Evaluation`.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .generators import normalize_output, output_frames, to_raw_features, visible_frames
from .ground_truth import derived_seed
from .keys import CacheKeys
from .plan import Unit, _Requests


class Generation(CacheKeys):
    """The generated side of a run's units."""

    def _generated_raw(self, unit: Unit) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Raw features, lengths and real frames per row of a generated/MultiModality unit (cached per unit in
        generator mode)."""
        req: _Requests = self._plan(unit.replication, "generated")
        rows = np.arange(unit.start, unit.stop)
        if unit.stage == "mm":
            mm = self._plan(unit.replication, "mm")
            row_of, repeat = mm[rows // self.mm_repeats], rows % self.mm_repeats
        else:
            row_of, repeat = rows, None
        names = self._row_names(unit, rows, row_of)
        if self.sample_mode:
            return self._sample_set_raw(req, row_of, repeat, names)
        key, parts = self.sample_key(unit)
        cached = self.cache.load("samples", key)
        if cached is not None:
            raw = _unpack_rows(cached)
            frames = cached.get("frames_per_row")  # type: ignore[assignment]
            if frames is None:  # zeros padding (nothing past the lengths) or a cache written before issue 11
                frames = (cached["lengths"] if self.preset.generated_padding == "zeros"
                          else np.full(len(raw), raw.shape[1], np.int64))
            return raw, cached["lengths"], frames
        stream = "mm_seed" if unit.stage == "mm" else "generator_seed"
        seed = derived_seed(self.seed, unit.replication, stream, unit.chunk)
        captions = [req.captions[int(j)] for j in row_of]
        lengths = None if req.lengths is None else req.lengths[row_of]
        output = self.source.generate(captions, None if lengths is None else lengths.copy(), seed)
        motions, out_lengths = normalize_output(output, lengths, name=self.name)
        real = output_frames(output, motions)
        if lengths is not None and self.identity["kind"] == "features" and not np.array_equal(out_lengths, lengths):
            bad = int(np.flatnonzero(out_lengths != lengths)[0])
            raise ValueError(f"{self.name} returned length {int(out_lengths[bad])} for {names[bad]}, asked for "
                             f"{int(lengths[bad])} (preset {self.preset.name!r} uses ground-truth lengths)")
        raw, out_lengths, frames = to_raw_features(
            motions, out_lengths, kind=self.identity["kind"], normalization=self.identity["normalization"],
            dataset_stats=self.dataset_stats, evaluator_stats=self.evaluator.stats,
            padding=self.preset.generated_padding, skeleton=self.skeleton, name=self.name, row_names=names,
            frames=real, return_frames=True)
        if self.preset.generated_padding == "zeros":  # frames past the lengths are zero: store only the valid ones
            raw = raw[:, : max(int(out_lengths.max()), 1)]
            self.cache.save("samples", key, parts, rows=_pack_rows(raw, out_lengths), lengths=out_lengths,  # type: ignore[arg-type]
                            frames=np.int64(raw.shape[1]))
        else:
            self.cache.save("samples", key, parts, raw=raw, lengths=out_lengths, frames_per_row=frames)
        return raw, out_lengths, frames

    def _sample_set_raw(self, req: _Requests, row_of: np.ndarray, repeat: np.ndarray | None,
                        names: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Raw features, lengths and frames of the sample set's rows ``row_of`` (repetition ``repeat`` per row
        for MultiModality, else the replication's repetition)."""
        assert req.prompts is not None  # sample-set mode always maps rows to prompts
        if repeat is None:
            out = self.source.take(req.prompts[row_of], req.repetition)
            motions, lengths, frames = out.motions, out.lengths, out.frames
        else:  # MultiModality: repetition j of each prompt
            taken = [self.source.take(req.prompts[row_of[repeat == j]], int(j)) for j in np.unique(repeat)]
            order = np.concatenate([np.flatnonzero(repeat == j) for j in np.unique(repeat)])
            motions = np.empty((len(row_of),) + taken[0].motions.shape[1:], dtype=np.float32)
            lengths = np.empty(len(row_of), dtype=np.int64)
            frames = np.empty(len(row_of), dtype=np.int64)
            motions[order] = np.concatenate([t.motions for t in taken])
            lengths[order] = np.concatenate([t.lengths for t in taken])
            frames[order] = np.concatenate([t.frames for t in taken])
        return to_raw_features(np.asarray(motions, np.float32), np.asarray(lengths, np.int64),
                               kind=self.identity["kind"], normalization=self.identity["normalization"],
                               dataset_stats=self.dataset_stats, evaluator_stats=self.evaluator.stats,
                               padding=self.preset.generated_padding, skeleton=self.skeleton, name=self.name,
                               row_names=names, frames=np.asarray(frames, np.int64), return_frames=True)

    def _visible(self, unit: Unit, lengths: np.ndarray) -> np.ndarray:
        """Frames of each row of a generated/MultiModality unit that the preset feeds the evaluator."""
        p = self.preset
        if p.generated_padding != "batch_longest":
            return visible_frames(lengths, padding=p.generated_padding, max_frames=p.max_frames)
        req: _Requests = self._plan(unit.replication, "generated")
        rows = np.arange(unit.start, unit.stop)
        row_of = self._plan(unit.replication, "mm")[rows // self.mm_repeats] if unit.stage == "mm" else rows
        if req.lengths is None:  # the generator chose the lengths: the longest of this unit's rows per group
            groups = row_of // p.pool_size
            longest = {g: int(lengths[groups == g].max()) for g in np.unique(groups)}
            return np.minimum([longest[g] for g in groups], p.max_frames).astype(np.int64)
        # MultiModality repeats regenerate whole batches, so a repeat keeps its row's batch
        whole = visible_frames(req.lengths, padding="batch_longest", max_frames=p.max_frames, pool_size=p.pool_size)
        return whole[row_of]

    def _row_names(self, unit: Unit, rows: np.ndarray | None = None, row_of: np.ndarray | None = None) -> list[str]:
        """How errors name the rows of a generated/MultiModality unit: the sample id (sample sets) or the
        caption, never only a shuffled row index."""
        req: _Requests = self._plan(unit.replication, "generated")
        if rows is None or row_of is None:
            rows = np.arange(unit.start, unit.stop)
            row_of = self._plan(unit.replication, "mm")[rows // self.mm_repeats] if unit.stage == "mm" else rows
        names = [f"replication {unit.replication}, {unit.stage} row {int(i)}: {req.captions[int(j)]!r}"
                 for i, j in zip(rows, row_of)]
        if self.sample_mode and self.source.samples.ids is not None and req.prompts is not None:
            ids, prompts = self.source.samples.ids, req.prompts
            names = [f"sample {ids[int(prompts[int(j)])]!r} ({name})" for j, name in zip(row_of, names)]
        return names


    def report_samples(self, n: int = 4) -> tuple[Any, Any]:
        """The first ``n`` generated rows of replication 0 and their ground-truth items, as raw-feature
        :class:`~motioneval.data.samples.SampleSet` s (for :func:`motioneval.viz.report.write_report`)."""
        from ..data.samples import SampleSet

        unit = next(u for u in self.units([0]) if u.stage == "generated")
        raw, lengths, _ = self._generated_raw(unit)
        req: _Requests = self._plan(0, "generated")
        rows = [i for i in range(min(n, len(lengths))) if req.items[unit.start + i] is not None]
        if not rows:
            return None, None
        gen = SampleSet(captions=[req.captions[unit.start + i] for i in rows], lengths=lengths[rows],
                        motions=raw[rows], kind="features", normalization="raw")
        clips = [self.items.frames[self.items.offsets[k]: self.items.offsets[k] + self.items.lengths[k]]
                 for k in (req.items[unit.start + i] for i in rows)]
        ref = np.zeros((len(clips), max(len(c) for c in clips), self.items.dim), np.float32)
        for i, c in enumerate(clips):
            ref[i, : len(c)] = c
        reference = SampleSet(captions=list(gen.captions), lengths=np.array([len(c) for c in clips]), motions=ref,
                              kind="features", normalization="raw")
        return gen, reference


def _pack_rows(raw: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The valid frames of every row, concatenated: ``(sum(lengths), D)`` (frames past a length are zero)."""
    valid = np.arange(raw.shape[1])[None, :] < np.asarray(lengths)[:, None]
    return raw[valid]


def _unpack_rows(cached: Mapping[str, np.ndarray]) -> np.ndarray:
    """Inverse of :func:`_pack_rows` for a cached samples unit (or the full padded array, if stored so)."""
    if "raw" in cached:
        return cached["raw"]
    lengths = cached["lengths"]
    rows = cached["rows"]
    raw = np.zeros((len(lengths), int(cached["frames"]), rows.shape[1]), dtype=rows.dtype)
    raw[np.arange(raw.shape[1])[None, :] < lengths[:, None]] = rows
    return raw
