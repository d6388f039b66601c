"""The evaluator side of the loop: the :class:`Evaluator` protocol, loading one, and embedding with checks.

An evaluator is any object with ``embed_text``/``embed_motion``, ``stats`` and ``provenance``. It may declare
its family as ``kind`` (``TMREvaluator.kind == "tmr"``; none declared: ``"t2m"``, the protocol's evaluator; read
with :func:`evaluator_kind`): the kind picks the scorers (:func:`motioneval.protocol.scoring.scorers_for`), so
a second family brings its own metrics and results can keep one block per evaluator.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeAlias, runtime_checkable

import numpy as np

from ..representation.normalization import FeatureStats

__all__ = ["Evaluator", "EvaluatorSource", "evaluator_kind", "load_evaluator", "check_embeddings", "embed_motion",
           "embed_text"]


@runtime_checkable
class Evaluator(Protocol):
    """What the loop needs from an evaluator (:class:`motioneval.evaluators.t2m.T2MEvaluator` or a stand-in).

    ``embed_text(tokens)`` takes per row the caption's ``word/POS`` tokens *without* ``sos``/``eos`` (the
    evaluator adds them, keeps the first 20 and pads, ``protocol.md`` step 4); ``embed_motion(features,
    lengths)`` takes evaluator-normalized ``(N, T, D)`` features; both return ``(N, E)`` float arrays in the
    caller's row order. ``stats`` are the evaluator's normalization statistics; ``provenance`` maps every
    file it was loaded from to its sha256.
    """

    @property
    def stats(self) -> FeatureStats: ...

    @property
    def provenance(self) -> Mapping[str, str]: ...

    def embed_text(self, tokens: Sequence[Sequence[str]]) -> np.ndarray: ...

    def embed_motion(self, features: np.ndarray, lengths: np.ndarray) -> np.ndarray: ...


#: What ``evaluator=`` accepts: an evaluator folder (loaded as a T2M evaluator) or an :class:`Evaluator`.
EvaluatorSource: TypeAlias = "str | Path | Evaluator"


def evaluator_kind(evaluator: Any) -> str:
    """The evaluator's declared family ``kind`` (default ``"t2m"``, the protocol's evaluator)."""
    return str(getattr(evaluator, "kind", "t2m"))


def load_evaluator(evaluator: EvaluatorSource, device: str | None, statistics: str | None = None) -> Evaluator:
    """A T2M evaluator folder loaded on ``device`` (with the lineage's ``statistics`` folder), or ``evaluator``
    itself when it already embeds."""
    if isinstance(evaluator, (str, Path)):
        from ..evaluators.t2m import T2MEvaluator

        return T2MEvaluator.load(evaluator, device=device, statistics=statistics)  # type: ignore[return-value]
    if not (callable(getattr(evaluator, "embed_text", None)) and callable(getattr(evaluator, "embed_motion", None))):
        raise TypeError("evaluator must be an evaluator folder or an object with embed_text(tokens), "
                        "embed_motion(features, lengths), stats and provenance")
    return evaluator


def check_embeddings(emb: np.ndarray, n: int, what: str) -> np.ndarray:
    """``emb`` if it is ``(n, E)`` and finite; otherwise an error naming the rows."""
    if emb.ndim != 2 or emb.shape[0] != n:
        raise RuntimeError(f"the evaluator returned {what} embeddings of shape {emb.shape} for {n} rows")
    if not np.isfinite(emb).all():
        bad = np.flatnonzero(~np.isfinite(emb).all(axis=1))
        raise ValueError(f"the evaluator returned NaN/Inf {what} embeddings for {bad.size} row(s) (first: {bad[:5]})")
    return emb


def _to_numpy(x: Any) -> Any:
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return x


def embed_motion(evaluator: Evaluator, features: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``evaluator.embed_motion`` of evaluator-normalized ``(N, T, D)`` features, checked (``(N, E)``, finite)."""
    emb = np.asarray(_to_numpy(evaluator.embed_motion(features, np.asarray(lengths, dtype=np.int64))))
    return check_embeddings(emb, len(features), "motion")


def embed_text(evaluator: Evaluator, tokens: Sequence[Sequence[str]], *, max_text_tokens: int,
               fixed_length: int | None = None, preset_name: str = "") -> np.ndarray:
    """``evaluator.embed_text`` of each caption's first ``max_text_tokens`` tokens (the evaluator adds sos/eos),
    checked; ``fixed_length``: read every caption with this text length (MDM before 2024: 22, unk padding
    included), which needs an ``embed_text(..., text_lengths=)``."""
    rows = [list(t)[:max_text_tokens] for t in tokens]
    if fixed_length is None:
        emb = np.asarray(_to_numpy(evaluator.embed_text(rows)))
    else:
        try:
            emb = np.asarray(_to_numpy(evaluator.embed_text(  # type: ignore[call-arg]
                rows, text_lengths=np.full(len(rows), fixed_length))))
        except TypeError as exc:
            raise TypeError(f"preset {preset_name!r} (text_length='max') needs an evaluator whose "
                            f"embed_text accepts text_lengths=; {type(evaluator).__name__} does not "
                            f"({exc})") from exc
    return check_embeddings(emb, len(tokens), "text")
