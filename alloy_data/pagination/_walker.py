"""The page walker and how a paginator is resolved from a name or an instance."""

from __future__ import annotations

import copy
import dataclasses
import logging
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from alloy_data._tuning import PAGE_SIZE_TRIES
from alloy_data.errors import (
    BadRequestError,
    ConfigurationError,
    PaginationError,
    PaginationWarning,
)
from alloy_data.models import Action, ActionResult
from alloy_data.pagination._base import PaginationState, Paginator
from alloy_data.pagination._cursors import (
    CursorPaginator,
    FunctionPaginator,
    LastIdPaginator,
    NextLinkPaginator,
    RelayPaginator,
    SinglePagePaginator,
)
from alloy_data.pagination._detect import Detection, RequestPlan, detect_paginator, plan_request
from alloy_data.pagination._page_size import smaller_page_size
from alloy_data.pagination._positional import (
    AlloyOffsetPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    PositionalPaginator,
)
from alloy_data.pagination._records import RecordLocation, find_records
from alloy_data.pagination._stops import StopKind, StopReason, WalkStops, caller_stacklevel

__all__ = [
    "AlloyOffsetPaginator",
    "CursorPaginator",
    "Detection",
    "FunctionPaginator",
    "LastIdPaginator",
    "NextLinkPaginator",
    "OffsetPaginator",
    "Page",
    "PageNumberPaginator",
    "PageWalker",
    "PaginationState",
    "Paginator",
    "PaginatorOption",
    "PositionalPaginator",
    "RecordLocation",
    "RelayPaginator",
    "RequestPlan",
    "SinglePagePaginator",
    "StopKind",
    "StopReason",
    "WalkStops",
    "detect_paginator",
    "find_records",
    "plan_request",
    "resolve_paginator",
]

logger = logging.getLogger("alloy_data.pagination")

PaginatorOption: TypeAlias = str | Paginator | type[Paginator] | Callable[..., Any]
"""What ``paginator=`` takes: ``"auto"``, a convention's name, a :class:`Paginator` (instance or
class), or a function ``fn(sent_parameters, result, records) -> dict | None``."""


def _as_size(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return None
    return value


@dataclass(frozen=True)
class Page:
    """One page of a pull.

    Attributes:
        number: The page's number, from 1.
        records: The page's records (cut short on the last page when ``max_records`` says so).
        raw: The whole response body.
        parameters: The parameters the page was requested with.
        next_parameters: The parameters of the next page, or None after the last.
        total: The total record count, when the answer tells it.
        records_path: Where in the payload the records were found (see ``find_records``).
        payload_key: The envelope's key that holds the payload (``"data"``), or None when the
            payload is the whole body.
        body: The response body's bytes, when the page came from the API.
    """

    number: int
    records: list[dict[str, Any]]
    raw: Any = field(repr=False, compare=False)
    parameters: dict[str, Any] = field(default_factory=dict)
    next_parameters: dict[str, Any] | None = None
    total: int | None = None
    records_path: str = ""
    payload_key: str | None = None
    body: bytes | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_result(
        cls,
        result: ActionResult,
        *,
        number: int,
        records: list[dict[str, Any]],
        parameters: Mapping[str, Any],
        next_parameters: Mapping[str, Any] | None,
        total: int | None,
        records_path: str,
    ) -> Page:
        """A page made of one execute answer: its body, bytes and envelope key come from it."""
        return cls(
            number=number,
            records=records,
            raw=result.raw,
            parameters=dict(parameters),
            next_parameters=None if next_parameters is None else dict(next_parameters),
            total=total,
            records_path=records_path,
            payload_key=getattr(result, "payload_key", None),
            body=getattr(result, "body", None),
        )


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"{name} must be a whole number of at least 0, got {value!r}.")
    return value


def _positive(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{name} must be a whole number of at least 1, got {value!r}.")
    return value


CONVENTIONS: dict[str, type[Paginator]] = {
    cls.name: cls
    for cls in (
        AlloyOffsetPaginator,
        OffsetPaginator,
        PageNumberPaginator,
        CursorPaginator,
        RelayPaginator,
        LastIdPaginator,
        NextLinkPaginator,
        SinglePagePaginator,
    )
}


def resolve_paginator(paginator: PaginatorOption) -> Paginator | None:
    """Turn a ``paginator=`` argument into a paginator.

    Accepts ``"auto"`` (detect it: returns None), a convention name (``"alloy_offset"``,
    ``"offset"``, ``"page_number"``, ``"cursor"``, ``"relay"``, ``"last_id"``, ``"next_link"``,
    ``"single"``), a :class:`Paginator` instance or class, or a function
    ``fn(sent_parameters, result, records) -> dict | None`` (wrapped in
    :class:`FunctionPaginator`).

    Returns:
        The paginator, or None for ``"auto"``.

    Raises:
        ConfigurationError: For anything else; the message lists the choices.
    """
    if isinstance(paginator, Paginator):
        return paginator
    if isinstance(paginator, type) and issubclass(paginator, Paginator):
        if paginator is FunctionPaginator:
            raise ConfigurationError(
                "FunctionPaginator needs your function: pass paginator=FunctionPaginator(fn), "
                "or the function itself."
            )
        return paginator()
    if isinstance(paginator, str):
        name = paginator.strip().lower().replace("-", "_").replace(" ", "_")
        if name == "auto":
            return None
        if name in CONVENTIONS:
            return CONVENTIONS[name]()
    elif callable(paginator) and not isinstance(paginator, type):
        return FunctionPaginator(paginator)
    choices = ", ".join(repr(name) for name in ("auto", *CONVENTIONS))
    raise ConfigurationError(
        f"Unknown paginator {paginator!r}. Use one of {choices}, a Paginator such as "
        "CursorPaginator(cursor_parameter='after'), or a function "
        "fn(sent_parameters, result, records) that returns the next parameters or None."
    )


class PageWalker:
    """Walks an action's pages in order, with a paginator chosen by hand or detected.

    Iterating yields :class:`Page` objects. Every walk stops, and says why in
    :attr:`stop_reason`: at the end; at ``max_pages`` or ``max_records`` (the last page's
    records are cut to the exact count); when the next page's parameters were already used on
    any earlier page; or when a page repeats an earlier page's records. Stops that may leave
    data behind also raise a :class:`~alloy_data.errors.PaginationWarning`; all of them are
    logged on ``alloy_data.pagination`` and noted in :attr:`notes`.

    Each walk works on its own copy of the paginator: a paginator you pass is never changed,
    so one instance can serve several walks, in several threads.

    Args:
        fetch: Executes the action once: ``fetch(parameters) -> ActionResult``.
        action: The action's metadata, whose parameters guide auto-detection.
        parameters: The caller's parameters, sent with every request.
        paginator: ``"auto"``, a convention name, a :class:`Paginator`, or a function
            (see :func:`resolve_paginator`).
        page_size: Records per page to ask for; by default the largest the action allows.
        max_pages: Stop at this page number. Page numbers count from the dataset's first
            page, so a resumed walk stops where an uninterrupted one would.
        max_records: Stop at this many records of the whole dataset, ``records_before``
            included.
        resume_from: Parameters of the page to start from instead of the first (a checkpoint's
            next-state); the convention is then detected from that page.
        first_page_number: The number of the first page this walk yields (for resuming).
        records_before: Records saved before the first page of this walk (for resuming).

    Attributes:
        detection: What was chosen and why (after the first page).
        page_size: The page size asked for (after the first page: the one in use), if any.
        page_size_reason: Why that page size, in words.
        refused_page_sizes: First requests the app refused for their page size (each one a
            request made).
    """

    def __init__(
        self,
        fetch: Callable[[dict[str, Any]], ActionResult],
        *,
        action: Action | None = None,
        parameters: Mapping[str, Any] | None = None,
        paginator: Any = "auto",
        page_size: int | None = None,
        max_pages: int | None = None,
        max_records: int | None = None,
        resume_from: Mapping[str, Any] | None = None,
        first_page_number: int = 1,
        records_before: int = 0,
    ) -> None:
        self._fetch = fetch
        self._resume_from = None if resume_from is None else dict(resume_from)
        self._first_page_number = _positive("first_page_number", first_page_number) or 1
        self._records_before = _count("records_before", records_before)
        self._action = action
        self._parameters = dict(parameters or {})
        self._paginator = resolve_paginator(paginator)
        self._page_size = _positive("page_size", page_size)
        self._max_pages = _positive("max_pages", max_pages)
        self._max_records = _positive("max_records", max_records)
        self.stops = self._new_stops()
        self.detection: Detection | None = None
        self.page_size: int | None = None
        self.page_size_reason = ""
        self.refused_page_sizes = 0

    @property
    def parameters(self) -> dict[str, Any]:
        """The caller's parameters, sent with every request (a copy)."""
        return dict(self._parameters)

    @property
    def max_pages(self) -> int | None:
        """The page number the walk stops at, counted from the dataset's first page."""
        return self._max_pages

    @property
    def max_records(self) -> int | None:
        """The most records of the whole dataset, those saved before a resume included."""
        return self._max_records

    @property
    def first_page_number(self) -> int:
        """The number of the first page this walk yields."""
        return self._first_page_number

    @property
    def records_before(self) -> int:
        """Records saved before the first page of this walk."""
        return self._records_before

    @property
    def stop_reason(self) -> StopReason | None:
        """Why the walk stopped (after it stopped)."""
        return self.stops.stop_reason

    @property
    def notes(self) -> list[str]:
        """Human-readable notes: detection, page-size surprises, guard trips, the stop."""
        return self.stops.notes

    @property
    def pages(self) -> int:
        """Pages yielded so far by this walk."""
        return self.stops.pages

    @property
    def records(self) -> int:
        """Records yielded so far by this walk (not counting ``records_before``)."""
        return self.stops.records

    def __iter__(self) -> Iterator[Page]:
        return self._walk()

    def _new_stops(self) -> WalkStops:
        return WalkStops(
            max_pages=self._max_pages,
            max_records=self._max_records,
            first_page_number=self._first_page_number,
            records_before=self._records_before,
        )

    def _note(self, message: str) -> None:
        self.stops.note(message)

    def _start(self) -> tuple[Paginator | None, PaginationState | None, RequestPlan | None, dict]:
        if self._paginator is None:
            plan = plan_request(self._action, self._parameters, self._page_size)
            if plan.reason:
                self._note(plan.reason)
            self.page_size, self.page_size_reason = plan.page_size, plan.reason
            return None, None, plan, dict(plan.parameters)
        # The walk may lower the page size on its paginator: never on the caller's instance.
        paginator = copy.copy(self._paginator)
        state = paginator.start(self._parameters, page_size=self._page_size)
        self.page_size = state.page_size
        if state.page_size is not None:
            self.page_size_reason = f"page size {state.page_size}, set on the paginator"
        return paginator, state, None, paginator.first_parameters(state)

    def _detect(
        self,
        plan: RequestPlan | None,
        paginator: Paginator | None,
        state: PaginationState | None,
        sent: dict,
        result: Any,
    ) -> tuple[Paginator, PaginationState]:
        if plan is None:
            assert paginator is not None and state is not None
            self.detection = Detection(paginator, True, f"paginator set by hand: {paginator!r}")
            return paginator, state
        detection = detect_paginator(plan, sent, result)
        self.detection = detection
        message = f"paginator: {detection.reason}"
        if detection.confident:
            self._note(message)
        else:
            self.notes.append(message)
            logger.warning("%s", message)
            warnings.warn(message, PaginationWarning, stacklevel=caller_stacklevel())
        state = detection.paginator.start(self._parameters, page_size=plan.page_size)
        return detection.paginator, state

    def _walk(self) -> Iterator[Page]:
        self.detection, self.stops = None, self._new_stops()
        self.refused_page_sizes = 0
        stops = self.stops
        paginator, state, plan, sent = self._start()
        if self._resume_from is not None:
            sent = dict(self._resume_from)
        number = self._first_page_number - 1
        while True:
            if number == self._first_page_number - 1 and self._resume_from is None:
                result, sent, plan = self._fetch_first(sent, plan, paginator)
            else:
                result = self._fetch(dict(sent))
            number += 1
            if number == self._first_page_number:
                paginator, state = self._detect(plan, paginator, state, sent, result)
                stops.begin(sent)
            assert paginator is not None and state is not None
            confirming_end = state.confirming_end
            records, path = paginator.locate(result, state)
            if stops.repeats(number, records, confirming_end=confirming_end):
                return
            try:
                following = paginator.next_parameters(state, sent, result, records)
            except PaginationError as error:
                # The page itself is good: hand it over with the error, so it is not lost.
                error.page, _ = self._page(
                    number=number,
                    records=records,
                    result=result,
                    sent=sent,
                    following=None,
                    paginator=paginator,
                    path=path,
                )
                raise
            self._follow_served_page_size(
                paginator=paginator,
                state=state,
                sent=sent,
                records=records,
                following=following,
                number=number,
            )
            for note in state.notes:
                self._note(note)
            state.notes.clear()
            page, cut = self._page(
                number=number,
                records=records,
                result=result,
                sent=sent,
                following=following,
                paginator=paginator,
                path=path,
            )
            # Decided before the page is handed over, so that whoever takes the walk on from
            # here (the overlapping schedule) knows whether there is anything left to fetch.
            stopped = stops.after(
                number,
                len(page.records),
                following=following,
                cut=cut,
                total=page.total,
                single_page=isinstance(paginator, SinglePagePaginator),
            )
            yield page
            if stopped:
                return
            assert following is not None
            sent = following

    def _size_parameter(self, plan: RequestPlan | None, paginator: Paginator | None) -> str | None:
        if plan is not None:
            return None if plan.page_size_source == "parameters" else plan.page_size_parameter
        name = paginator.page_size_parameter if paginator is not None else None
        return None if name is None or name in self._parameters else name

    def _fetch_first(
        self, sent: dict, plan: RequestPlan | None, paginator: Paginator | None
    ) -> tuple[ActionResult, dict, RequestPlan | None]:
        """The first request; while the app refuses its page size with a 400, a smaller one.

        The size goes to the number the app's message names, else to half, as a person reading
        the error would do; a 400 that is about something else is raised as it is.
        """
        name = self._size_parameter(plan, paginator)
        for _ in range(PAGE_SIZE_TRIES):
            try:
                return self._fetch(dict(sent)), sent, plan
            except BadRequestError as error:
                asked = _as_size(sent.get(name)) if name is not None else None
                smaller = None
                if name is not None and asked is not None:
                    smaller = smaller_page_size(error.message, asked, name)
                if name is None or smaller is None:
                    raise
                reason = (
                    f"page size {smaller} for {name!r}: the app refused {asked} "
                    f"({error.message[:120]})"
                )
                self._note(reason)
                self.refused_page_sizes += 1
                self.page_size, self.page_size_reason = smaller, reason
                sent = {**sent, name: smaller}
                if plan is not None:
                    plan = dataclasses.replace(
                        plan, parameters=dict(sent), page_size=smaller, reason=reason
                    )
                elif paginator is not None:
                    paginator.page_size = smaller
        return self._fetch(dict(sent)), sent, plan

    def _follow_served_page_size(
        self,
        *,
        paginator: Paginator,
        state: PaginationState,
        sent: Mapping[str, Any],
        records: list[dict[str, Any]],
        following: Mapping[str, Any] | None,
        number: int,
    ) -> None:
        """Keep the app's own page size when it sends fewer records than asked, and more."""
        served = state.served_page_size
        if served is None and number == self._first_page_number and following is not None:
            asked = _as_size(sent.get(paginator.page_size_parameter or ""))
            if asked is not None and 0 < len(records) < asked and not state.confirming_end:
                served = state.served_page_size = len(records)
                state.notes.append(
                    f"the app sends at most {served} records a page although {asked} were "
                    "asked, and says more follow; following its page size"
                )
        if served is not None and served != self.page_size:
            self.page_size = served
            self.page_size_reason = (
                f"page size {served}, the most the app sends a page (it sent {served} when "
                "more were asked)"
            )

    def _page(
        self,
        *,
        number: int,
        records: list[dict[str, Any]],
        result: ActionResult,
        sent: dict,
        following: dict | None,
        paginator: Paginator,
        path: str,
    ) -> tuple[Page, bool]:
        records, cut = self.stops.cut(records)
        page = Page.from_result(
            result,
            number=number,
            records=records,
            parameters=sent,
            next_parameters=following,
            total=paginator.total(result),
            records_path=path,
        )
        return page, cut
