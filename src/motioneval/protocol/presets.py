"""Named protocol presets: the settings in which the published evaluation lineages differ.

Numbers from text-to-motion papers are only comparable when the loop around the metrics is the same
(``protocol.md``, "Presets"). A :class:`Preset` is a frozen record of every such setting; the four
lineages are in :data:`PRESETS`:

================================  ==================  ====================  ================  ===============
setting                           ``t2m`` (Guo)       ``mdm``               ``momask``        ``t2m-gpt``
================================  ==================  ====================  ================  ===============
replications                      20                  20 (MM pass: 5)       20                20
generated samples / replication   whole test set      1,024 (32 groups)     whole test set    whole test set
MultiModality captions x repeats  100 random x 30     4 random groups x 30  first 3 groups    every caption
diversity pairs                   300                 300                   300 (100 if N<=300)  same
generated length                  length estimator    ground truth          ground truth      model
padding of generated motion       zeros               none (all 196)        batch_longest     zeros
generated rows                    independent pass    independent pass      GT batches        GT batches
FID ground-truth statistics       2nd GT pass         2nd GT pass           same batches      same batches
ground-truth row                  yes                 yes                   no                yes (no FID)
motions over 196 frames           error               error                 error             truncate
KIT caption time stamps (fps)     20 (bug)            20 (bug)              20 (bug)          12.5
evaluator statistics (meta)       Comp_v6_KLD01       Comp_v6_KLD01         Comp_v6_KLD005    VQVAEV3_... meta
text length of generated rows     true                true (mdm-2023: 22)   true              true
================================  ==================  ====================  ================  ===============

``mdm-2023`` is ``mdm`` with the text length of every generated row set to 22 (MDM before Jan 2024).

Where each lineage's loop does this (read from the public evaluation code; described in our own words):

- ``t2m``: ``final_evaluations.py`` of text-to-motion builds the generated set in an independent shuffled
  pass (batch size 1) and computes the ground-truth FID statistics from a second ground-truth loader pass;
  its KIT loader multiplies caption times by 20; its options point at ``checkpoints/<ds>/Comp_v6_KLD01``.
- ``mdm``: ``eval/eval_humanml.py`` draws 1,024 generated rows in their own pass and compares them with a
  separate ground-truth pass; the sampler's 196 frames all reach the evaluator (``generated_padding="none"``);
  the data loader is text-to-motion's (times ``* 20``) and the evaluator options are ``Comp_v6_KLD01``;
  until Jan 2024 the generated rows carried text length 22 for every caption (``mdm-2023``).
- ``momask``: ``utils/eval_t2m.py`` loops over the ground-truth loader and, for each batch, generates from
  that batch's own captions and lengths, takes the FID statistics from the same batch's ground-truth
  embeddings, prints only the model's numbers, and feeds the decoder output up to the batch's longest
  motion; its evaluator options are ``checkpoints/<ds>/Comp_v6_KLD005`` and its KIT loader uses ``* 20``.
- ``t2m-gpt``: ``utils/eval_trans.py`` also generates from the ground-truth batches and takes FID from
  them (it reports the real motions' R-precision, matching score and diversity, but no FID for them); the
  sampler may return 200 frames, which it cuts to 196; ``dataset/dataset_TM_eval.py`` normalizes with the
  VQ-VAE's meta (``VQVAEV3_CB1024_CMT_H1024_NRES3/meta``) and converts KIT caption times with ``* 12.5``.

All four share the ground-truth item rules (lengths 40 <= T < 200, KIT 24; crops to multiples of 4;
196-frame padding; 20 text tokens), R-precision pools of 32 with top-3, and 10 MultiModality pairs.

``get_preset(name, **overrides)`` returns a record named ``"custom"`` whose :meth:`Preset.differences`
lists every changed setting against its base; results carry that list.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..constants import (
    DIVERSITY_PAIRS,
    HUMANML3D_DATASET,
    KIT_DATASET,
    MAX_MOTION_FRAMES,
    MAX_TEXT_TOKENS,
    MULTIMODALITY_PAIRS,
    MULTIMODALITY_REPEATS,
    R_PRECISION_POOL,
    R_PRECISION_TOP_K,
    UNIT_LENGTH,
)

#: Dataset-dependent defaults: minimum clip length (frames) and frame rate of the caption time stamps.
DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    spec.name: {"min_motion_length": spec.min_length, "fps": spec.fps} for spec in (HUMANML3D_DATASET, KIT_DATASET)
}

GENERATED_LENGTH_SOURCES = ("ground_truth", "estimator", "model")
PADDING_MODES = ("zeros", "none", "batch_longest")
GENERATED_ROWS = ("independent", "ground_truth_batches")
FID_REFERENCES = ("independent_pass", "same_batches")
LONG_MOTIONS = ("error", "truncate")
TEXT_LENGTHS = ("true", "max")
MM_SELECTIONS = ("random_items", "random_groups", "first_groups", "all")
FID_METHODS = ("exact", "reference")


@dataclass(frozen=True)
class Preset:
    """Every setting of the evaluation loop that a lineage fixes. Fields (defaults are the shared values):

    Identity
        ``name``: ``"t2m"``, ``"mdm"``, ``"momask"``, ``"t2m-gpt"`` or ``"custom"`` when overridden;
        ``base``: the named preset this record derives from; ``description``: one line of provenance;
        ``dataset``: ``"humanml3d"`` or ``"kit"`` (sets ``min_motion_length`` and ``fps``).
    Replications
        ``replications``: full repetitions of the loop (regenerate, re-crop, re-pick captions).
    Ground-truth items (``protocol.md`` steps 1-5)
        ``min_motion_length``: clips with ``T < min`` are skipped (40; KIT 24);
        ``max_motion_length``: clips with ``T >= max`` are skipped (200);
        ``fps``: frame rate by which caption segment times are converted to frames (20; KIT: the lineage's
        rate, :data:`KIT_TIME_RATE`: 20 as the reference loaders do, 12.5 for T2M-GPT);
        ``unit_length``: crops are multiples of it and the evaluator reads ``length // unit`` tokens (4);
        ``crop_shorter_probability``: chance of the crop ``unit*(floor(T/unit)-1)`` instead of
        ``unit*floor(T/unit)`` (1/3, the reference's ``choice(['single', 'single', 'double'])``);
        ``max_frames``: motions are zero-padded to this many frames (196);
        ``max_text_tokens``: caption tokens kept before ``sos``/``eos`` are added (20; padded to 22).
    Groups and retrieval
        ``pool_size``: samples per shuffled group = R-precision candidate pool; incomplete last groups are
        dropped (32); ``top_k``: R-precision reported for top-1..k (3).
    Generated side
        ``generated_samples``: rows generated per replication (``None``: every full group of the test set;
        MDM 1,024), rounded down to whole groups;
        ``generated_length``: where generated lengths come from: ``"ground_truth"`` (the item's cropped
        length is passed to the generator), ``"estimator"`` or ``"model"`` (the generator chooses and
        returns lengths; the loop passes ``lengths=None``);
        ``generated_padding``: ``"zeros"`` (frames at and past each length are zeroed before the
        evaluator), ``"none"`` (every generated frame up to ``max_frames`` reaches the evaluator, as MDM) or
        ``"batch_longest"`` (generated frames up to the longest length of the row's group of ``pool_size``
        reach it, as MoMask). Where a sample has fewer stored frames than that, the missing frames are
        zero in *evaluator-normalized* space (what the reference's padding gives) and the result lists them;
        ``generated_rows``: ``"independent"`` (a shuffled pass of its own) or ``"ground_truth_batches"``
        (the rows of the ground-truth pass that is scored, with its captions and crop lengths: MoMask,
        T2M-GPT); ``long_motions``: ``"error"`` or ``"truncate"`` (lengths over ``max_frames`` are cut to
        it, as T2M-GPT); ``text_length``: ``"true"`` (each generated row's own text length) or ``"max"``
        (``max_text_tokens + 2`` = 22 for every generated row, MDM before 2024).
    Diversity
        ``diversity_pairs``: pairs drawn (300); ``diversity_pairs_small``: pairs used instead when the
        sample count is ``<= diversity_pairs`` (MoMask / T2M-GPT: 100; ``None``: such a run is an error).
    MultiModality
        ``mm_replications``: replications that also run the MultiModality pass, the first
        ``min(mm_replications, replications)`` (0 disables it; MDM runs it in a separate mode of 5); ``mm_captions``: captions per MultiModality pass (``None``:
        all generated rows); ``mm_selection``: how they are chosen among the generated rows:
        ``"random_items"``, ``"random_groups"`` (whole groups of ``pool_size``), ``"first_groups"`` or
        ``"all"``; ``mm_repeats``: generations per caption (30); ``mm_pairs``: pairs per caption (10).
    FID
        ``fid_method``: ``"exact"`` (symmetric, never fails) or ``"reference"`` (scipy ``sqrtm`` digits);
        ``fid_reference``: ``"independent_pass"`` (ground-truth statistics from a second, independent pass)
        or ``"same_batches"`` (from the scored ground-truth pass itself; the ground-truth row then has no
        FID); ``ground_truth_row``: whether the table has a ground-truth row.
    Evaluator
        ``evaluator_statistics``: the ``checkpoints/<ds>/<name>/meta`` folder whose ``mean.npy``/``std.npy``
        the lineage normalizes with, used when the evaluator folder holds it (``None``: the default search).
    """

    name: str
    base: str
    description: str = ""
    dataset: str = "humanml3d"
    replications: int = 20
    min_motion_length: int = HUMANML3D_DATASET.min_length
    max_motion_length: int = HUMANML3D_DATASET.max_length
    fps: float = HUMANML3D_DATASET.fps
    unit_length: int = UNIT_LENGTH
    crop_shorter_probability: float = 1.0 / 3.0
    max_frames: int = MAX_MOTION_FRAMES
    max_text_tokens: int = MAX_TEXT_TOKENS
    pool_size: int = R_PRECISION_POOL
    top_k: int = R_PRECISION_TOP_K
    generated_samples: int | None = None
    generated_length: str = "ground_truth"
    generated_padding: str = "zeros"
    diversity_pairs: int = DIVERSITY_PAIRS
    diversity_pairs_small: int | None = None
    mm_replications: int = 20
    mm_captions: int | None = 100
    mm_selection: str = "random_items"
    mm_repeats: int = MULTIMODALITY_REPEATS
    mm_pairs: int = MULTIMODALITY_PAIRS
    fid_method: str = "exact"
    generated_rows: str = "independent"
    fid_reference: str = "independent_pass"
    ground_truth_row: bool = True
    long_motions: str = "error"
    text_length: str = "true"
    evaluator_statistics: str | None = "Comp_v6_KLD01"
    overrides: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        _validate(self)

    # ------------------------------------------------------------------ derived values
    @property
    def text_tokens(self) -> int:
        """Padded token count: ``sos`` + ``max_text_tokens`` + ``eos`` (22)."""
        return self.max_text_tokens + 2

    def diversity_pairs_for(self, num_samples: int) -> int:
        """Diversity pairs for ``num_samples`` rows under this preset's rule (raises if impossible)."""
        if num_samples > self.diversity_pairs:
            return self.diversity_pairs
        if self.diversity_pairs_small is not None and num_samples > self.diversity_pairs_small:
            return self.diversity_pairs_small
        small = f" or {self.diversity_pairs_small}" if self.diversity_pairs_small is not None else ""
        raise ValueError(
            f"diversity under preset {self.name!r} draws {self.diversity_pairs}{small} pairs without replacement and "
            f"needs more samples than pairs; got {num_samples} samples. Evaluate more samples or override "
            f"diversity_pairs (e.g. --set diversity_pairs={max(1, num_samples // 2)})."
        )

    @property
    def effective_mm_replications(self) -> int:
        """Replications that run the MultiModality pass: ``min(mm_replications, replications)``."""
        return min(self.mm_replications, self.replications)

    def settings(self) -> dict[str, Any]:
        """All settings as a plain dict (identity fields included, ``overrides`` excluded)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "overrides"}

    def differences(self) -> dict[str, dict[str, Any]]:
        """``{setting: {"preset": base value, "value": this value}}`` for every setting differing from the base."""
        reference = _named(self.base, self.dataset)
        out = {}
        for key, value in self.settings().items():
            if key in ("name", "description"):
                continue
            if getattr(reference, key) != value:
                out[key] = {"preset": getattr(reference, key), "value": value}
        return out

    def for_dataset(self, dataset: str) -> "Preset":
        """The same preset and overrides for another dataset (``"humanml3d"`` or ``"kit"``)."""
        if dataset == self.dataset:
            return self
        return get_preset(self.base, dataset=dataset, **dict(self.overrides))

    def to_dict(self) -> dict[str, Any]:
        """Settings plus the differences from the base (what results record)."""
        return {**self.settings(), "differences": self.differences()}


def _validate(p: Preset) -> None:
    def fail(msg: str) -> None:
        raise ValueError(f"preset {p.name!r}: {msg}")

    if p.dataset not in DATASET_DEFAULTS:
        fail(f"dataset must be one of {sorted(DATASET_DEFAULTS)}; got {p.dataset!r}")
    for key in ("replications", "unit_length", "max_frames", "max_text_tokens", "pool_size", "top_k",
                "diversity_pairs", "mm_repeats", "mm_pairs", "min_motion_length", "max_motion_length"):
        value = getattr(p, key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            fail(f"{key} must be a positive integer; got {value!r}")
    if not isinstance(p.mm_replications, int) or p.mm_replications < 0:
        fail(f"mm_replications must be an integer >= 0; got {p.mm_replications!r}")
    if p.min_motion_length >= p.max_motion_length:
        fail(f"min_motion_length ({p.min_motion_length}) must be < max_motion_length ({p.max_motion_length})")
    if p.max_frames % p.unit_length:
        fail(f"max_frames ({p.max_frames}) must be a multiple of unit_length ({p.unit_length})")
    if p.top_k > p.pool_size:
        fail(f"top_k ({p.top_k}) cannot exceed pool_size ({p.pool_size})")
    if not 0.0 <= p.crop_shorter_probability <= 1.0:
        fail(f"crop_shorter_probability must be in [0, 1]; got {p.crop_shorter_probability}")
    if not p.fps > 0:
        fail(f"fps must be positive; got {p.fps}")
    if p.generated_samples is not None and (not isinstance(p.generated_samples, int)
                                            or p.generated_samples < p.pool_size):
        fail(f"generated_samples must be None (whole test set) or an integer >= pool_size ({p.pool_size}); "
             f"got {p.generated_samples!r}")
    if p.mm_captions is not None and (not isinstance(p.mm_captions, int) or p.mm_captions < 1):
        fail(f"mm_captions must be None (all) or a positive integer; got {p.mm_captions!r}")
    if p.diversity_pairs_small is not None and not 0 < p.diversity_pairs_small < p.diversity_pairs:
        fail(f"diversity_pairs_small must be None or in (0, diversity_pairs); got {p.diversity_pairs_small!r}")
    if p.mm_pairs >= p.mm_repeats:
        fail(f"mm_pairs ({p.mm_pairs}) must be smaller than mm_repeats ({p.mm_repeats}): pairs are drawn "
             f"without replacement from the repeats")
    for key, allowed in (("generated_length", GENERATED_LENGTH_SOURCES), ("generated_padding", PADDING_MODES),
                         ("mm_selection", MM_SELECTIONS), ("fid_method", FID_METHODS),
                         ("generated_rows", GENERATED_ROWS), ("fid_reference", FID_REFERENCES),
                         ("long_motions", LONG_MOTIONS), ("text_length", TEXT_LENGTHS)):
        if getattr(p, key) not in allowed:
            fail(f"{key} must be one of {list(allowed)}; got {getattr(p, key)!r}")
    if not isinstance(p.ground_truth_row, bool):
        fail(f"ground_truth_row must be true or false; got {p.ground_truth_row!r}")
    if p.evaluator_statistics is not None and (not isinstance(p.evaluator_statistics, str)
                                               or not p.evaluator_statistics.strip() or "/" in p.evaluator_statistics):
        fail(f"evaluator_statistics must be None or a meta folder name (e.g. 'Comp_v6_KLD01'); "
             f"got {p.evaluator_statistics!r}")
    if p.mm_selection == "all" and p.mm_captions is not None:
        fail("mm_selection='all' takes every generated row; set mm_captions=None")
    if p.mm_selection != "all" and p.mm_captions is None:
        fail(f"mm_selection={p.mm_selection!r} needs mm_captions (a count)")
    if p.mm_selection in ("random_groups", "first_groups") and (p.mm_captions or 0) % p.pool_size:
        fail(f"mm_selection={p.mm_selection!r} takes whole groups: mm_captions ({p.mm_captions}) must be a "
             f"multiple of pool_size ({p.pool_size})")


_COMMON = dict(replications=20, pool_size=R_PRECISION_POOL, top_k=R_PRECISION_TOP_K, unit_length=UNIT_LENGTH,
               max_frames=MAX_MOTION_FRAMES, max_text_tokens=MAX_TEXT_TOKENS,
               max_motion_length=HUMANML3D_DATASET.max_length, mm_repeats=MULTIMODALITY_REPEATS,
               mm_pairs=MULTIMODALITY_PAIRS, diversity_pairs=DIVERSITY_PAIRS, fid_method="exact")

#: MDM's loop (also the base of its pre-2024 variant ``mdm-2023``)
_MDM: dict[str, Any] = dict(
    description="Tevet et al., ICLR 2023 (MDM, eval_humanml.py): 1,024 samples, ground-truth lengths, no "
                "padding of generated frames, MultiModality in a separate mode (5 replications, 4 groups)",
    generated_samples=1024, generated_length="ground_truth", generated_padding="none",
    mm_replications=5, mm_captions=128, mm_selection="random_groups", diversity_pairs_small=None,
    generated_rows="independent", fid_reference="independent_pass", ground_truth_row=True,
    long_motions="error", text_length="true", evaluator_statistics="Comp_v6_KLD01",
)

_DEFINITIONS: dict[str, dict[str, Any]] = {
    "t2m": dict(
        description="Guo et al., CVPR 2022 (text-to-motion): whole test set, lengths from a length estimator, "
                    "MultiModality on 100 random captions x 30",
        generated_samples=None, generated_length="estimator", generated_padding="zeros",
        mm_replications=20, mm_captions=100, mm_selection="random_items", diversity_pairs_small=None,
        generated_rows="independent", fid_reference="independent_pass", ground_truth_row=True,
        long_motions="error", text_length="true", evaluator_statistics="Comp_v6_KLD01",
    ),
    "mdm": _MDM,
    "mdm-2023": {
        **_MDM,
        "description": "MDM before the Jan 2024 fix (its older tables): as 'mdm', but every generated row's text "
                       "embedding uses text length 22 (sos + 20 tokens + eos, padding included)",
        "text_length": "max",
    },
    "momask": dict(
        description="Guo et al., CVPR 2024 (MoMask, utils/eval_t2m.py): generates from the ground-truth batches "
                    "(their captions and lengths), FID against the same batches, decoder output up to each "
                    "batch's longest motion, no ground-truth row, MultiModality on the first 3 groups, 100 "
                    "diversity pairs when N <= 300",
        generated_samples=None, generated_length="ground_truth", generated_padding="batch_longest",
        mm_replications=20, mm_captions=96, mm_selection="first_groups", diversity_pairs_small=100,
        generated_rows="ground_truth_batches", fid_reference="same_batches", ground_truth_row=False,
        long_motions="error", text_length="true", evaluator_statistics="Comp_v6_KLD005",
    ),
    "t2m-gpt": dict(
        description="Zhang et al., CVPR 2023 (T2M-GPT, utils/eval_trans.py): generates from the ground-truth "
                    "batches with lengths predicted by the model (cut to 196), FID against the same batches, "
                    "MultiModality on every caption, 100 diversity pairs when N <= 300",
        generated_samples=None, generated_length="model", generated_padding="zeros",
        mm_replications=20, mm_captions=None, mm_selection="all", diversity_pairs_small=100,
        generated_rows="ground_truth_batches", fid_reference="same_batches", ground_truth_row=True,
        long_motions="truncate", text_length="true", evaluator_statistics="VQVAEV3_CB1024_CMT_H1024_NRES3",
    ),
}

PRESET_NAMES: tuple[str, ...] = tuple(_DEFINITIONS)

#: Frame rate by which each lineage converts KIT-ML caption times (``protocol.md``, "Loop semantics"):
#: text-to-motion's KIT loader multiplies by 20 although KIT-ML is 12.5 fps, and MDM and MoMask reuse that
#: loader; T2M-GPT's ``dataset_TM_eval.py`` multiplies by 12.5. HumanML3D is 20 fps everywhere.
KIT_TIME_RATE: dict[str, float] = {"t2m": HUMANML3D_DATASET.fps, "mdm": HUMANML3D_DATASET.fps,
                                   "mdm-2023": HUMANML3D_DATASET.fps, "momask": HUMANML3D_DATASET.fps,
                                   "t2m-gpt": KIT_DATASET.fps}


def _named(name: str, dataset: str = "humanml3d") -> Preset:
    if name not in _DEFINITIONS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESET_NAMES)}")
    if dataset not in DATASET_DEFAULTS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASET_DEFAULTS)}")
    defaults: dict[str, Any] = dict(DATASET_DEFAULTS[dataset])
    if dataset == "kit":
        defaults["fps"] = KIT_TIME_RATE[name]
    return Preset(name=name, base=name, dataset=dataset, **_COMMON, **defaults,  # type: ignore[arg-type]
                  **_DEFINITIONS[name])


#: The four lineages on HumanML3D (use ``get_preset(name, dataset="kit")`` for KIT-ML).
PRESETS: dict[str, Preset] = {name: _named(name) for name in PRESET_NAMES}

_NOT_OVERRIDABLE = {"name", "base", "description", "dataset", "overrides"}
#: Preset fields that ``get_preset(..., **overrides)`` and ``--set key=value`` refuse.
NOT_OVERRIDABLE = frozenset(_NOT_OVERRIDABLE)


def get_preset(name: str | Preset, *, dataset: str | None = None, **overrides: Any) -> Preset:
    """The preset ``name`` (or a :class:`Preset`), with ``overrides`` applied.

    ``dataset`` (``"humanml3d"``/``"kit"``) picks the dataset-dependent defaults without counting as an
    override. Any other field may be overridden; the result is then named ``"custom"`` and
    :meth:`Preset.differences` lists the changes. Unknown keys raise ``ValueError``.
    """
    if isinstance(name, Preset):
        merged = {**dict(name.overrides), **overrides}
        return get_preset(name.base, dataset=dataset or name.dataset, **merged)
    base = _named(name, dataset or "humanml3d")
    fields = {f.name for f in dataclasses.fields(Preset)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"unknown preset setting(s) {unknown}; valid settings: "
                         f"{', '.join(sorted(fields - _NOT_OVERRIDABLE))}")
    fixed = sorted(set(overrides) & _NOT_OVERRIDABLE)
    if fixed:
        raise ValueError(f"{fixed} cannot be overridden (pass dataset= for the dataset)")
    if not overrides:
        return base
    candidate = dataclasses.replace(base, **overrides)
    if candidate == base:  # overrides that restate the preset's own values
        return dataclasses.replace(base, overrides=dict(overrides))
    return dataclasses.replace(candidate, name="custom", overrides=dict(overrides))
