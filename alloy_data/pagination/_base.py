"""What every paginator shares: the answer fields they read, the walk state, the base class."""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from alloy_data.models import ActionResult
from alloy_data.pagination._records import (
    MISSING,
    first_present,
    holds_list,
    locate_records,
    records_at,
)

__all__ = [
    "CURSOR_PATHS",
    "HAS_MORE_PATHS",
    "NEXT_LINK_PATHS",
    "TOTAL_PAGES_PATHS",
    "TOTAL_PATHS",
    "PaginationState",
    "Paginator",
    "Parameters",
    "answer_sources",
    "as_count",
    "as_flag",
    "as_int",
    "found_in",
    "has_more",
    "is_empty",
]

Parameters = dict[str, Any]

TOTAL_PATHS = (
    "total",
    "total_count",
    "totalCount",
    "total_items",
    "totalItems",
    "meta.total",
    "meta.total_count",
    "meta.totalCount",
    "pagination.total",
    "pagination.totalCount",
    "pagination.total_count",
)
TOTAL_PAGES_PATHS = (
    "total_pages",
    "totalPages",
    "pageCount",
    "page_count",
    "meta.total_pages",
    "meta.totalPages",
    "meta.pageCount",
    "pagination.total_pages",
    "pagination.totalPages",
    "pagination.pageCount",
)
HAS_MORE_PATHS = (
    "has_more",
    "hasMore",
    "has_next",
    "hasNext",
    "more",
    "meta.has_more",
    "meta.hasMore",
    "pagination.has_more",
    "pagination.hasMore",
)
CURSOR_PATHS = (
    "next_cursor",
    "nextCursor",
    "nextPageToken",
    "next_page_token",
    "paging.next.after",
    "meta.next_cursor",
    "meta.nextCursor",
    "meta.after_cursor",
    "response_metadata.next_cursor",
    "pagination.next_cursor",
    "pagination.nextCursor",
    "next_token",
    "nextToken",
    "cursor",
)
NEXT_LINK_PATHS = (
    "next",
    "next_page",
    "nextPage",
    "next_page_url",
    "nextPageUrl",
    "links.next",
    "_links.next.href",
    "_links.next",
    "@odata.nextLink",
    "odata.nextLink",
    "paging.next.link",
    "meta.next",
    "pagination.next",
)


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def as_count(value: Any) -> int | None:
    """A record or page count from an answer: a whole number of at least 0, else None."""
    count = as_int(value)
    return None if count is None or count < 0 else count


def as_flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def answer_sources(result: ActionResult) -> list[Any]:
    # The payload first (the third party's own body), then the whole envelope (Alloy's own
    # ``pagination`` block sits beside ``data``).
    sources = [result.data]
    if result.raw is not result.data:
        sources.append(result.raw)
    return sources


def found_in(result: ActionResult, paths: Sequence[str]) -> tuple[Any, str | None]:
    return first_present(answer_sources(result), paths)


def has_more(result: ActionResult, path: str | None) -> bool | None:
    """Whether the answer says more pages follow (at ``path``, else the usual names), or None."""
    return as_flag(found_in(result, (path,) if path else HAS_MORE_PATHS)[0])


def is_empty(value: Any) -> bool:
    return value is MISSING or value is None or value == ""


@dataclass
class PaginationState:
    """One walk through an action's pages; :meth:`Paginator.start` makes a fresh one per pull.

    Attributes:
        base_parameters: The caller's parameters, which every request starts from.
        page_size: The page size asked for, or None to leave it to the server.
        records_path: Where the records are, once known (kept for the whole walk).
        page_counts: How many records each page so far held.
        notes: Things worth telling the caller (a page size the server ignores, ...).
        total_disagrees: A page held records beyond the answer's total, so totals are not
            trusted to tell the last page for the rest of the walk.
        confirming_end: The last page was short of the asked size yet the answer did not say it
            was the end, so one more page is being fetched to tell.
        served_page_size: The page size the server keeps to when it sends fewer records than
            asked and more follow (None until seen).
    """

    base_parameters: Parameters
    page_size: int | None = None
    records_path: str | None = None
    page_counts: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    total_disagrees: bool = False
    confirming_end: bool = False
    served_page_size: int | None = None


class Paginator(ABC):
    """A paging convention: which parameters to send, and how the answer says what comes next.

    A paginator holds only configuration; everything that changes during a pull lives in the
    :class:`PaginationState` that :meth:`start` returns, so one instance can serve many pulls.

    Attributes:
        name: The convention's name, as accepted by ``paginator="..."``.
        supports_parallel: Whether pages can be computed up front and fetched concurrently.
        page_size_parameter: The request parameter that sets the page size, if any.
        records_path: Where the records are (see ``find_records``); None finds them.
    """

    name: ClassVar[str] = ""
    supports_parallel: ClassVar[bool] = False
    # Constructor arguments stored under another attribute name.
    _attribute_for: ClassVar[dict[str, str]] = {}

    def __init__(
        self,
        *,
        page_size_parameter: str | None = None,
        page_size: int | None = None,
        records_path: str | None = None,
    ) -> None:
        self.page_size_parameter = page_size_parameter
        self.page_size = page_size
        self.records_path = records_path

    def __repr__(self) -> str:
        # Shows the constructor arguments that differ from their defaults, so the repr can be
        # pasted back as code (auto-detection suggests it as the way to set a paginator).
        shown = []
        for name, parameter in inspect.signature(type(self).__init__).parameters.items():
            if parameter.kind is not parameter.KEYWORD_ONLY:
                continue
            value = getattr(self, self._attribute_for.get(name, name), parameter.default)
            if value != parameter.default:
                shown.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    def start(
        self, parameters: Mapping[str, Any] | None = None, *, page_size: int | None = None
    ) -> PaginationState:
        """Begin a walk from the caller's parameters.

        Returns:
            A fresh state; ``page_size`` (when given) wins over the paginator's own.
        """
        size = page_size if page_size is not None else self.page_size
        return PaginationState(dict(parameters or {}), size, self.records_path)

    def first_parameters(self, state: PaginationState) -> Parameters:
        """Return the parameters of the first request."""
        parameters = dict(state.base_parameters)
        if self.page_size_parameter and state.page_size is not None:
            parameters[self.page_size_parameter] = state.page_size
        return parameters

    def locate(
        self, result: ActionResult, state: PaginationState | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        """Return a page's records and the path where they were found.

        The path found on the first page with records is kept in ``state`` for the rest of
        the walk, so a later page cannot switch to another list.
        """
        path = state.records_path if state is not None else self.records_path
        if path is not None:
            found = records_at(result.data, path)
            if found is not None:
                return found, path
            if state is not None and path != self.records_path:
                state.notes.append(f"records were no longer at {path!r}; looking again")
        records, found_path = self._find(result)
        if path is not None and records and not holds_list(result.data, found_path):
            # Without a list, the whole answer would be taken as one record: its paging fields
            # and messages would become columns of a table whose records are elsewhere.
            if state is not None:
                state.notes.append(
                    f"a page had no records at {path!r} and no other list of records; "
                    "it counts as a page without records"
                )
            return [], path
        if state is not None and records and state.records_path is None:
            state.records_path = found_path
        return records, found_path

    def _find(self, result: ActionResult) -> tuple[list[dict[str, Any]], str]:
        location = locate_records(result.data)
        return location.records, location.path

    def records(
        self, result: ActionResult, state: PaginationState | None = None
    ) -> list[dict[str, Any]]:
        """Return a page's records (see :meth:`locate`)."""
        return self.locate(result, state)[0]

    def next_parameters(
        self,
        state: PaginationState,
        sent: Mapping[str, Any],
        result: ActionResult,
        records: Sequence[Mapping[str, Any]],
    ) -> Parameters | None:
        """Return the parameters of the next request, or None when this page was the last.

        Args:
            state: The walk's state (see :meth:`start`).
            sent: The parameters this page was requested with.
            result: The answer.
            records: The page's records (as :meth:`records` found them).
        """
        following = self._next(state, dict(sent), result, records)
        state.page_counts.append(len(records))
        return following

    @abstractmethod
    def _next(
        self,
        state: PaginationState,
        sent: Parameters,
        result: ActionResult,
        records: Sequence[Mapping[str, Any]],
    ) -> Parameters | None: ...

    def total(self, result: ActionResult) -> int | None:
        """Return the total record count when the answer tells it, else None."""
        return as_count(found_in(result, TOTAL_PATHS)[0])

    def _trusted_total(
        self, state: PaginationState, result: ActionResult, received_so_far: int
    ) -> int | None:
        """The answer's total, unless this page or an earlier one went past it.

        A total below the records already received is stale or counts something else; ending
        on it would drop the records still to come, so paging goes on by the other signals.
        """
        total = self.total(result)
        if total is None or state.total_disagrees:
            return None
        if received_so_far > total:
            state.total_disagrees = True
            state.notes.append(
                f"the answer's total ({total}) is below the {received_so_far} records received "
                "so far; paging on until an empty or short page instead"
            )
            return None
        return total

    def _asked(self, sent: Mapping[str, Any]) -> int | None:
        return as_int(sent.get(self.page_size_parameter)) if self.page_size_parameter else None

    def _short(self, state: PaginationState, asked: int | None, received: int) -> bool:
        """Whether a page with no explicit end signal is the last one (short or empty).

        A first page shorter than asked is ambiguous (the end, or a server that caps the page
        size), so it is not taken as the end: one more request tells, and no data is lost.
        """
        if received == 0:
            return True
        if state.page_counts:
            return received < max(state.page_counts)
        if asked is not None and received < asked:
            state.confirming_end = True
        return False

    def _note_page_size(self, state: PaginationState, asked: int | None, received: int) -> None:
        if state.confirming_end:
            state.confirming_end = False
            if received:
                state.served_page_size = state.page_counts[0]
                state.notes.append(
                    f"the server sends at most {state.page_counts[0]} records a page although "
                    f"{asked} were asked; following its page size"
                )
            return
        if not state.page_counts and asked is not None and received > asked:
            state.notes.append(
                f"the server sent {received} records when {asked} were asked (it ignores the "
                "page size); every record is kept"
            )
