"""Argument checks shared by the package (one scalar checker, in the spirit of scikit-learn's ``check_scalar``).

Private: the public functions keep their own messages (``"k must be a positive int; got 0"``), which these
helpers reproduce through ``name`` / ``what``. Numpy only; every layer may import it.
"""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np

__all__ = ["is_int", "check_int", "check_scalar", "check_positive_int", "as_positive_int"]


def is_int(value: Any, *, numpy: bool = True) -> bool:
    """Whether ``value`` is an integer: a Python ``int`` (``bool`` excluded) or, with ``numpy``, an
    ``np.integer``."""
    if isinstance(value, (bool, np.bool_)):
        return False
    return isinstance(value, int) or (numpy and isinstance(value, np.integer))


def check_scalar(value: Any, name: str, target_type: type | tuple[type, ...] = numbers.Real, *,
                 min_val: float | None = None, max_val: float | None = None,
                 include_boundaries: str = "both") -> Any:
    """``value`` if it is a ``target_type`` (``bool`` is never a number) within ``[min_val, max_val]``.

    Raises ``TypeError`` naming ``name`` for a wrong type and ``ValueError`` for a value out of range
    (``include_boundaries``: ``"both"``, ``"left"``, ``"right"`` or ``"neither"`` closed ends).
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, target_type):
        want = (target_type.__name__ if isinstance(target_type, type)
                else " or ".join(t.__name__ for t in target_type))
        raise TypeError(f"{name} must be {want}; got {type(value).__name__} {value!r}")
    if include_boundaries not in ("both", "left", "right", "neither"):
        raise ValueError(f"include_boundaries must be 'both', 'left', 'right' or 'neither'; got {include_boundaries!r}")
    number: Any = value
    if number != number:  # NaN is in no range
        raise ValueError(f"{name} must be a number; got {value!r}")
    left_closed = include_boundaries in ("both", "left")
    right_closed = include_boundaries in ("both", "right")
    if min_val is not None and (number < min_val or (number == min_val and not left_closed)):
        raise ValueError(f"{name} must be {'>=' if left_closed else '>'} {min_val}; got {value}")
    if max_val is not None and (number > max_val or (number == max_val and not right_closed)):
        raise ValueError(f"{name} must be {'<=' if right_closed else '<'} {max_val}; got {value}")
    return value


def check_int(value: Any, name: str, low: int, high: int | None = None, hint: str = "") -> int:
    """``int(value)`` for an integer (``np.integer`` included, ``bool`` refused) in ``[low, high]`` (``high``
    ``None``: no upper bound); ``TypeError`` for another type, ``ValueError`` out of range (``hint`` appended)."""
    if not is_int(value):
        raise TypeError(f"{name} must be an int; got {type(value).__name__}")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be {bound}; got {value}{hint}")
    return int(value)


def check_positive_int(value: Any, name: str, *, numpy: bool = True, what: str = "a positive integer",
                       error: type[Exception] = ValueError) -> int:
    """``int(value)`` if ``value`` is an integer >= 1 (``bool`` refused; ``np.integer`` too unless ``numpy``);
    otherwise ``error(f"{name} must be {what}; got {value!r}")``."""
    if not is_int(value, numpy=numpy) or value < 1:
        raise error(f"{name} must be {what}; got {value!r}")
    return int(value)


def as_positive_int(value: Any, name: str, *, where: str = "") -> int:
    """Like :func:`check_positive_int` but lenient on the container, for values read from files: a size-1
    array or a whole float (``3.0``) is accepted. The message starts with ``where: `` when given and quotes
    ``name``."""
    arr = np.asarray(value)
    item = arr.reshape(()).item() if arr.size == 1 and arr.dtype != object else value
    whole = isinstance(item, int) or (isinstance(item, float) and item.is_integer())
    if isinstance(item, bool) or not whole or item < 1:
        raise ValueError(f"{where + ': ' if where else ''}{name!r} must be a positive integer; got {value!r}")
    return int(item)
