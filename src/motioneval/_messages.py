"""Many similar messages as a few lines: the grouping of warnings that ``motioneval`` commands (and the
report) show.

Messages that differ only in their numbers (``replication 3``, ``up to 6.4e-09``) or in a parenthesised
label without digits (``FID (noisy)``) share a template; a group is one line with the varying numbers as
``min..max``, the varying labels listed and ``(N times)``. :func:`warning_lines` caps the lines and sums up
the rest in a last line pointing to ``--verbose``.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = ["MAX_WARNING_LINES", "WarningGroup", "group_warnings", "warning_lines"]

#: Most warning lines a default run prints (the rest: ``--verbose``).
MAX_WARNING_LINES = 5

# A number standing on its own: not part of a word (t2m, sha256) or a dotted name.
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?(?![\w])")
# A parenthesised label without numbers, e.g. "(ground-truth resampling)".
_LABEL = re.compile(r"\(([^()\d]*)\)")
_SLOT = re.compile(f"{_NUMBER.pattern}|{_LABEL.pattern}")


@dataclass
class WarningGroup:
    """Messages that share a template: the same text once numbers and parenthesised labels are set aside."""

    template: tuple[str, ...]
    messages: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.messages)

    def summary(self) -> str:
        """The group as one line: varying numbers as ``min..max``, varying labels listed (at most three),
        and ``(N times)`` when there is more than one message."""
        if self.count == 1:
            return self.messages[0]
        slots = [_split(m)[1] for m in self.messages]
        parts = [self.template[0]]
        for i, literal in enumerate(self.template[1:]):
            parts.append(_merge_slot([s[i] for s in slots]))
            parts.append(literal)
        return f"{''.join(parts)} ({self.count} times)"


def _split(message: str) -> tuple[tuple[str, ...], list[str]]:
    """``(literal pieces, slot values)``: slots are numbers and number-free parenthesised labels."""
    literals: list[str] = []
    values: list[str] = []
    pos = 0
    for match in _SLOT.finditer(message):
        literals.append(message[pos:match.start()])
        values.append(match.group(0))
        pos = match.end()
    literals.append(message[pos:])
    return tuple(literals), values


def _merge_slot(values: list[str]) -> str:
    distinct = list(dict.fromkeys(values))
    if len(distinct) == 1:
        return distinct[0]
    if all(_NUMBER.fullmatch(v) for v in distinct):
        ordered = sorted(distinct, key=float)
        return f"{ordered[0]}..{ordered[-1]}"
    labels = [v[1:-1] if v.startswith("(") else v for v in distinct]
    shown = ", ".join(labels[:3]) + (f", +{len(labels) - 3} more" if len(labels) > 3 else "")
    return f"({shown})"


def group_warnings(messages: Iterable[str]) -> list[WarningGroup]:
    """Group messages by template (see :class:`WarningGroup`), groups in the order of their first message."""
    groups: dict[tuple[str, ...], WarningGroup] = {}
    for message in dict.fromkeys(messages):
        template, _ = _split(message)
        groups.setdefault(template, WarningGroup(template)).messages.append(message)
    return list(groups.values())


def warning_lines(messages: Sequence[str], *, limit: int = MAX_WARNING_LINES) -> list[str]:
    """At most ``limit`` lines for ``messages``: one per group, and when the groups do not fit, the first
    ``limit - 1`` groups and a line counting the rest with the way to see them (``--verbose``)."""
    groups = group_warnings(messages)
    if len(groups) <= limit:
        return [f"warning: {_one_line(g.summary())}" for g in groups]
    shown, rest = groups[:limit - 1], groups[limit - 1:]
    hidden = sum(g.count for g in rest)
    lines = [f"warning: {_one_line(g.summary())}" for g in shown]
    lines.append(f"warning: {hidden} more ({len(rest)} kind{'s' if len(rest) != 1 else ''}): rerun with "
                 f"--verbose to see every warning")
    return lines


def _one_line(text: str) -> str:
    return " ".join(text.split())
