"""Files written by the export writers, read back by pandas, pyarrow, DuckDB and Polars."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from alloy_data.export import read_metadata
from tests.unit.test_export import expected_table, export, make_pages, partition_pages

UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def pages() -> list[list[dict[str, Any]]]:
    return make_pages(6, 25, coupon_from=4)


@pytest.fixture(scope="module")
def expected(pages: list[list[dict[str, Any]]]) -> pa.Table:
    return expected_table(pages)


@pytest.fixture(scope="module")
def parquet_path(
    tmp_path_factory: pytest.TempPathFactory, pages: list[list[dict[str, Any]]]
) -> Path:
    path = tmp_path_factory.mktemp("readers") / "orders.parquet"
    return export(path, pages, metadata={"connector": "shop"})


def same_rows(actual: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    # Aware datetimes compare as instants whatever their tzinfo object, so DuckDB's and
    # Polars' zoneinfo UTC equals pyarrow's.
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        assert got == want


def test_pandas_reads_nullable_types_and_values(parquet_path: Path, expected: pa.Table) -> None:
    frame = pd.read_parquet(parquet_path, dtype_backend="numpy_nullable")

    assert str(frame["id"].dtype) == "Int64"
    assert str(frame["quantity"].dtype) == "Int64"
    assert frame["quantity"].isna().sum() == expected.column("quantity").null_count
    assert str(frame["created_at"].dtype) == "datetime64[us, UTC]"
    assert isinstance(frame["customer.address.city"].dtype, pd.StringDtype)
    pd.testing.assert_frame_equal(
        pd.read_parquet(parquet_path, dtype_backend="pyarrow"),
        expected.to_pandas(types_mapper=pd.ArrowDtype),
    )


def test_pyarrow_reads_the_same_table(parquet_path: Path, expected: pa.Table) -> None:
    table = pq.read_table(parquet_path)

    assert table.schema.remove_metadata() == expected.schema
    assert table.equals(expected.replace_schema_metadata(table.schema.metadata))


def test_duckdb_reads_types_and_values(parquet_path: Path, expected: pa.Table) -> None:
    relation = duckdb.sql(f"select * from read_parquet('{parquet_path}')")

    types = dict(zip(relation.columns, map(str, relation.types), strict=True))
    assert types["id"] == "BIGINT"
    assert types["quantity"] == "BIGINT"
    assert types["created_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["customer.email"] == "VARCHAR"
    assert types["line_items"] == "STRUCT(sku VARCHAR, qty BIGINT, price DOUBLE)[]"
    assert types["coupon.percent"] == "BIGINT"
    rows = [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]
    same_rows(rows, expected.to_pylist())


def test_polars_reads_types_and_values(parquet_path: Path, expected: pa.Table) -> None:
    frame = pl.read_parquet(parquet_path)

    assert frame.schema["id"] == pl.Int64
    assert frame.schema["created_at"] == pl.Datetime("us", "UTC")
    assert frame.schema["line_items"] == pl.List(
        pl.Struct({"sku": pl.String, "qty": pl.Int64, "price": pl.Float64})
    )
    assert frame["quantity"].null_count() == expected.column("quantity").null_count
    same_rows(frame.to_dicts(), expected.to_pylist())


def test_provenance_survives_for_every_reader(parquet_path: Path) -> None:
    assert read_metadata(parquet_path) == {"connector": "shop", "row_count": "150"}
    footer = duckdb.sql(
        f"select value from parquet_kv_metadata('{parquet_path}') where key = 'alloy_data'"
    ).fetchall()
    assert len(footer) == 1
    assert json.loads(footer[0][0])["row_count"] == "150"


@pytest.fixture(scope="module")
def dataset_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dataset") / "orders"
    return export(path, partition_pages(), partition_cols=["country"], row_group_size=2)


EXPECTED_PARTITIONED = [
    (1, "DE", 1.5),
    (2, "FR", 3.0),
    (3, "DE", 4.5),
    (4, "日本", 6.0),
    (5, "FR", 7.5),
]


def test_duckdb_reads_the_partitioned_dataset(dataset_path: Path) -> None:
    rows = duckdb.sql(
        f"select id, country, amount from read_parquet('{dataset_path}/**/*.parquet', "
        "hive_partitioning = true) order by id"
    ).fetchall()

    assert rows == EXPECTED_PARTITIONED


def test_polars_reads_the_partitioned_dataset(dataset_path: Path) -> None:
    frame = pl.read_parquet(dataset_path, hive_partitioning=True).sort("id")

    assert frame.select("id", "country", "amount").rows() == EXPECTED_PARTITIONED


def test_pandas_reads_the_partitioned_dataset(dataset_path: Path) -> None:
    frame = pd.read_parquet(dataset_path).sort_values("id")

    assert frame["id"].tolist() == [1, 2, 3, 4, 5]
    assert frame["country"].astype(str).tolist() == ["DE", "FR", "DE", "日本", "FR"]


def test_csv_reads_back_with_pandas_and_duckdb(
    tmp_path: Path, pages: list[list[dict[str, Any]]], expected: pa.Table
) -> None:
    path = export(tmp_path / "orders.csv", pages)

    frame = pd.read_csv(path, dtype={"quantity": "Int64"})
    assert frame["id"].tolist() == expected.column("id").to_pylist()
    assert frame["quantity"].tolist() == [
        pd.NA if v is None else v for v in expected.column("quantity").to_pylist()
    ]
    relation = duckdb.sql(f"select * from read_csv('{path}')")
    types = dict(zip(relation.columns, map(str, relation.types), strict=True))
    assert types["created_at"] == "TIMESTAMP WITH TIME ZONE"
    created = [
        row[0] for row in duckdb.sql(f"select created_at from read_csv('{path}')").fetchall()
    ]
    assert created == expected.column("created_at").to_pylist()
    cities = duckdb.sql(f"select \"customer.address.city\" from read_csv('{path}')").fetchall()
    assert [c for (c,) in cities] == expected.column("customer.address.city").to_pylist()


def test_jsonl_reads_back_with_pandas_and_duckdb(
    tmp_path: Path, pages: list[list[dict[str, Any]]], expected: pa.Table
) -> None:
    path = export(tmp_path / "orders.jsonl", pages)

    frame = pd.read_json(path, lines=True, dtype=False)
    assert list(frame.columns) == expected.schema.names
    assert frame["id"].tolist() == expected.column("id").to_pylist()
    relation = duckdb.sql(
        f"select id, created_at::timestamptz, line_items from read_json('{path}', "
        "format = 'newline_delimited') order by id"
    )
    rows = relation.fetchall()
    assert [row[1] for row in rows] == expected.column("created_at").to_pylist()
    assert [row[2] for row in rows] == expected.column("line_items").to_pylist()
