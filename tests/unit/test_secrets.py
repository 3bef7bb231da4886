"""Masking and redaction: no key or token in a repr, an error or a log line."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from alloy_data.client import AlloyClient
from alloy_data.config import ClientConfig, mask_secret, redact, redact_url
from alloy_data.errors import AlloyAPIError
from alloy_data.http._transport import Transport, _BearerAuth

KEY = "sk_test_SECRET_9f8e7d6c5b4a"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c3JfMSJ9.c2lnbmF0dXJlLXNlY3JldA"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (KEY, "sk_t…(27 chars)"),
        ("0123456789abcdef0123456789abcdef", "0123…(32 chars)"),
        ("short-secret", "***"),
        ("", "***"),
        (None, "***"),
    ],
    ids=["key", "hex", "short", "empty", "none"],
)
def test_mask_secret(value: str | None, expected: str) -> None:
    masked = mask_secret(value)
    assert masked == expected
    if value:
        assert value not in masked


def test_mask_shows_at_most_four_characters() -> None:
    masked = mask_secret("abcdefghijklmnopqrstuvwxyz")
    assert masked.split("…")[0] == "abcd"


@pytest.mark.parametrize(
    "text",
    [
        f"key={KEY}",
        f"Authorization: Bearer {KEY}",
        f"authorization: bearer {TOKEN}",
        f"{KEY}{KEY}",
    ],
    ids=["plain", "bearer-header", "bearer-lowercase", "repeated"],
)
def test_redact_removes_known_secrets(text: str) -> None:
    cleaned = redact(text, [KEY, TOKEN])
    assert KEY not in cleaned
    assert TOKEN not in cleaned
    assert "9f8e7d6c5b4a" not in cleaned


def test_redact_removes_the_url_encoded_form() -> None:
    secret = "abc/def+ghi=jkl0123456"
    cleaned = redact("GET /x?key=abc%2Fdef%2Bghi%3Djkl0123456 failed", [secret])
    assert "jkl0123456" not in cleaned
    assert "abc/…(22 chars)" in cleaned


def test_redact_masks_unknown_bearer_tokens_and_url_passwords() -> None:
    cleaned = redact("Bearer abc.def.ghi and https://bob:pa55word@host/x")
    assert "abc.def.ghi" not in cleaned
    assert "pa55word" not in cleaned
    assert "https://***@host/x" in cleaned
    assert redact_url("http://u:p@127.0.0.1:9/") == "http://***@127.0.0.1:9/"


def test_redact_keeps_ordinary_text_and_ignores_tiny_secrets() -> None:
    assert redact("GET /connectors -> 200", [KEY, "", None, "abc"]) == "GET /connectors -> 200"


def test_reprs_hide_the_key() -> None:
    config = ClientConfig.resolve(KEY, environ={})
    client = AlloyClient(KEY, trust_env=False)
    texts = [repr(config), str(config), repr(client), repr(_BearerAuth(KEY)), repr(client.config)]
    for text in texts:
        assert KEY not in text
        assert "9f8e7d6c5b4a" not in text
    assert "sk_t…(27 chars)" in repr(client)
    assert "production.runalloy.com" in repr(client)
    assert "2025-09" in repr(client)


class EchoAdapter(BaseAdapter):
    """A careless server that echoes secrets in its answers."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        auth = request.headers.get("Authorization", "")
        if request.path_url.endswith("/token"):
            status, body = 200, {"token": TOKEN}
        else:
            status = 401
            body = {"message": f"bad key {auth.split()[-1]}; token {TOKEN}; header {auth}"}
        content = json.dumps(body).encode()
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


def test_errors_and_logs_never_echo_the_key_or_a_token(caplog: pytest.LogCaptureFixture) -> None:
    session = requests.Session()
    session.mount("https://", EchoAdapter())
    client = AlloyClient(KEY, base_url="https://api.example.com", session=session)
    with caplog.at_level(logging.DEBUG):
        token = client.users.token("usr_1")
        assert token == TOKEN
        with pytest.raises(AlloyAPIError) as caught:
            client.connectors.list()
    texts = [str(caught.value), repr(caught.value), caught.value.message]
    texts += [record.getMessage() for record in caplog.records]
    for text in texts:
        assert KEY not in text
        assert TOKEN not in text
    assert "bad key" in str(caught.value)


def test_the_key_is_set_per_request_not_on_the_session() -> None:
    transport = Transport(ClientConfig.resolve(KEY, environ={}))
    assert all(KEY not in str(v) for v in transport.session.headers.values())
    assert KEY not in repr(transport)
    transport.close()


def test_urllib3_debug_lines_are_scrubbed_and_the_filter_leaves_on_close() -> None:
    transport = Transport(ClientConfig.resolve(KEY, environ={}))
    urllib3_logger = logging.getLogger("urllib3.connectionpool")
    record = urllib3_logger.makeRecord(
        "urllib3.connectionpool",
        logging.DEBUG,
        "f",
        1,
        '"GET /connectors/%s HTTP/1.1"',
        (KEY,),
        None,
    )
    assert urllib3_logger.filter(record)
    assert KEY not in record.getMessage()
    count = len(urllib3_logger.filters)
    transport.close()
    assert len(urllib3_logger.filters) == count - 1
