"""pull.to_parquet / to_file against the sandbox: round trips, provenance, resume after a failure
or a killed process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import alloy_data as ad
from alloy_data.http import RetryPolicy
from alloy_data.progress import ProgressUpdate
from alloy_data.sandbox import Sandbox, serve


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with serve(port=0, seed=8, records={"hubspot": 1_000, "shopify": 600, "box": 900}) as running:
        yield running


def client_for(sb: Sandbox) -> ad.AlloyClient:
    client = ad.AlloyClient(sb.api_key, base_url=sb.url, user_id=sb.fixtures.user_id)
    client._transport.retry_policy = RetryPolicy(max_retries=0)
    return client


def make_pull(client: ad.AlloyClient, sb: Sandbox, connector: str, action: str, **options):
    options.setdefault("progress", False)
    options.setdefault("retries", 0)  # an injected failure must end the pull
    return client.pull(
        connector, action, credential_id=sb.fixtures.credentials[connector], **options
    )


@pytest.mark.parametrize(
    ("connector", "action"),
    [("shopify", "list-orders"), ("hubspot", "list-contacts")],
    ids=["nested-lists-timestamps", "drift"],
)
def test_parquet_equals_the_dataframe_in_every_engine(sb, tmp_path, connector, action):
    path = tmp_path / "out.parquet"
    with client_for(sb) as client:
        expected = make_pull(client, sb, connector, action, page_size=100).to_arrow()
        written = make_pull(client, sb, connector, action, page_size=100).to_parquet(path)
    assert written == path
    table = pq.read_table(path)
    assert table.schema.remove_metadata().equals(expected.schema.remove_metadata())
    assert table.equals(expected.replace_schema_metadata(table.schema.metadata))
    assert len(pd.read_parquet(path)) == expected.num_rows
    ids = duckdb.sql(f"select id from read_parquet('{path}')").fetchall()
    assert [row[0] for row in ids] == expected.column("id").to_pylist()
    assert pl.read_parquet(path).height == expected.num_rows


def test_provenance_is_in_the_footer_without_secrets(sb, tmp_path):
    path = tmp_path / "contacts.parquet"
    with client_for(sb) as client:
        make_pull(client, sb, "hubspot", "list-contacts", page_size=100).to_parquet(path)
    meta = ad.read_metadata(path)
    assert meta["connector"] == "hubspot" and meta["action"] == "list-contacts"
    assert json.loads(meta["parameters"]) == {}  # page sizes are the paginator's, not the caller's
    assert meta["credential_id"] == sb.fixtures.credentials["hubspot"]
    assert meta["user_id"] == sb.fixtures.user_id
    assert meta["base_url"] == sb.url
    assert meta["paginator"] == "cursor"
    assert int(meta["row_count"]) == 1_000
    assert meta["alloy_data_version"] == ad.__version__
    assert meta["pulled_at"].endswith("Z")
    footer = json.dumps(
        {k.decode(): v.decode(errors="replace") for k, v in pq.read_metadata(path).metadata.items()}
    )
    assert sb.api_key not in footer


def interrupt_after(sb: Sandbox, pages: int):
    def on_progress(update: ProgressUpdate) -> None:
        if update.pages == pages and not update.done:
            sb.inject_fault("500_html", count=1, path_contains="list-contacts/execute")

    return on_progress


def test_resume_after_a_failure_equals_an_uninterrupted_pull(sb, tmp_path):
    path = tmp_path / "contacts.parquet"
    reference_path = tmp_path / "reference.parquet"
    with client_for(sb) as client:
        reference = make_pull(client, sb, "hubspot", "list-contacts", page_size=50)
        reference.to_parquet(reference_path)
        # Fails at page 3, 4 or 5 (fetching runs ahead of converting): before record 300,
        # where external_id turns from numbers to text.
        failing = make_pull(
            client, sb, "hubspot", "list-contacts", page_size=50, progress=interrupt_after(sb, 2)
        )
        with pytest.raises(ad.ServerError):
            failing.to_parquet(path)
        assert not path.exists()
        checkpoint = path.with_name(path.name + ".alloy-checkpoint")
        assert checkpoint.is_dir()
        resumed = make_pull(client, sb, "hubspot", "list-contacts", page_size=50)
        resumed.to_parquet(path, resume=True)
    assert not checkpoint.exists()
    table = pq.read_table(path)
    assert table.equals(
        pq.read_table(reference_path).replace_schema_metadata(table.schema.metadata)
    )
    assert resumed.stats.records == 1_000
    assert [str(d) for d in resumed.stats.drift] == [str(d) for d in reference.stats.drift]
    assert any("external_id" in str(d) for d in reference.stats.drift)


def test_resume_after_a_failure_in_a_later_chunk(tmp_path):
    # Pages are converted and saved about 2,000 records at a time: a failure after page 30 of
    # 100 records leaves one saved chunk, and the pages after it fetched before the failure.
    path = tmp_path / "contacts.parquet"
    with serve(port=0, seed=8, records={"hubspot": 5_000}) as big, client_for(big) as client:
        reference = make_pull(client, big, "hubspot", "list-contacts", page_size=100)
        expected = reference.to_arrow()
        stop = interrupt_after(big, 30)
        failing = make_pull(client, big, "hubspot", "list-contacts", page_size=100, progress=stop)
        with pytest.raises(ad.ServerError) as caught:
            failing.to_parquet(path)
        kept = int(" ".join(caught.value.__notes__).split(" records fetched")[0].split()[-1])
        assert kept == 3_000
        resumed = make_pull(client, big, "hubspot", "list-contacts", page_size=100)
        resumed.to_parquet(path, resume=True)
    table = pq.read_table(path)
    assert table.equals(expected.replace_schema_metadata(table.schema.metadata))
    assert (resumed.stats.pages, resumed.stats.records) == (50, 5_000)
    assert resumed.stats.requests == 20  # pages 31 to 50: nothing saved was fetched again


def test_without_resume_a_stale_checkpoint_is_discarded(sb, tmp_path):
    path = tmp_path / "contacts.parquet"
    with client_for(sb) as client:
        failing = make_pull(
            client, sb, "hubspot", "list-contacts", page_size=100, progress=interrupt_after(sb, 3)
        )
        with pytest.raises(ad.ServerError):
            failing.to_parquet(path)
        fresh = make_pull(client, sb, "hubspot", "list-contacts", page_size=100)
        fresh.to_parquet(path)
    assert fresh.stats.pages == 10 and pq.read_metadata(path).num_rows == 1_000


KILLED_PULL = textwrap.dedent(
    """
    import sys, time
    import alloy_data as ad
    url, key, user, credential, path = sys.argv[1:6]

    def slow(update):
        print(update.pages, flush=True)
        time.sleep(0.2)

    with ad.AlloyClient(key, base_url=url, user_id=user) as client:
        pull = client.pull("hubspot", "list-contacts", credential_id=credential, page_size=50,
                           progress=slow)
        pull.to_parquet(path)
    """
)


def test_resume_after_the_process_was_killed(sb, tmp_path):
    path = tmp_path / "killed.parquet"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            KILLED_PULL,
            sb.url,
            sb.api_key,
            sb.fixtures.user_id,
            sb.fixtures.credentials["hubspot"],
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        for line in process.stdout:
            if line.strip() == "5":
                break
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
        process.stdout.close()
    assert not path.exists()
    with client_for(sb) as client:
        resumed = make_pull(client, sb, "hubspot", "list-contacts", page_size=50)
        resumed.to_parquet(path, resume=True)
        expected = make_pull(client, sb, "hubspot", "list-contacts", page_size=50).to_arrow()
    table = pq.read_table(path)
    assert table.column("id").to_pylist() == expected.column("id").to_pylist()
    assert table.num_rows == 1_000


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_to_file_by_suffix(sb, tmp_path, suffix):
    path = tmp_path / f"files{suffix}"
    with client_for(sb) as client:
        make_pull(client, sb, "box", "list-files", page_size=200).to_file(path)
    frame = pd.read_csv(path) if suffix == ".csv" else pd.read_json(path, lines=True)
    assert len(frame) == 900 and frame["id"].is_unique


def test_partitioned_dataset(sb, tmp_path):
    path = tmp_path / "orders"
    with client_for(sb) as client:
        pull = make_pull(client, sb, "shopify", "list-orders")
        frame = pull.to_dataframe()
        column = "financial_status" if "financial_status" in frame.columns else frame.columns[1]
        pull.to_parquet(path, partition_cols=[column])
    assert path.is_dir()
    dataset = pq.ParquetDataset(path)
    assert dataset.read().num_rows == len(frame)
    assert ad.read_metadata(path)["connector"] == "shopify"


def test_overwrite_is_refused_with_advice(sb, tmp_path):
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"a": [1]}), path)
    with client_for(sb) as client, pytest.raises(ad.ExportError, match="overwrite=True"):
        make_pull(client, sb, "box", "list-files").to_parquet(path)
    assert pq.read_table(path).column("a").to_pylist() == [1]
