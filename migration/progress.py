"""Progress while a collection streams: a rich bar on a terminal, a log line every few seconds otherwise."""

from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

LOG_EVERY_SECONDS = 5.0


@contextmanager
def progress(label: str, total: int) -> Iterator[Callable[[int], None]]:
    """Yields `advance(n)`; thread-safe (writer threads report as they finish batches)."""
    lock = threading.Lock()
    if sys.stderr.isatty():
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("eta"), TimeRemainingColumn())
        with Progress(*columns, transient=False) as bar:
            task = bar.add_task(label, total=total or None)

            def advance(n: int) -> None:
                with lock:
                    bar.advance(task, n)
            yield advance
        return

    done = 0
    started = last = time.monotonic()

    def advance_logged(n: int) -> None:
        nonlocal done, last
        with lock:
            done += n
            now = time.monotonic()
            if now - last >= LOG_EVERY_SECONDS:
                last = now
                rate = done / max(now - started, 1e-9)
                eta = (total - done) / rate if rate and total > done else 0
                print(f"{label}: {done:,}/{total:,} docs, {rate:,.0f}/s, eta {eta:,.0f}s", file=sys.stderr,
                      flush=True)
    yield advance_logged
