"""The paginators that page by position (Alloy offset, offset/limit, page number), which can
also compute every page's parameters up front for concurrent fetching."""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from alloy_data.models import ActionResult
from alloy_data.pagination._base import (
    TOTAL_PAGES_PATHS,
    TOTAL_PATHS,
    PaginationState,
    Paginator,
    Parameters,
    as_count,
    as_int,
    found_in,
    has_more,
)

__all__ = ["AlloyOffsetPaginator", "OffsetPaginator", "PageNumberPaginator", "PositionalPaginator"]


class PositionalPaginator(Paginator):
    """Shared by the conventions that page by position (offset, page number)."""

    supports_parallel: ClassVar[bool] = True

    def __init__(
        self,
        *,
        page_size_parameter: str | None,
        page_size: int | None = None,
        records_path: str | None = None,
        total_path: str | None = None,
        has_more_path: str | None = None,
    ) -> None:
        super().__init__(
            page_size_parameter=page_size_parameter, page_size=page_size, records_path=records_path
        )
        self.total_path = total_path
        self.has_more_path = has_more_path

    def total(self, result: ActionResult) -> int | None:
        """Return the total record count when the answer tells it, else None."""
        paths = (self.total_path,) if self.total_path else TOTAL_PATHS
        return as_count(found_in(result, paths)[0])

    def _has_more(self, result: ActionResult) -> bool | None:
        return has_more(result, self.has_more_path)

    def total_pages(self, result: ActionResult, page_size: int) -> int | None:
        """Return how many pages of ``page_size`` there are, when the answer tells.

        A concurrent fetcher reads this from the first page to know how many to schedule.
        """
        total = self.total(result)
        return None if total is None else math.ceil(total / page_size) if page_size else None

    @abstractmethod
    def parameters_for_page(
        self, base_parameters: Mapping[str, Any], page_size: int, index: int
    ) -> Parameters:
        """Return the parameters of page ``index`` (0-based) of ``page_size`` records."""

    @abstractmethod
    def _position(self, parameters: Mapping[str, Any], page_size: int) -> int:
        """How many records come before the page requested with ``parameters``."""

    def page_index(self, parameters: Mapping[str, Any], page_size: int) -> int:
        """Return the 0-based index of the page ``parameters`` ask for, in pages of
        ``page_size`` records (for a walk resumed part-way, how many pages lie before it)."""
        return self._position(parameters, page_size) // page_size if page_size else 0

    def is_last_page(
        self,
        parameters: Mapping[str, Any],
        result: ActionResult,
        records: Sequence[Mapping[str, Any]],
        *,
        trust_total: bool = True,
    ) -> bool:
        """Tell from one page alone whether it is the last (or past the end).

        For fetching pages concurrently: stop scheduling once a page says it is the last.
        Explicit signals (``has_more``, a total) are trusted first; without them a page shorter
        than asked is taken as the last, which is only safe once the first page has shown that
        the server honours the page size (came back full, or told a total). With
        ``trust_total=False`` (an earlier page showed the total wrong) totals are ignored.
        """
        if not records:
            return True
        has_more = self._has_more(result)
        if has_more is not None:
            return not has_more
        asked = self._asked(parameters) or len(records)
        position = self._position(parameters, asked)
        total = self.total(result) if trust_total else None
        if total is not None:
            end = position + len(records)
            # A page that starts before the total and runs past it shows the total is wrong:
            # the page's length decides instead.
            return len(records) < asked if position < total < end else end >= total
        pages = self.total_pages(result, asked) if trust_total else None
        if pages is not None:
            return position // asked + 1 >= pages
        return len(records) < asked


class AlloyOffsetPaginator(PositionalPaginator):
    """The Alloy API's own offset paging: ``limit`` (at most 50) and ``offset`` in the request,
    ``pagination.hasMore`` and ``pagination.nextOffset`` in the answer's envelope.

    Args:
        limit_parameter: The request parameter for the page size.
        offset_parameter: The request parameter for the offset.
        has_more_path: Where the answer (envelope) says whether more pages follow.
        next_offset_path: Where the answer says the next offset.
        page_size: The page size to ask for; at most ``max_page_size``.
        max_page_size: The largest page the API allows.
        records_path: Where the records are; None finds them.
    """

    name: ClassVar[str] = "alloy_offset"
    _attribute_for: ClassVar[dict[str, str]] = {"limit_parameter": "page_size_parameter"}

    def __init__(
        self,
        *,
        limit_parameter: str = "limit",
        offset_parameter: str = "offset",
        has_more_path: str = "pagination.hasMore",
        next_offset_path: str = "pagination.nextOffset",
        page_size: int | None = 50,
        max_page_size: int = 50,
        records_path: str | None = None,
    ) -> None:
        super().__init__(
            page_size_parameter=limit_parameter,
            page_size=page_size,
            records_path=records_path,
            has_more_path=has_more_path,
            total_path="pagination.total",
        )
        self.offset_parameter = offset_parameter
        self.next_offset_path = next_offset_path
        self.max_page_size = max_page_size

    def start(
        self, parameters: Mapping[str, Any] | None = None, *, page_size: int | None = None
    ) -> PaginationState:
        """Begin a walk; a page size above ``max_page_size`` is lowered to it, with a note."""
        state = super().start(parameters, page_size=page_size)
        if state.page_size is not None and state.page_size > self.max_page_size:
            state.notes.append(
                f"page size {state.page_size} lowered to {self.max_page_size}, the most the "
                "Alloy API returns per page"
            )
            state.page_size = self.max_page_size
        return state

    def _position(self, parameters: Mapping[str, Any], page_size: int) -> int:
        return as_int(parameters.get(self.offset_parameter)) or 0

    def parameters_for_page(
        self, base_parameters: Mapping[str, Any], page_size: int, index: int
    ) -> Parameters:
        """Return the parameters of page ``index`` (0-based) of ``page_size`` records."""
        size = min(page_size, self.max_page_size)
        start = as_int(base_parameters.get(self.offset_parameter)) or 0
        assert self.page_size_parameter is not None
        return {
            **base_parameters,
            self.page_size_parameter: size,
            self.offset_parameter: start + index * size,
        }

    def _next(
        self,
        state: PaginationState,
        sent: Parameters,
        result: ActionResult,
        records: Sequence[Mapping[str, Any]],
    ) -> Parameters | None:
        has_more = self._has_more(result)
        asked = self._asked(sent)
        self._note_page_size(state, asked, len(records))
        if has_more is False:
            return None
        if has_more is None and self._short(state, asked, len(records)):
            return None
        next_offset = as_int(found_in(result, (self.next_offset_path,))[0])
        if next_offset is None:
            next_offset = self._position(sent, 0) + len(records)
        following = {**sent, self.offset_parameter: next_offset}
        # A first request sent without a limit got the server's default page size; the offset
        # the server returns stays right whatever the size, so ask for full pages from now on.
        limit = self.page_size_parameter
        if limit is not None and limit not in sent and state.page_size is not None:
            following[limit] = state.page_size
        return following


class OffsetPaginator(PositionalPaginator):
    """Offset/limit paging (also ``skip``/``top``): advances by the records received.

    Ends on an empty page, when a total (``total``, ``total_count``, ``totalCount``, ...) is
    reached, when the answer's ``has_more`` is false, or on a page shorter than the earlier ones.

    Args:
        offset_parameter: The request parameter for the offset (``skip``, ``$skip``, ...).
        limit_parameter: The request parameter for the page size (``top``, ``$top``, ...).
        page_size: The page size to ask for; None leaves it to the server.
        start: The first offset when the parameters do not give one.
        total_path: Where the answer gives the total record count; None tries the usual names.
        has_more_path: Where the answer says whether more follow; None tries the usual names.
        records_path: Where the records are; None finds them.
    """

    name: ClassVar[str] = "offset"
    _attribute_for: ClassVar[dict[str, str]] = {
        "limit_parameter": "page_size_parameter",
        "start": "start_offset",
    }

    def __init__(
        self,
        *,
        offset_parameter: str = "offset",
        limit_parameter: str = "limit",
        page_size: int | None = None,
        start: int = 0,
        total_path: str | None = None,
        has_more_path: str | None = None,
        records_path: str | None = None,
    ) -> None:
        super().__init__(
            page_size_parameter=limit_parameter,
            page_size=page_size,
            records_path=records_path,
            total_path=total_path,
            has_more_path=has_more_path,
        )
        self.offset_parameter = offset_parameter
        self.start_offset = start

    def _position(self, parameters: Mapping[str, Any], page_size: int) -> int:
        offset = as_int(parameters.get(self.offset_parameter))
        return self.start_offset if offset is None else offset

    def parameters_for_page(
        self, base_parameters: Mapping[str, Any], page_size: int, index: int
    ) -> Parameters:
        """Return the parameters of page ``index`` (0-based) of ``page_size`` records."""
        assert self.page_size_parameter is not None
        return {
            **base_parameters,
            self.page_size_parameter: page_size,
            self.offset_parameter: self._position(base_parameters, page_size) + index * page_size,
        }

    def _next(
        self,
        state: PaginationState,
        sent: Parameters,
        result: ActionResult,
        records: Sequence[Mapping[str, Any]],
    ) -> Parameters | None:
        received = len(records)
        asked = self._asked(sent)
        self._note_page_size(state, asked, received)
        if received == 0:
            return None
        following = self._position(sent, 0) + received
        has_more = self._has_more(result)
        total = self._trusted_total(state, result, following)
        if has_more is False or (total is not None and following >= total):
            return None
        if has_more is None and total is None and self._short(state, asked, received):
            return None
        return {**sent, self.offset_parameter: following}


class PageNumberPaginator(PositionalPaginator):
    """Page-number paging: ``page`` (1-based unless ``start`` says otherwise) and a page size.

    Ends on an empty page, on the last of ``total_pages``/``pageCount``/``totalPages``, when a
    total record count is reached, when ``has_more`` is false, or on a short page.

    Args:
        page_parameter: The request parameter for the page number.
        page_size_parameter: The request parameter for the page size (``per_page``,
            ``pageSize``, ``page_size``, ``limit``), or None to send none.
        page_size: The page size to ask for; None leaves it to the server.
        start: The number of the first page (1, or 0 for zero-based APIs).
        total_pages_path: Where the answer gives the page count; None tries the usual names.
        total_path: Where the answer gives the record count; None tries the usual names.
        has_more_path: Where the answer says whether more follow; None tries the usual names.
        records_path: Where the records are; None finds them.
    """

    name: ClassVar[str] = "page_number"
    _attribute_for: ClassVar[dict[str, str]] = {"start": "start_page"}

    def __init__(
        self,
        *,
        page_parameter: str = "page",
        page_size_parameter: str | None = "per_page",
        page_size: int | None = None,
        start: int = 1,
        total_pages_path: str | None = None,
        total_path: str | None = None,
        has_more_path: str | None = None,
        records_path: str | None = None,
    ) -> None:
        super().__init__(
            page_size_parameter=page_size_parameter,
            page_size=page_size,
            records_path=records_path,
            total_path=total_path,
            has_more_path=has_more_path,
        )
        self.page_parameter = page_parameter
        self.start_page = start
        self.total_pages_path = total_pages_path

    def _page(self, parameters: Mapping[str, Any]) -> int:
        page = as_int(parameters.get(self.page_parameter))
        return self.start_page if page is None else page

    def _position(self, parameters: Mapping[str, Any], page_size: int) -> int:
        return (self._page(parameters) - self.start_page) * page_size

    def total_pages(self, result: ActionResult, page_size: int) -> int | None:
        """Return how many pages of ``page_size`` there are, when the answer tells."""
        paths = (self.total_pages_path,) if self.total_pages_path else TOTAL_PAGES_PATHS
        pages = as_count(found_in(result, paths)[0])
        return pages if pages is not None else super().total_pages(result, page_size)

    def parameters_for_page(
        self, base_parameters: Mapping[str, Any], page_size: int, index: int
    ) -> Parameters:
        """Return the parameters of page ``index`` (0-based) of ``page_size`` records."""
        parameters = {**base_parameters, self.page_parameter: self._page(base_parameters) + index}
        if self.page_size_parameter:
            parameters[self.page_size_parameter] = page_size
        return parameters

    def _next(
        self,
        state: PaginationState,
        sent: Parameters,
        result: ActionResult,
        records: Sequence[Mapping[str, Any]],
    ) -> Parameters | None:
        received = len(records)
        asked = self._asked(sent)
        self._note_page_size(state, asked, received)
        if received == 0:
            return None
        page = self._page(sent)
        has_more = self._has_more(result)
        if has_more is not None:
            return {**sent, self.page_parameter: page + 1} if has_more else None
        paths = (self.total_pages_path,) if self.total_pages_path else TOTAL_PAGES_PATHS
        pages = as_count(found_in(result, paths)[0])
        if pages is not None:
            return (
                None
                if page - self.start_page + 1 >= pages
                else {**sent, self.page_parameter: page + 1}
            )
        so_far = sum(state.page_counts) + received
        total = self._trusted_total(state, result, so_far)
        if total is not None:
            return None if so_far >= total else {**sent, self.page_parameter: page + 1}
        if self._short(state, asked, received):
            return None
        return {**sent, self.page_parameter: page + 1}
