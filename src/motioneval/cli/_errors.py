"""One error style for every ``motioneval`` subcommand (README "Errors and limits").

Every failure becomes one or two lines on stderr, ``motioneval <command>: error: <what happened, naming the
file / sample id / caption line / option>`` and, when there is one, an indented line saying what to do;
the exit status is non-zero (1; 2 for usage errors; 130 after Ctrl-C; 141 when stdout was closed early,
as for ``motioneval presets --json | head``). ``--debug`` shows the traceback instead.
"""
from __future__ import annotations

import errno
import os
import sys
import zipfile
from pathlib import Path

#: Hints for the output folders, used when an OSError names no file.
_OUT_HINT = "choose another --out / --cache-dir, or free the location"

_OS_REASONS = {
    errno.ENOSPC: ("disk full", ("free space or point --out / --cache-dir at another disk; finished units are "
                                 "kept in the cache, so a rerun resumes")),
    errno.EDQUOT: ("disk quota exceeded", "free space or point --out / --cache-dir at another disk"),
    errno.EROFS: ("read-only file system", "choose a writable location for --out / --cache-dir"),
    errno.EACCES: ("permission denied", "check the permissions, or choose another location"),
    errno.EPERM: ("operation not permitted", "check the permissions, or choose another location"),
    errno.ENOTDIR: ("a file stands where a folder is needed", "remove or rename that file, or " + _OUT_HINT),
    errno.EEXIST: ("a file stands where a folder is needed", "remove or rename that file, or " + _OUT_HINT),
    errno.EISDIR: ("a folder stands where a file is needed", "pass a file, or remove or rename that folder"),
    errno.ENOMEM: ("out of memory", "lower --chunk-size or evaluate fewer samples"),
    errno.EIO: ("input/output error (failing disk or network file system?)", "check the device, then rerun"),
}


def format_error(command: str | None, exc: BaseException) -> str:
    """The one- or two-line message for ``exc`` (no traceback)."""
    message, hint = describe(exc)
    prefix = f"motioneval {command}: error: " if command else "motioneval: error: "
    lines = [prefix + message]
    if hint:
        lines.append(f"  {hint}")
    return "\n".join(lines)


def describe(exc: BaseException) -> tuple[str, str | None]:
    """``(message, hint)`` of an exception, by class; see the module docstring."""
    text = str(exc).strip()
    if isinstance(exc, MemoryError):
        return (f"out of memory{': ' + text if text else ''}",
                "lower --chunk-size, evaluate fewer samples, or use a machine with more memory")
    if isinstance(exc, zipfile.BadZipFile):
        return (f"corrupt or truncated zip/.npz file: {text}",
                "re-download or regenerate the file (--debug shows which reader failed)")
    if isinstance(exc, EOFError):
        return (f"unexpected end of file{': ' + text if text else ''} (an empty or truncated file)",
                "re-download or regenerate the file (--debug shows which reader failed)")
    if isinstance(exc, UnicodeError):
        return f"a text file is not UTF-8: {text}", "save the file as UTF-8"
    if isinstance(exc, OSError):
        return _describe_os_error(exc)
    if isinstance(exc, (ValueError, RuntimeError, ImportError)) and text:
        return text, None
    return (f"{type(exc).__name__}: {text}" if text else type(exc).__name__,
            "this may be a bug in motioneval: rerun with --debug and report the traceback")


def _describe_os_error(exc: OSError) -> tuple[str, str | None]:
    files = [f for f in (exc.filename, exc.filename2) if f is not None]
    reason, hint = _OS_REASONS.get(exc.errno or -1, (None, None))
    if not files:
        native = exc.errno is not None and exc.strerror == os.strerror(exc.errno)
        if native:  # the system's own words name no file: say what it means
            return (reason or exc.strerror or type(exc).__name__), hint
        # our own messages already name the file and say what to do
        text = exc.strerror if exc.strerror and len(exc.args) == 2 else str(exc).strip()
        return text or type(exc).__name__, None
    where = " -> ".join(os.fsdecode(f) for f in files)
    if isinstance(exc, FileNotFoundError):
        return f"not found: {where}", "check the path"
    if reason is None:
        return f"{exc.strerror or type(exc).__name__}: {where}", None
    return f"{reason}: {where}", hint


def os_reason(exc: BaseException) -> str:
    """A few words for what an ``OSError`` (or ``MemoryError``) means, without the file name."""
    if isinstance(exc, MemoryError):
        return "out of memory"
    if isinstance(exc, OSError):
        return _OS_REASONS.get(exc.errno or -1, (exc.strerror or str(exc) or type(exc).__name__, None))[0]
    return str(exc) or type(exc).__name__


def check_device(device: str | None, option: str = "--device") -> None:
    """Refuse a CUDA device that this machine's torch cannot use, before any work starts."""
    if not device or not str(device).startswith("cuda"):
        return
    try:
        import torch
    except ImportError as exc:
        raise ValueError(f"{option} {device}: torch is not installed ({exc}); install motioneval[torch] or "
                         f"use --device cpu") from None
    if not torch.cuda.is_available():
        raise ValueError(f"{option} {device}: no CUDA device is available to torch {torch.__version__} on this "
                         f"machine; use --device cpu (or omit {option})")
    _, _, index = str(device).partition(":")
    if index:
        if not index.isdigit():
            raise ValueError(f"{option} {device}: expected cuda or cuda:<index>")
        if int(index) >= torch.cuda.device_count():
            raise ValueError(f"{option} {device}: this machine has {torch.cuda.device_count()} CUDA device(s) "
                             f"(cuda:0 .. cuda:{torch.cuda.device_count() - 1})")


def check_output_folder(path: str | os.PathLike, option: str) -> Path:
    """Create ``path`` (a folder for outputs) now, so that a file in its place, a read-only disk or missing
    permission is reported before any long work rather than after it."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{option} {folder} is a file, not a folder: remove or rename it, or choose "
                                 f"another {option}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = _OS_REASONS.get(exc.errno or -1, (exc.strerror or str(exc), None))[0]
        raise OSError(exc.errno, f"{option} {folder}: cannot create the folder ({reason}); choose another "
                                 f"{option}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, f"{option} {folder}: the folder is not writable; choose another "
                                            f"{option}")
    return folder


def silence_stdout() -> None:
    """After a closed pipe: point stdout at /dev/null so that the interpreter's final flush is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout is not a real file (tests, embedded use)
        pass
