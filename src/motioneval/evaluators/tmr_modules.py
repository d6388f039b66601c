"""The TMR encoders (Petrovich et al., ICCV 2023; ``Mathux/TMR``) with the official parameter names and shapes.

TMR's motion and text encoders share one architecture ("ACTOR-style" transformer encoder):

- ``projection``: ``Linear(nfeats, latent_dim)`` applied to every frame (motion: 263-d normalized HumanML3D
  features) or every token (text: DistilBERT last hidden states, 768-d);
- ``tokens``: learned ``(nbtokens, latent_dim)`` prepended to the sequence (``nbtokens`` = 2, ``mu`` and
  ``logvar``, for the VAE models released; 1 otherwise); they are never masked;
- sinusoidal positional encoding added to the whole sequence (tokens at positions ``0 .. nbtokens-1``,
  frames after them), ``pe[p, 2i] = sin(p w_i)``, ``pe[p, 2i+1] = cos(p w_i)``, ``w_i = exp(-2i ln(10^4)/d)``,
  built for 5000 positions;
- ``seqTransEncoder``: ``num_layers`` post-norm ``nn.TransformerEncoderLayer`` (``batch_first``, GELU,
  ``num_heads`` heads, ``ff_size``) with padded frames masked out as attention keys;
- the embedding is the output at position 0 (``mu``; TMR's ``encode(..., sample_mean=True)``).

Released checkpoints (``<run>/last_weights/{motion_encoder,text_encoder}.pt``) are plain state dicts whose
keys are :func:`expected_shapes` (``projection.weight``, ``projection.bias``, ``tokens``,
``seqTransEncoder.layers.<i>.{self_attn.in_proj_weight, self_attn.in_proj_bias, self_attn.out_proj.weight,
self_attn.out_proj.bias, linear1.weight, linear1.bias, linear2.weight, linear2.bias, norm1.weight,
norm1.bias, norm2.weight, norm2.bias}``); the positional table is not stored (non-persistent buffer).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch
from torch import nn

from .._checks import check_positive_int
from ..constants import HUMANML3D_DATASET
from .state_dicts import state_dict_problems

#: Positions of TMR's positional table: a sequence (tokens + frames) may not be longer.
MAX_POSITIONS = 5000
#: Feature dims of TMR's motion input (``guoh3dfeats``: HumanML3D features, all 263 dims).
MOTION_NFEATS = HUMANML3D_DATASET.dim
#: Frames per second of TMR's motion features (``configs/data/motion_loader/guoh3dfeats.yaml``).
FPS = HUMANML3D_DATASET.fps
#: ``Normalizer.eps`` of TMR: features are normalized as ``(x - mean) / (std + eps)``.
NORMALIZER_EPS = 1e-12
#: Modules TMR's embeddings need (the released folder also holds ``motion_decoder.pt``, unused here).
MODULE_NAMES = ("motion_encoder", "text_encoder")
#: Per-layer parameter names of ``nn.TransformerEncoderLayer``, in ``state_dict`` order.
LAYER_KEYS = (
    "self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight", "self_attn.out_proj.bias",
    "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
    "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias",
)


@dataclass(frozen=True)
class TMREncoderConfig:
    """Sizes of one ACTOR-style encoder; defaults are TMR's released HumanML3D motion encoder."""

    nfeats: int = MOTION_NFEATS  #: input size (263 motion features; 768 for DistilBERT tokens)
    vae: bool = True  #: two learned tokens (mu, logvar) instead of one
    latent_dim: int = 256
    ff_size: int = 1024
    num_layers: int = 6
    num_heads: int = 4
    activation: str = "gelu"

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "vae":
                if not isinstance(v, bool):
                    raise ValueError(f"TMREncoderConfig.vae must be a bool; got {v!r}")
            elif f.name == "activation":
                if v not in ("gelu", "relu"):
                    raise ValueError(f"TMREncoderConfig.activation must be 'gelu' or 'relu'; got {v!r}")
            else:
                check_positive_int(v, f"TMREncoderConfig.{f.name}", numpy=False)
        if self.latent_dim % self.num_heads:
            raise ValueError(f"latent_dim {self.latent_dim} is not divisible by num_heads {self.num_heads}")
        if self.latent_dim % 2:
            raise ValueError(f"latent_dim must be even (sinusoidal positional encoding); got {self.latent_dim}")

    @property
    def nbtokens(self) -> int:
        return 2 if self.vae else 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_tmr(cls, conf: Mapping[str, Any], *, source: str = "config") -> TMREncoderConfig:
        """From one encoder block of TMR's ``config.json`` (``model.motion_encoder`` / ``model.text_encoder``)."""
        target = conf.get("_target_")
        if target is not None and not str(target).endswith("ACTORStyleEncoder"):
            raise ValueError(f"{source}: _target_ is {target!r}; only TMR's ACTORStyleEncoder is supported")
        missing = [k for k in ("nfeats", "vae", "latent_dim", "ff_size", "num_layers", "num_heads") if k not in conf]
        if missing:
            raise ValueError(f"{source}: missing {missing} (an ACTORStyleEncoder block of TMR's config.json)")
        try:
            return cls(nfeats=int(conf["nfeats"]), vae=bool(conf["vae"]), latent_dim=int(conf["latent_dim"]),
                       ff_size=int(conf["ff_size"]), num_layers=int(conf["num_layers"]),
                       num_heads=int(conf["num_heads"]), activation=str(conf.get("activation", "gelu")))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{source}: {exc}") from exc


def positional_table(length: int, d_model: int) -> torch.Tensor:
    """TMR's sinusoidal table ``(length, d_model)`` in float32, computed with the same operations."""
    pe = torch.zeros(length, d_model)
    position = torch.arange(0, length, dtype=torch.float).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)
    return pe


class PositionalEncoding(nn.Module):
    """Adds rows ``0 .. S-1`` of the sinusoidal table (non-persistent buffer ``pe``, as in TMR)."""

    def __init__(self, d_model: int, max_len: int = MAX_POSITIONS) -> None:
        super().__init__()
        self.register_buffer("pe", positional_table(max_len, d_model), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pe: torch.Tensor = self.pe  # type: ignore[assignment]
        if x.shape[1] > pe.shape[0]:
            raise ValueError(f"sequence of {x.shape[1]} positions exceeds TMR's {pe.shape[0]}-position table")
        return x + pe[: x.shape[1]].to(x.dtype)


class ACTOREncoder(nn.Module):
    """``(B, T, nfeats)`` + boolean mask ``(B, T)`` (True = valid) -> embeddings ``(B, latent_dim)`` (output 0)."""

    def __init__(self, config: TMREncoderConfig) -> None:
        super().__init__()
        self.config = config
        self.projection = nn.Linear(config.nfeats, config.latent_dim)
        self.tokens = nn.Parameter(torch.randn(config.nbtokens, config.latent_dim))
        self.sequence_pos_encoding = PositionalEncoding(config.latent_dim)
        layer = nn.TransformerEncoderLayer(
            d_model=config.latent_dim, nhead=config.num_heads, dim_feedforward=config.ff_size, dropout=0.1,
            activation=config.activation, batch_first=True,
        )
        self.seqTransEncoder = nn.TransformerEncoder(layer, num_layers=config.num_layers, enable_nested_tensor=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """All ``nbtokens`` outputs ``(B, nbtokens, latent)``; padded rows (``~mask``) are not attended to."""
        b = x.shape[0]
        h = self.projection(x)
        tokens = self.tokens.unsqueeze(0).expand(b, -1, -1)
        seq = self.sequence_pos_encoding(torch.cat((tokens, h), dim=1))
        keep = torch.cat((torch.ones(b, self.config.nbtokens, dtype=torch.bool, device=mask.device), mask), dim=1)
        out = self.seqTransEncoder(seq, src_key_padding_mask=~keep)
        return out[:, : self.config.nbtokens]

    def embed(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The embedding: output 0 (``mu`` of the VAE models, ``encode(sample_mean=True)`` in TMR).

        Same result as ``forward(x, mask)[:, 0]``, but the last layer computes only row 0 (its query, attention
        output, norms and MLP): the other rows of the last layer cannot reach output 0.
        """
        b = x.shape[0]
        nb = self.config.nbtokens
        seq = self.sequence_pos_encoding(torch.cat((self.tokens.unsqueeze(0).expand(b, -1, -1),
                                                    self.projection(x)), dim=1))
        keep = torch.cat((torch.ones(b, nb, dtype=torch.bool, device=mask.device), mask), dim=1)
        layers = self.seqTransEncoder.layers
        for layer in layers[:-1]:
            seq = layer(seq, src_key_padding_mask=~keep)
        return _first_row_of_layer(layers[-1], seq, keep)


def _first_row_of_layer(layer: nn.TransformerEncoderLayer, z: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Row 0 of a post-norm ``TransformerEncoderLayer`` (eval mode) on ``z`` ``(B, S, d)`` with keys ``keep``."""
    if layer.norm_first:
        raise ValueError("TMR's encoder layers are post-norm (norm_first=False)")
    attn = layer.self_attn
    b, s, d = z.shape
    heads = attn.num_heads
    dh = d // heads
    w, bias = attn.in_proj_weight, attn.in_proj_bias
    q = nn.functional.linear(z[:, :1], w[:d], bias[:d]).view(b, 1, heads, dh).transpose(1, 2)
    k, v = nn.functional.linear(z, w[d:], bias[d:]).split(d, dim=-1)
    k = k.reshape(b, s, heads, dh).transpose(1, 2)
    v = v.reshape(b, s, heads, dh).transpose(1, 2)
    o = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=keep[:, None, None, :])
    o = attn.out_proj(o.transpose(1, 2).reshape(b, 1, d))
    x0 = layer.norm1(z[:, :1] + o)
    x0 = layer.norm2(x0 + layer.linear2(layer.activation(layer.linear1(x0))))
    return x0[:, 0]


def expected_shapes(config: TMREncoderConfig) -> dict[str, tuple[int, ...]]:
    """``{key: shape}`` of an encoder's state dict, in order (the released ``*.pt`` files hold exactly these)."""
    d, f = config.latent_dim, config.ff_size
    out: dict[str, tuple[int, ...]] = {
        "tokens": (config.nbtokens, d), "projection.weight": (d, config.nfeats), "projection.bias": (d,)
    }
    per_layer = {
        "self_attn.in_proj_weight": (3 * d, d), "self_attn.in_proj_bias": (3 * d,),
        "self_attn.out_proj.weight": (d, d), "self_attn.out_proj.bias": (d,),
        "linear1.weight": (f, d), "linear1.bias": (f,), "linear2.weight": (d, f), "linear2.bias": (d,),
        "norm1.weight": (d,), "norm1.bias": (d,), "norm2.weight": (d,), "norm2.bias": (d,),
    }
    for i in range(config.num_layers):
        for k in LAYER_KEYS:
            out[f"seqTransEncoder.layers.{i}.{k}"] = per_layer[k]
    return out


def check_state_dict(state_dict: Mapping[str, Any], config: TMREncoderConfig, *, source: str) -> None:
    """Raise ``ValueError`` naming ``source`` and every missing, unexpected, mis-shaped, non-float or non-finite
    tensor."""
    problems = state_dict_problems(state_dict, expected_shapes(config))
    if problems:
        raise ValueError(
            f"{source} does not match TMR's ACTORStyleEncoder {config.to_dict()}:\n  - " + "\n  - ".join(problems)
        )


def build_encoder(config: TMREncoderConfig, state_dict: Mapping[str, Any] | None = None, *,
                  source: str = "state dict") -> ACTOREncoder:
    """An encoder in eval mode without gradients; ``state_dict`` (checked first) replaces its random weights."""
    enc = ACTOREncoder(config)
    if state_dict is not None:
        check_state_dict(state_dict, config, source=source)
        enc.load_state_dict({k: v.detach().to(torch.float32) for k, v in state_dict.items()}, strict=True)
    return enc.eval().requires_grad_(False)


def lengths_to_mask(lengths: np.ndarray | torch.Tensor, frames: int, device: torch.device | None = None) -> torch.Tensor:
    """``mask[i, t] = t < lengths[i]`` (TMR's ``length_to_mask`` with a given width)."""
    lens = torch.as_tensor(np.asarray(lengths), dtype=torch.int64, device=device)
    return torch.arange(frames, device=device)[None, :] < lens[:, None]
