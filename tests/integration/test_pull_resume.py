"""An export stopped by a failure part-way and finished with resume=True holds exactly the
records of an uninterrupted pull, for every paging convention, limits included."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pyarrow.parquet as pq
import pytest

import alloy_data as ad
from alloy_data.http import RetryPolicy
from alloy_data.progress import ProgressUpdate
from alloy_data.sandbox import Sandbox, serve

RECORDS = 4_321  # the last page is short, and exports save a first chunk well before the end
FAIL_AFTER = 2_600  # records fetched before the failure: one chunk or more is saved by then

CONVENTIONS = [
    pytest.param("box", "list-files", "id", 100, id="offset"),
    pytest.param("xero", "list-invoices", "InvoiceID", 100, id="page-number"),
    pytest.param("quickbooks", "list-customers", "Id", 50, id="alloy-offset"),
    pytest.param("hubspot", "list-contacts", "id", 100, id="cursor"),
]


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    counts = {"box": RECORDS, "xero": RECORDS, "quickbooks": RECORDS, "hubspot": RECORDS}
    with serve(port=0, seed=3, records=counts) as running:
        yield running


@pytest.fixture
def client(sb: Sandbox) -> Iterator[ad.AlloyClient]:
    with ad.AlloyClient(sb.api_key, base_url=sb.url, user_id=sb.fixtures.user_id) as client:
        client._transport.retry_policy = RetryPolicy(max_retries=0)
        yield client


def make_pull(client: ad.AlloyClient, sb: Sandbox, connector: str, action: str, **options: Any):
    options.setdefault("progress", False)
    options.setdefault("retries", 0)  # an injected failure must end the pull
    return client.pull(
        connector, action, credential_id=sb.fixtures.credentials[connector], **options
    )


def fail_once_after(sb: Sandbox, action: str, records: int) -> Callable[[ProgressUpdate], None]:
    """A progress callable that makes the next request fail once ``records`` were fetched."""
    failed: list[bool] = []

    def on_progress(update: ProgressUpdate) -> None:
        if update.records >= records and not failed and not update.done:
            failed.append(True)
            sb.inject_fault("500_html", count=1, path_contains=f"{action}/execute")

    return on_progress


def limits_for(which: str, page_size: int) -> dict[str, int]:
    if which == "max_records":
        return {"max_records": 3_456}  # mid-page, past the failure
    if which == "max_pages":
        return {"max_pages": 4_000 // page_size}  # past the failure, before the end
    return {}


@pytest.mark.parametrize("limits", ["none", "max_records", "max_pages"])
@pytest.mark.parametrize(("connector", "action", "key", "page_size"), CONVENTIONS)
def test_an_export_resumed_after_a_failure_equals_an_uninterrupted_pull(
    sb, client, tmp_path, connector, action, key, page_size, limits
):
    options = {"page_size": page_size, **limits_for(limits, page_size)}
    reference = make_pull(client, sb, connector, action, **options)
    expected = reference.to_arrow().column(key).to_pylist()
    path = tmp_path / "out.parquet"
    failing = make_pull(
        client, sb, connector, action, progress=fail_once_after(sb, action, FAIL_AFTER), **options
    )
    with pytest.raises(ad.ServerError) as caught:
        failing.to_parquet(path)
    assert "resume=True" in " ".join(getattr(caught.value, "__notes__", []))
    resumed = make_pull(client, sb, connector, action, **options)
    resumed.to_parquet(path, resume=True)
    ids = pq.read_table(path, columns=[key]).column(key).to_pylist()
    assert len(ids) == len(set(ids))
    assert ids == expected
    assert len(expected) == {"none": RECORDS, "max_records": 3_456, "max_pages": 4_000}[limits]
    # The resumed run fetched only what was not saved, and stopped as the reference did.
    assert resumed.stats.requests < reference.stats.requests
    assert resumed.stats.records == len(expected)
    assert resumed.stats.stop_reason == reference.stats.stop_reason
    assert resumed.stats.stop_message == reference.stats.stop_message
    # The dataset's figures and this run's are told apart, and the stop agrees with them.
    stats = resumed.stats
    assert stats.resumed and not reference.stats.resumed
    assert 0 < stats.records_fetched < stats.records
    assert stats.records_saved_before + stats.records_fetched == stats.records
    assert stats.pages == reference.stats.pages
    assert stats.pages_fetched < stats.pages
    assert f"{stats.records} records in {stats.pages} pages" in str(stats)
    assert f"this run fetched {stats.records_fetched} records" in str(stats)
    if stats.stop_reason == "end":
        assert f"({stats.pages} pages, {stats.records} records)" in (stats.stop_message or "")
