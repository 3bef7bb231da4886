"""The local store of pulls, against the sandbox: served when young, refreshed when old (in full
or incrementally), resumed after a failure, listed, dropped, limited and queried with SQL, for
every paging convention and through every entry point."""

from __future__ import annotations

import datetime as dt
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

import alloy_data as ad
from alloy_data.errors import ConfigurationError, ServerError
from alloy_data.progress import ProgressUpdate
from alloy_data.sandbox import Sandbox, serve
from tests.integration._conventions import EVERY_CONVENTION

RECORDS = 400
PAGE_SIZE = 50
TENANT_RECORDS = [60, 90]


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with serve(
        port=0, seed=5, records=RECORDS, tenants=len(TENANT_RECORDS), tenant_records=TENANT_RECORDS
    ) as running:
        yield running


@pytest.fixture
def client(sb: Sandbox, tmp_path: Path) -> Iterator[ad.AlloyClient]:
    with ad.AlloyClient(
        sb.api_key, base_url=sb.url, user_id=sb.fixtures.user_id, store=tmp_path / "store"
    ) as client:
        yield client


def pull_of(client: ad.AlloyClient, sb: Sandbox, connector: str, action: str, **options: Any):
    options.setdefault("progress", False)
    options.setdefault("max_age", "1h")
    return client.pull(
        connector,
        action,
        credential_id=sb.fixtures.credentials[connector],
        page_size=PAGE_SIZE,
        **options,
    )


def ids(table: Any, field: str) -> list[Any]:
    return [str(value) for value in table.column(field).to_pylist()]


def expected(sb: Sandbox, connector: str, action: str) -> list[str]:
    credential = sb.fixtures.credentials[connector]
    return [str(i) for i in sb.expected_ids(connector, action, credential_id=credential)]


@pytest.mark.parametrize(("connector", "action", "key"), EVERY_CONVENTION)
def test_a_second_pull_is_served_from_the_store_without_a_request(
    client: ad.AlloyClient, sb: Sandbox, connector: str, action: str, key: str
) -> None:
    first = pull_of(client, sb, connector, action)
    table = first.to_arrow()
    assert ids(table, key) == expected(sb, connector, action)
    assert first.stats.refresh == "full"
    assert first.stats.requests > 0

    before = sb.request_count
    again = pull_of(client, sb, connector, action)  # a re-run cell: a new pull, the same rows
    served = again.to_arrow()
    assert sb.request_count == before
    assert again.stats.refresh == "from the store"
    assert again.stats.requests == 0
    assert served.equals(table)
    assert again.stats.fetched_at == client.store.stored(again.store_key()).fetched_at
    assert "served from the store" in str(again.stats)


def test_a_copy_older_than_max_age_is_refreshed_and_says_so(
    client: ad.AlloyClient, sb: Sandbox
) -> None:
    pull_of(client, sb, "box", "list-files").to_arrow()
    copy = client.store.copies()[0]
    # Make the copy an hour and a half old, as a later day's notebook would find it.
    old = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=90)).timestamp()
    os.utime(copy.path, (old, old))
    table = pq.read_table(copy.path)
    metadata = dict(table.schema.metadata)
    metadata[b"alloy_data"] = metadata[b"alloy_data"].replace(
        copy.fetched_at.strftime("%Y-%m-%dT%H:%M:%SZ").encode(),
        dt.datetime.fromtimestamp(old, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ").encode(),
    )
    pq.write_table(table.replace_schema_metadata(metadata), copy.path)
    assert client.store.copies()[0].age() > dt.timedelta(hours=1)

    before = sb.request_count
    pull = pull_of(client, sb, "box", "list-files")
    refreshed = pull.to_dataframe()
    assert sb.request_count > before
    assert pull.stats.refresh == "full"
    assert list(refreshed["id"].astype(str)) == expected(sb, "box", "list-files")
    assert client.store.copies()[0].age() < dt.timedelta(minutes=1)
    html = pull._repr_html_()
    assert "refreshed in full" in html


def test_max_age_zero_refreshes_every_time_through_the_store(
    client: ad.AlloyClient, sb: Sandbox
) -> None:
    for _ in range(2):
        pull = pull_of(client, sb, "stripe", "list-charges", max_age=0)
        before = sb.request_count
        pull.to_arrow()
        assert sb.request_count > before
        assert pull.stats.refresh == "full"
    assert len(client.store.copies()) == 1


def test_every_option_that_changes_the_rows_gets_its_own_copy(
    client: ad.AlloyClient, sb: Sandbox
) -> None:
    whole = pull_of(client, sb, "box", "list-files").to_arrow()
    cut = pull_of(client, sb, "box", "list-files", max_records=70)
    assert cut.to_arrow().num_rows == 70
    assert cut.stats.refresh == "full"  # not served the 400 rows of the other copy
    assert pull_of(client, sb, "box", "list-files").to_arrow().num_rows == whole.num_rows
    assert len(client.store.copies()) == 2


@pytest.fixture
def clock_sandbox() -> Iterator[Sandbox]:
    with serve(port=0, seed=21, records={"shopify": 2_000}) as running:
        yield running


def test_an_incremental_refresh_fetches_what_changed_and_keeps_exact_rows(
    clock_sandbox: Sandbox, tmp_path: Path
) -> None:
    sb = clock_sandbox
    with ad.AlloyClient(
        sb.api_key, base_url=sb.url, user_id=sb.fixtures.user_id, store=tmp_path
    ) as client:

        def orders() -> Any:
            return pull_of(
                client,
                sb,
                "shopify",
                "list-orders",
                max_age=0,
                incremental=ad.Incremental("updated_at", primary_key="id"),
            )

        first = orders()
        first.to_arrow()
        full_requests = first.stats.requests
        assert first.stats.refresh == "full"
        assert client.store.list()["mark"].notna().all()

        sb.advance_clock(3_600, updates=0.01, inserts=0)
        again = orders()
        table = again.to_arrow()
        assert again.stats.refresh == "incremental"
        assert again.stats.requests < full_requests
        assert sorted(ids(table, "id")) == sorted(expected(sb, "shopify", "list-orders"))
        # Each order is at its latest version: the same as a pull of everything now.
        fresh = client.pull(
            "shopify",
            "list-orders",
            credential_id=sb.fixtures.credentials["shopify"],
            progress=False,
        ).to_arrow()
        latest = dict(zip(ids(fresh, "id"), fresh.column("updated_at").to_pylist(), strict=True))
        got = dict(zip(ids(table, "id"), table.column("updated_at").to_pylist(), strict=True))
        assert got == latest


def test_a_refresh_stopped_by_a_failure_goes_on_at_its_next_page(
    client: ad.AlloyClient, sb: Sandbox
) -> None:
    def fail_after_four_pages(update: ProgressUpdate) -> None:
        if update.pages == 4 and not update.done:
            sb.inject_fault("500", count=1, path_contains="list-files")

    stopped = pull_of(
        client, sb, "box", "list-files", retries=0, concurrency=1, progress=fail_after_four_pages
    )
    with pytest.raises(ServerError):
        stopped.to_dataframe()  # a failure after the retries (none here)
    assert client.store.list().empty  # no half copy is ever listed or served

    before = sb.request_count
    again = pull_of(client, sb, "box", "list-files", concurrency=1)
    frame = again.to_dataframe()
    assert again.stats.refresh == "resumed"
    assert again.stats.pages_saved_before == 4
    # Pages 5 to 8 and the action's details, not pages 1 to 8 again.
    assert sb.request_count - before == 5
    assert list(frame["id"].astype(str)) == expected(sb, "box", "list-files")


@pytest.mark.parametrize(
    "sink",
    [
        "to_arrow",
        "to_dataframe",
        "to_parquet",
        "to_file_csv",
        "to_polars",
        "to_reader",
        "to_tables",
        "duckdb_stream",
    ],
)
def test_every_sink_is_served_from_the_store(
    client: ad.AlloyClient, sb: Sandbox, tmp_path: Path, sink: str
) -> None:
    pull_of(client, sb, "hubspot", "list-contacts").to_arrow()
    before = sb.request_count
    pull = pull_of(client, sb, "hubspot", "list-contacts")
    if sink == "to_arrow":
        got = ids(pull.to_arrow(), "id")
    elif sink == "to_dataframe":
        got = list(pull.to_dataframe()["id"].astype(str))
    elif sink == "to_parquet":
        got = ids(pq.read_table(pull.to_parquet(tmp_path / "c.parquet")), "id")
    elif sink == "to_file_csv":
        got = list(pd.read_csv(pull.to_file(tmp_path / "c.csv"))["id"].astype(str))
    elif sink == "to_polars":
        got = [str(v) for v in pull.to_polars()["id"].to_list()]
    elif sink == "to_reader":
        got = ids(pull.to_reader().read_all(), "id")
    elif sink == "to_tables":
        got = ids(next(iter(pull.to_tables().values())), "id")
    else:
        got = [str(row[0]) for row in duckdb.sql("select id from pull").fetchall()]
    assert sb.request_count == before
    assert got == expected(sb, "hubspot", "list-contacts")


def test_pull_many_keeps_a_copy_per_credential_and_sql_sees_them_all(
    client: ad.AlloyClient, sb: Sandbox
) -> None:
    many = client.pull_many(
        "stripe", "list-charges", credentials="all", max_age="1h", progress=False
    )
    frame = many.to_dataframe()
    copies = client.store.list()
    assert len(copies) == frame["_credential_id"].nunique() >= 3
    before = sb.request_count
    again = client.pull_many(
        "stripe", "list-charges", credentials="all", max_age="1h", progress=False
    ).to_dataframe()
    # Finding "all" credentials asks the API for users and credentials, never for a page.
    assert sb.request_count - before <= 1 + len(copies)
    pd.testing.assert_frame_equal(
        again.sort_values(["_credential_id", "id"], ignore_index=True),
        frame.sort_values(["_credential_id", "id"], ignore_index=True),
    )
    assert f"full: {len(copies)}" in str(many.stats)
    shown = client.pull_many(
        "stripe", "list-charges", credentials="all", max_age="1h", progress=False
    )
    shown.to_arrow()
    assert f"from the store: {len(copies)}" in str(shown.stats)
    assert "local store" in shown._repr_html_()
    counts = client.store.sql(
        "select _credential_id, count(*) as n from stripe.list_charges group by 1 order by 1"
    )
    want = frame.groupby("_credential_id").size().sort_index()
    assert list(counts["_credential_id"]) == list(want.index)
    assert list(counts["n"]) == list(want)


def test_list_drop_and_limits(client: ad.AlloyClient, sb: Sandbox) -> None:
    pull_of(client, sb, "box", "list-files").to_arrow()
    pull_of(client, sb, "stripe", "list-charges").to_arrow()
    pull_of(client, sb, "stripe", "list-charges", parameters={"created[gte]": 0}).to_arrow()
    listed = client.store.list()
    assert list(listed.columns[:9]) == [
        "connector",
        "action",
        "credential",
        "user",
        "parameters",
        "rows",
        "bytes",
        "fetched_at",
        "mark",
    ]
    assert sorted(listed["connector"]) == ["box", "stripe", "stripe"]
    assert (listed["rows"] == RECORDS).all()
    assert (listed["bytes"] > 0).all()
    assert str(listed["fetched_at"].dtype) == "datetime64[ns, UTC]" or "UTC" in str(
        listed["fetched_at"].dtype
    )

    total = int(listed["bytes"].sum())
    dropped = client.store.prune(max_bytes=total - 1)
    assert [copy.connector_id for copy in dropped] == ["box"]  # the oldest goes first
    assert sorted(client.store.list()["connector"]) == ["stripe", "stripe"]
    assert client.store.prune(older_than="1d") == []

    assert client.store.drop("stripe") == 2
    assert client.store.list().empty
    assert not (client.store.root / "stripe").exists()  # every file of it went
    pull_of(client, sb, "box", "list-files").to_arrow()
    assert client.store.drop("box", "list-files", "another-credential") == 0
    assert client.store.drop("box", "list-files", sb.fixtures.credentials["box"]) == 1
    assert client.store.list().empty
    with pytest.raises(ConfigurationError, match="name the action"):
        client.store.drop("box", credential_id="x")


def test_the_store_is_private_and_holds_no_key(client: ad.AlloyClient, sb: Sandbox) -> None:
    pull_of(client, sb, "stripe", "list-charges", parameters={"created[gte]": 86_400}).to_arrow()
    root = client.store.root
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    for path in root.rglob("*"):
        assert "86400" not in str(path)  # parameters enter only the digest of the name
        if path.is_file():
            assert sb.api_key.encode() not in path.read_bytes()


def test_without_a_store_max_age_says_how_to_get_one(sb: Sandbox) -> None:
    with ad.AlloyClient(sb.api_key, base_url=sb.url, store=False) as client:
        assert client.store is None
        pull = client.pull(
            "box",
            "list-files",
            credential_id=sb.fixtures.credentials["box"],
            max_age="1h",
            progress=False,
        )
        with pytest.raises(ConfigurationError, match="store"):
            pull.to_arrow()


def test_since_and_max_age_do_not_mix(client: ad.AlloyClient, sb: Sandbox) -> None:
    pull = pull_of(
        client, sb, "shopify", "list-orders", incremental=ad.Incremental("updated_at", "id")
    )
    with pytest.raises(ConfigurationError, match="since="):
        pull.to_arrow(since="2024-01-01")


def test_sql_names_the_views_when_a_query_fails(client: ad.AlloyClient, sb: Sandbox) -> None:
    pull_of(client, sb, "box", "list-files").to_arrow()
    with pytest.raises(ConfigurationError, match=r"box\.list_files"):
        client.store.sql("select * from nowhere.nothing")
    connection = client.store.duckdb()
    assert connection.execute("select count(*) from box.list_files").fetchone() == (RECORDS,)


# JupySQL's %sql, in an IPython shell of its own, on the store's DuckDB connection.
JUPYSQL = r"""
import json, os, sys
os.environ["PLOOMBER_STATS_ENABLED"] = "false"  # JupySQL sends no telemetry from the tests
from IPython.testing.globalipapp import start_ipython
import alloy_data as ad

shell = start_ipython()
shell.user_ns["conn"] = ad.AlloyClient("sk_not_used_by_sql_0000", store=sys.argv[1]).store.duckdb()
shell.run_line_magic("load_ext", "sql")
shell.run_line_magic("config", "SqlMagic.displaylimit = 0")
shell.run_line_magic("sql", "conn --alias store")
result = shell.run_line_magic(
    "sql", "select _credential_id, count(*) as n from box.list_files group by 1"
)
print("rows:", json.dumps(result.DataFrame().to_dict(orient="records")), flush=True)
"""


def test_jupysql_queries_the_store_s_duckdb_connection(client: ad.AlloyClient, sb: Sandbox) -> None:
    import json
    import subprocess
    import sys

    pull_of(client, sb, "box", "list-files").to_arrow()
    done = subprocess.run(
        [sys.executable, "-c", JUPYSQL, str(client.store.root)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert done.returncode == 0, done.stderr
    answer = [line for line in done.stdout.splitlines() if line.startswith("rows:")]
    assert answer, done.stdout
    rows = json.loads(answer[-1].removeprefix("rows:"))
    assert rows == [{"_credential_id": sb.fixtures.credentials["box"], "n": RECORDS}]


def test_a_view_holds_the_newest_copy_of_each_credential_and_parameters(
    client: ad.AlloyClient, sb: Sandbox
) -> None:
    pull_of(client, sb, "stripe", "list-charges", max_records=70).to_arrow()
    pull_of(client, sb, "stripe", "list-charges").to_arrow()  # the same parameters, newer
    pull_of(client, sb, "stripe", "list-charges", parameters={"created[gte]": 0}).to_arrow()
    counts = client.store.sql(
        "select _parameters, count(*) as n from stripe.list_charges group by 1 order by 1"
    )
    assert list(counts["n"]) == [RECORDS, RECORDS]


def test_a_stopped_refresh_with_another_page_size_starts_over_with_exact_rows(
    client: ad.AlloyClient, sb: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    def fail_after_two_pages(update: ProgressUpdate) -> None:
        if update.pages == 2 and not update.done:
            sb.inject_fault("500", count=1, path_contains="list-files")

    stopped = pull_of(
        client, sb, "box", "list-files", retries=0, concurrency=1, progress=fail_after_two_pages
    )
    with pytest.raises(ServerError):
        stopped.to_arrow()
    other = client.pull(
        "box",
        "list-files",
        credential_id=sb.fixtures.credentials["box"],
        page_size=80,
        max_age="1h",
        progress=False,
    )
    table = other.to_arrow()
    assert other.stats.refresh == "full"
    assert "Starting the refresh" in caplog.text
    assert ids(table, "id") == expected(sb, "box", "list-files")
