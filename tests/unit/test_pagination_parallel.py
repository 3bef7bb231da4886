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
