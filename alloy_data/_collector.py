"""Fewer runs of the cyclic garbage collector while a pull decodes pages in bulk.

Decoding a page makes thousands of dicts and lists at once. CPython's collector runs after
every 700 of them and walks every young object still alive, then again as they age, and a pull
keeps its current pages alive: on 100,000 records that was a fifth of an offset pull's time.
Decoded JSON holds no reference cycles, so collecting during a pull finds nothing of ours. While
a pull converts, the collector's first threshold is raised to :data:`RAISED_THRESHOLD` (it still
runs, so cycles made meanwhile by other code are still freed), and put back afterwards.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

__all__ = ["RAISED_THRESHOLD", "fewer_collections"]

RAISED_THRESHOLD = 50_000


class _Raised:
    """How many pulls want fewer collections now, and the threshold to put back."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = 0
        self.saved: tuple[int, int, int] | None = None


_raised = _Raised()


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Raise the collector's first threshold for the duration (pulls in several threads share it).

    A threshold that is already higher, or 0 (collection turned off), is left alone, and one
    that someone else changed meanwhile is not put back.
    """
    with _raised.lock:
        if _raised.active == 0:
            current = gc.get_threshold()
            if 0 < current[0] < RAISED_THRESHOLD:
                _raised.saved = current
                gc.set_threshold(RAISED_THRESHOLD, current[1], current[2])
        _raised.active += 1
    try:
        yield
    finally:
        with _raised.lock:
            _raised.active -= 1
            if _raised.active == 0 and _raised.saved is not None:
                if gc.get_threshold()[0] == RAISED_THRESHOLD:
                    gc.set_threshold(*_raised.saved)
                _raised.saved = None
