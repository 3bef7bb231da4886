"""Fitting batches to a schema declared before them, the values that do not fit kept as JSON.

An Arrow stream declares its schema before its first batch, but records gain fields and change
types after that. A table can widen its schema at the end (:class:`TableBuilder`); a stream
cannot. So a stream's batches are fitted to the schema it declared: a value that the declared
column holds as it is stays there, and every other value (a column the schema lacks, or a value
of a type the column cannot hold without changing it) goes, with its column's name, into one
JSON text column, :data:`LATE_FIELDS`. Nothing is dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from alloy_data.frames._widen import _unify_clean, cast

__all__ = ["LATE_FIELDS", "LateFields", "holds", "stream_schema"]

#: The column of a stream that holds, per row, the values its declared schema could not hold:
#: a JSON object of column name to value, or null when there were none.
LATE_FIELDS = "_late_fields"


def holds(declared: pa.DataType, actual: pa.DataType) -> bool:
    """Whether a column declared as ``declared`` holds values of type ``actual`` unchanged.

    Integers fit a float column and null fits anything; a float does not fit an integer column,
    nor a number a string column (it would become text), nor a list of objects a list whose
    objects lack some of its fields.
    """
    return _unify_clean(declared, actual) == declared


def stream_schema(schema: pa.Schema, declared: Iterable[tuple[str, pa.DataType]] = ()) -> pa.Schema:
    """The schema a stream declares: ``schema`` (the first page's), then the columns of
    ``declared`` it lacks, then :data:`LATE_FIELDS`."""
    fields = [field for field in schema if field.name != LATE_FIELDS]
    seen = {field.name for field in fields}
    fields += [pa.field(name, kind) for name, kind in declared if name not in seen]
    return pa.schema([*fields, pa.field(LATE_FIELDS, pa.string())])


class LateFields:
    """Fits batches to a stream's declared schema (see the module's docstring).

    Args:
        schema: The declared schema; :data:`LATE_FIELDS` is its last column or is added.

    Attributes:
        columns: Each column some of whose values went to :data:`LATE_FIELDS`, with how many,
            in the order first seen.
    """

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema if schema.names[-1:] == [LATE_FIELDS] else stream_schema(schema)
        self.columns: dict[str, int] = {}

    def fit(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """Return ``batch`` with the declared schema: columns it lacks are null, values that do
        not fit their declared column are null there and kept in :data:`LATE_FIELDS`."""
        arrays: list[pa.Array] = []
        late: dict[str, pa.Array] = {}
        for field in self.schema:
            if field.name == LATE_FIELDS:
                continue
            index = batch.schema.get_field_index(field.name)
            if index < 0:
                arrays.append(pa.nulls(batch.num_rows, field.type))
                continue
            column = batch.column(index)
            if holds(field.type, column.type):
                arrays.append(cast(column, field.type))
            else:
                late[field.name] = column
                arrays.append(pa.nulls(batch.num_rows, field.type))
        declared = set(self.schema.names)
        for index, name in enumerate(batch.schema.names):
            if name not in declared and batch.schema.field(index).type != pa.null():
                late[name] = batch.column(index)
        earlier = batch.schema.get_field_index(LATE_FIELDS)
        arrays.append(
            self._late_column(batch.num_rows, late, None if earlier < 0 else batch.column(earlier))
        )
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def _late_column(
        self, rows: int, late: dict[str, pa.Array], earlier: pa.Array | None
    ) -> pa.Array:
        if not late:
            return pa.nulls(rows, pa.string()) if earlier is None else cast(earlier, pa.string())
        objects: list[dict[str, Any]] = [{} for _ in range(rows)]
        if earlier is not None:  # a batch fitted before, to another schema
            for row, text in enumerate(earlier.to_pylist()):
                if text:
                    objects[row].update(json.loads(text))
        for name, column in late.items():
            found = 0
            for row, value in enumerate(column.to_pylist()):
                if value is not None:
                    objects[row][name] = value
                    found += 1
            if found:
                self.columns[name] = self.columns.get(name, 0) + found
        texts = [
            json.dumps(values, ensure_ascii=False, default=_json_default) if values else None
            for values in objects
        ]
        return pa.array(texts, pa.string())


def _json_default(value: Any) -> Any:
    isoformat = getattr(value, "isoformat", None)
    if isoformat is not None:  # datetimes and dates, as ISO-8601 text
        return isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return str(value)
