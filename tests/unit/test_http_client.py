"""AlloyClient over a fake adapter (no sockets): execute bodies, envelopes, caching, checks."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from alloy_data.client import ACTION_CACHE_SIZE, AlloyClient, build_execute_body
from alloy_data.errors import BadRequestError, ConfigurationError, ResponseError
from alloy_data.models import Action, ActionParameter

KEY = "sk_test_SECRET_9f8e7d6c5b4a"
BASE = "https://api.example.com"

SEED_ACTION = Action.from_json(
    {
        "actionId": "list-orders",
        "parameters": [{"name": "limit", "type": "integer"}, {"name": "status", "type": "string"}],
    }
)
LIVE_ACTION = Action.from_json(
    {
        "action": {
            "id": "update-order",
            "httpMethod": "PUT",
            "parameters": [
                {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                {"name": "orderId", "in": "path", "required": True},
                {"name": "X-Shop", "in": "header"},
            ],
            "requestBody": {"type": "object", "properties": {"note": {"type": "string"}}},
        }
    }
)
LIVE_QUERY_ONLY = Action(
    action_id="list-things",
    parameters=(ActionParameter(name="limit", location="query"),),
)


# execute bodies


def test_seed_body_is_the_contracts() -> None:
    body = build_execute_body(
        SEED_ACTION, credential_id="cred_1", user_id="usr_1", parameters={"limit": 10}
    )
    assert body == {"userId": "usr_1", "credentialId": "cred_1", "parameters": {"limit": 10}}


def test_body_without_metadata_is_the_contracts() -> None:
    body = build_execute_body(None, credential_id="c", user_id="u", parameters=None)
    assert body == {"userId": "u", "credentialId": "c", "parameters": {}}


def test_body_without_a_user_has_no_user_id() -> None:
    body = build_execute_body(None, credential_id="c", user_id=None, parameters={})
    assert "userId" not in body


def test_live_body_places_each_parameter_by_location() -> None:
    parameters = {"limit": 5, "orderId": "o/1", "X-Shop": "s", "note": "hi", "extra": True}
    body = build_execute_body(LIVE_ACTION, credential_id="c", user_id="u", parameters=parameters)
    assert body["parameters"] == parameters
    assert body["queryParameters"] == {"limit": 5}
    assert body["pathParams"] == {"orderId": "o/1"}
    assert body["additionalHeaders"] == {"X-Shop": "s"}
    # `note` is in the body schema; `extra` is unknown but the action takes a body.
    assert body["requestBody"] == {"note": "hi", "extra": True}
    assert body["credentialId"] == "c"
    assert body["userId"] == "u"


def test_live_body_without_a_body_schema_sends_unknown_names_as_query() -> None:
    body = build_execute_body(
        LIVE_QUERY_ONLY, credential_id="c", user_id="u", parameters={"limit": 1, "after": "x"}
    )
    assert body["queryParameters"] == {"limit": 1, "after": "x"}
    assert body["requestBody"] == {}
    assert body["pathParams"] == {}
    assert body["additionalHeaders"] == {}


# a client over a routing fake adapter


class RoutingAdapter(BaseAdapter):
    """Answers by (method, path) and records every request."""

    def __init__(self, routes: dict[tuple[str, str], tuple[int, Any]]) -> None:
        super().__init__()
        self.routes = routes
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.sent.append(request)
        path = (request.path_url or "").split("?")[0]
        status, body = self.routes.get((request.method or "", path), (404, {"message": "no"}))
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response = requests.Response()
        response.status_code = status
        response._content = content
        response._content_consumed = True
        response.raw = io.BytesIO(content)
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        response.request = request
        return response

    def close(self) -> None:
        pass

    def bodies(self, path: str) -> list[Any]:
        return [json.loads(r.body or b"null") for r in self.sent if r.path_url == path]


def make_client(
    routes: dict[tuple[str, str], tuple[int, Any]], **options: Any
) -> tuple[AlloyClient, RoutingAdapter]:
    adapter = RoutingAdapter(routes)
    session = requests.Session()
    session.mount("https://", adapter)
    client = AlloyClient(KEY, base_url=BASE, session=session, trust_env=False, **options)
    return client, adapter


EXECUTE = "/connectors/shop/actions/update-order/execute"
GET_ACTION = "/connectors/shop/actions/update-order"


def test_execute_learns_metadata_once_and_fills_live_slots() -> None:
    client, adapter = make_client(
        {
            ("GET", GET_ACTION): (200, LIVE_ACTION.raw),
            ("POST", EXECUTE): (200, {"responseData": {"ok": 1}, "executionId": "e1"}),
        },
        user_id="usr_1",
    )
    for _ in range(2):
        result = client.actions.execute(
            "shop", "update-order", credential_id="c1", parameters={"orderId": "o1"}
        )
        assert result.data == {"ok": 1}
        assert result.execution_id == "e1"
    assert [r.path_url for r in adapter.sent].count(GET_ACTION) == 1
    body = adapter.bodies(EXECUTE)[-1]
    assert body["pathParams"] == {"orderId": "o1"}
    assert body["userId"] == "usr_1"
    assert adapter.sent[-1].headers["x-alloy-userid"] == "usr_1"


def test_execute_with_explicit_action_fetches_no_metadata() -> None:
    client, adapter = make_client({("POST", EXECUTE): (200, {"success": True, "data": []})})
    client.actions.execute(
        "shop", "update-order", credential_id="c1", parameters={"limit": 2}, action=LIVE_ACTION
    )
    assert [r.path_url for r in adapter.sent] == [EXECUTE]
    assert adapter.bodies(EXECUTE)[0]["queryParameters"] == {"limit": 2}


def test_execute_without_parameters_fetches_no_metadata() -> None:
    client, adapter = make_client({("POST", EXECUTE): (200, {"success": True, "data": []})})
    client.actions.execute("shop", "update-order", credential_id="c1", user_id="u")
    assert [r.path_url for r in adapter.sent] == [EXECUTE]


def test_execute_without_metadata_sends_the_contract_body() -> None:
    client, adapter = make_client({("POST", EXECUTE): (200, {"success": True, "data": {}})})
    client.actions.execute("shop", "update-order", credential_id="c1", parameters={"a": 1})
    assert adapter.bodies(EXECUTE)[0] == {"credentialId": "c1", "parameters": {"a": 1}}


@pytest.mark.parametrize(
    "envelope",
    [
        {"success": False, "message": "Shopify said: invalid cursor"},
        {"responseData": {"errors": "x"}, "status": "failed", "message": "Shopify said: no"},
    ],
    ids=["success-false", "status-failed"],
)
def test_a_failed_envelope_is_an_error(envelope: dict[str, Any]) -> None:
    client, _ = make_client({("POST", EXECUTE): (200, envelope)})
    with pytest.raises(BadRequestError) as caught:
        client.actions.execute("shop", "update-order", credential_id="c1")
    assert "Shopify said" in str(caught.value)
    assert "third-party app refused" in str(caught.value)


@pytest.mark.parametrize(
    "kwargs",
    [{"credential_id": ""}, {"credential_id": "  "}, {"credential_id": None}],
    ids=["empty", "blank", "none"],
)
def test_bad_credential_ids_are_refused_before_any_request(kwargs: dict[str, Any]) -> None:
    client, adapter = make_client({})
    with pytest.raises(ConfigurationError, match="credential_id"):
        client.actions.execute("shop", "update-order", **kwargs)
    assert adapter.sent == []


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.connectors.resources(""),
        lambda c: c.actions.get("shop", ""),
        lambda c: c.actions.execute("", "a", credential_id="c"),
        lambda c: c.users.token(""),
        lambda c: c.users.delete_credential("u", ""),
        lambda c: c.credentials.list("shop", user_id=""),
        lambda c: c.credentials.create("shop", user_id="u", data=[1, 2]),
        lambda c: c.actions.execute("s", "a", credential_id="c", parameters=[("a", 1)]),
        lambda c: c.users.create(""),
    ],
    ids=[
        "empty-connector",
        "empty-action",
        "execute-empty-connector",
        "empty-user",
        "empty-credential",
        "list-empty-user",
        "data-not-mapping",
        "parameters-not-mapping",
        "empty-username",
    ],
)
def test_bad_arguments_are_refused_before_any_request(call: Any) -> None:
    client, adapter = make_client({})
    with pytest.raises(ConfigurationError):
        call(client)
    assert adapter.sent == []


@pytest.mark.parametrize(
    "body",
    [[{"connectorId": "x"}], {"items": []}, {"connectors": "nope"}, b""],
    ids=["bare-list", "wrong-key", "not-a-list", "empty"],
)
def test_unexpected_list_envelopes_raise_response_error(body: Any) -> None:
    client, _ = make_client({("GET", "/connectors"): (200, body)})
    with pytest.raises(ResponseError) as caught:
        client.connectors.list()
    assert "/connectors" in str(caught.value)


def test_items_that_are_not_objects_raise_response_error_with_the_path() -> None:
    client, _ = make_client({("GET", "/connectors"): (200, {"connectors": [1, 2]})})
    with pytest.raises(ResponseError, match="GET /connectors"):
        client.connectors.list()


def test_a_list_where_an_object_belongs_raises_response_error() -> None:
    client, _ = make_client({("GET", "/users/u/token"): (200, ["token"])})
    with pytest.raises(ResponseError, match="JSON list"):
        client.users.token("u")


def test_connectors_actions_resolves_names() -> None:
    resources = {
        "resources": [
            {"resourceId": "orders", "actions": ["list", "get"]},
            {"resourceId": "customers", "actions": ["list-customers"]},
        ]
    }
    client, _ = make_client({("GET", "/connectors/shop/resources"): (200, resources)})
    assert client.connectors.actions("shop") == [
        ("orders", "list-orders"),
        ("orders", "get-orders"),
        ("customers", "list-customers"),
    ]


def test_category_is_sent_as_a_query_parameter() -> None:
    client, adapter = make_client({("GET", "/connectors"): (200, {"connectors": []})})
    assert client.connectors.list(category="E-Commerce") == []
    assert adapter.sent[0].path_url == "/connectors?category=E-Commerce"


def test_live_create_user_fills_the_name_from_the_call() -> None:
    client, _ = make_client({("POST", "/users"): (200, {"userId": "68c3229752345278627ae373"})})
    user = client.users.create("alice", full_name="Alice A")
    assert user.user_id == "68c3229752345278627ae373"
    assert user.username == "alice"
    assert user.full_name == "Alice A"


def test_oauth_credential_answer_gives_the_url() -> None:
    client, adapter = make_client(
        {("POST", "/connectors/shop/credentials"): (200, {"oauthUrl": "https://auth/x"})}
    )
    credential = client.credentials.create(
        "shop",
        user_id="u1",
        data={"shop_domain": "a"},
        authentication_type="oauth2",
        redirect_uri="https://app/cb",
    )
    assert credential.credential_id is None
    assert credential.oauth_url == "https://auth/x"
    assert adapter.bodies("/connectors/shop/credentials")[0] == {
        "userId": "u1",
        "data": {"shop_domain": "a"},
        "authenticationType": "oauth2",
        "redirectUri": "https://app/cb",
    }


def test_delete_credential_that_the_server_did_not_delete_is_an_error() -> None:
    client, _ = make_client(
        {("DELETE", "/users/u/credentials/c"): (200, {"success": False, "message": "locked"})}
    )
    with pytest.raises(BadRequestError, match="locked"):
        client.users.delete_credential("u", "c")


def test_action_cache_is_bounded() -> None:
    client, _ = make_client({})
    for number in range(ACTION_CACHE_SIZE + 10):
        client.actions.remember("c", f"a{number}", SEED_ACTION)
    assert len(client.actions._cache) == ACTION_CACHE_SIZE
    assert ("c", "a0") not in client.actions._cache
    assert ("c", f"a{ACTION_CACHE_SIZE + 9}") in client.actions._cache


def test_client_context_manager_closes_its_own_session() -> None:
    client = AlloyClient(KEY, base_url=BASE, trust_env=False)
    closed: list[bool] = []
    client._transport.session.close = lambda: closed.append(True)  # type: ignore[method-assign]
    with client as entered:
        assert entered is client
    assert closed == [True]


def test_client_leaves_a_callers_session_open() -> None:
    session = requests.Session()
    closed: list[bool] = []
    session.close = lambda: closed.append(True)  # type: ignore[method-assign]
    with AlloyClient(KEY, base_url=BASE, session=session):
        pass
    assert closed == []


def test_client_exposes_its_settings() -> None:
    client = AlloyClient(KEY, base_url=BASE, user_id="u1", api_version="2030-01", trust_env=False)
    assert (client.base_url, client.api_version, client.user_id) == (BASE, "2030-01", "u1")
    assert client.config.timeout[0] > 0


def test_close_callbacks_run_once_after_closing() -> None:
    client = AlloyClient(KEY, base_url=BASE, trust_env=False)
    calls: list[str] = []
    client.add_close_callback(lambda: calls.append("stopped"))
    with client:
        assert calls == []
    client.close()
    assert calls == ["stopped"]
