"""The T2M evaluator networks (Guo et al., CVPR 2022) with the official parameter names and shapes.

Three encoders, whose ``state_dict`` keys equal those in the official ``text_mot_match/model/finest.tar``:

- :class:`MovementConvEncoder` (frames -> movement tokens): ``Conv1d(k4, s2, p1)`` - dropout - LeakyReLU(0.2),
  twice, then a per-token ``Linear``. Token ``s`` sees input frames ``4s-3 ... 4s+6``.
- :class:`MotionEncoderBiGRUCo` (movement tokens -> embedding): ``Linear``, bidirectional GRU over the first
  ``L // 4`` tokens from a learned initial state ``hidden`` ``(2, 1, H)``, final states concatenated, then
  ``Linear - LayerNorm - LeakyReLU(0.2) - Linear``.
- :class:`TextEncoderBiGRUCo` (word vectors + POS one-hots -> embedding): ``word + Linear(pos)``, then the same
  ``Linear`` / BiGRU / output head over the first ``text_length`` tokens.

:class:`MovementConvDecoder` is the small decoder used only to pretrain the movement encoder as an
autoencoder (training recipe, stage 1). Sizes live in :class:`T2MConfig`; :func:`infer_config` reads them
from checkpoint tensor shapes so official and smaller evaluators load through one code path, and
:func:`check_state_dicts` compares a checkpoint against the expected keys and shapes with precise errors.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

# Protocol facts, re-exported from motioneval.constants: frames per movement token, frames every motion is
# padded to, frames past a length that the last movement token still sees.
from .._checks import check_positive_int
from ..constants import LOOKAHEAD_FRAMES as LOOKAHEAD_FRAMES
from ..constants import MAX_MOTION_FRAMES
from ..constants import UNIT_LENGTH as UNIT_LENGTH
from .state_dicts import state_dict_problems

#: Frames the reference pads every motion to (:data:`motioneval.constants.MAX_MOTION_FRAMES`).
MAX_MOTION_LENGTH = MAX_MOTION_FRAMES
#: Modules of an evaluator checkpoint, in the order the reference builds (and our weight rule fills) them.
MODULE_NAMES = ("movement_encoder", "text_encoder", "motion_encoder")
#: Movement-encoder input channels of the official evaluators (features minus the 4 foot contacts).
OFFICIAL_DIM_POSE = {"t2m": 259, "kit": 247}


@dataclass(frozen=True)
class T2MConfig:
    """All sizes of a T2M evaluator. Defaults are the official HumanML3D evaluator (21.7 M parameters)."""

    dim_pose: int = 259  #: movement-encoder input channels (feature dim minus 4 foot contacts; KIT 247)
    dim_movement_enc_hidden: int = 512  #: first convolution's output channels
    dim_movement_latent: int = 512  #: movement token size (second convolution and per-token linear)
    dim_word: int = 300  #: word-vector size
    dim_pos_ohot: int = 15  #: number of POS/VIP classes
    dim_text_hidden: int = 512  #: text GRU hidden size (per direction)
    dim_motion_hidden: int = 1024  #: motion GRU hidden size (per direction)
    dim_coemb_hidden: int = 512  #: size of the shared text/motion embedding

    def __post_init__(self) -> None:
        for f in fields(self):
            check_positive_int(getattr(self, f.name), f"T2MConfig.{f.name}", numpy=False)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "T2MConfig":
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown T2MConfig fields {unknown}; known: {sorted(names)}")
        return cls(**{k: int(v) for k, v in d.items()})


def _init_weight(m: nn.Module) -> None:
    """Xavier-normal weights and zero biases for convolutions and linears (the reference initialisation)."""
    if isinstance(m, (nn.Conv1d, nn.Linear, nn.ConvTranspose1d)) and not m.weight.is_meta:
        nn.init.xavier_normal_(m.weight)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


class MovementConvEncoder(nn.Module):
    """Frames ``(B, T, dim_pose)`` -> movement tokens ``(B, T // 4, latent)`` (keys ``main.0``, ``main.3``, ``out_net``)."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv1d(input_size, hidden_size, 4, 2, 1),
            nn.Dropout(0.2),
            nn.LeakyReLU(0.2),
            nn.Conv1d(hidden_size, output_size, 4, 2, 1),
            nn.Dropout(0.2),
            nn.LeakyReLU(0.2),
        )
        self.out_net = nn.Linear(output_size, output_size)
        self.apply(_init_weight)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        hidden = self.main(inputs.transpose(1, 2)).transpose(1, 2)
        return self.out_net(hidden)


class MovementConvDecoder(nn.Module):
    """Movement tokens ``(B, S, latent)`` -> frames ``(B, 4S, dim_features)``; stage-1 autoencoder only."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose1d(input_size, hidden_size, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.ConvTranspose1d(hidden_size, output_size, 4, 2, 1),
            nn.LeakyReLU(0.2),
        )
        self.out_net = nn.Linear(output_size, output_size)
        self.apply(_init_weight)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        hidden = self.main(inputs.transpose(1, 2)).transpose(1, 2)
        return self.out_net(hidden)


class _BiGRUCoEncoder(nn.Module):
    """Shared head: BiGRU over the first ``lengths[i]`` steps from a learned state, then the output MLP."""

    def __init__(self, hidden_size: int, output_size: int) -> None:
        super().__init__()
        # Registered first so that ``hidden`` is the first state_dict key, as in the official checkpoint.
        self.hidden = nn.Parameter(torch.randn(2, 1, hidden_size))
        self.hidden_size = hidden_size

    def _build_head(self, input_size: int, hidden_size: int, output_size: int) -> None:
        self.gru = nn.GRU(input_size, hidden_size, batch_first=True, bidirectional=True)
        self.output_net = nn.Sequential(
            nn.Linear(hidden_size * 2, hidden_size),
            nn.LayerNorm(hidden_size),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden_size, output_size),
        )
        self.output_net.apply(_init_weight)

    def encode_steps(self, steps: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Run the BiGRU on ``steps`` ``(B, S, hidden)`` packed to ``lengths`` (any order) and apply the head."""
        lengths_cpu = torch.as_tensor(lengths).to("cpu", torch.int64)
        packed = pack_padded_sequence(steps, lengths_cpu, batch_first=True, enforce_sorted=False)
        h0 = self.hidden.expand(2, steps.shape[0], self.hidden_size).contiguous()
        _, last = self.gru(packed, h0)
        return self.output_net(torch.cat([last[0], last[1]], dim=-1))


class MotionEncoderBiGRUCo(_BiGRUCoEncoder):
    """Movement tokens ``(B, S, latent)`` + token counts ``(B,)`` -> motion embeddings ``(B, output_size)``."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int) -> None:
        super().__init__(hidden_size, output_size)
        self.input_emb = nn.Linear(input_size, hidden_size)
        self.input_emb.apply(_init_weight)
        self._build_head(hidden_size, hidden_size, output_size)

    def forward(self, movements: torch.Tensor, token_lengths: torch.Tensor) -> torch.Tensor:
        return self.encode_steps(self.input_emb(movements), token_lengths)


class TextEncoderBiGRUCo(_BiGRUCoEncoder):
    """Word vectors ``(B, S, word)`` + POS one-hots ``(B, S, pos)`` + lengths ``(B,)`` -> text embeddings."""

    def __init__(self, word_size: int, pos_size: int, hidden_size: int, output_size: int) -> None:
        super().__init__(hidden_size, output_size)
        self.pos_emb = nn.Linear(pos_size, word_size)
        self.input_emb = nn.Linear(word_size, hidden_size)
        self.pos_emb.apply(_init_weight)
        self.input_emb.apply(_init_weight)
        self._build_head(hidden_size, hidden_size, output_size)

    def forward(self, word_embs: torch.Tensor, pos_onehot: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.encode_steps(self.input_emb(word_embs + self.pos_emb(pos_onehot)), lengths)


def build_modules(config: T2MConfig) -> dict[str, nn.Module]:
    """The three encoders for ``config``, keyed as in the checkpoint (``movement_encoder`` ...)."""
    return {
        "movement_encoder": MovementConvEncoder(
            config.dim_pose, config.dim_movement_enc_hidden, config.dim_movement_latent
        ),
        "text_encoder": TextEncoderBiGRUCo(
            config.dim_word, config.dim_pos_ohot, config.dim_text_hidden, config.dim_coemb_hidden
        ),
        "motion_encoder": MotionEncoderBiGRUCo(
            config.dim_movement_latent, config.dim_motion_hidden, config.dim_coemb_hidden
        ),
    }


def expected_shapes(config: T2MConfig) -> dict[str, dict[str, tuple[int, ...]]]:
    """``{module: {key: shape}}`` in state_dict order, computed without allocating weights."""
    with torch.device("meta"):
        modules = build_modules(config)
    return {name: {k: tuple(v.shape) for k, v in modules[name].state_dict().items()} for name in MODULE_NAMES}


def infer_config(state_dicts: Mapping[str, Mapping[str, Any]], *, source: str = "checkpoint") -> T2MConfig:
    """Read all sizes from the tensor shapes of an evaluator checkpoint (``infer`` only; see :func:`check_state_dicts`)."""
    needed = {
        ("movement_encoder", "main.0.weight"): 3,
        ("movement_encoder", "main.3.weight"): 3,
        ("text_encoder", "pos_emb.weight"): 2,
        ("text_encoder", "input_emb.weight"): 2,
        ("text_encoder", "output_net.3.weight"): 2,
        ("motion_encoder", "input_emb.weight"): 2,
    }
    shapes: dict[tuple[str, str], tuple[int, ...]] = {}
    for (module, key), ndim in needed.items():
        sd = state_dicts.get(module)
        if sd is None or key not in sd:
            raise ValueError(
                f"{source}: missing tensor '{module}.{key}'; this is not a T2M text_mot_match evaluator checkpoint "
                f"(expected the keys movement_encoder / text_encoder / motion_encoder with the official names)"
            )
        shape = tuple(sd[key].shape)
        if len(shape) != ndim:
            raise ValueError(f"{source}: tensor '{module}.{key}' has shape {list(shape)}; expected {ndim} dims")
        shapes[(module, key)] = shape
    conv0 = shapes[("movement_encoder", "main.0.weight")]
    return T2MConfig(
        dim_pose=conv0[1],
        dim_movement_enc_hidden=conv0[0],
        dim_movement_latent=shapes[("movement_encoder", "main.3.weight")][0],
        dim_word=shapes[("text_encoder", "pos_emb.weight")][0],
        dim_pos_ohot=shapes[("text_encoder", "pos_emb.weight")][1],
        dim_text_hidden=shapes[("text_encoder", "input_emb.weight")][0],
        dim_motion_hidden=shapes[("motion_encoder", "input_emb.weight")][0],
        dim_coemb_hidden=shapes[("text_encoder", "output_net.3.weight")][0],
    )


def check_state_dicts(
    state_dicts: Mapping[str, Mapping[str, Any]], config: T2MConfig, *, source: str = "checkpoint"
) -> None:
    """Raise ``ValueError`` naming ``source`` and every missing, unexpected, mis-shaped, non-float or non-finite tensor."""
    problems: list[str] = []
    for module, shapes in expected_shapes(config).items():
        sd = state_dicts.get(module)
        if not isinstance(sd, Mapping):
            problems.append(f"'{module}' is missing or not a state dict")
            continue
        problems += state_dict_problems(sd, shapes, prefix=module)
    if problems:
        raise ValueError(
            f"{source} does not match the T2M evaluator architecture {config.to_dict()}:\n  - "
            + "\n  - ".join(problems)
        )
