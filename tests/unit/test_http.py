"""The transport's pure logic: paths, status mapping, messages, Retry-After and backoff."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from alloy_data.errors import (
    AlloyAPIError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)
from alloy_data.http import (
    RetryPolicy,
    encode_path,
    error_for_status,
    extract_message,
    extract_request_id,
    parse_retry_after,
)
from alloy_data.http._status import HINTS, decode_json_or_none

# paths


@pytest.mark.parametrize(
    ("segments", "expected"),
    [
        (("connectors", "shopify", "resources"), "/connectors/shopify/resources"),
        (("connectors", "a/b"), "/connectors/a%2Fb"),
        (("connectors", "../users"), "/connectors/..%2Fusers"),
        (("connectors", "a b"), "/connectors/a%20b"),
        (("connectors", "café"), "/connectors/caf%C3%A9"),
        (("connectors", "x?y#z"), "/connectors/x%3Fy%23z"),
        (("connectors", "%2F"), "/connectors/%252F"),
        (("connectors", "..."), "/connectors/..."),
    ],
    ids=[
        "plain",
        "slash",
        "dotdot-slash",
        "space",
        "unicode",
        "query-chars",
        "percent",
        "three-dots",
    ],
)
def test_path_segments_are_encoded(segments: tuple[str, ...], expected: str) -> None:
    assert encode_path(*segments) == expected


@pytest.mark.parametrize(
    "bad",
    ["", "   ", ".", "..", None, 42],
    ids=["empty", "blank", "dot", "dotdot", "none", "int"],
)
def test_unusable_ids_are_refused(bad: object) -> None:
    with pytest.raises(ConfigurationError):
        encode_path("connectors", bad, "resources")


# status mapping


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
        (402, BadRequestError),
        (405, BadRequestError),
        (409, ConflictError),
        (418, BadRequestError),
        (422, BadRequestError),
        (501, ServerError),
        (599, ServerError),
    ],
    ids=lambda value: str(value) if isinstance(value, int) else value.__name__,
)
def test_each_status_maps_to_its_class(status: int, cls: type[AlloyAPIError]) -> None:
    error = error_for_status(
        status, message="boom", request_id="req-1", method="GET", path="/x", attempts=3
    )
    assert type(error) is cls
    assert error.status == status
    assert error.message == "boom"
    assert error.request_id == "req-1"
    assert error.attempts == 3
    text = str(error)
    assert f"HTTP {status}" in text
    assert "GET /x" in text
    assert "boom" in text
    assert "req-1" in text
    assert "3 attempts" in text
    assert HINTS[cls] in text


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (401, "ALLOY_API_KEY"),
        (403, "user_id"),
        (404, "base URL"),
        (429, "concurrency"),
        (503, "try again later"),
        (400, "parameters"),
    ],
    ids=["401-key", "403-user", "404-route", "429-wait", "5xx-later", "400-params"],
)
def test_hints_say_what_to_do(status: int, words: str) -> None:
    assert words in str(error_for_status(status, message="m"))


def test_rate_limit_error_carries_retry_after() -> None:
    error = error_for_status(429, message="slow down", retry_after=7.0)
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 7.0


# messages


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b'{"message": "Invalid API key"}', "application/json", "Invalid API key"),
        (b'{"error": "UNAUTHORIZED"}', "application/json", "UNAUTHORIZED"),
        (
            b'{"error": "UNAUTHORIZED", "message": "Invalid API key"}',
            "application/json",
            "Invalid API key (UNAUTHORIZED)",
        ),
        (b'{"error": {"message": "nested", "code": 7}}', "application/json", "nested"),
        (b'{"errors": [{"message": "first"}]}', "application/json", "first"),
        (b'{"detail": "detailed"}', "application/json", "detailed"),
        (b'"just a string"', "application/json", "just a string"),
        (
            b"<html><head><title>t</title><style>p{}</style></head><body><h1>502 Bad"
            b"\n  Gateway</h1><p>nginx &amp; co</p></body></html>",
            "text/html",
            "502 Bad Gateway nginx & co",
        ),
        (b"plain   text\n\nwith   spaces", "text/plain", "plain text with spaces"),
        (b"", "text/plain", ""),
        (b"   \n", "application/json", ""),
        (b'{"unrelated": 1}', "application/json", '{"unrelated": 1}'),
    ],
    ids=[
        "json-message",
        "json-error",
        "json-both",
        "json-nested",
        "json-errors-list",
        "json-detail",
        "json-string",
        "html",
        "text",
        "empty",
        "whitespace",
        "json-no-message",
    ],
)
def test_messages_are_extracted(body: bytes, content_type: str, expected: str) -> None:
    assert extract_message(body, content_type) == expected


def test_long_messages_are_cut_to_about_200_characters() -> None:
    message = extract_message(b"word " * 500, "text/plain")
    assert len(message) <= 200
    assert message.endswith("…")


def test_html_without_content_type_is_still_stripped() -> None:
    assert extract_message(b"<html><body><p>Oops</p></body></html>") == "Oops"


@pytest.mark.parametrize(
    ("headers", "payload", "expected"),
    [
        ({"x-request-id": "abc"}, None, "abc"),
        ({"x-amzn-requestid": "amz"}, None, "amz"),
        ({"request-id": "plain"}, None, "plain"),
        ({}, {"requestId": "body-id"}, "body-id"),
        ({}, {"request_id": 12}, "12"),
        ({}, ["not", "a", "dict"], None),
        ({}, None, None),
    ],
    ids=["x-request-id", "amzn", "request-id", "body", "body-int", "body-list", "none"],
)
def test_request_ids_are_found(
    headers: dict[str, str], payload: object, expected: str | None
) -> None:
    assert extract_request_id(headers, payload) == expected


# Retry-After and backoff


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3", 3.0),
        (" 10 ", 10.0),
        ("0", 0.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
    ],
    ids=["seconds", "padded", "zero", "absent", "empty", "garbage", "negative", "fraction"],
)
def test_retry_after_seconds(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_retry_after_http_date_in_the_future() -> None:
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    seconds = parse_retry_after(format_datetime(when, usegmt=True))
    assert seconds is not None
    assert 25 <= seconds <= 31


def test_retry_after_http_date_in_the_past_is_zero() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_backoff_is_full_jitter_within_capped_bounds() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_cap=4.0)
    rng = random.Random(1)
    for retry_number, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (10, 4.0)]:
        waits = [policy.backoff(retry_number, rng) for _ in range(200)]
        assert all(0.0 <= w <= ceiling for w in waits)
        # Full jitter spreads over the whole range, not only near the ceiling.
        assert min(waits) < ceiling * 0.2
        assert max(waits) > ceiling * 0.8


# 404 and 409: advice fit for what the server did not accept


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        ("/v2/connectors", b"<pre>Cannot GET /v2/connectors</pre>", "base URL"),
        ("/connectors", b"Not Found", "API version"),
        ("/connectors", b'{"message": "Cannot GET /connectors"}', "base URL"),
        (
            "/connectors/nope/resources",
            b'{"error": "connector \'nope\' not found"}',
            "client.connectors.list()",
        ),
        (
            "/connectors/shopify/actions/nope",
            b'{"message": "action not found"}',
            "client.connectors.actions('shopify')",
        ),
        (
            "/connectors/shopify/actions/list-orders/execute",
            b'{"message": "credential \'c9\' not found"}',
            "client.credentials.list('shopify'",
        ),
        ("/users/u%201/token", b'{"message": "no such record"}', "client.users.list()"),
        (
            "/connectors/shopify/actions/nope",
            b'{"message": "not here"}',
            "client.connectors.actions('shopify')",
        ),
    ],
    ids=[
        "html-route",
        "text-route",
        "json-route",
        "connector",
        "action",
        "credential",
        "user-by-path",
        "action-by-path",
    ],
)
def test_a_404_tells_a_missing_route_from_a_missing_id(path: str, body: bytes, words: str) -> None:
    payload = decode_json_or_none(body)
    error = error_for_status(404, message=extract_message(body), path=path, payload=payload)
    assert type(error) is NotFoundError
    assert words in str(error)
    route = "base URL" in words or "API version" in words
    assert ("base URL" in str(error)) is route
    assert ("lists" in str(error)) is not route


@pytest.mark.parametrize(
    ("method", "path", "words"),
    [
        ("POST", "/users", "client.users.list()"),
        ("POST", "/connectors/shopify/credentials", "client.credentials.list('shopify'"),
        ("PUT", "/elsewhere", "exists already"),
    ],
    ids=["username", "credential", "other"],
)
def test_a_409_advice_fits_what_conflicted(method: str, path: str, words: str) -> None:
    error = error_for_status(409, message="taken", method=method, path=path, payload={})
    assert isinstance(error, BadRequestError)
    assert type(error) is ConflictError
    assert words in str(error)
    assert "client.actions.get" not in str(error)
