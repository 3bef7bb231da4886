"""The analyst's shape of a pull: the columns chosen and how nested objects are flattened.

Records are shaped as dicts, before any Arrow conversion: a pull of 5 columns out of 60 converts
and holds only those 5. The unified schema is then put in the order the columns were chosen,
with a column of nulls for a chosen path that no record had.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from alloy_data.frames._page import json_text

__all__ = ["FLATTEN_MODES", "Shape", "record_paths"]

#: ``flatten=``: nested objects as dotted columns, as struct columns, or as JSON text.
FLATTEN_MODES = ("dotted", "struct", "json")

# A chosen path that takes the whole value found there (an object with all its fields).
_WHOLE: dict[str, Any] = {}


def _tree(paths: Sequence[str]) -> dict[str, Any]:
    """The chosen paths as nested dicts; an empty dict takes the whole value."""
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        parts = path.split(".")
        for position, part in enumerate(parts):
            last = position == len(parts) - 1
            child = node.get(part)
            if child is _WHOLE:
                break  # a shorter path already takes the whole value
            if last:
                node[part] = _WHOLE
            else:
                node = node.setdefault(part, {})
    return tree


def _project(record: dict[str, Any], tree: dict[str, Any]) -> dict[str, Any]:
    chosen: dict[str, Any] = {}
    for key, sub in tree.items():
        if key not in record:
            continue
        value = record[key]
        if sub is _WHOLE or not isinstance(value, dict):
            # Not an object where the path goes on: kept as it is, so that it converts as it
            # would without columns= (a conflict becomes JSON text, a null stays null).
            chosen[key] = value
        else:
            chosen[key] = _project(value, sub)
    return chosen


def _cut(value: Any, level: int, depth: int) -> Any:
    """``value`` with objects nested deeper than ``depth`` as JSON text (lists add no level)."""
    if isinstance(value, dict):
        if level > depth:
            return json_text(value)
        return {key: _cut(item, level + 1, depth) for key, item in value.items()}
    if isinstance(value, list):
        return [_cut(item, level, depth) for item in value]
    return value


@dataclass(frozen=True)
class Shape:
    """Which columns a pull keeps and how nested objects become columns.

    Args:
        columns: Dotted paths to keep (``"customer.email"``; ``"customer"`` keeps the whole
            object), in the order the table shows them; None keeps every column.
        flatten: ``"dotted"``: nested objects' fields become top-level dotted columns.
            ``"struct"``: each top-level object stays one struct column. ``"json"``: each
            top-level object or list becomes one column of JSON text.
        depth: With ``"dotted"`` or ``"struct"``: objects nested deeper than this many levels
            (lists add none) are kept as JSON text; None: no limit.
    """

    columns: tuple[str, ...] | None = None
    flatten: str = "dotted"
    depth: int | None = None
    _tree: dict[str, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_tree", _tree(self.columns or ()))

    @property
    def changes_records(self) -> bool:
        """Whether records are reshaped before they are converted."""
        return self.columns is not None or self.depth is not None or self.flatten == "json"

    @property
    def structs(self) -> bool:
        """Whether nested objects stay struct columns."""
        return self.flatten == "struct"

    def reads_bytes(self, types: dict[str, pa.DataType]) -> tuple[bool, bool]:
        """Whether pages can be read straight from their bytes with these columns' ``types``,
        and whether fields beside the chosen columns are then left out by the reader.

        That reader gives flat dotted columns of the records as they are: it serves the
        default flattening, and chosen columns that are all known, flat columns (a later field
        inside a chosen object would otherwise be left out).
        """
        if self.flatten != "dotted" or self.depth is not None:
            return False, False
        if self.columns is None:
            return True, False
        return all(path in types for path in self.columns), True

    def records(self, records: Sequence[Any]) -> list[Any]:
        """The records as they are converted: chosen columns only, nesting cut at the depth."""
        shaped = list(records)
        if self.columns is not None:
            shaped = [_project(r, self._tree) if isinstance(r, dict) else r for r in shaped]
        if self.flatten == "json":
            shaped = [
                {
                    key: json_text(value) if isinstance(value, (dict, list)) else value
                    for key, value in r.items()
                }
                if isinstance(r, dict)
                else r
                for r in shaped
            ]
        elif self.depth is not None:
            depth = self.depth
            shaped = [
                {key: _cut(value, 1, depth) for key, value in r.items()}
                if isinstance(r, dict)
                else r
                for r in shaped
            ]
        return shaped

    def arrange(self, schema: pa.Schema) -> pa.Schema:
        """``schema`` in the order the columns were chosen, with a null column for each chosen
        path that no column holds (unchanged when every column is kept)."""
        if self.columns is None:
            return schema
        names = schema.names
        fields: list[pa.Field] = []
        placed: set[str] = set()
        for path in self.columns:
            matched = [name for name in names if name not in placed and self._holds(name, path)]
            if not matched and not self._covered(path, placed):
                fields.append(pa.field(self._column_of(path), pa.null()))
                placed.add(self._column_of(path))
            for name in matched:
                fields.append(schema.field(name))
                placed.add(name)
        fields += [f for f in schema if f.name not in placed]
        return pa.schema(fields, metadata=schema.metadata)

    def missing(self, schema: pa.Schema, record_paths: Sequence[str] = ()) -> list[str]:
        """The chosen paths that no record had, each with the closest of ``record_paths`` (the
        paths the records had before they were cut to the chosen ones)."""
        if self.columns is None:
            return []
        known = list(_paths(schema))
        notes = []
        for path in self.columns:
            if any(p == path or p.startswith(f"{path}.") for p in known):
                continue
            if self.flatten == "json" and path.split(".", 1)[0] in known:
                continue  # inside JSON text
            close = difflib.get_close_matches(path, list(record_paths), n=3)
            hint = f" (the closest: {', '.join(close)})" if close else ""
            notes.append(
                f"columns: no record had a value at {path!r}, so its column holds only nulls{hint}"
            )
        return notes

    def _column_of(self, path: str) -> str:
        return path if self.flatten == "dotted" else path.split(".", 1)[0]

    def _holds(self, name: str, path: str) -> bool:
        if self.flatten == "dotted":
            return name == path or name.startswith(f"{path}.")
        return name == path.split(".", 1)[0]

    def _covered(self, path: str, placed: set[str]) -> bool:
        """Whether a column already placed holds ``path`` (``customer`` chosen before
        ``customer.email``)."""
        if self.flatten != "dotted":
            return path.split(".", 1)[0] in placed
        return any(path.startswith(f"{name}.") or name.startswith(f"{path}.") for name in placed)


def record_paths(records: Sequence[Any], limit: int = 100) -> set[str]:
    """The dotted paths into objects that the first ``limit`` records hold."""
    paths: set[str] = set()

    def walk(prefix: str, value: dict[str, Any]) -> None:
        for key, item in value.items():
            path = f"{prefix}{key}"
            paths.add(path)
            if isinstance(item, dict):
                walk(f"{path}.", item)

    for record in records[:limit]:
        if isinstance(record, dict):
            walk("", record)
    return paths


def _paths(schema: pa.Schema) -> Iterator[str]:
    """Every path the schema's columns hold: dotted names, and the fields inside structs."""

    def walk(name: str, kind: pa.DataType) -> Iterator[str]:
        yield name
        if pa.types.is_struct(kind):
            for child in kind:
                yield from walk(f"{name}.{child.name}", child.type)

    for column in schema:
        if pa.types.is_null(column.type):
            continue
        yield from walk(column.name, column.type)
        parts = column.name.split(".")
        yield from (".".join(parts[:end]) for end in range(1, len(parts)))
