"""Records to typed Arrow batches and tables, and to pandas DataFrames.

Each page of records (JSON-decoded dicts) becomes one :class:`pyarrow.RecordBatch`;
:class:`TableBuilder` unifies the pages' schemas into one table; :func:`to_dataframe` is a view
of that table in pandas.

How values are typed:

- Nested objects flatten to dotted column names at any depth (``customer.email``,
  ``shipping_address.geo.lat``). An empty object ``{}`` adds no column. Lists stay Arrow lists;
  objects inside lists are not flattened (a list of objects is ``list<struct>``).
- A string column whose every value is an ISO-8601 timestamp *with* an offset (``Z``,
  ``+00:00``, ``+02:00``, ``+0200``; ``T`` or a space before the time; up to microseconds)
  becomes ``timestamp[us, tz=UTC]``, converted to UTC. Strings without an offset, including
  date-only strings such as ``2024-05-01``, stay strings: they name no instant, and guessing a
  time zone would silently shift them. Strings that look numeric (``"19.99"``) stay strings.
- Integers and booleans with nulls stay ``int64`` and ``bool``.
- Records that are not objects become one column, ``value``. Keys that are not strings are
  stringified. When two columns of one page get the same name (a key literally ``"a.b"`` next
  to ``a: {b: ...}``), the later one gets a suffix: ``a.b_2`` (``_3``, ... if taken).
- When a column's values disagree, the column widens instead of failing: ``null`` to anything,
  ``int64`` to ``double``, lists and objects inside lists to their common type, and anything
  else to ``string``. In a string column, strings keep their text and every other value is
  JSON text (``5``, ``true``, ``{"b": 1}``, ``[1, 2]``); timestamps become ISO-8601 UTC text.
  A path that holds an object in some records and a scalar or list in others becomes one
  string column of JSON text from the page where that is first seen on; columns flattened
  from objects on earlier pages keep their values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from alloy_data.errors import AlloyError, ConfigurationError

__all__ = ["SchemaDrift", "TableBuilder", "align_batch", "records_to_batch", "to_dataframe"]

_TIMESTAMP = pa.timestamp("us", tz="UTC")
_DTYPE_BACKENDS = ("numpy_nullable", "pyarrow")
# What pyarrow raises for Python values it cannot infer or convert.
_ARROW_CONVERSION_ERRORS = (pa.ArrowException, OverflowError, TypeError, ValueError)
# A failed cast costs about a millisecond, so only columns whose first value looks like a
# date and a time are cast; the cast itself decides.
_LOOKS_LIKE_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d")


@dataclass(frozen=True)
class SchemaDrift:
    """A column that appeared after the first page, or whose type widened.

    Attributes:
        column: The column name.
        page: The page number on which the change was seen.
        old_type: The Arrow type before (``"absent"`` for a column new on this page).
        new_type: The Arrow type after.
    """

    column: str
    page: int
    old_type: str
    new_type: str

    def __str__(self) -> str:
        return f"{self.column}: page {self.page}, {self.old_type} -> {self.new_type}"


@dataclass
class _Page:
    batch: pa.RecordBatch
    # Columns whose values disagreed inside the page: name -> type of the first value.
    conflicts: dict[str, str]
    # Paths that mixed objects or lists with other values, now JSON text.
    json_paths: set[str]


def _json_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _python_type_name(value: Any) -> str:
    if isinstance(value, dict):
        return "struct"
    if isinstance(value, list):
        return "list"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


def _describe_mix(values: list[Any]) -> str:
    """The type a mixed column would have had, for its drift record: what is not text."""
    kinds = [_python_type_name(v) for v in values]
    for kind in ("struct", "list"):
        if kind in kinds:
            return kind
    return next((kind for kind in kinds if kind != "string"), "string")


def _child_values(values: Sequence[Any], key: str) -> list[Any]:
    return [v.get(key) if isinstance(v, dict) else None for v in values]


class _PageConverter:
    """Turns one page of records into a flat, typed record batch."""

    def __init__(self, json_paths: frozenset[str], string_columns: frozenset[str]) -> None:
        self._json_paths = json_paths
        # Columns already known to be strings gain nothing from timestamp detection.
        self._string_columns = string_columns
        self._names: list[str] = []
        self._arrays: list[pa.Array] = []
        self._conflicts: dict[str, str] = {}
        self._new_json_paths: set[str] = set()

    def convert(self, records: Sequence[Any]) -> _Page:
        rows = list(records)
        if not all(type(r) is dict for r in rows):
            rows = [r if isinstance(r, dict) else {"value": r} for r in rows]
        try:
            struct = pa.array(rows, type=None) if rows else pa.array([], pa.struct([]))
        except _ARROW_CONVERSION_ERRORS:
            self._emit_dicts("", rows)
        else:
            if not pa.types.is_struct(struct.type):
                self._emit_dicts("", rows)
            else:
                self._emit_struct("", struct, lambda: rows)
        return _Page(self._build(len(rows)), self._conflicts, self._new_json_paths)

    def _build(self, num_rows: int) -> pa.RecordBatch:
        if not self._arrays:
            empty = pa.array([{}] * num_rows, pa.struct([]))
            return pa.RecordBatch.from_struct_array(empty)
        return pa.RecordBatch.from_arrays(self._arrays, names=_unique_names(self._names))

    def _emit_struct(self, prefix: str, struct: pa.StructArray, values: Any) -> None:
        children = struct.flatten()
        for index, child in enumerate(children):
            key = struct.type.field(index).name
            path = f"{prefix}{key}"

            def child_values(key: str = key) -> list[Any]:
                return _child_values(values(), key)

            self._emit(path, child, child_values)

    def _emit(self, path: str, array: pa.Array, values: Any) -> None:
        kind = array.type
        if path in self._json_paths:
            self._add(path, pa.array([_json_text(v) for v in values()], pa.string()))
        elif pa.types.is_struct(kind):
            self._emit_struct(f"{path}.", array, values)
        elif pa.types.is_string(kind) and path not in self._string_columns:
            self._add(path, _parse_timestamps(array))
        else:
            self._add(path, array)

    def _add(self, path: str, array: pa.Array) -> None:
        self._names.append(path)
        self._arrays.append(array)

    def _emit_dicts(self, prefix: str, dicts: Sequence[Any]) -> None:
        """Column by column, for pages that pyarrow cannot infer in one go."""
        keys: dict[Any, None] = {}
        for record in dicts:
            if isinstance(record, dict):
                keys.update(dict.fromkeys(record))
        for key in keys:
            self._emit_values(f"{prefix}{key}", _child_values(dicts, key))

    def _emit_values(self, path: str, values: list[Any]) -> None:
        if path not in self._json_paths:
            try:
                array = pa.array(values)
            except _ARROW_CONVERSION_ERRORS:
                pass
            else:
                self._emit(path, array, lambda: values)
                return
        present = [v for v in values if v is not None]
        if present and path not in self._json_paths:
            if all(isinstance(v, dict) for v in present):
                self._emit_dicts(f"{path}.", values)
                return
            self._conflicts[path] = _describe_mix(present)
            if any(isinstance(v, (dict, list)) for v in present):
                self._new_json_paths.add(path)
        self._add(path, pa.array([_json_text(v) for v in values], pa.string()))


def _unique_names(names: list[str]) -> list[str]:
    if len(set(names)) == len(names):
        return names
    taken = set(names)
    seen: set[str] = set()
    unique = []
    for name in names:
        if name in seen:
            suffix = 2
            while f"{name}_{suffix}" in taken:
                suffix += 1
            name = f"{name}_{suffix}"  # noqa: PLW2901 - the renamed column is what we keep
            taken.add(name)
        seen.add(name)
        unique.append(name)
    return unique


def _parse_timestamps(array: pa.Array) -> pa.Array:
    first = array[0] if array.null_count == 0 else array.drop_null()[0]
    if not _LOOKS_LIKE_TIMESTAMP.match(first.as_py()):
        return array
    try:
        return array.cast(_TIMESTAMP)
    except _ARROW_CONVERSION_ERRORS:
        return array


def _unify(old: pa.DataType, new: pa.DataType) -> pa.DataType:
    """The narrowest type that holds values of both types, falling back to string."""
    unified = _unify_clean(old, new)
    return pa.string() if unified is None else unified


def _unify_clean(old: pa.DataType, new: pa.DataType) -> pa.DataType | None:
    if old == new:
        return old
    if pa.types.is_null(old):
        return new
    if pa.types.is_null(new):
        return old
    numbers = {pa.int64(), pa.float64()}
    if old in numbers and new in numbers:
        return pa.float64()
    if pa.types.is_list(old) and pa.types.is_list(new):
        item = _unify_clean(old.value_type, new.value_type)
        return None if item is None else pa.list_(item)
    if pa.types.is_struct(old) and pa.types.is_struct(new):
        fields = {f.name: f.type for f in old}
        for field in new:
            if field.name in fields:
                merged = _unify_clean(fields[field.name], field.type)
                if merged is None:
                    return None
                fields[field.name] = merged
            else:
                fields[field.name] = field.type
        return pa.struct(list(fields.items()))
    return None


def _cast(array: pa.Array, target: pa.DataType) -> pa.Array:
    if array.type == target:
        return array
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), target)
    if pa.types.is_string(target):
        if pa.types.is_timestamp(array.type):
            # Arrow writes "2024-05-01 08:00:00.000000Z"; ISO-8601 wants the "T".
            text = array.cast(pa.string())
            return pc.replace_substring(text, pattern=" ", replacement="T", max_replacements=1)
        if pa.types.is_struct(array.type) or pa.types.is_list(array.type):
            return pa.array([_json_text(v) for v in array.to_pylist()], pa.string())
    try:
        return array.cast(target)
    except pa.ArrowException:
        pass
    if pa.types.is_struct(target) and pa.types.is_struct(array.type):
        names = {f.name for f in array.type}
        children = [
            _cast(array.field(f.name), f.type) if f.name in names else pa.nulls(len(array), f.type)
            for f in target
        ]
        return pa.StructArray.from_arrays(children, fields=list(target), mask=array.is_null())
    if pa.types.is_list(target) and pa.types.is_list(array.type):
        items = _cast(array.values, target.value_type)
        offsets = array.offsets
        return pa.ListArray.from_arrays(offsets, items, mask=array.is_null())
    if pa.types.is_string(target):
        return pa.array([_json_text(v) for v in array.to_pylist()], pa.string())
    raise AlloyError(
        f"Cannot convert a column of type {array.type} to {target}. Align batches only to a "
        "schema built from them (TableBuilder.schema)."
    )


def records_to_batch(records: Sequence[Any]) -> pa.RecordBatch:
    """Converts one page of records to a typed record batch, with no memory of other pages.

    Args:
        records: JSON-decoded records, usually dicts.

    Returns:
        A batch with one row per record and one flat column per dotted path.
    """
    return _PageConverter(frozenset(), frozenset()).convert(records).batch


def align_batch(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """Conforms a batch to a wider schema.

    Args:
        batch: A batch converted from one page.
        schema: A schema that includes the batch's columns, such as ``TableBuilder.schema``.

    Returns:
        A batch with the schema's columns in the schema's order: columns the batch lacks are
        nulls, and columns whose type widened are cast.

    Raises:
        ConfigurationError: If the batch has columns that the schema does not.
    """
    extra = [name for name in batch.schema.names if schema.get_field_index(name) < 0]
    if extra:
        raise ConfigurationError(
            f"The batch has columns that the schema lacks: {', '.join(extra)}. Align batches to "
            "the schema of the TableBuilder that converted them."
        )
    if batch.schema.equals(schema):
        return batch
    arrays = []
    for field in schema:
        index = batch.schema.get_field_index(field.name)
        if index < 0:
            arrays.append(pa.nulls(batch.num_rows, field.type))
        else:
            arrays.append(_cast(batch.column(index), field.type))
    if not arrays:
        return batch
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


class TableBuilder:
    """Converts pages of records to batches and unifies their schemas into one table.

    Args:
        known_columns: Column names for an empty result (when no page had a record).
        keep_batches: Keep the converted batches for :meth:`to_table`. Pass ``False`` to
            track only the schema and drift (when the batches are written out as they come).

    Attributes:
        drift: Columns that appeared after the first page or whose type widened, in order.
        row_count: Records converted so far.
    """

    def __init__(self, known_columns: Iterable[str] = (), *, keep_batches: bool = True) -> None:
        self._known_columns = tuple(known_columns)
        self._keep_batches = keep_batches
        self._batches: list[pa.RecordBatch] = []
        self._types: dict[str, pa.DataType] = {}
        self._json_paths: set[str] = set()
        self._drift_seen: set[tuple[str, str, str]] = set()
        self.drift: list[SchemaDrift] = []
        self.row_count = 0

    @property
    def schema(self) -> pa.Schema:
        """The schema unified over all pages so far, columns in the order first seen."""
        return pa.schema(list(self._types.items()))

    def add_page(self, records: Sequence[Any], page_number: int) -> pa.RecordBatch:
        """Converts one page, widening the schema and recording drift.

        Args:
            records: The page's JSON-decoded records.
            page_number: The page's number, used in drift records.

        Returns:
            The page as a typed record batch (not yet aligned to the unified schema).
        """
        page = self._convert(records)
        crossed = self._object_scalar_conflicts(page.batch.schema.names)
        if crossed:
            # Re-convert so that the path holds JSON text on this page and every later one.
            self._json_paths.update(crossed)
            page = self._convert(records)
            page.conflicts = {**crossed, **page.conflicts}
        self._json_paths.update(page.json_paths)
        for column, first_type in page.conflicts.items():
            self._record(column, page_number, first_type, "string")
        for field in page.batch.schema:
            old = self._types.get(field.name)
            if old is None:
                self._types[field.name] = field.type
                if self.row_count and field.name not in page.conflicts:
                    self._record(field.name, page_number, "absent", str(field.type))
                continue
            unified = _unify(old, field.type)
            if unified != old:
                self._types[field.name] = unified
                self._record(field.name, page_number, str(old), str(unified))
        self.row_count += page.batch.num_rows
        if self._keep_batches:
            self._batches.append(page.batch)
        return page.batch

    def to_table(self, batches: Iterable[pa.RecordBatch] | None = None) -> pa.Table:
        """Builds the table of all pages, each aligned to the unified schema.

        Args:
            batches: The batches to combine; by default the ones this builder converted.

        Returns:
            A table with the unified schema. With no rows and no columns seen, its columns are
            the known columns (string typed); columns that were only ever null are strings too.
        """
        if batches is None and not self._keep_batches and self.row_count:
            raise ConfigurationError(
                "This TableBuilder was made with keep_batches=False, so it has no batches to "
                "combine: pass the batches to to_table(), or make it with keep_batches=True."
            )
        chosen = self._batches if batches is None else list(batches)
        schema = self.schema
        if not any(b.num_rows for b in chosen):
            return self._empty_table(schema)
        return pa.Table.from_batches([align_batch(b, schema) for b in chosen], schema=schema)

    def _empty_table(self, schema: pa.Schema) -> pa.Table:
        if not len(schema):
            schema = pa.schema([(name, pa.string()) for name in self._known_columns])
        fields = [pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f for f in schema]
        return pa.schema(fields).empty_table()

    def _convert(self, records: Sequence[Any]) -> _Page:
        strings = frozenset(n for n, t in self._types.items() if pa.types.is_string(t))
        return _PageConverter(frozenset(self._json_paths), strings).convert(records)

    def _object_scalar_conflicts(self, names: Sequence[str]) -> dict[str, str]:
        """Paths that held objects on earlier pages and something else now, or the reverse."""
        conflicts: dict[str, str] = {}
        for name in names:
            if name in self._types:
                continue
            if any(known.startswith(f"{name}.") for known in self._types):
                conflicts[name] = "struct"
            parts = name.split(".")
            for end in range(1, len(parts)):
                prefix = ".".join(parts[:end])
                known_type = self._types.get(prefix)
                if known_type is not None and not pa.types.is_null(known_type):
                    conflicts[prefix] = str(known_type)
        return conflicts

    def _record(self, column: str, page: int, old_type: str, new_type: str) -> None:
        key = (column, old_type, new_type)
        if old_type != new_type and key not in self._drift_seen:
            self._drift_seen.add(key)
            self.drift.append(SchemaDrift(column, page, old_type, new_type))


def to_dataframe(table: pa.Table, dtype_backend: str = "numpy_nullable") -> pd.DataFrame:
    """Converts a table to a pandas DataFrame with nullable dtypes.

    Args:
        table: A table, usually from :meth:`TableBuilder.to_table`.
        dtype_backend: ``"numpy_nullable"`` for pandas' nullable dtypes (``Int64``,
            ``boolean``, ``Float64``, ``string``; timestamps as ``datetime64[us, UTC]``; lists
            as object columns holding NumPy arrays) or ``"pyarrow"`` for ``pd.ArrowDtype`` columns.

    Returns:
        The DataFrame, one column per table column.

    Raises:
        ConfigurationError: If ``dtype_backend`` is not one of the two choices.
    """
    if dtype_backend == "pyarrow":
        return table.to_pandas(types_mapper=pd.ArrowDtype)
    if dtype_backend == "numpy_nullable":
        nullable = {
            pa.int8(): pd.Int8Dtype(),
            pa.int16(): pd.Int16Dtype(),
            pa.int32(): pd.Int32Dtype(),
            pa.int64(): pd.Int64Dtype(),
            pa.uint8(): pd.UInt8Dtype(),
            pa.uint16(): pd.UInt16Dtype(),
            pa.uint32(): pd.UInt32Dtype(),
            pa.uint64(): pd.UInt64Dtype(),
            pa.bool_(): pd.BooleanDtype(),
            pa.float32(): pd.Float32Dtype(),
            pa.float64(): pd.Float64Dtype(),
            pa.string(): pd.StringDtype(),
            pa.large_string(): pd.StringDtype(),
        }
        return table.to_pandas(types_mapper=nullable.get)
    choices = " or ".join(repr(c) for c in _DTYPE_BACKENDS)
    raise ConfigurationError(f"Unknown dtype_backend {dtype_backend!r}: choose {choices}.")
