"""``client.pull(...)``: every page of a list action, as records, Arrow, pandas or a file.

A :class:`Pull` is lazy: nothing is fetched until one of its ``iter_*`` or ``to_*`` methods
runs, and each of them runs the pull afresh. Its :attr:`Pull.stats` describe the last run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import numbers
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from alloy_data import _html
from alloy_data.config import redact
from alloy_data.engine import AdaptiveLimit, RequestRate, parallel_pages, prefetch
from alloy_data.errors import AlloyError, ConfigurationError, PaginationWarning
from alloy_data.http import RetryPolicy
from alloy_data.incremental import (
    FilterParameter,
    Incremental,
    IncrementalRun,
    IncrementalWarning,
    check_incremental,
    find_filter_parameter,
    format_moment,
    parse_moment,
    to_datetime,
    to_iso,
)
from alloy_data.models import Action, ActionResult
from alloy_data.pagination import Page, PageWalker, resolve_paginator
from alloy_data.progress import ProgressUpdate, check_progress_option, make_reporter

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from alloy_data.config import ClientConfig
    from alloy_data.engine import ChunkedConversion, Converted
    from alloy_data.frames import EpochTimes, SchemaDrift, TableBuilder
    from alloy_data.http import OnRetry
    from alloy_data.pagination import PaginatorOption
    from alloy_data.progress import ProgressOption

__all__ = ["ActionRunner", "Pull", "PullClient", "PullStats"]

logger = logging.getLogger("alloy_data.pull")


class ActionRunner(Protocol):
    """What a pull asks of a client's actions: an action's details and one execute call."""

    def get(
        self, connector_id: str, action_id: str, *, retry_policy: RetryPolicy | None = None
    ) -> Action:
        """Return the action with its parameters."""
        ...

    def execute(
        self,
        connector_id: str,
        action_id: str,
        *,
        credential_id: str,
        user_id: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        idempotent: bool = False,
        action: Action | None = None,
        on_retry: OnRetry | None = None,
        before_attempt: Callable[[], object] | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> ActionResult:
        """Execute the action once and return its answer (one page)."""
        ...


class PullClient(Protocol):
    """What a pull needs of its client (an :class:`~alloy_data.AlloyClient` is one).

    A pull sits below the client in the package's layers, so it names the client by the
    little it uses rather than importing it.
    """

    @property
    def actions(self) -> ActionRunner:
        """The client's actions."""
        ...

    @property
    def config(self) -> ClientConfig:
        """The client's resolved configuration (base URL and user go into provenance)."""
        ...

    @property
    def retry_policy(self) -> RetryPolicy:
        """How the client retries one-off calls; a pull starts from it."""
        ...


#: ``concurrency="auto"``: requests in flight at first, and at most, for offset and page-number
#: paging; it grows while answers come back clean and shrinks on 429s and failures.
AUTO_CONCURRENCY_START = 2
AUTO_CONCURRENCY = 8

#: ``timestamps=``: epoch numbers the action declares become timestamps ("auto"), so do
#: integer columns whose names and values say so ("guess"), or numbers stay numbers ("off").
TimestampsOption = Literal["auto", "guess", "off"]
TIMESTAMPS_CHOICES = ("auto", "guess", "off")

# Parameter names whose values never go into provenance metadata or logs.
_SECRET_WORDS = ("token", "secret", "password", "key", "auth", "signature")


@dataclass
class PullStats:
    """What the last run of a pull did.

    Attributes:
        pages: Pages fetched.
        records: Records kept (after ``max_records``).
        requests: HTTP requests made, retries included.
        retries: Requests that were retried.
        retry_reasons: How many retries each reason caused (``"HTTP 503"``,
            ``"read timeout"``, ``"body not JSON"``, ...).
        seconds_waited: Seconds spent waiting before retries (rate limits and backoff).
        elapsed: Seconds the run took.
        total: The total record count when the API said, else None.
        page_size: The page size used, when the action has a page-size parameter.
        page_size_reason: Why that page size: declared, stated in the parameter's description,
            lowered after the app refused a larger one, or the app's own when it sent fewer.
        refused_page_sizes: Requests the app answered with 400 for a page too large (each is
            counted in ``requests`` too).
        concurrency: The most requests allowed in flight at once as pages were fetched side by
            side (1 when requests did not overlap).
        paginator: The pagination convention used, such as ``"cursor"``.
        detection: Why that paginator was chosen.
        confident: False when auto-detection had to guess.
        stop_reason: Why the pull stopped: ``"end"``, ``"max_pages"``, ``"max_records"``,
            ``"repeated_cursor"``, ``"repeated_page"``, ...
        stop_message: The stop in words.
        drift: Columns that appeared late or widened, with the page where they did.
        high_water_mark: With ``incremental=``: the latest cursor value seen (UTC), or None.
        incremental: With ``incremental=``: how the run narrowed what it fetched —
            ``"filter"`` (sent the mark in the action's filter parameter),
            ``"newest_first"`` (stopped once past the mark), ``"full"`` (fetched every page
            and kept what changed), or ``"first_run"`` (no mark yet).
        notes: Everything noteworthy, in order (detection, guards, drift).
        warnings: The notes that mean data may be missing.
    """

    pages: int = 0
    records: int = 0
    requests: int = 0
    retries: int = 0
    retry_reasons: dict[str, int] = field(default_factory=dict)
    seconds_waited: float = 0.0
    elapsed: float = 0.0
    total: int | None = None
    page_size: int | None = None
    page_size_reason: str | None = None
    refused_page_sizes: int = 0
    concurrency: int = 1
    paginator: str | None = None
    detection: str | None = None
    confident: bool | None = None
    stop_reason: str | None = None
    stop_message: str | None = None
    drift: list[SchemaDrift] = field(default_factory=list)
    high_water_mark: datetime | None = None
    incremental: str | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def records_per_second(self) -> float:
        """Records per second of elapsed time."""
        return self.records / self.elapsed if self.elapsed > 0 else 0.0

    def __str__(self) -> str:
        text = (
            f"{self.records} records in {self.pages} pages, {self.requests} requests, "
            f"{self.elapsed:.2f} s"
        )
        if self.retries:
            text += f", {self.retries} retries ({self.seconds_waited:.1f} s waited)"
        if self.paginator:
            text += f", paginator {self.paginator}"
        if self.stop_reason and self.stop_reason != "end":
            text += f", stopped: {self.stop_reason}"
        return text

    def _repr_html_(self) -> str:
        return _html.block("Last run", self._html_body())

    def _html_body(self) -> str:
        """The figures as HTML (escaped): a table of figures, the warnings marked, the drift as
        a table, the notes folded; :meth:`_repr_html_` and a pull's display show them."""
        reasons = ", ".join(f"{reason} x{n}" for reason, n in self.retry_reasons.items())
        retries = f"{self.retries} ({reasons})" if reasons else str(self.retries)
        # The reason names the size ("page size 100 for 'limit', the most ... allows").
        page_size = self.page_size_reason or self.page_size
        paginator = self.paginator
        if paginator and self.detection:
            guessed = ", a guess" if self.confident is False else ""
            paginator = f"{paginator} ({self.detection}{guessed})"
        figures = _html.key_values(
            [
                ("records", f"{self.records:,}" + (f" of {self.total:,}" if self.total else "")),
                ("pages", f"{self.pages:,}"),
                ("requests", f"{self.requests:,}"),
                ("retries", retries),
                ("waited", f"{self.seconds_waited:.1f} s"),
                ("elapsed", f"{self.elapsed:.2f} s ({self.records_per_second:,.0f} records/s)"),
                ("paginator", paginator),
                ("page size", page_size),
                (
                    "concurrency",
                    f"up to {self.concurrency} requests at once"
                    if self.concurrency > 1
                    else "1 (one request after another)",
                ),
                ("stopped", self.stop_message if self.stop_reason != "end" else None),
            ]
        )
        drift = _html.grid(
            ("column", "page", "from", "to"),
            [(d.column, d.page, d.old_type, d.new_type) for d in self.drift],
        )
        notes = [note for note in self.notes if note not in self.warnings]
        return "".join(
            [
                _html.items(self.warnings, warning=True),
                figures,
                _html.details(f"Schema drift ({len(self.drift)})", drift, open_=True),
                _html.details(f"Notes ({len(notes)})", _html.items(notes)),
            ]
        )


def _positive(name: str, value: Any) -> int | None:
    if value is None:
        return None
    # Integral, not int: a count read from a DataFrame is a NumPy integer.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ConfigurationError(f"{name} must be a positive whole number or None, not {value!r}.")
    return int(value)


def _identifier(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{name} must be a non-empty string, not {value!r}.")
    return value


def _check_retries(retries: Any) -> int | RetryPolicy | None:
    if retries is None or isinstance(retries, RetryPolicy):
        return retries
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ConfigurationError(
            f"retries must be a whole number >= 0, a RetryPolicy or None, not {retries!r}."
        )
    return retries


def _rate(value: Any) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not 0 < value < float("inf")
    ):
        raise ConfigurationError(
            f"max_requests_per_second must be a positive number or None (no cap), not {value!r}."
        )
    return value


# What JSON carries, and so what an execute call can send.
_JSON_SCALARS = (str, int, float, bool, type(None))


def _timestamps(value: Any) -> TimestampsOption:
    if value not in TIMESTAMPS_CHOICES:
        raise ConfigurationError(
            "timestamps must be 'auto' (epoch columns the action declares become timestamps), "
            "'guess' (also integer columns whose names and values look like epoch times) or "
            f"'off' (numbers stay numbers), not {value!r}."
        )
    return value


def _parameters(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            f"parameters must be a dict of the action's parameters, not {type(value).__name__}."
        )
    _check_json(value, "parameters")
    return dict(value)


def _check_json(value: Any, where: str, depth: int = 0) -> None:
    """Refuse what the execute call's JSON body cannot carry, before anything is fetched."""
    if depth > 100:
        raise ConfigurationError(
            "parameters are nested over 100 levels deep, or contain themselves."
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigurationError(f"{where} is {value!r}, which JSON cannot carry: pass a number.")
    if isinstance(value, _JSON_SCALARS):
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ConfigurationError(
                    f"{where} has the key {key!r}: parameter names must be strings."
                )
            _check_json(item, f"{where}[{key!r}]", depth + 1)
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_json(item, f"{where}[{index}]", depth + 1)
        return
    hint = " (for a date or time, pass value.isoformat())" if hasattr(value, "isoformat") else ""
    raise ConfigurationError(
        f"{where} is a {type(value).__name__}, which JSON cannot carry: pass text, a number, "
        f"True/False, None, or a list or dict of those{hint}."
    )


def public_parameters(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Return the parameters with the values of secret-looking names replaced by ``"***"``."""
    return {
        key: ("***" if any(word in key.lower() for word in _SECRET_WORDS) else value)
        for key, value in parameters.items()
    }


class Pull:
    """Every page of one list action, fetched lazily.

    Build it with :meth:`alloy_data.AlloyClient.pull`, whose docstring describes every
    argument (they are the same, after the client). Each ``iter_*``/``to_*`` call runs the pull
    from the first page; :attr:`stats` describes the last run.
    """

    def __init__(
        self,
        client: PullClient,
        connector_id: str,
        action_id: str,
        *,
        credential_id: str,
        user_id: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        paginator: PaginatorOption = "auto",
        page_size: int | None = None,
        max_pages: int | None = None,
        max_records: int | None = None,
        concurrency: int | Literal["auto"] = "auto",
        progress: ProgressOption = "auto",
        max_requests_per_second: float | None = None,
        retries: int | RetryPolicy | None = None,
        incremental: Incremental | None = None,
        timestamps: TimestampsOption = "auto",
    ) -> None:
        self._client = client
        self.connector_id = _identifier("connector_id", connector_id)
        self.action_id = _identifier("action_id", action_id)
        self.credential_id = _identifier("credential_id", credential_id)
        self.user_id = None if user_id is None else _identifier("user_id", user_id)
        self.parameters: dict[str, Any] = _parameters(parameters)
        resolve_paginator(paginator)  # refuses an unknown paginator before anything is fetched
        self.paginator = paginator
        self.page_size = _positive("page_size", page_size)
        self.max_pages = _positive("max_pages", max_pages)
        self.max_records = _positive("max_records", max_records)
        self.concurrency: int | Literal["auto"] = (
            "auto" if concurrency == "auto" else _positive("concurrency", concurrency) or 1
        )
        self.max_requests_per_second = _rate(max_requests_per_second)
        self.retries = _check_retries(retries)
        self.incremental = check_incremental(incremental)
        self.timestamps = _timestamps(timestamps)
        check_progress_option(progress)
        self.progress = progress
        self.stats = PullStats()
        self._lock = threading.Lock()
        self._rate = (
            RequestRate(max_requests_per_second) if max_requests_per_second is not None else None
        )
        self._limit = AdaptiveLimit(1)
        self._action: Action | None = None
        self._partial: TableBuilder | None = None
        # Set by a MultiPull: constant columns for every row, and a request rate shared with
        # the pulls of the other credentials.
        self._tags: dict[str, str] = {}
        self._shared_rate: RequestRate | None = None
        # Records converted at a time; a MultiPull lowers it when many pulls run at once, so
        # that their chunks in flight together stay about what one pull's would be.
        self._chunk_records: int | None = None
        self._finish_gate: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
        # The lower bound of the current run (lookback taken off), and what it has seen.
        self._since: float | None = None
        self._run: IncrementalRun | None = None
        self._filter: FilterParameter | None = None
        self._incremental_warning: str | None = None

    def __repr__(self) -> str:
        return (
            f"Pull({self.connector_id!r}, {self.action_id!r}, "
            f"parameters={public_parameters(self.parameters)!r})"
        )

    def _repr_html_(self) -> str:
        config = getattr(self._client, "config", None)
        stats = self.stats
        ran = stats.requests or stats.pages or stats.stop_reason
        page = _html.block(
            f"Pull: {self.connector_id} {self.action_id}",
            self._plan_html(getattr(config, "user_id", None)),
            _html.details("Last run", stats._html_body(), open_=True) if ran else "",
        )
        secrets = tuple(getattr(config, "secrets", ()) or ())
        # The parameters are masked by name; a key of the client's own is masked wherever.
        return redact(page, [*secrets, *(_html.text(secret) for secret in secrets)])

    def _plan_html(self, client_user: str | None) -> str:
        """What this pull fetches and how, as an HTML table (parameters masked)."""
        concurrency = self.concurrency
        return _html.key_values(
            [
                ("connector", self.connector_id),
                ("action", self.action_id),
                ("credential", self.credential_id),
                ("user", self.user_id or client_user),
                ("parameters", json.dumps(public_parameters(self.parameters), default=str)),
                ("paginator", self.paginator if isinstance(self.paginator, str) else "custom"),
                ("page size", self.page_size or "the largest the action allows"),
                ("max pages", self.max_pages),
                ("max records", self.max_records),
                ("concurrency", "auto (2 to 8)" if concurrency == "auto" else concurrency),
                ("max requests/s", self.max_requests_per_second),
                ("timestamps", self.timestamps),
            ]
        )

    def _action_metadata(self) -> Action:
        if self._action is None:
            self._action = self._client.actions.get(
                self.connector_id, self.action_id, retry_policy=self.retry_policy
            )
        return self._action

    @property
    def retry_policy(self) -> RetryPolicy:
        """How this pull retries each page: ``retries`` if it is a policy, else the client's
        policy with a pull's patience (:meth:`RetryPolicy.for_pulls`), with ``retries`` as
        its number of retries when that is a number."""
        if isinstance(self.retries, RetryPolicy):
            return self.retries
        policy = self._client.retry_policy.for_pulls()
        if self.retries is not None:
            policy = dataclasses.replace(policy, max_retries=self.retries)
        return policy

    def _on_retry(self, attempt: int, wait_seconds: float, reason: str) -> None:
        if reason == "HTTP 429":
            self._limit.slow_down()
        else:
            self._limit.ease_off()
        with self._lock:
            self.stats.retries += 1
            self.stats.retry_reasons[reason] = self.stats.retry_reasons.get(reason, 0) + 1
            self.stats.requests += 1
            self.stats.seconds_waited += wait_seconds

    def _before_attempt(self) -> None:
        # Every attempt, retries included, takes a slot, so the cap holds whatever happens.
        for rate in (self._rate, self._shared_rate):
            if rate is not None:
                waited = rate.wait()
                with self._lock:
                    self.stats.seconds_waited += waited

    def _fetch(self, parameters: dict[str, Any]) -> ActionResult:
        with self._lock:
            self.stats.requests += 1
        result: ActionResult = self._client.actions.execute(
            self.connector_id,
            self.action_id,
            credential_id=self.credential_id,
            user_id=self.user_id,
            parameters=parameters,
            idempotent=True,
            action=self._action,
            on_retry=self._on_retry,
            before_attempt=self._before_attempt,
            retry_policy=self.retry_policy,
        )
        return result

    def _walker(
        self,
        *,
        resume_from: Mapping[str, Any] | None = None,
        first_page: int = 1,
        records_before: int = 0,
    ) -> PageWalker:
        return PageWalker(
            self._fetch,
            action=self._action_metadata(),
            parameters=self._run_parameters(),
            paginator=self.paginator,
            page_size=self.page_size,
            max_pages=self.max_pages,
            max_records=self.max_records,
            resume_from=resume_from,
            first_page_number=first_page,
            records_before=records_before,
        )

    def _start_run(self, since: Any = None) -> None:
        """Sets the lower bound of the run about to start (``since``, else ``start``)."""
        self._run = None
        self._since = None
        self._incremental_warning = None
        incremental = self.incremental
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
        if self._filter is None:
            self._filter = find_filter_parameter(self._action_metadata(), incremental)
        if bound is not None:
            self._since = bound - incremental.lookback_seconds
        self._run = IncrementalRun(incremental, self._since, may_stop=self._filter is None)

    def _run_parameters(self) -> dict[str, Any]:
        """The parameters of this run: the pull's own, and the filter on the mark if any."""
        if self._filter is None or self._since is None:
            return self.parameters
        value = format_moment(self._since, self._filter.value_format)
        return {**self.parameters, self._filter.name: value}

    def _incremental_page(self, page: Page) -> tuple[Page, bool]:
        """The page with only the records at or after the run's lower bound, and whether the
        pages after it are all older (records newest first, past the bound)."""
        if self._run is None:
            return page, False
        kept, past_the_mark = self._run.page(page.records)
        if len(kept) != len(page.records):
            # The body holds the records dropped too, so conversion must read the list.
            page = dataclasses.replace(page, records=kept, body=None)
        return page, past_the_mark

    def _finish_incremental(self) -> None:
        run, stats = self._run, self.stats
        if run is None or self.incremental is None:
            return
        marks = [m for m in (run.mark, self._given_since()) if m is not None]
        stats.high_water_mark = to_datetime(max(marks)) if marks else None
        field_name = self.incremental.cursor_field
        if self._since is None:
            stats.incremental = "first_run"
            stats.notes.append(
                f"incremental: no earlier mark, so every page was fetched; the mark is now "
                f"{to_iso(max(marks)) if marks else 'unset (no dated records)'}"
            )
        elif self._filter is not None:
            stats.incremental = "filter"
            stats.notes.append(
                f"incremental: sent {self._filter.name}="
                f"{format_moment(self._since, self._filter.value_format)!r} "
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
        if self._since is None or self.incremental is None:
            return None
        return self._since + self.incremental.lookback_seconds

    def _concurrency_range(self) -> tuple[int, int]:
        """The most requests in flight, and how many at first."""
        if self.concurrency == "auto":
            ceiling = AUTO_CONCURRENCY
            if self.max_requests_per_second is not None:
                # More requests in flight than may start in a second only queue for the cap.
                ceiling = max(1, min(ceiling, int(self.max_requests_per_second)))
            return ceiling, min(AUTO_CONCURRENCY_START, ceiling)
        return self.concurrency, self.concurrency

    def _pages(self, walker: PageWalker, *, fetch_ahead: bool = True) -> Iterator[Page]:
        ceiling, start = self._concurrency_range()
        self._limit = AdaptiveLimit(
            ceiling, start=start, recovery=None if self.concurrency == "auto" else 8
        )
        if ceiling > 1:
            pages = parallel_pages(
                walker,
                self._fetch,
                concurrency=ceiling,
                limit=self._limit,
            )
        else:
            pages = iter(walker)
        if not fetch_ahead:
            return pages
        # Where requests cannot overlap (cursors), fetching the next page can still overlap
        # with what the caller does with the last one.
        return prefetch(pages, depth=2)

    def iter_pages(self) -> Iterator[Page]:
        """Fetch the pages one after another.

        Yields:
            :class:`alloy_data.pagination.Page` objects in order: records, page number,
            the parameters sent, the next-state and the raw body.
        """
        self._start_run()
        return self._iter_pages(self._walker())

    def _iter_pages(
        self,
        walker: PageWalker,
        *,
        pages_before: int = 0,
        records_before: int = 0,
        fetch_ahead: bool = True,
    ) -> Iterator[Page]:
        self.stats = PullStats(pages=pages_before, records=records_before)
        started = time.monotonic()
        reporter = make_reporter(self.progress, description=f"{self.connector_id} {self.action_id}")
        pages = self._pages(walker, fetch_ahead=fetch_ahead)
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
            reporter.update(self._figures(started, done=True))
            reporter.close()

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
            records_per_second=stats.records / elapsed if elapsed > 0 else 0.0,
            retries=stats.retries,
            seconds_waited=stats.seconds_waited,
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
        stats.notes.extend(walker.notes)
        self._finish_incremental()
        logger.info("pull %s %s: %s", self.connector_id, self.action_id, stats)

    def iter_records(self) -> Iterator[dict[str, Any]]:
        """Fetch the pages and yield their records one by one (as the API sent them)."""
        for page in self.iter_pages():
            yield from page.records

    def _record_schema(self) -> Mapping[str, Any]:
        """The JSON Schema of the records that the action's metadata declares, or ``{}``."""
        action = self._action_metadata()
        for key in ("responseSchema", "outputSchema", "recordSchema"):
            schema = action.raw.get(key)
            if isinstance(schema, Mapping):
                return schema
        return {}

    def _known_columns(self) -> tuple[str, ...]:
        """Column names from the record schema the action's metadata declares, if any."""
        return tuple(_schema_columns(self._record_schema()))

    def _epochs(self, converted: Iterable[str] = ()) -> EpochTimes:
        """Which columns become timestamps, as ``timestamps=`` and the declared schema say."""
        from alloy_data.frames import EpochTimes, declared_epoch_columns

        declared = declared_epoch_columns(self._record_schema())
        return EpochTimes(self.timestamps, declared, converted=converted)

    def _convert_all(
        self,
        builder: TableBuilder,
        pages: Iterator[Page],
        *,
        on_converted: Converted | None = None,
    ) -> None:
        """Convert ``pages`` into ``builder``, several pages at a time where that is cheaper.

        After a failed fetch the pages fetched before it are still converted: kept for
        :meth:`partial_arrow`, or handed to ``on_converted`` (an export saves them for resume).
        """
        from alloy_data.engine import ChunkedConversion

        self._partial = None
        conversion = (
            ChunkedConversion(builder, on_converted=on_converted)
            if self._chunk_records is None
            else ChunkedConversion(
                builder, on_converted=on_converted, chunk_records=self._chunk_records
            )
        )
        try:
            # Converting happens in the conversion's worker thread, so this thread only fetches.
            for page in pages:
                conversion.add(page)
            conversion.finish()
        except BaseException as error:
            if isinstance(error, (AlloyError, KeyboardInterrupt)):
                with contextlib.suppress(Exception):  # the fetch's error is the one to report
                    failed_on = getattr(error, "page", None)
                    # An export fetches that page again on resume, so only tables keep it.
                    if isinstance(failed_on, Page) and on_converted is None:
                        conversion.add(failed_on)
                    conversion.finish()
            self._keep_partial(builder, error)
            raise
        finally:
            conversion.close()
            self._record_drift(builder)
            self._record_conversion(conversion)

    def _record_conversion(self, conversion: ChunkedConversion) -> None:
        summary = conversion.summary()
        if summary is not None:
            self.stats.notes.append(summary)
            logger.debug("pull %s %s: %s", self.connector_id, self.action_id, summary)

    def _keep_partial(self, builder: TableBuilder, error: BaseException) -> None:
        if builder.row_count and isinstance(error, (AlloyError, KeyboardInterrupt)):
            # Kept only after a failure: a finished pull holds no second copy of its data.
            self._partial = builder
            if builder.keeps_batches:  # an export says what its checkpoint holds instead
                _add_note(
                    error,
                    f"{builder.row_count} records fetched before this are kept: "
                    "pull.partial_arrow() or pull.partial_dataframe() returns them.",
                )

    def _record_drift(self, builder: TableBuilder) -> None:
        self.stats.drift = list(builder.drift)
        for drift in builder.drift:
            self.stats.notes.append(f"schema drift: {drift}")
        self.stats.notes.extend(builder.epochs.notes())
        self.stats.warnings.extend(builder.epochs.warnings())

    def to_arrow(self, *, since: Any = None) -> pa.Table:
        """Fetch every page into one typed Arrow table.

        Nested objects become dotted columns, timestamps UTC, integers with nulls stay
        integers, and columns that appear late or widen are unified (see ``stats.drift``).

        Args:
            since: With ``incremental=``: fetch only records whose cursor field is at or after
                this moment (a ``datetime``, ISO-8601 text or epoch seconds, such as the last
                run's ``stats.high_water_mark``), less the lookback. Default: ``start``.

        Returns:
            A ``pyarrow.Table``.
        """
        from alloy_data.frames import TableBuilder

        self._start_run(since)
        builder = TableBuilder(known_columns=self._known_columns())
        builder = TableBuilder(known_columns=self._known_columns(), epochs=self._epochs())
        self._convert_all(builder, self._iter_pages(self._walker(), fetch_ahead=False))
        self._warn()
        return _tagged_table(builder.to_table(), self._tags)

    def to_dataframe(
        self, *, dtype_backend: str = "numpy_nullable", since: Any = None
    ) -> pd.DataFrame:
        """Fetch every page into a pandas DataFrame.

        Args:
            dtype_backend: ``"numpy_nullable"`` (``Int64``, ``boolean``, ``string``, ...) or
                ``"pyarrow"`` (``pd.ArrowDtype`` columns).
            since: With ``incremental=``: only records changed at or after this moment (see
                :meth:`to_arrow`); ``stats.high_water_mark`` is where the next run starts.

        Returns:
            A ``pandas.DataFrame``.
        """
        from alloy_data.frames import to_dataframe

        # The table is this call's own, so its memory is released as the columns convert.
        return to_dataframe(self.to_arrow(since=since), dtype_backend=dtype_backend, release=True)

    def partial_arrow(self) -> pa.Table:
        """Return what the last run fetched before an error stopped it, as an Arrow table.

        Raises:
            ConfigurationError: When the last run did not fail part-way (or was an export,
                whose pages wait in its checkpoint for ``resume=True``).
        """
        if self._partial is None or not self._partial.keeps_batches:
            raise ConfigurationError(
                "There is no partial result: the last to_arrow()/to_dataframe() of this pull "
                "did not fail part-way. (An interrupted to_parquet() keeps its pages in a "
                "checkpoint instead: call it again with resume=True.)"
            )
        return self._partial.to_table()

    def partial_dataframe(self, *, dtype_backend: str = "numpy_nullable") -> pd.DataFrame:
        """Return what the last run fetched before it stopped, as a DataFrame."""
        from alloy_data.frames import to_dataframe

        return to_dataframe(self.partial_arrow(), dtype_backend=dtype_backend)

    def _warn(self) -> None:
        for message in self.stats.warnings:
            warnings.warn(message, PaginationWarning, stacklevel=3)
        if self._incremental_warning is not None:
            warnings.warn(self._incremental_warning, IncrementalWarning, stacklevel=3)
            self._incremental_warning = None

    def provenance(self) -> dict[str, str]:
        """The provenance recorded in exported files (no secrets).

        Returns:
            A dict of strings: connector, action, parameters (secret-looking values masked),
            user and credential ids, base URL, alloy-data version.
        """
        from alloy_data._version import __version__

        config = getattr(self._client, "config", None)
        return {
            "connector": self.connector_id,
            "action": self.action_id,
            "parameters": json.dumps(public_parameters(self.parameters), default=str),
            "user_id": str(self.user_id or getattr(config, "user_id", None) or ""),
            "credential_id": self.credential_id,
            "base_url": str(getattr(config, "base_url", "") or ""),
            "alloy_data_version": __version__,
        }

    def fingerprint(self) -> str:
        """A stable identity of this pull (connector, action, parameters), for resuming."""
        import hashlib

        identity = json.dumps(
            [
                self.connector_id,
                self.action_id,
                self.credential_id,
                self.parameters,
                self.page_size,
                self.max_records,
                *([] if self._since is None else [self._since]),
                # Only when not the default, so that earlier checkpoints still resume.
                *([self.timestamps] if self.timestamps != "auto" else []),
            ],
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(identity.encode()).hexdigest()[:32]

    def to_parquet(
        self,
        path: str | Path,
        *,
        overwrite: bool = False,
        compression: str = "zstd",
        row_group_size: int | None = None,
        partition_cols: list[str] | None = None,
        resume: bool = False,
        storage_options: dict[str, Any] | None = None,
        mode: Literal["replace", "merge", "append"] = "replace",
    ) -> Path | str:
        """Stream every page into a Parquet file (or a Hive-partitioned directory).

        Memory stays bounded whatever the record count. The file appears at ``path`` only when
        complete. Its footer records provenance (see :func:`alloy_data.read_metadata`). A pull
        that stops part-way leaves a checkpoint beside ``path``; ``resume=True`` continues it.

        Args:
            path: A local path, a ``file://`` URL, or the URL of an object store or other
                fsspec filesystem (``s3://bucket/orders.parquet``, ``gs://``, ``abfs://``).
                A URL is staged and checkpointed on local disk, then uploaded whole.
            overwrite: Replace an existing target, only once the new file is complete.
            compression: ``"zstd"``, ``"snappy"``, ``"gzip"``, ``"brotli"``, ``"lz4"`` or
                ``"none"``.
            row_group_size: Rows per row group (default 65,536).
            partition_cols: Write a Hive-partitioned directory (``col=value/``); to a URL, a
                prefix published with ``_SUCCESS`` last.
            resume: Continue an interrupted export of the same pull to the same target.
            storage_options: For a URL: the fsspec filesystem's options (credentials,
                endpoint, region), as pandas takes them. Never shown in errors or logs.
            mode: ``"replace"`` writes the file anew (an existing one only with
                ``overwrite=True``). With ``incremental=``, ``"merge"`` updates the file at
                ``path``: only records changed since the high-water mark in its provenance are
                fetched, a new version of a primary key replaces the old row and the other rows
                stay; ``"append"`` adds the changed records, keeping every version. Both start
                the file when it is missing, and keep the new mark in its provenance (see
                :func:`alloy_data.read_metadata`). For an object store's URL the object is
                merged on local disk from a copy and uploaded whole.

        Returns:
            The path written, or the URL for a URL other than ``file://``.

        Raises:
            ExportError: If the target cannot be written (checked before anything is fetched
                where possible), with what to do.
            ConfigurationError: For a bad option, or a URL whose filesystem package is not
                installed (saying what to install).
        """
        from alloy_data.export import (
            ParquetWriter,
            RemoteDatasetWriter,
            RemoteFileWriter,
            resolve_target,
        )

        target = resolve_target(path, storage_options)
        if mode != "replace" or (self.incremental is not None and not partition_cols):
            return self._export_incremental(
                target,
                mode=mode,
                overwrite=overwrite,
                compression=compression,
                row_group_size=row_group_size,
                partition_cols=partition_cols,
                resume=resume,
            )
        self._start_run()

        def make(local: Path) -> ParquetWriter:
            return ParquetWriter(
                local,
                overwrite=overwrite or not isinstance(target, Path),
                compression=compression,
                row_group_size=row_group_size,
                partition_cols=partition_cols,
                resume=resume,
                fingerprint=self.fingerprint(),
            )

        if isinstance(target, Path):
            return self._export(make(target))
        # A dataset is many objects: uploaded under a temporary prefix, _SUCCESS written last.
        remote_writer = RemoteDatasetWriter if partition_cols else RemoteFileWriter
        return self._export(
            remote_writer(
                target, make, overwrite=overwrite, resume=resume, fingerprint=self.fingerprint()
            )
        )

    def to_file(
        self,
        path: str | Path,
        *,
        overwrite: bool = False,
        resume: bool = False,
        storage_options: dict[str, Any] | None = None,
    ) -> Path | str:
        """Stream every page into a ``.parquet``, ``.csv`` or ``.jsonl`` file, by its suffix.

        Args:
            path: A local path, a ``file://`` URL, or an object store's URL (see
                :meth:`to_parquet`).
            overwrite: Replace an existing target, only once the new file is complete.
            resume: Continue an interrupted export of the same pull to the same target.
            storage_options: For a URL: the fsspec filesystem's options, as pandas takes them.

        Returns:
            The path written, or the URL for a URL other than ``file://``.

        Raises:
            ExportError: If the target cannot be written, with what to do.
            ConfigurationError: For an unknown suffix or a filesystem that is not installed.
        """
        from alloy_data.export import RemoteFileWriter, open_writer, resolve_target

        target = resolve_target(path, storage_options)
        # The suffix picks the format, so it is checked before anything else is.
        open_writer(target if isinstance(target, Path) else Path(target.name or "data"))
        self._start_run()

        def make(local: Path) -> Any:
            return open_writer(
                local,
                overwrite=overwrite or not isinstance(target, Path),
                resume=resume,
                fingerprint=self.fingerprint(),
            )

        if isinstance(target, Path):
            return self._export(make(target))
        return self._export(
            RemoteFileWriter(
                target, make, overwrite=overwrite, resume=resume, fingerprint=self.fingerprint()
            )
        )

    def _export_incremental(
        self,
        target: Any,
        *,
        mode: str,
        overwrite: bool,
        compression: str,
        row_group_size: int | None,
        partition_cols: list[str] | None,
        resume: bool,
    ) -> Path | str:
        """Writes, merges or appends into a file, keeping the high-water mark in it; for a URL,
        the object is merged on local disk and uploaded whole."""
        from alloy_data.export import (
            WRITE_MODES,
            MergingParquetWriter,
            RemoteFileWriter,
            read_incremental_state,
        )

        incremental = self.incremental
        if mode not in WRITE_MODES:
            raise ConfigurationError(
                f"Unknown mode {mode!r}: use 'replace' (write anew), 'merge' (update the file: "
                "a new version of a record replaces the old) or 'append' (keep every version)."
            )
        if incremental is None:
            raise ConfigurationError(
                f"mode={mode!r} needs to know what changed: build the pull with "
                "incremental=alloy_data.Incremental(cursor_field='updated_at', primary_key='id')."
            )
        if mode != "replace" and not incremental.keys:
            raise ConfigurationError(
                f"mode={mode!r} needs the field that identifies a record: "
                "Incremental(..., primary_key='id')."
            )
        if partition_cols:
            raise ConfigurationError(
                f"mode={mode!r} updates one Parquet file: write without partition_cols (or use "
                "client.pull_many(...).to_parquet(directory, mode=...) for a file per "
                "credential)."
            )
        state = read_incremental_state(target) if mode != "replace" else None
        if state is not None and state.get("cursor_field") != incremental.cursor_field:
            raise ConfigurationError(
                f"{target} was pulled with cursor_field={state.get('cursor_field')!r}, not "
                f"{incremental.cursor_field!r}: use the same Incremental as before, or write to a "
                "new file."
            )
        mark = None if state is None else state.get("high_water_mark")
        self._start_run(mark)

        def make(local: Path) -> MergingParquetWriter:
            return MergingParquetWriter(
                local,
                mode=mode,
                primary_key=incremental.keys,
                cursor_field=incremental.cursor_field,
                state={
                    "cursor_field": incremental.cursor_field,
                    "primary_key": list(incremental.keys),
                    "high_water_mark": mark,
                },
                overwrite=overwrite or not isinstance(target, Path),
                compression=compression,
                row_group_size=row_group_size,
                resume=resume,
                fingerprint=self.fingerprint(),
            )

        if isinstance(target, Path):
            writer = make(target)
            written: Path | str = self._export(writer)
        else:
            remote = target

            def fetch_current(local: Path) -> None:
                # An object store cannot update an object in place: the file is merged on local
                # disk from a copy of the object, and the merged file uploaded whole.
                if mode != "replace" and not (resume and local.exists()) and remote.exists():
                    remote.download(local, advice="Check the URL and storage_options.")

            remote_writer = RemoteFileWriter(
                remote,
                make,
                overwrite=overwrite or mode != "replace",
                resume=resume,
                fingerprint=self.fingerprint(),
                before_open=fetch_current,
            )
            local_writer = remote_writer.local
            assert isinstance(local_writer, MergingParquetWriter)
            writer = local_writer
            written = self._export(remote_writer)
        if writer.high_water_mark is not None:
            self.stats.high_water_mark = to_datetime(writer.high_water_mark)
        return written

    def _export(self, writer: Any) -> Path | str:
        from alloy_data.frames import TableBuilder

        checkpoint = writer.open()
        builder = TableBuilder(
            known_columns=self._known_columns(),
            keep_batches=False,
            # An update starts from the file's columns, so that its new rows convert as the
            # rows already there did (an object that is null on every new row stays an object).
            schema=checkpoint.schema
            if checkpoint is not None
            else getattr(writer, "seed_schema", None),
            row_count=checkpoint.rows if checkpoint is not None else 0,
            epochs=self._epochs(_timestamp_columns(checkpoint)),
        )

        def write(converted: list[tuple[Page, pa.RecordBatch]]) -> None:
            # In the conversion's worker thread: the writer is used by one thread at a time.
            for page, batch in converted:
                writer.write_page(
                    page.number,
                    _tagged_batch(batch, self._tags),
                    schema=_tagged_schema(builder.schema, self._tags),
                    next_parameters=page.next_parameters,
                )

        started = time.monotonic()
        try:
            self._convert_all(builder, self._pages_to_export(checkpoint), on_converted=write)
        except BaseException as error:
            writer.abort()  # what was written before the failure stays, for resume=True
            # The worker may have converted more than reached the disk: count what did.
            if writer.saved_rows and isinstance(error, (AlloyError, KeyboardInterrupt)):
                _add_note(
                    error,
                    f"{writer.saved_rows} records fetched before this are kept in "
                    f"{writer.checkpoint_dir}: run the same export with resume=True to "
                    "continue after them.",
                )
            raise
        metadata = self.provenance()
        metadata.update(
            pulled_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            paginator=str(self.stats.paginator or ""),
        )
        if self.stats.incremental:
            metadata["incremental_run"] = self.stats.incremental
        # With no records the builder's schema is empty; its table still has the known columns.
        schema = builder.schema if builder.row_count else builder.to_table([]).schema
        # Rendering the file holds a row group at a time; a MultiPull lets only a few of its
        # pulls do that at once, so that their row groups do not all sit in memory together.
        with self._finish_gate:
            path: Path | str = writer.finish(
                schema=_tagged_schema(schema, self._tags), metadata=metadata
            )
        self.stats.elapsed = time.monotonic() - started
        self._warn()
        return path

    def _pages_to_export(self, checkpoint: Any) -> Iterator[Page]:
        # Conversion (and writing) happen in the conversion's worker: this thread only fetches.
        if checkpoint is None:
            return self._iter_pages(self._walker(), fetch_ahead=False)
        # A checkpoint may hold several pages per entry, so the pages done are counted by number.
        pages_done = checkpoint.next_page_number - 1
        if checkpoint.complete:
            self.stats = PullStats(pages=pages_done, records=checkpoint.rows, stop_reason="end")
            return iter(())
        logger.info(
            "resuming %s %s after page %d (%d records already saved)",
            self.connector_id,
            self.action_id,
            pages_done,
            checkpoint.rows,
        )
        walker = self._walker(
            resume_from=checkpoint.next_parameters,
            first_page=checkpoint.next_page_number,
            records_before=checkpoint.rows,
        )
        return self._iter_pages(
            walker, pages_before=pages_done, records_before=checkpoint.rows, fetch_ahead=False
        )


def _tagged_schema(schema: pa.Schema, tags: Mapping[str, str]) -> pa.Schema:
    """``schema`` with a string column for each tag, last (replacing one of the same name)."""
    if not tags:
        return schema
    import pyarrow as pa

    kept = [field for field in schema if field.name not in tags]
    return pa.schema([*kept, *(pa.field(name, pa.string()) for name in tags)])


def _tagged_batch(batch: pa.RecordBatch, tags: Mapping[str, str]) -> pa.RecordBatch:
    """``batch`` with each tag's value in every row, as :func:`_tagged_schema` lays it out."""
    if not tags:
        return batch
    import pyarrow as pa

    names = [name for name in batch.schema.names if name not in tags]
    arrays = [batch.column(name) for name in names]
    arrays += [pa.repeat(pa.scalar(value, pa.string()), batch.num_rows) for value in tags.values()]
    return pa.RecordBatch.from_arrays(arrays, schema=_tagged_schema(batch.schema, tags))


def _tagged_table(table: pa.Table, tags: Mapping[str, str]) -> pa.Table:
    if not tags:
        return table
    import pyarrow as pa

    for name, value in tags.items():
        if name in table.column_names:
            table = table.drop_columns([name])
        table = table.append_column(
            pa.field(name, pa.string()), pa.repeat(pa.scalar(value, pa.string()), table.num_rows)
        )
    return table


def _timestamp_columns(checkpoint: Any) -> list[str]:
    """The timestamp columns of a resumed export's schema so far."""
    if checkpoint is None or checkpoint.schema is None:
        return []
    return [field.name for field in checkpoint.schema if str(field.type).startswith("timestamp")]


def _schema_columns(schema: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """Dotted column names of a JSON Schema's object properties, as frames flattens them."""
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return
    for name, child in properties.items():
        column = f"{prefix}{name}"
        if isinstance(child, Mapping) and isinstance(child.get("properties"), Mapping):
            yield from _schema_columns(child, f"{column}.")
        else:
            yield column


def _add_note(error: BaseException, note: str) -> None:
    add_note: Callable[[str], None] | None = getattr(error, "add_note", None)
    if add_note is not None:
        add_note(note)
    else:  # Python 3.10 has no add_note; tracebacks there do not show the note, code can read it
        error.__notes__ = [*getattr(error, "__notes__", []), note]
