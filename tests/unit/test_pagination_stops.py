"""The stop rules shared by the two schedules of a walk: one page after another (the walker)
and several pages at once (the overlapping schedule). Same app, same limits: same pages, same
stop, same message, from the first page or from a resumed one."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from alloy_data.engine import AdaptiveLimit, parallel_pages
from alloy_data.errors import BadRequestError, ConfigurationError
from alloy_data.models import ActionResult
from alloy_data.pagination import (
    OffsetPaginator,
    PageNumberPaginator,
    PageWalker,
    Paginator,
    WalkStops,
)


class App:
    """``count`` records with ids 0, 1, ...; offset or page-number paging; records requests."""

    def __init__(
        self,
        count: int,
        *,
        by: str = "offset",
        total: int | None = None,
        ignores_paging: bool = False,
        largest_page: int | None = None,
    ) -> None:
        self.count, self.by, self.total = count, by, total
        self.ignores_paging, self.largest_page = ignores_paging, largest_page
        self.requests: list[dict[str, Any]] = []

    def fetch(self, parameters: dict[str, Any]) -> ActionResult:
        self.requests.append(dict(parameters))
        size = int(parameters.get("limit", parameters.get("per_page", 10)))
        if self.largest_page is not None and size > self.largest_page:
            raise BadRequestError(f"limit must be at most {self.largest_page}", status=400)
        if self.ignores_paging:
            start = 0
        elif self.by == "page":
            start = (int(parameters.get("page", 1)) - 1) * size
        else:
            start = int(parameters.get("offset", 0))
        body: dict[str, Any] = {
            "items": [{"id": i} for i in range(start, min(start + size, self.count))]
        }
        if self.total is not None:
            body["total"] = self.total
        return ActionResult.from_json({"success": True, "data": body})


def paginator_for(app: App) -> Paginator:
    if app.by == "page":
        return PageNumberPaginator(page_size=10)
    return OffsetPaginator(page_size=10)


def walk(app: App, *, overlapping: bool, **options: Any) -> dict[str, Any]:
    """Walk ``app`` on one schedule; what came out and how it stopped."""
    walker = PageWalker(app.fetch, paginator=paginator_for(app), **options)
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        if overlapping:
            limit = AdaptiveLimit(4, start=4, recovery=None)
            pages = list(parallel_pages(walker, app.fetch, concurrency=4, limit=limit))
        else:
            pages = list(walker)
    assert walker.stop_reason is not None
    return {
        "numbers": [page.number for page in pages],
        "ids": [record["id"] for page in pages for record in page.records],
        "kind": walker.stop_reason.kind,
        "message": walker.stop_reason.message,
        "may_miss": walker.stop_reason.data_may_be_missing,
        "warnings": [str(w.message) for w in warned],
        "overlapped": any("side by side" in note for note in walker.notes),
        "notes": walker.notes,
    }


SCENARIOS = [
    pytest.param({"count": 47}, {}, "end", id="short-last-page"),
    pytest.param({"count": 50}, {}, "end", id="empty-last-page"),
    pytest.param({"count": 47, "total": 47}, {}, "end", id="total"),
    pytest.param({"count": 47, "by": "page"}, {}, "end", id="page-number"),
    pytest.param({"count": 100}, {"max_pages": 3}, "max_pages", id="max_pages"),
    pytest.param({"count": 100, "total": 100}, {"max_pages": 3}, "max_pages", id="max_pages-total"),
    pytest.param({"count": 100}, {"max_records": 23}, "max_records", id="max_records-mid-page"),
    pytest.param({"count": 100}, {"max_records": 30}, "max_records", id="max_records-boundary"),
    pytest.param({"count": 45}, {"max_records": 45}, "end", id="max_records-exactly-all"),
    pytest.param({"count": 100, "ignores_paging": True}, {}, "repeated_page", id="repeated-page"),
    pytest.param({"count": 47, "total": 60}, {}, "end", id="total-above-the-records"),
]


@pytest.mark.parametrize(("app_options", "options", "kind"), SCENARIOS)
def test_both_schedules_stop_alike(app_options, options, kind):
    one_by_one = walk(App(**app_options), overlapping=False, **options)
    side_by_side = walk(App(**app_options), overlapping=True, **options)
    assert side_by_side["overlapped"]  # the overlapping schedule did run
    assert one_by_one["kind"] == side_by_side["kind"] == kind
    for key in ("message", "may_miss", "warnings", "numbers", "ids"):
        assert one_by_one[key] == side_by_side[key], key


def test_a_total_the_records_disagree_with_is_noted_by_both_schedules():
    for overlapping in (False, True):
        walked = walk(App(47, total=60), overlapping=overlapping)
        assert any("total (60) disagrees with the 47 records" in n for n in walked["notes"])


# A walk resumed at page 31 with 300 records saved (ten a page): what it yields and how it stops
# are those of the uninterrupted walk from page 31 on.
RESUMED = {
    "resume_from": {"limit": 10, "offset": 300},
    "first_page_number": 31,
    "records_before": 300,
}


@pytest.mark.parametrize("overlapping", [False, True], ids=["one-by-one", "side-by-side"])
@pytest.mark.parametrize(
    ("app_options", "limits", "kind"),
    [
        pytest.param({"count": 1_000}, {"max_records": 423}, "max_records", id="max_records"),
        pytest.param({"count": 1_000}, {"max_pages": 40}, "max_pages", id="max_pages"),
        pytest.param({"count": 447}, {}, "end", id="end"),
        pytest.param({"count": 447, "total": 447}, {}, "end", id="end-by-total"),
        pytest.param({"count": 447, "total": 395}, {}, "end", id="full-past-a-stale-total"),
    ],
)
def test_a_resumed_walk_stops_where_the_whole_one_does(app_options, limits, kind, overlapping):
    whole = walk(App(**app_options), overlapping=False, **limits)
    app = App(**app_options)
    resumed = walk(app, overlapping=overlapping, **RESUMED, **limits)
    assert resumed["overlapped"] is overlapping
    assert resumed["kind"] == whole["kind"] == kind
    assert resumed["message"] == whole["message"]
    after = [i for i, number in enumerate(whole["numbers"]) if number >= 31]
    assert resumed["numbers"] == [whole["numbers"][i] for i in after]
    assert resumed["ids"] == whole["ids"][300:]
    assert min(request.get("offset", 0) for request in app.requests) == 300


def test_max_records_counts_the_records_saved_before_a_resume():
    app = App(10_000)
    walked = walk(
        app,
        overlapping=True,
        resume_from={"limit": 10, "offset": 3_000},
        first_page_number=301,
        records_before=3_000,
        max_records=5_000,
    )
    assert walked["ids"] == list(range(3_000, 5_000))
    assert walked["message"] == "Stopped at max_records=5000 on page 500; more records exist."
    # Nothing is asked for past the limit but what was in flight when it was reached.
    assert max(request["offset"] for request in app.requests) < 5_000 + 4 * 10


def test_the_caller_s_paginator_is_not_changed_by_a_walk_that_lowers_the_page_size():
    paginator = OffsetPaginator(page_size=100)
    app = App(95, largest_page=20)
    walker = PageWalker(app.fetch, paginator=paginator)
    pages = list(walker)
    assert [record["id"] for page in pages for record in page.records] == list(range(95))
    assert walker.refused_page_sizes == 1 and walker.page_size == 20
    assert app.requests[1]["limit"] == 20
    assert paginator.page_size == 100
    # The same instance serves a second walk from its own page size again.
    second = App(95, largest_page=20)
    list(PageWalker(second.fetch, paginator=paginator))
    assert second.requests[0]["limit"] == 100


def test_the_rules_count_the_records_saved_before():
    stops = WalkStops(max_records=50, first_page_number=4, records_before=30)
    assert stops.room() == 20
    kept, cut = stops.cut([{"id": i} for i in range(25)])
    assert (len(kept), cut) == (20, True)
    assert stops.after(4, len(kept), following={"offset": 60}, cut=cut)
    assert stops.stop_reason is not None
    assert stops.stop_reason.message == "Stopped at max_records=50 on page 4; more records exist."
    assert (stops.pages, stops.records, stops.dataset_records) == (1, 20, 50)


def test_the_rules_stop_on_parameters_used_before():
    stops = WalkStops()
    stops.begin({"cursor": None})
    assert not stops.after(1, 3, following={"cursor": "b"})
    with pytest.warns(UserWarning, match="already used"):
        assert stops.after(2, 3, following={"cursor": None})
    assert stops.stop_reason is not None and stops.stop_reason.kind == "repeated_cursor"


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"records_before": -1}, id="records_before-negative"),
        pytest.param({"first_page_number": 0}, id="first_page_number-zero"),
    ],
)
def test_bad_resume_figures_are_configuration_errors(options):
    with pytest.raises(ConfigurationError, match="at least"):
        PageWalker(lambda params: ActionResult.from_json({}), **options)
