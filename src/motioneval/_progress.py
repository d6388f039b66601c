"""Progress bars for long work: tqdm when installed, a dependency-free fallback otherwise.

Library code never prints; the bar writes to stderr only when ``enable`` is true (the CLI enables it,
the Python API defaults to off).
"""
from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator, Sized
from typing import Generic, TypeVar

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
