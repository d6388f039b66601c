"""HumanML3D / KIT-ML caption files: one caption per line, ``caption#word/POS word/POS ...#from#to``.

``from``/``to`` are in seconds; NaN counts as 0. A line with ``from == to == 0`` describes the whole clip;
any other line describes the frames ``[int(from*fps), int(to*fps))`` (20 fps HumanML3D, 12.5 fps KIT-ML),
which the protocol turns into a separate item with only that caption (``protocol.md``, "Ground-truth
items"). Tokens are split on single spaces, exactly as the reference loader does.

Issues are graded: an *error* makes the line unusable (fewer than four ``#`` fields, times that are not
numbers, negative or infinite times, a token the word vectorizer cannot split into ``word/POS`` among the
first :data:`MAX_TOKENS` tokens); a *warning* is harmless but unusual (a blank line, extra ``#`` fields, a
malformed token past the tokens the protocol reads).
"""
from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .._io import utf8_error_where
from ..constants import MAX_TEXT_TOKENS

#: Tokens the protocol reads per caption (``sos`` + the first 20 + ``eos``); later tokens are ignored
#: (:data:`motioneval.constants.MAX_TEXT_TOKENS`).
MAX_TOKENS = MAX_TEXT_TOKENS

#: Largest caption time stamp accepted, in seconds (a day; HumanML3D clips last at most 10 s). Larger
#: finite values (``1e308``) are corrupt and would overflow when turned into frame indices.
MAX_SECONDS = 86400.0

_EXPECTED = "expected 'caption#word/POS word/POS ...#from#to' (times in seconds)"


class CaptionFormatError(ValueError):
    """A malformed caption line; the message names the file and the 1-based line number."""


@dataclass(frozen=True)
class Caption:
    """One caption line. ``start``/``end`` are seconds with NaN already replaced by 0."""

    text: str
    tokens: tuple[str, ...]
    start: float = 0.0
    end: float = 0.0
    line: int = 0  # 1-based line number in its file; 0 when not read from a file

    @property
    def is_whole(self) -> bool:
        """True when the caption describes the whole clip (``from == to == 0``)."""
        return self.start == 0.0 and self.end == 0.0

    def frame_range(self, fps: float) -> tuple[int, int]:
        """``(int(start * fps), int(end * fps))``: the reference's truncation toward zero, end exclusive."""
        return int(self.start * fps), int(self.end * fps)


@dataclass(frozen=True)
class CaptionIssue:
    """A problem found while parsing: ``severity`` is ``"error"`` or ``"warning"``."""

    line: int
    message: str
    severity: str = "error"


def parse_caption_line(line: str, *, source: str = "<string>", line_no: int = 0) -> Caption:
    """Parse one line; raise :class:`CaptionFormatError` naming ``source`` and ``line_no`` if malformed."""
    caption, issues = _parse_line(line, line_no)
    errors = [i for i in issues if i.severity == "error"]
    if caption is None or errors:
        message = errors[0].message if errors else "blank line"
        raise CaptionFormatError(f"{source}, line {line_no}: {message}")
    return caption


def parse_captions(lines: Iterable[str] | str) -> tuple[list[Caption], list[CaptionIssue]]:
    """Parse the lines of a caption file without raising.

    Returns the captions of the well-formed lines (in file order) and every issue found. Blank lines are
    skipped with a warning.
    """
    if isinstance(lines, str):
        lines = lines.splitlines()
    captions: list[Caption] = []
    issues: list[CaptionIssue] = []
    for number, line in enumerate(lines, start=1):
        caption, line_issues = _parse_line(line, number)
        issues.extend(line_issues)
        if caption is not None and not any(i.severity == "error" for i in line_issues):
            captions.append(caption)
    return captions, issues


def read_captions(path: str | os.PathLike) -> list[Caption]:
    """Read a caption file; raise :class:`CaptionFormatError` naming the file and line of the first error.

    Warnings (blank lines, extra fields) are emitted with :mod:`warnings`. An empty file gives ``[]``.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"caption file not found: {path}") from None
    except UnicodeDecodeError as exc:
        raise CaptionFormatError(f"{path}: not UTF-8 text at {utf8_error_where(exc)}; save the file as UTF-8") from None
    except IsADirectoryError:
        raise CaptionFormatError(f"{path} is a folder, not a caption file") from None
    captions, issues = parse_captions(text)
    for issue in issues:
        if issue.severity == "error":
            raise CaptionFormatError(f"{path}, line {issue.line}: {issue.message}")
    for issue in issues:
        warnings.warn(f"{path}, line {issue.line}: {issue.message}", stacklevel=2)
    return captions


def _parse_line(line: str, number: int) -> tuple[Caption | None, list[CaptionIssue]]:
    stripped = line.strip()
    if not stripped:
        return None, [CaptionIssue(number, "blank line: ignored here, but the reference loader drops the whole "
                                           "clip because of it", "warning")]
    fields = stripped.split("#")
    if len(fields) < 4:
        return None, [CaptionIssue(number, f"found {len(fields)} '#'-separated field(s); {_EXPECTED}")]
    issues: list[CaptionIssue] = []
    if len(fields) > 4:
        issues.append(CaptionIssue(
            number, f"{len(fields)} '#'-separated fields; only the first four are used", "warning"))
    times = []
    for name, raw in (("from", fields[2]), ("to", fields[3])):
        try:
            value = float(raw)
        except ValueError:
            issues.append(CaptionIssue(number, f"{name} time {raw!r} is not a number; {_EXPECTED}"))
            continue
        if math.isnan(value):
            value = 0.0
        elif math.isinf(value) or value < 0:
            issues.append(CaptionIssue(number, f"{name} time {raw!r} must be a finite number of seconds >= 0"))
        elif value > MAX_SECONDS:
            issues.append(CaptionIssue(number, f"{name} time {raw!r} is beyond {MAX_SECONDS:g} seconds; caption times "
                                               f"are seconds within the clip (a corrupt line?)"))
        times.append(value)
    tokens = tuple(fields[1].split(" "))
    for position, token in enumerate(tokens):
        if token.count("/") != 1:
            used = position < MAX_TOKENS
            issues.append(CaptionIssue(
                number,
                f"token {position + 1} {token!r} is not 'word/POS'"
                + (" (the word vectorizer cannot split it)" if used else " (past the tokens the protocol reads)"),
                "error" if used else "warning",
            ))
    if len(times) < 2 or any(i.severity == "error" for i in issues):
        return None, issues
    return Caption(text=fields[0], tokens=tokens, start=times[0], end=times[1], line=number), issues
