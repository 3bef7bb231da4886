"""The page walker and how a paginator is resolved from a name or an instance."""

from __future__ import annotations

import dataclasses
import inspect
import json
import logging
import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

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
from alloy_data.pagination._records import RecordLocation, find_records, fingerprint

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
    "detect_paginator",
    "find_records",
    "plan_request",
    "resolve_paginator",
]

logger = logging.getLogger("alloy_data.pagination")

StopKind = Literal[
    "end", "single_page", "max_pages", "max_records", "repeated_cursor", "repeated_page"
]

PaginatorOption: TypeAlias = str | Paginator | type[Paginator] | Callable[..., Any]
"""What ``paginator=`` takes: ``"auto"``, a convention's name, a :class:`Paginator` (instance or
class), or a function ``fn(sent_parameters, result, records) -> dict | None``."""

# From 1,000, halving reaches 1 in ten steps; an app still refusing then refuses something else.
_PAGE_SIZE_TRIES = 10


def _as_size(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return None
    return value


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


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


@dataclass(frozen=True)
class StopReason:
    """Why a pull stopped.

    Attributes:
        kind: ``"end"`` (the answer said it was the last page), ``"single_page"`` (the action
            does not page), ``"max_pages"`` or ``"max_records"`` (the limits you set),
            ``"repeated_cursor"`` (the next page's parameters were already used: a loop), or
            ``"repeated_page"`` (the server sent an earlier page's records again, as when it
            ignores the cursor).
        message: What happened and what to do about it.
        data_may_be_missing: True when the pull stopped on a guard rather than at the end or
            at a limit you set, so records the server holds may not have been pulled.
    """

    kind: StopKind
    message: str
    data_may_be_missing: bool = False


def _state_key(parameters: Mapping[str, Any]) -> str:
    return json.dumps(parameters, sort_keys=True, default=str)


def _stacklevel() -> int:
    """The stack level of the first caller outside this package, for warnings."""
    frame = inspect.currentframe()
    level = 0
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR + os.sep):
        frame = frame.f_back
        level += 1
    return max(level, 1)


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

    Args:
        fetch: Executes the action once: ``fetch(parameters) -> ActionResult``.
        action: The action's metadata, whose parameters guide auto-detection.
        parameters: The caller's parameters, sent with every request.
        paginator: ``"auto"``, a convention name, a :class:`Paginator`, or a function
            (see :func:`resolve_paginator`).
        page_size: Records per page to ask for; by default the largest the action allows.
        max_pages: Stop after this many pages.
        max_records: Stop after this many records.
        resume_from: Parameters of the page to start from instead of the first (a checkpoint's
            next-state); the convention is then detected from that page.
        first_page_number: The number of the first page this walk yields (for resuming).

    Attributes:
        detection: What was chosen and why (after the first page).
        stop_reason: Why the walk stopped (after it stopped).
        notes: Human-readable notes: detection, page-size surprises, guard trips.
        pages: Pages yielded so far.
        records: Records yielded so far.
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
    ) -> None:
        self._fetch = fetch
        self._resume_from = None if resume_from is None else dict(resume_from)
        self._first_page_number = first_page_number
        self._action = action
        self._parameters = dict(parameters or {})
        self._paginator = resolve_paginator(paginator)
        self._page_size = _positive("page_size", page_size)
        self._max_pages = _positive("max_pages", max_pages)
        self._max_records = _positive("max_records", max_records)
        self.detection: Detection | None = None
        self.stop_reason: StopReason | None = None
        self.notes: list[str] = []
        self.pages = 0
        self.records = 0
        self.page_size: int | None = None
        self.page_size_reason = ""
        self.refused_page_sizes = 0

    def __iter__(self) -> Iterator[Page]:
        return self._walk()

    def _note(self, message: str) -> None:
        self.notes.append(message)
        logger.info("%s", message)

    def _stop(self, kind: StopKind, message: str, *, data_may_be_missing: bool = False) -> None:
        self.stop_reason = StopReason(kind, message, data_may_be_missing)
        self.notes.append(message)
        if data_may_be_missing:
            logger.warning("%s", message)
            warnings.warn(message, PaginationWarning, stacklevel=_stacklevel())
        else:
            logger.info("%s", message)

    def _start(self) -> tuple[Paginator | None, PaginationState | None, RequestPlan | None, dict]:
        if self._paginator is None:
            plan = plan_request(self._action, self._parameters, self._page_size)
            if plan.reason:
                self._note(plan.reason)
            self.page_size, self.page_size_reason = plan.page_size, plan.reason
            return None, None, plan, dict(plan.parameters)
        state = self._paginator.start(self._parameters, page_size=self._page_size)
        self.page_size = state.page_size
        if state.page_size is not None:
            self.page_size_reason = f"page size {state.page_size}, set on the paginator"
        return self._paginator, state, None, self._paginator.first_parameters(state)

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
            warnings.warn(message, PaginationWarning, stacklevel=_stacklevel())
        state = detection.paginator.start(self._parameters, page_size=plan.page_size)
        return detection.paginator, state

    def _walk(self) -> Iterator[Page]:
        self.detection, self.stop_reason, self.notes = None, None, []
        self.pages = self.records = self.refused_page_sizes = 0
        paginator, state, plan, sent = self._start()
        if self._resume_from is not None:
            sent = dict(self._resume_from)
        used = {_state_key(sent)}
        seen_pages: dict[str, int] = {}
        number = self._first_page_number - 1
        while True:
            if number == self._first_page_number - 1 and self._resume_from is None:
                result, sent, plan = self._fetch_first(sent, plan, paginator)
                used = {_state_key(sent)}
            else:
                result = self._fetch(dict(sent))
            number += 1
            if number == self._first_page_number:
                paginator, state = self._detect(plan, paginator, state, sent, result)
            assert paginator is not None and state is not None
            confirming_end = state.confirming_end
            records, path = paginator.locate(result, state)
            digest = fingerprint(records) if records else None
            if digest is not None and digest in seen_pages:
                self._repeated_page(number, seen_pages[digest], confirming_end)
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
            page, more_records = self._page(
                number=number,
                records=records,
                result=result,
                sent=sent,
                following=following,
                paginator=paginator,
                path=path,
            )
            self.pages += 1
            self.records += len(page.records)
            yield page
            if self._stopped(paginator, number, following, more_records, page.total):
                return
            assert following is not None
            key = _state_key(following)
            if key in used:
                self._stop(
                    "repeated_cursor",
                    f"Stopped after page {number}: the next page's parameters were already "
                    f"used on an earlier page ({following}), so the server is looping. Data "
                    "may be missing; check the paginator's cursor settings.",
                    data_may_be_missing=True,
                )
                return
            used.add(key)
            if digest is not None:
                seen_pages[digest] = number
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
        for _ in range(_PAGE_SIZE_TRIES):
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
        cut = False
        if self._max_records is not None:
            room = self._max_records - self.records
            cut = len(records) > room
            records = records[:room]
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

    def _check_total(self, total: int | None) -> None:
        # Only a walk from the first page has seen every record the total counts.
        if total is not None and total != self.records and self._first_page_number == 1:
            self._note(
                f"the answer's total ({total}) disagrees with the {self.records} records "
                "received; every record received is kept"
            )

    def _stopped(
        self,
        paginator: Paginator,
        number: int,
        following: dict | None,
        cut: bool,
        total: int | None = None,
    ) -> bool:
        reached = self._max_records is not None and self.records >= self._max_records
        if cut or (reached and following is not None):
            self._stop(
                "max_records",
                f"Stopped at max_records={self._max_records} on page {number}; more records exist.",
            )
            return True
        if following is None:
            if isinstance(paginator, SinglePagePaginator):
                self._stop(
                    "single_page", f"The action answered with one page ({self.records} records)."
                )
            else:
                self._stop(
                    "end", f"Reached the last page ({number} pages, {self.records} records)."
                )
                self._check_total(total)
            return True
        if self._max_pages is not None and number >= self._max_pages:
            self._stop(
                "max_pages",
                f"Stopped at max_pages={self._max_pages}; more pages exist.",
            )
            return True
        return False

    def _repeated_page(self, number: int, earlier: int, confirming_end: bool) -> None:
        if confirming_end:
            # The page before was short of the asked size and this one repeats it: servers
            # that clamp an out-of-range page to the last one do this, so it is the end.
            self._stop(
                "end",
                f"Reached the last page ({number - 1} pages, {self.records} records); page "
                f"{number} repeated page {earlier}, as past-the-end pages do on some servers.",
            )
            return
        self._stop(
            "repeated_page",
            f"Stopped before page {number}: its records are those of page {earlier} again, so "
            "the server ignores the paging parameters. Data may be missing; set the paginator "
            "by hand (paginator='cursor' or a configured instance such as "
            "CursorPaginator(cursor_parameter=..., cursor_path=...)).",
            data_may_be_missing=True,
        )
