"""Early stop of the replication loop when the requested precision is reached (``evaluate --stop-when``).

A :class:`StopRule` holds target 95% half-widths per metric (``"fid=0.01,r_precision_top1=0.003"``) and asks,
after each replication, :func:`motioneval.protocol.compare.should_stop` with the model row's values so far: stop
when every targeted metric has at least ``min_replications`` values and its protocol half-width
``1.96 * std(ddof=0) / sqrt(n)`` is at most its target. A stopped run is no longer the preset's protocol (fewer
replications than the preset asks for): the result is marked ``custom`` with the reason
(:meth:`StopRule.reason`). The rule never runs more replications than the preset's.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["StopRule", "parse_stop_when"]


def parse_stop_when(spec: str | Mapping[str, float]) -> dict[str, float]:
    """``"fid=0.01,r_precision_top1=0.003"`` (or a mapping) -> ``{metric: target half-width > 0}``."""
    items: list[tuple[str, Any]]
    if isinstance(spec, Mapping):
        items = [(str(k), v) for k, v in spec.items()]
    else:
        items = []
        for part in str(spec).split(","):
            part = part.strip()
            if not part:
                continue
            key, sep, value = part.partition("=")
            if not sep or not key.strip():
                raise ValueError(f"--stop-when: expected METRIC=HALF_WIDTH (e.g. fid=0.01), comma-separated; got "
                                 f"{part!r}")
            items.append((key.strip(), value.strip()))
    if not items:
        raise ValueError("--stop-when: no target given (e.g. fid=0.01)")
    out: dict[str, float] = {}
    for key, value in items:
        try:
            v: float = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"--stop-when: the target of {key!r} must be a number; got {value!r}") from None
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"--stop-when: the target half-width of {key!r} must be > 0; got {value!r}")
        if key in out:
            raise ValueError(f"--stop-when: {key!r} given twice")
        out[key] = v
    return out


@dataclass(frozen=True)
class StopRule:
    """Targets ``{metric: 95% half-width}`` for the model row; see the module docstring."""

    targets: Mapping[str, float]
    min_replications: int = 5

    def __post_init__(self) -> None:
        object.__setattr__(self, "targets", parse_stop_when(self.targets))
        if isinstance(self.min_replications, bool) or not isinstance(self.min_replications, int) \
                or self.min_replications < 2:
            raise ValueError(f"StopRule.min_replications must be an integer >= 2; got {self.min_replications!r}")

    @classmethod
    def parse(cls, spec: str | Mapping[str, float], *, min_replications: int = 5) -> StopRule:
        return cls(parse_stop_when(spec), min_replications)

    def check_metrics(self, available: Sequence[str]) -> None:
        """``ValueError`` naming targeted metrics that the run does not compute."""
        missing = [k for k in self.targets if k not in available]
        if missing:
            raise ValueError(f"--stop-when names metric(s) {missing} that this run does not compute; it computes "
                             f"{list(available)}")

    def should_stop(self, values: Mapping[str, Sequence[float | None]]) -> bool:
        """Whether every target is met by ``{metric: per-replication values so far}`` (the model row's)."""
        from .compare import should_stop

        return should_stop({k: values[k] for k in self.targets if k in values} | {
            k: [] for k in self.targets if k not in values}, dict(self.targets), min_replications=self.min_replications)

    def half_widths(self, values: Mapping[str, Sequence[float | None]]) -> dict[str, float | None]:
        """Current protocol half-width of each targeted metric (``None`` with fewer than 2 values)."""
        import numpy as np

        out: dict[str, float | None] = {}
        for k in self.targets:
            v = np.asarray([x for x in values.get(k, []) if x is not None], dtype=np.float64)
            out[k] = float(1.96 * v.std() / math.sqrt(len(v))) if len(v) >= 2 else None
        return out

    def reason(self, values: Mapping[str, Sequence[float | None]], replications: int, planned: int) -> str:
        """The ``custom`` reason recorded in a stopped result."""
        hw = self.half_widths(values)
        parts = ", ".join(f"{k} ±{hw[k]:.4g} <= {t:g}" for k, t in self.targets.items() if hw[k] is not None)
        return (f"stopped early after {replications} of {planned} replications: requested precision reached "
                f"({parts}; --stop-when, min {self.min_replications} replications)")

    def to_dict(self) -> dict[str, Any]:
        return {"targets": dict(self.targets), "min_replications": self.min_replications}
