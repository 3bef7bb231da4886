"""Loop guards and limits: every walk stops, and says why."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from alloy_data.errors import ConfigurationError, PaginationError, PaginationWarning
from alloy_data.models import Action, ActionParameter, ActionResult
from alloy_data.pagination import (
    CursorPaginator,
    LastIdPaginator,
    NextLinkPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    PageWalker,
)


def records(start: int, count: int, *, with_ids: bool = True) -> list[dict[str, Any]]:
    if with_ids:
        return [{"id": i, "name": f"n{i}"} for i in range(start, start + count)]
    return [{"name": f"n{i}"} for i in range(start, start + count)]


def counting(answer):
    """Wrap ``answer(params) -> body`` as a fetch that records what it was asked."""
    calls: list[dict[str, Any]] = []

    def fetch(params: dict[str, Any]) -> ActionResult:
        calls.append(dict(params))
        return ActionResult.from_json({"success": True, "data": answer(params)})

    return fetch, calls


def ids(pages) -> list[Any]:
    return [record.get("id", record.get("name")) for page in pages for record in page.records]


# A server whose cursors cycle: start -> B -> C -> B. The repeat is of an earlier page's
# cursor, not of the last one.
CYCLE = {None: ("B", 0), "B": ("C", 1), "C": ("B", 2)}


def cycling(params: dict[str, Any]) -> dict[str, Any]:
    following, index = CYCLE[params.get("cursor")]
    return {"items": records(index * 3, 3), "next_cursor": following}


def test_a_cursor_seen_on_an_earlier_page_stops_the_walk(caplog):
    fetch, calls = counting(cycling)
    walker = PageWalker(fetch, paginator=CursorPaginator())
    with (
        caplog.at_level(logging.INFO, logger="alloy_data.pagination"),
        pytest.warns(PaginationWarning, match="already used") as warned,
    ):
        pages = list(walker)
    assert ids(pages) == list(range(9))
    assert len(calls) == 3
    assert walker.stop_reason is not None
    assert walker.stop_reason.kind == "repeated_cursor"
    assert walker.stop_reason.data_may_be_missing
    assert walker.stop_reason.message in walker.notes
    assert any(r.levelno == logging.WARNING and "already used" in r.message for r in caplog.records)
    # The warning points at the code that iterates, not inside the library.
    assert warned[0].filename == __file__


def test_a_cursor_the_server_answers_again_and_again_stops_the_walk():
    served = iter(range(100))

    def stuck(params: dict[str, Any]) -> dict[str, Any]:
        return {"items": records(next(served) * 2, 2), "next_cursor": "same"}

    fetch, calls = counting(stuck)
    walker = PageWalker(fetch, paginator="cursor")
    with pytest.warns(PaginationWarning, match="already used"):
        pages = list(walker)
    assert ids(pages) == [0, 1, 2, 3]
    assert calls == [{}, {"cursor": "same"}]
    assert walker.stop_reason is not None
    assert walker.stop_reason.kind == "repeated_cursor"


@pytest.mark.parametrize("with_ids", [True, False], ids=["by-ids", "by-content-hash"])
def test_a_server_ignoring_the_cursor_repeats_its_page_and_is_stopped(with_ids):
    tokens = iter(range(100))

    def ignoring(params: dict[str, Any]) -> dict[str, Any]:
        # Always the first page, with a fresh cursor each time, so only the records tell.
        return {"results": records(0, 5, with_ids=with_ids), "next_cursor": f"t{next(tokens)}"}

    fetch, calls = counting(ignoring)
    walker = PageWalker(fetch, paginator=CursorPaginator(cursor_parameter="start_cursor"))
    with pytest.warns(PaginationWarning, match="ignores the paging parameters"):
        pages = list(walker)
    assert len(pages) == 1
    assert len(calls) == 2
    assert walker.stop_reason is not None
    assert walker.stop_reason.kind == "repeated_page"
    assert walker.stop_reason.data_may_be_missing


def test_auto_detection_with_a_wrong_cursor_name_ends_on_the_repeated_page():
    # A Notion-like app that reads "start_cursor"; without metadata the guess is "cursor".
    def notion(params: dict[str, Any]) -> dict[str, Any]:
        start = int(params.get("start_cursor") or 0)
        more = start + 5 < 20
        return {
            "results": records(start, 5),
            "next_cursor": str(start + 5) if more else None,
            "has_more": more,
        }

    fetch, _ = counting(notion)
    walker = PageWalker(fetch)
    with pytest.warns(PaginationWarning) as warned:
        pages = list(walker)
    messages = [str(w.message) for w in warned]
    assert any("set one by hand" in m for m in messages)
    assert any("ignores the paging parameters" in m for m in messages)
    assert ids(pages) == [0, 1, 2, 3, 4]
    assert walker.stop_reason is not None
    assert walker.stop_reason.kind == "repeated_page"


def offset_server(total: int, *, cap: int | None = None, send: int | None = None, tell=False):
    def answer(params: dict[str, Any]) -> dict[str, Any]:
        offset, limit = int(params.get("offset", 0)), int(params.get("limit", 10))
        size = send if send is not None else min(limit, cap) if cap else limit
        body: dict[str, Any] = {"items": records(offset, max(0, min(size, total - offset)))}
        if tell:
            body["total"] = total
        return body

    return answer


@pytest.mark.parametrize("tell_total", [False, True], ids=["no-total", "with-total"])
def test_a_server_sending_more_than_asked_loses_nothing(tell_total):
    fetch, _ = counting(offset_server(53, send=25, tell=tell_total))
    walker = PageWalker(fetch, paginator=OffsetPaginator(page_size=10))
    pages = list(walker)
    assert ids(pages) == list(range(53))
    assert any("ignores the page size" in note for note in walker.notes)
    assert walker.stop_reason is not None
    assert walker.stop_reason.kind == "end"


@pytest.mark.parametrize("tell_total", [False, True], ids=["no-total", "with-total"])
def test_a_server_capping_the_page_size_loses_nothing(tell_total):
    fetch, calls = counting(offset_server(30, cap=7, tell=tell_total))
    walker = PageWalker(fetch, paginator=OffsetPaginator(page_size=10))
    pages = list(walker)
    assert ids(pages) == list(range(30))
    assert [call["offset"] for call in calls[1:]] == [7, 14, 21, 28][: len(calls) - 1]
    if not tell_total:
        assert any("at most 7" in note for note in walker.notes)


def test_a_page_number_server_capping_the_page_size_loses_nothing():
    def answer(params: dict[str, Any]) -> dict[str, Any]:
        page = int(params.get("page", 1))
        return {"data": records((page - 1) * 4, max(0, min(4, 18 - (page - 1) * 4)))}

    fetch, _ = counting(answer)
    walker = PageWalker(fetch, paginator=PageNumberPaginator(page_size=10))
    assert ids(list(walker)) == list(range(18))
    assert any("at most 4" in note for note in walker.notes)


def test_a_server_repeating_its_last_page_past_the_end_is_the_end_not_a_warning():
    def clamping(params: dict[str, Any]) -> dict[str, Any]:
        return {"data": records(0, 4)}  # every page number answers the only page

    fetch, calls = counting(clamping)
    walker = PageWalker(fetch, paginator=PageNumberPaginator(page_size=10))
    pages = list(walker)
    assert ids(pages) == [0, 1, 2, 3]
    assert len(calls) == 2
    assert walker.stop_reason is not None
    assert walker.stop_reason.kind == "end"
    assert not walker.stop_reason.data_may_be_missing


def test_max_pages_stops_quietly_and_says_so():
    fetch, calls = counting(offset_server(100))
    walker = PageWalker(fetch, paginator=OffsetPaginator(page_size=10), max_pages=3)
    pages = list(walker)
    assert len(pages) == 3
    assert len(calls) == 3
    assert walker.stop_reason is not None
    assert walker.stop_reason.kind == "max_pages"
    assert not walker.stop_reason.data_may_be_missing
    assert walker.stop_reason.message in walker.notes
    assert pages[-1].next_parameters == {"limit": 10, "offset": 30}


def test_max_pages_on_the_last_page_is_the_end():
    fetch, _ = counting(offset_server(25, tell=True))
    walker = PageWalker(fetch, paginator=OffsetPaginator(page_size=10), max_pages=3)
    assert len(list(walker)) == 3
    assert walker.stop_reason is not None
    assert walker.stop_reason.kind == "end"


@pytest.mark.parametrize(
    ("max_records", "expected_pages", "kind"),
    [
        pytest.param(1, [1], "max_records", id="one"),
        pytest.param(23, [10, 10, 3], "max_records", id="mid-page"),
        pytest.param(30, [10, 10, 10], "max_records", id="page-boundary"),
        pytest.param(45, [10, 10, 10, 10, 5], "end", id="exactly-all"),
        pytest.param(1000, [10, 10, 10, 10, 5], "end", id="more-than-all"),
    ],
)
def test_max_records_truncates_to_the_exact_count(max_records, expected_pages, kind):
    fetch, calls = counting(offset_server(45))
    walker = PageWalker(fetch, paginator=OffsetPaginator(page_size=10), max_records=max_records)
    pages = list(walker)
    assert [len(page.records) for page in pages] == expected_pages
    assert ids(pages) == list(range(sum(expected_pages)))
    assert walker.records == sum(expected_pages)
    assert len(calls) == len(expected_pages)
    assert walker.stop_reason is not None
    assert walker.stop_reason.kind == kind
    assert not walker.stop_reason.data_may_be_missing


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"max_pages": 0}, id="max_pages-zero"),
        pytest.param({"max_records": -1}, id="max_records-negative"),
        pytest.param({"page_size": 2.5}, id="page_size-float"),
        pytest.param({"max_pages": True}, id="max_pages-bool"),
    ],
)
def test_bad_limits_are_configuration_errors(options):
    with pytest.raises(ConfigurationError, match="at least 1"):
        PageWalker(lambda params: ActionResult.from_json({}), **options)


def test_last_id_without_an_id_field_is_a_pagination_error():
    fetch, _ = counting(lambda params: {"data": records(0, 3, with_ids=False), "has_more": True})
    with pytest.raises(PaginationError, match="id_field"):
        list(PageWalker(fetch, paginator=LastIdPaginator()))


def test_a_next_link_without_a_query_string_is_a_pagination_error():
    fetch, _ = counting(lambda params: {"items": records(0, 3), "next": "https://x.test/page/2"})
    with pytest.raises(PaginationError, match="query string"):
        list(PageWalker(fetch, paginator=NextLinkPaginator()))


def test_a_paginator_instance_is_reusable_across_walks():
    paginator = OffsetPaginator(page_size=10)
    first_fetch, _ = counting(offset_server(25))
    second_fetch, _ = counting(offset_server(13))
    assert ids(list(PageWalker(first_fetch, paginator=paginator))) == list(range(25))
    assert ids(list(PageWalker(second_fetch, paginator=paginator))) == list(range(13))


def test_walking_again_starts_afresh():
    fetch, _ = counting(offset_server(15))
    walker = PageWalker(fetch, paginator=OffsetPaginator(page_size=10))
    assert ids(list(walker)) == list(range(15))
    assert ids(list(walker)) == list(range(15))
    assert walker.records == 15


def test_a_full_single_page_warns_that_more_may_exist():
    action = Action(action_id="list", parameters=(ActionParameter(name="limit", maximum=5),))
    fetch, _ = counting(lambda params: {"orders": records(0, 5)})
    walker = PageWalker(fetch, action=action)
    with pytest.warns(PaginationWarning, match="first page is full"):
        pages = list(walker)
    assert len(pages) == 1
    assert walker.stop_reason is not None
    assert walker.stop_reason.kind == "single_page"


def test_a_short_single_page_is_quietly_the_only_page():
    fetch, calls = counting(lambda params: {"orders": records(0, 3)})
    walker = PageWalker(fetch)
    assert ids(list(walker)) == [0, 1, 2]
    assert len(calls) == 1
    assert walker.detection is not None
    assert walker.detection.confident
    assert walker.stop_reason is not None
    assert walker.stop_reason.kind == "single_page"


def test_counts_are_current_when_the_caller_stops_early():
    fetch, calls = counting(offset_server(100))
    walker = PageWalker(fetch, paginator=OffsetPaginator(page_size=10))
    for _page in walker:
        break
    assert (walker.pages, walker.records, len(calls)) == (1, 10, 1)
    assert walker.stop_reason is None


def test_alloy_offset_sends_at_most_50_and_says_so():
    def alloy(params: dict[str, Any]) -> ActionResult:
        offset, limit = int(params.get("offset", 0)), int(params["limit"])
        more = offset + limit < 120
        body = {"data": records(offset, min(limit, 120 - offset)), "pagination": {"hasMore": more}}
        return ActionResult.from_json(body)

    walker = PageWalker(alloy, paginator="alloy_offset", page_size=80)
    pages = list(walker)
    assert [len(page.records) for page in pages] == [50, 50, 20]
    assert ids(pages) == list(range(120))
    assert any("lowered to 50" in note for note in walker.notes)
