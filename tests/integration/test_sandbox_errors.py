"""Refusals: auth, ownership, unknown ids and a catalogue of bad input, all 4xx JSON, quickly."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from alloy_data.sandbox import Sandbox, serve
from alloy_data.sandbox.catalog import build_catalog

TIMEOUT = 3
CATALOG = build_catalog()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """This module's own server: it sends random requests."""
    with serve(port=0) as running:
        yield running


@pytest.fixture(scope="module")
def live_sandbox() -> Iterator[Sandbox]:
    """This module's own server: it sends random requests."""
    with serve(port=0, dialect="live") as running:
        yield running


def post_execute(sb, connector="shopify", action="list-orders", **overrides: Any):
    body = {
        "userId": sb.fixtures.user_id,
        "credentialId": sb.fixtures.credentials[connector],
        "parameters": {},
    }
    body.update(overrides)
    return requests.post(
        f"{sb.url}/connectors/{connector}/actions/{action}/execute",
        json=body,
        headers={"Authorization": f"Bearer {sb.api_key}"},
        timeout=TIMEOUT,
    )


def assert_json_error(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error", "message"}
    assert body["message"]
    return body


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong", "Basic abc", "Bearer", "sk_sandbox_x"],
    ids=["missing", "wrong-key", "basic", "empty-bearer", "no-scheme"],
)
def test_missing_or_wrong_key_is_401(sandbox, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = requests.get(f"{sandbox.url}/connectors", headers=headers, timeout=TIMEOUT)
    assert assert_json_error(response, 401)["error"] == "UNAUTHORIZED"


def test_bearer_scheme_is_case_insensitive(sandbox):
    headers = {"Authorization": f"bearer {sandbox.api_key}"}
    assert requests.get(f"{sandbox.url}/connectors", headers=headers, timeout=TIMEOUT).ok


def test_another_users_credential_is_403(sandbox):
    other = sandbox.fixtures.other_credentials["shopify"]
    assert_json_error(post_execute(sandbox, credentialId=other), 403)


def test_acting_as_the_other_user_with_their_credential_works(sandbox):
    response = post_execute(
        sandbox,
        userId=sandbox.fixtures.other_user_id,
        credentialId=sandbox.fixtures.other_credentials["shopify"],
    )
    assert response.status_code == 200


def test_a_credential_of_another_connector_is_400(sandbox):
    body = assert_json_error(
        post_execute(sandbox, credentialId=sandbox.fixtures.credentials["box"]), 400
    )
    assert "box" in body["message"]


@pytest.mark.parametrize(
    ("connector", "action", "overrides", "named"),
    [("nope", "list-orders", {}, "connector"), ("shopify", "list-nope", {}, "action"),
     ("shopify", "list-orders", {"userId": "usr_nobody"}, "user"),
     ("shopify", "list-orders", {"credentialId": "cred_nothing"}, "credential"),
     ("zendesk", "get-tickets", {"parameters": {"ticket_id": 10**9}}, "ticket"),
     ("stripe", "get-charges", {"parameters": {"id": "ch_nope"}}, "charge")],
    ids=["connector", "action", "user", "credential", "ticket", "charge"],
)  # fmt: skip
def test_unknown_ids_are_404(sandbox, connector, action, overrides, named):
    body = {
        "userId": sandbox.fixtures.user_id,
        "credentialId": sandbox.fixtures.credentials.get(connector, "cred_x"),
        "parameters": {},
        **overrides,
    }
    response = requests.post(
        f"{sandbox.url}/connectors/{connector}/actions/{action}/execute",
        json=body,
        headers={"Authorization": f"Bearer {sandbox.api_key}"},
        timeout=TIMEOUT,
    )
    assert named in assert_json_error(response, 404)["message"]


@pytest.mark.parametrize(
    ("overrides", "named"),
    [({"userId": None}, "userId"), ({"credentialId": None}, "credentialId"),
     ({"credentialId": 12}, "credentialId"), ({"parameters": [1]}, "parameters"),
     ({"parameters": {"first": "many"}}, "first"), ({"parameters": {"color": "red"}}, "color"),
     ({"parameters": {"after": "garbled!"}}, "after")],
    ids=["no-user", "no-credential", "credential-number", "parameters-list", "page-size-text",
         "unknown-parameter", "garbled-cursor"],
)  # fmt: skip
def test_bad_execute_bodies_are_400_naming_the_field(sandbox, overrides, named):
    body = assert_json_error(post_execute(sandbox, **overrides), 400)
    assert f"'{named}'" in body["message"]


@pytest.mark.parametrize(
    ("connector", "action", "parameters", "message"),
    [("shopify", "list-orders", {"first": 251}, "first: must be <= 250"),
     ("shopify", "list-orders", {"first": 10**12}, "first: must be <= 250"),
     ("hubspot", "list-contacts", {"limit": 101}, "limit must be less than or equal to 100"),
     ("hubspot", "list-companies", {"limit": 101}, "Invalid input: limit"),
     ("stripe", "list-charges", {"limit": 1000},
      "Invalid integer: 1000. limit must be less than or equal to 100"),
     ("box", "list-files", {"limit": 1001}, "limit must be less than or equal to 1000"),
     ("notion", "list-pages", {"page_size": 101}, "should be ≤ `100`, instead was `101`")],
    ids=["graphql", "graphql-huge", "hubspot", "hubspot-terse", "stripe", "box", "notion"],
)  # fmt: skip
def test_a_page_too_large_is_refused_in_the_apps_own_words(
    sandbox, connector, action, parameters, message
):
    response = post_execute(sandbox, connector, action, parameters=parameters)
    body = assert_json_error(response, 400)
    assert message in body["message"]


def test_an_app_that_caps_silently_serves_its_largest_page(sandbox):
    response = post_execute(sandbox, "zendesk", "list-tickets", parameters={"per_page": 1000})
    assert response.status_code == 200
    data = response.json()["data"]
    assert len(data["tickets"]) == 100
    assert "per_page=100" in data["next_page"]


def raw_exchange(sb, request: bytes) -> bytes:
    """Send raw bytes, return everything the server answers before closing (or timing out)."""
    with socket.create_connection(("127.0.0.1", sb.port), timeout=TIMEOUT) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and b"Connection: close" not in chunks[0]:
                break
    return b"".join(chunks)


def raw_request(sb, method: str, path: str, body: bytes = b"", extra: str = "") -> bytes:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {sb.api_key}\r\n"
        f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n"
    )
    return raw_exchange(sb, head.encode() + body)


EXECUTE = "/connectors/shopify/actions/list-orders/execute"


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [("POST", EXECUTE, b"{not json", 400), ("POST", EXECUTE, b"[1, 2]", 400),
     ("POST", EXECUTE, b"", 400), ("POST", EXECUTE, b'"text"', 400),
     ("POST", EXECUTE, b"\xff\xfe", 400), ("POST", EXECUTE, b"[" * 100_000, 400),
     ("POST", "/users", b'{"username": 5}', 400), ("POST", "/users", b"{}", 400),
     ("GET", "/connectors/shop%2Fify/resources", b"", 404),
     ("GET", "/connectors/shopify/actions/..%2F..%2Fusers", b"", 404),
     ("GET", "/connectors/shop.ify/resources", b"", 404),
     ("GET", "/connectors/%E6%B8%A1%E8%BE%BA/resources", b"", 404),
     ("GET", "/connectors/%ZZ/resources", b"", 404),
     ("GET", "/connectors/%FF%FE/resources", b"", 404),
     ("GET", "/users/a%2Fb/token", b"", 404),
     ("DELETE", "/connectors", b"", 405), ("PUT", EXECUTE, b"{}", 405),
     ("GET", EXECUTE, b"", 405), ("BREW", "/connectors", b"", 405)],
    ids=["malformed-json", "array-body", "empty-body", "string-body", "not-utf8",
         "deep-nesting", "username-number", "no-username", "slash-in-id",
         "encoded-dot-dot", "dot-in-id", "unicode-id", "bad-percent", "bad-utf8-percent",
         "slash-in-user", "delete-connectors",
         "put-execute", "get-execute", "unknown-method"],
)  # fmt: skip
def test_bad_input_is_a_4xx_json_answer(sandbox, method, path, body, status):
    answer = raw_request(sandbox, method, path, body, "Content-Type: application/json\r\n")
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode()), head
    assert b"Content-Type: application/json" in head
    assert set(requests.models.complexjson.loads(payload)) == {"error", "message"}


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/nowhere"), ("GET", "//connectors"), ("GET", "/"),
     ("GET", "/connectors/../connectors"), ("POST", "/v2/connectors/shopify/resources")],
    ids=["unknown-path", "double-slash", "root", "dot-dot", "wrong-version"],
)  # fmt: skip
def test_a_route_the_api_lacks_gets_the_web_framework_s_html_404(sandbox, method, path):
    # As a real server answers: the framework in front of the API, not the API's JSON error.
    answer = raw_request(sandbox, method, path)
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 404 "), head
    assert b"Content-Type: text/html" in head
    assert f"Cannot {method} ".encode() in payload
    assert b'"error"' not in payload


def test_405_says_which_methods_are_allowed(sandbox):
    answer = raw_request(sandbox, "DELETE", "/connectors/shopify/credentials")
    assert b"Allow: GET, POST" in answer


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [(b"GARBAGE\r\n\r\n", 400), (b"GET /connectors HTTP/1.1\r\nno colon here\r\n\r\n", 400),
     (b"GET connectors HTTP/1.1\r\n\r\n", 400),
     (b"POST /users HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
     (b"POST /users HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", 413),
     (b"POST /users HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411),
     (b"GET /connectors HTTP/1.1\r\nX-Big: " + b"a" * 40_000 + b"\r\n\r\n", 431)],
    ids=["garbage-line", "bad-header", "relative-target", "negative-length", "body-too-large",
         "chunked", "huge-header"],
)  # fmt: skip
def test_malformed_http_is_answered_and_closed(sandbox, request_bytes, status):
    answer = raw_exchange(sandbox, request_bytes)
    assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer[:100]
    assert b"Connection: close" in answer
    assert b'"error"' in answer


def test_keep_alive_serves_many_requests_on_one_connection(sandbox):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {sandbox.api_key}"
    before = sandbox.request_count
    for _ in range(20):
        assert session.get(f"{sandbox.url}/connectors", timeout=TIMEOUT).ok
    assert sandbox.request_count - before == 20
    assert len(session.get_adapter(sandbox.url).poolmanager.pools) == 1


def test_head_gets_no_body_and_the_connection_stays_usable(sandbox):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {sandbox.api_key}"
    head = session.head(f"{sandbox.url}/connectors", timeout=TIMEOUT)
    assert head.status_code == 405
    assert head.content == b""
    assert session.get(f"{sandbox.url}/connectors", timeout=TIMEOUT).status_code == 200


def test_connection_close_is_honoured(sandbox):
    answer = raw_request(sandbox, "GET", "/connectors")  # asks Connection: close
    assert b"Connection: close" in answer  # and raw_exchange returned, so it closed


def test_a_truncated_body_does_not_hang_the_server(sandbox):
    with socket.create_connection(("127.0.0.1", sandbox.port), timeout=TIMEOUT) as sock:
        sock.sendall(b"POST /users HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
    assert requests.get(f"{sandbox.url}/connectors", timeout=TIMEOUT).status_code == 401


ODD_VALUES = [None, 0, -1, 10**20, "", "x", "-5", [], {}, [1], {"a": 1}, True, 1.5, "../..", "ΩΩ",
              "gid://shopify/Order/5100000003", "%2F"]  # fmt: skip


@pytest.mark.parametrize("dialect", ["seed", "live"])
def test_random_execute_bodies_never_get_a_server_error(sandbox, live_sandbox, dialect):
    sb = sandbox if dialect == "seed" else live_sandbox
    rng = random.Random(20)
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {sb.api_key}", "x-api-version": "2025-09"})
    actions = [(c.connector_id, a) for c in CATALOG.values() for a in c.actions()]
    statuses = set()
    for _ in range(300):
        connector, action = rng.choice(actions)
        names = [param.name for param in action.params] + ["zzz"]
        params = {rng.choice(names): rng.choice(ODD_VALUES) for _ in range(rng.randrange(3))}
        slot = rng.choice(["parameters", "queryParameters", "pathParams", "requestBody"])
        body = {
            "userId": rng.choice([sb.fixtures.user_id, None, 5, "nobody"]),
            "credentialId": rng.choice(
                [sb.fixtures.credentials[connector], sb.fixtures.other_credentials[connector], 7]
            ),
            slot: rng.choice([params, params, [1], "s"]),
        }
        url = f"{sb.url}/connectors/{connector}/actions/{action.action_id}/execute"
        response = session.post(url, json=body, timeout=TIMEOUT)
        assert response.status_code < 500, (body, response.text)
        assert response.headers["Content-Type"] == "application/json"
        statuses.add(response.status_code)
    assert {200, 400, 403, 404} <= statuses
