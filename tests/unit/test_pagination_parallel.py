"""The positional paginators' support for fetching pages concurrently."""

from __future__ import annotations

from typing import Any

import pytest

from alloy_data.models import ActionResult
from alloy_data.pagination import (
    AlloyOffsetPaginator,
    CursorPaginator,
    FunctionPaginator,
    LastIdPaginator,
    NextLinkPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    PageWalker,
    PositionalPaginator,
    RelayPaginator,
    SinglePagePaginator,
)


@pytest.mark.parametrize(
    ("paginator", "base", "page_size", "expected"),
    [
        pytest.param(
            OffsetPaginator(),
            {"q": "x"},
            25,
            [
                {"q": "x", "limit": 25, "offset": 0},
                {"q": "x", "limit": 25, "offset": 25},
                {"q": "x", "limit": 25, "offset": 50},
            ],
            id="offset",
        ),
        pytest.param(
            OffsetPaginator(offset_parameter="$skip", limit_parameter="$top"),
            {"$skip": 100},
            10,
            [
                {"$skip": 100, "$top": 10},
                {"$skip": 110, "$top": 10},
                {"$skip": 120, "$top": 10},
            ],
            id="skip-top-from-a-starting-offset",
        ),
        pytest.param(
            PageNumberPaginator(),
            {},
            50,
            [{"page": 1, "per_page": 50}, {"page": 2, "per_page": 50}, {"page": 3, "per_page": 50}],
            id="page-number",
        ),
        pytest.param(
            PageNumberPaginator(
                page_parameter="pageNumber", page_size_parameter="pageSize", start=0
            ),
            {},
            20,
            [
                {"pageNumber": 0, "pageSize": 20},
                {"pageNumber": 1, "pageSize": 20},
                {"pageNumber": 2, "pageSize": 20},
            ],
            id="zero-based-page-number",
        ),
        pytest.param(
            AlloyOffsetPaginator(),
            {},
            80,
            [{"limit": 50, "offset": 0}, {"limit": 50, "offset": 50}, {"limit": 50, "offset": 100}],
            id="alloy-offset-caps-at-50",
        ),
    ],
)
def test_parameters_for_page(paginator, base, page_size, expected):
    assert paginator.supports_parallel
    original = dict(base)
    got = [paginator.parameters_for_page(base, page_size, index) for index in range(3)]
    assert got == expected
    assert base == original


@pytest.mark.parametrize(
    "paginator",
    [
        CursorPaginator(),
        RelayPaginator(),
        LastIdPaginator(),
        NextLinkPaginator(),
        FunctionPaginator(lambda s, r, recs: None),
        SinglePagePaginator(),
    ],
    ids=lambda paginator: type(paginator).__name__,
)
def test_following_paginators_do_not_claim_parallel_support(paginator):
    assert not paginator.supports_parallel
    assert not isinstance(paginator, PositionalPaginator)


def answer(body: dict[str, Any]) -> ActionResult:
    return ActionResult.from_json({"success": True, "data": body})


ROWS = [{"id": i} for i in range(10)]


@pytest.mark.parametrize(
    ("paginator", "parameters", "body", "last"),
    [
        pytest.param(OffsetPaginator(), {"limit": 10}, {"items": []}, True, id="empty-is-last"),
        pytest.param(
            OffsetPaginator(), {"limit": 10, "offset": 0}, {"items": ROWS}, False, id="full"
        ),
        pytest.param(
            OffsetPaginator(), {"limit": 10, "offset": 0}, {"items": ROWS[:4]}, True, id="short"
        ),
        pytest.param(
            OffsetPaginator(),
            {"limit": 10, "offset": 20},
            {"items": ROWS, "total": 30},
            True,
            id="reaches-total",
        ),
        pytest.param(
            OffsetPaginator(),
            {"limit": 10, "offset": 0},
            {"items": ROWS[:5], "total": 30},
            False,
            id="short-but-total-says-more",
        ),
        pytest.param(
            PageNumberPaginator(),
            {"page": 3, "per_page": 10},
            {"data": ROWS, "total_pages": 3},
            True,
            id="page-last-of-total_pages",
        ),
        pytest.param(
            PageNumberPaginator(),
            {"page": 2, "per_page": 10},
            {"data": ROWS, "total_pages": 3},
            False,
            id="page-before-last",
        ),
        pytest.param(
            PageNumberPaginator(),
            {"page": 2, "per_page": 10},
            {"data": ROWS, "has_more": False},
            True,
            id="has_more-false",
        ),
    ],
)
def test_is_last_page(paginator, parameters, body, last):
    result = answer(body)
    assert paginator.is_last_page(parameters, result, paginator.records(result)) is last


def test_alloy_offset_is_last_page_reads_the_envelope():
    paginator = AlloyOffsetPaginator()
    more = ActionResult.from_json({"data": ROWS, "pagination": {"hasMore": True}})
    done = ActionResult.from_json({"data": ROWS, "pagination": {"hasMore": False}})
    parameters = {"limit": 10, "offset": 0}
    assert not paginator.is_last_page(parameters, more, paginator.records(more))
    assert paginator.is_last_page(parameters, done, paginator.records(done))


@pytest.mark.parametrize(
    ("paginator", "body", "page_size", "pages"),
    [
        pytest.param(OffsetPaginator(), {"items": ROWS, "total_count": 95}, 10, 10, id="total"),
        pytest.param(OffsetPaginator(), {"items": ROWS}, 10, None, id="offset-untold"),
        pytest.param(PageNumberPaginator(), {"data": ROWS, "totalPages": 7}, 10, 7, id="pages"),
        pytest.param(
            PageNumberPaginator(), {"data": ROWS, "meta": {"total": 41}}, 20, 3, id="page-total"
        ),
    ],
)
def test_total_pages(paginator, body, page_size, pages):
    assert paginator.total_pages(answer(body), page_size) == pages


def test_a_fetcher_built_on_the_parallel_api_gets_every_record():
    records = [{"id": i} for i in range(47)]

    def fetch(params: dict[str, Any]) -> ActionResult:
        start = (params["page"] - 1) * params["per_page"]
        chunk = records[start : start + params["per_page"]]
        return answer({"data": chunk, "total_pages": 5})

    paginator = PageNumberPaginator()
    first = fetch(paginator.parameters_for_page({}, 10, 0))
    total_pages = paginator.total_pages(first, 10)
    assert total_pages == 5
    # A concurrent fetcher would submit these together; their order is restored by index.
    results = [first] + [
        fetch(paginator.parameters_for_page({}, 10, index)) for index in range(1, total_pages)
    ]
    pulled = [record for result in results for record in paginator.records(result)]
    assert pulled == records
    last = paginator.parameters_for_page({}, 10, total_pages - 1)
    assert paginator.is_last_page(last, results[-1], paginator.records(results[-1]))


# The fan-out itself, against fake apps (no sockets)


class FakeApp:
    """A positional list of ``total`` records with ids 0, 1, ...; records every request."""

    def __init__(self, total: int, *, page: int, by: str, with_total: bool) -> None:
        self.total, self.page, self.by, self.with_total = total, page, by, with_total
        self.requests: list[dict[str, Any]] = []

    def fetch(self, parameters: dict[str, Any]) -> ActionResult:
        self.requests.append(dict(parameters))
        size = min(int(parameters.get("limit", self.page)), self.page)  # the app's cap
        if self.by == "page":
            start = (int(parameters.get("page", 1)) - 1) * size
        else:
            start = int(parameters.get("offset", 0))
        items = [{"id": i} for i in range(start, min(start + size, self.total))]
        body: dict[str, Any] = {"items": items}
        if self.with_total:
            body["total"] = self.total
        return answer(body)


def fan_out(app: FakeApp, paginator: Any) -> tuple[list[int], PageWalker]:
    from alloy_data.engine import AdaptiveLimit, parallel_pages

    walker = PageWalker(app.fetch, paginator=paginator)
    pages = parallel_pages(
        walker, app.fetch, concurrency=4, limit=AdaptiveLimit(4, start=2, recovery=None)
    )
    return [record["id"] for page in pages for record in page.records], walker


def test_page_number_paging_fans_out_without_a_page_size_or_a_total() -> None:
    # The first page tells the size; the first short page is the last; what lies past it goes.
    app = FakeApp(110, page=25, by="page", with_total=False)
    ids, walker = fan_out(app, PageNumberPaginator(page_size_parameter=None))
    assert ids == list(range(110))
    assert any("side by side" in note for note in walker.notes)
    assert walker.stop_reason is not None and walker.stop_reason.kind == "end"
    asked = sorted(request.get("page", 1) for request in app.requests)
    assert asked[:5] == [1, 2, 3, 4, 5]
    assert len(asked) <= 5 + 3  # at most one past the end per request in flight


def test_an_app_that_sends_fewer_than_asked_and_says_more_follow_is_paged_at_its_size() -> None:
    app = FakeApp(200, page=30, by="offset", with_total=True)
    ids, walker = fan_out(app, OffsetPaginator(page_size=1000))
    assert ids == list(range(200))
    assert walker.page_size == 30
    assert any("side by side" in note for note in walker.notes)
    later = [request for request in app.requests[1:]]
    assert {request["limit"] for request in later} == {30}
    assert [request["offset"] for request in later] == [30 * i for i in range(1, 7)]


def test_a_short_first_page_that_does_not_say_more_follow_is_not_fanned_out() -> None:
    app = FakeApp(200, page=30, by="offset", with_total=False)
    ids, walker = fan_out(app, OffsetPaginator(page_size=1000))
    assert ids == list(range(200))
    assert any("requests are not overlapped" in note for note in walker.notes)


def test_cursor_paging_says_why_it_is_not_fanned_out() -> None:
    from alloy_data.engine import AdaptiveLimit, parallel_pages

    def fetch(parameters: dict[str, Any]) -> ActionResult:
        after = int(parameters.get("after") or 0)
        more = after + 10 < 30
        return answer(
            {
                "results": [{"id": i} for i in range(after, after + 10)],
                "next": after + 10 if more else None,
            }
        )

    walker = PageWalker(
        fetch, paginator=CursorPaginator(cursor_parameter="after", cursor_path="next")
    )
    ids = [
        r["id"]
        for page in parallel_pages(walker, fetch, concurrency=4, limit=AdaptiveLimit(4))
        for r in page.records
    ]
    assert ids == list(range(30))
    assert any("cursor paging needs each answer" in note for note in walker.notes)
