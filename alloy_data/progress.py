"""Progress reporting for pulls: a tqdm bar, a user's callable, or nothing.

``progress="auto"`` picks ``tqdm.auto``: a widget bar in a notebook, a text bar in a terminal.
The bar counts records, and shows pages, records per second, retries, seconds waited before
retries and seconds paced to ``max_requests_per_second``; while a request waits to be retried,
it says why and how long the pull will keep trying; while one waits for the API's rate limit,
it says so and for how long (``rate limit=waiting 1.4 s``). It never shows parameters, keys
or tokens.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TextIO, TypeAlias

from alloy_data.errors import ConfigurationError

__all__ = [
    "ProgressOption",
    "ProgressReporter",
    "ProgressUpdate",
    "Retrying",
    "check_progress_option",
    "combined_update",
    "make_reporter",
]


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    return f"{seconds / 60:.0f} min"


@dataclass(frozen=True)
class Retrying:
    """A request that failed and waits to be sent again.

    Attributes:
        reason: What failed, such as ``"connection refused"`` or ``"HTTP 503"``.
        retry: Which retry comes next (1 for the first).
        max_retries: The retries allowed before the pull gives up.
        wait: Seconds until this retry.
        gives_up_within: Seconds of waiting, at most, before the last retry is sent: this wait
            and the longest backoff of the retries after it (a server's ``Retry-After`` can
            ask for longer).
    """

    reason: str
    retry: int
    max_retries: int
    wait: float
    gives_up_within: float

    def __str__(self) -> str:
        return (
            f"{self.reason}: retry {self.retry} of {self.max_retries} in {_duration(self.wait)}, "
            f"giving up within {_duration(self.gives_up_within)}"
        )


@dataclass(frozen=True)
class ProgressUpdate:
    """The figures of a pull in progress, as passed to a progress callable.

    Attributes:
        pages: Pages fetched so far.
        records: Records fetched so far.
        records_per_second: Records fetched per second of elapsed time.
        retries: Requests retried so far (rate limits, server errors, dropped connections).
        seconds_waited: Seconds spent waiting before retries (the server's ``Retry-After`` and
            backoff).
        elapsed: Seconds since the pull started.
        total: The total number of records when the API says, else None.
        done: True for the last update of a pull.
        credentials_done: For a pull of many credentials: how many are pulled in full.
        credentials_failed: For a pull of many credentials: how many failed.
        credentials_total: For a pull of many credentials: how many there are.
        retrying: While a request waits to be retried: why, and how long the pull keeps
            trying; None otherwise.
        seconds_paced: Seconds spent waiting to keep to ``max_requests_per_second``.
        limit_waits: Requests that waited for the API's rate limit (so as not to be refused).
        seconds_limited: Seconds they waited.
        waiting_for_limit: While a request waits for the API's rate limit: the seconds it
            waits; None otherwise.
    """

    pages: int
    records: int
    records_per_second: float
    retries: int
    seconds_waited: float
    elapsed: float
    total: int | None = None
    done: bool = False
    credentials_done: int | None = None
    credentials_failed: int | None = None
    credentials_total: int | None = None
    retrying: Retrying | None = None
    seconds_paced: float = 0.0
    limit_waits: int = 0
    seconds_limited: float = 0.0
    waiting_for_limit: float | None = None


def combined_update(
    updates: Sequence[ProgressUpdate],
    *,
    elapsed: float,
    done: bool,
    credentials_done: int,
    credentials_failed: int,
    credentials_total: int,
) -> ProgressUpdate:
    """The figures of a job of many pulls from each pull's latest ``updates``.

    Counts and waits add up; the rate is the job's over ``elapsed``; the wait for a rate limit
    shown is the longest under way.

    Returns:
        One :class:`ProgressUpdate` for the job.
    """
    records = sum(update.records for update in updates)
    return ProgressUpdate(
        pages=sum(update.pages for update in updates),
        records=records,
        records_per_second=records / elapsed if elapsed > 0 else 0.0,
        retries=sum(update.retries for update in updates),
        seconds_waited=sum(update.seconds_waited for update in updates),
        seconds_paced=sum(update.seconds_paced for update in updates),
        limit_waits=sum(update.limit_waits for update in updates),
        seconds_limited=sum(update.seconds_limited for update in updates),
        waiting_for_limit=max(
            (u.waiting_for_limit for u in updates if u.waiting_for_limit is not None),
            default=None,
        ),
        elapsed=elapsed,
        done=done,
        credentials_done=credentials_done,
        credentials_failed=credentials_failed,
        credentials_total=credentials_total,
    )


ProgressOption: TypeAlias = (
    bool | Literal["auto", "terminal"] | Callable[[ProgressUpdate], object] | None
)
"""What ``progress=`` takes: ``"auto"`` or True (a tqdm bar fit for a notebook or terminal),
``"terminal"`` (a text bar even in a notebook), False or None (silent), or a function called
with each :class:`ProgressUpdate`."""


class ProgressReporter(Protocol):
    """What a pull calls as it goes."""

    def update(self, figures: ProgressUpdate) -> None:
        """Show the latest figures."""

    def close(self) -> None:
        """Finish the display (called once, also when the pull fails)."""


class _Silent:
    def update(self, figures: ProgressUpdate) -> None:
        pass

    def close(self) -> None:
        pass


class _CallableReporter:
    def __init__(self, callback: Callable[[ProgressUpdate], Any]) -> None:
        self._callback = callback

    def update(self, figures: ProgressUpdate) -> None:
        self._callback(figures)

    def close(self) -> None:
        pass


class _TqdmReporter:
    """A tqdm bar counting records; the postfix carries pages, retries and waits."""

    def __init__(self, description: str, *, file: TextIO | None, notebook: bool | None) -> None:
        if notebook is False:
            from tqdm import tqdm
        else:
            from tqdm.auto import tqdm
        self._bar = tqdm(
            desc=description,
            unit=" rec",
            unit_scale=True,
            file=file,
            dynamic_ncols=True,
            leave=True,
        )
        self._shown = 0
        # A retry is reported from the thread that waits for it, pages from the pull's own.
        self._lock = threading.Lock()

    def update(self, figures: ProgressUpdate) -> None:
        with self._lock:
            self._update(figures)

    def _update(self, figures: ProgressUpdate) -> None:
        if figures.total is not None and self._bar.total != figures.total:
            self._bar.total = figures.total
        postfix: dict[str, object] = {}
        if figures.credentials_total is not None:
            postfix["credentials"] = f"{figures.credentials_done or 0}/{figures.credentials_total}"
            if figures.credentials_failed:
                postfix["failed"] = figures.credentials_failed
        postfix["pages"] = figures.pages
        if figures.retries:
            postfix["retries"] = figures.retries
        if figures.seconds_waited:
            postfix["waited"] = f"{figures.seconds_waited:.1f}s"
        if figures.retrying is not None:
            postfix["retrying"] = str(figures.retrying)
        if figures.seconds_paced:
            postfix["paced"] = f"{figures.seconds_paced:.1f}s"
        if figures.waiting_for_limit is not None:
            postfix["rate limit"] = f"waiting {_duration(figures.waiting_for_limit)}"
        elif figures.seconds_limited:
            postfix["rate limit"] = f"waited {figures.seconds_limited:.1f}s"
        # Set before the count moves, so that whatever tqdm draws next shows the pages and the
        # records of the same moment (it draws at most every 0.1 s whatever is called here).
        self._bar.set_postfix(postfix, refresh=False)
        self._bar.update(figures.records - self._shown)
        self._shown = figures.records
        if figures.done or figures.retrying is not None or figures.waiting_for_limit is not None:
            # A wait draws nothing by itself: show now that the pull is retrying, not stuck.
            self._bar.refresh()

    def close(self) -> None:
        self._bar.close()


def check_progress_option(progress: Any) -> None:
    """Refuse a ``progress`` option that :func:`make_reporter` would not understand.

    Raises:
        ConfigurationError: When ``progress`` is not one of the accepted values.
    """
    # By type first: 0 and 1 equal False and True, and an array compared with == is no bool.
    if progress is None or isinstance(progress, bool) or callable(progress):
        return
    if isinstance(progress, str) and progress in ("auto", "terminal"):
        return
    raise ConfigurationError(
        f"progress={progress!r} is not understood: use 'auto', 'terminal', False, "
        "or a function that takes a ProgressUpdate."
    )


def make_reporter(
    progress: Any, *, description: str = "pull", file: TextIO | None = None
) -> ProgressReporter:
    """Build the reporter a pull uses from its ``progress`` option.

    Args:
        progress: ``"auto"`` or True (tqdm.auto), ``"terminal"`` (a text bar even in a
            notebook), False or None (silent), or a callable that receives ``ProgressUpdate``.
        description: The bar's label, such as ``"shopify list-orders"``.
        file: Where a text bar writes (default stderr).

    Returns:
        An object with ``update(ProgressUpdate)`` and ``close()``.

    Raises:
        ConfigurationError: When ``progress`` is none of the above.
    """
    if progress is None or progress is False:
        return _Silent()
    if progress is True or progress == "auto":
        return _TqdmReporter(description, file=file, notebook=None)
    if progress == "terminal":
        return _TqdmReporter(description, file=file, notebook=False)
    check_progress_option(progress)
    return _CallableReporter(progress)
