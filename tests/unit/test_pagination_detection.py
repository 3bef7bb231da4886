"""Choosing a paginator: from the action's parameters, from the first answer, or by hand."""

from __future__ import annotations

from typing import Any

import pytest

from alloy_data.errors import ConfigurationError, PaginationError, PaginationWarning
from alloy_data.models import Action, ActionParameter, ActionResult
from alloy_data.pagination import (
    AlloyOffsetPaginator,
    CursorPaginator,
    FunctionPaginator,
    LastIdPaginator,
    NextLinkPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    PageWalker,
    Paginator,
    RelayPaginator,
    SinglePagePaginator,
    detect_paginator,
    plan_request,
    resolve_paginator,
)


def action(*parameters: ActionParameter) -> Action:
    return Action(action_id="list-things", parameters=parameters)


def param(
    name: str, *, maximum: int | None = None, default: Any = None, description: str | None = None
) -> ActionParameter:
    return ActionParameter(
        name=name, type="integer", maximum=maximum, default=default, description=description
    )


@pytest.mark.parametrize(
    ("parameters", "convention", "size_name", "size"),
    [
        pytest.param(
            [param("first", maximum=250), param("after"), param("query")],
            "relay",
            "first",
            250,
            id="shopify-first-after",
        ),
        pytest.param(
            [param("limit", maximum=100, default=10), param("starting_after")],
            "last_id",
            "limit",
            100,
            id="stripe-starting-after",
        ),
        pytest.param(
            [param("start_cursor"), param("page_size", maximum=100)],
            "cursor",
            "page_size",
            100,
            id="notion-start-cursor",
        ),
        pytest.param(
            [param("pageToken"), param("pageSize", maximum=1000)],
            "cursor",
            "pageSize",
            1000,
            id="google-page-token",
        ),
        pytest.param(
            [param("after"), param("limit", maximum=100)],
            "cursor",
            "limit",
            100,
            id="hubspot-after-limit",
        ),
        pytest.param(
            [param("cursor"), param("limit", default=200)],
            "cursor",
            "limit",
            1000,
            id="slack-cursor-default-but-no-maximum-probes",
        ),
        pytest.param(
            [param("starting_after"), param("limit", description="default 10, max 100")],
            "last_id",
            "limit",
            100,
            id="stripe-maximum-in-words",
        ),
        pytest.param(
            [param("first", description="Returns up to the first n elements.")],
            "relay",
            "first",
            1000,
            id="graphql-no-number-in-words-probes",
        ),
        pytest.param(
            [param("page"), param("per_page", maximum=100, default=30)],
            "page_number",
            "per_page",
            100,
            id="github-page-per-page",
        ),
        pytest.param(
            [param("offset"), param("limit")],
            "offset",
            "limit",
            1000,
            id="offset-limit-without-a-maximum-probes",
        ),
        pytest.param(
            [param("page"), param("per_page", description="Results per page (1-100)")],
            "page_number",
            "per_page",
            100,
            id="page-number-range-in-words",
        ),
        pytest.param(
            [param("limit", maximum=50)], None, "limit", 50, id="limit-only-takes-its-maximum"
        ),
        pytest.param([param("limit")], None, "limit", 1000, id="limit-only-without-maximum-probes"),
        pytest.param([param("status")], None, None, None, id="no-paging-parameters"),
    ],
)
def test_plan_from_the_action_parameters(parameters, convention, size_name, size):
    plan = plan_request(action(*parameters), {"status": "open"})
    assert plan.convention == convention
    assert plan.page_size_parameter == size_name
    assert plan.page_size == size
    expected = {"status": "open"} if size is None else {"status": "open", size_name: size}
    assert plan.parameters == expected


def test_plan_takes_the_callers_page_size_but_not_above_the_maximum():
    metadata = action(param("first", maximum=250), param("after"))
    assert plan_request(metadata, {}, page_size=20).parameters == {"first": 20}
    plan = plan_request(metadata, {}, page_size=1000)
    assert plan.parameters == {"first": 250}
    assert "lowered to 250" in plan.reason


def test_plan_keeps_a_page_size_the_caller_put_in_the_parameters():
    plan = plan_request(action(param("limit", maximum=100), param("offset")), {"limit": 7})
    assert plan.parameters == {"limit": 7}


def test_plan_from_the_callers_parameters_without_metadata():
    plan = plan_request(None, {"first": 5, "query": "status:open"})
    assert plan.convention == "relay"
    assert plan.parameters == {"first": 5, "query": "status:open"}


def test_plan_notes_a_page_size_it_cannot_send():
    plan = plan_request(action(param("status")), {}, page_size=10)
    assert plan.parameters == {}
    assert "not sent" in plan.reason


ROWS = [{"id": f"r{i}"} for i in range(3)]


@pytest.mark.parametrize(
    ("names", "body", "expected", "confident"),
    [
        pytest.param(
            (),
            {"data": ROWS, "pagination": {"hasMore": True, "nextOffset": 3}},
            AlloyOffsetPaginator,
            True,
            id="alloy-pagination-hasMore",
        ),
        pytest.param(
            (),
            {
                "data": {
                    "orders": {"nodes": ROWS, "pageInfo": {"hasNextPage": True, "endCursor": "c"}}
                }
            },
            RelayPaginator,
            True,
            id="pageInfo-at-depth",
        ),
        pytest.param(
            ("limit", "starting_after"),
            {"object": "list", "data": ROWS, "has_more": True},
            LastIdPaginator,
            True,
            id="has_more-with-starting_after",
        ),
        pytest.param(
            (),
            {"object": "list", "data": ROWS, "has_more": True},
            LastIdPaginator,
            True,
            id="stripe-list-object",
        ),
        pytest.param(
            ("status",),
            {"items": ROWS, "has_more": True},
            LastIdPaginator,
            False,
            id="has_more-and-ids-guessed",
        ),
        pytest.param(
            (),
            {"tickets": ROWS, "next_page": "https://x.test/api/tickets?page=2"},
            NextLinkPaginator,
            True,
            id="next_page-url",
        ),
        pytest.param(
            (),
            {"value": ROWS, "@odata.nextLink": "https://x.test/users?$skiptoken=abc"},
            NextLinkPaginator,
            True,
            id="odata-nextLink",
        ),
        pytest.param(
            (),
            {"items": ROWS, "_links": {"next": {"href": "/api/items?page=2"}}},
            NextLinkPaginator,
            True,
            id="hal-links",
        ),
        pytest.param(
            ("after", "limit"),
            {
                "results": ROWS,
                "paging": {"next": {"after": "9", "link": "https://x.test/?after=9"}},
            },
            CursorPaginator,
            True,
            id="hubspot-paging-next-after",
        ),
        pytest.param(
            (),
            {"results": ROWS, "paging": {"next": {"after": "9"}}},
            CursorPaginator,
            False,
            id="paging-next-after-guessed",
        ),
        pytest.param(
            ("cursor",),
            {"data": ROWS, "meta": {"next_cursor": "abc"}},
            CursorPaginator,
            True,
            id="meta-next_cursor",
        ),
        pytest.param(
            ("offset", "limit"),
            {"items": ROWS, "total_count": 90},
            OffsetPaginator,
            True,
            id="total_count-with-offset",
        ),
        pytest.param(
            ("page", "per_page"),
            {"items": ROWS},
            PageNumberPaginator,
            True,
            id="page-parameter",
        ),
        pytest.param(
            (), {"items": ROWS, "total_pages": 4}, PageNumberPaginator, False, id="total_pages"
        ),
        pytest.param(
            (), {"items": ROWS, "total": 90}, OffsetPaginator, False, id="total-without-params"
        ),
        pytest.param((), {"items": ROWS}, SinglePagePaginator, True, id="nothing"),
    ],
)
def test_detection_from_the_first_answer(names, body, expected, confident):
    metadata = action(*(param(name) for name in names)) if names else None
    plan = plan_request(metadata, {})
    result = ActionResult.from_json({"success": True, "data": body})
    detection = detect_paginator(plan, plan.parameters, result)
    assert type(detection.paginator) is expected
    assert detection.confident is confident
    if not confident:
        assert "set one by hand" in detection.reason
        assert f"paginator={detection.paginator.name!r}" in detection.reason


def test_a_guess_that_cannot_matter_is_confident():
    plan = plan_request(None, {})
    body = {"results": ROWS, "next_cursor": None, "has_more": False}
    detection = detect_paginator(plan, {}, ActionResult.from_json({"data": body, "success": True}))
    assert isinstance(detection.paginator, CursorPaginator)
    assert detection.confident
    assert "nothing rests on the guess" in detection.reason


def test_a_walk_that_guesses_warns_once_and_says_how_to_set_it():
    def fetch(params: dict[str, Any]) -> ActionResult:
        start = int(params.get("after") or 0)
        body = {"results": ROWS[start : start + 1], "paging": {"next": {"after": str(start + 1)}}}
        if start >= 2:
            del body["paging"]
        return ActionResult.from_json({"responseData": body, "executionId": "e"})

    walker = PageWalker(fetch)
    with pytest.warns(PaginationWarning, match="CursorPaginator") as warned:
        pages = list(walker)
    assert len(warned) == 1
    assert walker.detection is not None
    assert not walker.detection.confident
    assert [r["id"] for page in pages for r in page.records] == ["r0", "r1", "r2"]


def test_a_paginator_set_by_hand_is_not_detected():
    def fetch(params: dict[str, Any]) -> ActionResult:
        return ActionResult.from_json({"data": ROWS, "pagination": {"hasMore": False}})

    walker = PageWalker(fetch, paginator=SinglePagePaginator())
    assert len(list(walker)) == 1
    assert walker.detection is not None
    assert isinstance(walker.detection.paginator, SinglePagePaginator)
    assert "set by hand" in walker.detection.reason


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("alloy_offset", AlloyOffsetPaginator, id="alloy_offset"),
        pytest.param("offset", OffsetPaginator, id="offset"),
        pytest.param("page_number", PageNumberPaginator, id="page_number"),
        pytest.param("page-number", PageNumberPaginator, id="page-number-hyphen"),
        pytest.param("cursor", CursorPaginator, id="cursor"),
        pytest.param("relay", RelayPaginator, id="relay"),
        pytest.param("last_id", LastIdPaginator, id="last_id"),
        pytest.param("next_link", NextLinkPaginator, id="next_link"),
        pytest.param("single", SinglePagePaginator, id="single"),
        pytest.param(" Cursor ", CursorPaginator, id="case-and-spaces"),
        pytest.param(RelayPaginator, RelayPaginator, id="a-class"),
    ],
)
def test_resolve_paginator_by_name_or_class(name, expected):
    assert type(resolve_paginator(name)) is expected


def test_resolve_paginator_auto_instance_and_function():
    assert resolve_paginator("auto") is None
    instance = CursorPaginator(cursor_parameter="after")
    assert resolve_paginator(instance) is instance

    def follow(sent, result, records):
        return None

    wrapped = resolve_paginator(follow)
    assert isinstance(wrapped, FunctionPaginator)
    assert wrapped.fn is follow


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("cursors", id="misspelt-name"),
        pytest.param(42, id="number"),
        pytest.param(None, id="none"),
        pytest.param(FunctionPaginator, id="function-class-without-function"),
        pytest.param(int.__class__, id="unrelated-class"),
    ],
)
def test_resolve_paginator_refuses_anything_else(value):
    with pytest.raises(ConfigurationError) as raised:
        resolve_paginator(value)
    if value is not FunctionPaginator:
        for choice in ("'auto'", "'alloy_offset'", "'cursor'", "'relay'", "'single'"):
            assert choice in str(raised.value)


def test_unknown_paginator_is_refused_when_the_walker_is_made():
    with pytest.raises(ConfigurationError, match="Unknown paginator"):
        PageWalker(lambda params: ActionResult.from_json({}), paginator="graphql")


def test_function_paginator_drives_the_walk():
    def fetch(params: dict[str, Any]) -> ActionResult:
        page = params["p"]
        return ActionResult.from_json({"data": [{"id": page}], "success": True, "last": page == 3})

    seen: list[tuple[dict, int]] = []

    def following(sent, result, records):
        seen.append((sent, len(records)))
        return None if result.raw["last"] else {**sent, "p": sent["p"] + 1}

    walker = PageWalker(fetch, parameters={"p": 1}, paginator=following)
    pages = list(walker)
    assert [page.records for page in pages] == [[{"id": 1}], [{"id": 2}], [{"id": 3}]]
    assert seen == [({"p": 1}, 1), ({"p": 2}, 1), ({"p": 3}, 1)]
    assert walker.stop_reason is not None
    assert walker.stop_reason.kind == "end"


def test_function_paginator_must_return_a_dict_or_none():
    fetch = lambda params: ActionResult.from_json({"data": [{"id": 1}], "success": True})  # noqa: E731
    with pytest.raises(PaginationError, match="dict"):
        list(PageWalker(fetch, paginator=FunctionPaginator(lambda s, r, recs: "page=2")))


def test_function_paginator_needs_a_function():
    with pytest.raises(ConfigurationError):
        FunctionPaginator("not callable")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "paginator",
    [
        AlloyOffsetPaginator(page_size=20),
        OffsetPaginator(offset_parameter="$skip", limit_parameter="$top", start=5),
        PageNumberPaginator(page_parameter="p", page_size_parameter=None, start=0),
        CursorPaginator(cursor_parameter="after", cursor_path="paging.next.after"),
        RelayPaginator(first_parameter="count", page_size=100),
        LastIdPaginator(after_parameter="after_id", id_field="uuid"),
        NextLinkPaginator(next_path="links.next"),
        SinglePagePaginator(records_path="data.rows"),
    ],
    ids=lambda paginator: type(paginator).__name__,
)
def test_a_paginators_repr_builds_an_equal_paginator(paginator: Paginator):
    namespace = {type(paginator).__name__: type(paginator)}
    rebuilt = eval(repr(paginator), namespace)  # the repr is offered as code to paste
    assert repr(rebuilt) == repr(paginator)
    assert vars(rebuilt) == vars(paginator)
