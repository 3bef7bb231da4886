"""Pulls as Arrow streams against the sandbox: DuckDB, Polars and pyarrow read them.

The rows a stream gives are the rows ``to_arrow()`` gives, for every paging convention, a pull
of many credentials included; batches come before the last page is fetched; fields that appear
after the stream declared its schema are all found in ``_late_fields``.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pytest

import alloy_data as ad
from alloy_data.frames import LATE_FIELDS
from alloy_data.progress import ProgressUpdate
from alloy_data.sandbox import Sandbox, serve
from tests.integration._conventions import EVERY_CONVENTION

RECORDS = 600
PAGE_SIZE = 40
TENANT_RECORDS = [90, 170]  # the other users' credentials


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with serve(
        port=0, seed=12, records=RECORDS, tenants=len(TENANT_RECORDS), tenant_records=TENANT_RECORDS
    ) as running:
        yield running


@pytest.fixture
def client(sb: Sandbox) -> Iterator[ad.AlloyClient]:
    with ad.AlloyClient(sb.api_key, base_url=sb.url, user_id=sb.fixtures.user_id) as client:
        yield client


def pull_of(client: ad.AlloyClient, sb: Sandbox, connector: str, action: str, **options: Any):
    options.setdefault("progress", False)
    options.setdefault("page_size", PAGE_SIZE)
    return client.pull(
        connector, action, credential_id=sb.fixtures.credentials[connector], **options
    )


def without_late(table: pa.Table) -> pa.Table:
    assert table.column(LATE_FIELDS).null_count == table.num_rows, "unexpected late fields"
    return table.drop_columns([LATE_FIELDS])


def same_rows(streamed: pa.Table, table: pa.Table) -> None:
    """The stream's rows are the table's: the same values in the same columns, except where a
    column's type changed after the stream's first page (HubSpot's external_id turns from an
    integer into text): those values are in ``_late_fields``, as they came."""
    assert streamed.num_rows == table.num_rows
    assert [*streamed.column_names] == [*table.column_names, LATE_FIELDS]
    texts = streamed.column(LATE_FIELDS).to_pylist()
    late = {name for text in texts if text for name in json.loads(text)}
    for name in table.column_names:
        expected = table.column(name).to_pylist()
        if name in late:
            found = late_values(streamed, name)
            assert [v is None for v in found] == [v is None for v in expected], name
            assert [str(v) for v in found] == [str(v) for v in expected], name
        else:
            assert streamed.column(name).to_pylist() == expected, name


@pytest.mark.parametrize(("connector", "action", "key"), EVERY_CONVENTION)
def test_every_reader_gives_the_rows_of_to_arrow(
    sb: Sandbox, client: ad.AlloyClient, connector: str, action: str, key: str
) -> None:
    expected = sb.expected_ids(connector, action, credential_id=sb.fixtures.credentials[connector])
    # A page large enough that the stream's first page has every column.
    table = pull_of(client, sb, connector, action, page_size=None).to_arrow()
    assert table.column(key).to_pylist() == expected

    pull = pull_of(client, sb, connector, action, page_size=None)
    same_rows(pa.table(pull), table)
    assert not pull.stats.reused and pull.stats.records == RECORDS

    fresh = pull_of(client, sb, connector, action, page_size=None)
    same_rows(pa.RecordBatchReader.from_stream(fresh).read_all(), table)
    fresh = pull_of(client, sb, connector, action, page_size=None)
    reader = fresh.to_reader()
    assert isinstance(reader, pa.RecordBatchReader)
    same_rows(reader.read_all(), table)

    fresh = pull_of(client, sb, connector, action, page_size=None)
    frame = pl.DataFrame(fresh)
    assert frame.height == RECORDS and frame[key].to_list() == expected

    fresh = pull_of(client, sb, connector, action, page_size=None)
    assert fresh.to_polars()[key].to_list() == expected


@pytest.mark.parametrize(("connector", "action", "key"), EVERY_CONVENTION)
def test_duckdb_queries_a_pull_in_one_run(
    sb: Sandbox, client: ad.AlloyClient, connector: str, action: str, key: str
) -> None:
    expected = sb.expected_ids(connector, action, credential_id=sb.fixtures.credentials[connector])
    # One request at a time, so that a run's requests are always the same.
    alone = pull_of(client, sb, connector, action, concurrency=1)
    alone.to_arrow()
    requests_of_one_run = alone.stats.requests

    pull = pull_of(client, sb, connector, action, concurrency=1)
    rows = duckdb.sql(f'select "{key}" from pull').fetchall()  # DuckDB finds the variable
    assert sorted(row[0] for row in rows) == sorted(expected)
    # DuckDB asks for the stream more than once per query; the first page is fetched once.
    assert pull.stats.requests == requests_of_one_run
    counted = duckdb.sql(f'select count(distinct "{key}") from pull').fetchall()
    assert counted == [(RECORDS,)]


def test_batches_come_before_the_last_page_is_fetched(sb: Sandbox, client: ad.AlloyClient) -> None:
    pull = pull_of(client, sb, "hubspot", "list-contacts", page_size=20, concurrency=1)
    reader = pull.to_reader()
    assert pull.stats.pages == 1  # opening fetched the page that declares the schema
    first = reader.read_next_batch()
    assert first.num_rows > 0
    assert pull.stats.pages < RECORDS // 20
    rest = reader.read_all()
    assert first.num_rows + rest.num_rows == RECORDS
    assert pull.stats.pages == RECORDS // 20


def test_a_stream_after_a_complete_run_serves_its_rows(sb: Sandbox, client: ad.AlloyClient) -> None:
    pull = pull_of(client, sb, "stripe", "list-charges")
    table = pull.to_arrow()
    requests = pull.stats.requests
    streamed = pa.table(pull)
    assert pull.stats.reused
    same_rows(streamed, table)
    without_late(streamed)
    assert duckdb.sql("select count(*) from pull").fetchall() == [(RECORDS,)]
    assert pull.stats.reused and pull.stats.requests == requests


def test_pull_many_streams_credential_after_credential(sb: Sandbox, client: ad.AlloyClient) -> None:
    many = client.pull_many("stripe", "list-charges", credentials="all", progress=False)
    table = many.to_arrow()
    many.reset()
    streamed = without_late(pa.table(many))
    assert not any(s.reused for s in many.stats.per_credential.values())
    assert streamed.column_names[-2:] == ["_user_id", "_credential_id"]
    per_credential = Counter(table.column("_credential_id").to_pylist())
    assert many.stats.done == many.stats.credentials == len(per_credential) > 2
    assert many.stats.records == table.num_rows
    # Credential after credential: each credential's rows together, in its order.
    credentials = streamed.column("_credential_id").to_pylist()
    runs = [c for i, c in enumerate(credentials) if i == 0 or credentials[i - 1] != c]
    assert len(runs) == len(set(runs))

    def keyed(t: pa.Table) -> list[tuple[Any, ...]]:
        names = ("_credential_id", "_user_id", "id")
        return sorted(zip(*(t.column(n).to_pylist() for n in names), strict=True))

    assert keyed(streamed) == keyed(table)
    many.reset()
    grouped = duckdb.sql(
        "select _credential_id, count(*) from many group by 1 order by 2"
    ).fetchall()
    assert dict(grouped) == per_credential
    many.reset()
    assert many.to_polars().height == table.num_rows


def test_pull_many_leaves_a_failed_credential_out(sb: Sandbox, client: ad.AlloyClient) -> None:
    good = sb.fixtures.credentials["xero"]
    many = client.pull_many(
        "xero", "list-invoices", credentials=["cred_missing", good], progress=False
    )
    streamed = pa.table(many)
    assert set(streamed.column("_credential_id").to_pylist()) == {good}
    assert streamed.num_rows == RECORDS
    assert [f.credential_id for f in many.stats.failures] == ["cred_missing"]
    raising = client.pull_many(
        "xero",
        "list-invoices",
        credentials=["cred_missing", good],
        on_error="raise",
        progress=False,
    )
    with pytest.raises(ad.AlloyAPIError):
        raising.to_reader()


def fail_once_after(sb: Sandbox, action: str, records: int) -> Callable[[ProgressUpdate], None]:
    failed: list[bool] = []

    def on_progress(update: ProgressUpdate) -> None:
        if update.records >= records and not failed and not update.done:
            failed.append(True)
            sb.inject_fault("500_html", count=1, path_contains=f"{action}/execute")

    return on_progress


def test_a_failure_mid_stream_hands_out_what_came_before(
    sb: Sandbox, client: ad.AlloyClient
) -> None:
    pull = pull_of(
        client,
        sb,
        "box",
        "list-files",
        retries=0,
        concurrency=1,
        progress=fail_once_after(sb, "list-files", 200),
    )
    reader = pull.to_reader()
    received = 0
    with pytest.raises(Exception, match="500") as caught:
        for batch in reader:
            received += batch.num_rows
    assert isinstance(caught.value, (ad.ServerError, pa.ArrowException))
    assert received == pull.stats.records >= 200


# -- fields that appear late ---------------------------------------------------------------


@pytest.fixture(scope="module")
def drifting() -> Iterator[Sandbox]:
    # Shopify orders gain discount_code at record 150; HubSpot's external_id turns from an
    # integer into text at record 300.
    with serve(port=0, seed=4, records={"shopify": 400, "hubspot": 450}) as running:
        yield running


def late_values(table: pa.Table, column: str) -> list[Any]:
    """Each row's value of ``column``: in its column, else in ``_late_fields``, else None."""
    own = table.column(column).to_pylist() if column in table.column_names else [None] * len(table)
    late = [json.loads(text) if text else {} for text in table.column(LATE_FIELDS).to_pylist()]
    pairs = zip(own, late, strict=True)
    return [value if value is not None else extra.get(column) for value, extra in pairs]


def test_a_field_first_seen_on_a_late_page_is_kept_in_late_fields(drifting: Sandbox) -> None:
    with ad.AlloyClient(drifting.api_key, base_url=drifting.url) as client:
        pull = client.pull(
            "shopify",
            "list-orders",
            credential_id=drifting.fixtures.credentials["shopify"],
            page_size=100,
            progress=False,
        )
        table = pull.to_arrow()
        pull.reset()
        streamed = pa.table(pull)
    assert "discount_code" not in streamed.column_names  # not on the first page
    expected = table.column("discount_code").to_pylist()
    assert sum(v is not None for v in expected) > 50
    assert late_values(streamed, "discount_code") == expected
    assert pull.stats.late_fields == {"discount_code": sum(v is not None for v in expected)}
    assert any("_late_fields" in note for note in pull.stats.notes)
    assert any(d.column == "discount_code" and d.page == 2 for d in pull.stats.drift)
    # Every other column is as to_arrow() has it.
    assert streamed.drop_columns([LATE_FIELDS]) == table.drop_columns(["discount_code"])
    # DuckDB reads the late values with its JSON functions.
    found = duckdb.sql(
        "select count(*) from streamed where _late_fields->>'discount_code' is not null"
    ).fetchall()
    assert found == [(pull.stats.late_fields["discount_code"],)]


def test_a_type_that_changes_late_does_not_fail_the_stream(drifting: Sandbox) -> None:
    with ad.AlloyClient(drifting.api_key, base_url=drifting.url) as client:
        pull = client.pull(
            "hubspot",
            "list-contacts",
            credential_id=drifting.fixtures.credentials["hubspot"],
            page_size=100,
            progress=False,
        )
        table = pull.to_arrow()
        pull.reset()
        frame = pl.DataFrame(pull)
    column = "properties.external_id"
    streamed = frame.to_arrow()
    assert pa.types.is_integer(streamed.schema.field(column).type)
    values = late_values(streamed, column)
    assert values[:300] == list(range(50_000, 50_300))
    assert values[300:] == table.column(column).to_pylist()[300:]
    assert all(isinstance(v, str) and v.startswith("EXT-") for v in values[300:])
    assert pull.stats.late_fields == {column: 150}


def test_pull_many_fits_every_credential_to_the_first(drifting: Sandbox) -> None:
    with ad.AlloyClient(drifting.api_key, base_url=drifting.url) as client:
        many = client.pull_many(
            "shopify", "list-orders", credentials="all", page_size=100, progress=False
        )
        table = many.to_arrow()
        many.reset()
        streamed = many.to_reader().read_all()
    order = {
        key: i
        for i, key in enumerate(
            zip(table["_credential_id"].to_pylist(), table["id"].to_pylist(), strict=True)
        )
    }
    rows = sorted(
        range(streamed.num_rows),
        key=lambda i: order[(streamed["_credential_id"][i].as_py(), streamed["id"][i].as_py())],
    )
    values = late_values(streamed.take(rows), "discount_code")
    assert values == table.column("discount_code").to_pylist()
    assert all(s.late_fields for s in many.stats.per_credential.values())
    assert any("_late_fields" in note for note in many.stats.notes)


def test_to_polars_without_polars_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, sb: Sandbox, client: ad.AlloyClient
) -> None:
    monkeypatch.setitem(sys.modules, "polars", None)  # import polars now fails
    pull = pull_of(client, sb, "stripe", "list-charges")
    with pytest.raises(ad.ConfigurationError, match=r"pip install 'alloy-data\[polars\]'"):
        pull.to_polars()
    assert pull.stats.requests == 0  # said before anything was fetched
    many = client.pull_many("stripe", "list-charges", credentials="all", progress=False)
    with pytest.raises(ad.ConfigurationError, match=r"alloy-data\[polars\]"):
        many.to_polars()


def test_the_explorers_pulls_are_streams(sb: Sandbox, client: ad.AlloyClient) -> None:
    from alloy_data.widgets import Explorer

    explorer = Explorer(client)
    explorer.connector.value = "stripe"
    connection = duckdb.connect()
    connection.register("charges", explorer.pull(progress=False))  # registered by name
    assert connection.sql("select count(*) from charges").fetchall() == [(RECORDS,)]
    explorer.all_credentials.value = True
    every = explorer.pull(progress=False)
    table = pa.table(every)
    assert table.num_rows == every.stats.records > RECORDS
    assert set(table.column("_credential_id").to_pylist()) == {
        t.credential_id for t in every.last_targets
    }


def test_a_stream_of_many_credentials_shows_one_progress(
    sb: Sandbox, client: ad.AlloyClient
) -> None:
    updates: list[ProgressUpdate] = []
    many = client.pull_many("stripe", "list-charges", credentials="all", progress=updates.append)
    rows = pa.table(many).num_rows
    assert updates, "no progress was shown"
    last = updates[-1]
    assert last.done and last.records == rows == many.stats.records
    assert last.credentials_done == last.credentials_total == many.stats.credentials
    # Credential after credential: the records shown never go down.
    assert all(a.records <= b.records for a, b in itertools.pairwise(updates))


def test_an_incremental_stream_since_a_mark_gives_the_rows_of_to_arrow(
    sb: Sandbox, client: ad.AlloyClient
) -> None:
    incremental = ad.Incremental(cursor_field="created", primary_key="id")
    table = pull_of(client, sb, "stripe", "list-charges", incremental=incremental).to_arrow()
    created = sorted(table.column("created").to_pylist())
    since = created[len(created) // 2]
    expected = pull_of(client, sb, "stripe", "list-charges", incremental=incremental).to_arrow(
        since=since
    )
    assert 0 < expected.num_rows < RECORDS
    pull = pull_of(client, sb, "stripe", "list-charges", incremental=incremental)
    streamed = pull.to_reader(since=since).read_all()
    assert sorted(streamed.column("id").to_pylist()) == sorted(expected.column("id").to_pylist())
    assert pull.stats.high_water_mark == max(created)


@pytest.mark.parametrize("flatten", ["dotted", "struct", "json"])
def test_a_stream_has_the_columns_and_flattening_chosen(
    sb: Sandbox, client: ad.AlloyClient, flatten: str
) -> None:
    chosen = ["id", "customer.email", "total_price"]
    table = pull_of(client, sb, "shopify", "list-orders", columns=chosen, flatten=flatten)
    expected = table.to_arrow()
    streamed = pull_of(client, sb, "shopify", "list-orders", columns=chosen, flatten=flatten)
    same_rows(pa.table(streamed), expected)
    assert expected.column_names[0] == "id" and len(expected.column_names) == 3

    many = client.pull_many(
        "shopify", "list-orders", credentials="all", columns=chosen, flatten=flatten, progress=False
    )
    whole = many.to_arrow()
    many.reset()
    assert without_late(pa.table(many)).column_names == whole.column_names
