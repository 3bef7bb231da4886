"""Choosing a paginator: from the action's parameters before the first request, then from the
first answer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from alloy_data.models import Action, ActionResult
from alloy_data.pagination._base import (
    CURSOR_PATHS,
    HAS_MORE_PATHS,
    NEXT_LINK_PATHS,
    TOTAL_PAGES_PATHS,
    TOTAL_PATHS,
    Paginator,
)
from alloy_data.pagination._cursors import (
    CursorPaginator,
    LastIdPaginator,
    NextLinkPaginator,
    RelayPaginator,
    SinglePagePaginator,
    find_page_info,
)
from alloy_data.pagination._page_size import PROBE_PAGE_SIZE, stated_maximum
from alloy_data.pagination._positional import (
    AlloyOffsetPaginator,
    OffsetPaginator,
    PageNumberPaginator,
)
from alloy_data.pagination._records import first_present, locate_records, lookup

__all__ = ["PAGING_PARAMETERS", "Detection", "RequestPlan", "detect_paginator", "plan_request"]

_CURSOR_PARAMETERS = (
    "start_cursor",
    "cursor",
    "pageToken",
    "page_token",
    "next_token",
    "nextToken",
    "continuation",
    "after",
)
_PAGE_PARAMETERS = ("page", "page_number", "pageNumber")
_OFFSET_PARAMETERS = ("offset", "skip", "$skip")
_PAGE_SIZE_PARAMETERS: dict[str | None, tuple[str, ...]] = {
    "relay": ("first",),
    "last_id": ("limit",),
    "cursor": (
        "page_size",
        "pageSize",
        "limit",
        "per_page",
        "perPage",
        "maxResults",
        "max_results",
        "count",
        "size",
    ),
    "page_number": ("per_page", "perPage", "pageSize", "page_size", "limit", "size", "count"),
    "offset": ("limit", "$top", "top", "count", "size", "page_size", "pageSize"),
    None: (
        "limit",
        "page_size",
        "pageSize",
        "per_page",
        "perPage",
        "maxResults",
        "$top",
        "top",
        "count",
    ),
}
# The request parameter most APIs pair with each answer field, for when the action does not say.
_CURSOR_PARAMETER_FOR_PATH = {
    "nextPageToken": "pageToken",
    "next_page_token": "page_token",
    "paging.next.after": "after",
    "next_token": "next_token",
    "nextToken": "nextToken",
}
_ALLOY_PAGE_SIZE = 50

#: Every request parameter that automatic paging may set (page sizes, offsets, pages, cursors).
PAGING_PARAMETERS: frozenset[str] = frozenset(
    {
        *_CURSOR_PARAMETERS,
        *_PAGE_PARAMETERS,
        *_OFFSET_PARAMETERS,
        *(name for names in _PAGE_SIZE_PARAMETERS.values() for name in names),
        "first",
        "starting_after",
    }
)


@dataclass(frozen=True)
class Detection:
    """What auto-detection chose, and why.

    Attributes:
        paginator: The paginator chosen.
        confident: False when it had to guess; ``reason`` then says how to set one by hand.
        reason: A sentence saying what was seen and what was chosen.
    """

    paginator: Paginator
    confident: bool
    reason: str


@dataclass(frozen=True)
class RequestPlan:
    """What to send first, chosen from the action's parameters before any request.

    Attributes:
        convention: The convention the parameter names suggest (``"cursor"``, ...), or None.
        parameters: The first request's parameters (the caller's, plus a page size).
        page_size_parameter: The parameter that sets the page size, if one was found.
        page_size: The page size sent, if any.
        page_size_source: Where that size came from: "parameters", "asked", "declared",
            "described", "alloy" or "probe".
        cursor_parameter: The parameter that takes a cursor, if one was found.
        known: Every parameter name the action declares or the caller passed.
        declared: Whether the action's metadata declares parameters at all.
        reason: How the page size was chosen, or "".
    """

    convention: str | None
    parameters: dict[str, Any]
    page_size_parameter: str | None = None
    page_size: int | None = None
    page_size_source: str = ""
    cursor_parameter: str | None = None
    known: frozenset[str] = frozenset()
    declared: bool = False
    reason: str = ""


def _as_size(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and value > 0:
        return int(value)
    if isinstance(value, str) and value.isdigit() and int(value) > 0:
        return int(value)
    return None


def _choose_page_size(
    name: str,
    convention: str | None,
    action: Action | None,
    parameters: Mapping[str, Any],
    page_size: int | None,
) -> tuple[int | None, str, str]:
    """Return the first request's page size, why, and where it came from.

    The source is "parameters" (the caller put it there: left alone), "asked" (``page_size``),
    "declared", "described" (the description's words), "alloy" (the Alloy API's own limit) or
    "probe" (nothing said; an app that allows less answers 400 or sends fewer).
    """
    declared = action.parameter(name) if action is not None else None
    maximum, source = stated_maximum(declared) if declared is not None else (None, "")
    stated = (
        "the most the action declares"
        if source == "declared"
        else "the most its description allows"
    )
    if page_size is not None:
        if maximum is not None and page_size > maximum:
            return (
                maximum,
                f"page size {page_size} lowered to {maximum} for {name!r}, {stated}",
                "asked",
            )
        return page_size, f"page size {page_size} as asked, sent as {name!r}", "asked"
    if name in parameters:
        size = _as_size(parameters[name])
        return size, f"page size {size} from your parameters ({name!r})", "parameters"
    if maximum is not None:
        return maximum, f"page size {maximum} for {name!r}, {stated}", source
    if convention == "offset" and name == "limit" and _alloy_offset_action(action):
        return (
            _ALLOY_PAGE_SIZE,
            f"page size {_ALLOY_PAGE_SIZE}, the most the Alloy API pages by",
            "alloy",
        )
    return (
        PROBE_PAGE_SIZE,
        f"page size {PROBE_PAGE_SIZE} asked for {name!r}, which states no maximum; lowered if "
        "the app refuses it, and the app's own size kept if it sends fewer",
        "probe",
    )


def _alloy_offset_action(action: Action | None) -> bool:
    # Without metadata the Alloy API's own paging is the likeliest reading of limit + offset.
    return action is None or not action.parameters


def plan_request(
    action: Action | None, parameters: Mapping[str, Any] | None, page_size: int | None = None
) -> RequestPlan:
    """Choose the first request's parameters from the action's parameter names.

    The page-size parameter gets the caller's ``page_size`` (lowered to a stated maximum), else
    the largest the action allows: its declared ``maximum``, else the maximum its description
    states in words, else (for ``limit`` + ``offset`` without metadata, the Alloy API's own
    paging) 50, else :data:`PROBE_PAGE_SIZE`, which the walker lowers if the app refuses it.

    Returns:
        The plan; its convention is only a first guess until the answer confirms it.
    """
    base = dict(parameters or {})
    declared = {p.name for p in action.parameters} if action is not None else set()
    known = frozenset(declared | set(base))

    def present(names: tuple[str, ...]) -> str | None:
        return next((name for name in names if name in known), None)

    convention: str | None = None
    cursor = None
    if "first" in known:
        convention, cursor = "relay", "after"
    elif "starting_after" in known:
        convention, cursor = "last_id", "starting_after"
    elif present(_CURSOR_PARAMETERS):
        convention, cursor = "cursor", present(_CURSOR_PARAMETERS)
    elif present(_PAGE_PARAMETERS):
        convention = "page_number"
    elif present(_OFFSET_PARAMETERS):
        convention = "offset"
    size_name = present(_PAGE_SIZE_PARAMETERS[convention])
    size, reason, source = (None, "", "")
    if size_name is not None:
        size, reason, source = _choose_page_size(size_name, convention, action, base, page_size)
    if size is not None and size_name is not None:
        base[size_name] = size
    elif page_size is not None:
        reason = (
            f"page_size={page_size} not sent: the action has no page-size parameter this "
            "library knows; pass it in parameters under the action's own name"
        )
    return RequestPlan(
        convention=convention,
        parameters=base,
        page_size_parameter=size_name,
        page_size=size,
        page_size_source=source,
        cursor_parameter=cursor,
        known=known,
        declared=bool(declared),
        reason=reason,
    )


def _looks_like_link(value: Any) -> bool:
    return isinstance(value, str) and ("?" in value or value.startswith(("http", "/")))


def _sources(result: ActionResult) -> list[Any]:
    return [result.data] if result.raw is result.data else [result.data, result.raw]


def _by_hand(paginator: Paginator) -> str:
    if isinstance(paginator, SinglePagePaginator):
        return (
            "if the action does page, set its paginator by hand, for example "
            "paginator=CursorPaginator(cursor_parameter='...', cursor_path='...') or "
            "paginator='offset'"
        )
    return (
        f"if that is wrong, set one by hand: paginator={paginator!r}, adjusted to the API, or "
        f"paginator={paginator.name!r}"
    )


def _from_answer(plan: RequestPlan, result: ActionResult) -> tuple[Paginator, bool, str, bool]:
    """Return (paginator, confident, reason, whether the answer showed paging at all)."""
    sources = _sources(result)
    size_name = plan.page_size_parameter
    pagination = first_present(sources, ("pagination",))[0]
    if isinstance(pagination, Mapping) and ("hasMore" in pagination or "nextOffset" in pagination):
        offset = present_in(plan, _OFFSET_PARAMETERS) or "offset"
        limit = size_name if plan.convention in ("offset", None) and size_name else "limit"
        return (
            AlloyOffsetPaginator(limit_parameter=limit, offset_parameter=offset),
            True,
            "the answer has pagination.hasMore: the Alloy API's offset paging",
            True,
        )
    info, parent = find_page_info(result)
    if info is not None:
        where = f"{parent}.pageInfo" if parent else "pageInfo"
        relay = RelayPaginator(page_size=plan.page_size)
        confident = "after" in plan.known or not plan.declared
        return relay, confident, f"the answer has {where}: Relay/GraphQL paging", True
    cursor, cursor_path = first_present(sources, CURSOR_PATHS)
    if cursor_path is not None and plan.convention == "cursor" and not _looks_like_link(cursor):
        assert plan.cursor_parameter is not None
        paginator: Paginator = CursorPaginator(
            cursor_parameter=plan.cursor_parameter,
            cursor_path=cursor_path,
            page_size_parameter=size_name,
        )
        reason = f"the action takes {plan.cursor_parameter!r} and the answer has {cursor_path!r}"
        return paginator, True, f"{reason}: cursor paging", True
    if plan.convention == "last_id":
        paginator = LastIdPaginator(limit_parameter=size_name or "limit")
        return paginator, True, "the action takes 'starting_after': last-id paging", True
    # A next-page URL says exactly what to send next, so it outranks parameter names.
    link, link_path = first_present(sources, NEXT_LINK_PATHS)
    if _looks_like_link(link):
        paginator = NextLinkPaginator(next_path=link_path, page_size_parameter=size_name)
        return paginator, True, f"the answer has a next-page link at {link_path!r}", True
    has_total = first_present(sources, (*TOTAL_PATHS, *HAS_MORE_PATHS))[1]
    if plan.convention == "offset":
        offset = present_in(plan, _OFFSET_PARAMETERS) or "offset"
        paginator = OffsetPaginator(offset_parameter=offset, limit_parameter=size_name or "limit")
        told = f" and the answer has {has_total!r}" if has_total else ""
        return paginator, True, f"the action takes {offset!r}{told}: offset paging", True
    if plan.convention == "page_number":
        page = present_in(plan, _PAGE_PARAMETERS) or "page"
        paginator = PageNumberPaginator(page_parameter=page, page_size_parameter=size_name)
        return paginator, True, f"the action takes {page!r}: page-number paging", True
    if link_path is not None and link is None and cursor_path is None:
        paginator = NextLinkPaginator(next_path=link_path, page_size_parameter=size_name)
        reason = f"the answer's next-page link {link_path!r} is null: the only page"
        return paginator, True, reason, True
    if cursor_path is not None and not _looks_like_link(cursor):
        name = plan.cursor_parameter or _CURSOR_PARAMETER_FOR_PATH.get(cursor_path, "cursor")
        paginator = CursorPaginator(
            cursor_parameter=name, cursor_path=cursor_path, page_size_parameter=size_name
        )
        confident = name in plan.known
        told = "" if confident else " (a guess: the action does not name its cursor parameter)"
        reason = f"the answer has {cursor_path!r}: cursor paging, sending it back as {name!r}"
        return paginator, confident, reason + told, True
    if plan.convention == "cursor":
        assert plan.cursor_parameter is not None
        paginator = CursorPaginator(
            cursor_parameter=plan.cursor_parameter, page_size_parameter=size_name
        )
        reason = (
            f"the action takes {plan.cursor_parameter!r} but the answer gives no next cursor "
            "in a known place"
        )
        return paginator, True, reason, False
    if plan.convention == "relay":
        reason = "the action takes 'first' but the answer has no pageInfo"
        return RelayPaginator(page_size=plan.page_size), True, reason, False
    has_more_path = first_present(sources, HAS_MORE_PATHS)[1]
    records_have_ids = _records_have_ids(result)
    if has_more_path is not None and records_have_ids:
        stripe_like = lookup(result.data, "object") == "list"
        paginator = LastIdPaginator(limit_parameter=size_name or "limit")
        reason = f"the answer has {has_more_path!r} and records with ids: last-id paging"
        return paginator, stripe_like and not plan.declared, reason, True
    pages, pages_path = first_present(sources, (*TOTAL_PAGES_PATHS, "next_page", "nextPage"))
    if isinstance(pages, int) and not isinstance(pages, bool):
        paginator = PageNumberPaginator(page_size_parameter=size_name)
        reason = f"the answer has {pages_path!r}: page-number paging with 'page'"
        return paginator, False, reason, True
    total, total_path = first_present(sources, TOTAL_PATHS)
    if isinstance(total, int) and not isinstance(total, bool):
        paginator = OffsetPaginator(limit_parameter=size_name or "limit")
        reason = f"the answer has {total_path!r}: offset paging with 'offset'"
        return paginator, False, reason, True
    return SinglePagePaginator(), True, "the answer shows no paging", False


def present_in(plan: RequestPlan, names: tuple[str, ...]) -> str | None:
    """The first of ``names`` that the action declares or the caller passed."""
    return next((name for name in names if name in plan.known), None)


def _records_have_ids(result: ActionResult) -> bool:
    records = locate_records(result.data).records
    return bool(records) and all("id" in record for record in records)


def detect_paginator(plan: RequestPlan, sent: Mapping[str, Any], result: ActionResult) -> Detection:
    """Choose the paginator from the first answer (and the plan made before it).

    Guesses that cannot matter (the first page is also the last) count as confident; a
    first page that is full while the answer shows no way on does not.

    Returns:
        The detection, whose reason says what was seen and, when unsure, how to set one.
    """
    paginator, confident, reason, evidence = _from_answer(plan, result)
    probe = paginator.start(plan.parameters, page_size=plan.page_size)
    records = paginator.records(result, probe)
    following = paginator.next_parameters(probe, sent, result, records)
    if following is None and evidence and not confident:
        confident = True
        reason += "; the first page is also the last, so nothing rests on the guess"
    elif following is None and not evidence and plan.page_size and len(records) >= plan.page_size:
        confident = False
        reason += (
            f"; the first page is full ({len(records)} records), so more may exist that this "
            "pull cannot reach"
        )
    if isinstance(paginator, SinglePagePaginator) and confident:
        reason += ": one page"
    elif not confident:
        reason += f"; {_by_hand(paginator)}"
    return Detection(paginator, confident, reason)
