"""The local store under an S3 prefix (moto's server on loopback): served, refreshed
incrementally, resumed after a failure, listed, queried with SQL and dropped."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import fsspec.config
import pytest

import alloy_data as ad
from alloy_data.errors import ServerError
from alloy_data.export import CACHE_DIR_ENV
from alloy_data.progress import ProgressUpdate
from alloy_data.sandbox import Sandbox, serve
from tests.integration._s3 import BUCKET, SECRET, options_for, start_moto

RECORDS = 600


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server, url = start_moto()
    try:
        fs = fsspec.filesystem("s3", skip_instance_cache=True, **options_for(url))
        fs.makedirs(BUCKET, exist_ok=True)
        yield url
    finally:
        server.stop()


@pytest.fixture
def store_url(endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    # s3fs finds its endpoint and keys in fsspec's configuration, as it would in the
    # environment (FSSPEC_S3_*): the store takes no storage options of its own.
    monkeypatch.setitem(fsspec.config.conf, "s3", options_for(endpoint))
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "cache"))
    return f"s3://{BUCKET}/store-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with serve(port=0, seed=23, records={"shopify": RECORDS, "box": RECORDS}) as running:
        yield running


def orders(client: ad.AlloyClient, sb: Sandbox, **options: Any) -> Any:
    options = {"max_age": "1h", "progress": False, "page_size": 50, **options}
    return client.pull(
        "shopify", "list-orders", credential_id=sb.fixtures.credentials["shopify"], **options
    )


def test_a_store_in_an_object_store_serves_refreshes_lists_queries_and_drops(
    sb: Sandbox, store_url: str
) -> None:
    with ad.AlloyClient(
        sb.api_key, base_url=sb.url, user_id=sb.fixtures.user_id, store=store_url
    ) as client:
        incremental = ad.Incremental("updated_at", primary_key="id")
        first = orders(client, sb, incremental=incremental)
        table = first.to_arrow()
        assert table.num_rows == RECORDS and first.stats.refresh == "full"
        [copy] = client.store.copies()
        assert str(copy.path).startswith(store_url + "/shopify/list-orders/")

        before = sb.request_count
        again = orders(client, sb, incremental=incremental)
        assert again.to_arrow().equals(table)
        assert sb.request_count == before and again.stats.refresh == "from the store"

        sb.advance_clock(3_600, updates=0.02)
        refreshed = orders(client, sb, incremental=incremental, max_age=0)
        fresh = refreshed.to_arrow()
        assert refreshed.stats.refresh == "incremental"
        assert refreshed.stats.requests < first.stats.requests
        want = sorted(
            str(i)
            for i in sb.expected_ids(
                "shopify", "list-orders", credential_id=sb.fixtures.credentials["shopify"]
            )
        )
        assert sorted(str(i) for i in fresh.column("id").to_pylist()) == want

        counts = client.store.sql("select count(*) as n from shopify.list_orders")
        assert list(counts["n"]) == [RECORDS]
        listed = client.store.list()
        assert list(listed["connector"]) == ["shopify"] and listed["mark"].notna().all()
        assert client.store.drop("shopify") == 1
        assert client.store.list().empty


def test_a_refresh_into_an_object_store_stopped_by_a_failure_resumes(
    sb: Sandbox, store_url: str
) -> None:
    with ad.AlloyClient(
        sb.api_key, base_url=sb.url, user_id=sb.fixtures.user_id, store=store_url
    ) as client:

        def fail_after_five_pages(update: ProgressUpdate) -> None:
            if update.pages == 5 and not update.done:
                sb.inject_fault("500", count=1, path_contains="list-orders")

        stopped = orders(client, sb, retries=0, progress=fail_after_five_pages)
        with pytest.raises(ServerError):
            stopped.to_dataframe()
        assert client.store.list().empty  # nothing is uploaded until the copy is whole

        again = orders(client, sb)
        frame = again.to_dataframe()
        assert again.stats.refresh == "resumed"
        assert again.stats.pages_saved_before == 5
        assert len(frame) == RECORDS and frame["id"].is_unique
        fs = fsspec.filesystem("s3", skip_instance_cache=True)
        for path in fs.find(store_url):
            assert SECRET.encode() not in fs.cat_file(path)
            assert sb.api_key.encode() not in fs.cat_file(path)
