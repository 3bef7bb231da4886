"""The paginators that follow what each answer says comes next (cursor, Relay, last id, next
link), a user's function, and the single page."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

from alloy_data.errors import ConfigurationError, PaginationError
from alloy_data.models import ActionResult
from alloy_data.pagination._base import (
    CURSOR_PATHS,
    NEXT_LINK_PATHS,
    PaginationState,
    Paginator,
    Parameters,
    answer_sources,
    as_flag,
    found_in,
    has_more,
    is_empty,
)
from alloy_data.pagination._records import iter_mappings, records_at

__all__ = [
    "CursorPaginator",
    "FunctionPaginator",
    "LastIdPaginator",
    "NextLinkPaginator",
    "RelayPaginator",
    "SinglePagePaginator",
    "find_page_info",
    "query_parameters",
]


class CursorPaginator(Paginator):
    """Cursor paging: the answer carries the next page's cursor, sent back as a parameter.

    Ends when the cursor is missing, null or empty, or when ``has_more`` is false.

    Args:
        cursor_parameter: The request parameter for the cursor (``cursor``, ``start_cursor``,
            ``after``, ``pageToken``, ``page_token``, ...).
        cursor_path: Where the answer gives the next cursor; None tries the usual places
            (``next_cursor``, ``nextCursor``, ``nextPageToken``, ``next_page_token``,
            ``paging.next.after``, ``meta.next_cursor``, ``response_metadata.next_cursor``,
            ``cursor``, ...).
        has_more_path: Where the answer says whether more follow; None tries the usual names.
        page_size_parameter: The request parameter for the page size, if any.
        page_size: The page size to ask for; None leaves it to the server.
        records_path: Where the records are; None finds them.
    """

    name: ClassVar[str] = "cursor"

    def __init__(
        self,
        *,
        cursor_parameter: str = "cursor",
        cursor_path: str | None = None,
        has_more_path: str | None = None,
        page_size_parameter: str | None = None,
        page_size: int | None = None,
        records_path: str | None = None,
    ) -> None:
        super().__init__(
            page_size_parameter=page_size_parameter, page_size=page_size, records_path=records_path
        )
        self.cursor_parameter = cursor_parameter
        self.cursor_path = cursor_path
        self.has_more_path = has_more_path

    def next_cursor(self, result: ActionResult) -> Any:
        """Return the answer's next cursor, or None when there is none."""
        paths = (self.cursor_path,) if self.cursor_path else CURSOR_PATHS
        cursor = found_in(result, paths)[0]
        return None if is_empty(cursor) or isinstance(cursor, (Mapping, list)) else cursor

    def _refuse_structured_cursor(self, result: ActionResult) -> None:
        """Raise when the cursor is an object or a list, which cannot be sent back as it is."""
        paths = (self.cursor_path,) if self.cursor_path else CURSOR_PATHS
        cursor, path = found_in(result, paths)
        if not isinstance(cursor, (Mapping, list)) or not cursor:
            return
        shown = repr(cursor) if len(repr(cursor)) <= 80 else repr(cursor)[:79] + "…"
        what = f"The next cursor at {path!r} is {shown}, not text or a number"
        if isinstance(cursor, Mapping):
            inner = next((k for k, v in cursor.items() if isinstance(v, (str, int))), "<field>")
            advice = (
                "Point the paginator at the value inside it: paginator=CursorPaginator("
                f"cursor_parameter={self.cursor_parameter!r}, cursor_path='{path}.{inner}')."
            )
        else:
            advice = (
                "Page by hand with a function that builds the next parameters from it: "
                "paginator=fn(sent_parameters, result, records)."
            )
        raise PaginationError(
            f"{what}, so it cannot be sent as {self.cursor_parameter!r}. {advice}"
        )

    def _next(
        self,
        state: PaginationState,
        sent: Parameters,
        result: ActionResult,
        records: Sequence[Mapping[str, Any]],
    ) -> Parameters | None:
        self._note_page_size(state, self._asked(sent), len(records))
        if has_more(result, self.has_more_path) is False:
            return None
        cursor = self.next_cursor(result)
        if cursor is None:
            self._refuse_structured_cursor(result)
            return None
        return {**sent, self.cursor_parameter: cursor}


def find_page_info(result: ActionResult) -> tuple[Mapping[str, Any] | None, str]:
    """Find a GraphQL ``pageInfo`` at any depth: returns it and the path of its parent."""
    for source in answer_sources(result):
        for path, obj in iter_mappings(source):
            for key in ("pageInfo", "page_info"):
                info = obj.get(key)
                if isinstance(info, Mapping) and any(
                    name in info for name in ("hasNextPage", "endCursor", "has_next_page")
                ):
                    return info, path
    return None, ""


class RelayPaginator(Paginator):
    """Relay/GraphQL connection paging: ``first`` and ``after`` in the request; the answer's
    ``pageInfo.hasNextPage`` and ``pageInfo.endCursor``, found at any depth
    (``data.orders.pageInfo``). Records are the ``edges[].node`` (or ``nodes``) beside it.

    Args:
        first_parameter: The request parameter for the page size.
        after_parameter: The request parameter for the cursor.
        page_size: The page size to ask for; None leaves it to the server.
        page_info_path: Where ``pageInfo`` is; None finds it.
        records_path: Where the records are; None takes the list beside ``pageInfo``.
    """

    name: ClassVar[str] = "relay"
    _attribute_for: ClassVar[dict[str, str]] = {"first_parameter": "page_size_parameter"}

    def __init__(
        self,
        *,
        first_parameter: str = "first",
        after_parameter: str = "after",
        page_size: int | None = None,
        page_info_path: str | None = None,
        records_path: str | None = None,
    ) -> None:
        super().__init__(
            page_size_parameter=first_parameter, page_size=page_size, records_path=records_path
        )
        self.after_parameter = after_parameter
        self.page_info_path = page_info_path

    def _page_info(self, result: ActionResult) -> tuple[Mapping[str, Any] | None, str]:
        if self.page_info_path:
            info = found_in(result, (self.page_info_path,))[0]
            parent = self.page_info_path.rpartition(".")[0]
            return (info if isinstance(info, Mapping) else None), parent
        return find_page_info(result)

    def _find(self, result: ActionResult) -> tuple[list[dict[str, Any]], str]:
        info, parent = self._page_info(result)
        if info is not None:
            prefix = f"{parent}." if parent else ""
            for path in (f"{prefix}edges[].node", f"{prefix}nodes"):
                found = records_at(result.data, path)
                if found is not None:
                    return found, path
        return super()._find(result)

    def _next(
        self,
        state: PaginationState,
        sent: Parameters,
        result: ActionResult,
        records: Sequence[Mapping[str, Any]],
    ) -> Parameters | None:
        self._note_page_size(state, self._asked(sent), len(records))
        info, _ = self._page_info(result)
        if info is None:
            return None
        has_next = as_flag(info.get("hasNextPage", info.get("has_next_page")))
        cursor = info.get("endCursor", info.get("end_cursor"))
        if has_next is False or is_empty(cursor):
            return None
        return {**sent, self.after_parameter: cursor}


class LastIdPaginator(Paginator):
    """Last-id paging (Stripe style): ``limit`` and ``starting_after`` in the request, where the
    cursor is the last record's id; the answer's ``has_more`` says whether more follow.

    Without ``has_more`` in the answer, an empty or short page is the end.

    Args:
        after_parameter: The request parameter for the last id seen.
        limit_parameter: The request parameter for the page size.
        id_field: The records' id field.
        has_more_path: Where the answer says whether more follow.
        page_size: The page size to ask for; None leaves it to the server.
        records_path: Where the records are; None finds them.
    """

    name: ClassVar[str] = "last_id"
    _attribute_for: ClassVar[dict[str, str]] = {"limit_parameter": "page_size_parameter"}

    def __init__(
        self,
        *,
        after_parameter: str = "starting_after",
        limit_parameter: str = "limit",
        id_field: str = "id",
        has_more_path: str | None = None,
        page_size: int | None = None,
        records_path: str | None = None,
    ) -> None:
        super().__init__(
            page_size_parameter=limit_parameter, page_size=page_size, records_path=records_path
        )
        self.after_parameter = after_parameter
        self.id_field = id_field
        self.has_more_path = has_more_path

    def _next(
        self,
        state: PaginationState,
        sent: Parameters,
        result: ActionResult,
        records: Sequence[Mapping[str, Any]],
    ) -> Parameters | None:
        asked = self._asked(sent)
        self._note_page_size(state, asked, len(records))
        if not records:
            return None
        more = has_more(result, self.has_more_path)
        if more is False or (more is None and self._short(state, asked, len(records))):
            return None
        last = records[-1].get(self.id_field)
        if is_empty(last):
            raise PaginationError(
                f"The last record of the page has no {self.id_field!r} to continue after. Set "
                "the id field by hand: LastIdPaginator(id_field=...)."
            )
        return {**sent, self.after_parameter: last}


def query_parameters(link: str) -> Parameters:
    """Parse a next-page URL's query string into parameters (repeated keys give lists)."""
    query = urlsplit(link).query if ("?" in link or "://" in link) else link
    parameters: Parameters = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key in parameters:
            existing = parameters[key]
            parameters[key] = (
                [*existing, value] if isinstance(existing, list) else [existing, value]
            )
        else:
            parameters[key] = value
    return parameters


class NextLinkPaginator(Paginator):
    """Next-link paging: the answer gives the next page's URL (``next``, ``next_page``,
    ``nextPage``, ``links.next``, ``_links.next.href``, ``@odata.nextLink``, ...).

    Requests go through the action, not to the URL: the URL's query string becomes the next
    request's parameters, merged over the first request's. Ends when the link is missing or null.

    Args:
        next_path: Where the answer gives the link; None tries the usual places.
        page_size_parameter: The request parameter for the page size, if any.
        page_size: The page size to ask for; None leaves it to the server.
        records_path: Where the records are; None finds them.
    """

    name: ClassVar[str] = "next_link"

    def __init__(
        self,
        *,
        next_path: str | None = None,
        page_size_parameter: str | None = None,
        page_size: int | None = None,
        records_path: str | None = None,
    ) -> None:
        super().__init__(
            page_size_parameter=page_size_parameter, page_size=page_size, records_path=records_path
        )
        self.next_path = next_path

    def next_link(self, result: ActionResult) -> str | None:
        """Return the answer's next-page link, or None when there is none."""
        paths = (self.next_path,) if self.next_path else NEXT_LINK_PATHS
        link = found_in(result, paths)[0]
        if isinstance(link, Mapping):
            link = link.get("href", link.get("url"))
        return link if isinstance(link, str) and link else None

    def _next(
        self,
        state: PaginationState,
        sent: Parameters,
        result: ActionResult,
        records: Sequence[Mapping[str, Any]],
    ) -> Parameters | None:
        self._note_page_size(state, self._asked(sent), len(records))
        link = self.next_link(result)
        if link is None:
            self._refuse_what_is_not_a_link(result)
            return None
        query = query_parameters(link)
        if not query:
            raise PaginationError(
                f"The next-page link {link!r} has no query string, so it cannot be followed "
                "through the action's parameters. Page by hand with "
                "paginator=FunctionPaginator(...)."
            )
        return {**self.first_parameters(state), **query}

    def _refuse_what_is_not_a_link(self, result: ActionResult) -> None:
        # A next field that holds something else than a link (a page number, an object
        # without href) would otherwise end the pull here, silently, with pages left behind.
        paths = (self.next_path,) if self.next_path else NEXT_LINK_PATHS
        value, path = found_in(result, paths)
        if is_empty(value) or value is False or (isinstance(value, Mapping) and not value):
            return
        raise PaginationError(
            f"The answer's {path!r} holds {value!r:.80}, which is not a link to the next page, "
            "so the pull cannot tell where to go on. If it is a page number, pass "
            "paginator='page_number'; otherwise set NextLinkPaginator(next_path=...) to the "
            "field that holds the link, or page with a FunctionPaginator."
        )


NextFunction = Callable[
    [Parameters, ActionResult, list[dict[str, Any]]], "Mapping[str, Any] | None"
]


class FunctionPaginator(Paginator):
    """Paging by a function of yours: ``fn(sent_parameters, result, records)`` returns the next
    request's parameters in full (for example ``{**sent, "page": sent["page"] + 1}``), or None
    when the page was the last.

    Args:
        fn: The function; it gets copies, so it may change what it is given.
        records_path: Where the records are; None finds them.
    """

    name: ClassVar[str] = "function"

    def __repr__(self) -> str:
        return f"FunctionPaginator({getattr(self.fn, '__qualname__', self.fn)})"

    def __init__(self, fn: NextFunction, *, records_path: str | None = None) -> None:
        if not callable(fn):
            raise ConfigurationError(f"FunctionPaginator needs a function, got {fn!r}.")
        super().__init__(records_path=records_path)
        self.fn = fn

    def _next(
        self,
        state: PaginationState,
        sent: Parameters,
        result: ActionResult,
        records: Sequence[Mapping[str, Any]],
    ) -> Parameters | None:
        following = self.fn(dict(sent), result, [dict(record) for record in records])
        if following is None:
            return None
        if not isinstance(following, Mapping):
            raise PaginationError(
                f"The paginator function returned {type(following).__name__}; it must return "
                "the next request's parameters as a dict, or None after the last page."
            )
        return dict(following)


class SinglePagePaginator(Paginator):
    """For an action that does not page: its one answer is the only page.

    Args:
        records_path: Where the records are; None finds them.
    """

    name: ClassVar[str] = "single"

    def _next(
        self,
        state: PaginationState,
        sent: Parameters,
        result: ActionResult,
        records: Sequence[Mapping[str, Any]],
    ) -> Parameters | None:
        return None
