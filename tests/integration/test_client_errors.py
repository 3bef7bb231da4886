"""A catalogue of bad inputs and bad answers, each giving the right error and a way out."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from alloy_data.client import AlloyClient
from alloy_data.errors import (
    AlloyConnectionError,
    AlloyError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    NotFoundError,
    PermissionDeniedError,
    ResponseError,
    ServerError,
)
from alloy_data.http import RetryPolicy
from alloy_data.sandbox import Sandbox

Call = Callable[[AlloyClient, Sandbox], Any]


@dataclass(frozen=True)
class Case:
    call: Call
    error: type[AlloyError]
    advice: str


def _credential(sandbox: Sandbox) -> str:
    return sandbox.fixtures.credentials["shopify"]


CATALOGUE: dict[str, Case] = {
    "unknown-connector": Case(
        lambda c, s: c.connectors.resources("no-such-app"), NotFoundError, "connectors.list()"
    ),
    "unknown-action": Case(
        lambda c, s: c.actions.get("shopify", "list-nothing"), NotFoundError, "connectors.actions"
    ),
    "unknown-action-execute": Case(
        lambda c, s: c.actions.execute("shopify", "list-nothing", credential_id=_credential(s)),
        NotFoundError,
        "connectors.actions",
    ),
    "unknown-user": Case(lambda c, s: c.users.token("no-such-user"), NotFoundError, "list"),
    "unknown-user-credentials": Case(
        lambda c, s: c.credentials.list("shopify", user_id="no-such-user"), NotFoundError, "list"
    ),
    "unknown-credential": Case(
        lambda c, s: c.actions.execute(
            "shopify", "list-orders", credential_id="ffffffffffffffffffffffff"
        ),
        NotFoundError,
        "credentials.list",
    ),
    "unknown-credential-delete": Case(
        lambda c, s: c.users.delete_credential(s.fixtures.user_id, "ffffffffffffffffffffffff"),
        NotFoundError,
        "credentials.list",
    ),
    "another-users-credential": Case(
        lambda c, s: c.actions.execute(
            "shopify", "list-orders", credential_id=s.fixtures.other_credentials["shopify"]
        ),
        PermissionDeniedError,
        "pass that user's id",
    ),
    "credential-of-another-connector": Case(
        lambda c, s: c.actions.execute(
            "shopify", "list-orders", credential_id=s.fixtures.credentials["stripe"]
        ),
        BadRequestError,
        "parameters",
    ),
    "wrong-parameter-type": Case(
        lambda c, s: c.actions.execute(
            "shopify", "list-orders", credential_id=_credential(s), parameters={"first": "many"}
        ),
        BadRequestError,
        "client.actions.get",
    ),
    "unknown-parameter": Case(
        lambda c, s: c.actions.execute(
            "shopify", "list-orders", credential_id=_credential(s), parameters={"nope": 1}
        ),
        BadRequestError,
        "client.actions.get",
    ),
    "missing-credential-fields": Case(
        lambda c, s: c.credentials.create("stripe", user_id=s.fixtures.user_id, data={}),
        BadRequestError,
        "parameters",
    ),
    "id-with-slash": Case(
        lambda c, s: c.connectors.resources("shopify/resources"), NotFoundError, "list"
    ),
    "id-with-dotdot": Case(lambda c, s: c.connectors.resources("../users"), NotFoundError, "list"),
    "action-id-escaping": Case(
        lambda c, s: c.actions.get("shopify", "../../../users"), NotFoundError, "list"
    ),
    "empty-connector": Case(lambda c, s: c.connectors.resources(""), ConfigurationError, "id"),
    "dotdot-connector": Case(lambda c, s: c.connectors.resources(".."), ConfigurationError, "id"),
    "empty-action": Case(lambda c, s: c.actions.get("shopify", " "), ConfigurationError, "id"),
    "empty-credential": Case(
        lambda c, s: c.actions.execute("shopify", "list-orders", credential_id=""),
        ConfigurationError,
        "credential_id",
    ),
    "empty-user": Case(lambda c, s: c.users.credentials(""), ConfigurationError, "id"),
    "parameters-not-a-mapping": Case(
        lambda c, s: c.actions.execute(
            "shopify", "list-orders", credential_id=_credential(s), parameters=["first", 2]
        ),
        ConfigurationError,
        "mapping",
    ),
}


@pytest.fixture(params=["seed", "live"])
def shared(request: pytest.FixtureRequest) -> Sandbox:
    name = "sandbox" if request.param == "seed" else "live_sandbox"
    sandbox: Sandbox = request.getfixturevalue(name)
    return sandbox


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_bad_inputs(shared: Sandbox, name: str) -> None:
    case = CATALOGUE[name]
    with (
        AlloyClient(
            shared.api_key, base_url=shared.url, user_id=shared.fixtures.user_id, trust_env=False
        ) as client,
        pytest.raises(AlloyError) as caught,
    ):
        case.call(client, shared)
    error = caught.value
    assert type(error) is case.error, str(error)
    assert case.advice in str(error)


def test_ids_are_refused_before_any_request(shared: Sandbox) -> None:
    with AlloyClient(shared.api_key, base_url=shared.url, trust_env=False) as client:
        before = shared.request_count
        for bad in ("", "  ", ".", ".."):
            with pytest.raises(ConfigurationError):
                client.connectors.resources(bad)
        assert shared.request_count == before


def test_a_wrong_key(shared: Sandbox) -> None:
    with (
        AlloyClient("sk_wrong_0123456789abcdef", base_url=shared.url) as client,
        pytest.raises(AuthenticationError) as caught,
    ):
        client.connectors.list()
    assert caught.value.status == 401
    assert "ALLOY_API_KEY" in str(caught.value)
    assert caught.value.request_id


def test_no_key(monkeypatch: pytest.MonkeyPatch, shared: Sandbox) -> None:
    monkeypatch.delenv("ALLOY_API_KEY", raising=False)
    with pytest.raises(ConfigurationError) as caught:
        AlloyClient(base_url=shared.url)
    assert "ALLOY_API_KEY" in str(caught.value)
    assert "ad.connect()" in str(caught.value)


def test_plain_http_to_a_remote_host_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="allow_insecure_http"):
        AlloyClient("sk_test_0123456789abcdef", base_url="http://api.example.com")


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_nothing_listening() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    with AlloyClient("sk_test_0123456789abcdef", base_url=url, trust_env=False) as client:
        client._transport.retry_policy = RetryPolicy(max_retries=4, backoff_base=0.01)
        with pytest.raises(AlloyConnectionError) as caught:
            client.connectors.list()
    error = caught.value
    # Never reached: a second attempt covers a server still starting, no more.
    assert error.attempts == 2
    assert url in str(error)
    assert "connection refused" in str(error)
    assert "base URL" in str(error)


# answers the sandbox cannot give: a tiny local server


class OddHandler(BaseHTTPRequestHandler):
    """Answers every request the way ``mode`` says."""

    mode: ClassVar[str] = "html-502"
    hits: ClassVar[int] = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        answer = getattr(self, "_answer_" + self.mode.replace("-", "_"))
        answer()

    def _send(self, status: int, body: bytes, content_type: str, length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def _answer_html_502(self) -> None:
        page = (
            b"<!DOCTYPE html><html><head><title>502</title><style>h1{color:red}</style></head>"
            b"<body><h1>502 Bad Gateway</h1>\n<p>The proxy   could not reach\n the upstream."
            b"</p><hr><center>nginx</center></body></html>"
        )
        self._send(502, page, "text/html")

    def _answer_invalid_json(self) -> None:
        self._send(200, b"{'connectors': oops}", "application/json")

    def _answer_json_list(self) -> None:
        self._send(200, b'[{"connectorId": "shopify"}]', "application/json")

    def _answer_truncated(self) -> None:
        self.close_connection = True
        self._send(200, b'{"connectors": [{"connectorId": "sho', "application/json", length=400)

    def _answer_empty(self) -> None:
        self._send(200, b"", "application/json")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def odd_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), OddHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.parametrize(
    ("mode", "error_class", "words", "attempts"),
    [
        ("html-502", ServerError, "502 Bad Gateway The proxy could not reach the upstream.", 2),
        ("invalid-json", ResponseError, "is not JSON", 1),
        ("json-list", ResponseError, "JSON list where a JSON object belongs", 1),
        ("truncated", ResponseError, "cut short", 2),
        ("empty", ResponseError, "empty body", 1),
    ],
    ids=["html-502", "invalid-json", "json-list", "truncated", "empty"],
)
def test_odd_answers(
    odd_server: str, mode: str, error_class: type[AlloyError], words: str, attempts: int
) -> None:
    OddHandler.mode = mode
    OddHandler.hits = 0
    with AlloyClient("sk_test_0123456789abcdef", base_url=odd_server, trust_env=False) as client:
        client._transport.retry_policy = RetryPolicy(max_retries=1, backoff_base=0.01)
        with pytest.raises(error_class) as caught:
            client.connectors.list()
    text = str(caught.value)
    assert words in text
    assert "<" not in text
    assert "base URL" in text or "try again later" in text
    assert OddHandler.hits == attempts
    assert caught.value.__cause__ is None
