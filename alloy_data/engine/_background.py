"""Run an iterator in a background thread so that fetching overlaps with converting."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Generic, TypeVar

__all__ = ["prefetch"]

T = TypeVar("T")

_DONE = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class _Prefetcher(Generic[T]):
    def __init__(self, source: Iterator[T], depth: int) -> None:
        self._source = source
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alloy-data-prefetch", daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        # Poll so that a consumer that stopped early never leaves this thread blocked.
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for item in self._source:
                if not self._put(item):
                    return
        except BaseException as error:  # handed to the consumer, which re-raises it
            self._put(_Failure(error))
            return
        self._put(_DONE)

    def __iter__(self) -> Iterator[T]:
        try:
            while True:
                item = self._queue.get()
                if item is _DONE:
                    return
                if isinstance(item, _Failure):
                    raise item.error
                yield item  # type: ignore[misc]
        finally:
            self._stop.set()
            self._thread.join()
            close = getattr(self._source, "close", None)
            if close is not None:  # the thread has ended, so the source is ours to close
                close()


def prefetch(source: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Iterate ``source`` in a background thread, keeping up to ``depth`` items ready.

    Exceptions raised by ``source`` are re-raised in the consumer, in order. When the consumer
    stops early, the background thread stops after its current item.

    Returns:
        An iterator over the same items, in the same order.
    """
    return iter(_Prefetcher(source, depth))
