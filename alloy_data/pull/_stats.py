"""What the last run of a pull did, as figures, notes and a rich display."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from alloy_data import _html

if TYPE_CHECKING:
    from alloy_data.frames import SchemaDrift

__all__ = ["PullStats"]


@dataclass
class PullStats:
    """What the last run of a pull did.

    A run that resumes an export continues a dataset that an earlier run began: ``records`` and
    ``pages`` count the whole dataset, ``records_fetched``, ``pages_fetched`` and ``requests``
    this run alone. Without a resume the two agree.

    Attributes:
        pages: Pages of the dataset, those a resumed export had saved included.
        records: Records of the dataset (after ``max_records``), those a resumed export had
            saved included.
        pages_saved_before: Pages a resumed export had saved before this run (0 without a
            resume).
        records_saved_before: Records a resumed export had saved before this run.
        requests: HTTP requests this run made, retries included.
        retries: Requests that were retried.
        retry_reasons: How many retries each reason caused (``"HTTP 503"``,
            ``"read timeout"``, ``"body not JSON"``, ...).
        seconds_waited: Seconds spent waiting before retries (the server's ``Retry-After`` and
            backoff).
        seconds_paced: Seconds spent waiting to keep to ``max_requests_per_second`` (the
            pull's own cap, not the server's answer).
        refused: Requests the API refused with 429 (each is retried, and counted in
            ``retries`` and ``requests`` too).
        limit_waits: Requests that waited for the API's rate limit before going out, so as
            not to be refused.
        seconds_limited: Seconds those requests waited (side by side, so more than the
            elapsed time when several waited at once).
        rate_limits: The rate limits the run spent, in words: requests per window, told by
            the answers' headers or learned from refusals.
        settled_rate: The requests a second those limits allow (the tightest), when known.
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
        late_fields: For a stream (``to_reader()``, ``__arrow_c_stream__``): each column some of
            whose values its declared schema could not hold, with how many values, all kept as
            JSON in its ``_late_fields`` column (empty for the other sinks).
        high_water_mark: With ``incremental=``: the latest cursor value seen (UTC), or None.
        incremental: With ``incremental=``: how the run narrowed what it fetched —
            ``"filter"`` (sent the mark in the action's filter parameter),
            ``"newest_first"`` (stopped once past the mark), ``"full"`` (fetched every page
            and kept what changed), or ``"first_run"`` (no mark yet).
        reused: True when these rows came from the pull's last run instead of the API: a
            second sink (``to_parquet`` after ``to_dataframe``, ...) makes no request.
            ``pull.reset()`` makes the next sink fetch anew.
        fetched_at: With ``max_age=``: when the rows were fetched from the API (UTC), which
            is earlier than now when they were served from the store.
        refresh: With ``max_age=``: how the store's copy was brought up to date —
            ``"from the store"`` (no request: the copy was younger than ``max_age``),
            ``"incremental"`` (only what changed since its mark), ``"full"`` (every page
            anew), or ``"resumed"`` (a refresh stopped part-way went on at its next page).
        notes: Everything noteworthy, in order (detection, guards, drift).
        warnings: The notes that mean data may be missing.
    """

    pages: int = 0
    records: int = 0
    pages_saved_before: int = 0
    records_saved_before: int = 0
    requests: int = 0
    retries: int = 0
    retry_reasons: dict[str, int] = field(default_factory=dict)
    seconds_waited: float = 0.0
    seconds_paced: float = 0.0
    refused: int = 0
    limit_waits: int = 0
    seconds_limited: float = 0.0
    rate_limits: list[str] = field(default_factory=list)
    settled_rate: float | None = None
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
    late_fields: dict[str, int] = field(default_factory=dict)
    high_water_mark: datetime | None = None
    incremental: str | None = None
    reused: bool = False
    fetched_at: datetime | None = None
    refresh: str | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def pages_fetched(self) -> int:
        """Pages this run fetched."""
        return self.pages - self.pages_saved_before

    @property
    def records_fetched(self) -> int:
        """Records this run fetched and kept."""
        return self.records - self.records_saved_before

    @property
    def resumed(self) -> bool:
        """True when this run continued a dataset an earlier run began."""
        return self.pages_saved_before > 0

    @property
    def records_per_second(self) -> float:
        """Records this run fetched per second of elapsed time."""
        return self.records_fetched / self.elapsed if self.elapsed > 0 else 0.0

    def __str__(self) -> str:
        text = f"{self.records} records in {self.pages} pages"
        if self.resumed:
            text += (
                f" (this run fetched {self.records_fetched} records in {self.pages_fetched} pages)"
            )
        text += f", {self.requests} requests, {self.elapsed:.2f} s"
        if self.retries:
            text += f", {self.retries} retries ({self.seconds_waited:.1f} s waited)"
        if self.seconds_paced:
            text += f", {self.seconds_paced:.1f} s paced to max_requests_per_second"
        if self.refused:
            text += f", {self.refused} refused (429)"
        if self.limit_waits:
            text += f", {self.limit_waits} waits for the rate limit ({self.seconds_limited:.1f} s)"
        if self.paginator:
            text += f", paginator {self.paginator}"
        if self.stop_reason and self.stop_reason != "end":
            text += f", stopped: {self.stop_reason}"
        if self.reused:
            text += ", reused from the last run"
        if self.refresh is not None and self.fetched_at is not None:
            text += f", {self.freshness}"
        return text

    @property
    def freshness(self) -> str | None:
        """With ``max_age=``: when the rows were fetched and how, in words; else None."""
        if self.refresh is None or self.fetched_at is None:
            return None
        when = self.fetched_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        how = {
            "from the store": "served from the store (no request)",
            "incremental": "the store's copy refreshed incrementally",
            "full": "the store's copy refreshed in full",
            "resumed": "the store's copy refreshed, resuming a stopped refresh",
        }.get(self.refresh, self.refresh)
        return f"fetched {when}, {how}"

    def _repr_html_(self) -> str:
        return _html.block("Last run", self.html_body())

    def html_body(self) -> str:
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
        fetched = None
        if self.resumed:
            fetched = f"{self.records_fetched:,} records in {self.pages_fetched:,} pages"
        figures = _html.key_values(
            [
                ("records", f"{self.records:,}" + (f" of {self.total:,}" if self.total else "")),
                ("pages", f"{self.pages:,}"),
                ("fetched by this run", fetched),
                ("requests", f"{self.requests:,}"),
                ("retries", retries),
                ("waited before retries", f"{self.seconds_waited:.1f} s"),
                (
                    "paced to max_requests_per_second",
                    f"{self.seconds_paced:.1f} s" if self.seconds_paced else None,
                ),
                ("refused (429)", f"{self.refused:,}" if self.refused else None),
                ("rate limit", "; ".join(self.rate_limits) or None),
                (
                    "settled rate",
                    f"{self.settled_rate:.2f} requests/s" if self.settled_rate else None,
                ),
                (
                    "waited for the rate limit",
                    f"{self.limit_waits:,} times, {self.seconds_limited:.1f} s"
                    if self.limit_waits
                    else None,
                ),
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
                ("source", "the last run's rows (no request made)" if self.reused else None),
                ("fetched", self.freshness),
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
