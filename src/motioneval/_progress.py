"""Progress bars for long work: tqdm when installed, a dependency-free fallback otherwise.

Library code never prints; the bar writes to stderr only when ``enable`` is true (the CLI enables it,
the Python API defaults to off). :func:`progress` wraps a loop; :func:`phase` is for work that is not a
plain loop (a count advanced by hand, or no count at all: then the elapsed time is shown).
"""
from __future__ import annotations

import io
import math
import numbers
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sized
from typing import Any, Generic, TextIO, TypeVar

T = TypeVar("T")


def progress(iterable: Iterable[T], *, total: int | None = None, desc: str = "",
             enable: bool = False, unit: str = "it") -> Iterator[T]:
    """Iterate over ``iterable``, showing a progress bar with rate and ETA when ``enable``."""
    if not enable:
        yield from iterable
        return
    try:
        from tqdm.auto import tqdm
    except ImportError:
        yield from _SimpleBar(iterable, total=total, desc=desc, unit=unit)
        return
    yield from tqdm(iterable, total=total, desc=desc, unit=unit, dynamic_ncols=True, file=sys.stderr)


class _SimpleBar(Generic[T]):
    def __init__(self, iterable: Iterable[T], *, total: int | None, desc: str, unit: str) -> None:
        self.iterable = iterable
        self.total = total if total is not None else (len(iterable) if isinstance(iterable, Sized) else None)
        self.desc = desc
        self.unit = unit

    def __iter__(self) -> Iterator[T]:
        start = last = time.monotonic()
        n = 0
        for item in self.iterable:
            yield item
            n += 1
            now = time.monotonic()
            if now - last >= 0.5 or (self.total is not None and n == self.total):
                last = now
                self._draw(n, now - start)
        sys.stderr.write("\n")

    def _draw(self, n: int, elapsed: float) -> None:
        rate = n / elapsed if elapsed > 0 else 0.0
        if self.total:
            eta = (self.total - n) / rate if rate > 0 else float("inf")
            msg = f"\r{self.desc}: {n}/{self.total} [{elapsed:.0f}s<{eta:.0f}s, {rate:.2f} {self.unit}/s]"
        else:
            msg = f"\r{self.desc}: {n} [{elapsed:.0f}s, {rate:.2f} {self.unit}/s]"
        sys.stderr.write(msg)
        sys.stderr.flush()


#: Phases that end within this many seconds leave no line behind.
QUIET_SECONDS = 1.0


def phase(desc: str, *, total: int | None = None, unit: str = "it", enable: bool = False,
          stream: TextIO | None = None) -> Phase:
    """``with phase("embedding", total=n, enable=True) as p: ... p.advance(k)``: a :class:`Phase` on
    ``stream`` (default stderr) when ``enable``, silent otherwise."""
    return Phase(desc, total=total, unit=unit, stream=(stream or sys.stderr) if enable else None)


class Phase:
    """A live progress line on ``stream`` (``None``: silent): ``desc: n/total pct [elapsed<eta, rate]``
    or ``desc: elapsed`` when the total is unknown, redrawn by a ticker thread every ``interval`` s on a
    terminal (a file or pipe only gets the final line)."""

    def __init__(self, desc: str, *, total: int | None = None, unit: str = "it", stream: TextIO | None = None,
                 interval: float = 0.5) -> None:
        self.desc = desc
        self.total = total
        self.unit = unit
        self.stream = stream
        self.interval = interval
        self.n = 0
        self._start = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._drawn = False
        self.seconds = 0.0

    def __enter__(self) -> Phase:
        self.start()
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        self.close(failed=exc_type is not None)

    @property
    def live(self) -> bool:
        return self.stream is not None and _isatty(self.stream)

    def start(self) -> None:
        self._start = time.monotonic()
        if self.live:
            self._thread = threading.Thread(target=self._tick, name=f"progress {self.desc}", daemon=True)
            self._thread.start()

    def advance(self, n: int = 1) -> None:
        """``n`` more units done."""
        with self._lock:
            self.n += n

    def set_total(self, total: int | None) -> None:
        with self._lock:
            self.total = total

    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            self._draw()

    def text(self, elapsed: float | None = None) -> str:
        """The line as it is drawn now."""
        elapsed = time.monotonic() - self._start if elapsed is None else elapsed
        with self._lock:
            n, total = self.n, self.total
        if total:
            rate = n / elapsed if elapsed > 0 else 0.0
            eta = _seconds((total - n) / rate) if rate > 0 else "?"
            return (f"{self.desc}: {n}/{total} {100 * n / total:3.0f}% [{_seconds(elapsed)}<{eta}, "
                    f"{rate:.2f} {self.unit}/s]")
        if n:
            return f"{self.desc}: {n} {self.unit} [{_seconds(elapsed)}]"
        return f"{self.desc}: {_seconds(elapsed)}"

    def _draw(self) -> None:
        if self.stream is None:
            return
        line = self.text()
        try:
            self.stream.write(f"\r{line}\033[K")
            self.stream.flush()
            self._drawn = True
        except (OSError, ValueError):  # the stream went away (closed terminal): stop drawing
            self._stop.set()

    def close(self, *, failed: bool = False) -> None:
        """Stop the ticker; leave a ``desc: done (...)`` line when the phase took over :data:`QUIET_SECONDS`
        (``failed``: only clear the live line; the error says what happened)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.seconds = time.monotonic() - self._start
        if self.stream is None:
            return
        try:
            if self.seconds >= QUIET_SECONDS and not failed:
                prefix = "\r" if self._drawn else ""
                tail = f"{self.n}/{self.total} {self.unit}, " if self.total else (
                    f"{self.n} {self.unit}, " if self.n else "")
                self.stream.write(f"{prefix}{self.desc}: done ({tail}{_seconds(self.seconds)})"
                                  f"{chr(27) + '[K' if self._drawn else ''}\n")
            elif self._drawn:
                self.stream.write("\r\033[K")
            self.stream.flush()
        except (OSError, ValueError):
            pass


def _seconds(s: float) -> str:
    if not math.isfinite(s):
        return "?"
    if s < 60:
        return f"{s:.1f} s" if s < 10 else f"{s:.0f} s"
    m, sec = divmod(int(round(s)), 60)
    return f"{m}:{sec:02d} min" if m < 60 else f"{m // 60}:{m % 60:02d}:{sec:02d} h"


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, io.UnsupportedOperation):
        return False


def progress_batches(order: Any, batch_size: int, *, desc: str, enable: bool = False) -> Iterator[Any]:
    """Consecutive slices of ``order`` of ``batch_size`` rows (a positive integer), with a progress bar of
    batches when ``enable``."""
    from ._checks import check_scalar

    check_scalar(batch_size, "batch_size", numbers.Integral, min_val=1)
    starts = range(0, len(order), batch_size)
    for s in progress(starts, total=len(starts), desc=desc, enable=enable, unit="batch"):
        yield order[s:s + batch_size]
