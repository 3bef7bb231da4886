"""Fetching the pages of offset and page-number pulls concurrently, in order.

After the first page (fetched by the :class:`~alloy_data.pagination.PageWalker`, which detects
the convention and the page size), the pages' parameters are computed up front and fetched by a
small thread pool. Pages are yielded in order; without a total, pages are fetched ahead and the
first empty or short one ends the pull (what lies past it is dropped). The number of requests
in flight halves on every 429, drops by one on other failures, and grows by one after as many
clean answers as are in flight, up to its ceiling; a requests-per-second cap, when set, is
never exceeded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from alloy_data.models import ActionResult
from alloy_data.pagination import Page, PageWalker

__all__ = ["AdaptiveLimit", "RequestRate", "parallel_pages"]

Fetch = Callable[[dict[str, Any]], ActionResult]


class RequestRate:
    """Spaces requests so that at most ``per_second`` start in any second, across threads."""

    def __init__(self, per_second: float) -> None:
        self._interval = 1.0 / per_second
        self._next_slot = time.monotonic()
        self._lock = threading.Lock()

    def wait(self) -> float:
        """Block until a request may start.

        Returns:
            The seconds waited.
        """
        with self._lock:
            now = time.monotonic()
            slot = max(self._next_slot, now)
            self._next_slot = slot + self._interval
        delay = slot - now
        if delay > 0:
            time.sleep(delay)
        return max(delay, 0.0)


class AdaptiveLimit:
    """How many requests may be in flight: halves on a rate limit, eases off on failures, then
    grows back slowly.

    Args:
        ceiling: The most requests in flight.
        start: Requests in flight at first (default: the ceiling).
        recovery: Clean answers before one more request may be in flight (default: as many
            as are in flight now, so growth slows as it goes, as TCP's does).
    """

    def __init__(self, ceiling: int, *, start: int | None = None, recovery: int | None = 8) -> None:
        self.ceiling = ceiling
        self.current = min(ceiling, start) if start is not None else ceiling
        self.lowest = self.current
        self.highest = self.current
        #: Requests that went through this limit: none when pages were not fetched side by side.
        self.acquired = 0
        self._recovery = recovery
        self._successes = 0
        self._in_flight = 0
        self._condition = threading.Condition()

    def acquire(self) -> None:
        """Block until one more request may be in flight."""
        with self._condition:
            while self._in_flight >= self.current:
                self._condition.wait()
            self._in_flight += 1
            self.acquired += 1

    def release(self, *, success: bool = True) -> None:
        """Mark a request as done."""
        with self._condition:
            self._in_flight -= 1
            if success:
                self._successes += 1
                needed = self._recovery if self._recovery is not None else self.current
                if self._successes >= needed and self.current < self.ceiling:
                    self.current += 1
                    self.highest = max(self.highest, self.current)
                    self._successes = 0
            self._condition.notify_all()

    def slow_down(self) -> None:
        """Halve the requests in flight (a 429 or a Retry-After was seen)."""
        with self._condition:
            self.current = max(1, self.current // 2)
            self.lowest = min(self.lowest, self.current)
            self._successes = 0

    def ease_off(self) -> None:
        """One request fewer in flight (a 5xx, a timeout or a dropped connection was seen)."""
        with self._condition:
            self.current = max(1, self.current - 1)
            self.lowest = min(self.lowest, self.current)
            self._successes = 0


def _page_size(walker_page: Page, size_parameter: str | None) -> int | None:
    if size_parameter is None:
        return None
    value = walker_page.parameters.get(size_parameter)
    return value if isinstance(value, int) and value > 0 else None


def _fan_out_size(walker: PageWalker, first: Page, paginator: Any) -> tuple[int | None, str]:
    """The page size to compute the later pages with, or None and why not (may be "")."""
    if walker.stop_reason is not None:
        return None, ""  # one page was all there is, or all that was asked for
    if paginator is None or not paginator.supports_parallel:
        name = paginator.name if paginator is not None else "this"
        return None, f"{name} paging needs each answer before it can ask for the next page"
    size_parameter = paginator.page_size_parameter
    asked = _page_size(first, size_parameter)
    if asked is None:
        if size_parameter is None and first.records and paginator.name == "page_number":
            return len(first.records), ""  # the first page tells the size
        return None, "no page size is sent or known, so later pages cannot be computed"
    if walker.page_size is not None and walker.page_size < asked:
        return walker.page_size, ""  # the app keeps to a smaller size and said more follow
    if len(first.records) < asked:
        return None, (
            f"the first page held {len(first.records)} records when {asked} were asked, "
            "without saying whether more follow"
        )
    return asked, ""


def parallel_pages(
    walker: PageWalker,
    fetch: Fetch,
    *,
    concurrency: int,
    limit: AdaptiveLimit | None = None,
) -> Iterator[Page]:
    """Yield a walk's pages in order, fetching up to ``concurrency`` of them at once.

    The first page comes from ``walker``, and so do the parameters, the limits and the page
    numbers: a walk resumed part-way goes on from its first page, numbered as the walker
    numbers it, within the limits of the whole dataset. Every page passes the walker's own
    stop rules (:attr:`PageWalker.stops`), so the walk stops where it would one page at a
    time. When its paginator cannot compute pages up front (cursors), or the first page
    leaves the page size in doubt, the rest comes from the walker too, one page after
    another, and a note in ``walker.notes`` says why.

    Returns:
        An iterator of :class:`~alloy_data.pagination.Page`, in page order.
    """
    pages = iter(walker)
    try:
        first = next(pages)
    except StopIteration:
        return
    yield first
    detection = walker.detection
    paginator = detection.paginator if detection is not None else None
    size, why_not = _fan_out_size(walker, first, paginator)
    if size is None or paginator is None:
        if why_not:
            walker.notes.append(f"requests are not overlapped: {why_not}")
        yield from pages
        return
    close = getattr(pages, "close", None)
    if close is not None:
        close()  # the walker's generator: the rest is fetched here, concurrently
    walker.notes.append(f"fetching pages side by side, up to {concurrency} at a time")
    yield from _fetch_rest(
        walker,
        fetch,
        first,
        paginator,
        size,
        concurrency=concurrency,
        limit=limit or AdaptiveLimit(concurrency),
    )


def _by_total(first: Page, paginator: Any, size: int) -> int | None:
    """The number of the page where the first page's total says the records end, if told."""
    total_pages = paginator.total_pages(ActionResult.from_json(first.raw), size)
    if total_pages is None:
        return None
    # A resumed walk's first page has pages before it, which the total counts too.
    return first.number + total_pages - paginator.page_index(first.parameters, size) - 1


def _last_number(walker: PageWalker, first: Page, size: int, by_total: int | None) -> int | None:
    """The number of the last page worth scheduling: the total's and the limits' end."""
    stops = walker.stops
    ends = [number for number in (by_total, stops.max_pages) if number is not None]
    room = stops.room()
    if room is not None:
        # Pages past the record limit would be fetched only to be dropped.
        ends.append(first.number + stops.pages - 1 + -(-room // size))
    return min(ends, default=None)


def _fetch_rest(
    walker: PageWalker,
    fetch: Fetch,
    first: Page,
    paginator: Any,
    size: int,
    *,
    concurrency: int,
    limit: AdaptiveLimit,
) -> Iterator[Page]:
    stops = walker.stops
    state = paginator.start(walker.parameters, page_size=size)
    state.records_path = first.records_path or None
    by_total = _by_total(first, paginator, size)  # while the total is trusted
    last_number = _last_number(walker, first, size, by_total)
    trust_total = True

    def parameters_of(number: int) -> dict[str, Any]:
        # Later pages are counted from the walk's first page, whatever its number.
        parameters: dict[str, Any] = paginator.parameters_for_page(
            first.parameters, size, number - first.number
        )
        return parameters

    def fetch_one(page_parameters: dict[str, Any]) -> ActionResult:
        limit.acquire()
        ok = False
        try:
            result = fetch(page_parameters)
            ok = True
            return result
        finally:
            limit.release(success=ok)

    in_flight: dict[int, tuple[dict[str, Any], Future[ActionResult]]] = {}
    next_number = first.number + 1
    pool = ThreadPoolExecutor(concurrency, thread_name_prefix="alloy-data-page")
    failed = False
    try:
        while True:
            # Only as many as may be in flight now: without a total, every request scheduled
            # past the end is one wasted.
            while len(in_flight) < min(concurrency, limit.current) and (
                last_number is None or next_number <= last_number
            ):
                page_parameters = parameters_of(next_number)
                in_flight[next_number] = (page_parameters, pool.submit(fetch_one, page_parameters))
                next_number += 1
            if not in_flight:
                stops.end(first.number + stops.pages - 1)
                return
            number = min(in_flight)
            page_parameters, future = in_flight.pop(number)
            result = future.result()
            found, path = paginator.locate(result, state)
            last = paginator.is_last_page(
                page_parameters, result, found, trust_total=trust_total
            ) or (paginator.page_size_parameter is None and len(found) < size)
            at_total = by_total is not None and number >= by_total
            if at_total and not last and len(found) < size:
                last = True  # a short page where the total says the records end
            if stops.repeats(number, found, confirming_end=False):
                return
            kept, cut = stops.cut(found)
            following = None if last else parameters_of(number + 1)
            stopped = stops.after(
                number, len(kept), following=following, cut=cut, total=paginator.total(result)
            )
            yield Page.from_result(
                result,
                number=number,
                records=kept,
                parameters=page_parameters,
                next_parameters=following,
                total=paginator.total(result),
                records_path=path,
            )
            if stopped:
                return
            if at_total:
                # A full page where the total says the records end, and the page did not say
                # it was the last: the total is stale or counts something else, so paging
                # goes on until an empty or short page, as it does one page at a time.
                stops.full_page_past_total(number)
                by_total = None
                last_number = _last_number(walker, first, size, None)
                trust_total = False
    except BaseException:
        failed = True
        raise
    finally:
        # After an error or Ctrl-C, return at once: requests still in flight end on their
        # own (within the read timeout) and their answers are dropped.
        pool.shutdown(wait=not failed, cancel_futures=True)
