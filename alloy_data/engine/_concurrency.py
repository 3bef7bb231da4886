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
import warnings
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from alloy_data.errors import PaginationWarning
from alloy_data.models import ActionResult
from alloy_data.pagination import Page, PageWalker, StopReason
from alloy_data.pagination._records import fingerprint as page_fingerprint

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


def _fan_out_size(
    walker: PageWalker,
    first: Page,
    paginator: Any,
    max_pages: int | None,
    max_records: int | None,
) -> tuple[int | None, str]:
    """The page size to compute the later pages with, or None and why not (may be "")."""
    if (
        walker.stop_reason is not None
        or first.next_parameters is None
        or (max_pages is not None and max_pages <= 1)
        or (max_records is not None and max_records <= len(first.records))
    ):
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
    parameters: Mapping[str, Any] | None = None,
    max_pages: int | None = None,
    max_records: int | None = None,
) -> Iterator[Page]:
    """Yield a pull's pages in order, fetching up to ``concurrency`` of them at once.

    The first page comes from ``walker``. When its paginator cannot compute pages up front
    (cursors), or the first page leaves the page size in doubt, the rest comes from the walker
    too, one page after another, and a note in ``walker.notes`` says why.

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
    size, why_not = _fan_out_size(walker, first, paginator, max_pages, max_records)
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
        parameters=dict(parameters or {}),
        max_pages=max_pages,
        max_records=max_records,
    )


def _fetch_rest(
    walker: PageWalker,
    fetch: Fetch,
    first: Page,
    paginator: Any,
    size: int,
    *,
    concurrency: int,
    limit: AdaptiveLimit,
    parameters: dict[str, Any],
    max_pages: int | None,
    max_records: int | None,
) -> Iterator[Page]:
    state = paginator.start(parameters, page_size=size)
    state.records_path = first.records_path or None
    first_result = ActionResult.from_json(first.raw)
    total_pages = paginator.total_pages(first_result, size)
    if max_pages is not None:
        total_pages = max_pages if total_pages is None else min(total_pages, max_pages)
    trust_total = True
    seen = {page_fingerprint(first.records): 1} if first.records else {}
    records = len(first.records)
    walker.pages, walker.records = 1, records

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
    next_index = 1
    pool = ThreadPoolExecutor(concurrency, thread_name_prefix="alloy-data-page")
    failed = False
    try:
        while True:
            # Only as many as may be in flight now: without a total, every request scheduled
            # past the end is one wasted.
            while len(in_flight) < min(concurrency, limit.current) and (
                total_pages is None or next_index < total_pages
            ):
                page_parameters = paginator.parameters_for_page(first.parameters, size, next_index)
                in_flight[next_index] = (
                    page_parameters,
                    pool.submit(fetch_one, page_parameters),
                )
                next_index += 1
            if not in_flight:
                _stop(
                    walker,
                    "end",
                    f"Reached the last page ({walker.pages} pages, {records} records).",
                )
                return
            index = min(in_flight)
            page_parameters, future = in_flight.pop(index)
            result = future.result()
            found, path = paginator.locate(result, state)
            last = paginator.is_last_page(
                page_parameters, result, found, trust_total=trust_total
            ) or (paginator.page_size_parameter is None and len(found) < size)
            digest = page_fingerprint(found) if found else None
            if digest is not None and digest in seen:
                _stop(
                    walker,
                    "repeated_page",
                    f"Stopped before page {index + 1}: its records are those of page "
                    f"{seen[digest]} again, so the server ignores the paging parameters. "
                    "Data may be missing.",
                    missing=True,
                )
                return
            if digest is not None:
                seen[digest] = index + 1
            cut = False
            if max_records is not None and records + len(found) >= max_records:
                cut = records + len(found) > max_records or not last
                found = found[: max_records - records]
            if not found and last:
                _stop(
                    walker,
                    "end",
                    f"Reached the last page ({walker.pages} pages, {records} records).",
                )
                return
            records += len(found)
            walker.pages += 1
            walker.records = records
            yield Page.from_result(
                result,
                number=index + 1,
                records=found,
                parameters=page_parameters,
                next_parameters=None
                if last
                else paginator.parameters_for_page(first.parameters, size, index + 1),
                total=paginator.total(result),
                records_path=path,
            )
            if cut:
                _stop(
                    walker,
                    "max_records",
                    f"Stopped at max_records={max_records} on "
                    f"page {index + 1}; more records exist.",
                )
                return
            if last:
                _stop(
                    walker,
                    "end",
                    f"Reached the last page ({index + 1} pages, {records} records).",
                )
                return
            if max_pages is not None and index + 1 >= max_pages:
                _stop(walker, "max_pages", f"Stopped at max_pages={max_pages}; more pages exist.")
                return
            if total_pages is not None and index + 1 >= total_pages:
                if len(found) < size:
                    _stop(
                        walker,
                        "end",
                        f"Reached the last page ({index + 1} pages, {records} records).",
                    )
                    return
                # A full page where the total says the records end, and the page did not say
                # it was the last: the total is stale or counts something else, so paging
                # goes on until an empty or short page, as it does one page at a time.
                walker.notes.append(
                    f"page {index + 1} is full where the answer's total says the records end; "
                    "paging on until an empty or short page instead"
                )
                total_pages = max_pages
                trust_total = False
    except BaseException:
        failed = True
        raise
    finally:
        # After an error or Ctrl-C, return at once: requests still in flight end on their
        # own (within the read timeout) and their answers are dropped.
        pool.shutdown(wait=not failed, cancel_futures=True)


def _stop(walker: PageWalker, kind: Any, message: str, *, missing: bool = False) -> None:
    walker.stop_reason = StopReason(kind, message, missing)
    walker.notes.append(message)
    if missing:
        warnings.warn(message, PaginationWarning, stacklevel=4)
