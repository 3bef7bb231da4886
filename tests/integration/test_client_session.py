"""Requests go through ``requests.Session``: the client's own session sends what a plain
session sends, and the environment's proxies, CA bundles and a caller's session all apply."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
import requests

from alloy_data.client import AlloyClient

KEY = "sk_test_session_0123456789"


class EchoHandler(BaseHTTPRequestHandler):
    """Records every request and answers with JSON (gzipped when asked), or a redirect."""

    seen: ClassVar[list[dict[str, Any]]] = []
    connections: ClassVar[int] = 0
    protocol_version = "HTTP/1.1"  # connections are kept alive, as the API's are

    def setup(self) -> None:
        type(self).connections += 1
        super().setup()

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        type(self).seen.append(
            {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body,
            }
        )
        if self.path.startswith("/moved"):
            self.send_response(307)
            self.send_header("Location", self.path.replace("/moved", "/here", 1))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        answer = json.dumps({"path": self.path, "text": "Zoë 大阪"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if "gzip" in self.headers.get("Accept-Encoding", ""):
            answer = gzip.compress(answer)
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_POST = _handle  # noqa: N815 - the names http.server looks up

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def echo_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def send_both_ways(url: str, call: Any) -> tuple[dict[str, Any], dict[str, Any], Any, Any]:
    """Make one call on the client's own session and one on a caller's plain session."""
    EchoHandler.seen.clear()
    with AlloyClient(KEY, base_url=url, user_id="usr_1", trust_env=False) as own:
        own_answer = call(own)
    session = requests.Session()
    session.trust_env = False
    with AlloyClient(KEY, base_url=url, user_id="usr_1", session=session) as theirs:
        their_answer = call(theirs)
    # Only the call itself, not what the client asked before it (an action's details).
    last = EchoHandler.seen[-1]["path"]
    own, plain = [seen for seen in EchoHandler.seen if seen["path"] == last]
    for seen in (own, plain):
        seen["headers"].pop("connection", None)  # a plain session asks for keep-alive explicitly
    return own, plain, own_answer, their_answer


def test_an_execute_is_sent_byte_for_byte_as_a_plain_session_sends_it(echo_server: str) -> None:
    parameters = {"limit": 100, "after": "b64:Zm9v/+=", "name": "Zoë", "nested": {"a": [1, None]}}

    def execute(client: AlloyClient) -> Any:
        return client.actions.execute(
            "shop/ify", "list orders", credential_id="cred_1", parameters=parameters
        )

    own, plain, own_answer, their_answer = send_both_ways(echo_server, execute)
    assert own["method"] == plain["method"] == "POST"
    assert own["path"] == plain["path"]
    assert own["body"] == plain["body"]
    assert json.loads(own["body"])["parameters"] == parameters
    assert own["headers"] == plain["headers"]
    assert own["headers"]["authorization"] == f"Bearer {KEY}"
    assert own_answer == their_answer


def test_query_parameters_are_encoded_as_a_plain_session_encodes_them(echo_server: str) -> None:
    def credentials(client: AlloyClient) -> Any:
        return client._transport.request("GET", "/credentials", params={"q": "ü v&w", "n": "1"})

    own, plain, own_answer, their_answer = send_both_ways(echo_server, credentials)
    assert own["path"] == plain["path"] == "/credentials?q=%C3%BC+v%26w&n=1"
    assert own["headers"] == plain["headers"]
    assert own_answer == their_answer


def test_gzipped_answers_are_decoded(echo_server: str) -> None:
    def get(client: AlloyClient) -> Any:
        return client._transport.request("GET", "/anything")

    own, _, own_answer, their_answer = send_both_ways(echo_server, get)
    assert "gzip" in own["headers"]["accept-encoding"]
    assert own_answer == their_answer == {"path": "/anything", "text": "Zoë 大阪"}


def test_a_redirect_is_followed(echo_server: str) -> None:
    EchoHandler.seen.clear()
    with AlloyClient(KEY, base_url=echo_server, trust_env=False) as client:
        answer = client._transport.request("GET", "/moved/x")
    assert answer == {"path": "/here/x", "text": "Zoë 大阪"}
    assert [seen["path"] for seen in EchoHandler.seen][-1] == "/here/x"


def test_a_proxy_from_the_environment_carries_the_requests(
    echo_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The echo server stands in as the proxy: it sees the absolute URL a proxy is sent.
    monkeypatch.setenv("HTTP_PROXY", echo_server)
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    EchoHandler.seen.clear()
    with AlloyClient(
        KEY, base_url="http://alloy.invalid", trust_env=True, allow_insecure_http=True
    ) as client:
        answer = client._transport.request("GET", "/through/proxy")
    assert answer["path"] == "http://alloy.invalid/through/proxy"
    assert EchoHandler.seen[-1]["headers"]["authorization"] == f"Bearer {KEY}"


def test_trust_env_false_ignores_the_environments_proxy(
    echo_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alloy_data.errors import AlloyConnectionError

    monkeypatch.setenv("HTTP_PROXY", echo_server)
    EchoHandler.seen.clear()
    with (
        AlloyClient(
            KEY,
            base_url="http://alloy.invalid",
            trust_env=False,
            max_retries=0,
            allow_insecure_http=True,
        ) as client,
        pytest.raises(AlloyConnectionError, match=r"not resolved|failed"),
    ):
        client._transport.request("GET", "/direct")
    assert EchoHandler.seen == []


def test_a_callers_session_keeps_its_headers_and_cookies(echo_server: str) -> None:
    session = requests.Session()
    session.trust_env = False
    session.headers["X-Team"] = "analytics"
    session.cookies.set("visit", "42")
    EchoHandler.seen.clear()
    with AlloyClient(KEY, base_url=echo_server, session=session) as client:
        client._transport.request("GET", "/mine")
    headers = EchoHandler.seen[-1]["headers"]
    assert headers["x-team"] == "analytics"
    assert headers["cookie"] == "visit=42"
    assert headers["authorization"] == f"Bearer {KEY}"
    session.close()


def test_an_adapter_mounted_by_the_caller_is_used(echo_server: str) -> None:
    used: list[str] = []

    class CountingAdapter(requests.adapters.HTTPAdapter):
        def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
            used.append(request.url or "")
            return super().send(request, **kwargs)

    with AlloyClient(KEY, base_url=echo_server, trust_env=False) as client:
        client._transport.session.mount("http://", CountingAdapter())
        client._transport.request("GET", "/adapted")
    assert used == [f"{echo_server}/adapted"]


# TLS, as against the real API: certificates are verified against requests' CA bundle


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """An HTTPS echo server on loopback with a throwaway certificate; yields (url, CA file)."""
    import shutil
    import ssl
    import subprocess

    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoHandler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", str(cert)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def trusted_tls_url(tls_server: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    """The TLS server's URL, its certificate trusted through REQUESTS_CA_BUNDLE, no proxy."""
    url, ca_file = tls_server
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca_file)
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    return url


def test_https_with_a_trusted_certificate_works(trusted_tls_url: str) -> None:
    url = trusted_tls_url
    with AlloyClient(KEY, base_url=url, trust_env=True) as client:
        answer = client._transport.request("GET", "/secure")
    assert answer == {"path": "/secure", "text": "Zoë 大阪"}


def test_https_connections_are_kept_alive_across_requests(trusted_tls_url: str) -> None:
    url = trusted_tls_url
    before = EchoHandler.connections
    with AlloyClient(KEY, base_url=url, trust_env=True) as client:
        answers = [client._transport.request("GET", f"/secure/{n}") for n in range(5)]
    assert [answer["path"] for answer in answers] == [f"/secure/{n}" for n in range(5)]
    assert EchoHandler.connections - before == 1


def test_https_with_an_unknown_certificate_fails_without_retrying(
    tls_server: tuple[str, str],
) -> None:
    from alloy_data.errors import AlloyConnectionError

    url, _ = tls_server
    with (
        AlloyClient(KEY, base_url=url, trust_env=False) as client,
        pytest.raises(AlloyConnectionError, match=r"TLS \(https\).*certificate") as caught,
    ):
        client._transport.request("GET", "/secure")
    assert caught.value.attempts == 1
    assert KEY not in str(caught.value)
