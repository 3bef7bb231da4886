"""The seed dialect answers every contract operation in the contract's shapes (openapi-core)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

import alloy_data.sandbox
from alloy_data.sandbox import Sandbox, serve

SPEC_PATH = Path(alloy_data.sandbox.__file__).parent / "openapi.yaml"
CONNECTORS = ["shopify", "hubspot", "stripe", "zendesk", "box", "xero", "quickbooks", "notion"]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """This module's own server: it creates users and credentials."""
    with serve(port=0) as running:
        yield running


@pytest.fixture(scope="module")
def spec_dict() -> dict[str, Any]:
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def openapi(spec_dict, sandbox) -> OpenAPI:
    spec = copy.deepcopy(spec_dict)
    spec["servers"] = [{"url": sandbox.url}]
    return OpenAPI.from_dict(spec)


@pytest.fixture(scope="module")
def call(openapi, sandbox):
    """Send a request, validate request and response against the contract, return the JSON."""
    session = requests.Session()

    def send(method: str, path: str, *, status: int = 200, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {sandbox.api_key}"}
        prepared = requests.Request(method, sandbox.url + path, headers=headers, **kwargs).prepare()
        response = session.send(prepared, timeout=5)
        assert response.status_code == status, response.text
        openapi_request = RequestsOpenAPIRequest(prepared)
        openapi.validate_request(openapi_request)
        openapi.validate_response(openapi_request, RequestsOpenAPIResponse(response))
        return response.json()

    return send


def test_create_user(call):
    user = call("POST", "/users", json={"username": "user-123"}, status=201)
    assert user["username"] == "user-123"
    assert user["userId"]


def test_user_token(call, sandbox):
    token = call("GET", f"/users/{sandbox.fixtures.user_id}/token")["token"]
    assert token.count(".") == 2


def test_unknown_user_token_is_a_contract_404(call):
    assert call("GET", "/users/usr_nobody/token", status=404)["error"] == "NOT_FOUND"


def test_list_connectors(call):
    connectors = call("GET", "/connectors")["connectors"]
    assert [c["connectorId"] for c in connectors] == CONNECTORS
    by_id = {c["connectorId"]: (c["name"], c["category"]) for c in connectors}
    assert by_id["shopify"] == ("Shopify", "E-Commerce")
    assert by_id["quickbooks"] == ("QuickBooks Online", "Accounting")


def test_list_connectors_by_category(call):
    connectors = call("GET", "/connectors", params={"category": "Accounting"})["connectors"]
    assert [c["connectorId"] for c in connectors] == ["xero", "quickbooks"]


@pytest.mark.parametrize("connector", CONNECTORS)
def test_resources_list_action_names(call, connector):
    resources = call("GET", f"/connectors/{connector}/resources")["resources"]
    assert resources
    assert all("list" in resource["actions"] for resource in resources)
    assert set(resources[0]["actions"]) >= {"list", "get"}


@pytest.mark.parametrize("connector", CONNECTORS)
def test_every_action_named_by_a_resource_has_details(call, connector):
    for resource in call("GET", f"/connectors/{connector}/resources")["resources"]:
        for name in resource["actions"]:
            action_id = f"{name}-{resource['resourceId']}"
            action = call("GET", f"/connectors/{connector}/actions/{action_id}")
            assert action["actionId"] == action_id
            assert all(
                {"name", "type", "required", "description"} <= set(p) for p in action["parameters"]
            )


@pytest.mark.parametrize(
    ("connector", "action"),
    [("shopify", "list-orders"), ("hubspot", "list-contacts"), ("box", "list-files"),
     ("stripe", "list-charges")],
)  # fmt: skip
def test_action_parameters_carry_only_what_the_contract_has(call, connector, action):
    # The contract's ActionParameter has no default or maximum: limits are in the words.
    details = call("GET", f"/connectors/{connector}/actions/{action}")
    for parameter in details["parameters"]:
        assert set(parameter) == {"name", "type", "required", "description"}


@pytest.mark.parametrize(
    ("connector", "action", "parameters"),
    [("shopify", "list-orders", {"first": 5}), ("hubspot", "list-contacts", {"limit": 5}),
     ("stripe", "list-charges", {"limit": 5}), ("zendesk", "list-tickets", {"per_page": 5}),
     ("box", "list-files", {"limit": 5}), ("xero", "list-invoices", {"pageSize": 5}),
     ("notion", "list-pages", {"page_size": 5}), ("shopify", "list-locations", {}),
     ("zendesk", "get-tickets", {"ticket_id": 3}),
     ("stripe", "create-charges", {"amount": 1234, "currency": "eur"})],
    ids=["shopify-list-orders", "hubspot-list-contacts", "stripe-list-charges",
         "zendesk-list-tickets", "box-list-files", "xero-list-invoices", "notion-list-pages",
         "shopify-list-locations", "zendesk-get-tickets", "stripe-create-charges"],
)  # fmt: skip
def test_execute(call, sandbox, connector, action, parameters):
    body = {
        "userId": sandbox.fixtures.user_id,
        "credentialId": sandbox.fixtures.credentials[connector],
        "parameters": parameters,
    }
    result = call("POST", f"/connectors/{connector}/actions/{action}/execute", json=body)
    assert result["success"] is True
    assert isinstance(result["data"], dict)


def test_quickbooks_list_uses_alloy_paging_in_the_execute_answer(sandbox):
    # Not contract-valid on purpose: Alloy's pagination guide answers {data: [...], pagination}.
    body = {
        "userId": sandbox.fixtures.user_id,
        "credentialId": sandbox.fixtures.credentials["quickbooks"],
        "parameters": {"limit": 5},
    }
    response = requests.post(
        f"{sandbox.url}/connectors/quickbooks/actions/list-customers/execute",
        json=body,
        headers={"Authorization": f"Bearer {sandbox.api_key}"},
        timeout=5,
    )
    result = response.json()
    assert result["success"] is True
    assert len(result["data"]) == 5
    assert result["pagination"] == {"hasMore": True, "nextOffset": 5}


@pytest.mark.parametrize("connector", CONNECTORS)
def test_credential_metadata(call, connector):
    metadata = call("GET", f"/connectors/{connector}/credentials/metadata")
    assert metadata["connectorId"] == connector
    assert metadata["authType"] in {"oauth2", "api_key", "basic"}


@pytest.mark.parametrize(
    ("connector", "auth_type"),
    [("shopify", "oauth2"), ("stripe", "api_key"), ("zendesk", "basic")],
    ids=["oauth2", "api-key", "basic"],
)
def test_credential_metadata_auth_types(call, connector, auth_type):
    assert call("GET", f"/connectors/{connector}/credentials/metadata")["authType"] == auth_type


def test_create_then_list_credentials(call):
    user = call("POST", "/users", json={"username": "cred-owner"}, status=201)
    data = {"subdomain": "acme", "email": "a@example.com", "api_token": "t0k"}
    created = call(
        "POST", "/connectors/zendesk/credentials", json={"userId": user["userId"], "data": data},
        status=201,
    )  # fmt: skip
    assert (created["connectorId"], created["userId"]) == ("zendesk", user["userId"])
    listed = call("GET", "/connectors/zendesk/credentials", params={"userId": user["userId"]})
    assert [c["credentialId"] for c in listed["credentials"]] == [created["credentialId"]]


def test_missing_credential_field_is_a_contract_400(call, sandbox):
    body = {"userId": sandbox.fixtures.user_id, "data": {}}
    error = call("POST", "/connectors/shopify/credentials", json=body, status=400)
    assert "shop_domain" in error["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/connectors"), ("POST", "/users"), ("GET", "/users/x/token")],
    ids=["list-connectors", "create-user", "user-token"],
)
def test_missing_key_is_a_contract_401(openapi, sandbox, method, path):
    body = {"username": "u"} if method == "POST" else None
    prepared = requests.Request(method, sandbox.url + path, json=body).prepare()
    response = requests.Session().send(prepared, timeout=5)
    assert response.status_code == 401
    openapi.validate_response(RequestsOpenAPIRequest(prepared), RequestsOpenAPIResponse(response))
