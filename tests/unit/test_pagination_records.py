"""find_records: where the records are in every answer shape."""

from __future__ import annotations

from typing import Any

import pytest

from alloy_data.models import ActionResult
from alloy_data.pagination import find_records
from alloy_data.pagination._records import records_at, same_records

ORDERS = [{"id": 1, "total": "9.50"}, {"id": 2, "total": "3.00"}]


@pytest.mark.parametrize(
    ("payload", "expected_path"),
    [
        pytest.param(ORDERS, "[]", id="payload-is-the-list"),
        pytest.param({"data": ORDERS, "has_more": True}, "data", id="data"),
        pytest.param({"results": ORDERS, "next_cursor": "x"}, "results", id="results"),
        pytest.param({"items": ORDERS, "total_count": 2}, "items", id="items"),
        pytest.param({"records": ORDERS, "offset": 0}, "records", id="records"),
        pytest.param({"entries": ORDERS, "cursor": "c"}, "entries", id="entries"),
        pytest.param({"value": ORDERS, "@odata.nextLink": None}, "value", id="odata-value"),
        pytest.param({"orders": ORDERS}, "orders", id="named-list"),
        pytest.param({"Invoices": ORDERS, "Count": 2}, "Invoices", id="named-list-capitalised"),
        pytest.param(
            {"tickets": ORDERS, "pagination": {"hasMore": False}, "executionId": "e1"},
            "tickets",
            id="named-list-beside-metadata",
        ),
        pytest.param(
            {"data": {"orders": {"edges": [{"cursor": "a", "node": o} for o in ORDERS]}}},
            "data.orders.edges[].node",
            id="graphql-edges",
        ),
        pytest.param(
            {"data": {"orders": {"nodes": ORDERS, "pageInfo": {"hasNextPage": False}}}},
            "data.orders.nodes",
            id="graphql-nodes",
        ),
        pytest.param(
            {"errors": [{"message": "partial"}], "data": {"customers": {"nodes": ORDERS}}},
            "data.customers.nodes",
            id="graphql-errors-are-not-records",
        ),
        pytest.param(
            {"response": {"result": {"items": ORDERS}}},
            "response.result.items",
            id="nested-wrappers",
        ),
    ],
)
def test_records_are_found(payload: Any, expected_path: str) -> None:
    records, path = find_records(payload)
    assert path == expected_path
    assert records == ORDERS


def test_edge_cursors_never_become_fields() -> None:
    payload = {"edges": [{"cursor": "c1", "node": {"id": 1}}, {"cursor": "c2", "node": {"id": 2}}]}
    records, path = find_records(payload)
    assert records == [{"id": 1}, {"id": 2}]
    assert path == "edges[].node"


@pytest.mark.parametrize(
    ("payload", "expected_records", "expected_path"),
    [
        pytest.param(None, [], "", id="none"),
        pytest.param({}, [], "", id="empty-object"),
        pytest.param([], [], "[]", id="empty-list"),
        pytest.param({"data": []}, [], "data", id="empty-data"),
        pytest.param(
            {"has_more": False, "next_cursor": None, "pagination": {"hasMore": False}},
            [],
            "",
            id="paging-metadata-only",
        ),
        pytest.param(
            {"pageInfo": {"hasNextPage": False}, "executionId": "e1"},
            [],
            "",
            id="execution-metadata-only",
        ),
    ],
)
def test_no_records(payload: Any, expected_records: list, expected_path: str) -> None:
    assert find_records(payload) == (expected_records, expected_path)


@pytest.mark.parametrize(
    ("payload", "expected_records", "expected_path"),
    [
        pytest.param(
            {"id": "ord_1", "items": [{"sku": "A"}], "total": 5},
            [{"id": "ord_1", "items": [{"sku": "A"}], "total": 5}],
            "",
            id="object-with-id-keeps-its-own-lists",
        ),
        pytest.param(
            {"name": "Acme", "plan": "pro", "executionId": "e1", "success": True},
            [{"name": "Acme", "plan": "pro"}],
            "",
            id="object-without-lists-drops-envelope-keys",
        ),
        pytest.param(
            {"data": {"id": 7, "lines": [{"n": 1}]}},
            [{"id": 7, "lines": [{"n": 1}]}],
            "data",
            id="wrapped-single-record",
        ),
        pytest.param("ok", [{"value": "ok"}], "", id="scalar-payload"),
        pytest.param(
            {"data": ["a", "b"]}, [{"value": "a"}, {"value": "b"}], "data", id="list-of-values"
        ),
        pytest.param(
            ["a", "b"], [{"value": "a"}, {"value": "b"}], "[]", id="payload-list-of-values"
        ),
    ],
)
def test_single_records_and_plain_values(
    payload: Any, expected_records: list, expected_path: str
) -> None:
    assert find_records(payload) == (expected_records, expected_path)


def test_several_lists_choose_the_one_with_ids_and_explain() -> None:
    payload = {
        "notes": [{"text": "slow"}],
        "orders": ORDERS,
        "refunds": [],
    }
    records, path = find_records(payload)
    assert records == ORDERS
    assert path.startswith("orders (")
    assert "also notes, refunds" in path
    assert "records_path" in path


def test_several_lists_choice_is_deterministic_whatever_the_key_order() -> None:
    first = {"refunds": [{"id": 9}], "orders": ORDERS}
    second = {"orders": ORDERS, "refunds": [{"id": 9}]}
    assert find_records(first)[0] == find_records(second)[0] == ORDERS


def test_several_empty_lists_take_the_first() -> None:
    records, path = find_records({"orders": [], "refunds": []})
    assert records == []
    assert path.startswith("orders (chosen among 2 lists")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"success": True, "data": {"orders": ORDERS}}, id="seed-success-data"),
        pytest.param(
            {"responseData": {"orders": ORDERS}, "executionId": "e1", "status": "success"},
            id="live-response-data",
        ),
        pytest.param({"success": True, "result": {"orders": ORDERS}}, id="live-success-result"),
        pytest.param({"data": ORDERS, "pagination": {"hasMore": False}}, id="alloy-offset"),
    ],
)
def test_records_in_every_execute_envelope(body: dict) -> None:
    records, _ = find_records(ActionResult.from_json(body).data)
    assert records == ORDERS


def test_same_records_are_the_very_objects_at_the_path() -> None:
    payload = {"orders": {"edges": [{"node": {"id": 1}}, {"node": {"id": 2}}]}}
    nodes = [edge["node"] for edge in payload["orders"]["edges"]]
    assert same_records(nodes, payload, "orders.edges[].node")
    assert same_records(nodes[:1], payload, "orders.edges[].node")  # cut by max_records
    assert not same_records(nodes[1:], payload, "orders.edges[].node")  # one left out
    assert not same_records([dict(node) for node in nodes], payload, "orders.edges[].node")
    assert not same_records(nodes, payload, "orders.missing")
    values = {"ids": [1, 2]}
    assert not same_records(records_at(values, "ids") or [], values, "ids")  # wrapped values
    assert not same_records(records_at(payload, "") or [], payload, "")
