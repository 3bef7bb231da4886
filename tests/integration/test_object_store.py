"""Exports to an object store: a real S3-compatible server (moto's, on loopback) through s3fs.

Nothing here mocks a Python client: moto runs as an HTTP server in this process, s3fs talks to
it over TCP as it would to AWS, and the readers read the objects back the same way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import fsspec
import pandas as pd
import polars as pl
import pyarrow.parquet as pq
import pytest

import alloy_data as ad
from alloy_data.export import CACHE_DIR_ENV
from alloy_data.http import RetryPolicy
from alloy_data.progress import ProgressUpdate
from alloy_data.sandbox import Sandbox, serve
from tests.integration._s3 import BUCKET, SECRET, options_for, start_moto

RECORDS = 300


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, Any]]:
    server, endpoint = start_moto()
    try:
        options = options_for(endpoint)
        fs = fsspec.filesystem("s3", skip_instance_cache=True, **options)
        fs.makedirs(BUCKET, exist_ok=True)
        yield options
    finally:
        server.stop()


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with serve(port=0, seed=11, records=RECORDS) as running:
        yield running


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(CACHE_DIR_ENV, str(folder))
    return folder


def listing(options: dict[str, Any], prefix: str) -> list[str]:
    # A fresh filesystem each time: no listing cached from before.
    fs = fsspec.filesystem("s3", skip_instance_cache=True, use_listings_cache=False, **options)
    return sorted(path.rsplit("/", 1)[-1] for path in fs.find(f"{BUCKET}/{prefix}"))


def client_for(sb: Sandbox) -> ad.AlloyClient:
    client = ad.AlloyClient(sb.api_key, base_url=sb.url, user_id=sb.fixtures.user_id)
    client._transport.retry_policy = RetryPolicy(max_retries=0)
    return client


def contacts(client: ad.AlloyClient, sb: Sandbox, **options: Any) -> Any:
    options.setdefault("progress", False)
    options.setdefault("retries", 0)
    return client.pull(
        "hubspot", "list-contacts", credential_id=sb.fixtures.credentials["hubspot"], **options
    )


def test_parquet_to_s3_is_read_back_by_every_reader(sb, s3, cache, tmp_path):
    url = f"s3://{BUCKET}/contacts/one.parquet"
    with client_for(sb) as client:
        expected = contacts(client, sb, page_size=100).to_arrow()
        written = contacts(client, sb, page_size=100).to_parquet(url, storage_options=s3)
    assert written == url
    frame = pd.read_parquet(url, storage_options=s3)
    assert frame["id"].tolist() == expected.column("id").to_pylist()
    meta = ad.read_metadata(url, storage_options=s3)
    assert (meta["connector"], meta["row_count"]) == ("hubspot", str(RECORDS))
    assert meta["credential_id"] == sb.fixtures.credentials["hubspot"]
    # Polars and DuckDB here, without their own S3 access: an fsspec file object, a download.
    fs = fsspec.filesystem("s3", skip_instance_cache=True, **s3)
    with fs.open(url, "rb") as handle:
        assert pl.read_parquet(handle).height == RECORDS
    fs.get(url, str(tmp_path / "copy.parquet"))
    counted = duckdb.sql(f"select count(*) from read_parquet('{tmp_path / 'copy.parquet'}')")
    assert counted.fetchall() == [(RECORDS,)]
    # Nothing is left staged once the upload is done.
    assert not any(cache.rglob("*.parquet"))


def test_an_existing_object_is_replaced_only_with_overwrite(sb, s3):
    url = f"s3://{BUCKET}/contacts/twice.parquet"
    with client_for(sb) as client:
        contacts(client, sb, max_records=50).to_parquet(url, storage_options=s3)
        before = sb.request_count
        with pytest.raises(ad.ExportError, match="overwrite=True") as caught:
            contacts(client, sb).to_parquet(url, storage_options=s3)
        assert sb.request_count == before  # refused before anything is fetched
        assert SECRET not in str(caught.value)
        contacts(client, sb).to_parquet(url, storage_options=s3, overwrite=True)
    assert int(ad.read_metadata(url, storage_options=s3)["row_count"]) == RECORDS


@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_csv_and_json_lines_to_s3(sb, s3, suffix):
    url = f"s3://{BUCKET}/text/contacts.{suffix}"
    with client_for(sb) as client:
        assert contacts(client, sb).to_file(url, storage_options=s3) == url
    if suffix == "csv":
        frame = pd.read_csv(url, storage_options=s3)
    else:
        frame = pd.read_json(url, lines=True, storage_options=s3)
    assert len(frame) == RECORDS


def test_a_bad_bucket_is_refused_before_anything_is_fetched(sb, s3):
    with client_for(sb) as client:
        before = sb.request_count
        with pytest.raises(ad.ExportError, match="does not exist") as caught:
            contacts(client, sb).to_parquet("s3://no-such-bucket/x.parquet", storage_options=s3)
        with pytest.raises(ad.ExportError, match="Create it first"):
            client.pull_many(
                "hubspot", "list-contacts", credentials="all", progress=False
            ).to_parquet("s3://no-such-bucket/contacts/", storage_options=s3)
        assert sb.request_count == before
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value)
    assert isinstance(caught.value, ad.AlloyError)


def test_an_unreachable_endpoint_is_a_typed_error(sb):
    options = options_for("http://127.0.0.1:9")  # nothing listens on the discard port
    with client_for(sb) as client, pytest.raises(ad.ExportError, match="endpoint") as caught:
        contacts(client, sb).to_parquet(f"s3://{BUCKET}/x.parquet", storage_options=options)
    assert SECRET not in str(caught.value)


def test_storage_options_with_a_local_path_are_refused(sb, s3, tmp_path):
    with client_for(sb) as client, pytest.raises(ad.ConfigurationError, match="URLs") as caught:
        contacts(client, sb).to_parquet(tmp_path / "x.parquet", storage_options=s3)
    assert SECRET not in str(caught.value)


def test_pull_many_publishes_its_files_then_the_manifest_then_success(sb, s3):
    url = f"s3://{BUCKET}/invoices/"
    first, second = sb.fixtures.credentials["xero"], sb.fixtures.other_credentials["xero"]
    pairs = [(sb.fixtures.user_id, first), (sb.fixtures.other_user_id, second)]
    with client_for(sb) as client:
        # One credential at a time, so the injected failure hits the first one's first page.
        sb.inject_fault("503", count=1, path_contains="list-invoices/execute", retry_after=0)
        failing = client.pull_many(
            "xero", "list-invoices", credentials=pairs, workers=1, retries=0, progress=False
        )
        assert failing.to_parquet(url, storage_options=s3) == url
        assert [f.credential_id for f in failing.stats.failures] == [first]
        # The finished credential is uploaded; nothing says the dataset is complete.
        assert listing(s3, "invoices") == [f"part-{second}.parquet"]
        resumed = client.pull_many(
            "xero", "list-invoices", credentials=pairs, workers=1, progress=False
        )
        resumed.to_parquet(url, resume=True, storage_options=s3)
    assert resumed.stats.per_credential[second].requests == 0  # not pulled again
    assert listing(s3, "invoices") == [
        "_SUCCESS",
        "_alloy_manifest.json",
        f"part-{first}.parquet",
        f"part-{second}.parquet",
    ]
    frame = pd.read_parquet(url, storage_options=s3)
    assert frame["_credential_id"].value_counts().to_dict() == {first: RECORDS, second: RECORDS}
    fs = fsspec.filesystem("s3", skip_instance_cache=True, **s3)
    manifest = json.loads(fs.cat(f"{BUCKET}/invoices/_alloy_manifest.json"))
    assert [c["credential_id"] for c in manifest["credentials"]] == [first, second]
    meta = ad.read_metadata(f"s3://{BUCKET}/invoices/part-{first}.parquet", storage_options=s3)
    assert meta["credential_id"] == first
    assert ad.read_metadata(url, storage_options=s3)["connector"] == "xero"
    # A complete dataset is not replaced by accident, and is with overwrite=True.
    with client_for(sb) as client:
        again = client.pull_many("xero", "list-invoices", credentials=pairs, progress=False)
        with pytest.raises(ad.ExportError, match="overwrite=True"):
            again.to_parquet(url, storage_options=s3)
        again.to_parquet(url, overwrite=True, storage_options=s3)
    assert "_SUCCESS" in listing(s3, "invoices")


def test_pull_many_to_one_object(sb, s3):
    with client_for(sb) as client:
        many = client.pull_many("box", "list-files", credentials="all", progress=False)
        parquet = many.to_parquet(f"s3://{BUCKET}/files/all.parquet", storage_options=s3)
        csv = many.to_file(f"s3://{BUCKET}/files/all.csv", storage_options=s3)
    assert len(pd.read_parquet(parquet, storage_options=s3)) == 2 * RECORDS
    assert pd.read_csv(csv, storage_options=s3)["_credential_id"].nunique() == 2
    assert listing(s3, "files") == ["all.csv", "all.parquet"]


def relative_files(options: dict[str, Any], prefix: str) -> list[str]:
    fs = fsspec.filesystem("s3", skip_instance_cache=True, use_listings_cache=False, **options)
    root = f"{BUCKET}/{prefix}"
    return sorted(path[len(root) + 1 :] for path in fs.find(root))


STAGE = "properties.lifecyclestage"


def test_a_partitioned_pull_to_s3_is_a_hive_dataset_every_reader_reads(sb, s3, cache, tmp_path):
    url = f"s3://{BUCKET}/partitioned/contacts"
    with client_for(sb) as client:
        expected = contacts(client, sb).to_arrow()
        written = contacts(client, sb).to_parquet(url, partition_cols=[STAGE], storage_options=s3)
    assert written == url
    stages = sorted(set(expected.column(STAGE).to_pylist()))
    files = [f"{STAGE}={stage}/part-0.parquet" for stage in stages]
    assert relative_files(s3, "partitioned/contacts") == [
        "_SUCCESS",
        "_alloy_manifest.json",
        *files,
    ]
    fs = fsspec.filesystem("s3", skip_instance_cache=True, **s3)
    manifest = json.loads(fs.cat(f"{BUCKET}/partitioned/contacts/_alloy_manifest.json"))
    assert (manifest["files"], manifest["row_count"]) == (files, RECORDS)
    by_id = dict(
        zip(expected.column("id").to_pylist(), expected.column(STAGE).to_pylist(), strict=True)
    )
    frame = pd.read_parquet(url, storage_options=s3)
    assert dict(zip(frame["id"], frame[STAGE].astype(str), strict=True)) == by_id
    table = pq.read_table(f"{BUCKET}/partitioned/contacts", filesystem=fs)
    assert sorted(table.column("id").to_pylist()) == sorted(by_id)
    connection = duckdb.connect()
    connection.register_filesystem(fs)
    counted = connection.sql(
        f"select \"{STAGE}\", count(*) from read_parquet('{url}/**/*.parquet', "
        "hive_partitioning=true) group by 1 order by 1"
    ).fetchall()
    column = expected.column(STAGE).to_pylist()
    assert counted == [(stage, column.count(stage)) for stage in stages]
    assert ad.read_metadata(url, storage_options=s3)["connector"] == "hubspot"
    assert not any(cache.rglob("*.parquet"))  # nothing left staged


def test_a_partitioned_dataset_is_replaced_only_whole_and_with_success_last(sb, s3):
    prefix = "partitioned/replaced"
    url = f"s3://{BUCKET}/{prefix}"
    with client_for(sb) as client:
        contacts(client, sb).to_parquet(url, partition_cols=[STAGE], storage_options=s3)
        old = relative_files(s3, prefix)
        before = sb.request_count
        with pytest.raises(ad.ExportError, match="overwrite=True") as caught:
            contacts(client, sb).to_parquet(url, partition_cols=[STAGE], storage_options=s3)
        assert sb.request_count == before  # refused before anything is fetched
        assert SECRET not in str(caught.value)
        # A reader polls the prefix while a dataset of about 100 files replaces the old one.
        seen: list[list[str]] = []
        stop = threading.Event()

        def watch() -> None:
            while not stop.is_set():
                seen.append(relative_files(s3, prefix))

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            contacts(client, sb, max_records=100).to_parquet(
                url,
                partition_cols=["properties.external_id"],
                overwrite=True,
                storage_options=s3,
            )
        finally:
            stop.set()
            watcher.join()
    new = relative_files(s3, prefix)
    assert len([name for name in new if name.endswith(".parquet")]) == 100
    seen.append(new)
    staged_beside_the_old = False
    for files in seen:
        temporary = [name for name in files if name.startswith("_temporary/")]
        published = [name for name in files if name not in temporary]
        if "_SUCCESS" in files:
            # Whenever _SUCCESS is there, the prefix holds exactly one whole dataset (readers
            # skip _temporary/); the new one is marked only once _temporary/ is gone.
            assert published in (old, new)
            assert published == old or not temporary
            staged_beside_the_old |= published == old and bool(temporary)
    # The new files went up under _temporary/ while the old dataset was still published.
    assert staged_beside_the_old
    frame = pd.read_parquet(url, storage_options=s3)
    assert len(frame) == 100 and STAGE in frame.columns


def test_a_partitioned_export_whose_upload_fails_keeps_the_old_dataset_and_resumes(sb, cache):
    server, endpoint = start_moto()
    prefix = "partitioned/interrupted"
    url = f"s3://{BUCKET}/{prefix}"
    options = options_for(endpoint)
    fsspec.filesystem("s3", skip_instance_cache=True, **options).makedirs(BUCKET, exist_ok=True)

    def stop_server_at_the_end(update: ProgressUpdate) -> None:
        if update.done:
            server.stop()

    with client_for(sb) as client:
        contacts(client, sb, max_records=50).to_parquet(
            url, partition_cols=[STAGE], overwrite=True, storage_options=options
        )
        with pytest.raises(ad.ExportError, match="resume=True") as caught:
            contacts(client, sb, progress=stop_server_at_the_end).to_parquet(
                url, partition_cols=[STAGE], overwrite=True, storage_options=options
            )
        assert SECRET not in str(caught.value)
        server, endpoint = start_moto()  # moto keeps its objects in the process
        try:
            options = options_for(endpoint)
            assert "_SUCCESS" in relative_files(options, prefix)
            assert len(pd.read_parquet(url, storage_options=options)) == 50
            resumed = contacts(client, sb)
            resumed.to_parquet(
                url, partition_cols=[STAGE], overwrite=True, resume=True, storage_options=options
            )
            assert (resumed.stats.requests, resumed.stats.records) == (0, RECORDS)
            assert len(pd.read_parquet(url, storage_options=options)) == RECORDS
            assert "_SUCCESS" in relative_files(options, prefix)
            assert not any(
                name.startswith("_temporary") for name in relative_files(options, prefix)
            )
        finally:
            server.stop()
    assert not any(cache.rglob("*.parquet"))


def test_a_partitioned_dataset_is_not_written_over_an_object(sb, s3):
    url = f"s3://{BUCKET}/partitioned/an-object"
    fsspec.filesystem("s3", skip_instance_cache=True, **s3).pipe_file(url, b"not a prefix")
    with client_for(sb) as client, pytest.raises(ad.ExportError, match="is an object"):
        contacts(client, sb).to_parquet(
            url, partition_cols=[STAGE], overwrite=True, storage_options=s3
        )


def test_file_urls_are_local_paths(sb, tmp_path):
    url = (tmp_path / "contacts.parquet").as_uri()
    with client_for(sb) as client:
        written = contacts(client, sb).to_parquet(url)
        dataset = client.pull_many(
            "hubspot", "list-contacts", credentials="all", progress=False
        ).to_parquet((tmp_path / "many").as_uri() + "/")
    assert written == tmp_path / "contacts.parquet"
    assert int(ad.read_metadata(url)["row_count"]) == RECORDS
    assert dataset == tmp_path / "many"
    assert (tmp_path / "many" / "_SUCCESS").exists()
    assert pq.read_table(tmp_path / "many").num_rows == 2 * RECORDS


def test_resume_after_an_interrupted_pull(sb, s3, cache):
    url = f"s3://{BUCKET}/resumed/contacts.parquet"

    def fail_after_two_pages(update: ProgressUpdate) -> None:
        if update.pages == 2 and not update.done:
            sb.inject_fault("500_html", count=1, path_contains="list-contacts/execute")

    with client_for(sb) as client:
        failing = contacts(client, sb, page_size=50, progress=fail_after_two_pages)
        with pytest.raises(ad.ServerError):
            failing.to_parquet(url, storage_options=s3)
        assert listing(s3, "resumed") == []
        assert list(cache.rglob("*.alloy-checkpoint"))  # kept locally, keyed by the URL
        resumed = contacts(client, sb, page_size=50)
        resumed.to_parquet(url, resume=True, storage_options=s3)
    assert resumed.stats.requests < RECORDS // 50  # the saved pages were not fetched again
    assert pd.read_parquet(url, storage_options=s3)["id"].is_unique
    assert len(pd.read_parquet(url, storage_options=s3)) == RECORDS


def test_resume_after_an_interrupted_upload(sb, cache):
    # A server of its own, stopped once every page is in: the upload fails, the file is kept.
    # (moto keeps its buckets in the process, so the bucket is there on every server.)
    server, endpoint = start_moto()
    url = f"s3://{BUCKET}/uploaded.parquet"
    options = options_for(endpoint)
    fsspec.filesystem("s3", skip_instance_cache=True, **options).makedirs(BUCKET, exist_ok=True)

    def stop_server_at_the_end(update: ProgressUpdate) -> None:
        if update.done:
            server.stop()

    with client_for(sb) as client:
        with pytest.raises(ad.ExportError, match="resume=True") as caught:
            contacts(client, sb, progress=stop_server_at_the_end).to_parquet(
                url, storage_options=options
            )
        assert SECRET not in str(caught.value)
        staged = [path for path in cache.rglob("*.parquet") if path.is_file()]
        assert len(staged) == 1  # the complete file, kept locally
        server, endpoint = start_moto()
        try:
            options = options_for(endpoint)
            fsspec.filesystem("s3", skip_instance_cache=True, **options).makedirs(
                BUCKET, exist_ok=True
            )
            resumed = contacts(client, sb)
            assert resumed.to_parquet(url, resume=True, storage_options=options) == url
            # Uploaded without fetching a page again (the action's description is read, once).
            assert (resumed.stats.requests, resumed.stats.records) == (0, RECORDS)
            assert int(ad.read_metadata(url, storage_options=options)["row_count"]) == RECORDS
        finally:
            server.stop()
    assert not any(cache.rglob("*.parquet"))


BLOCKED = """
import sys
for name in {blocked!r}:
    sys.modules[name] = None  # import fails as if the package were not installed
import alloy_data as ad
client = ad.AlloyClient(sys.argv[1], base_url=sys.argv[2], user_id=sys.argv[3])
pull = client.pull("hubspot", "list-contacts", credential_id=sys.argv[4], progress=False)
try:
    pull.to_parquet("s3://bucket/contacts.parquet")
except ad.ConfigurationError as error:
    print("error:", error)
print("local:", pull.to_parquet(sys.argv[5]))
print("fsspec loaded:", "fsspec" in sys.modules and sys.modules["fsspec"] is not None)
"""


@pytest.mark.parametrize("blocked", [["fsspec"], ["s3fs"]])
def test_a_missing_extra_says_what_to_install(sb, tmp_path, blocked):
    script = textwrap.dedent(BLOCKED.format(blocked=blocked))
    url = (tmp_path / "local.parquet").as_uri()
    result = subprocess.run(
        [sys.executable, "-c", script, sb.api_key, sb.url, sb.fixtures.user_id,
         sb.fixtures.credentials["hubspot"], url],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, CACHE_DIR_ENV: str(tmp_path / "cache")},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "pip install 'alloy-data[s3]'" in result.stdout
    assert f"local: {tmp_path / 'local.parquet'}" in result.stdout
    if blocked == ["fsspec"]:
        assert "fsspec loaded: False" in result.stdout  # file:// needs no fsspec
    assert int(ad.read_metadata(tmp_path / "local.parquet")["row_count"]) == RECORDS


def test_an_incremental_merge_updates_an_object(s3, cache):
    url = f"s3://{BUCKET}/orders/merged.parquet"
    with serve(records={"shopify": 2_000}, seed=9) as shop, client_for(shop) as client:

        def orders() -> Any:
            return client.pull(
                "shopify",
                "list-orders",
                credential_id=shop.fixtures.credentials["shopify"],
                incremental=ad.Incremental("updated_at", primary_key="id"),
                progress=False,
            )

        first = orders()
        assert first.to_parquet(url, mode="merge", storage_options=s3) == url
        shop.advance_clock(86_400, updates=40, inserts=10)
        second = orders()
        second.to_parquet(url, mode="merge", storage_options=s3)
        assert second.stats.incremental == "filter"
        assert second.stats.records <= 52  # the changes, and records written in the mark's second
        expected = shop.expected_ids(
            "shopify", "list-orders", credential_id=shop.fixtures.credentials["shopify"]
        )
        frame = pd.read_parquet(url, storage_options=s3)
        assert sorted(frame["id"]) == sorted(expected)
        state = json.loads(ad.read_metadata(url, storage_options=s3)["incremental"])
        kept = datetime.fromisoformat(state["high_water_mark"].replace("Z", "+00:00"))
        assert kept == second.stats.high_water_mark
        assert second.stats.high_water_mark > first.stats.high_water_mark
    assert not any(cache.rglob("*.parquet"))  # the merged copy was uploaded and cleared


def test_pull_many_merges_each_credentials_object_from_its_own_mark(s3, cache):
    url = f"s3://{BUCKET}/merged-orders/"
    prefix = "merged-orders"
    incremental = ad.Incremental("updated_at", primary_key="id")
    published_while_running: list[bool] = []

    def look_once(update: ProgressUpdate) -> None:
        if not update.done and not published_while_running:
            published_while_running.append("_SUCCESS" in listing(s3, prefix))

    with (
        serve(tenants=3, tenant_records=[3_000, 1_000, 2_000], seed=3) as shop,
        client_for(shop) as client,
    ):

        def run(**options: Any) -> Any:
            many = client.pull_many(
                "shopify", "list-orders", credentials="all", incremental=incremental, **options
            )
            assert many.to_parquet(url, mode="merge", storage_options=s3) == url
            return many

        first = run(progress=False)
        assert "_SUCCESS" in listing(s3, prefix)
        shop.advance_clock(86_400, updates=0.01, inserts=0.01)
        second = run(progress=look_once)
        fresh = client.pull_many("shopify", "list-orders", credentials="all", progress=False)
        expected = fresh.to_arrow()
    # The dataset was unpublished while its objects were updated (the first look of each
    # worker that got there at once), and published again.
    assert published_while_running and not any(published_while_running)
    credentials = sorted(second.stats.per_credential)
    assert len(credentials) >= 3
    assert listing(s3, prefix) == [
        "_SUCCESS",
        "_alloy_manifest.json",
        *sorted(f"part-{credential}.parquet" for credential in credentials),
    ]
    # Each credential was updated from its own mark: a few pages, not the whole list again.
    assert second.stats.pages <= first.stats.pages / 4
    for credential in credentials:
        assert second.stats.per_credential[credential].incremental == "filter"
    keys = [("_credential_id", "ascending"), ("id", "ascending")]
    fs = fsspec.filesystem("s3", skip_instance_cache=True, use_listings_cache=False, **s3)
    merged = pq.read_table(f"{BUCKET}/{prefix}", filesystem=fs).sort_by(keys)
    expected = expected.sort_by(keys)
    assert merged.num_rows == expected.num_rows > 6_000  # inserts included
    for name in ("_credential_id", "id", "updated_at", "total_price"):
        assert merged.column(name).to_pylist() == expected.column(name).to_pylist(), name
    manifest = json.loads(fs.cat(f"{BUCKET}/{prefix}/_alloy_manifest.json"))
    marks = {entry["credential_id"]: entry["high_water_mark"] for entry in manifest["credentials"]}
    for credential in credentials:
        mark = second.stats.per_credential[credential].high_water_mark
        assert mark > first.stats.per_credential[credential].high_water_mark
        assert datetime.fromisoformat(marks[credential]) == mark
        part = f"s3://{BUCKET}/{prefix}/part-{credential}.parquet"
        state = json.loads(ad.read_metadata(part, storage_options=s3)["incremental"])
        assert datetime.fromisoformat(state["high_water_mark"].replace("Z", "+00:00")) == mark
    assert manifest["row_count"] == expected.num_rows
    assert not any(cache.rglob("*.parquet"))  # the merged copies were uploaded and cleared


def test_pull_many_merges_only_into_a_dataset(sb, s3):
    with client_for(sb) as client:
        many = client.pull_many(
            "shopify",
            "list-orders",
            credentials="all",
            incremental=ad.Incremental("updated_at", primary_key="id"),
            progress=False,
        )
        before = sb.request_count
        with pytest.raises(ad.ConfigurationError, match="one file per credential"):
            many.to_parquet(f"s3://{BUCKET}/orders.parquet", mode="merge", storage_options=s3)
        with pytest.raises(ad.ConfigurationError, match="Unknown mode"):
            many.to_parquet(f"s3://{BUCKET}/orders/", mode="upsert", storage_options=s3)  # type: ignore[arg-type]
        assert sb.request_count == before


@pytest.mark.parametrize(
    ("action", "options"),
    [
        pytest.param("list-contactz", {}, id="404-on-the-action"),
        pytest.param(
            "list-contacts",
            {"incremental": ad.Incremental(cursor_field="updated_at", primary_key="id")},
            id="merge-with-a-cursor-field-the-records-lack",
        ),
    ],
)
def test_a_failure_before_any_record_leaves_nothing_staged(sb, s3, cache, action, options):
    url = f"s3://{BUCKET}/contacts/never.parquet"
    with client_for(sb) as client:
        pull = client.pull(
            "hubspot",
            action,
            credential_id=sb.fixtures.credentials["hubspot"],
            progress=False,
            retries=0,
            **options,
        )
        with pytest.raises(ad.AlloyError) as caught:
            pull.to_parquet(url, storage_options=s3, mode="merge" if options else "replace")
    assert "resume=True" not in str(caught.value)
    assert not cache.exists() or not any(cache.rglob("*"))
    assert listing(s3, "contacts/never") == []
