"""Validation of a checkpoint's state dict against the tensor shapes an architecture expects.

One check for every evaluator family (T2M's five modules, TMR's encoders): every key present, no extra key,
each value a finite floating-point tensor of the expected shape. The problems are returned as lines, so that
the caller can name the file and the architecture in one error.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

__all__ = ["state_dict_problems"]


def state_dict_problems(state_dict: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]], *,
                        prefix: str = "") -> list[str]:
    """Every missing, unexpected, non-tensor, mis-shaped, non-float or non-finite entry, one line each.

    ``prefix`` (a module name) starts each line: ``"<prefix>: missing [...]"``, ``"<prefix>.<key>: ..."``.
    """
    head, dot = (f"{prefix}: ", f"{prefix}.") if prefix else ("", "")
    problems: list[str] = []
    missing = [k for k in shapes if k not in state_dict]
    unexpected = [k for k in state_dict if k not in shapes]
    if missing:
        problems.append(f"{head}missing {missing}")
    if unexpected:
        problems.append(f"{head}unexpected {unexpected}")
    for key, shape in shapes.items():
        if key not in state_dict:
            continue
        t = state_dict[key]
        if not isinstance(t, torch.Tensor):
            problems.append(f"{dot}{key}: a {type(t).__name__}, expected a tensor")
        elif tuple(t.shape) != tuple(shape):
            problems.append(f"{dot}{key}: shape {list(t.shape)}, expected {list(shape)}")
        elif not torch.is_floating_point(t):
            problems.append(f"{dot}{key}: dtype {t.dtype}, expected a floating-point tensor")
        elif not bool(torch.isfinite(t).all()):
            problems.append(f"{dot}{key}: contains NaN or Inf")
    return problems
