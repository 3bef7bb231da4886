"""A closed client refuses every request at once, whatever sends it."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any, Literal

import pytest

import alloy_data as ad
from alloy_data.client import AlloyClient
from alloy_data.sandbox import Sandbox


def new_client(sandbox: Sandbox) -> AlloyClient:
    return AlloyClient(
        sandbox.api_key, base_url=sandbox.url, user_id=sandbox.fixtures.user_id, trust_env=False
    )


def assert_says_closed(error: ad.ClientClosedError, api_key: str) -> None:
    message = str(error)
    assert "closed" in message
    assert "ad.connect()" in message and "AlloyClient(" in message
    assert api_key not in message


CALLS: dict[str, Callable[[AlloyClient, Sandbox], Any]] = {
    "connectors": lambda client, sb: client.connectors.list(),
    "credentials": lambda client, sb: client.credentials.list("stripe", user_id=client.user_id),
    "execute": lambda client, sb: client.actions.execute(
        "stripe", "list-charges", credential_id=sb.fixtures.credentials["stripe"]
    ),
    "pull": lambda client, sb: client.pull(
        "stripe", "list-charges", credential_id=sb.fixtures.credentials["stripe"], progress=False
    ).to_dataframe(),
    "pull_many all": lambda client, sb: client.pull_many(
        "hubspot", "list-contacts", credentials="all", progress=False
    ).to_dataframe(),
}


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_every_call_after_close_raises_without_sending(
    sandbox: Sandbox, call: Callable[[AlloyClient, Sandbox], Any]
) -> None:
    client = new_client(sandbox)
    client.connectors.list()
    client.close()
    before = sandbox.request_count
    with pytest.raises(ad.ClientClosedError) as caught:
        call(client, sandbox)
    assert_says_closed(caught.value, sandbox.api_key)
    assert sandbox.request_count == before


def test_the_end_of_a_with_block_closes(sandbox: Sandbox) -> None:
    with new_client(sandbox) as client:
        client.connectors.list()
    with pytest.raises(ad.ClientClosedError):
        client.connectors.list()


@pytest.mark.parametrize("on_error", ["raise", "continue"])
def test_pull_many_of_named_credentials_after_close_raises_whatever_on_error_says(
    sandbox: Sandbox, on_error: Literal["raise", "continue"]
) -> None:
    client = new_client(sandbox)
    client.close()
    many = client.pull_many(
        "hubspot",
        "list-contacts",
        credentials=[
            sandbox.fixtures.credentials["hubspot"],
            sandbox.fixtures.other_credentials["hubspot"],
        ],
        on_error=on_error,
        progress=False,
    )
    # A closed client is the job's error, not each credential's: it stops the job either way.
    with pytest.raises(ad.ClientClosedError):
        many.to_dataframe()
    failures = many.stats.failures
    assert failures and all(isinstance(f.error, ad.ClientClosedError) for f in failures)


def test_a_connect_client_says_closed_instead_of_connection_refused(monkeypatch):
    # connect() runs an embedded sandbox that close() stops: without the check, the calls
    # after it retried "connection refused" for a long time before failing.
    monkeypatch.delenv("ALLOY_API_KEY", raising=False)
    client = ad.connect(sandbox=True, announce=io.StringIO())
    credential = client.credentials.list("stripe", user_id=client.user_id)[0].credential_id
    client.close()
    with pytest.raises(ad.ClientClosedError) as caught:
        client.pull("stripe", "list-charges", credential_id=credential, progress=False).to_arrow()
    assert_says_closed(caught.value, client.config.api_key)
