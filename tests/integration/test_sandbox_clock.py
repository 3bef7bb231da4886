"""The sandbox's clock over HTTP: updated-since filters, newest-first orders, lists that can do
neither, the admin endpoint and the command line's ticking clock."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests

from alloy_data.sandbox import Sandbox, serve

# A sandbox key given on the command line (not a secret).
CLI_KEY = "sk_sandbox_clock"
Execute = Callable[..., Any]


def epoch(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def shopify_text(moment: int) -> str:
    """``moment`` as Shopify writes dates in its docs: with a -04:00 offset."""
    return datetime.fromtimestamp(moment, timezone(timedelta(hours=-4))).isoformat()


def executor(sb: Sandbox) -> Execute:
    """Return ``execute(connector, action, params, status=200)`` -> the app's body."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {sb.api_key}"
    live = sb.dialect == "live"
    if live:
        session.headers["x-api-version"] = "2025-09"

    def execute(connector: str, action: str, params: dict[str, Any], status: int = 200) -> Any:
        credential = sb.fixtures.credentials[connector]
        if live:
            body = {"credentialId": credential, "queryParameters": params}
        else:
            body = {"userId": sb.fixtures.user_id, "credentialId": credential, "parameters": params}
        url = f"{sb.url}/connectors/{connector}/actions/{action}/execute"
        response = session.post(url, json=body, timeout=10)
        assert response.status_code == status, response.text
        answer = response.json()
        if status != 200 or connector == "quickbooks":
            # QuickBooks pages with Alloy's own envelope: the answer is the page.
            return answer
        return answer["responseData"] if live else answer["data"]

    return execute


@pytest.fixture(params=["seed", "live"])
def ticking(request) -> Iterator[Sandbox]:
    """A sandbox of each dialect whose clock has moved once (updates and inserts)."""
    with serve(port=0, dialect=request.param, seed=2, records=600) as sb:
        yield sb


def walk_orders(execute: Execute, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    query: dict[str, Any] = {"first": 50, **params}
    while True:
        orders = execute("shopify", "list-orders", query)["data"]["orders"]
        found += [edge["node"] for edge in orders["edges"]]
        if not orders["pageInfo"]["hasNextPage"]:
            return found
        query["after"] = orders["pageInfo"]["endCursor"]


def walk_charges(execute: Execute, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    query: dict[str, Any] = {"limit": 40, **params}
    while True:
        page = execute("stripe", "list-charges", query)
        found += page["data"]
        if not page["has_more"]:
            return found
        query["starting_after"] = page["data"][-1]["id"]


def order_number(order: dict[str, Any]) -> int:
    return int(order["id"].rsplit("/", 1)[1])


def test_updated_at_min_serves_exactly_the_orders_updated_since_in_id_order(ticking):
    execute = executor(ticking)
    mark = ticking.now
    tick = ticking.advance_clock(updates=0.03, inserts=0.01)
    everything = walk_orders(execute)
    assert len(everything) == 606
    since = walk_orders(execute, updated_at_min=shopify_text(mark + 1))
    expected = [order for order in everything if epoch(order["updated_at"]) > mark]
    assert since == expected
    assert len(since) == tick.changes[("shopify", "list-orders")].updated + 6 > 6
    assert [order_number(order) for order in since] == sorted(order_number(o) for o in since)


def test_updated_at_min_is_inclusive_and_pages_with_the_filter(ticking):
    execute = executor(ticking)
    everything = walk_orders(execute)
    # A mark among the generated records: exactly one order's update time, mid-list.
    mark = sorted(epoch(order["updated_at"]) for order in everything)[450]
    since = walk_orders(execute, updated_at_min=shopify_text(mark))
    assert since == [order for order in everything if epoch(order["updated_at"]) >= mark]
    assert any(epoch(order["updated_at"]) == mark for order in since)
    assert len(since) > 100  # more than two pages of 50


def test_get_answers_an_updated_record_as_it_is_now(ticking):
    execute = executor(ticking)
    tick = ticking.advance_clock(updates=0.05)
    since = walk_orders(execute, updated_at_min=shopify_text(tick.previous + 1))
    assert since
    for order in since[:5]:
        found = execute("shopify", "get-orders", {"id": order["id"]})["data"]["order"]
        assert found == order
        assert tick.previous < epoch(found["updated_at"]) <= tick.now


def test_a_cursor_serves_only_the_filter_it_was_made_for(ticking):
    execute = executor(ticking)
    first = execute("shopify", "list-orders", {"first": 5})["data"]["orders"]["pageInfo"]
    answer = execute(
        "shopify",
        "list-orders",
        {"first": 5, "after": first["endCursor"], "updated_at_min": "2023-01-01T00:00:00Z"},
        status=400,
    )
    assert "after" in answer["message"]


@pytest.mark.parametrize(
    ("connector", "action", "params", "words"),
    [("shopify", "list-orders", {"updated_at_min": "2024-05-01"}, "2014-04-25T16:15:47-04:00"),
     ("shopify", "list-orders", {"updated_at_min": "2024-05-01T10:00:00"}, "UTC offset"),
     ("shopify", "list-orders", {"updated_at_min": "1714557600"}, "expected a date and time"),
     ("stripe", "list-charges", {"created[gte]": "2024-05-01T10:00:00Z"}, "Unix timestamp")],
    ids=["date-only", "no-offset", "epoch-for-iso", "iso-for-epoch"],
)  # fmt: skip
def test_a_filter_value_in_another_format_is_a_400_naming_the_format(
    ticking, connector, action, params, words
):
    answer = executor(ticking)(connector, action, params, status=400)
    assert words in answer["message"]


def test_created_gte_serves_charges_created_since_newest_first(ticking):
    execute = executor(ticking)
    mark = ticking.now
    tick = ticking.advance_clock(inserts=0.02)
    everything = walk_charges(execute)
    created = [charge["created"] for charge in everything]
    assert created == sorted(created, reverse=True)
    since = walk_charges(execute, **{"created[gte]": mark + 1})
    assert since == everything[: tick.changes[("stripe", "list-charges")].inserted] != []
    # Inclusive: a charge created exactly at the mark is served.
    middle = everything[300]["created"]
    at_least = walk_charges(execute, **{"created[gte]": str(middle)})
    assert at_least == [charge for charge in everything if charge["created"] >= middle]
    assert at_least[-1]["created"] == middle


def test_stripe_starting_after_stays_right_when_charges_arrive_between_pages(ticking):
    execute = executor(ticking)
    first = execute("stripe", "list-charges", {"limit": 100})
    ticking.advance_clock(inserts=25)
    rest = walk_charges(execute, starting_after=first["data"][-1]["id"])
    seen = [charge["id"] for charge in first["data"] + rest]
    assert len(seen) == len(set(seen)) == 600  # each old charge once, none of the new ones
    newest = execute("stripe", "list-charges", {"limit": 25})["data"]
    assert {charge["id"] for charge in newest}.isdisjoint(seen)


def walk_pages(execute: Execute, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    query: dict[str, Any] = {"page_size": 100, **params}
    while True:
        page = execute("notion", "list-pages", query)
        found += page["results"]
        if not page["has_more"]:
            return found
        query["start_cursor"] = page["next_cursor"]


def test_notion_serves_the_most_recently_edited_pages_first(ticking):
    execute = executor(ticking)
    before = walk_pages(execute)
    tick = ticking.advance_clock(updates=0.05, inserts=0.01)
    after = walk_pages(execute)
    edited = [epoch(page["last_edited_time"]) for page in after]
    assert edited == sorted(edited, reverse=True)
    changes = tick.changes[("notion", "list-pages")]
    moved = after[: changes.updated + changes.inserted]
    assert all(epoch(page["last_edited_time"]) > tick.previous - 60 for page in moved)
    old_positions = {page["id"]: position for position, page in enumerate(before)}
    # Pages edited by the tick came from anywhere in the list and now lead it.
    assert max(old_positions[page["id"]] for page in moved if page["id"] in old_positions) > 100
    assert [p["id"] for p in after[len(moved) :]] == [
        p["id"] for p in before if p["id"] not in {m["id"] for m in moved}
    ]


def test_a_notion_cursor_resumes_after_its_page_when_pages_move_in_between(ticking):
    execute = executor(ticking)
    first = execute("notion", "list-pages", {"page_size": 100})
    ticking.advance_clock(updates=0.1)
    rest = walk_pages(execute, start_cursor=first["next_cursor"])
    last_seen = epoch(first["results"][-1]["last_edited_time"])
    assert all(epoch(page["last_edited_time"]) <= last_seen for page in rest)
    ids = [page["id"] for page in first["results"] + rest]
    assert len(ids) == len(set(ids))


NEITHER = [
    ("hubspot", "list-contacts", "limit", 100, "results", "id", "updatedAt"),
    ("box", "list-files", "limit", 100, "entries", "id", "modified_at"),
    ("quickbooks", "list-customers", "limit", 50, "data", "Id", "SyncToken"),
]


def walk_offset_or_cursor(execute: Execute, case: tuple[Any, ...]) -> list[dict[str, Any]]:
    connector, action, size_name, size, root, *_ = case
    found: list[dict[str, Any]] = []
    query: dict[str, Any] = {size_name: size}
    while True:
        page = execute(connector, action, query)
        found += page[root]
        if connector == "hubspot":
            if "paging" not in page:
                return found
            query["after"] = page["paging"]["next"]["after"]
        elif connector == "box":
            if len(found) >= page["total_count"]:
                return found
            query["offset"] = len(found)
        else:
            if not page["pagination"]["hasMore"]:
                return found
            query["offset"] = page["pagination"]["nextOffset"]


@pytest.mark.parametrize("case", NEITHER, ids=[case[0] for case in NEITHER])
def test_lists_that_can_do_neither_keep_their_order_with_new_values(ticking, case):
    connector, action, _, _, _, id_field, changed_field = case
    execute = executor(ticking)
    before = walk_offset_or_cursor(execute, case)
    first_page = execute(connector, action, {case[2]: case[3]})
    tick = ticking.advance_clock(updates=0.05, inserts=3)
    after = walk_offset_or_cursor(execute, case)
    assert [r[id_field] for r in after] == [r[id_field] for r in before] + [
        r[id_field] for r in after[-3:]
    ]
    changed = [new for old, new in zip(before, after, strict=False) if old != new]
    assert len(changed) == tick.changes[(connector, action)].updated == 30
    assert all(
        new[changed_field] != old[changed_field]
        for old, new in zip(before, after, strict=False)
        if old != new
    )
    # The same request after the tick is answered from the new records, not a cached page.
    again = execute(connector, action, {case[2]: case[3]})
    assert again[case[4]] == after[: case[3]]
    assert (again[case[4]] != first_page[case[4]]) == (before[: case[3]] != after[: case[3]])


def test_a_page_racing_ticks_sees_one_consistent_state():
    with serve(port=0, records={"notion": 300}) as sb:
        execute = executor(sb)
        stop = threading.Event()

        def tick() -> None:
            while not stop.is_set():
                sb.advance_clock(60, updates=0.05, inserts=1)

        ticker = threading.Thread(target=tick)
        ticker.start()
        try:
            for _ in range(40):
                page = execute("notion", "list-pages", {"page_size": 100})
                edited = [epoch(result["last_edited_time"]) for result in page["results"]]
                assert edited == sorted(edited, reverse=True)
                assert len({result["id"] for result in page["results"]}) == 100
        finally:
            stop.set()
            ticker.join()
        assert sb.advance_clock(1).tick > 1  # the ticker did tick meanwhile


def test_the_admin_endpoint_moves_the_clock_with_the_api_key(ticking):
    url = f"{ticking.url}/__sandbox/clock"
    key = {"Authorization": f"Bearer {ticking.api_key}"}
    start = requests.get(url, headers=key, timeout=5).json()
    assert start == {"now": ticking.now, "tick": 0}
    answer = requests.post(url, json={"seconds": 3600, "updates": 4}, headers=key, timeout=5)
    assert answer.status_code == 200
    summary = answer.json()
    assert (summary["tick"], summary["now"] - summary["previous"]) == (1, 3600)
    assert summary["now"] == ticking.now == start["now"] + 3600
    contacts = next(c for c in summary["changes"] if c["actionId"] == "list-contacts")
    assert (contacts["updated"], contacts["inserted"]) == (4, 0)
    refused = requests.post(url, json={"seconds": 60}, timeout=5)
    assert refused.status_code == 401 and ticking.api_key not in refused.text
    bad = requests.post(url, json={"updates": 2.5}, headers=key, timeout=5)
    assert bad.status_code == 400 and "below 1" in bad.json()["message"]
    unknown = requests.post(url, json={"minutes": 5}, headers=key, timeout=5)
    assert unknown.status_code == 400 and "seconds" in unknown.json()["message"]
    assert ticking.now == start["now"] + 3600


def test_the_admin_endpoint_is_not_among_the_api_s_connectors_or_actions(ticking):
    key = {"Authorization": f"Bearer {ticking.api_key}", "x-api-version": "2025-09"}
    listed = requests.get(f"{ticking.url}/connectors", headers=key, timeout=5).text
    assert "__sandbox" not in listed and "clock" not in listed


def test_the_command_line_moves_the_clock_every_few_seconds():
    process = subprocess.Popen(
        [sys.executable, "-m", "alloy_data.sandbox", "--port", "0", "--records", "200",
         "--api-key", CLI_KEY, "--clock-every", "0.3", "--changes-per-tick", "0.05",
         "--inserts-per-tick", "2", "--start-time", "2030-01-01T00:00:00Z"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        match = re.search(r"http://127\.0\.0\.1:\d+", process.stdout.readline())
        assert match
        url = f"{match.group(0)}/__sandbox/clock"
        key = {"Authorization": f"Bearer {CLI_KEY}"}
        deadline = time.monotonic() + 15
        clock = requests.get(url, headers=key, timeout=5).json()
        while clock["tick"] < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
            clock = requests.get(url, headers=key, timeout=5).json()
        assert clock["tick"] >= 2
        start = int(datetime(2030, 1, 1, tzinfo=timezone.utc).timestamp())
        assert clock["now"] == start + clock["tick"] * 86_400
        assert "records updated" in process.stdout.readline()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        process.stdout.close()  # type: ignore[union-attr]
