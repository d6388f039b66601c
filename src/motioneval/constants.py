"""The one home of the protocol's facts: dataset kinds, frame and token rules, and the metric catalog.

Every other module reads these names instead of writing the numbers out. Torch-free and import-free (standard
library only), so every layer may import it.

Facts (Guo et al. 2022, *Generating Diverse and Natural 3D Human Motions from Text*, and its evaluation code,
see ``shared/spec``):

- HumanML3D: 263-d features of 22 joints at 20 fps; KIT-ML: 251-d features of 21 joints at 12.5 fps. The
  feature dimension is ``12 J - 1``.
- Clips enter the protocol when ``min_length <= T < max_length`` (40 <= T < 200; KIT 24 <= T < 200).
- Motions are zero-padded to :data:`MAX_MOTION_FRAMES` (196) frames; the movement encoder turns each
  :data:`UNIT_LENGTH` (4) frames into one token and its last token still sees :data:`LOOKAHEAD_FRAMES` (3)
  frames past the length.
- A caption keeps its first :data:`MAX_TEXT_TOKENS` (20) ``word/POS`` tokens between ``sos`` and ``eos`` and
  is padded with ``unk`` to :data:`PADDED_TEXT_TOKENS` (22): :func:`pad_tokens`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "DatasetSpec", "HUMANML3D_DATASET", "KIT_DATASET", "DATASET_SPECS", "get_dataset_spec", "dataset_spec_for_dim",
    "dataset_spec_for_joints", "MAX_MOTION_FRAMES", "UNIT_LENGTH", "LOOKAHEAD_FRAMES", "MAX_TEXT_TOKENS",
    "PADDED_TEXT_TOKENS", "SOS", "EOS", "UNK", "pad_tokens", "R_PRECISION_POOL", "R_PRECISION_TOP_K",
    "DIVERSITY_PAIRS", "MULTIMODALITY_PAIRS", "MULTIMODALITY_REPEATS", "MetricInfo", "METRICS", "DIRECTIONS",
    "metric_info", "register_metric",
]


# --- datasets -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DatasetSpec:
    """What differs between HumanML3D and KIT-ML: feature dims, joints, fps, the protocol's length bounds and
    the evaluator's folder name (``t2m`` / ``kit``)."""

    name: str
    dim: int
    num_joints: int
    fps: float
    min_length: int  # inclusive
    max_length: int  # exclusive
    evaluator_name: str = "t2m"


HUMANML3D_DATASET = DatasetSpec("humanml3d", dim=263, num_joints=22, fps=20.0, min_length=40, max_length=200,
                                evaluator_name="t2m")
KIT_DATASET = DatasetSpec("kit", dim=251, num_joints=21, fps=12.5, min_length=24, max_length=200,
                          evaluator_name="kit")
#: Accepted names of each dataset kind.
DATASET_SPECS: dict[str, DatasetSpec] = {"humanml3d": HUMANML3D_DATASET, "t2m": HUMANML3D_DATASET,
                                         "kit": KIT_DATASET, "kit-ml": KIT_DATASET}


def get_dataset_spec(kind: str | DatasetSpec) -> DatasetSpec:
    """The spec named ``kind`` (``"humanml3d"``/``"t2m"`` or ``"kit"``/``"kit-ml"``), or ``kind`` itself."""
    if isinstance(kind, DatasetSpec):
        return kind
    try:
        return DATASET_SPECS[str(kind).lower()]
    except KeyError:
        raise ValueError(f"unknown dataset kind {kind!r}; expected one of {sorted(DATASET_SPECS)}") from None


def dataset_spec_for_dim(dim: int, *, what: str = "features") -> DatasetSpec:
    """The dataset whose features have ``dim`` dims (263 -> HumanML3D, 251 -> KIT-ML); never guesses."""
    for spec in (HUMANML3D_DATASET, KIT_DATASET):
        if int(dim) == spec.dim:
            return spec
    raise ValueError(f"{what} have {dim} dims, which matches no known dataset "
                     f"({HUMANML3D_DATASET.dim}: HumanML3D, {KIT_DATASET.dim}: KIT-ML); name the kind explicitly")


def dataset_spec_for_joints(num_joints: int, *, what: str = "joints") -> DatasetSpec:
    """The dataset whose skeleton has ``num_joints`` joints (22 -> HumanML3D, 21 -> KIT-ML); never guesses."""
    for spec in (HUMANML3D_DATASET, KIT_DATASET):
        if int(num_joints) == spec.num_joints:
            return spec
    raise ValueError(f"{what} have {num_joints} joints, which matches no known skeleton "
                     f"({HUMANML3D_DATASET.num_joints}: HumanML3D, {KIT_DATASET.num_joints}: KIT-ML)")


# --- frames and tokens ----------------------------------------------------------------------------------

#: Frames every motion is zero-padded to before the evaluator reads it.
MAX_MOTION_FRAMES = 196
#: Frames per movement token (two stride-2 convolutions); crops are multiples of it.
UNIT_LENGTH = 4
#: Frames past a motion's length that its last movement token still sees (receptive field ``4s-3 ... 4s+6``).
LOOKAHEAD_FRAMES = 3
#: Caption tokens kept between ``sos`` and ``eos``.
MAX_TEXT_TOKENS = 20
#: Token rows of a padded caption: ``sos`` + :data:`MAX_TEXT_TOKENS` + ``eos``.
PADDED_TEXT_TOKENS = MAX_TEXT_TOKENS + 2
SOS, EOS, UNK = "sos/OTHER", "eos/OTHER", "unk/OTHER"


def pad_tokens(tokens: Sequence[str], max_text_tokens: int = MAX_TEXT_TOKENS) -> tuple[list[str], int]:
    """``sos`` + the first ``max_text_tokens`` tokens + ``eos``, padded with ``unk`` to ``max_text_tokens + 2``;
    returns the padded list and the text length (tokens before padding, at most ``max_text_tokens + 2``)."""
    kept = [SOS, *list(tokens)[:max_text_tokens], EOS]
    return kept + [UNK] * (max_text_tokens + 2 - len(kept)), len(kept)


# --- metric defaults --------------------------------------------------------------------------------------

#: Rows per R-precision pool (the reference's batch of 32) and the largest rank reported.
R_PRECISION_POOL = 32
R_PRECISION_TOP_K = 3
#: Pairs drawn for Diversity and MultiModality, and generations per caption for MultiModality.
DIVERSITY_PAIRS = 300
MULTIMODALITY_PAIRS = 10
MULTIMODALITY_REPEATS = 30


# --- the metric catalog -----------------------------------------------------------------------------------

#: What "better" means for a metric.
DIRECTIONS = ("higher", "lower", "closer to ground truth")


@dataclass(frozen=True)
class MetricInfo:
    """A metric's result key, short column label, long label, direction and unit."""

    key: str
    label: str
    long_label: str
    direction: str
    unit: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(f"metric {self.key!r}: direction must be one of {DIRECTIONS}; got {self.direction!r}")

    @property
    def arrow(self) -> str:
        """``↑``, ``↓`` or ``→`` (closer to ground truth)."""
        return {"higher": "↑", "lower": "↓", "closer to ground truth": "→"}[self.direction]

    def better(self, a: float, b: float, reference: float | None = None) -> bool:
        """Whether value ``a`` is better than ``b`` (``reference``: the ground truth's value, for ``→``)."""
        if self.direction == "higher":
            return a > b
        if self.direction == "lower":
            return a < b
        if reference is None:
            raise ValueError(f"{self.key}: 'closer to ground truth' needs the ground truth's value")
        return abs(a - reference) < abs(b - reference)


#: The protocol's metrics in table order.
METRICS: dict[str, MetricInfo] = {m.key: m for m in (
    MetricInfo("r_precision_top1", "R@1", "R-precision top 1", "higher",
               description="fraction of captions whose motion ranks first among 32"),
    MetricInfo("r_precision_top2", "R@2", "R-precision top 2", "higher"),
    MetricInfo("r_precision_top3", "R@3", "R-precision top 3", "higher"),
    MetricInfo("fid", "FID", "FID", "lower", description="Fréchet distance of motion embeddings to ground truth"),
    MetricInfo("matching_score", "MM Dist", "Matching score (MM Dist)", "lower",
               description="mean text-motion embedding distance"),
    MetricInfo("diversity", "Diversity", "Diversity", "closer to ground truth",
               description="mean distance between random pairs of motion embeddings"),
    MetricInfo("multimodality", "MModality", "MultiModality", "higher",
               description="mean distance between motions generated from one caption"),
)}


#: Metrics declared by other modules (physical plausibility, other evaluators) through :func:`register_metric`.
_EXTRA_METRICS: dict[str, MetricInfo] = {}


def register_metric(info: MetricInfo) -> MetricInfo:
    """Add a metric outside the protocol's seven to the catalog (idempotent; a different entry under a taken
    key is an error)."""
    known = METRICS.get(info.key) or _EXTRA_METRICS.get(info.key)
    if known is not None and known != info:
        raise ValueError(f"metric key {info.key!r} is already registered as {known}")
    _EXTRA_METRICS[info.key] = info
    return info


def metric_info(key: str) -> MetricInfo | None:
    """The catalog entry of ``key``, or ``None`` for a metric outside the catalog (label it by its key)."""
    return METRICS.get(key) or _EXTRA_METRICS.get(key)
