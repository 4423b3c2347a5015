"""Fewer runs of Python's cyclic garbage collector while chainrule builds and prints a large expression.

Parsing, differentiating and printing make many long-lived objects (IR nodes, notation trees) and almost no cyclic
garbage, while the collector runs after every 700 new container objects and then rescans its young generations:
on a 100,000-character input that was 40% of the time (benchmarks/limits.py). While a request runs, the collector
waits for 20,000 new objects instead (and its older generations run one pass in 50, not 10).

The thresholds belong to the process, so every change goes through one record: nested and concurrent requests share
one change, and the last to finish puts back what the first found. A threshold of 0 (collection off) or one already
higher is left as it is.
"""
from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_YOUNG = 20_000
_OLDER = 50


class _Record:
    """The thresholds found before the first of the requests now running, and how many are running."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.before: tuple[int, ...] = ()


_record = _Record()


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    with _record.lock:
        if _record.running == 0:
            _record.before = gc.get_threshold()
            young, *older = _record.before
            if 0 < young < _YOUNG:
                gc.set_threshold(_YOUNG, *(max(t, _OLDER) for t in older))
        _record.running += 1
    try:
        yield
    finally:
        with _record.lock:
            _record.running -= 1
            if _record.running == 0:
                gc.set_threshold(*_record.before)
