"""One run of a pull: its walk over the pages, its figures and its incremental bounds.

A :class:`~alloy_data.pull.Pull` is a plan that never changes; each sink call makes a
:class:`PullRun`, so two runs of one pull (two threads, two notebook cells) share nothing but
the plan and the pull's request rate.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from alloy_data._tuning import AUTO_CONCURRENCY, AUTO_CONCURRENCY_START
from alloy_data.engine import AdaptiveLimit, parallel_pages, prefetch
from alloy_data.errors import ConfigurationError, PaginationWarning
from alloy_data.incremental import (
    Incremental,
    IncrementalRun,
    IncrementalWarning,
    check_record_fields,
    format_moment,
    parse_moment,
    to_datetime,
    to_iso,
)
from alloy_data.pagination import Page, PageWalker
from alloy_data.progress import ProgressReporter, ProgressUpdate, Retrying, make_reporter
from alloy_data.pull._parameters import check_parameter_names
from alloy_data.pull._stats import PullStats

if TYPE_CHECKING:
    from alloy_data.export import Checkpoint
    from alloy_data.incremental import FilterParameter
    from alloy_data.models import ActionResult
    from alloy_data.pull._plan import Pull

__all__ = ["PullRun"]

logger = logging.getLogger("alloy_data.pull")


class PullRun:
    """The state of one run of a pull, made afresh by every sink call.

    Args:
        pull: The plan this run carries out.
        since: The lower bound of an incremental run (a moment), or None for the
            ``Incremental``'s ``start`` (or everything).
    """

    def __init__(self, pull: Pull, *, since: Any = None) -> None:
        self.pull = pull
        self.stats = PullStats()
        self._lock = threading.Lock()
        self._limit = AdaptiveLimit(1)
        # While pages() runs: where a retry is shown, and since when the run is timed.
        self._reporter: ProgressReporter | None = None
        self._started = time.monotonic()
        self.since: float | None = None
        self._tracker: IncrementalRun | None = None
        self._filter: FilterParameter | None = None
        self._incremental_warning: str | None = None
        self._notes: list[str] = []
        self._bound(since)

    # -- the incremental bounds -------------------------------------------------------------

    def _bound(self, since: Any) -> None:
        """Sets the lower bound of this run: ``since``, else ``start``, less the lookback."""
        incremental = self.pull.options.incremental
        if incremental is None:
            if since is not None:
                raise ConfigurationError(
                    "since= needs to know which field to compare: build the pull with "
                    "incremental=alloy_data.Incremental(cursor_field='updated_at', "
                    "primary_key='id')."
                )
            return
        bound = incremental.start_seconds if since is None else parse_moment(since)
        if since is not None and bound is None:
            raise ConfigurationError(
                f"since={since!r} is not a moment: give a datetime, ISO-8601 text such as "
                "'2026-01-01T00:00:00Z', or epoch seconds (pull.stats.high_water_mark is one)."
            )
        if bound is not None:
            self.since = bound - incremental.lookback_seconds

    def _prepare(self) -> None:
        """Learns from the action's details how to narrow the run and checks the parameter
        names, once, when the walk is made: a sink's target is checked before any request."""
        pull = self.pull
        options = pull.options
        incremental = options.incremental
        if incremental is not None and self._tracker is None:
            self._filter = pull.filter_parameter()
            self._tracker = IncrementalRun(incremental, self.since, may_stop=self._filter is None)
        self._notes = check_parameter_names(
            pull.action(),
            pull.connector_id,
            options.parameters,
            undeclared=options.undeclared_parameters,
            paginator=options.paginator,
            filter_parameter=None if incremental is None else incremental.parameter,
        )

    def parameters(self) -> dict[str, Any]:
        """The parameters of this run: the pull's own, and the filter on the mark if any."""
        own = dict(self.pull.options.parameters)
        if self._filter is None or self.since is None:
            return own
        return {**own, self._filter.name: format_moment(self.since, self._filter.value_format)}

    # -- requests -----------------------------------------------------------------------------

    def fetch(self, parameters: dict[str, Any]) -> ActionResult:
        """Execute the action once with ``parameters``, counting the request."""
        with self._lock:
            self.stats.requests += 1
        pull = self.pull
        result: ActionResult = pull.client.actions.execute(
            pull.connector_id,
            pull.action_id,
            credential_id=pull.credential_id,
            user_id=pull.user_id,
            parameters=parameters,
            idempotent=True,
            action=pull.action(),
            on_retry=self._on_retry,
            before_attempt=self._before_attempt,
            retry_policy=pull.retry_policy,
            on_limit_wait=self._on_limit_wait,
        )
        return result

    def _on_limit_wait(self, seconds: float) -> None:
        with self._lock:
            self.stats.limit_waits += 1
            self.stats.seconds_limited += seconds
        reporter = self._reporter
        if reporter is not None:
            figures = self._figures(self._started)
            reporter.update(dataclasses.replace(figures, waiting_for_limit=seconds))

    def _on_retry(self, attempt: int, wait_seconds: float, reason: str) -> None:
        if reason == "HTTP 429":
            self._limit.slow_down()
        else:
            self._limit.ease_off()
        with self._lock:
            if reason == "HTTP 429":
                self.stats.refused += 1
            self.stats.retries += 1
            self.stats.retry_reasons[reason] = self.stats.retry_reasons.get(reason, 0) + 1
            self.stats.requests += 1
            self.stats.seconds_waited += wait_seconds
        reporter = self._reporter
        if reporter is not None:
            policy = self.pull.retry_policy
            retrying = Retrying(
                reason=reason,
                retry=attempt,
                max_retries=policy.max_retries,
                wait=wait_seconds,
                gives_up_within=wait_seconds + policy.longest_backoff(attempt + 1),
            )
            figures = self._figures(self._started)
            reporter.update(dataclasses.replace(figures, retrying=retrying))

    def _before_attempt(self) -> None:
        # Every attempt, retries included, takes a slot, so the cap holds whatever happens.
        for rate in self.pull.request_rates():
            waited = rate.wait()
            with self._lock:
                self.stats.seconds_paced += waited

    # -- walking --------------------------------------------------------------------------------

    def walker(self, checkpoint: Checkpoint | None = None) -> PageWalker:
        """The walk of this run: from the first page, or after a checkpoint's pages."""
        self._prepare()
        options = self.pull.options
        resumed = checkpoint is not None and checkpoint.pages > 0
        return PageWalker(
            self.fetch,
            action=self.pull.action(),
            parameters=self.parameters(),
            paginator=options.paginator,
            page_size=options.page_size,
            max_pages=options.max_pages,
            max_records=options.max_records,
            resume_from=checkpoint.next_parameters if resumed and checkpoint else None,
            first_page_number=checkpoint.next_page_number if resumed and checkpoint else 1,
            records_before=checkpoint.rows if resumed and checkpoint else 0,
        )

    def _concurrency_range(self) -> tuple[int, int]:
        """The most requests in flight, and how many at first."""
        options = self.pull.options
        if options.concurrency == "auto":
            ceiling = AUTO_CONCURRENCY
            if options.max_requests_per_second is not None:
                # More requests in flight than may start in a second only queue for the cap.
                ceiling = max(1, min(ceiling, int(options.max_requests_per_second)))
            return ceiling, min(AUTO_CONCURRENCY_START, ceiling)
        return options.concurrency, options.concurrency

    def _schedule(self, walker: PageWalker, *, fetch_ahead: bool) -> Iterator[Page]:
        ceiling, start = self._concurrency_range()
        auto = self.pull.options.concurrency == "auto"
        self._limit = AdaptiveLimit(ceiling, start=start, recovery=None if auto else 8)
        if ceiling > 1:
            pages = parallel_pages(walker, self.fetch, concurrency=ceiling, limit=self._limit)
        else:
            pages = iter(walker)
        incremental = self.pull.options.incremental
        if incremental is not None:
            pages = _fields_checked(pages, incremental)
        if not fetch_ahead:
            return pages
        # Where requests cannot overlap (cursors), fetching the next page can still overlap
        # with what the caller does with the last one.
        return prefetch(pages, depth=2)

    def pages(
        self,
        walker: PageWalker,
        *,
        pages_before: int = 0,
        records_before: int = 0,
        fetch_ahead: bool = True,
    ) -> Iterator[Page]:
        """Yield the run's pages, counting them and showing progress; finish the figures at
        the end, also when the caller stops early or a fetch fails."""
        self.stats = PullStats(
            pages=pages_before,
            records=records_before,
            pages_saved_before=pages_before,
            records_saved_before=records_before,
        )
        started = time.monotonic()
        pull = self.pull
        reporter = make_reporter(
            pull.progress_option(), description=f"{pull.connector_id} {pull.action_id}"
        )
        self._reporter, self._started = reporter, started
        pages = self._schedule(walker, fetch_ahead=fetch_ahead)
        try:
            for fetched in pages:
                page, past_the_mark = self._incremental_page(fetched)
                self._count(page, started)
                reporter.update(self._figures(started))
                yield page
                if past_the_mark:
                    break
        finally:
            close = getattr(pages, "close", None)
            if close is not None:
                close()
            self._finish(walker, started)
            self._reporter = None
            reporter.update(self._figures(started, done=True))
            reporter.close()

    def _incremental_page(self, page: Page) -> tuple[Page, bool]:
        """The page with only the records at or after the run's lower bound, and whether the
        pages after it are all older (records newest first, past the bound)."""
        if self._tracker is None:
            return page, False
        kept, past_the_mark = self._tracker.page(page.records)
        if len(kept) != len(page.records):
            # The body holds the records dropped too, so conversion must read the list.
            page = dataclasses.replace(page, records=kept, body=None)
        return page, past_the_mark

    def _count(self, page: Page, started: float) -> None:
        with self._lock:
            self.stats.pages += 1
            self.stats.records += len(page.records)
            if page.total is not None:
                self.stats.total = page.total
            self.stats.elapsed = time.monotonic() - started

    def _figures(self, started: float, *, done: bool = False) -> ProgressUpdate:
        stats = self.stats
        elapsed = time.monotonic() - started
        return ProgressUpdate(
            pages=stats.pages,
            records=stats.records,
            records_per_second=stats.records_fetched / elapsed if elapsed > 0 else 0.0,
            retries=stats.retries,
            seconds_waited=stats.seconds_waited,
            seconds_paced=stats.seconds_paced,
            limit_waits=stats.limit_waits,
            seconds_limited=stats.seconds_limited,
            elapsed=elapsed,
            total=stats.total,
            done=done,
        )

    def _finish(self, walker: PageWalker, started: float) -> None:
        stats = self.stats
        stats.elapsed = time.monotonic() - started
        stats.page_size = walker.page_size
        stats.page_size_reason = walker.page_size_reason or None
        stats.refused_page_sizes = walker.refused_page_sizes
        stats.concurrency = self._limit.highest if self._limit.acquired else 1
        detection = walker.detection
        if detection is not None:
            stats.paginator = detection.paginator.name
            stats.detection = detection.reason
            stats.confident = detection.confident
        stop = walker.stop_reason
        if stop is not None:
            stats.stop_reason = stop.kind
            stats.stop_message = stop.message
            if stop.data_may_be_missing:
                stats.warnings.append(stop.message)
        stats.notes.extend(self._notes)
        stats.notes.extend(walker.notes)
        self._finish_limits()
        self._finish_incremental()
        logger.info("pull %s %s: %s", self.pull.connector_id, self.pull.action_id, stats)

    def _finish_limits(self) -> None:
        """The rate limits the run spent, as the answers told or refusals taught them."""
        limits = self.pull.client.actions.rate_limits(self.pull.credential_id)
        stats = self.stats
        stats.rate_limits = [str(figures) for figures in limits if figures.limit is not None]
        rates = [figures.rate for figures in limits if figures.rate is not None]
        stats.settled_rate = min(rates) if rates else None

    def _finish_incremental(self) -> None:
        run, stats, incremental = self._tracker, self.stats, self.pull.options.incremental
        if run is None or incremental is None:
            return
        marks = [m for m in (run.mark, self._given_since()) if m is not None]
        stats.high_water_mark = to_datetime(max(marks)) if marks else None
        field_name = incremental.cursor_field
        if self.since is None:
            stats.incremental = "first_run"
            stats.notes.append(
                f"incremental: no earlier mark, so every page was fetched; the mark is now "
                f"{to_iso(max(marks)) if marks else 'unset (no dated records)'}"
            )
        elif self._filter is not None:
            stats.incremental = "filter"
            stats.notes.append(
                f"incremental: sent {self._filter.name}="
                f"{format_moment(self.since, self._filter.value_format)!r} "
                f"({self._filter.reason})"
            )
        elif run.stopped_early:
            stats.incremental = "newest_first"
            stats.notes.append(
                f"incremental: records come newest first by {field_name}, so the pull stopped "
                f"after page {stats.pages}, past the mark"
            )
        else:
            stats.incremental = "full"
            stats.notes.append(
                f"incremental: the action has no parameter that filters by {field_name} and its "
                f"records do not come newest first, so every page was fetched and "
                f"{run.kept} changed records were kept (of {run.kept + run.dropped}). If the "
                "action has such a parameter, name it: Incremental(..., parameter='...')."
            )
            if stats.pages > 1:
                self._incremental_warning = stats.notes[-1]
        if run.undated:
            stats.notes.append(
                f"incremental: {run.undated} records had no {field_name} and were all kept"
            )

    def _given_since(self) -> float | None:
        incremental = self.pull.options.incremental
        if self.since is None or incremental is None:
            return None
        return self.since + incremental.lookback_seconds

    def warn(self) -> None:
        """Raise the run's warnings (pages that may be missing, a full incremental walk)."""
        for message in self.stats.warnings:
            warnings.warn(message, PaginationWarning, stacklevel=3)
        if self._incremental_warning is not None:
            warnings.warn(self._incremental_warning, IncrementalWarning, stacklevel=3)
            self._incremental_warning = None


def _fields_checked(pages: Iterator[Page], incremental: Incremental) -> Iterator[Page]:
    """The pages, once the first that has records shows the incremental fields; checked here,
    between the fetching and any fetching ahead, so that a wrong field stops the walk before
    its second page is requested."""
    checked = False
    try:
        for page in pages:
            if not checked and page.records:
                check_record_fields(page.records, incremental)
                checked = True
            yield page
    finally:
        close = getattr(pages, "close", None)
        if close is not None:
            close()
