"""Deterministic assignment of the evaluation's units of work to ranks (no torch needed).

A unit's result depends only on the unit (its rows and its derived seed), never on which rank computes it,
so any assignment gives the same numbers; this one balances the estimated work. Units already finished
(cached on some rank) are not assigned again: a relaunch after a failure spreads only the missing units
over all ranks.

:func:`assign_units` is the classic longest-processing-time-first list scheduling: units in decreasing
cost (ties by index) each go to the currently least loaded rank (ties to the lowest rank). Its makespan is
at most ``total / world_size + max(cost)`` and at most ``4/3 - 1/(3 world_size)`` times the optimum
(Graham, 1969).
"""
from __future__ import annotations

import heapq
from collections.abc import Sequence

#: Stages whose units call the generator (the expensive part of a run in generator mode).
GENERATING_STAGES = ("generated", "mm")


def unit_cost(stage: str, rows: int, *, generates: bool, generation_weight: float = 10.0) -> float:
    """Estimated work of a unit: ``rows`` embeddings, times ``generation_weight`` when it also generates."""
    return float(rows) * (generation_weight if generates and stage in GENERATING_STAGES else 1.0)


def assign_units(costs: Sequence[float], world_size: int) -> list[int]:
    """Rank of each unit (longest processing time first; see the module docstring)."""
    if world_size < 1:
        raise ValueError(f"world_size must be >= 1; got {world_size}")
    ranks = [0] * len(costs)
    heap = [(0.0, r) for r in range(world_size)]  # (load, rank): the lowest load, then the lowest rank, pops
    for i in sorted(range(len(costs)), key=lambda i: (-float(costs[i]), i)):
        load, r = heapq.heappop(heap)
        ranks[i] = r
        heapq.heappush(heap, (load + float(costs[i]), r))
    return ranks


def first_holders(held: Sequence[Sequence[int]]) -> dict[int, int]:
    """``unit -> lowest rank holding it`` from each rank's list of finished units."""
    out: dict[int, int] = {}
    for rank, units in enumerate(held):
        for i in units:
            out.setdefault(int(i), rank)
    return out
