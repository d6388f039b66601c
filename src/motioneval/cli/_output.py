"""One output style for the long ``motioneval`` commands (README "Output").

A run prints, in this order:

1. a **header** on stderr saying what will run (preset, counts, devices, cache, threads);
2. **phases** on stderr, each with a progress bar (rate and ETA when the amount of work is known, the
   elapsed time otherwise) for anything that may take over a second;
3. the **table** on stdout;
4. at most :data:`~motioneval._messages.MAX_WARNING_LINES` **grouped warning lines** on stderr: messages
   that differ only in their numbers (``replication 3``, ``up to 6.4e-09``) or in a parenthesised label
   (``FID (noisy)``) are one line with their ranges and a count (:mod:`motioneval._messages`), and what does
   not fit is summed up in a last line pointing to ``--verbose``.

``--verbose`` lists every warning (with the Python source of those raised with :func:`warnings.warn`);
``--quiet`` prints the table only; ``--json`` prints one JSON object on stdout and nothing else (stray
prints go to stderr; errors keep the one error style on stderr with a non-zero exit).

While an :class:`Output` is active (``with Output(...) as out``) Python warnings and ``WARNING`` log records
are collected instead of printed as they happen, so that a warning the run also reports (for example one of
``Result.warnings``) is shown once, not once through ``logging.captureWarnings`` with a source line and
once more by the command.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import re
import sys
import threading
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO, TypeVar

from .._messages import MAX_WARNING_LINES, warning_lines
from .._progress import Phase
from .._progress import progress as _progress

T = TypeVar("T")

MODES = ("normal", "verbose", "quiet", "json")


def add_output_options(parser: argparse.ArgumentParser, *, json_option: bool = True) -> None:
    """Add ``--verbose`` / ``--quiet`` (and ``--json`` unless the command has its own) to a subcommand.

    ``--verbose`` sets ``args.all_warnings`` (``args.verbose`` stays the global ``-v`` count of log output)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--verbose", dest="all_warnings", action="store_true",
                       help="list every warning (by default similar ones are grouped and at most "
                            f"{MAX_WARNING_LINES} lines are shown)")
    group.add_argument("--quiet", action="store_true",
                       help="print the table only: no header, progress or warnings")
    if json_option:
        group.add_argument("--json", action="store_true",
                           help="print one JSON object on stdout (results, files written, every warning) and "
                                "nothing else")


def device_line(device: str | None, threads: int | None = None) -> str:
    """``"cpu, 1 CPU thread"``: the torch device a run will use (``None``: cuda when available) and torch's
    intra-op threads (``threads``, or torch's current setting)."""
    try:
        import torch
    except ImportError:
        return device or "cpu"
    name = device or ("cuda" if torch.cuda.is_available() else "cpu")
    n = int(threads) if threads is not None else torch.get_num_threads()
    return f"{name}, {n} CPU thread{'s' if n != 1 else ''}"


def mode_from_args(args: argparse.Namespace) -> str:
    """``"json"``, ``"quiet"``, ``"verbose"`` (``--verbose`` or the global ``-v``) or ``"normal"``."""
    if getattr(args, "json", False):
        return "json"
    if getattr(args, "quiet", False):
        return "quiet"
    if getattr(args, "all_warnings", False) or (getattr(args, "verbose", 0) or 0) >= 1:
        return "verbose"
    return "normal"


@dataclass
class _Warning:
    message: str
    source: str = ""  # "UserWarning at file.py:12" for Python warnings, the logger's name for log records


class Output:
    """Header, phases, table and warnings of one command run, in the style of the module docstring.

    Use as a context manager around the run: inside it Python warnings and ``WARNING`` log records are
    collected (and shown grouped at the end) rather than printed as they happen."""

    def __init__(self, command: str, mode: str = "normal", *, progress: bool = True,
                 stdout: TextIO | None = None, stderr: TextIO | None = None,
                 max_warning_lines: int = MAX_WARNING_LINES, json_indent: int | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"output mode {mode!r}: expected one of {', '.join(MODES)}")
        self.command = command
        self.mode = mode
        self.show_progress = progress and mode in ("normal", "verbose")
        self._stdout = stdout
        self._stderr = stderr
        self.max_warning_lines = max_warning_lines
        self.json_indent = json_indent  # of the --json object (None: one line)
        self._warnings: dict[str, _Warning] = {}
        self._shown: set[str] = set()  # already on screen (e.g. notes under the table): not repeated
        self._lock = threading.Lock()
        self._payload: dict[str, Any] = {}
        self._stack: contextlib.ExitStack | None = None
        self._finished = False
        self._pending_header: str | None = None
        self._header_width = 0

    @classmethod
    def from_args(cls, command: str, args: argparse.Namespace, **kwargs: Any) -> Output:
        """An :class:`Output` for the options of :func:`add_output_options` (and ``--no-progress``)."""
        return cls(command, mode_from_args(args), progress=not getattr(args, "no_progress", False), **kwargs)

    # streams are looked up when used, so that redirections (and pytest's capsys) apply
    @property
    def stdout(self) -> TextIO:
        return self._stdout if self._stdout is not None else sys.stdout

    @property
    def stderr(self) -> TextIO:
        return self._stderr if self._stderr is not None else sys.stderr

    @property
    def chatty(self) -> bool:
        """Whether header, info lines and warnings are printed (``normal`` and ``verbose``)."""
        return self.mode in ("normal", "verbose")

    # -- the run ----------------------------------------------------------------------------------------
    def __enter__(self) -> Output:
        stack = contextlib.ExitStack()
        stack.enter_context(self._capture_python_warnings())
        stack.enter_context(self._capture_log_warnings())
        if self.mode == "json":  # stdout is the one JSON object: stray prints go to stderr
            stdout = self.stdout
            self._stdout = stdout
            stack.enter_context(contextlib.redirect_stdout(self.stderr))
        self._stack = stack
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()
        if exc_type is None:
            self.finish()
        elif self.chatty:  # the error follows (main's one style); the warnings so far may explain it
            self._pending_header = None  # an error before anything was shown stays one or two lines
            self._print_warnings()

    @contextlib.contextmanager
    def _capture_python_warnings(self) -> Iterator[None]:
        with warnings.catch_warnings():
            warnings.showwarning = self._showwarning
            yield

    def _showwarning(self, message: Warning | str, category: type[Warning], filename: str, lineno: int,
                     file: TextIO | None = None, line: str | None = None) -> None:
        self.warn(str(message), source=f"{category.__name__} at {filename}:{lineno}")

    @contextlib.contextmanager
    def _capture_log_warnings(self) -> Iterator[None]:
        handlers = list(logging.getLogger().handlers)
        catcher = _LogWarningCatcher(self)
        for handler in handlers:
            handler.addFilter(catcher)
        try:
            yield
        finally:
            for handler in handlers:
                handler.removeFilter(catcher)

    # -- what the command prints ------------------------------------------------------------------------
    def header(self, title: str, items: Iterable[tuple[str, Any]] = ()) -> None:
        """``motioneval <command>: <title>`` then one indented ``name  value`` line per item (stderr).

        Shown before the first thing the run prints (a phase line, a note, the table), so that a command
        that fails at once (a missing folder) prints its one- or two-line error only."""
        if not self.chatty:
            return
        rows = [(name, str(value)) for name, value in items if value is not None and value != ""]
        lines = [f"motioneval {self.command}: {title}" if title else f"motioneval {self.command}"]
        self._header_width = max((len(name) for name, _ in rows), default=0)
        lines += [self._header_line(name, value) for name, value in rows]
        self._pending_header = "\n".join(lines)

    def _header_line(self, name: str, value: Any) -> str:
        return f"  {name.ljust(self._header_width)}  {value}"

    def add_to_header(self, name: str, value: Any) -> None:
        """An item learnt after the header was set (e.g. the sizes once the data is read): part of the header
        while it is not shown yet, a note (stderr) otherwise."""
        line = self._header_line(name, value)
        if self._pending_header is not None:
            self._pending_header += f"\n{line}"
        else:
            self.note(line)

    def show_header(self) -> None:
        """Print the header now if progress lines follow (library code about to draw its own bars); without
        progress it waits for the first output as usual."""
        if self.show_progress:
            self._flush_header()

    def _flush_header(self) -> None:
        header, self._pending_header = self._pending_header, None
        if header is not None:
            print(header, file=self.stderr)
            self.stderr.flush()

    def progress(self, iterable: Iterable[T], *, total: int | None = None, desc: str = "",
                 unit: str = "it") -> Iterator[T]:
        """Iterate over ``iterable`` with a progress bar (rate, ETA) on stderr unless quiet / json."""
        if self.show_progress:
            self._flush_header()
        return _progress(iterable, total=total, desc=desc, enable=self.show_progress, unit=unit)

    @contextlib.contextmanager
    def phase(self, desc: str, *, total: int | None = None, unit: str = "it") -> Iterator[Phase]:
        """A phase of work that is not a plain loop: ``with out.phase("embedding", total=n) as p:
        ... p.advance(k)``. Shows a live line (count, rate and ETA when ``total`` is known, else the
        elapsed time); a phase that took over :data:`QUIET_SECONDS` leaves a ``desc: done in N s`` line."""
        stream = _HeaderFirst(self) if self.show_progress else None
        with Phase(desc, total=total, unit=unit, stream=stream) as bar:  # type: ignore[arg-type]
            yield bar

    def table(self, text: str) -> None:
        """The table (stdout) in every mode but ``json``; warnings already shown under it are remembered."""
        if self.mode == "json":
            return
        self._flush_header()
        print(text, file=self.stdout)
        self.stdout.flush()

    def info(self, text: str) -> None:
        """A line of the run's result other than the table (files written): stdout, not with quiet / json."""
        if self.chatty:
            self._flush_header()
            print(text, file=self.stdout)

    def note(self, text: str) -> None:
        """A status line (stderr), not with quiet / json."""
        if self.chatty:
            self._err(text)

    def shown(self, messages: Iterable[str]) -> None:
        """Messages already printed (e.g. the notes under the table): not repeated among the warnings."""
        self._shown.update(messages)

    def warn(self, message: str, *, source: str = "") -> None:
        """Record a warning (once per exact text) for the end of the run."""
        with self._lock:
            if message not in self._warnings:
                self._warnings[message] = _Warning(message, source)
            elif source and not self._warnings[message].source:
                self._warnings[message].source = source

    @property
    def warnings(self) -> list[str]:
        """Every distinct warning recorded so far, in order."""
        return list(self._warnings)

    def report_result(self, result: Any) -> None:
        """Show a :class:`~motioneval.protocol.results.Result`: its table (with the notes under it), its
        warnings for the end of the run, and with ``--json`` its ``results.json`` object as ``result``."""
        notes = list((getattr(result, "settings", None) or {}).get("table_notes") or [])
        self.table(result.to_markdown())
        self.shown(notes)
        for message in getattr(result, "warnings", None) or []:
            self.warn(message)
        if self.mode == "json":
            self.set(result=json.loads(result.to_json()))

    def set(self, **payload: Any) -> None:
        """Fields of the ``--json`` object (e.g. ``result=...``, ``files=[...]``)."""
        self._payload.update(payload)

    # -- the end ----------------------------------------------------------------------------------------
    def finish(self) -> None:
        """Print the warnings (or, with ``--json``, the JSON object). Called by ``__exit__``."""
        if self._finished:
            return
        self._finished = True
        if self.mode == "json":
            payload = dict(self._payload)
            if self._warnings or "warnings" in payload:
                payload["warnings"] = list(dict.fromkeys([*payload.get("warnings", []), *self._warnings]))
            print(json.dumps(payload, default=_jsonable, indent=self.json_indent), file=self.stdout)
            self.stdout.flush()
            return
        self._print_warnings()

    def warning_lines(self) -> list[str]:
        """The warning lines this mode prints: grouped and capped by default, all with ``--verbose``."""
        pending = [w for w in self._warnings.values() if w.message not in self._shown]
        if self.mode == "verbose":
            return [f"warning: {w.message}" + (f"  [{w.source}]" if w.source else "") for w in pending]
        if self.mode != "normal":
            return []
        return warning_lines([w.message for w in pending], limit=self.max_warning_lines)

    def _print_warnings(self) -> None:
        lines = self.warning_lines()
        if lines:
            self._err("\n".join(lines))

    def _err(self, text: str) -> None:
        self._flush_header()
        print(text, file=self.stderr)
        self.stderr.flush()


class _HeaderFirst:
    """The run's stderr for a phase line: the pending header is printed before the line's first write."""

    def __init__(self, output: Output) -> None:
        self.output = output

    def write(self, text: str) -> int:
        self.output._flush_header()
        return self.output.stderr.write(text)

    def flush(self) -> None:
        self.output.stderr.flush()

    def isatty(self) -> bool:
        try:
            return bool(self.output.stderr.isatty())
        except (AttributeError, ValueError, OSError):
            return False


class _LogWarningCatcher(logging.Filter):
    """On the root handlers during a run: ``WARNING`` records go to the :class:`Output` (shown grouped at
    the end); other levels pass."""

    def __init__(self, output: Output) -> None:
        super().__init__()
        self.output = output

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed log call: let the handler report it as usual
            return True
        if record.name == "py.warnings":  # logging.captureWarnings' text: "file:line: Category: message\n..."
            message = _warning_text(message)
        self.output.warn(message, source=record.name)
        return False


def _warning_text(formatted: str) -> str:
    """The message of a ``warnings.formatwarning`` text (``path:line: Category: message`` + source line)."""
    first = formatted.split("\n", 1)[0]
    match = re.match(r".*?:\d+: \w+: (.*)$", first)
    return match.group(1) if match else formatted.strip()


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)
