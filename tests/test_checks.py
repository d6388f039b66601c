"""The private argument checkers (``motioneval._checks``)."""
from __future__ import annotations

import numbers

import numpy as np
import pytest

from motioneval._checks import as_positive_int, check_positive_int, check_scalar, is_int


def test_is_int():
    assert is_int(3) and is_int(np.int64(3)) and not is_int(np.int64(3), numpy=False)
    assert not is_int(True) and not is_int(np.bool_(True)) and not is_int(3.0) and not is_int("3")


@pytest.mark.parametrize("bad", [0, -2, True, 2.0, "2", None, np.int32(0)])
def test_check_positive_int_refuses(bad):
    with pytest.raises(ValueError, match=r"^k must be a positive int; got "):
        check_positive_int(bad, "k", what="a positive int")


def test_check_positive_int_accepts_and_returns_python_int():
    out = check_positive_int(np.int16(7), "k")
    assert out == 7 and type(out) is int
    with pytest.raises(ValueError, match="T2MConfig.x must be a positive integer"):
        check_positive_int(np.int64(7), "T2MConfig.x", numpy=False)
    with pytest.raises(TypeError):
        check_positive_int(0, "k", error=TypeError)


def test_check_scalar_types_and_bounds():
    assert check_scalar(0.5, "p", numbers.Real, min_val=0, max_val=1) == 0.5
    with pytest.raises(TypeError, match="p must be Real; got bool True"):
        check_scalar(True, "p", numbers.Real)
    with pytest.raises(ValueError, match="p must be > 0; got 0"):
        check_scalar(0, "p", numbers.Real, min_val=0, include_boundaries="right")
    with pytest.raises(ValueError, match="p must be <= 1; got 2"):
        check_scalar(2, "p", int, max_val=1)
    with pytest.raises(ValueError, match="p must be a number"):
        check_scalar(float("nan"), "p", float, min_val=0)
    assert check_scalar(1, "p", int, min_val=1, max_val=1) == 1


def test_as_positive_int_is_lenient_on_containers():
    assert as_positive_int(np.array([3]), "n") == 3 and as_positive_int(4.0, "n") == 4
    with pytest.raises(ValueError, match=r"^f.npy: 'n' must be a positive integer; got 0$"):
        as_positive_int(0, "n", where="f.npy")
    with pytest.raises(ValueError, match=r"^'n' must be a positive integer"):
        as_positive_int(2.5, "n")
