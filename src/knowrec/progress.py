"""Progress people can see: a bar in a terminal, and plain lines where the output is a log or a pipe.

A tqdm bar redraws one line with carriage returns, which in a log file is one huge line written at the end;
so when standard error is not a terminal, long work writes a line at each tenth of the way and one when done.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def is_terminal() -> bool:
    """Whether progress goes to a terminal (standard error is a TTY)."""
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def say(line: str) -> None:
    """One progress line on standard error, flushed at once (a log shows it when it happens)."""
    print(line, file=sys.stderr, flush=True)


def duration(seconds: float) -> str:
    """``42 s``, ``3.5 min``, ``1.2 h``."""
    if seconds < 90:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def track(items: Iterable[T], *, total: int, desc: str, unit: str = "it", enabled: bool = True,
          leave: bool = False) -> Iterator[T]:
    """Iterate ``items`` showing progress: a tqdm bar in a terminal; otherwise a line at each tenth of ``total``
    (with the time taken and left) and a last line with the total time. ``enabled=False`` shows nothing."""
    if not enabled:
        yield from items
        return
    if is_terminal():
        from tqdm.auto import tqdm

        yield from tqdm(items, total=total, desc=desc, unit=unit, leave=leave)
        return
    t0 = time.perf_counter()
    step = max(1, -(-total // 10))
    done = 0
    for item in items:
        yield item
        done += 1
        if done < total and done % step == 0:
            spent = time.perf_counter() - t0
            say(f"{desc}: {done:,}/{total:,} {unit} ({done / total:.0%}) in {duration(spent)}, "
                f"~{duration(spent / done * (total - done))} left")
    count = "" if done == 1 else f" {done:,} {unit}"
    say(f"{desc}:{count} done in {duration(time.perf_counter() - t0)}")
