"""Diversity and MultiModality of the protocol: mean distances between randomly paired embeddings.

Both draw two index vectors *independently*, each of ``num_pairs`` distinct indices (``choice(n, num_pairs,
replace=False)``), so a pair may join a sample with itself (distance 0). The distance is the direct
Euclidean norm of the difference (not the expanded form). Randomness follows
:mod:`motioneval.metrics._rng`: ``rng=None`` uses NumPy's global legacy state, as the reference does, and an
int seed ``s`` or ``RandomState(s)`` gives the reference's indices after ``np.random.seed(s)``.

Scale: both are scale-equivariant. When the largest ``|value|`` lies outside ``2**-200 .. 2**200`` (where
the squares inside the norm would overflow or turn subnormal in float64), and for any distance below
``2**-400``, each pair is evaluated at its own exact power-of-two scale and the mean is taken at a common
scale; ordinary inputs take the reference route unchanged. A mean distance beyond the float64 range
raises ``ValueError`` (overflow).
"""
from __future__ import annotations

from typing import Any, Literal, overload

import numpy as np

from motioneval._arrays import (
    as_2d_features,
    as_float,
    max_abs,
    mean_of_scaled,
    pair_norms,
    pow2_exponent,
    to_numpy,
)
from motioneval._checks import check_scalar, is_int
from motioneval.metrics._rng import RNGLike, as_rng, choice_without_replacement

#: ``num_pairs`` value for the MoMask / T2M-GPT lineage rule: 300 pairs if N > 300, else 100.
MOMASK = "momask"


@overload
def diversity(motion_emb: Any, num_pairs: int | Literal["momask"] = ..., rng: RNGLike = ..., *,
              return_indices: Literal[False] = ...) -> float: ...
@overload
def diversity(motion_emb: Any, num_pairs: int | Literal["momask"] = ..., rng: RNGLike = ..., *,
              return_indices: Literal[True]) -> tuple[float, np.ndarray, np.ndarray]: ...
@overload
def diversity(motion_emb: Any, num_pairs: int | Literal["momask"] = ..., rng: RNGLike = ..., *,
              return_indices: bool = ...) -> float | tuple[float, np.ndarray, np.ndarray]: ...
def diversity(motion_emb: Any, num_pairs: int | Literal["momask"] = 300, rng: RNGLike = None, *,
              return_indices: bool = False) -> float | tuple[float, np.ndarray, np.ndarray]:
    """Diversity ``= (1/P) sum_j |M[a_j] - M[b_j]|`` over ``P = num_pairs`` random pairs.

    ``a`` and ``b`` are drawn independently, each ``P`` distinct indices of ``0..N-1`` (first ``a``, then
    ``b``, from ``rng``). Requires ``N > num_pairs`` (300 in the protocol). ``num_pairs="momask"`` applies
    the MoMask / T2M-GPT rule (300 if ``N > 300`` else 100). Computed in float64. With
    ``return_indices=True`` also returns ``a`` and ``b``.
    """
    motion = as_2d_features(motion_emb, "motion_emb", dtype=None)  # float64 once the pairs are drawn
    n = motion.shape[0]
    pairs = _resolve_pairs(num_pairs, n)
    if n <= pairs:
        raise ValueError(
            f"diversity needs more samples than pairs: got {n} motion embeddings for num_pairs={pairs}. "
            f"Evaluate more samples (the protocol uses N > 300) or lower num_pairs."
        )
    gen = as_rng(rng)
    first = choice_without_replacement(gen, n, pairs)
    second = choice_without_replacement(gen, n, pairs)
    value = _mean_distance(motion, first, second, 1, "diversity")
    return (value, first, second) if return_indices else value


def _mean_distance(arr: np.ndarray, first: np.ndarray, second: np.ndarray, axis: int, what: str) -> float:
    """``mean |arr[first] - arr[second]|`` along ``axis`` (1: rows, 2: repeats). The reference route when the
    magnitudes are ordinary; otherwise (and for distances below ``2**-400``) pair by pair at each pair's own
    power-of-two scale (:func:`motioneval._arrays.pair_norms`), averaged at a common scale."""
    a, b = (arr[first], arr[second]) if axis == 1 else (arr[:, first], arr[:, second])
    # only the drawn rows are cast (exactly) to float64; the scale is read from the uncast array
    a, b = a.astype(np.float64, copy=False), b.astype(np.float64, copy=False)
    if pow2_exponent(max_abs(arr)) == 0:
        norms = np.linalg.norm(a - b, axis=-1)
        tiny = np.nonzero(norms < 2.0 ** -400)
        if not tiny[0].size:
            return float(np.mean(norms))
        mant, exp = pair_norms(a[tiny], b[tiny])
        if not exp.any():  # exact zeros (a sample paired with itself): the reference value stands
            return float(np.mean(norms))
        exps = np.zeros(norms.shape, dtype=np.int32)
        norms[tiny], exps[tiny] = mant, exp
        return mean_of_scaled(norms, exps, what)
    mant, exp = pair_norms(a, b)
    return mean_of_scaled(mant, exp, what)


@overload
def multimodality(emb: Any, num_pairs: int = ..., rng: RNGLike = ..., *,
                  return_indices: Literal[False] = ...) -> float: ...
@overload
def multimodality(emb: Any, num_pairs: int = ..., rng: RNGLike = ..., *,
                  return_indices: Literal[True]) -> tuple[float, np.ndarray, np.ndarray]: ...
@overload
def multimodality(emb: Any, num_pairs: int = ..., rng: RNGLike = ..., *,
                  return_indices: bool = ...) -> float | tuple[float, np.ndarray, np.ndarray]: ...
def multimodality(emb: Any, num_pairs: int = 10, rng: RNGLike = None, *,
                  return_indices: bool = False) -> float | tuple[float, np.ndarray, np.ndarray]:
    """MultiModality ``= (1/(T P)) sum_t sum_j |E[t, a_j] - E[t, b_j]|`` for ``emb`` of shape ``(T, R, D)``.

    ``T`` texts with ``R`` generations each; ``a`` and ``b`` are ``P = num_pairs`` distinct repeat indices
    each, drawn independently and *shared by every text*. Requires ``R > num_pairs`` (the protocol uses 30
    repeats and 10 pairs). Computed in float64. With ``return_indices=True`` also returns ``a`` and ``b``.
    """
    arr = to_numpy(emb)
    if arr.ndim != 3:
        raise ValueError(
            f"multimodality needs an array of shape (num_texts, num_repeats, D) (several generations per "
            f"caption); got shape {arr.shape}"
        )
    if min(arr.shape) < 1:
        raise ValueError(f"multimodality got an empty array of shape {arr.shape}")
    arr = as_float(arr, "emb", None, what="text")  # float64 once the pairs are drawn
    num_repeats = arr.shape[1]
    pairs = _check_pairs(num_pairs)
    if num_repeats <= pairs:
        raise ValueError(
            f"multimodality needs more generations per text than pairs: got num_repeats={num_repeats} "
            f"for num_pairs={pairs}. Generate more repeats per caption (the protocol uses 30) or lower num_pairs."
        )
    gen = as_rng(rng)
    first = choice_without_replacement(gen, num_repeats, pairs)
    second = choice_without_replacement(gen, num_repeats, pairs)
    value = _mean_distance(arr, first, second, 2, "multimodality")
    return (value, first, second) if return_indices else value


def _check_pairs(num_pairs: Any) -> int:
    if not is_int(num_pairs):
        raise TypeError(f"num_pairs must be a positive int; got {num_pairs!r}")
    return int(check_scalar(num_pairs, "num_pairs", (int, np.integer), min_val=1))


def _resolve_pairs(num_pairs: Any, n: int) -> int:
    if isinstance(num_pairs, str):
        if num_pairs.lower() not in (MOMASK, "t2m-gpt"):
            raise ValueError(f"num_pairs must be an int or 'momask' (MoMask/T2M-GPT rule); got {num_pairs!r}")
        return 300 if n > 300 else 100
    return _check_pairs(num_pairs)
