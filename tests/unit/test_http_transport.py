"""The transport's request loop, driven by a fake adapter (no sockets)."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter, HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from alloy_data.config import ClientConfig
from alloy_data.errors import (
    AlloyConnectionError,
    AlloyTimeoutError,
    BadRequestError,
    ClientClosedError,
    RateLimitError,
    ResponseError,
    ServerError,
)
from alloy_data.http import Budgets, RetryPolicy, Transport, encode_path
from alloy_data.http._transport import POOL_SIZE

KEY = "sk_test_SECRET_9f8e7d6c5b4a"
BASE = "https://api.example.com"

Reply = Callable[[requests.PreparedRequest], requests.Response]


def respond(
    status: int = 200,
    body: Any = None,
    *,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """A canned answer: JSON ``body`` or ``raw`` bytes."""

    def reply(request: requests.PreparedRequest) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response.reason = "Reason"
        content = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        response._content = content
        response._content_consumed = True
        response.raw = io.BytesIO(content)
        response.headers = CaseInsensitiveDict(
            {"Content-Type": "application/json", **(headers or {})}
        )
        response.url = request.url or ""
        response.request = request
        return response

    return reply


def fail(exc: Exception) -> Reply:
    def reply(request: requests.PreparedRequest) -> requests.Response:
        raise exc

    return reply


def refused() -> requests.ConnectionError:
    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] refused")  # type: ignore[arg-type]
    return requests.ConnectionError(MaxRetryError(None, "/x", reason))  # type: ignore[arg-type]


def dropped() -> requests.ConnectionError:
    return requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError()))


class FakeAdapter(BaseAdapter):
    """Answers each request with the next scripted reply and records what was sent."""

    def __init__(self, replies: list[Reply]) -> None:
        super().__init__()
        self.replies = list(replies)
        self.sent: list[requests.PreparedRequest] = []
        self.timeouts: list[Any] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.sent.append(request)
        self.timeouts.append(kwargs.get("timeout"))
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        return reply(request)

    def close(self) -> None:
        pass


class Harness:
    def __init__(self, replies: list[Reply], **config: Any) -> None:
        self.adapter = FakeAdapter(replies)
        self.session = requests.Session()
        self.session.mount("https://", self.adapter)
        self.waits: list[float] = []
        self.transport = Transport(
            ClientConfig.resolve(KEY, base_url=BASE, environ={}, **config),
            session=self.session,
            retry_policy=RetryPolicy(
                max_retries=config.get("max_retries", 4), backoff_base=0.5, backoff_cap=8.0
            ),
            sleep=self.waits.append,
            # Budgets of its own: what one test's answers tell does not pace the next.
            budgets=Budgets(),
        )

    @property
    def calls(self) -> int:
        return len(self.adapter.sent)


def test_success_returns_decoded_json_and_sends_the_headers() -> None:
    harness = Harness([respond(200, {"ok": True})], user_id="usr_1")
    assert harness.transport.request("GET", "/connectors") == {"ok": True}
    sent = harness.adapter.sent[0]
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.headers["x-api-version"] == "2025-09"
    assert sent.headers["x-alloy-userid"] == "usr_1"
    assert sent.headers["User-Agent"].startswith("alloy-data/")
    assert "python-requests/" in sent.headers["User-Agent"]
    assert "Content-Type" not in sent.headers
    assert sent.url == f"{BASE}/connectors"


def test_bodies_are_json_and_the_user_is_overridable_per_call() -> None:
    harness = Harness([respond(200, {"ok": True})], user_id="usr_1")
    harness.transport.request("POST", "/users", json_body={"username": "a"}, user_id="usr_2")
    sent = harness.adapter.sent[0]
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["x-alloy-userid"] == "usr_2"
    assert json.loads(sent.body or b"") == {"username": "a"}


def test_no_user_header_without_a_user() -> None:
    harness = Harness([respond(200, {})])
    harness.transport.request("GET", "/connectors")
    assert "x-alloy-userid" not in harness.adapter.sent[0].headers


def test_timeouts_are_always_finite_and_overridable() -> None:
    harness = Harness([respond(200, {})], timeout=(3, 40))
    harness.transport.request("GET", "/a")
    harness.transport.request("GET", "/a", timeout=7)
    assert harness.adapter.timeouts == [(3.0, 40.0), (7.0, 7.0)]


def test_encoded_ids_reach_the_server_as_one_segment() -> None:
    harness = Harness([respond(200, {})])
    harness.transport.request("GET", encode_path("connectors", "../users", "resources"))
    assert harness.adapter.sent[0].path_url == "/connectors/..%2Fusers/resources"


def test_own_session_pools_connections_and_follows_trust_env() -> None:
    config = ClientConfig.resolve(KEY, base_url=BASE, trust_env=False, environ={})
    transport = Transport(config)
    adapter = transport.session.get_adapter(BASE)
    assert isinstance(adapter, HTTPAdapter)
    assert adapter._pool_maxsize >= POOL_SIZE >= 16  # type: ignore[attr-defined]
    assert transport.session.trust_env is False
    assert "Authorization" not in transport.session.headers
    transport.close()


def test_a_callers_session_is_not_closed() -> None:
    harness = Harness([respond(200, {})])
    closed: list[bool] = []
    harness.session.close = lambda: closed.append(True)  # type: ignore[method-assign]
    harness.transport.close()
    assert closed == []


# retries


@pytest.mark.parametrize(
    "status", [408, 429, 500, 502, 503, 504, 507, 599], ids=lambda s: f"HTTP-{s}"
)
def test_get_retries_retryable_statuses_then_succeeds(status: int) -> None:
    harness = Harness([respond(status, {"message": "busy"}), respond(200, {"ok": 1})])
    events: list[tuple[int, float, str]] = []
    result = harness.transport.request("GET", "/x", on_retry=lambda *event: events.append(event))
    assert result == {"ok": 1}
    assert harness.calls == 2
    assert [(attempt, reason) for attempt, _, reason in events] == [(1, f"HTTP {status}")]
    assert events[0][1] == harness.waits[0]


@pytest.mark.parametrize(
    "status", [400, 401, 403, 404, 409, 422, 501, 505], ids=lambda s: f"HTTP-{s}"
)
def test_other_errors_are_not_retried(status: int) -> None:
    harness = Harness([respond(status, {"message": "no"})])
    with pytest.raises(Exception) as caught:
        harness.transport.request("GET", "/x")
    assert harness.calls == 1
    assert getattr(caught.value, "attempts", None) == 1


def test_retries_are_bounded_and_the_error_counts_attempts() -> None:
    harness = Harness([respond(503, {"message": "down"})], max_retries=4)
    events: list[tuple[int, float, str]] = []
    with pytest.raises(ServerError) as caught:
        harness.transport.request("GET", "/x", on_retry=lambda *e: events.append(e))
    assert harness.calls == 5
    assert caught.value.attempts == 5
    assert "after 5 attempts" in str(caught.value)
    assert [e[0] for e in events] == [1, 2, 3, 4]
    assert len(harness.waits) == 4
    assert all(0 <= wait <= 8.0 for wait in harness.waits)


def test_zero_retries_means_one_attempt() -> None:
    harness = Harness([respond(503, {})], max_retries=0)
    with pytest.raises(ServerError):
        harness.transport.request("GET", "/x")
    assert harness.calls == 1


def test_retry_after_is_honoured() -> None:
    harness = Harness([respond(429, {}, headers={"Retry-After": "3"}), respond(200, {})])
    harness.transport.request("GET", "/x")
    assert harness.waits == [3.0]


def test_retry_after_is_capped_and_the_cap_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    harness = Harness([respond(429, {}, headers={"Retry-After": "3600"}), respond(200, {})])
    with caplog.at_level(logging.WARNING, logger="alloy_data.http"):
        harness.transport.request("GET", "/x")
    assert harness.waits == [60.0]
    assert any("3600" in r.getMessage() and "cap" in r.getMessage() for r in caplog.records)


def test_garbage_retry_after_falls_back_to_backoff() -> None:
    harness = Harness([respond(503, {}, headers={"Retry-After": "later"}), respond(200, {})])
    harness.transport.request("GET", "/x")
    assert len(harness.waits) == 1
    assert 0 <= harness.waits[0] <= 0.5


def test_rate_limit_error_keeps_the_servers_retry_after() -> None:
    harness = Harness([respond(429, {}, headers={"Retry-After": "9"})], max_retries=1)
    with pytest.raises(RateLimitError) as caught:
        harness.transport.request("GET", "/x")
    assert caught.value.retry_after == 9.0
    assert caught.value.attempts == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504], ids=lambda s: f"HTTP-{s}")
def test_post_is_not_retried_on_5xx(status: int) -> None:
    harness = Harness([respond(status, {}), respond(200, {})])
    with pytest.raises(ServerError) as caught:
        harness.transport.request("POST", "/x/execute", json_body={})
    assert harness.calls == 1
    assert caught.value.attempts == 1


def test_post_is_retried_on_5xx_when_idempotent() -> None:
    harness = Harness([respond(503, {}), respond(200, {"ok": 1})])
    assert harness.transport.request("POST", "/x", json_body={}, idempotent=True) == {"ok": 1}
    assert harness.calls == 2


@pytest.mark.parametrize("status", [408, 429], ids=lambda s: f"HTTP-{s}")
def test_post_is_retried_when_the_server_says_it_did_not_act(status: int) -> None:
    replies = [respond(status, {}, headers={"Retry-After": "0"}), respond(200, {"ok": 1})]
    harness = Harness(replies)
    assert harness.transport.request("POST", "/x", json_body={}) == {"ok": 1}
    assert harness.calls == 2


def test_post_is_retried_when_the_connection_was_refused() -> None:
    harness = Harness([fail(refused()), respond(200, {"ok": 1})])
    assert harness.transport.request("POST", "/x", json_body={}) == {"ok": 1}
    assert harness.calls == 2
    assert harness.transport.answered


def test_post_is_not_retried_when_the_connection_dropped() -> None:
    harness = Harness([fail(dropped()), respond(200, {"ok": 1})])
    with pytest.raises(AlloyConnectionError) as caught:
        harness.transport.request("POST", "/x", json_body={})
    assert harness.calls == 1
    assert "connection dropped" in str(caught.value)


def test_post_is_not_retried_after_a_read_timeout() -> None:
    harness = Harness([fail(requests.ReadTimeout("read timed out")), respond(200, {})])
    with pytest.raises(AlloyTimeoutError):
        harness.transport.request("POST", "/x", json_body={})
    assert harness.calls == 1


@pytest.mark.parametrize(
    ("make_error", "error_class", "reason"),
    [
        (refused, AlloyConnectionError, "connection refused"),
        (dropped, AlloyConnectionError, "connection dropped"),
        (lambda: requests.ConnectTimeout("t"), AlloyTimeoutError, "connect timeout"),
        (lambda: requests.ReadTimeout("t"), AlloyTimeoutError, "read timeout"),
    ],
    ids=["refused", "dropped", "connect-timeout", "read-timeout"],
)
def test_get_retries_transport_failures_then_gives_up(
    make_error: Callable[[], Exception], error_class: type[Exception], reason: str
) -> None:
    # The server answered once: from then on a failure may be a restart, worth waiting out.
    harness = Harness([respond(200, {}), fail(make_error())], max_retries=2)
    harness.transport.request("GET", "/first")
    events: list[tuple[int, float, str]] = []
    with pytest.raises(error_class) as caught:
        harness.transport.request("GET", "/x", on_retry=lambda *e: events.append(e))
    assert harness.calls == 1 + 3
    error = caught.value
    assert isinstance(error, AlloyConnectionError)
    assert error.attempts == 3
    assert "after 3 attempts" in str(error)
    assert BASE in str(error)
    assert "base URL" in str(error) or "base_url" in str(error)
    assert [e[2] for e in events] == [reason, reason]
    assert error.__cause__ is None
    assert error.__suppress_context__ is True


def test_tls_errors_are_not_retried() -> None:
    harness = Harness([fail(requests.exceptions.SSLError("bad cert"))])
    with pytest.raises(AlloyConnectionError, match="TLS"):
        harness.transport.request("GET", "/x")
    assert harness.calls == 1


# bodies


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"<html><body>Welcome to nginx</body></html>", "is not JSON"),
        (b'{"connectors": [', "cut short"),
        (b"\xff\xfe\x00garbage", "is not JSON"),
    ],
    ids=["html", "truncated-json", "binary"],
)
def test_unreadable_success_bodies_raise_response_error(raw: bytes, words: str) -> None:
    harness = Harness([respond(200, raw=raw, headers={"Content-Type": "text/html"})])
    with pytest.raises(ResponseError) as caught:
        harness.transport.request("GET", "/connectors")
    assert words in str(caught.value)
    assert caught.value.path == "/connectors"
    assert caught.value.__cause__ is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"<html><body>502 Bad Gateway</body></html>", "body not JSON"),
        (b'{"a": [1', "body cut short"),
    ],
    ids=["html", "truncated-json"],
)
def test_a_policy_for_pulls_retries_bad_success_bodies(raw: bytes, reason: str) -> None:
    harness = Harness([respond(200, raw=raw), respond(200, {"ok": 1})])
    events: list[tuple[int, float, str]] = []
    policy = RetryPolicy(max_retries=2, backoff_base=0.5).for_pulls()
    answer = harness.transport.request(
        "POST",
        "/x",
        json_body={},
        idempotent=True,
        retry_policy=policy,
        on_retry=lambda *event: events.append(event),
    )
    assert answer == {"ok": 1}
    assert [event[2] for event in events] == [reason]


def test_bad_success_bodies_that_persist_end_in_response_error_with_attempts() -> None:
    harness = Harness([respond(200, raw=b"<html>maintenance</html>")])
    policy = RetryPolicy(max_retries=3, retry_bad_bodies=True)
    with pytest.raises(ResponseError) as caught:
        harness.transport.request("GET", "/x", retry_policy=policy)
    assert harness.calls == 4
    assert caught.value.attempts == 4
    assert "after 4 attempts" in str(caught.value)
    assert not caught.value.cut_short


def test_bad_success_bodies_are_not_retried_for_a_post_that_is_not_a_read() -> None:
    harness = Harness([respond(200, raw=b"<html>oops</html>"), respond(200, {"ok": 1})])
    policy = RetryPolicy(retry_bad_bodies=True)
    with pytest.raises(ResponseError):
        harness.transport.request("POST", "/x", json_body={}, retry_policy=policy)
    assert harness.calls == 1


@pytest.mark.parametrize(
    ("raw", "words"),
    [(b'{"name": "caf\xe9"}', "is not UTF-8 text"), (b"[" * 100_000, "nests objects deeper")],
    ids=["not-utf8", "too-deep"],
)
def test_an_answer_that_would_come_back_the_same_is_not_retried(raw: bytes, words: str) -> None:
    harness = Harness([respond(200, raw=raw), respond(200, {"ok": 1})])
    policy = RetryPolicy(max_retries=3).for_pulls()
    with pytest.raises(ResponseError) as caught:
        harness.transport.request("GET", "/x", retry_policy=policy)
    assert harness.calls == 1
    assert words in str(caught.value)
    assert not caught.value.transient


def test_an_empty_200_is_retried_by_a_pull_and_none_for_a_one_off_call() -> None:
    harness = Harness([respond(200, raw=b""), respond(200, {"ok": 1})])
    events: list[tuple[int, float, str]] = []
    policy = RetryPolicy(max_retries=3).for_pulls()
    answer = harness.transport.request(
        "GET", "/x", retry_policy=policy, on_retry=lambda *event: events.append(event)
    )
    assert answer == {"ok": 1}
    assert [event[2] for event in events] == ["body empty"]
    one_off = Harness([respond(200, raw=b"")])
    assert one_off.transport.request("GET", "/x") is None


def test_a_pulls_patience_is_longer_than_a_one_off_calls() -> None:
    one_off = RetryPolicy(max_retries=4, backoff_cap=30.0, retry_after_cap=60.0)
    pulls = one_off.for_pulls()
    assert pulls.max_retries == 8
    assert pulls.backoff_cap == 60.0
    assert pulls.retry_after_cap == 120.0
    assert pulls.retry_bad_bodies and not one_off.retry_bad_bodies
    assert RetryPolicy(max_retries=6).for_pulls().max_retries == 12
    assert RetryPolicy(max_retries=0).for_pulls().max_retries == 8


def test_a_per_call_policy_replaces_the_transports() -> None:
    harness = Harness([respond(503, {})], max_retries=4)
    with pytest.raises(ServerError) as caught:
        harness.transport.request("GET", "/x", retry_policy=RetryPolicy(max_retries=1))
    assert caught.value.attempts == 2


def test_empty_success_body_is_none() -> None:
    harness = Harness([respond(204, raw=b"")])
    assert harness.transport.request("DELETE", "/users/u/credentials/c") is None


def test_error_bodies_give_message_and_request_id() -> None:
    body = {"error": "BAD_REQUEST", "message": "unknown parameter 'x'", "requestId": "r-9"}
    harness = Harness([respond(400, body)])
    with pytest.raises(BadRequestError) as caught:
        harness.transport.request("POST", "/a/execute", json_body={})
    error = caught.value
    assert error.message == "unknown parameter 'x' (BAD_REQUEST)"
    assert error.request_id == "r-9"
    assert error.method == "POST"
    assert error.path == "/a/execute"


def test_empty_error_body_uses_the_reason_phrase() -> None:
    harness = Harness([respond(404, raw=b"")])
    with pytest.raises(Exception, match=r"Reason \(empty body\)"):
        harness.transport.request("GET", "/x")


# logging


def test_one_info_line_per_attempt_without_query_strings(
    caplog: pytest.LogCaptureFixture,
) -> None:
    harness = Harness([respond(503, {}), respond(200, {})])
    with caplog.at_level(logging.INFO, logger="alloy_data.http"):
        harness.transport.request("GET", "/connectors", params={"category": "CRM", "userId": "u"})
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert len(lines) == 2
    assert lines[0].startswith("GET /connectors -> 503 in ")
    assert lines[0].endswith("(attempt 1)")
    assert lines[1].startswith("GET /connectors -> 200 in ")
    assert lines[1].endswith("(attempt 2)")
    assert not any("category" in line or "?" in line for line in lines)


def test_a_custom_logger_receives_the_lines(caplog: pytest.LogCaptureFixture) -> None:
    harness = Harness([respond(200, {})])
    harness.transport.logger = logging.getLogger("my.app.http")
    with caplog.at_level(logging.INFO, logger="my.app.http"):
        harness.transport.request("GET", "/x")
    assert [r.name for r in caplog.records] == ["my.app.http"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Failed to resolve 'x.invalid' ([Errno -2] Name or service not known)", "not resolve"),
        ("Failed to establish a new connection: [Errno 101] Network is unreachable", "failed"),
    ],
    ids=["dns", "unreachable"],
)
def test_connection_failures_say_what_failed(text: str, reason: str) -> None:
    error = NewConnectionError(None, text)  # type: ignore[arg-type]
    failure = requests.ConnectionError(MaxRetryError(None, "/x", error))  # type: ignore[arg-type]
    harness = Harness([fail(failure)], max_retries=0)
    with pytest.raises(AlloyConnectionError, match=reason):
        harness.transport.request("GET", "/x")
    assert harness.calls == 1


def own_session_transport(replies: list[Reply], **config: Any) -> tuple[Transport, FakeAdapter]:
    """A transport on its own session (the lean path), with a fake adapter mounted."""
    transport = Transport(ClientConfig.resolve(KEY, base_url=BASE, environ={}, **config))
    adapter = FakeAdapter(replies)
    transport.session.mount("https://", adapter)
    return transport, adapter


def test_own_session_sends_the_same_request() -> None:
    transport, adapter = own_session_transport([respond(200, {"ok": True})], user_id="usr_1")
    try:
        result = transport.request(
            "POST", "/connectors/a%2Fb/x", params={"q": "ü v"}, json_body={"n": 1}
        )
    finally:
        transport.close()
    assert result == {"ok": True}
    sent = adapter.sent[0]
    assert sent.url == f"{BASE}/connectors/a%2Fb/x?q=%C3%BC+v"
    assert sent.body == b'{"n": 1}'
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["x-alloy-userid"] == "usr_1"
    assert sent.headers["Accept-Encoding"] == "gzip, deflate"
    assert "Cookie" not in sent.headers


def test_a_callers_session_keeps_its_headers_and_cookies() -> None:
    harness = Harness([respond(200, {"ok": True})])
    harness.session.headers["X-Team"] = "analytics"
    harness.session.cookies.set("route", "a", domain="api.example.com")
    harness.transport.request("GET", "/connectors")
    sent = harness.adapter.sent[0]
    assert sent.headers["X-Team"] == "analytics"
    assert sent.headers["Cookie"] == "route=a"
    assert sent.headers["Authorization"] == f"Bearer {KEY}"


def test_a_closed_transport_sends_nothing_and_says_how_to_get_a_new_client() -> None:
    harness = Harness([respond(200, {"ok": True})])
    harness.transport.close()
    with pytest.raises(ClientClosedError) as caught:
        harness.transport.request("GET", encode_path("connectors", KEY))
    message = str(caught.value)
    assert "closed" in message and "ad.connect()" in message and "AlloyClient(" in message
    assert KEY not in message
    assert isinstance(caught.value, ValueError)
    assert harness.calls == 0 and harness.waits == []
    assert harness.transport.closed


def test_closing_during_a_retry_wait_stops_the_retries() -> None:
    harness = Harness([fail(refused())])
    harness.transport._sleep = lambda seconds: harness.transport.close()
    with pytest.raises(ClientClosedError):
        harness.transport.request("GET", "/connectors")
    assert harness.calls == 1


def test_a_failure_caused_by_closing_mid_request_is_reported_as_the_close() -> None:
    def close_then_refuse(request: requests.PreparedRequest) -> requests.Response:
        harness.transport.close()
        raise refused()

    harness = Harness([close_then_refuse])
    with pytest.raises(ClientClosedError):
        harness.transport.request("GET", "/connectors")
    assert harness.calls == 1 and harness.waits == []


def test_closing_ends_a_retry_wait_on_another_thread() -> None:
    first_answer = threading.Event()

    def busy(request: requests.PreparedRequest) -> requests.Response:
        first_answer.set()
        return respond(503, {"message": "busy"}, headers={"Retry-After": "60"})(request)

    session = requests.Session()
    session.mount("https://", FakeAdapter([busy]))
    transport = Transport(ClientConfig.resolve(KEY, base_url=BASE, environ={}), session=session)
    raised: list[BaseException] = []

    def call() -> None:
        try:
            transport.request("GET", "/connectors")
        except BaseException as error:  # handed to the test's thread
            raised.append(error)

    # Daemon, so that a wait close() fails to end cannot hold the test run for its 60 s.
    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    assert first_answer.wait(10)
    transport.close()
    caller.join(10)
    assert not caller.is_alive(), "the retry wait went on after close()"
    assert len(raised) == 1 and isinstance(raised[0], ClientClosedError)
