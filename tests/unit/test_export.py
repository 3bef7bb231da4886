"""The streaming writers: round trips, drift, overwrite, checkpoints and resume, formats."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from alloy_data.errors import ConfigurationError, ExportError
from alloy_data.export import (
    Checkpoint,
    CsvWriter,
    JsonlWriter,
    ParquetWriter,
    open_writer,
    read_metadata,
)
from alloy_data.export import _formats as _export_formats
from alloy_data.frames import TableBuilder

UTC = dt.timezone.utc
CITIES = ["Zürich", "東京", "São Paulo", "Kraków", None]


def make_records(start: int, count: int, *, with_coupon: bool = False) -> list[dict[str, Any]]:
    """Order-like records: nested objects, lists of objects, timestamps, nulls, unicode."""
    records = []
    for n in range(start, start + count):
        record: dict[str, Any] = {
            "id": n,
            "customer": {
                "email": None if n % 7 == 0 else f"kund{n}@example.com",
                "address": {"city": CITIES[n % len(CITIES)]},
            },
            "created_at": f"2024-03-{1 + n % 28:02d}T{n % 24:02d}:15:00.{n % 1000:03d}Z",
            "line_items": [
                {"sku": f"SKU-{n}-{i}", "qty": i + 1, "price": round(9.99 * (i + 1), 2)}
                for i in range(n % 3)
            ],
            "tags": ["vip"] if n % 5 == 0 else [],
            "quantity": None if n % 4 == 0 else n % 11,
            "note": "naïve café ☕" if n % 6 == 0 else None,
        }
        if with_coupon:
            record["coupon"] = {"code": f"C{n}", "percent": n % 30}
        records.append(record)
    return records


def make_pages(
    pages: int = 6, per_page: int = 25, *, coupon_from: int | None = None
) -> list[list[dict[str, Any]]]:
    return [
        make_records(
            1 + i * per_page,
            per_page,
            with_coupon=coupon_from is not None and i + 1 >= coupon_from,
        )
        for i in range(pages)
    ]


def write_pages(
    writer: Any,
    pages: Sequence[Sequence[dict[str, Any]]],
    *,
    start: int = 1,
    stop: int | None = None,
    finish: bool = True,
    metadata: dict[str, str] | None = None,
) -> TableBuilder:
    """Feeds pages ``start`` to ``stop`` (1-based, inclusive) to an opened writer, as a pull does.

    The last of ``pages`` has no next page; every other page's next parameters name the next.
    """
    builder = TableBuilder(keep_batches=False)
    stop = len(pages) if stop is None else stop
    for number in range(start, stop + 1):
        batch = builder.add_page(pages[number - 1], number)
        next_parameters = None if number == len(pages) else {"page": number + 1}
        writer.write_page(number, batch, schema=builder.schema, next_parameters=next_parameters)
    if finish:
        writer.finish(schema=builder.schema, metadata=metadata)
    return builder


def expected_table(pages: Sequence[Sequence[dict[str, Any]]]) -> pa.Table:
    builder = TableBuilder()
    for number, records in enumerate(pages, start=1):
        builder.add_page(records, number)
    return builder.to_table()


def export(path: Path, pages: Sequence[Sequence[dict[str, Any]]], **options: Any) -> Path:
    writer = open_writer(path, **options)
    writer.open()
    write_pages(writer, pages)
    return path


def leftovers(directory: Path, keep: str) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name != keep)


# -- round trip and drift ----------------------------------------------------------------


def test_parquet_round_trip_keeps_types_and_values(tmp_path: Path) -> None:
    pages = make_pages()
    path = export(tmp_path / "orders.parquet", pages)

    table = pq.read_table(path)
    expected = expected_table(pages)
    assert table.schema.remove_metadata() == expected.schema
    assert table.to_pylist() == expected.to_pylist()
    assert table.schema.field("created_at").type == pa.timestamp("us", "UTC")
    assert table.schema.field("line_items").type.value_type.field("qty").type == pa.int64()
    assert table.column("quantity").null_count > 0
    assert leftovers(tmp_path, "orders.parquet") == []


def test_drift_across_and_within_pages_widens_the_schema(tmp_path: Path) -> None:
    pages = [
        [{"id": 1, "amount": 5}, {"id": 2, "amount": 6}],
        [{"id": 3, "amount": 7.5, "customer": {"email": "c@x"}}],  # widened, and a new column
        [{"id": 4, "amount": 8, "status": "paid"}, {"id": 5, "amount": 9, "status": 3}],
    ]
    path = export(tmp_path / "drift.parquet", pages)

    table = pq.read_table(path)
    assert table.schema.names == ["id", "amount", "customer.email", "status"]
    assert table.schema.field("amount").type == pa.float64()
    assert table.schema.field("status").type == pa.string()
    assert table.column("amount").to_pylist() == [5.0, 6.0, 7.5, 8.0, 9.0]
    assert table.column("customer.email").to_pylist() == [None, None, "c@x", None, None]
    assert table.column("status").to_pylist() == [None, None, None, "paid", "3"]
    assert table.equals(expected_table(pages).replace_schema_metadata(table.schema.metadata))


def test_row_groups_are_buffered_to_the_requested_size(tmp_path: Path) -> None:
    path = export(tmp_path / "groups.parquet", make_pages(10, 25), row_group_size=100)

    meta = pq.ParquetFile(path).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [100, 100, 50]


@pytest.mark.parametrize("compression", ["zstd", "snappy", "none"])
def test_compression_is_applied(tmp_path: Path, compression: str) -> None:
    path = export(tmp_path / "c.parquet", make_pages(2), compression=compression)

    codec = pq.ParquetFile(path).metadata.row_group(0).column(0).compression
    assert codec == ("UNCOMPRESSED" if compression == "none" else compression.upper())


# -- the target: overwrite, atomicity, temp files ---------------------------------------


def test_existing_target_is_refused_without_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    path.write_bytes(b"old content")

    with pytest.raises(ExportError, match="overwrite=True"):
        ParquetWriter(path).open()
    assert path.read_bytes() == b"old content"
    assert leftovers(tmp_path, "orders.parquet") == []


def test_overwrite_replaces_only_when_complete(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    path.write_bytes(b"old content")
    writer = ParquetWriter(path, overwrite=True)
    writer.open()
    write_pages(writer, make_pages(3), finish=False)
    assert path.read_bytes() == b"old content"

    writer.finish(schema=pq.read_schema(export(tmp_path / "ref.parquet", make_pages(3))))
    assert pq.read_table(path).num_rows == 75
    assert leftovers(tmp_path, "orders.parquet") == ["ref.parquet"]


def test_failed_finish_removes_temp_output_and_keeps_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "orders.parquet"
    pages = make_pages(4)
    writer = ParquetWriter(path, fingerprint="fp")
    writer.open()
    builder = write_pages(writer, pages, finish=False)
    real_writer = _export_formats.write_parquet_file

    def fail_part_way(batches: Any, schema: Any, destination: Path, **options: Any) -> None:
        destination.write_bytes(b"PAR1 half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("alloy_data.export._writers.write_parquet_file", fail_part_way)
    with pytest.raises(ExportError, match=r"No space left on device.*resume=True"):
        writer.finish(schema=builder.schema)
    assert not path.exists()
    assert leftovers(writer.checkpoint_dir, "") == ["checkpoint.json", "pages.spool"]

    monkeypatch.setattr("alloy_data.export._writers.write_parquet_file", real_writer)
    again = ParquetWriter(path, fingerprint="fp", resume=True)
    checkpoint = again.open()
    assert checkpoint is not None and checkpoint.complete
    again.finish(schema=builder.schema)
    assert pq.read_table(path).to_pylist() == expected_table(pages).to_pylist()


def test_nothing_appears_beside_the_target_but_the_checkpoint(tmp_path: Path) -> None:
    writer = ParquetWriter(tmp_path / "orders.parquet")
    writer.open()
    write_pages(writer, make_pages(2), finish=False)

    assert leftovers(tmp_path, "") == ["orders.parquet.alloy-checkpoint"]


def test_missing_directory_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="does not exist"):
        ParquetWriter(tmp_path / "nowhere" / "orders.parquet").open()


# -- checkpoints and resume --------------------------------------------------------------


def test_abort_then_resume_equals_an_uninterrupted_export(tmp_path: Path) -> None:
    pages = make_pages(8, coupon_from=5)
    reference = export(tmp_path / "reference.parquet", pages, metadata={"connector": "shop"})
    path = tmp_path / "orders.parquet"
    first = ParquetWriter(path, metadata={"connector": "shop"}, fingerprint="fp")
    assert first.open() is None
    write_pages(first, pages, stop=3, finish=False)
    first.abort()
    assert not path.exists()

    second = ParquetWriter(path, metadata={"connector": "shop"}, fingerprint="fp", resume=True)
    checkpoint = second.open()

    assert checkpoint == Checkpoint(
        next_parameters={"page": 4},
        next_page_number=4,
        rows=75,
        pages=3,
        schema=checkpoint.schema if checkpoint else None,
        complete=False,
    )
    assert checkpoint is not None and checkpoint.schema is not None
    assert "customer.email" in checkpoint.schema.names
    write_pages(second, pages, start=checkpoint.next_page_number)
    assert pq.read_table(path).equals(pq.read_table(reference), check_metadata=True)
    assert not second.checkpoint_dir.exists()


def test_resume_keeps_columns_seen_only_before_the_interruption(tmp_path: Path) -> None:
    pages = [[{"id": 1, "legacy": "x", "n": 1}], [{"id": 2, "n": 2.5}], [{"id": 3, "n": 3}]]
    path = tmp_path / "orders.parquet"
    first = ParquetWriter(path, fingerprint="fp")
    first.open()
    write_pages(first, pages, stop=1, finish=False)
    first.abort()
    second = ParquetWriter(path, fingerprint="fp", resume=True)
    second.open()
    write_pages(second, pages, start=2)

    table = pq.read_table(path)
    assert table.schema.names == ["id", "legacy", "n"]
    assert table.schema.field("n").type == pa.float64()
    assert table.to_pylist() == expected_table(pages).to_pylist()


def test_exception_in_a_with_block_keeps_the_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    with pytest.raises(KeyboardInterrupt), ParquetWriter(path, fingerprint="fp") as writer:
        write_pages(writer, make_pages(2), finish=False)
        raise KeyboardInterrupt

    checkpoint = ParquetWriter(path, fingerprint="fp", resume=True).open()
    assert checkpoint is not None and checkpoint.pages == 2


def test_stale_checkpoint_is_removed_without_resume(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "orders.parquet"
    stale = ParquetWriter(path, fingerprint="fp")
    stale.open()
    write_pages(stale, [make_records(1000, 5)], finish=False)
    stale.abort()

    with caplog.at_level(logging.WARNING, logger="alloy_data.export"):
        writer = ParquetWriter(path, fingerprint="fp")
        assert writer.open() is None
    assert "Removing" in caplog.text and "resume=True" in caplog.text
    write_pages(writer, make_pages(1))
    assert pq.read_table(path).column("id").to_pylist() == list(range(1, 26))


def test_a_checkpoint_without_pages_is_removed_without_advice_to_resume(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "orders.parquet"
    ParquetWriter(path, fingerprint="fp").open()  # a process stopped before its first page

    with caplog.at_level(logging.INFO, logger="alloy_data.export"):
        writer = ParquetWriter(path, fingerprint="fp")
        assert writer.open() is None
    assert "Removing" in caplog.text and "resume=True" not in caplog.text
    writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_a_first_page_that_cannot_be_spooled_gives_no_advice_to_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alloy_data.export._spool import Spool

    def full(*_: Any, **__: Any) -> None:
        raise OSError(28, "No space left on device")

    writer = ParquetWriter(tmp_path / "orders.parquet", fingerprint="fp")
    writer.open()
    monkeypatch.setattr(Spool, "append", full)
    with pytest.raises(ExportError, match="Free some space") as caught:
        write_pages(writer, make_pages(1), finish=False)
    assert "resume=True" not in str(caught.value)
    writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_fingerprint_mismatch_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    first = ParquetWriter(path, fingerprint="orders-2024")
    first.open()
    write_pages(first, make_pages(1), finish=False)
    first.abort()

    with pytest.raises(ExportError, match=r"different pull.*resume=False"):
        ParquetWriter(path, fingerprint="orders-2025", resume=True).open()
    assert (first.checkpoint_dir / "checkpoint.json").exists()


def test_half_written_page_is_dropped_on_resume(tmp_path: Path) -> None:
    pages = make_pages(4)
    path = tmp_path / "orders.parquet"
    first = ParquetWriter(path, fingerprint="fp")
    first.open()
    write_pages(first, pages, stop=2, finish=False)
    first.abort()
    with open(first.checkpoint_dir / "pages.spool", "ab") as spool:
        spool.write(b"\x00\x10\x00\x00\x00\x00\x00\x00partial page cut short by a kill")

    second = ParquetWriter(path, fingerprint="fp", resume=True)
    checkpoint = second.open()
    assert checkpoint is not None and checkpoint.next_page_number == 3
    write_pages(second, pages, start=3)
    assert pq.read_table(path).to_pylist() == expected_table(pages).to_pylist()


def test_resume_without_a_recorded_page_starts_over(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    ParquetWriter(path, fingerprint="fp").open()  # killed before its first page, say

    writer = ParquetWriter(path, fingerprint="fp", resume=True)
    assert writer.open() is None
    write_pages(writer, make_pages(1))
    assert pq.read_table(path).num_rows == 25


def test_abort_before_any_page_leaves_nothing(tmp_path: Path) -> None:
    writer = ParquetWriter(tmp_path / "orders.parquet")
    writer.open()
    writer.abort()

    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("first", "second"), [(3, 3), (3, 2)], ids=["repeated-page", "page-going-back"]
)
def test_pages_must_arrive_in_increasing_order(tmp_path: Path, first: int, second: int) -> None:
    writer = ParquetWriter(tmp_path / "orders.parquet")
    writer.open()
    batch = pa.record_batch({"id": [1]})
    writer.write_page(first, batch, schema=batch.schema, next_parameters={})

    with pytest.raises(ExportError, match="increasing order"):
        writer.write_page(second, batch, schema=batch.schema, next_parameters={})


def test_page_columns_must_be_in_the_schema(tmp_path: Path) -> None:
    writer = ParquetWriter(tmp_path / "orders.parquet")
    writer.open()
    batch = pa.record_batch({"id": [1], "extra": ["x"]})

    with pytest.raises(ExportError, match="extra"):
        writer.write_page(1, batch, schema=pa.schema([("id", pa.int64())]), next_parameters={})


def test_unencodable_next_parameters_are_refused(tmp_path: Path) -> None:
    writer = ParquetWriter(tmp_path / "orders.parquet")
    writer.open()
    batch = pa.record_batch({"id": [1]})

    with pytest.raises(ExportError, match="parameters cannot be saved"):
        writer.write_page(1, batch, schema=batch.schema, next_parameters={"at": object()})


@pytest.mark.parametrize("call", ["write_page", "finish"])
def test_writing_requires_open(tmp_path: Path, call: str) -> None:
    writer = ParquetWriter(tmp_path / "orders.parquet")
    batch = pa.record_batch({"id": [1]})

    with pytest.raises(ExportError, match="open"):
        if call == "write_page":
            writer.write_page(1, batch, schema=batch.schema, next_parameters=None)
        else:
            writer.finish(schema=batch.schema)


# -- provenance --------------------------------------------------------------------------


def test_read_metadata_returns_the_provenance_and_row_count(tmp_path: Path) -> None:
    provenance = {"connector": "shopify", "action": "list-orders", "parameters": '{"limit": 50}'}
    writer = ParquetWriter(tmp_path / "o.parquet", metadata=provenance)
    writer.open()
    write_pages(writer, make_pages(2), metadata={"pulled_at": "2024-05-01T00:00:00Z"})

    assert read_metadata(tmp_path / "o.parquet") == {
        **provenance,
        "pulled_at": "2024-05-01T00:00:00Z",
        "row_count": "50",
    }


def test_pandas_schema_metadata_still_works(tmp_path: Path) -> None:
    frame = pd.DataFrame({"id": [3, 1]}, index=pd.Index(["c", "a"], name="key"))
    table = pa.Table.from_pandas(frame)
    writer = ParquetWriter(tmp_path / "o.parquet", metadata={"connector": "x"})
    writer.open()
    writer.write_page(1, table, schema=table.schema, next_parameters=None)
    writer.finish(schema=table.schema)

    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "o.parquet"), frame)
    assert read_metadata(tmp_path / "o.parquet")["connector"] == "x"


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "does not exist"), (b"id,name\n1,a\n", "not .*Parquet|only in Parquet")],
    ids=["missing-file", "csv-file"],
)
def test_read_metadata_errors(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "x.parquet"
    if content is not None:
        path.write_bytes(content)

    with pytest.raises(ExportError, match=message):
        read_metadata(path)


def test_read_metadata_of_a_foreign_parquet_file(tmp_path: Path) -> None:
    pq.write_table(pa.table({"id": [1]}), tmp_path / "plain.parquet")

    with pytest.raises(ExportError, match="no alloy-data provenance"):
        read_metadata(tmp_path / "plain.parquet")


def test_metadata_must_be_strings(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="strings"):
        ParquetWriter(tmp_path / "o.parquet", metadata={"rows": 5})  # type: ignore[dict-item]


# -- partitioned datasets ----------------------------------------------------------------


PARTITIONS = ["country=DE", "country=FR"]


def partition_pages() -> list[list[dict[str, Any]]]:
    return [
        [{"id": n, "country": country, "amount": n * 1.5} for n, country in batch]
        for batch in ([(1, "DE"), (2, "FR")], [(3, "DE"), (4, "日本")], [(5, "FR")])
    ]


def test_partitioned_dataset_reads_back(tmp_path: Path) -> None:
    path = export(
        tmp_path / "orders", partition_pages(), partition_cols=["country"], metadata={"a": "b"}
    )

    # Values are URI-encoded in directory names, as pyarrow, DuckDB and Polars expect.
    assert sorted(p.name for p in path.iterdir()) == ["country=%E6%97%A5%E6%9C%AC", *PARTITIONS]
    table = ds.dataset(path, partitioning="hive").to_table().sort_by("id")
    assert table.column("id").to_pylist() == [1, 2, 3, 4, 5]
    assert table.column("country").to_pylist() == ["DE", "FR", "DE", "日本", "FR"]
    assert read_metadata(path) == {"a": "b", "row_count": "5"}
    assert leftovers(tmp_path, "orders") == []


@pytest.mark.parametrize("old_kind", ["directory", "file"])
def test_partitioned_dataset_replaces_the_old_target_whole(tmp_path: Path, old_kind: str) -> None:
    path = tmp_path / "orders"
    if old_kind == "directory":
        (path / "country=XX").mkdir(parents=True)
        (path / "country=XX" / "part-0.parquet").write_bytes(b"old")
    else:
        path.write_bytes(b"old")

    export(path, partition_pages(), partition_cols=["country"], overwrite=True)
    assert sorted(p.name for p in path.iterdir())[1:] == PARTITIONS
    assert leftovers(tmp_path, "orders") == []


def test_an_interrupted_swap_is_undone_on_open(tmp_path: Path) -> None:
    # A process killed between moving the old dataset aside and moving the new one in.
    path = tmp_path / "orders"
    previous = tmp_path / "orders.alloy-checkpoint" / "previous"
    (previous / "country=XX").mkdir(parents=True)
    (previous / "country=XX" / "part-0.parquet").write_bytes(b"old")

    with pytest.raises(ExportError, match="overwrite=True"):
        ParquetWriter(path, partition_cols=["country"]).open()
    assert (path / "country=XX" / "part-0.parquet").read_bytes() == b"old"


def test_partitioning_by_an_unknown_column_is_reported(tmp_path: Path) -> None:
    writer = ParquetWriter(tmp_path / "orders", partition_cols=["region"])
    writer.open()

    with pytest.raises(ExportError, match="Cannot partition by region"):
        write_pages(writer, partition_pages())


# -- CSV, JSON Lines and empty results ---------------------------------------------------


def test_csv_has_the_final_header_and_json_encoded_lists(tmp_path: Path) -> None:
    pages = make_pages(3, 4, coupon_from=3)
    path = export(tmp_path / "orders.csv", pages)

    frame = pd.read_csv(path)
    expected = expected_table(pages)
    assert list(frame.columns) == expected.schema.names
    assert frame["coupon.code"].isna().sum() == 8
    assert json.loads(frame.loc[2, "line_items"]) == expected.column("line_items")[2].as_py()
    assert frame.loc[0, "created_at"] == "2024-03-02T01:15:00.001000Z"
    assert frame.loc[1, "customer.address.city"] == "São Paulo"


def test_jsonl_has_one_object_per_record_with_every_column(tmp_path: Path) -> None:
    pages = [[{"id": 1, "at": "2024-01-01T00:00:00Z"}], [{"id": 2, "score": float("nan")}]]
    path = export(tmp_path / "orders.jsonl", pages)

    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert lines == [
        {"id": 1, "at": "2024-01-01T00:00:00.000000Z", "score": None},
        {"id": 2, "at": None, "score": None},
    ]


def test_jsonl_encodes_nested_values(tmp_path: Path) -> None:
    pages = make_pages(1, 5)
    path = export(tmp_path / "orders.ndjson", pages)

    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    expected = expected_table(pages).to_pylist()
    assert [line["line_items"] for line in lines] == [row["line_items"] for row in expected]
    assert lines[0]["customer.address.city"] == "東京"


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_empty_result_is_a_valid_file_with_the_known_columns(tmp_path: Path, suffix: str) -> None:
    schema = pa.schema([("id", pa.string()), ("customer.email", pa.string())])
    writer = open_writer(tmp_path / f"empty{suffix}")
    writer.open()
    path = writer.finish(schema=schema, metadata={"connector": "x"})

    if suffix == ".parquet":
        assert pq.read_table(path).schema.remove_metadata() == schema
        assert read_metadata(path)["row_count"] == "0"
    elif suffix == ".csv":
        assert path.read_text(encoding="utf-8").strip() == '"id","customer.email"'
    else:
        assert path.read_text(encoding="utf-8") == ""


def test_empty_partitioned_dataset_keeps_its_schema(tmp_path: Path) -> None:
    schema = pa.schema([("id", pa.int64()), ("country", pa.string())])
    writer = ParquetWriter(tmp_path / "orders", partition_cols=["country"])
    writer.open()
    path = writer.finish(schema=schema)

    table = ds.dataset(path).to_table()
    assert table.num_rows == 0 and table.schema.names == ["id", "country"]


# -- choosing a writer -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "writer_class"),
    [
        ("a.parquet", ParquetWriter),
        ("a.pq", ParquetWriter),
        ("A.PARQUET", ParquetWriter),
        ("a.csv", CsvWriter),
        ("a.jsonl", JsonlWriter),
        ("a.ndjson", JsonlWriter),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_open_writer_picks_the_format_by_suffix(
    tmp_path: Path, name: str, writer_class: type
) -> None:
    assert type(open_writer(tmp_path / name)) is writer_class


def test_open_writer_names_the_suffixes_it_knows(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"\.parquet, \.pq, \.csv, \.jsonl, \.ndjson"):
        open_writer(tmp_path / "orders.xlsx")


def test_open_writer_refuses_parquet_options_for_csv(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="only to Parquet"):
        open_writer(tmp_path / "orders.csv", compression="zstd")


def test_open_writer_treats_a_bare_path_with_partitions_as_a_dataset(tmp_path: Path) -> None:
    assert isinstance(open_writer(tmp_path / "orders", partition_cols=["a"]), ParquetWriter)


@pytest.mark.parametrize(
    "options",
    [{"compression": "rar"}, {"row_group_size": 0}, {"row_group_size": 2.5}],
    ids=["unknown-compression", "zero-row-groups", "fractional-row-groups"],
)
def test_bad_parquet_options_are_configuration_errors(
    tmp_path: Path, options: dict[str, Any]
) -> None:
    with pytest.raises(ConfigurationError):
        ParquetWriter(tmp_path / "o.parquet", **options)


# -- one export per path at a time -------------------------------------------------------


def test_a_second_writer_to_the_same_path_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    first = ParquetWriter(path, fingerprint="fp")
    first.open()
    write_pages(first, make_pages(2), stop=1, finish=False)

    for resume in (False, True):
        with pytest.raises(ExportError, match="Another export is writing"):
            ParquetWriter(path, fingerprint="fp", resume=resume).open()
    assert (first.checkpoint_dir / "checkpoint.json").exists()

    first.abort()
    checkpoint = ParquetWriter(path, fingerprint="fp", resume=True).open()
    assert checkpoint is not None and checkpoint.pages == 1


def test_a_dropped_writer_releases_its_path(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    first = ParquetWriter(path, fingerprint="fp")
    first.open()
    write_pages(first, make_pages(2), stop=1, finish=False)
    del first

    checkpoint = ParquetWriter(path, fingerprint="fp", resume=True).open()
    assert checkpoint is not None and checkpoint.pages == 1
