"""Every list action, walked to its end over HTTP with plain requests, by its own convention."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from alloy_data.sandbox import Sandbox, serve
from alloy_data.sandbox.catalog import build_catalog
from alloy_data.sandbox.records import Context

Execute = Callable[[dict[str, Any]], dict[str, Any]]
CATALOG = build_catalog()


def walk_relay(execute: Execute, size: int) -> Iterator[list[dict[str, Any]]]:
    params: dict[str, Any] = {"first": size}
    while True:
        orders = execute(params)["data"]["data"]["orders"]
        yield [edge["node"] for edge in orders["edges"]]
        if not orders["pageInfo"]["hasNextPage"]:
            return
        params["after"] = orders["pageInfo"]["endCursor"]


def walk_body_cursor(execute: Execute, size: int) -> Iterator[list[dict[str, Any]]]:
    params: dict[str, Any] = {"limit": size}
    while True:
        body = execute(params)["data"]
        yield body["results"]
        if "paging" not in body:
            return
        params["after"] = body["paging"]["next"]["after"]


def walk_last_id(execute: Execute, size: int) -> Iterator[list[dict[str, Any]]]:
    params: dict[str, Any] = {"limit": size}
    while True:
        body = execute(params)["data"]
        yield body["data"]
        if not body["has_more"]:
            return
        params["starting_after"] = body["data"][-1]["id"]


def walk_next_link(execute: Execute, size: int) -> Iterator[list[dict[str, Any]]]:
    params: dict[str, Any] = {"per_page": size}
    while True:
        body = execute(params)["data"]
        yield body["tickets"]
        if body["next_page"] is None:
            return
        params = dict(parse_qsl(urlsplit(body["next_page"]).query))


def walk_offset_limit(execute: Execute, size: int) -> Iterator[list[dict[str, Any]]]:
    offset = 0
    while True:
        body = execute({"offset": offset, "limit": size})["data"]
        yield body["entries"]
        offset += len(body["entries"])
        if not body["entries"] or offset >= body["total_count"]:
            return


def walk_page_number(execute: Execute, size: int) -> Iterator[list[dict[str, Any]]]:
    page = 1
    while True:
        invoices = execute({"page": page, "pageSize": size})["data"]["Invoices"]
        yield invoices
        if len(invoices) < size:
            return
        page += 1


def walk_alloy_offset(execute: Execute, size: int) -> Iterator[list[dict[str, Any]]]:
    params: dict[str, Any] = {"limit": size}
    while True:
        answer = execute(params)
        yield answer["data"]
        if not answer["pagination"]["hasMore"]:
            return
        params["offset"] = answer["pagination"]["nextOffset"]


def walk_notion(execute: Execute, size: int) -> Iterator[list[dict[str, Any]]]:
    params: dict[str, Any] = {"page_size": size}
    while True:
        body = execute(params)["data"]
        yield body["results"]
        if not body["has_more"]:
            return
        params["start_cursor"] = body["next_cursor"]


def walk_unpaginated(execute: Execute, size: int) -> Iterator[list[dict[str, Any]]]:
    yield execute({})["data"]["locations"]


# connector, action, walker, page size, id field
LIST_ACTIONS = [
    ("shopify", "list-orders", walk_relay, 50, "id"),
    ("shopify", "list-locations", walk_unpaginated, 0, "id"),
    ("hubspot", "list-contacts", walk_body_cursor, 100, "id"),
    ("hubspot", "list-companies", walk_body_cursor, 100, "id"),
    ("stripe", "list-charges", walk_last_id, 100, "id"),
    ("stripe", "list-customers", walk_last_id, 100, "id"),
    ("zendesk", "list-tickets", walk_next_link, 100, "id"),
    ("box", "list-files", walk_offset_limit, 100, "id"),
    ("xero", "list-invoices", walk_page_number, 100, "InvoiceID"),
    ("quickbooks", "list-customers", walk_alloy_offset, 50, "Id"),
    ("notion", "list-pages", walk_notion, 100, "id"),
]
ACTION_IDS = [f"{connector}-{action}" for connector, action, *_ in LIST_ACTIONS]


def test_every_list_action_of_the_catalog_is_walked_here():
    listed = {
        (connector.connector_id, action.action_id)
        for connector in CATALOG.values()
        for action in connector.actions()
        if action.verb == "list"
    }
    assert listed == {(connector, action) for connector, action, *_ in LIST_ACTIONS}


def expected_ids(connector: str, action: str, count: int, seed: int = 5) -> list[Any]:
    """The ids in the app's order: by id, newest first, or most recently edited first."""
    resource_id = action.removeprefix("list-")
    resource = next(r for r in CATALOG[connector].resources if r.resource_id == resource_id)
    indexes = list(range(count))
    if resource.order == "created_desc":
        indexes.reverse()
    elif resource.order == "updated_desc":
        context = Context(seed, "")
        edited = {
            index: resource.generator(context, index, resource.ids)["last_edited_time"]
            for index in indexes
        }
        indexes.sort(key=lambda index: (edited[index], index), reverse=True)
    return [resource.ids.id_for(index) for index in indexes]


def executor(sb: Sandbox, session: requests.Session, connector: str, action: str) -> Execute:
    url = f"{sb.url}/connectors/{connector}/actions/{action}/execute"

    def execute(parameters: dict[str, Any]) -> dict[str, Any]:
        body = {
            "userId": sb.fixtures.user_id,
            "credentialId": sb.fixtures.credentials[connector],
            "parameters": parameters,
        }
        response = session.post(url, json=body, timeout=5)
        assert response.status_code == 200, response.text
        return response.json()

    return execute


def walk_ids(sb: Sandbox, case: tuple[Any, ...]) -> tuple[list[Any], int]:
    connector, action, walker, size, id_field = case
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {sb.api_key}"
    ids: list[Any] = []
    pages = 0
    for page in walker(executor(sb, session, connector, action), size):
        ids += [record[id_field] for record in page]
        pages += 1
        assert pages < 10_000
    return ids, pages


@pytest.fixture(scope="module", params=[0, 200, 237], ids=lambda n: f"{n}-records")
def sized_sandbox(request) -> Iterator[Sandbox]:
    """200 is a multiple of every page size used here; 237 is not."""
    with serve(port=0, seed=5, records=request.param) as running:
        yield running


@pytest.mark.parametrize("case", LIST_ACTIONS, ids=ACTION_IDS)
def test_walk_sees_every_record_once_in_order(sized_sandbox, case):
    connector, action, *_ = case
    count = sized_sandbox.api.listings[(connector, action.removeprefix("list-"))].total
    ids, _ = walk_ids(sized_sandbox, case)
    assert ids == expected_ids(connector, action, count)


@pytest.mark.parametrize("case", LIST_ACTIONS, ids=ACTION_IDS)
def test_default_counts_walk_to_the_end(sandbox, case):
    connector, action, *_ = case
    ids, pages = walk_ids(sandbox, case)
    assert len(ids) == len(set(ids)) == sandbox.api.listings[(connector, action[5:])].total
    assert 1 <= pages <= 100


def test_an_exact_multiple_ends_without_an_extra_page_where_the_app_can_tell():
    with serve(port=0, records={"box": 300, "stripe": 300}) as sb:
        _, box_pages = walk_ids(sb, LIST_ACTIONS[7])
        _, stripe_pages = walk_ids(sb, LIST_ACTIONS[4])
    assert (box_pages, stripe_pages) == (3, 3)


def test_page_number_ends_on_an_empty_page_after_an_exact_multiple():
    with serve(port=0, records={"xero": 300}) as sb:
        ids, pages = walk_ids(sb, LIST_ACTIONS[8])
    assert (len(ids), pages) == (300, 4)


def test_records_reflect_the_page_size_sent(sandbox):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {sandbox.api_key}"
    execute = executor(sandbox, session, "shopify", "list-orders")
    for size in (1, 7, 250):
        assert len(execute({"first": size})["data"]["data"]["orders"]["edges"]) == size


def test_discount_code_first_appears_mid_page(sandbox):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {sandbox.api_key}"
    pages = list(walk_relay(executor(sandbox, session, "shopify", "list-orders"), 100))
    second = pages[1]
    assert "discount_code" not in second[0]
    assert "discount_code" in second[-1]
