"""Findings of the doctor: what was checked, how bad it is, why, the numbers behind it and what to do."""
from __future__ import annotations

import json
import math
import textwrap
from dataclasses import dataclass, field
from typing import Any

from .._io import jsonable

#: severities from harmless to blocking; "info" marks a check that was skipped or only reports a fact
SEVERITIES = ("ok", "info", "warning", "error")
_RANK = {s: i for i, s in enumerate(SEVERITIES)}


@dataclass
class Finding:
    """One diagnosis: ``severity`` (ok, info, warning, error), a short ``title``, an ``explanation`` in plain
    words, what to do (``action``), the ``numbers`` behind it and the offending sample ``ids`` if any."""

    check: str
    severity: str
    title: str
    explanation: str = ""
    action: str = ""
    numbers: dict[str, Any] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.severity not in _RANK:
            raise ValueError(f"severity must be one of {SEVERITIES}; got {self.severity!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "severity": self.severity, "title": self.title,
                "explanation": self.explanation, "action": self.action,
                "numbers": jsonable(self.numbers), "ids": list(self.ids)}


@dataclass
class DoctorReport:
    """All findings of one ``doctor`` run, worst first when printed."""

    findings: list[Finding]
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def worst(self) -> str:
        return max((f.severity for f in self.findings), key=_RANK.__getitem__, default="ok")

    @property
    def ok(self) -> bool:
        """True when there is no warning and no error."""
        return _RANK[self.worst] < _RANK["warning"]

    @property
    def exit_code(self) -> int:
        """0: nothing wrong; 1: warnings; 2: errors."""
        return {"ok": 0, "info": 0, "warning": 1, "error": 2}[self.worst]

    def by_check(self, check: str) -> list[Finding]:
        return [f for f in self.findings if f.check == check]

    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.worst, "exit_code": self.exit_code, "summary": jsonable(self.summary),
                "findings": [f.to_dict() for f in self.findings]}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def to_text(self, *, width: int = 100, max_ids: int = 10, details: bool = False) -> str:
        """Plain-words report: one block per finding, errors first. The numbers are shown for warnings and
        errors (for every finding with ``details``)."""
        order = sorted(self.findings, key=lambda f: -_RANK[f.severity])
        lines = []
        if self.summary:
            lines.append("motioneval doctor: " + ", ".join(f"{k} {v}" for k, v in self.summary.items()))
            lines.append("")
        for f in order:
            lines.append(f"[{f.severity.upper():7s}] {f.check}: {f.title}")
            body = []
            if f.explanation:
                body.append(f.explanation)
            if f.ids:
                shown = ", ".join(f.ids[:max_ids]) + (f" and {len(f.ids) - max_ids} more" if len(f.ids) > max_ids else "")
                body.append(f"Samples: {shown}.")
            if f.numbers and (details or _RANK[f.severity] >= _RANK["warning"]):
                body.append("Numbers: " + "; ".join(f"{k} = {_fmt(v)}" for k, v in f.numbers.items()))
            if f.action:
                body.append("What to do: " + f.action)
            for para in body:
                lines.extend(textwrap.wrap(para, width=width, initial_indent="          ",
                                           subsequent_indent="          "))
        counts = {s: sum(f.severity == s for f in self.findings) for s in SEVERITIES}
        lines.append("")
        lines.append(f"{counts['error']} error(s), {counts['warning']} warning(s), {counts['ok']} ok, "
                     f"{counts['info']} note(s): {'something is wrong' if not self.ok else 'no problem found'}.")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if v == 0 or not math.isfinite(v):
            return str(v)
        return f"{v:.4g}"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_fmt(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)
