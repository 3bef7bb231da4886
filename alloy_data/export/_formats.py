"""Renders a stream of aligned batches as a Parquet file, a Parquet dataset, CSV or JSON Lines.

Each renderer reads the batches one at a time and writes ``destination`` (a path inside the
checkpoint directory, so a crash never leaves a half-written file beside the target), then
fsyncs it. Swapping the result into place is the caller's job.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from alloy_data.export._spool import fsync_tree

_ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"
_ISO_LOCAL = "%Y-%m-%dT%H:%M:%S"


def rechunk(batches: Iterable[pa.RecordBatch], schema: pa.Schema, rows: int) -> Iterator[pa.Table]:
    """Groups small batches into tables of exactly ``rows`` rows (the last one may be shorter).

    At most one group (plus the batch that completes it) is held in memory, provided the
    caller lets go of each group before asking for the next.
    """
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        if not batch.num_rows:
            continue
        pending.append(batch)
        count += batch.num_rows
        while count >= rows:
            table = pa.Table.from_batches(pending, schema=schema)
            group, rest = table.slice(0, rows), table.slice(rows)
            pending, count = rest.to_batches(), rest.num_rows
            # Otherwise these names would keep the group alive while the next one gathers.
            del table, rest
            yield group
            del group
    if count:
        yield pa.Table.from_batches(pending, schema=schema)


def _release_unused_memory() -> None:
    """Hands the memory Arrow's allocator kept after frees back to the system.

    Arrow's default allocator (mimalloc) keeps freed memory for later allocations. Kept across
    row groups, what it keeps grows in steps with the groups written, so a file of a million
    records peaked higher than one of a hundred thousand. Once a group (65,536 rows by default)
    the call costs nothing next to encoding the group.
    """
    pa.default_memory_pool().release_unused()


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def write_parquet_file(
    batches: Iterable[pa.RecordBatch],
    schema: pa.Schema,
    destination: Path,
    *,
    compression: str,
    row_group_size: int,
) -> None:
    """Writes one Parquet file with row groups of ``row_group_size`` rows."""
    import pyarrow.parquet as pq

    with pq.ParquetWriter(str(destination), schema, compression=compression) as writer:
        for table in rechunk(batches, schema, row_group_size):
            writer.write_table(table, row_group_size=row_group_size)
            del table  # before the next group is gathered, not after
            _release_unused_memory()
    _fsync_file(destination)


def write_parquet_dataset(
    batches: Iterable[pa.RecordBatch],
    schema: pa.Schema,
    destination: Path,
    *,
    partition_cols: Sequence[str],
    compression: str,
    row_group_size: int,
    rows: int,
) -> None:
    """Writes a Hive-partitioned directory of Parquet files (``col=value/part-0.parquet``).

    With no rows there are no partitions, so the directory gets one empty file holding the
    schema (and the provenance) at its top level.
    """
    import pyarrow.dataset as ds

    destination.mkdir()
    if not rows:
        write_parquet_file(
            (),
            schema,
            destination / "part-0.parquet",
            compression=compression,
            row_group_size=row_group_size,
        )
        fsync_tree(destination)
        return
    partition_schema = pa.schema([schema.field(name) for name in partition_cols])
    groups = (
        batch
        for table in rechunk(batches, schema, row_group_size)
        for batch in table.combine_chunks().to_batches()
    )
    ds.write_dataset(
        pa.RecordBatchReader.from_batches(schema, groups),
        destination,
        format="parquet",
        partitioning=ds.partitioning(partition_schema, flavor="hive"),
        basename_template="part-{i}.parquet",
        file_options=ds.ParquetFileFormat().make_write_options(compression=compression),
        max_rows_per_group=row_group_size,
        existing_data_behavior="overwrite_or_ignore",
    )
    fsync_tree(destination)


def _is_nested(kind: pa.DataType) -> bool:
    return pa.types.is_nested(kind) or pa.types.is_dictionary(kind)


def json_default(value: Any) -> Any:
    """Encodes the Python values Arrow hands out that JSON has no type for."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return value.isoformat()
        return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, float) and not math.isfinite(value):
        return None
    raise TypeError(f"Cannot encode a {type(value).__name__} as JSON")


def _iso_timestamps(array: pa.Array) -> pa.Array:
    kind = array.type
    if kind.tz is None:
        return pc.strftime(array, format=_ISO_LOCAL)
    return pc.strftime(array.cast(pa.timestamp(kind.unit, "UTC")), format=_ISO_UTC)


def _finite_or_null(array: pa.Array) -> pa.Array:
    # JSON has no NaN or Infinity; null is the honest equivalent.
    not_finite = pc.invert(pc.is_finite(array))
    return pc.if_else(not_finite, pa.scalar(None, array.type), array)


def _text_column(array: pa.Array) -> pa.Array:
    """A column as CSV can hold it: lists and structs as JSON text, timestamps as ISO-8601."""
    kind = array.type
    if pa.types.is_timestamp(kind):
        return _iso_timestamps(array)
    if _is_nested(kind):
        return pa.array(
            [
                None if v is None else json.dumps(v, ensure_ascii=False, default=json_default)
                for v in array.to_pylist()
            ],
            pa.string(),
        )
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return pa.array([json_default(v) if v is not None else None for v in array.to_pylist()])
    return array


def _csv_schema(schema: pa.Schema) -> pa.Schema:
    fields = []
    for field in schema:
        kind = field.type
        textual = (
            pa.types.is_timestamp(kind)
            or _is_nested(kind)
            or pa.types.is_binary(kind)
            or pa.types.is_large_binary(kind)
        )
        fields.append(field.with_type(pa.string()) if textual else field)
    return pa.schema(fields)


def write_csv(batches: Iterable[pa.RecordBatch], schema: pa.Schema, destination: Path) -> None:
    """Writes CSV with a header of the final columns (lists and structs as JSON text)."""
    import pyarrow.csv as pcsv

    csv_schema = _csv_schema(schema)
    with pcsv.CSVWriter(str(destination), csv_schema) as writer:
        for batch in batches:
            columns = [_text_column(column) for column in batch.columns]
            writer.write_batch(pa.RecordBatch.from_arrays(columns, schema=csv_schema))
    _fsync_file(destination)


def _json_column(array: pa.Array) -> list[Any]:
    kind = array.type
    if pa.types.is_timestamp(kind):
        return _iso_timestamps(array).to_pylist()
    if pa.types.is_floating(kind):
        return _finite_or_null(array).to_pylist()
    return array.to_pylist()


def write_jsonl(batches: Iterable[pa.RecordBatch], destination: Path) -> None:
    """Writes one JSON object per record, every object with every column (null when absent)."""
    with open(destination, "w", encoding="utf-8", newline="\n") as handle:
        for batch in batches:
            names = batch.schema.names
            columns = [_json_column(column) for column in batch.columns]
            for values in zip(*columns, strict=True):
                handle.write(
                    json.dumps(
                        dict(zip(names, values, strict=True)),
                        ensure_ascii=False,
                        separators=(",", ":"),
                        default=json_default,
                    )
                )
                handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
