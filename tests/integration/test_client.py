"""Every client operation against the sandbox on loopback, in both wire dialects."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from alloy_data.client import AlloyClient
from alloy_data.models import Action, ActionResult, Connector, Credential, Resource, User
from alloy_data.sandbox import Sandbox, serve

DIALECTS = ["seed", "live"]
LIST_ACTIONS = {
    "shopify": "list-orders",
    "hubspot": "list-contacts",
    "stripe": "list-charges",
    "zendesk": "list-tickets",
    "box": "list-files",
    "xero": "list-invoices",
    "quickbooks": "list-customers",
}


@pytest.fixture(params=DIALECTS)
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def shared(dialect: str, request: pytest.FixtureRequest) -> Sandbox:
    """The suite's read-only sandbox of each dialect."""
    name = "sandbox" if dialect == "seed" else "live_sandbox"
    sandbox: Sandbox = request.getfixturevalue(name)
    return sandbox


@pytest.fixture
def client(shared: Sandbox) -> Iterator[AlloyClient]:
    with AlloyClient(
        shared.api_key, base_url=shared.url, user_id=shared.fixtures.user_id, trust_env=False
    ) as alloy:
        yield alloy


@pytest.fixture(scope="module", params=DIALECTS)
def writable(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """A sandbox of this module's own, for operations that create or delete things."""
    with serve(port=0, dialect=request.param, seed=3) as running:
        yield running


@pytest.fixture
def writer(writable: Sandbox) -> Iterator[AlloyClient]:
    with AlloyClient(
        writable.api_key, base_url=writable.url, user_id=writable.fixtures.user_id, trust_env=False
    ) as alloy:
        yield alloy


def test_connectors_list(client: AlloyClient) -> None:
    connectors = client.connectors.list()
    assert all(isinstance(c, Connector) for c in connectors)
    assert set(LIST_ACTIONS) <= {c.connector_id for c in connectors}


def test_connectors_list_by_category(client: AlloyClient) -> None:
    everything = client.connectors.list()
    category = next(c.category for c in everything if c.connector_id == "shopify")
    assert category
    chosen = client.connectors.list(category=category)
    assert "shopify" in {c.connector_id for c in chosen}
    assert all(c.category == category for c in chosen)
    assert len(chosen) < len(everything)


@pytest.mark.parametrize("connector_id", sorted(LIST_ACTIONS))
def test_resources_and_resolved_actions(client: AlloyClient, connector_id: str) -> None:
    resources = client.connectors.resources(connector_id)
    assert resources
    assert all(isinstance(r, Resource) for r in resources)
    pairs = client.connectors.actions(connector_id)
    assert all(action_id == action_id.strip() and action_id for _, action_id in pairs)
    assert LIST_ACTIONS[connector_id] in {action_id for _, action_id in pairs}


@pytest.mark.parametrize("connector_id", sorted(LIST_ACTIONS))
def test_action_metadata_and_one_page(
    client: AlloyClient, shared: Sandbox, connector_id: str
) -> None:
    action_id = LIST_ACTIONS[connector_id]
    action = client.actions.get(connector_id, action_id)
    assert isinstance(action, Action)
    assert action.action_id == action_id
    assert action.parameters
    result = client.actions.execute(
        connector_id, action_id, credential_id=shared.fixtures.credentials[connector_id]
    )
    assert isinstance(result, ActionResult)
    assert not result.failed
    assert result.data


def test_live_actions_declare_locations_and_seed_actions_do_not(
    client: AlloyClient, dialect: str
) -> None:
    action = client.actions.get("shopify", "list-orders")
    assert action.declares_locations == (dialect == "live")


def test_execute_with_parameters_fetches_metadata_once(
    client: AlloyClient, shared: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    credential = shared.fixtures.credentials["shopify"]
    with caplog.at_level(logging.INFO, logger="alloy_data.http"):
        first = client.actions.execute(
            "shopify", "list-orders", credential_id=credential, parameters={"first": 2}
        )
        client.actions.execute(
            "shopify", "list-orders", credential_id=credential, parameters={"first": 3}
        )
    lines = [r.getMessage() for r in caplog.records]
    assert (
        sum(line.startswith("GET /connectors/shopify/actions/list-orders ") for line in lines) == 1
    )
    assert sum(line.startswith("POST ") for line in lines) == 2
    assert len(first.data["data"]["orders"]["edges"]) == 2


def test_credentials_metadata_and_list(client: AlloyClient, shared: Sandbox) -> None:
    metadata = client.credentials.metadata("shopify")
    assert metadata.auth_type
    credentials = client.credentials.list("shopify", user_id=shared.fixtures.user_id)
    assert [c.credential_id for c in credentials] == [shared.fixtures.credentials["shopify"]]
    assert all(isinstance(c, Credential) for c in credentials)


def test_users_list_and_credentials(client: AlloyClient, shared: Sandbox) -> None:
    users = client.users.list()
    assert all(isinstance(u, User) for u in users)
    assert shared.fixtures.user_id in {u.user_id for u in users}
    credentials = client.users.credentials(shared.fixtures.user_id)
    ids = {c.credential_id for c in credentials}
    assert set(shared.fixtures.credentials.values()) <= ids
    assert not set(shared.fixtures.other_credentials.values()) & ids


def test_users_create_and_token(writer: AlloyClient) -> None:
    user = writer.users.create("analyst-1", full_name="An Analyst")
    assert user.user_id
    assert user.username == "analyst-1"
    assert user.user_id in {u.user_id for u in writer.users.list()}
    token = writer.users.token(user.user_id)
    assert isinstance(token, str)
    assert token.count(".") == 2  # a JWT


def test_credentials_create_list_and_delete(writer: AlloyClient) -> None:
    user = writer.users.create("analyst-2")
    metadata = writer.credentials.metadata("stripe")
    data = {field.name: f"value-for-{field.name}-0123456789" for field in metadata.fields}
    created = writer.credentials.create("stripe", user_id=user.user_id, data=data)
    assert created.credential_id
    listed = writer.credentials.list("stripe", user_id=user.user_id)
    assert created.credential_id in {c.credential_id for c in listed}
    writer.users.delete_credential(user.user_id, created.credential_id)
    assert writer.credentials.list("stripe", user_id=user.user_id) == []


def test_oauth_credentials_answer_with_a_url_or_an_id(writer: AlloyClient) -> None:
    user = writer.users.create("analyst-3")
    created = writer.credentials.create(
        "shopify",
        user_id=user.user_id,
        data={"shop_domain": "analyst.myshopify.com"},
        authentication_type="oauth2",
        redirect_uri="http://127.0.0.1/callback",
    )
    assert created.credential_id or created.oauth_url
    if created.oauth_url:
        assert created.oauth_url.startswith("http")


def test_execute_as_another_user_with_their_credential(
    writer: AlloyClient, writable: Sandbox
) -> None:
    result = writer.actions.execute(
        "stripe",
        "list-charges",
        credential_id=writable.fixtures.other_credentials["stripe"],
        user_id=writable.fixtures.other_user_id,
    )
    assert result.data


def test_pooled_connections_serve_concurrent_calls(client: AlloyClient) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: len(client.connectors.list()), range(32)))
    assert len(set(results)) == 1
