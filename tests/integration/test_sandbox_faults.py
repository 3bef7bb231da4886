"""Faults on demand over HTTP: injected, drawn at a rate from the seed, latency, rate limit."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import requests

from alloy_data.sandbox import Sandbox, serve

TIMEOUT = 5


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    """A sandbox of its own, since these tests inject faults."""
    with serve(port=0) as running:
        yield running


def get(sandbox: Sandbox, path: str = "/connectors", **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {sandbox.api_key}"}
    return requests.get(f"{sandbox.url}{path}", headers=headers, timeout=TIMEOUT, **kwargs)


def test_429_carries_retry_after(sb):
    sb.inject_fault("429", retry_after=7)
    response = get(sb)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.json()["error"] == "RATE_LIMITED"
    assert get(sb).status_code == 200


def test_503_has_a_json_body(sb):
    sb.inject_fault("503")
    response = get(sb)
    assert response.status_code == 503
    assert response.json()["error"] == "SERVICE_UNAVAILABLE"


def test_500_html_is_an_html_page_as_from_a_proxy(sb):
    sb.inject_fault("500_html")
    response = get(sb)
    assert response.status_code == 500
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text.startswith("<html>")


def test_drop_closes_the_connection_without_an_answer(sb):
    sb.inject_fault("drop")
    with socket.create_connection(("127.0.0.1", sb.port), timeout=TIMEOUT) as sock:
        sock.sendall(
            f"GET /connectors HTTP/1.1\r\nAuthorization: Bearer {sb.api_key}\r\n\r\n".encode()
        )
        assert sock.recv(1024) == b""
    sb.inject_fault("drop")
    with pytest.raises(requests.ConnectionError):
        get(sb)


@pytest.mark.parametrize(
    ("kind", "status", "content_type", "words"),
    [
        ("408", 408, "application/json", "REQUEST_TIMEOUT"),
        ("500", 500, "application/json", "INTERNAL_ERROR"),
        ("502", 502, "text/html", "502 Bad Gateway"),
        ("504", 504, "text/html", "504 Gateway Time-out"),
        ("html_200", 200, "text/html", "down for maintenance"),
    ],
    ids=["408", "500", "502", "504", "html_200"],
)
def test_error_answers_look_as_gateways_and_apps_send_them(sb, kind, status, content_type, words):
    sb.inject_fault(kind)
    response = get(sb)
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith(content_type)
    assert words in response.text
    assert get(sb).status_code == 200


def _raw_get(sb: Sandbox) -> bytes:
    with socket.create_connection(("127.0.0.1", sb.port), timeout=TIMEOUT) as sock:
        sock.sendall(
            f"GET /connectors HTTP/1.1\r\nAuthorization: Bearer {sb.api_key}\r\n\r\n".encode()
        )
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def test_reset_resets_the_connection_without_an_answer(sb):
    sb.inject_fault("reset")
    with pytest.raises(ConnectionResetError):
        _raw_get(sb)
    sb.inject_fault("reset")
    with pytest.raises(requests.ConnectionError):
        get(sb)


def test_truncated_sends_half_the_body_of_a_200_then_closes(sb):
    whole = _raw_get_keepalive_closed(sb)
    sb.inject_fault("truncated")
    cut = _raw_get(sb)
    head, _, body = cut.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    announced = int(
        next(line for line in head.split(b"\r\n") if line.startswith(b"Content-Length")).split(
            b":"
        )[1]
    )
    assert announced == len(whole.partition(b"\r\n\r\n")[2])
    assert 0 < len(body) < announced
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        sb.inject_fault("truncated")
        get(sb)


def _raw_get_keepalive_closed(sb: Sandbox) -> bytes:
    with socket.create_connection(("127.0.0.1", sb.port), timeout=TIMEOUT) as sock:
        sock.sendall(
            f"GET /connectors HTTP/1.1\r\nAuthorization: Bearer {sb.api_key}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def test_fault_rate_draws_latency_faults_of_the_given_length():
    with serve(port=0, fault_rate=1.0, faults=["latency"], fault_delay_ms=300) as sb:
        started = time.perf_counter()
        assert get(sb).status_code == 200
        assert time.perf_counter() - started >= 0.3


def test_latency_fault_holds_the_answer(sb):
    sb.inject_fault("latency", delay_ms=300)
    started = time.perf_counter()
    assert get(sb).status_code == 200
    assert time.perf_counter() - started >= 0.3
    sb.inject_fault("latency", delay_ms=2000)
    with pytest.raises(requests.Timeout):
        requests.get(f"{sb.url}/connectors", timeout=0.2)


def test_injected_faults_count_down_and_match_the_path(sb):
    sb.inject_fault("503", count=2, path_contains="/resources")
    assert get(sb).status_code == 200
    statuses = [get(sb, "/connectors/box/resources").status_code for _ in range(3)]
    assert statuses == [503, 503, 200]


def test_faults_apply_to_execute_too(sb):
    sb.inject_fault("429", path_contains="/execute")
    body = {
        "userId": sb.fixtures.user_id,
        "credentialId": sb.fixtures.credentials["box"],
        "parameters": {},
    }
    response = requests.post(
        f"{sb.url}/connectors/box/actions/list-files/execute",
        json=body,
        headers={"Authorization": f"Bearer {sb.api_key}"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 429


def test_request_count_includes_faulted_requests(sb):
    sb.inject_fault("503")
    before = sb.request_count
    get(sb)
    get(sb)
    assert sb.request_count - before == 2


def test_a_held_answer_keeps_pipelined_answers_in_order(sb):
    sb.inject_fault("latency", delay_ms=200, path_contains="/resources")
    auth = f"Authorization: Bearer {sb.api_key}\r\n"
    requests_bytes = (
        f"GET /connectors/box/resources HTTP/1.1\r\n{auth}\r\n"
        f"GET /nowhere HTTP/1.1\r\n{auth}Connection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", sb.port), timeout=TIMEOUT) as sock:
        sock.sendall(requests_bytes)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    first, second = answer.index(b"HTTP/1.1 200"), answer.index(b"HTTP/1.1 404")
    assert first < second


@pytest.mark.parametrize("bad", ["404", "timeout"], ids=lambda kind: f"kind-{kind}")
def test_unknown_fault_kinds_are_refused(sb, bad):
    with pytest.raises(ValueError, match="fault kind"):
        sb.inject_fault(bad)


def statuses(sandbox: Sandbox, n: int) -> list[int | str]:
    seen: list[int | str] = []
    for _ in range(n):
        try:
            seen.append(get(sandbox).status_code)
        except requests.ConnectionError:
            seen.append("drop")
    return seen


def test_fault_rate_draws_the_same_faults_for_the_same_seed():
    kinds = ["429", "503", "500_html", "drop"]
    with serve(port=0, seed=11, fault_rate=0.4, faults=kinds) as one:
        first = statuses(one, 40)
    with serve(port=0, seed=11, fault_rate=0.4, faults=kinds) as two:
        second = statuses(two, 40)
    assert first == second
    assert {429, 503, 500, "drop"} <= set(first)
    assert 5 < sum(status != 200 for status in first) < 30


def test_latency_ms_is_added_to_every_answer():
    with serve(port=0, latency_ms=60) as slow:
        started = time.perf_counter()
        assert [get(slow).status_code for _ in range(3)] == [200, 200, 200]
        assert time.perf_counter() - started >= 0.18


def test_rate_limit_answers_429_with_retry_after():
    with serve(port=0, rate_limit=5) as limited:
        answers = [get(limited) for _ in range(30)]
    codes = [answer.status_code for answer in answers]
    assert codes[:5] == [200] * 5
    refused = [answer for answer in answers if answer.status_code == 429]
    assert refused
    assert all(int(answer.headers["Retry-After"]) >= 1 for answer in refused)
