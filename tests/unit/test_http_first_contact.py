"""Failing fast where retrying cannot help: a server that never answered this client."""

from __future__ import annotations

import contextlib
import random

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError

from alloy_data.errors import AlloyAPIError, AlloyConnectionError
from alloy_data.http import RetryPolicy
from alloy_data.http._retry import FIRST_CONTACT_ATTEMPTS, classify
from tests.unit.test_http_transport import BASE, Harness, fail, refused, respond


def wrapped(reason: Exception) -> requests.ConnectionError:
    return requests.ConnectionError(MaxRetryError(None, "/x", reason))  # type: ignore[arg-type]


def refused_by_type() -> requests.ConnectionError:
    """A refusal as urllib3 raises it: the OS error as the cause, whatever the text says."""
    error = NewConnectionError(None, "Failed to establish a new connection")  # type: ignore[arg-type]
    error.__cause__ = ConnectionRefusedError(111, "Connection refused")
    return wrapped(error)


def unresolved() -> requests.ConnectionError:
    return wrapped(NameResolutionError("alloy.invalid", None, OSError("not known")))  # type: ignore[arg-type]


def test_a_refusal_is_told_from_other_failures_by_its_types() -> None:
    assert classify(refused_by_type()).reason == "connection refused"
    assert classify(unresolved()).reason == "host name not resolved"
    assert classify(unresolved()).first_contact_attempts == 1
    assert classify(refused_by_type()).first_contact_attempts == FIRST_CONTACT_ATTEMPTS
    # Timeouts and dropped connections keep the policy's patience from the first request on.
    assert classify(requests.ConnectTimeout("t")).first_contact_attempts is None


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_refusal_before_the_server_ever_answered_gives_up_after_two_attempts(
    method: str,
) -> None:
    harness = Harness([fail(refused_by_type())], max_retries=8)
    retries: list[tuple[int, float, str]] = []
    with pytest.raises(AlloyConnectionError) as caught:
        harness.transport.request(method, "/connectors", on_retry=lambda *r: retries.append(r))
    assert harness.calls == FIRST_CONTACT_ATTEMPTS == 2
    assert caught.value.attempts == 2
    assert sum(wait for _, wait, _ in retries) <= 0.5  # one short pause, not a backoff series
    message = str(caught.value)
    assert BASE in message and "connection refused" in message
    for fix in ("base_url", "ALLOY_BASE_URL", "--base-url", "ad.connect()", "alloy-data sandbox"):
        assert fix in message
    assert not harness.transport.answered


def test_a_host_name_that_does_not_resolve_is_tried_once() -> None:
    harness = Harness([fail(unresolved())], max_retries=8)
    with pytest.raises(AlloyConnectionError) as caught:
        harness.transport.request("GET", "/connectors")
    assert harness.calls == 1 and harness.waits == []
    assert "does not resolve" in str(caught.value)
    assert "https://production.runalloy.com" in str(caught.value)


def test_no_retries_means_one_attempt_at_first_contact_too() -> None:
    harness = Harness([fail(refused())], max_retries=0)
    with pytest.raises(AlloyConnectionError):
        harness.transport.request("GET", "/connectors")
    assert harness.calls == 1


def test_a_second_attempt_that_connects_succeeds() -> None:
    harness = Harness([fail(refused()), respond(200, {"ok": 1})], max_retries=8)
    assert harness.transport.request("GET", "/connectors") == {"ok": 1}
    assert harness.calls == 2 and harness.transport.answered


@pytest.mark.parametrize("first_status", [200, 503, 404], ids=lambda s: f"HTTP-{s}")
def test_after_any_answer_a_refusal_is_retried_with_the_policys_patience(first_status: int) -> None:
    harness = Harness([respond(first_status, {}), fail(refused())], max_retries=4)
    with contextlib.suppress(AlloyAPIError):  # an error status is an answer all the same
        harness.transport.request("GET", "/first", retry_policy=RetryPolicy(max_retries=0))
    assert harness.transport.answered
    with pytest.raises(AlloyConnectionError) as caught:
        harness.transport.request("GET", "/connectors")
    assert harness.calls == 1 + 5
    assert caught.value.attempts == 5
    assert "may be restarting" in str(caught.value)


def test_a_tls_error_suggests_plain_http() -> None:
    harness = Harness([fail(requests.exceptions.SSLError("wrong version number"))])
    with pytest.raises(AlloyConnectionError) as caught:
        harness.transport.request("GET", "/connectors")
    assert harness.calls == 1
    assert "http://" in str(caught.value) and "certificate" in str(caught.value)


def test_the_longest_backoff_sums_the_ceilings_of_the_retries_left() -> None:
    policy = RetryPolicy(max_retries=4, backoff_base=0.5, backoff_cap=1.5)
    assert policy.longest_backoff(1) == 0.5 + 1.0 + 1.5 + 1.5
    assert policy.longest_backoff(4) == 1.5
    assert policy.longest_backoff(5) == 0.0
    rng = random.Random(1)
    assert all(policy.backoff(n, rng) <= min(1.5, 0.5 * 2 ** (n - 1)) for n in range(1, 5))
