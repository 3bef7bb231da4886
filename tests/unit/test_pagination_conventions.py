"""Every paging convention, walked with paginator="auto" against a fake app that honours it."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from alloy_data.errors import PaginationWarning
from alloy_data.models import Action, ActionParameter, ActionResult
from alloy_data.pagination import (
    AlloyOffsetPaginator,
    CursorPaginator,
    LastIdPaginator,
    NextLinkPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    PageWalker,
    Paginator,
    RelayPaginator,
    SinglePagePaginator,
)

Body = dict[str, Any]
Records = list[dict[str, Any]]

PAGE = 10


def make_records(count: int) -> Records:
    return [
        {"id": f"rec_{i:04d}", "number": i, "customer": {"email": f"c{i}@example.com"}}
        for i in range(count)
    ]


def number(params: dict[str, Any], name: str, default: int) -> int:
    value = params.get(name)
    return default if value is None else int(value)


def action(*names: str, maximum: dict[str, int] | None = None) -> Action:
    maximum = maximum or {}
    return Action(
        action_id="list-things",
        parameters=tuple(
            ActionParameter(name=name, type="integer", maximum=maximum.get(name)) for name in names
        ),
    )


# The fake apps: each answers one request of its convention with the third party's own body.


def alloy_offset(records: Records, params: dict[str, Any]) -> Body:
    limit = min(number(params, "limit", 20), 50)
    offset = number(params, "offset", 0)
    chunk = records[offset : offset + limit]
    more = offset + limit < len(records)
    return {
        "data": chunk,
        "pagination": {"hasMore": more, "nextOffset": offset + len(chunk) if more else None},
    }


def offset_with_total(records: Records, params: dict[str, Any]) -> Body:
    offset, limit = number(params, "offset", 0), number(params, "limit", 5)
    return {"items": records[offset : offset + limit], "total_count": len(records)}


def skip_top(records: Records, params: dict[str, Any]) -> Body:
    skip, top = number(params, "skip", 0), number(params, "top", 5)
    return {"records": records[skip : skip + top]}


def pages_with_count(records: Records, params: dict[str, Any]) -> Body:
    page, size = number(params, "page", 1), number(params, "per_page", 5)
    start = (page - 1) * size
    return {
        "tickets": records[start : start + size],
        "page": page,
        "total_pages": math.ceil(len(records) / size),
    }


def pages_plain(records: Records, params: dict[str, Any]) -> Body:
    page, size = number(params, "page", 1), number(params, "pageSize", 5)
    start = (page - 1) * size
    return {"data": records[start : start + size]}


def _cursor_page(records: Records, cursor: Any, size: int) -> tuple[Records, str | None]:
    start = int(cursor.removeprefix("cur_")) if cursor else 0
    chunk = records[start : start + size]
    end = start + len(chunk)
    return chunk, (f"cur_{end}" if end < len(records) else None)


def notion(records: Records, params: dict[str, Any]) -> Body:
    chunk, following = _cursor_page(
        records, params.get("start_cursor"), number(params, "page_size", 5)
    )
    return {
        "object": "list",
        "results": chunk,
        "next_cursor": following,
        "has_more": following is not None,
    }


def google(records: Records, params: dict[str, Any]) -> Body:
    chunk, following = _cursor_page(records, params.get("pageToken"), number(params, "pageSize", 5))
    body: Body = {"kind": "drive#fileList", "files": chunk}
    if following:
        body["nextPageToken"] = following
    return body


def hubspot(records: Records, params: dict[str, Any]) -> Body:
    chunk, following = _cursor_page(records, params.get("after"), number(params, "limit", 5))
    body: Body = {"results": chunk}
    if following:
        link = f"https://api.hubapi.com/crm/v3/objects/contacts?after={following}"
        body["paging"] = {"next": {"after": following, "link": link}}
    return body


def slack(records: Records, params: dict[str, Any]) -> Body:
    chunk, following = _cursor_page(records, params.get("cursor"), number(params, "limit", 5))
    return {"ok": True, "channels": chunk, "response_metadata": {"next_cursor": following or ""}}


def shopify(records: Records, params: dict[str, Any]) -> Body:
    chunk, following = _cursor_page(records, params.get("after"), number(params, "first", 5))
    start = int(params["after"].removeprefix("cur_")) if params.get("after") else 0
    edges = [{"cursor": f"cur_{start + i + 1}", "node": node} for i, node in enumerate(chunk)]
    end_cursor = edges[-1]["cursor"] if edges else None
    page_info = {"hasNextPage": following is not None, "endCursor": end_cursor}
    return {"data": {"orders": {"edges": edges, "pageInfo": page_info}}}


def stripe(records: Records, params: dict[str, Any]) -> Body:
    limit = number(params, "limit", 5)
    after = params.get("starting_after")
    start = next(i + 1 for i, r in enumerate(records) if r["id"] == after) if after else 0
    chunk = records[start : start + limit]
    return {
        "object": "list",
        "url": "/v1/charges",
        "data": chunk,
        "has_more": start + limit < len(records),
    }


def zendesk(records: Records, params: dict[str, Any]) -> Body:
    page, size = number(params, "page", 1), number(params, "per_page", 5)
    start = (page - 1) * size
    more = start + size < len(records)
    link = f"https://acme.zendesk.com/api/v2/tickets.json?page={page + 1}&per_page={size}"
    return {
        "tickets": records[start : start + size],
        "next_page": link if more else None,
        "count": len(records),
    }


def odata(records: Records, params: dict[str, Any]) -> Body:
    top = number(params, "$top", 5)
    start = number(params, "$skiptoken", 0)
    body: Body = {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users",
        "value": records[start : start + top],
    }
    if start + top < len(records):
        link = f"https://graph.microsoft.com/v1.0/users?$top={top}&$skiptoken={start + top}"
        body["@odata.nextLink"] = link
    return body


ENVELOPES: dict[str, Callable[[Body], Any]] = {
    "success_data": lambda body: {"success": True, "data": body},
    "response_data": lambda body: {
        "responseData": body,
        "executionId": "exec_0001",
        "status": "success",
    },
    "success_result": lambda body: {"success": True, "result": body},
    # Alloy's own offset paging answers in its envelope: these take {data, pagination}.
    "data_pagination": lambda body: body,
    "success_data_pagination": lambda body: {"success": True, **body},
    "response_data_pagination": lambda body: {
        "responseData": body["data"],
        "executionId": "exec_0001",
        "status": "success",
        "pagination": body["pagination"],
    },
}
THIRD_PARTY = ("success_data", "response_data", "success_result")
ALLOY = ("data_pagination", "success_data_pagination", "response_data_pagination")


@dataclass(frozen=True)
class FakeApp:
    respond: Callable[[Records, dict[str, Any]], Body]
    action: Action
    size_parameter: str
    expected: type[Paginator]
    page_size: int = PAGE
    envelopes: tuple[str, ...] = THIRD_PARTY
    # The answer says nothing at the end but omits the cursor, so one full page is ambiguous.
    ends_by_absence: bool = False
    # What detection picks when everything fits on the first page.
    expected_single: type[Paginator] | None = None


APPS = {
    "alloy_offset": FakeApp(
        alloy_offset,
        action("limit", "offset", maximum={"limit": 50}),
        "limit",
        AlloyOffsetPaginator,
        page_size=50,
        envelopes=ALLOY,
    ),
    "offset_total": FakeApp(
        offset_with_total,
        action("offset", "limit", maximum={"limit": PAGE}),
        "limit",
        OffsetPaginator,
    ),
    "skip_top": FakeApp(
        skip_top, action("skip", "top", maximum={"top": PAGE}), "top", OffsetPaginator
    ),
    "page_total_pages": FakeApp(
        pages_with_count,
        action("page", "per_page", maximum={"per_page": PAGE}),
        "per_page",
        PageNumberPaginator,
    ),
    "page_plain": FakeApp(
        pages_plain,
        action("page", "pageSize", maximum={"pageSize": PAGE}),
        "pageSize",
        PageNumberPaginator,
    ),
    "cursor_notion": FakeApp(
        notion,
        action("start_cursor", "page_size", maximum={"page_size": PAGE}),
        "page_size",
        CursorPaginator,
    ),
    "cursor_google": FakeApp(
        google,
        action("pageToken", "pageSize", maximum={"pageSize": PAGE}),
        "pageSize",
        CursorPaginator,
        ends_by_absence=True,
    ),
    "cursor_hubspot": FakeApp(
        hubspot,
        action("after", "limit", maximum={"limit": PAGE}),
        "limit",
        CursorPaginator,
        ends_by_absence=True,
    ),
    "cursor_slack": FakeApp(
        slack, action("cursor", "limit", maximum={"limit": PAGE}), "limit", CursorPaginator
    ),
    "relay_shopify": FakeApp(
        shopify,
        action("first", "after", "query", maximum={"first": PAGE}),
        "first",
        RelayPaginator,
    ),
    "last_id_stripe": FakeApp(
        stripe,
        action("limit", "starting_after", "ending_before", maximum={"limit": PAGE}),
        "limit",
        LastIdPaginator,
    ),
    "next_link_zendesk": FakeApp(
        zendesk, action("per_page", maximum={"per_page": PAGE}), "per_page", NextLinkPaginator
    ),
    "next_link_odata": FakeApp(
        odata,
        action("$top", "$filter", maximum={"$top": PAGE}),
        "$top",
        NextLinkPaginator,
        ends_by_absence=True,
        expected_single=SinglePagePaginator,
    ),
}


def serve(app: FakeApp, records: Records, envelope: str):
    calls: list[dict[str, Any]] = []

    def fetch(params: dict[str, Any]) -> ActionResult:
        calls.append(dict(params))
        return ActionResult.from_json(ENVELOPES[envelope](app.respond(records, params)))

    return fetch, calls


def walk_cases():
    for name, app in APPS.items():
        for envelope in app.envelopes:
            size = app.page_size
            for count in (0, 1, size, size + 1, 7 * size + 3):
                yield pytest.param(name, envelope, count, id=f"{name}-{envelope}-{count}")


@pytest.mark.parametrize(("app_name", "envelope", "count"), list(walk_cases()))
def test_auto_walk_returns_every_record_once_in_order(app_name, envelope, count):
    app = APPS[app_name]
    records = make_records(count)
    fetch, calls = serve(app, records, envelope)
    walker = PageWalker(fetch, action=app.action, parameters={"status": "any"})

    ambiguous = app.ends_by_absence and count == app.page_size
    expect = (
        pytest.warns(PaginationWarning, match="first page is full")
        if ambiguous
        else contextlib.nullcontext()
    )
    with expect:
        pages = list(walker)

    ids = [record["id"] for page in pages for record in page.records]
    assert ids == [record["id"] for record in records]
    assert [page.number for page in pages] == list(range(1, len(pages) + 1))
    assert walker.stop_reason is not None
    assert walker.stop_reason.kind in ("end", "single_page")
    assert not walker.stop_reason.data_may_be_missing
    # At most one request beyond the pages that hold records (to see an empty page).
    assert len(calls) <= max(1, math.ceil(count / app.page_size)) + 1
    assert all(call["status"] == "any" for call in calls)


@pytest.mark.parametrize("app_name", list(APPS))
def test_detection_picks_the_convention(app_name):
    app = APPS[app_name]
    fetch, _ = serve(app, make_records(5 * app.page_size), app.envelopes[0])
    walker = PageWalker(fetch, action=app.action)
    list(walker)
    assert walker.detection is not None
    assert type(walker.detection.paginator) is app.expected
    assert walker.detection.confident, walker.detection.reason


@pytest.mark.parametrize("app_name", list(APPS))
def test_detection_of_a_single_short_page(app_name):
    app = APPS[app_name]
    fetch, _ = serve(app, make_records(3), app.envelopes[0])
    walker = PageWalker(fetch, action=app.action)
    list(walker)
    assert walker.detection is not None
    assert type(walker.detection.paginator) is (app.expected_single or app.expected)


@pytest.mark.parametrize("app_name", list(APPS))
def test_the_first_request_asks_for_the_largest_page_the_action_allows(app_name):
    app = APPS[app_name]
    fetch, calls = serve(app, make_records(3 * app.page_size), app.envelopes[0])
    pages = list(PageWalker(fetch, action=app.action))
    assert calls[0][app.size_parameter] == app.page_size
    assert len(pages[0].records) == app.page_size


@pytest.mark.parametrize("app_name", list(APPS))
def test_the_callers_page_size_wins(app_name):
    app = APPS[app_name]
    records = make_records(20)
    fetch, calls = serve(app, records, app.envelopes[0])
    pages = list(PageWalker(fetch, action=app.action, page_size=4))
    assert int(calls[0][app.size_parameter]) == 4
    assert [len(page.records) for page in pages][:5] == [4, 4, 4, 4, 4]
    assert [r["id"] for page in pages for r in page.records] == [r["id"] for r in records]


@pytest.mark.parametrize(
    ("app_name", "warns"),
    [
        pytest.param("alloy_offset", False, id="alloy_offset"),
        pytest.param("relay_shopify", False, id="relay_shopify"),
        pytest.param("last_id_stripe", False, id="last_id_stripe"),
        pytest.param("next_link_zendesk", False, id="next_link_zendesk"),
        pytest.param("next_link_odata", False, id="next_link_odata"),
        pytest.param("offset_total", True, id="offset_total-guessed"),
        pytest.param("cursor_slack", True, id="cursor_slack-guessed"),
    ],
)
def test_walks_without_action_metadata(app_name, warns):
    app = APPS[app_name]
    records = make_records(4 * app.page_size + 1)
    fetch, _ = serve(app, records, app.envelopes[0])
    walker = PageWalker(fetch, parameters={app.size_parameter: app.page_size})
    expect = pytest.warns(PaginationWarning, match="by hand") if warns else contextlib.nullcontext()
    with expect:
        pages = list(walker)
    assert [r["id"] for page in pages for r in page.records] == [r["id"] for r in records]
    assert walker.detection is not None
    assert type(walker.detection.paginator) is app.expected
    assert walker.detection.confident is not warns


def test_pages_carry_their_parameters_next_state_total_and_raw_body():
    app = APPS["offset_total"]
    fetch, _ = serve(app, make_records(25), "response_data")
    pages = list(PageWalker(fetch, action=app.action))
    assert [page.parameters.get("offset", 0) for page in pages] == [0, 10, 20]
    assert [page.next_parameters for page in pages] == [
        {"limit": 10, "offset": 10},
        {"limit": 10, "offset": 20},
        None,
    ]
    assert {page.total for page in pages} == {25}
    assert pages[0].raw["executionId"] == "exec_0001"
    assert pages[0].records_path == "items"


def test_relay_records_are_the_nodes_without_edge_cursors():
    app = APPS["relay_shopify"]
    fetch, _ = serve(app, make_records(12), "response_data")
    pages = list(PageWalker(fetch, action=app.action))
    assert pages[0].records_path == "data.orders.edges[].node"
    assert all("cursor" not in record for page in pages for record in page.records)
    assert pages[1].parameters["after"] == "cur_10"


def test_next_link_parameters_are_the_query_merged_over_the_first_request():
    app = APPS["next_link_zendesk"]
    fetch, calls = serve(app, make_records(25), "success_data")
    list(PageWalker(fetch, action=app.action, parameters={"sort": "created_at"}))
    assert calls == [
        {"sort": "created_at", "per_page": 10},
        {"sort": "created_at", "per_page": "10", "page": "2"},
        {"sort": "created_at", "per_page": "10", "page": "3"},
    ]


def test_alloy_offset_without_a_limit_asks_for_full_pages_after_the_first():
    app = APPS["alloy_offset"]
    fetch, calls = serve(app, make_records(130), "data_pagination")
    pages = list(PageWalker(fetch))
    assert calls[0] == {}
    assert [len(page.records) for page in pages] == [20, 50, 50, 10]
    assert calls[1] == {"offset": 20, "limit": 50}
