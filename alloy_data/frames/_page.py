"""One page of records to a flat, typed record batch (see :mod:`alloy_data.frames`)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

TIMESTAMP = pa.timestamp("us", tz="UTC")
# What pyarrow raises for Python values it cannot infer or convert.
_ARROW_CONVERSION_ERRORS = (pa.ArrowException, OverflowError, TypeError, ValueError)
# A failed cast costs about a millisecond, so only columns whose first value looks like a
# date and a time are cast; the cast itself decides.
_LOOKS_LIKE_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d")
# Objects nested deeper than this stay JSON text in one column: flattening recurses once per
# level, and a few hundred levels would exhaust the interpreter's stack.
MAX_DEPTH = 64


@dataclass
class Page:
    """A converted page and what the conversion had to give up on."""

    batch: pa.RecordBatch
    # Columns whose values disagreed inside the page, now text: name -> the type they had.
    conflicts: dict[str, str]
    # Paths that mixed objects or lists with other values: JSON text from now on.
    json_paths: set[str]
    # Whether two columns got the same name, so that one was renamed with a suffix.
    renamed: bool = False


def json_text(value: Any) -> str | None:
    """A value as it goes into a string column: strings as they are, the rest as JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def utf8_text(text: str) -> str:
    """``text`` with lone surrogates (a JSON ``"\\ud800"``), which UTF-8 cannot hold, written
    as the escapes they came as."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode()
    return text


def _string_array(values: Sequence[Any]) -> pa.Array:
    texts = [json_text(v) for v in values]
    try:
        return pa.array(texts, pa.string())
    except UnicodeEncodeError:
        return pa.array([None if t is None else utf8_text(t) for t in texts], pa.string())


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


class PageConverter:
    """Turns one page of records into a flat, typed record batch."""

    def __init__(
        self, json_paths: frozenset[str], string_columns: frozenset[str], *, structs: bool = False
    ) -> None:
        self._json_paths = json_paths
        # flatten="struct": a top-level object stays one struct column.
        self._structs = structs
        # Columns already known to be strings gain nothing from timestamp detection.
        self._string_columns = string_columns
        self._names: list[str] = []
        self._arrays: list[pa.Array] = []
        self._conflicts: dict[str, str] = {}
        self._new_json_paths: set[str] = set()

    def convert(self, records: Sequence[Any]) -> Page:
        rows = list(records)
        if not all(type(r) is dict for r in rows):
            rows = [r if isinstance(r, dict) else {"value": r} for r in rows]
        try:
            struct = pa.array(rows, type=None) if rows else pa.array([], pa.struct([]))
        except _ARROW_CONVERSION_ERRORS:
            self._emit_dicts("", rows, 1)
        else:
            if not pa.types.is_struct(struct.type):
                self._emit_dicts("", rows, 1)
            else:
                self._emit_struct("", struct, lambda: rows, 1)
        batch = self._build(len(rows))
        renamed = batch.num_columns != len(set(self._names))
        return Page(batch, self._conflicts, self._new_json_paths, renamed)

    def _build(self, num_rows: int) -> pa.RecordBatch:
        if not self._arrays:
            empty = pa.array([{}] * num_rows, pa.struct([]))
            return pa.RecordBatch.from_struct_array(empty)
        return pa.RecordBatch.from_arrays(self._arrays, names=_unique_names(self._names))

    def _emit_struct(self, prefix: str, struct: pa.StructArray, values: Any, depth: int) -> None:
        children = struct.flatten()
        for index, child in enumerate(children):
            key = struct.type.field(index).name
            path = f"{prefix}{key}"

            def child_values(key: str = key) -> list[Any]:
                return _child_values(values(), key)

            self._emit(path, child, child_values, depth)

    def _emit(self, path: str, array: pa.Array, values: Any, depth: int) -> None:
        kind = array.type
        if path in self._json_paths:
            self._add(path, _string_array(values()))
        elif pa.types.is_struct(kind) and depth >= MAX_DEPTH:
            self._new_json_paths.add(path)
            self._add(path, _string_array(values()))
        elif pa.types.is_struct(kind) and self._structs:
            kept = _without_empty_structs(array)
            if kept.type.num_fields:  # an empty object adds no column
                self._add(path, kept)
        elif pa.types.is_struct(kind):
            self._emit_struct(f"{path}.", array, values, depth + 1)
        elif pa.types.is_string(kind) and path not in self._string_columns:
            self._add(path, _parse_timestamps(array))
        else:
            self._add(path, array)

    def _add(self, path: str, array: pa.Array) -> None:
        self._names.append(utf8_text(path))
        self._arrays.append(array)

    def _emit_dicts(self, prefix: str, dicts: Sequence[Any], depth: int) -> None:
        """Column by column, for pages that pyarrow cannot infer in one go."""
        keys: dict[Any, None] = {}
        for record in dicts:
            if isinstance(record, dict):
                keys.update(dict.fromkeys(record))
        for key in keys:
            self._emit_values(f"{prefix}{key}", _child_values(dicts, key), depth)

    def _emit_values(self, path: str, values: list[Any], depth: int) -> None:
        if path not in self._json_paths:
            try:
                array = pa.array(values)
            except _ARROW_CONVERSION_ERRORS:
                pass
            else:
                self._emit(path, array, lambda: values, depth)
                return
        present = [v for v in values if v is not None]
        if present and path not in self._json_paths:
            if self._structs and all(isinstance(v, dict) for v in present):
                # Objects whose fields disagree in type cannot be one struct: JSON text.
                self._conflicts[path] = "struct"
                self._new_json_paths.add(path)
            elif not all(isinstance(v, dict) for v in present):
                self._conflicts[path] = _describe_mix(present)
                if any(isinstance(v, (dict, list)) for v in present):
                    self._new_json_paths.add(path)
            elif depth < MAX_DEPTH:
                self._emit_dicts(f"{path}.", values, depth + 1)
                return
            else:
                self._new_json_paths.add(path)
        self._add(path, _string_array(values))


def _without_empty_structs(array: pa.Array) -> pa.Array:
    """A struct array less its fields that hold only empty objects (Parquet cannot store a
    struct without fields; in dotted columns an empty object adds no column either)."""
    if not pa.types.is_struct(array.type):
        return array
    kept = [
        (array.type.field(i), _without_empty_structs(child))
        for i, child in enumerate(array.flatten())
    ]
    kept = [
        (f, child)
        for f, child in kept
        if not (pa.types.is_struct(child.type) and child.type.num_fields == 0)
    ]
    if len(kept) == array.type.num_fields and all(child.type == f.type for f, child in kept):
        return array
    return pa.StructArray.from_arrays(
        [child for _, child in kept],
        fields=[f.with_type(child.type) for f, child in kept],
        mask=array.is_null(),
    )


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
        return array.cast(TIMESTAMP)
    except _ARROW_CONVERSION_ERRORS:
        return array
