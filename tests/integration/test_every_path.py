"""Every paging convention of the sandbox through every path a pull can take.

For each of the seven conventions: ``to_arrow``, ``to_parquet``, an export stopped by a failure
and finished with ``resume=True``, ``pull_many`` to a directory, ``dask.read_pull`` on worker
processes, and, where the app can filter by time, an incremental merge. The ids are the ones
the sandbox serves, exactly, and the columns agree from one path to the next.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import alloy_data as ad
from alloy_data.http import RetryPolicy
from alloy_data.progress import ProgressUpdate
from alloy_data.sandbox import Sandbox, serve
from tests.integration._conventions import EVERY_CONVENTION

RECORDS = 600
PAGE_SIZE = 40
FAIL_AFTER = 300  # records fetched before the injected failure
TENANT_RECORDS = [90, 170]


#: The apps whose list action filters by a time (the others are refreshed another way).
FILTERING = [
    pytest.param("shopify", "list-orders", "id", "updated_at", id="relay"),
    pytest.param("stripe", "list-charges", "id", "created", id="last-id"),
]


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with serve(
        port=0, seed=11, records=RECORDS, tenants=len(TENANT_RECORDS), tenant_records=TENANT_RECORDS
    ) as running:
        yield running


@pytest.fixture
def client(sb: Sandbox) -> Iterator[ad.AlloyClient]:
    with ad.AlloyClient(sb.api_key, base_url=sb.url, user_id=sb.fixtures.user_id) as client:
        yield client


def pull_of(client: ad.AlloyClient, sb: Sandbox, connector: str, action: str, **options: Any):
    options.setdefault("progress", False)
    return client.pull(
        connector,
        action,
        credential_id=sb.fixtures.credentials[connector],
        page_size=PAGE_SIZE,
        **options,
    )


def expected_ids(sb: Sandbox, connector: str, action: str, credential_id: str | None = None):
    credential = credential_id or sb.fixtures.credentials[connector]
    return sb.expected_ids(connector, action, credential_id=credential)


def columns(schema: pa.Schema) -> dict[str, pa.DataType]:
    return {field.name: field.type for field in schema}


def fail_once_after(sb: Sandbox, action: str, records: int) -> Callable[[ProgressUpdate], None]:
    """A progress callable that makes the next request fail once ``records`` were fetched."""
    failed: list[bool] = []

    def on_progress(update: ProgressUpdate) -> None:
        if update.records >= records and not failed and not update.done:
            failed.append(True)
            sb.inject_fault("500_html", count=1, path_contains=f"{action}/execute")

    return on_progress


@pytest.mark.parametrize(("connector", "action", "key"), EVERY_CONVENTION)
def test_one_credential_through_every_sink(
    sb: Sandbox, client: ad.AlloyClient, tmp_path: Path, connector: str, action: str, key: str
) -> None:
    expected = expected_ids(sb, connector, action)
    assert len(expected) == RECORDS
    table = pull_of(client, sb, connector, action).to_arrow()
    assert table.column(key).to_pylist() == expected

    exported = pull_of(client, sb, connector, action).to_parquet(tmp_path / "whole.parquet")
    written = pq.read_table(exported)
    assert written.column(key).to_pylist() == expected
    assert columns(written.schema) == columns(table.schema)

    # Stopped by a failure part-way, with nothing retried, then finished.
    path = tmp_path / "resumed.parquet"
    failing = pull_of(
        client, sb, connector, action, retries=0, progress=fail_once_after(sb, action, FAIL_AFTER)
    )
    with pytest.raises(ad.ServerError) as caught:
        failing.to_parquet(path)
    assert "resume=True" in " ".join(getattr(caught.value, "__notes__", []))
    assert not path.exists()
    resumed = pull_of(client, sb, connector, action)
    resumed.to_parquet(path, resume=True)
    finished = pq.read_table(path)
    assert finished.column(key).to_pylist() == expected
    assert columns(finished.schema) == columns(table.schema)
    assert resumed.stats.records == RECORDS


@pytest.mark.parametrize(("connector", "action", "key"), EVERY_CONVENTION)
def test_many_credentials_to_a_directory_and_in_memory_agree(
    sb: Sandbox, client: ad.AlloyClient, tmp_path: Path, connector: str, action: str, key: str
) -> None:
    tenants = [(t.user_id, t.credentials[connector]) for t in sb.fixtures.tenants]
    many = client.pull_many(
        connector, action, credentials=tenants, page_size=PAGE_SIZE, progress=False
    )
    table = many.to_arrow()
    directory = many.to_parquet(tmp_path / "dataset")
    assert (Path(directory) / "_SUCCESS").exists()
    unified = columns(table.schema)
    for user_id, credential_id in tenants:
        expected = expected_ids(sb, connector, action, credential_id)
        rows = table.filter(pa.compute.equal(table.column("_credential_id"), credential_id))
        assert rows.column(key).to_pylist() == expected
        assert set(rows.column("_user_id").to_pylist()) == {user_id}
        part = next(Path(directory).glob(f"part-{credential_id}*.parquet"))
        written = pq.read_table(part)
        assert written.column(key).to_pylist() == expected
        # Each credential's file has its own columns, each of the dataset's type.
        for name, kind in columns(written.schema).items():
            assert name in unified, name
            assert kind == unified[name] or pa.types.is_null(kind), name


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
    root = Path(ad.__file__).resolve().parents[1]
    path = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p)
    with (
        distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
            # The scheduler's HTTP server on a free port: 8787 may be another cluster's.
            scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
            env={"PYTHONPATH": path},
        ) as cluster,
        distributed.Client(cluster) as dask,
    ):
        yield dask


@pytest.mark.parametrize(("connector", "action", "key"), EVERY_CONVENTION)
def test_read_pull_on_worker_processes_gives_what_pull_many_gives(
    sb: Sandbox, client: ad.AlloyClient, dask_client: Any, connector: str, action: str, key: str
) -> None:
    from alloy_data import dask as alloy_dask

    tenants = [(t.user_id, t.credentials[connector]) for t in sb.fixtures.tenants]
    local = client.pull_many(
        connector, action, credentials=tenants, page_size=PAGE_SIZE, progress=False
    ).to_dataframe()
    frame = alloy_dask.read_pull(
        client, connector, action, credentials=tenants, page_size=PAGE_SIZE, progress=False
    ).compute()
    assert list(frame.columns) == list(local.columns)
    assert list(frame.dtypes) == list(local.dtypes)
    for _, credential_id in tenants:
        expected = expected_ids(sb, connector, action, credential_id)
        assert frame[frame["_credential_id"] == credential_id][key].tolist() == expected


@pytest.mark.parametrize("shaped", [False, True], ids=["every-column", "columns-struct"])
@pytest.mark.parametrize(("connector", "action", "key", "cursor"), FILTERING)
def test_an_incremental_merge_equals_a_fresh_pull(
    tmp_path: Path, connector: str, action: str, key: str, cursor: str, shaped: bool
) -> None:
    shape: dict[str, Any] = (
        {"columns": [cursor, "currency", key], "flatten": "struct"} if shaped else {}
    )
    # A sandbox of its own: its clock moves.
    with (
        serve(port=0, seed=12, records=RECORDS) as sb,
        ad.AlloyClient(sb.api_key, base_url=sb.url, user_id=sb.fixtures.user_id) as client,
    ):
        client._transport.retry_policy = RetryPolicy(max_retries=2, backoff_base=0.01)
        incremental = ad.Incremental(cursor_field=cursor, primary_key=key)
        path = tmp_path / "merged.parquet"
        first = pull_of(client, sb, connector, action, incremental=incremental, **shape)
        first.to_parquet(path, mode="merge")
        sb.advance_clock(3_600, updates=0.05, inserts=0.05)
        refresh = pull_of(client, sb, connector, action, incremental=incremental, **shape)
        refresh.to_parquet(path, mode="merge")
        assert refresh.stats.incremental == "filter"
        assert refresh.stats.pages < first.stats.pages
        fresh = pull_of(client, sb, connector, action, **shape).to_arrow()
        expected = expected_ids(sb, connector, action)
    merged = pq.read_table(path)
    if shaped:
        assert merged.column_names == shape["columns"]
    assert len(expected) > RECORDS  # records were inserted
    assert sorted(merged.column(key).to_pylist()) == sorted(expected)
    by_key = {row[key]: row for row in merged.to_pylist()}
    for row in fresh.to_pylist():
        assert by_key[row[key]] == row


def chosen_columns(table: pa.Table, key: str) -> list[str]:
    """The key, a nested path (as its top object's dotted field) and a top-level column,
    in an order of their own."""
    nested = next((name for name in table.column_names if "." in name), None)
    plain = next(name for name in reversed(table.column_names) if "." not in name and name != key)
    return [plain, *([nested] if nested else []), key]


@pytest.mark.parametrize(("connector", "action", "key"), EVERY_CONVENTION)
def test_columns_and_flatten_through_every_sink(
    sb: Sandbox, client: ad.AlloyClient, tmp_path: Path, connector: str, action: str, key: str
) -> None:
    import duckdb

    expected = expected_ids(sb, connector, action)
    full = pull_of(client, sb, connector, action).to_arrow()
    chosen = chosen_columns(full, key)
    table = pull_of(client, sb, connector, action, columns=chosen).to_arrow()
    assert table.column_names == chosen
    assert table.equals(full.select(chosen))

    structs = pull_of(client, sb, connector, action, columns=chosen, flatten="struct")
    exported = structs.to_parquet(tmp_path / "structs.parquet")
    read = duckdb.sql(f"select * from read_parquet('{exported}')").to_arrow_table()
    assert read.column(key).to_pylist() == expected
    top = list(dict.fromkeys(name.split(".")[0] for name in chosen))
    assert read.column_names == top

    # Stopped part-way, then finished with resume=True: the same columns, every record.
    path = tmp_path / "resumed.parquet"
    failing = pull_of(
        client,
        sb,
        connector,
        action,
        columns=chosen,
        retries=0,
        progress=fail_once_after(sb, action, FAIL_AFTER),
    )
    with pytest.raises(ad.ServerError):
        failing.to_parquet(path)
    pull_of(client, sb, connector, action, columns=chosen).to_parquet(path, resume=True)
    assert pq.read_table(path).equals(table)


@pytest.mark.parametrize(("connector", "action", "key"), EVERY_CONVENTION)
def test_child_tables_of_many_credentials_join_back_exactly(
    sb: Sandbox, client: ad.AlloyClient, tmp_path: Path, connector: str, action: str, key: str
) -> None:
    import duckdb

    tenants = [(t.user_id, t.credentials[connector]) for t in sb.fixtures.tenants]
    many = client.pull_many(
        connector, action, credentials=tenants, page_size=PAGE_SIZE, progress=False
    )
    table = many.to_arrow()
    tables = many.to_tables()
    name = action.removeprefix("list-")
    parent = tables[name]
    assert parent.num_rows == table.num_rows
    lists = [f.name for f in table.schema if pa.types.is_list(f.type)]
    objects = [n for n in lists if pa.types.is_struct(table.schema.field(n).type.value_type)]
    assert sorted(tables) == sorted([name, *(f"{name}__{n.replace('.', '__')}" for n in objects)])
    directory = many.to_parquet(tmp_path / "tables", tables=True)
    # Columns chosen: each credential's file streams only those, then the tags.
    slim = client.pull_many(
        connector, action, credentials=tenants, page_size=PAGE_SIZE, progress=False, columns=[key]
    ).to_parquet(tmp_path / "slim")
    written = pq.read_table(slim)
    assert written.num_rows == table.num_rows
    assert sorted(written.column_names) == sorted([key, "_user_id", "_credential_id"])
    # The record's id, else (an id field named otherwise, such as Xero's InvoiceID) the row.
    key = key if key in ("id", "Id") else "_row"
    assert key in parent.column_names
    for column in objects:
        child_name = f"{name}__{column.replace('.', '__')}"
        items = sum(len(v or []) for v in table.column(column).to_pylist())
        # Read back from the datasets written, and joined on the parent's key and tags.
        joined = duckdb.sql(
            f"select count(*), count(distinct (c._credential_id, c._parent_{key}, c._position)) "
            f"from read_parquet('{directory}/{child_name}/*.parquet') c "
            f"join read_parquet('{directory}/{name}/*.parquet') p "
            f"on p.{key} = c._parent_{key} and p._credential_id = c._credential_id"
        ).fetchall()
        assert joined == [(items, items)], column
        assert tables[child_name].num_rows == items


@pytest.mark.parametrize(("connector", "action", "key"), EVERY_CONVENTION[:2])
def test_read_pull_with_columns_and_flatten_gives_what_pull_many_gives(
    sb: Sandbox, client: ad.AlloyClient, dask_client: Any, connector: str, action: str, key: str
) -> None:
    from alloy_data import dask as alloy_dask

    tenants = [(t.user_id, t.credentials[connector]) for t in sb.fixtures.tenants]
    full = pull_of(client, sb, connector, action).to_arrow()
    shape = {"columns": chosen_columns(full, key), "flatten": "json", "progress": False}
    local = client.pull_many(
        connector, action, credentials=tenants, page_size=PAGE_SIZE, **shape
    ).to_dataframe()
    frame = alloy_dask.read_pull(
        client, connector, action, credentials=tenants, page_size=PAGE_SIZE, **shape
    ).compute()
    assert list(frame.columns) == list(local.columns)
    assert frame.reset_index(drop=True).equals(local.reset_index(drop=True))
