"""No API key or user token in any repr, exception, traceback or log line, at any level."""

from __future__ import annotations

import logging
import socket
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from alloy_data.client import AlloyClient
from alloy_data.errors import AlloyError
from alloy_data.http import RetryPolicy
from alloy_data.sandbox import Sandbox, serve

KEY = "sk_test_SECRET_9f8e7d6c5b4a"
# Pieces that would betray a partly masked key.
KEY_TELLS = (KEY, "SECRET_9f8e", "9f8e7d6c5b4a")
STRIPE_SECRET = "rk_live_STRIPE_PRIVATE_0a1b2c3d"


@pytest.fixture(scope="module", params=["seed", "live"])
def keyed(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    with serve(port=0, dialect=request.param, api_key=KEY, seed=7) as running:
        yield running


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class Evidence:
    """Everything a user could see: reprs, errors, tracebacks and log lines."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def add(self, *texts: object) -> None:
        self.texts.extend(str(text) for text in texts)

    def run(self, call: Callable[[], Any]) -> Any:
        try:
            result = call()
        except AlloyError as exc:
            self.add(str(exc), repr(exc), traceback.format_exc(), exc.args)
            return exc
        if not isinstance(result, str):  # users.token() returns the token on purpose
            self.add(repr(result))
        return result


def _exercise(client: AlloyClient, sandbox: Sandbox, evidence: Evidence) -> list[Any]:
    fixtures = sandbox.fixtures
    credential = fixtures.credentials["shopify"]
    # Retried once (max_retries=1), so it fails on both attempts.
    sandbox.inject_fault("500_html", count=2, path_contains="/connectors/box/resources")
    sandbox.inject_fault("latency", count=1, path_contains="/connectors/xero", delay_ms=800)
    sandbox.inject_fault("drop", count=1, path_contains="/execute")
    calls: list[Callable[[], Any]] = [
        client.connectors.list,
        lambda: client.connectors.resources("box"),
        lambda: client._transport.request("GET", "/connectors/xero/resources", timeout=(2, 0.2)),
        lambda: client.actions.execute("shopify", "list-orders", credential_id=credential),
        lambda: client.actions.execute(
            "shopify", "list-orders", credential_id=credential, parameters={"first": 2}
        ),
        lambda: client.actions.execute(
            "shopify", "list-orders", credential_id=credential, parameters={"first": "x"}
        ),
        lambda: client.actions.execute(
            "shopify", "list-orders", credential_id=fixtures.other_credentials["shopify"]
        ),
        lambda: client.users.token("no-such-user"),
        lambda: client.users.token(fixtures.user_id),
        lambda: client.credentials.create(
            "stripe", user_id=fixtures.user_id, data={"api_key": STRIPE_SECRET}
        ),
        lambda: client.connectors.resources(KEY),
        client.users.list,
    ]
    return [evidence.run(call) for call in calls]


def test_no_secret_escapes(keyed: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    evidence = Evidence()
    with caplog.at_level(logging.DEBUG):
        with AlloyClient(KEY, base_url=keyed.url, user_id=keyed.fixtures.user_id) as client:
            client._transport.retry_policy = RetryPolicy(max_retries=1, backoff_base=0.01)
            evidence.add(repr(client), repr(client.config), str(client.config))
            evidence.add(repr(client._transport), repr(client._transport.session.auth))
            outcomes = _exercise(client, keyed, evidence)
        dead = f"http://127.0.0.1:{_closed_port()}"
        with AlloyClient(KEY, base_url=dead, max_retries=1) as offline:
            evidence.run(offline.connectors.list)
        with serve(port=0) as other, AlloyClient(KEY, base_url=other.url) as wrong_server:
            evidence.run(wrong_server.connectors.list)
    token = next(o for o in outcomes if isinstance(o, str) and o.count(".") == 2)
    evidence.add(*(record.getMessage() for record in caplog.records))
    evidence.add(*(caplog.text,))

    assert len(caplog.records) > 20
    assert any(record.levelno == logging.DEBUG for record in caplog.records)
    errors = [o for o in outcomes if isinstance(o, AlloyError)]
    assert len(errors) >= 6
    secrets = (*KEY_TELLS, token, STRIPE_SECRET)
    for text in evidence.texts:
        for secret in secrets:
            assert secret not in text, f"{secret[:6]}... leaked in: {text[:120]}"


def test_a_url_with_a_password_is_refused_without_echoing_it() -> None:
    password = "pa55w0rd-" + "secret"  # built, so the traceback's source line cannot show it
    url = f"https://user:{password}@api.example.com"
    with pytest.raises(AlloyError) as caught:
        AlloyClient(KEY, base_url=url)
    text = traceback.format_exception(caught.value)
    assert not any(password in line for line in text)
    assert not any(tell in line for line in text for tell in KEY_TELLS)
