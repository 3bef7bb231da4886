"""Pagination conventions, cursors and parameter checks, without sockets."""

from __future__ import annotations

import json

import pytest

from alloy_data.sandbox import paging
from alloy_data.sandbox.errors import ApiError
from alloy_data.sandbox.ids import RecordIds
from alloy_data.sandbox.params import Param, check_params


def ctx(total: int, ids: RecordIds | None = None) -> paging.PageContext:
    return paging.PageContext("shop/orders", total, ids or RecordIds("int"), "http://sb.test")


@pytest.mark.parametrize("position", [0, 1, 149, 10**9], ids=lambda p: f"at-{p}")
def test_cursors_round_trip(position):
    cursor = paging.encode_cursor("shop/orders", position)
    assert cursor.isascii() and "=" not in cursor
    assert paging.decode_cursor("shop/orders", cursor) == position


@pytest.mark.parametrize(
    "cursor",
    ["", "!!!", "abc", "c2hvcC9vcmRlcnM6MTA", "ΩΩ", "x" * 500],
    ids=["empty", "symbols", "short", "no-checksum", "unicode", "huge"],
)
def test_garbled_cursors_are_refused(cursor):
    with pytest.raises(paging.CursorError):
        paging.decode_cursor("shop/orders", cursor)


def test_a_cursor_with_one_character_changed_is_refused():
    cursor = paging.encode_cursor("shop/orders", 1234)
    flipped = cursor[:-3] + ("A" if cursor[-3] != "A" else "B") + cursor[-2:]
    with pytest.raises(paging.CursorError):
        paging.decode_cursor("shop/orders", flipped)


def test_a_cursor_of_another_resource_is_refused():
    with pytest.raises(paging.CursorError):
        paging.decode_cursor("hubspot/contacts", paging.encode_cursor("shop/orders", 10))


def walk(convention: paging.Convention, total: int, size_param: str, size: int) -> list[int]:
    """Follow a convention's own next-page signal, returning the record indexes seen."""
    context = ctx(total)
    values = check_params("list", convention.params(), {size_param: size})
    seen: list[int] = []
    for _ in range(total + 2):
        start, stop = convention.window(values, context)
        body = json.loads(
            convention.render([str(i).encode() for i in range(start, stop)], start, values, context)
        )
        if isinstance(convention, paging.RelayCursor):
            connection = body["data"]["orders"]
            seen += [edge["node"] for edge in connection["edges"]]
            if not connection["pageInfo"]["hasNextPage"]:
                return seen
            values["after"] = connection["pageInfo"]["endCursor"]
        elif isinstance(convention, paging.OffsetLimit):
            seen += body["entries"]
            if not body["entries"] or len(seen) >= body["total_count"]:
                return seen
            values["offset"] += len(body["entries"])
        elif isinstance(convention, paging.PageNumber):
            seen += body["Invoices"]
            if len(body["Invoices"]) < size:
                return seen
            values["page"] += 1
        elif isinstance(convention, paging.AlloyOffset):
            seen += body["data"]
            if not body["pagination"]["hasMore"]:
                return seen
            values["offset"] = body["pagination"]["nextOffset"]
    raise AssertionError("did not end")


@pytest.mark.parametrize("total", [0, 1, 99, 100, 101, 250], ids=lambda t: f"{t}-records")
@pytest.mark.parametrize(
    ("convention", "size_param"),
    [(paging.RelayCursor("orders"), "first"), (paging.OffsetLimit(), "limit"),
     (paging.PageNumber("Invoices"), "pageSize"), (paging.AlloyOffset(), "limit")],
    ids=["relay", "offset-limit", "page-number", "alloy-offset"],
)  # fmt: skip
def test_walking_a_convention_sees_every_record_once_in_order(convention, size_param, total):
    size = 50 if isinstance(convention, paging.AlloyOffset) else 100
    assert walk(convention, total, size_param, size) == list(range(total))


def test_relay_edges_carry_cursors_to_the_next_record():
    convention = paging.RelayCursor("orders")
    values = check_params("list-orders", convention.params(), {"first": 3})
    body = json.loads(convention.render([b"1", b"2", b"3"], 0, values, ctx(10)))
    cursors = [edge["cursor"] for edge in body["data"]["orders"]["edges"]]
    assert [paging.decode_cursor("shop/orders", c) for c in cursors] == [1, 2, 3]
    assert body["data"]["orders"]["pageInfo"]["endCursor"] == cursors[-1]


def test_zendesk_next_page_link_holds_the_next_requests_parameters():
    convention = paging.NextLink("tickets", "/api/v2/tickets.json")
    values = check_params("list-tickets", convention.params(), {"page": 2, "per_page": 10})
    body = json.loads(convention.render([b"1"] * 10, 10, values, ctx(35)))
    assert body["next_page"] == "http://sb.test/api/v2/tickets.json?page=3&per_page=10"
    assert body["previous_page"].endswith("page=1&per_page=10")
    assert body["count"] == 35


def test_hubspot_paging_is_absent_on_the_last_page():
    convention = paging.BodyCursor("/crm/v3/objects/contacts")
    values = check_params("list-contacts", convention.params(), {"limit": 5})
    assert "paging" in json.loads(convention.render([b"1"] * 5, 0, values, ctx(6)))
    assert "paging" not in json.loads(convention.render([b"1"], 5, values, ctx(6)))


def test_stripe_starting_after_an_unknown_id_is_a_bad_request():
    convention = paging.LastId("/v1/charges")
    values = check_params("list-charges", convention.params(), {"starting_after": "ch_nope"})
    with pytest.raises(ApiError) as caught:
        convention.window(values, ctx(10, RecordIds("stripe", prefix="ch_")))
    assert caught.value.status == 400
    assert "starting_after" in caught.value.message


LIMIT = Param("limit", "integer", "page size", default=10, maximum=100, minimum=1)
AFTER = Param("after", "string", "cursor")


@pytest.mark.parametrize(
    ("values", "expected"),
    [({}, {"limit": 10}), ({"limit": "50"}, {"limit": 50}), ({"limit": None}, {"limit": 10}),
     ({"after": 12}, {"limit": 10, "after": "12"})],
    ids=["defaults", "numeric-string", "null-is-absent", "int-as-string"],
)  # fmt: skip
def test_parameters_are_coerced_and_defaulted(values, expected):
    assert check_params("list", (LIMIT, AFTER), values) == expected


@pytest.mark.parametrize(
    ("values", "named"),
    [({"limit": 101}, "limit"), ({"limit": 0}, "limit"), ({"limit": "ten"}, "limit"),
     ({"limit": True}, "limit"), ({"after": ["x"]}, "after"), ({"color": "red"}, "color")],
    ids=["over-maximum", "below-minimum", "text", "boolean", "list-for-string", "unknown"],
)  # fmt: skip
def test_bad_parameters_are_refused_by_name(values, named):
    with pytest.raises(ApiError) as caught:
        check_params("list", (LIMIT, AFTER), values)
    assert caught.value.status == 400
    assert f"'{named}'" in caught.value.message
