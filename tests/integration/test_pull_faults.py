"""Field-grade pulls: every kind of transient failure, at a fifth of all requests, survived.

In every pagination convention of the sandbox, a 100,000-record pull with 20% of its requests
failing (mixed across every fault kind the sandbox has, including slow answers past the read
timeout) gives exactly the ids of a fault-free pull, in order, none lost and none repeated,
into a DataFrame and into a Parquet file, under five fault seeds. Those are field tests
(`make test-field`); `make test` runs the same check under one seed, on 60 pages a pull.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

import alloy_data as ad
from alloy_data.http import RetryPolicy
from alloy_data.sandbox import FAULT_KINDS, Sandbox, serve
from alloy_data.sandbox.catalog import build_catalog

CATALOG = build_catalog()
RECORDS = 100_000
FAULT_RATE = 0.2
SEEDS = [1, 2, 3, 4, 5]
# A slow answer is held past the read timeout, so that it fails as a read timeout.
READ_TIMEOUT = 0.1
SLOW_ANSWER_MS = 300

# connector, action, the records' id field: one list action per pagination convention
CONVENTIONS = {
    "relay": ("shopify", "list-orders", "id"),
    "cursor": ("hubspot", "list-contacts", "id"),
    "last_id": ("stripe", "list-charges", "id"),
    "next_link": ("zendesk", "list-tickets", "id"),
    "offset": ("box", "list-files", "id"),
    "page_number": ("xero", "list-invoices", "InvoiceID"),
    "alloy_offset": ("quickbooks", "list-customers", "Id"),
}
# What the transport calls each fault kind when it retries it.
REASONS = {
    "408": "HTTP 408",
    "429": "HTTP 429",
    "500": "HTTP 500",
    "500_html": "HTTP 500",
    "502": "HTTP 502",
    "503": "HTTP 503",
    "504": "HTTP 504",
    "drop": "connection dropped",
    "reset": "connection dropped",
    "truncated": "body cut short",
    "html_200": "body not JSON",
    "latency": "read timeout",
}
# Patient and quick: many attempts, tiny waits (the sandbox asks for 1 s in Retry-After).
PATIENT = RetryPolicy(
    max_retries=12, backoff_base=0.002, backoff_cap=0.02, retry_after_cap=0.002
).for_pulls()


def expected_ids(sb: Sandbox, connector: str, action: str) -> list[Any]:
    # In the app's own order (Stripe charges and Notion pages come newest first).
    return sb.expected_ids(connector, action, credential_id=sb.fixtures.credentials[connector])


# make test's run: 60 pages or more a pull (Shopify's pages hold 250 records, Box's and Xero's
# 1,000, the others' 100 or fewer), so that every pull meets faults: with a fifth of requests
# failing, the chance that 60 do not is 0.8**60, about one in a million.
QUICK_RECORDS = {
    "shopify": 15_000,
    "hubspot": 6_000,
    "stripe": 6_000,
    "zendesk": 6_000,
    "box": 60_000,
    "xero": 60_000,
    "quickbooks": 6_000,
}
# (fault seed, records): one quick run for make test, then every seed at full size.
RUNS = [
    pytest.param((SEEDS[0], QUICK_RECORDS), id=f"fault-seed-{SEEDS[0]}-quick"),
    *(
        pytest.param(
            (seed, RECORDS),
            id=f"fault-seed-{seed}",
            # make test-field runs each seed's pulls on one worker, the seeds side by side.
            marks=[pytest.mark.field, pytest.mark.xdist_group(f"fault-seed-{seed}")],
        )
        for seed in SEEDS
    ),
]


@pytest.fixture(scope="module", params=RUNS)
def run(request: pytest.FixtureRequest) -> tuple[int, int | dict[str, int]]:
    return request.param


@pytest.fixture(scope="module")
def faulty(run: tuple[int, int | dict[str, int]]) -> Iterator[Sandbox]:
    seed, records = run
    with serve(
        port=0,
        seed=seed,
        records=records,
        fault_rate=FAULT_RATE,
        fault_delay_ms=SLOW_ANSWER_MS,
        cache_mb=256,
    ) as running:
        yield running


def pull_for(sb: Sandbox, connector: str, action: str) -> ad.AlloyClient:
    client = ad.AlloyClient(
        sb.api_key, base_url=sb.url, user_id=sb.fixtures.user_id, timeout=(5, READ_TIMEOUT)
    )
    return client


@pytest.mark.slow
@pytest.mark.parametrize("convention", sorted(CONVENTIONS))
def test_a_pull_with_a_fifth_of_its_requests_failing_is_exact(
    faulty: Sandbox, run: tuple[int, int | dict[str, int]], convention: str, tmp_path: Path
) -> None:
    connector, action, id_field = CONVENTIONS[convention]
    expected = expected_ids(faulty, connector, action)
    records = run[1]
    assert len(expected) == (records if isinstance(records, int) else records[connector])
    credential = faulty.fixtures.credentials[connector]
    with pull_for(faulty, connector, action) as client:
        pull = client.pull(
            connector, action, credential_id=credential, progress=False, retries=PATIENT
        )
        frame = pull.to_dataframe()
        assert pull.stats.paginator == convention
        assert frame[id_field].tolist() == expected
        assert pull.stats.requests >= pull.stats.pages + pull.stats.retries
        assert sum(pull.stats.retry_reasons.values()) == pull.stats.retries
        assert set(pull.stats.retry_reasons) <= set(REASONS.values())
        if pull.stats.pages >= 1_000:
            # Enough requests that every kind of fault was met, and each was survived.
            assert set(pull.stats.retry_reasons) == set(REASONS.values())

        target = tmp_path / f"{convention}.parquet"
        exported = client.pull(
            connector, action, credential_id=credential, progress=False, retries=PATIENT
        )
        exported.to_parquet(target)
        assert pq.read_table(target, columns=[id_field]).column(0).to_pylist() == expected
        assert exported.stats.retries > 0


def test_the_mix_names_every_fault_kind_the_sandbox_has() -> None:
    assert set(REASONS) == set(FAULT_KINDS)
