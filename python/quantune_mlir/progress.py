"""Progress lines on stderr for long loops."""

from __future__ import annotations

import sys
import time
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


def report(message: str) -> None:
    """One progress line on stderr."""
    print(message, file=sys.stderr, flush=True)


def track(items: Iterable[T], total: int, what: str, every_seconds: float = 2.0) -> Iterator[T]:
    """Yields ``items``, printing ``what: i/total`` at most every few seconds
    and once at the end with the elapsed time."""
    start = last = time.perf_counter()
    done = 0
    for item in items:
        yield item
        done += 1
        now = time.perf_counter()
        if now - last >= every_seconds and done < total:
            report(f"  {what}: {done}/{total}")
            last = now
    report(f"  {what}: {done}/{total} in {time.perf_counter() - start:.1f} s")
