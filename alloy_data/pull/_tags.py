"""Constant columns on every row (a pull of many credentials tags each with its user and
credential), laid out last, replacing a record field of the same name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["tagged_batch", "tagged_schema", "tagged_table"]


def tagged_schema(schema: pa.Schema, tags: Mapping[str, str]) -> pa.Schema:
    """``schema`` with a string column for each tag, last (replacing one of the same name)."""
    if not tags:
        return schema
    import pyarrow as pa

    kept = [field for field in schema if field.name not in tags]
    return pa.schema([*kept, *(pa.field(name, pa.string()) for name in tags)])


def tagged_batch(batch: pa.RecordBatch, tags: Mapping[str, str]) -> pa.RecordBatch:
    """``batch`` with each tag's value in every row, as :func:`tagged_schema` lays it out."""
    if not tags:
        return batch
    import pyarrow as pa

    names = [name for name in batch.schema.names if name not in tags]
    arrays = [batch.column(name) for name in names]
    arrays += [pa.repeat(pa.scalar(value, pa.string()), batch.num_rows) for value in tags.values()]
    return pa.RecordBatch.from_arrays(arrays, schema=tagged_schema(batch.schema, tags))


def tagged_table(table: pa.Table, tags: Mapping[str, str]) -> pa.Table:
    """``table`` with each tag's value in every row, as :func:`tagged_schema` lays it out."""
    if not tags:
        return table
    import pyarrow as pa

    for name, value in tags.items():
        if name in table.column_names:
            table = table.drop_columns([name])
        table = table.append_column(
            pa.field(name, pa.string()), pa.repeat(pa.scalar(value, pa.string()), table.num_rows)
        )
    return table
