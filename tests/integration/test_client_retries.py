"""Retries against the sandbox's faults, counted by the requests the sandbox saw."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from alloy_data.client import AlloyClient
from alloy_data.errors import (
    AlloyConnectionError,
    AlloyTimeoutError,
    RateLimitError,
    ServerError,
)
from alloy_data.http import RetryPolicy
from alloy_data.sandbox import Sandbox, serve

RESOURCES = "/connectors/shopify/resources"
EXECUTE = "/execute"
Event = tuple[int, float, str]


@pytest.fixture(scope="module", params=["seed", "live"])
def faulty(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """A sandbox of this module's own, since faults would disturb other tests."""
    with serve(port=0, dialect=request.param, seed=5) as running:
        yield running


@pytest.fixture
def client(faulty: Sandbox) -> Iterator[AlloyClient]:
    with AlloyClient(
        faulty.api_key,
        base_url=faulty.url,
        user_id=faulty.fixtures.user_id,
        trust_env=False,
        timeout=(2, 5),
    ) as alloy:
        # Short backoffs keep the suite fast; the bounds themselves are unit-tested.
        alloy._transport.retry_policy = RetryPolicy(
            max_retries=4, backoff_base=0.01, backoff_cap=0.05
        )
        yield alloy


def _execute(client: AlloyClient, sandbox: Sandbox, **options: object) -> object:
    return client.actions.execute(
        "shopify",
        "list-orders",
        credential_id=sandbox.fixtures.credentials["shopify"],
        **options,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("kind", "reason"),
    [("429", "HTTP 429"), ("503", "HTTP 503"), ("drop", "connection dropped")],
    ids=["429", "503", "drop"],
)
def test_get_recovers_from_transient_faults(
    client: AlloyClient, faulty: Sandbox, kind: str, reason: str
) -> None:
    faulty.inject_fault(kind, count=2, path_contains=RESOURCES, retry_after=0)
    events: list[Event] = []
    before = faulty.request_count
    path = "/connectors/shopify/resources"
    result = client._transport.request("GET", path, on_retry=lambda *e: events.append(e))
    assert result["resources"]
    assert faulty.request_count - before == 3
    assert [(attempt, why) for attempt, _, why in events] == [(1, reason), (2, reason)]


def test_namespace_calls_retry_too(client: AlloyClient, faulty: Sandbox) -> None:
    faulty.inject_fault("503", count=1, path_contains=RESOURCES, retry_after=0)
    before = faulty.request_count
    assert client.connectors.resources("shopify")
    assert faulty.request_count - before == 2


def test_retry_after_from_the_sandbox_is_honoured(client: AlloyClient, faulty: Sandbox) -> None:
    faulty.inject_fault("429", count=1, path_contains=RESOURCES, retry_after=1)
    events: list[Event] = []
    client._transport.request("GET", RESOURCES, on_retry=lambda *e: events.append(e))
    assert [wait for _, wait, _ in events] == [1.0]


def test_latency_beyond_the_read_timeout_is_retried(client: AlloyClient, faulty: Sandbox) -> None:
    faulty.inject_fault("latency", count=1, path_contains=RESOURCES, delay_ms=1500)
    events: list[Event] = []
    before = faulty.request_count
    client._transport.request(
        "GET", RESOURCES, timeout=(2, 0.3), on_retry=lambda *e: events.append(e)
    )
    assert faulty.request_count - before == 2
    assert [why for _, _, why in events] == ["read timeout"]


def test_latency_within_the_timeout_is_just_slow(client: AlloyClient, faulty: Sandbox) -> None:
    faulty.inject_fault("latency", count=1, path_contains=RESOURCES, delay_ms=200)
    before = faulty.request_count
    assert client.connectors.resources("shopify")
    assert faulty.request_count - before == 1


def test_a_proxys_html_500_is_retried(client: AlloyClient, faulty: Sandbox) -> None:
    faulty.inject_fault("500_html", count=1, path_contains=RESOURCES)
    before = faulty.request_count
    assert client.connectors.resources("shopify")
    assert faulty.request_count - before == 2


def test_a_proxys_html_500_that_persists_reads_clean(client: AlloyClient, faulty: Sandbox) -> None:
    faulty.inject_fault("500_html", count=5, path_contains=RESOURCES)  # every attempt
    with pytest.raises(ServerError) as caught:
        client.connectors.resources("shopify")
    error = caught.value
    assert error.status == 500
    assert error.attempts == 5
    assert "<" not in error.message
    assert len(error.message) <= 200
    assert "try again later" in str(error)


@pytest.mark.parametrize(
    ("kind", "error_class"),
    [("503", ServerError), ("429", RateLimitError), ("drop", AlloyConnectionError)],
    ids=["503", "429", "drop"],
)
def test_retries_give_up_after_the_limit(
    client: AlloyClient, faulty: Sandbox, kind: str, error_class: type[Exception]
) -> None:
    faulty.inject_fault(kind, count=5, path_contains=RESOURCES, retry_after=0)
    before = faulty.request_count
    with pytest.raises(error_class) as caught:
        client.connectors.resources("shopify")
    assert faulty.request_count - before == 5
    assert getattr(caught.value, "attempts", None) == 5
    assert "5 attempts" in str(caught.value)


def test_execute_is_not_retried_on_503(client: AlloyClient, faulty: Sandbox) -> None:
    faulty.inject_fault("503", count=1, path_contains=EXECUTE, retry_after=0)
    before = faulty.request_count
    with pytest.raises(ServerError) as caught:
        _execute(client, faulty)
    assert faulty.request_count - before == 1
    assert caught.value.attempts == 1


def test_execute_is_not_retried_after_a_drop(client: AlloyClient, faulty: Sandbox) -> None:
    faulty.inject_fault("drop", count=1, path_contains=EXECUTE)
    before = faulty.request_count
    with pytest.raises(AlloyConnectionError):
        _execute(client, faulty)
    assert faulty.request_count - before == 1


@pytest.mark.parametrize("kind", ["503", "drop"])
def test_idempotent_execute_is_retried(client: AlloyClient, faulty: Sandbox, kind: str) -> None:
    faulty.inject_fault(kind, count=1, path_contains=EXECUTE, retry_after=0)
    before = faulty.request_count
    result = _execute(client, faulty, idempotent=True)
    assert result is not None
    assert faulty.request_count - before == 2


def test_execute_is_retried_on_429(client: AlloyClient, faulty: Sandbox) -> None:
    faulty.inject_fault("429", count=2, path_contains=EXECUTE, retry_after=0)
    before = faulty.request_count
    events: list[Event] = []
    _execute(client, faulty, on_retry=lambda *e: events.append(e))
    assert faulty.request_count - before == 3
    assert [why for _, _, why in events] == ["HTTP 429", "HTTP 429"]


def test_execute_timeout_per_call(client: AlloyClient, faulty: Sandbox) -> None:
    faulty.inject_fault("latency", count=1, path_contains=EXECUTE, delay_ms=1500)
    before = faulty.request_count
    with pytest.raises(AlloyTimeoutError) as caught:
        _execute(client, faulty, timeout=(2, 0.3))
    assert faulty.request_count - before == 1
    assert "timed out" in str(caught.value)
    assert "0.3 s" in str(caught.value)


def test_rate_limited_sandbox_is_waited_out() -> None:
    with (
        serve(port=0, rate_limit=2) as limited,
        AlloyClient(limited.api_key, base_url=limited.url, trust_env=False) as alloy,
    ):
        waited: list[float] = []
        for _ in range(4):
            alloy._transport.request(
                "GET", "/connectors", on_retry=lambda _a, wait, _r: waited.append(wait)
            )
        assert waited
        assert all(wait >= 1 for wait in waited)
