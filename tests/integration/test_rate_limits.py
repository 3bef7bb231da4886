"""Pulls paced to the sandbox's rate limits, over HTTP: refusals counted, never wall time."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import alloy_data as ad
from alloy_data._tuning import LIMIT_JITTER
from alloy_data.progress import ProgressUpdate
from alloy_data.sandbox import serve

#: Alloy offset paging, 50 records a page.
CONNECTOR, ACTION = "quickbooks", "list-customers"


def pull_offset(client: ad.AlloyClient, credential: str, **options: Any) -> ad.Pull:
    pull = client.pull(CONNECTOR, ACTION, credential_id=credential, progress=False, **options)
    pull.to_arrow()
    return pull


@pytest.mark.parametrize(
    "rule",
    [
        "10/0.5s:x-ratelimit",
        "10/0.5s:x-ratelimit-epoch",
        "10/0.5s:ietf",
        "10/0.5s:key:ietf",
        "10/0.5s:token_bucket:x-ratelimit",
    ],
)
def test_with_headers_a_pull_makes_at_most_one_refused_request(rule: str) -> None:
    updates: list[ProgressUpdate] = []
    with (
        serve(port=0, records=1500, limits=[rule]) as sb,
        ad.AlloyClient(sb.api_key, base_url=sb.url) as client,
    ):
        pull = client.pull(
            CONNECTOR, ACTION, credential_id=sb.fixtures.credentials[CONNECTOR],
            progress=updates.append,
        )  # fmt: skip
        table = pull.to_arrow()
    stats = pull.stats
    assert table.num_rows == 1500
    assert stats.refused <= 1, stats
    assert stats.requests >= 30 and stats.limit_waits > 0
    assert stats.rate_limits and "told by the answers" in stats.rate_limits[0]
    assert any(update.waiting_for_limit for update in updates)


def test_without_headers_refusals_stay_under_five_percent() -> None:
    with (
        serve(port=0, records=15_000, limits=["30/0.5s:none"]) as sb,
        ad.AlloyClient(sb.api_key, base_url=sb.url) as client,
    ):
        pull = pull_offset(client, sb.fixtures.credentials[CONNECTOR])
    stats = pull.stats
    assert stats.records == 15_000
    assert stats.requests >= 300
    assert 1 <= stats.refused <= 0.05 * stats.requests, stats
    assert stats.rate_limits and "learned from refusals" in stats.rate_limits[0]


def test_two_threads_on_one_credential_share_its_budget() -> None:
    with (
        serve(port=0, records=1000, limits=["10/0.5s:x-ratelimit"]) as sb,
        ad.AlloyClient(sb.api_key, base_url=sb.url) as client,
    ):
        credential = sb.fixtures.credentials[CONNECTOR]
        pulls: list[ad.Pull] = []
        threads = [
            threading.Thread(target=lambda: pulls.append(pull_offset(client, credential)))
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert [pull.stats.records for pull in pulls] == [1000, 1000]
    # Each pull alone would spend the whole window each time: about half refused.
    assert sum(pull.stats.refused for pull in pulls) <= 2
    assert sum(pull.stats.limit_waits for pull in pulls) > 0


def test_two_clients_in_one_process_share_a_credentials_budget() -> None:
    with serve(port=0, records=1000, limits=["10/0.5s:x-ratelimit"]) as sb:
        credential = sb.fixtures.credentials[CONNECTOR]
        with ad.AlloyClient(sb.api_key, base_url=sb.url) as first:
            pull_offset(first, credential)
        with ad.AlloyClient(sb.api_key, base_url=sb.url) as second:
            pull = pull_offset(second, credential)
    # The second client starts where the first left the window, and knows it.
    assert pull.stats.refused <= 1
    assert pull.stats.rate_limits


def test_pull_many_workers_share_a_per_key_limit() -> None:
    with serve(port=0, records=600, tenants=3, tenant_records=600,
               limits=["10/0.5s:key:ietf"]) as sb:  # fmt: skip
        pairs = [(t.user_id, t.credentials[CONNECTOR]) for t in sb.fixtures.tenants]
        with ad.AlloyClient(sb.api_key, base_url=sb.url) as client:
            many = client.pull_many(CONNECTOR, ACTION, credentials=pairs, progress=False)
            table = many.to_arrow()
    stats = many.stats
    assert table.num_rows == 1800 and stats.done == 3
    assert stats.refused <= 3, stats  # at most the first answers' in flight
    assert stats.limit_waits > 0
    assert "refused (429)" in stats._repr_html_()


def test_no_wait_runs_past_what_the_answers_asked_plus_the_jitter() -> None:
    retry_waits: list[float] = []
    limit_waits: list[float] = []
    with (
        serve(port=0, records=500, limits=["5/1s:none"]) as sb,
        ad.AlloyClient(sb.api_key, base_url=sb.url) as client,
    ):
        credential = sb.fixtures.credentials[CONNECTOR]
        for _ in range(16):
            client.actions.execute(
                CONNECTOR, ACTION, credential_id=credential, idempotent=True,
                on_retry=lambda attempt, wait, reason: retry_waits.append(wait),
                on_limit_wait=limit_waits.append,
            )  # fmt: skip
        [learned] = client.actions.rate_limits(credential)
    # A refusal's retry waits its Retry-After (whole seconds here), no more. (A loaded machine
    # can take so long over a window's requests that a second window is misjudged once.)
    assert retry_waits and len(retry_waits) <= 2 and all(wait == 1.0 for wait in retry_waits)
    # Then each window is waited for: never longer than the window the refusal taught (its
    # Retry-After's end, less the part of a second the window's requests took) plus jitter.
    assert learned.limit == 5 and learned.window is not None and learned.window <= 1.0 + 0.05
    assert limit_waits and max(limit_waits) <= learned.window + LIMIT_JITTER
