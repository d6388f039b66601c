"""Which evaluators a run uses: ``--evaluator DIR`` (repeatable; kind detected from the folder or given with
``--evaluator-kind t2m|tmr``, once per ``--evaluator``) and ``--tmr-evaluator DIR``. A single ``--evaluator`` whose
kind cannot be told is taken as the T2M evaluator (its loader then says what is missing).

One T2M evaluator scores the protocol's table; one TMR evaluator adds its block, from the same generated samples.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = ["resolve_evaluators"]


def resolve_evaluators(evaluators: Sequence[str] | None, kinds: Sequence[str] | None = None,
                       tmr_evaluators: Sequence[str] | None = None) -> dict[str, str]:
    """``{"t2m": DIR, "tmr": DIR}`` (each at most once) from the ``evaluate`` options; ``ValueError`` naming the
    option otherwise. A T2M evaluator is required (the protocol's table); TMR is optional."""
    from ..evaluators.kind import KINDS, detect_evaluator_kind

    paths = list(evaluators or [])
    given = list(kinds or [])
    for k in given:
        if k not in KINDS:
            raise ValueError(f"--evaluator-kind {k!r}: choose one of {list(KINDS)}")
    if given and len(given) != len(paths):
        raise ValueError(f"--evaluator-kind was given {len(given)} time(s) for {len(paths)} --evaluator folder(s); "
                         f"give it once per --evaluator, in the same order (or leave it out to detect the kind)")
    pairs = [(k, p) for k, p in zip(given, paths)] if given else []
    if not given:
        for p in paths:
            if not Path(p).exists():
                raise FileNotFoundError(f"--evaluator {p}: no such file or folder")
            try:
                pairs.append((detect_evaluator_kind(p), p))
            except ValueError as exc:
                if len(paths) > 1:
                    raise ValueError(f"--evaluator {p}: {exc}") from None
                pairs.append(("t2m", p))  # the one evaluator: T2M, whose loader names what is missing
    pairs += [("tmr", p) for p in (tmr_evaluators or [])]
    out: dict[str, str] = {}
    for kind, path in pairs:
        if kind in out:
            raise ValueError(f"two {kind.upper()} evaluators ({out[kind]} and {path}); a run scores with one of "
                             f"each kind")
        out[kind] = str(path)
    if "t2m" not in out:
        raise ValueError("a T2M evaluator is required for the protocol's table (--evaluator T2M_DIR); a TMR "
                         "evaluator (" + (out.get("tmr") or "none given") + ") adds its block beside it")
    return out
