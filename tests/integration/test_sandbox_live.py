"""The live dialect: headers, ObjectIds, responseData, OAuth URLs, the extra user routes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from alloy_data.sandbox import Sandbox, serve

OBJECT_ID = re.compile(r"[0-9a-f]{24}")


@pytest.fixture(scope="module")
def live_sandbox() -> Iterator[Sandbox]:
    """This module's own server: it creates and deletes users and credentials."""
    with serve(port=0, dialect="live") as running:
        yield running


@pytest.fixture(scope="module")
def api(live_sandbox):
    session = requests.Session()
    session.headers.update(
        {"Authorization": f"Bearer {live_sandbox.api_key}", "x-api-version": "2025-09"}
    )

    def send(method: str, path: str, *, status: int = 200, **kwargs: Any) -> Any:
        response = session.request(method, live_sandbox.url + path, timeout=5, **kwargs)
        assert response.status_code == status, response.text
        return response.json()

    return send


def test_x_api_version_is_required(live_sandbox):
    response = requests.get(
        f"{live_sandbox.url}/connectors",
        headers={"Authorization": f"Bearer {live_sandbox.api_key}"},
        timeout=5,
    )
    assert response.status_code == 400
    assert "x-api-version" in response.json()["message"]


def test_create_user_answers_only_an_object_id(api):
    created = api(
        "POST", "/users", json={"username": "live-user", "fullName": "Zoë Łukasz"}, status=201
    )
    assert set(created) == {"userId"}
    assert OBJECT_ID.fullmatch(created["userId"])
    users = api("GET", "/users")["data"]
    assert {"userId": created["userId"], "username": "live-user", "fullName": "Zoë Łukasz"} in users


def test_fixture_ids_are_object_ids(live_sandbox):
    fixtures = live_sandbox.fixtures
    ids = [fixtures.user_id, fixtures.other_user_id, *fixtures.credentials.values()]
    assert all(OBJECT_ID.fullmatch(value) for value in ids)


def test_action_details_say_where_each_parameter_goes(api):
    action = api("GET", "/connectors/shopify/actions/list-orders")["action"]
    assert action["id"] == "list-orders"
    assert action["httpMethod"] == "GET"
    assert {"displayName", "description", "path", "requestBody"} <= set(action)
    first = next(p for p in action["parameters"] if p["name"] == "first")
    assert first["in"] == "query"
    # Shopify states no maximum, not even in its schema: it tells in its 400 answer.
    assert first["schema"] == {"type": "integer", "minimum": 1, "default": 50}


def test_get_and_create_actions_declare_path_and_body(api):
    get = api("GET", "/connectors/zendesk/actions/get-tickets")["action"]
    assert get["parameters"][0] == {
        "name": "ticket_id", "in": "path", "required": True, "description": "The ticket's id",
        "schema": {"type": "integer"},
    }  # fmt: skip
    create = api("GET", "/connectors/stripe/actions/create-charges")["action"]
    assert create["parameters"] == []
    assert create["requestBody"]["required"] == ["amount", "currency"]


def execute(api, sb, connector: str, action: str, **slots: Any) -> Any:
    body = {"credentialId": sb.fixtures.credentials[connector], **slots}
    return api(
        "POST", f"/connectors/{connector}/actions/{action}/execute", json=body,
        headers={"x-alloy-userid": sb.fixtures.user_id},
    )  # fmt: skip


def test_execute_answers_response_data(api, live_sandbox):
    result = execute(api, live_sandbox, "shopify", "list-orders", queryParameters={"first": "3"})
    assert result["status"] == "success"
    assert OBJECT_ID.fullmatch(result["executionId"])
    edges = result["responseData"]["data"]["orders"]["edges"]
    assert len(edges) == 3


def test_execute_merges_seed_parameters_with_the_live_slots(api, live_sandbox):
    result = execute(
        api, live_sandbox, "hubspot", "list-contacts", parameters={"limit": 4},
        queryParameters={"limit": 4},
    )  # fmt: skip
    assert len(result["responseData"]["results"]) == 4


def test_execute_path_parameters_and_request_body(api, live_sandbox):
    got = execute(api, live_sandbox, "zendesk", "get-tickets", pathParams={"ticket_id": 7})
    assert got["responseData"]["ticket"]["id"] == 7
    created = execute(
        api, live_sandbox, "stripe", "create-charges",
        requestBody={"amount": 999, "currency": "usd"}, additionalHeaders={"Idempotency-Key": "k"},
    )  # fmt: skip
    charge = created["responseData"]
    assert (charge["amount"], charge["currency"]) == (999, "usd")
    fetched = execute(api, live_sandbox, "stripe", "get-charges", pathParams={"id": charge["id"]})
    assert fetched["responseData"] == charge


def test_quickbooks_answers_data_and_pagination_without_response_data(api, live_sandbox):
    result = execute(
        api, live_sandbox, "quickbooks", "list-customers", queryParameters={"limit": 50}
    )
    assert set(result) == {"data", "pagination"}
    assert result["pagination"] == {"hasMore": True, "nextOffset": 50}


def test_execute_refuses_a_credential_id_that_is_not_an_object_id(api, live_sandbox):
    body = {"credentialId": "cred_xyz789", "queryParameters": {}}
    error = api("POST", "/connectors/shopify/actions/list-orders/execute", json=body, status=400)
    assert "credentialId" in error["message"]


def test_execute_without_user_header_runs_as_the_keys_own_user(api, live_sandbox):
    body = {"credentialId": live_sandbox.fixtures.credentials["box"]}
    result = api("POST", "/connectors/box/actions/list-files/execute", json=body)
    assert result["responseData"]["entries"]


def test_credential_metadata(api):
    metadata = api("GET", "/connectors/zendesk/credentials/metadata")["metadata"]
    assert metadata == [
        {
            "authenticationType": "basic",
            "authConfigRequired": True,
            "inputSchema": {
                "type": "object",
                "properties": {
                    "subdomain": {"type": "string", "description": "Your Zendesk subdomain"},
                    "email": {"type": "string", "description": "The agent's email"},
                    "api_token": {"type": "string", "description": "A Zendesk API token"},
                },
                "required": ["subdomain", "email", "api_token"],
            },
            "sampleInput": {
                "subdomain": "acme",
                "email": "agent@example.com",
                "api_token": "token123",
            },
        }
    ]


def test_api_key_credential_answers_its_id(api):
    user = api("POST", "/users", json={"username": "stripe-owner"}, status=201)["userId"]
    body = {"userId": user, "authenticationType": "api_key", "data": {"api_key": "sk_test_1"}}
    created = api("POST", "/connectors/stripe/credentials", json=body, status=201)
    assert set(created) == {"credentialId"}
    listed = api("GET", "/connectors/stripe/credentials", headers={"x-alloy-userid": user})
    assert listed["credentials"][0]["credentialId"] == created["credentialId"]
    assert listed["credentials"][0]["type"] == "stripe-api-key"


def test_oauth_credential_is_created_by_visiting_the_oauth_url(api, live_sandbox):
    user = api("POST", "/users", json={"username": "shop-owner"}, status=201)["userId"]
    body = {
        "userId": user,
        "authenticationType": "oauth2",
        "data": {"shop_domain": "s.myshopify.com"},
    }
    oauth_url = api("POST", "/connectors/shopify/credentials", json=body)["oauthUrl"]
    assert oauth_url.startswith(f"{live_sandbox.url}/oauth/authorize?state=")
    assert api("GET", "/connectors/shopify/credentials", headers={"x-alloy-userid": user}) == {
        "credentials": []
    }
    assert requests.get(oauth_url, timeout=5).status_code == 200  # a browser: no API key
    listed = api("GET", "/connectors/shopify/credentials", headers={"x-alloy-userid": user})
    (credential,) = listed["credentials"]
    assert set(credential) == {"credentialId", "name", "type", "createdAt", "updatedAt"}
    assert credential["type"] == "shopify-oauth2"
    assert OBJECT_ID.fullmatch(credential["credentialId"])


def test_oauth_url_redirects_when_given_a_redirect_uri(api):
    body = {"data": {}, "redirectUri": "https://app.example.com/done"}
    oauth_url = api("POST", "/connectors/box/credentials", json=body)["oauthUrl"]
    response = requests.get(oauth_url, allow_redirects=False, timeout=5)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("https://app.example.com/done?credentialId=")


def test_unknown_oauth_state_is_a_bad_request(live_sandbox):
    response = requests.get(f"{live_sandbox.url}/oauth/authorize?state=nope", timeout=5)
    assert response.status_code == 400


def test_user_credentials_and_delete(api):
    user = api("POST", "/users", json={"username": "deleter"}, status=201)["userId"]
    body = {"userId": user, "data": {"api_key": "sk_test_2"}}
    credential = api("POST", "/connectors/stripe/credentials", json=body, status=201)[
        "credentialId"
    ]
    assert [c["credentialId"] for c in api("GET", f"/users/{user}/credentials")["data"]] == [
        credential
    ]
    assert api("DELETE", f"/users/{user}/credentials/{credential}") == {"success": True}
    assert api("GET", f"/users/{user}/credentials")["data"] == []
    api("DELETE", f"/users/{user}/credentials/{credential}", status=404)


def test_token(api, live_sandbox):
    assert api("GET", f"/users/{live_sandbox.fixtures.user_id}/token")["token"].count(".") == 2
