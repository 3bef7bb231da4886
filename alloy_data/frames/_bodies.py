"""Pages' JSON bytes straight to one Arrow batch, outside the interpreter lock.

Converting decoded records (Python dicts) to Arrow holds the interpreter lock, so it cannot run
while the next pages are fetched. Arrow's own JSON reader parses bytes in C++ without it. Once
earlier pages have fixed a pull's columns and types, later pages are read with exactly those
types declared: a value of another type, a field not seen before or an integer too large for
its column makes the reader refuse, and the pages are converted from their records as usual
(:meth:`alloy_data.frames.TableBuilder.add_pages`). What this path accepts is therefore what
that path would have produced, only sooner.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from alloy_data.frames._page import TIMESTAMP

__all__ = ["BodyReader"]

# Everything the reader can refuse with; any of them means "convert these pages from records".
_REFUSALS = (pa.ArrowException, ValueError, TypeError, KeyError, IndexError, OverflowError)


def _nested_fields(types: Mapping[str, pa.DataType]) -> list[pa.Field] | None:
    """The records' nested fields for flat dotted columns, or None when names are ambiguous.

    Timestamps are declared as strings: the reader would guess them its own way, and the cast
    afterwards is the one page-by-page conversion does.
    """
    tree: dict[str, Any] = {}
    for name, kind in types.items():
        parts = name.split(".")
        if "" in parts:
            return None
        node = tree
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                return None  # a column and an object of the same name
            node = child
        if parts[-1] in node:
            return None
        node[parts[-1]] = pa.string() if kind == TIMESTAMP else kind

    def fields(node: dict[str, Any]) -> list[pa.Field]:
        return [
            pa.field(key, pa.struct(fields(value)) if isinstance(value, dict) else value)
            for key, value in node.items()
        ]

    return fields(tree)


def _without_empty_objects(kind: pa.DataType) -> pa.DataType:
    """A struct type without its fields that hold only empty objects (which add no column)."""
    if not pa.types.is_struct(kind):
        return kind
    kept = []
    for field in kind:
        inner = _without_empty_objects(field.type)
        if pa.types.is_struct(inner) and inner.num_fields == 0:
            continue
        kept.append(field.with_type(inner))
    return pa.struct(kept)


class BodyReader:
    """Reads the records of whole answer bodies into one flat batch with known types.

    Args:
        types: The pull's columns so far (dotted names) and their types.
        records_path: Where the records are in each body, as path segments from the body's
            root; a segment ending in ``[]`` is a list whose items the path continues into.
    """

    def __init__(
        self,
        types: Mapping[str, pa.DataType],
        records_path: Sequence[str],
        *,
        chosen_only: bool = False,
    ) -> None:
        self._types = dict(types)
        self._chosen_only = chosen_only
        self._path = list(records_path)
        fields = _nested_fields(types)
        self._record_type = None if fields is None else pa.struct(fields)
        self.schema = None if fields is None else self._body_schema(self._record_type)

    @classmethod
    def for_pages(
        cls,
        types: Mapping[str, pa.DataType],
        envelope: str | None,
        records_path: str,
        *,
        chosen_only: bool = False,
    ) -> BodyReader | None:
        """A reader for pages whose records are at ``records_path`` in their payload.

        Args:
            types: The pull's columns so far and their types.
            envelope: The body's key that holds the payload (``"data"``), or None when the
                payload is the whole body.
            records_path: The records' path in the payload, as pagination found it.
            chosen_only: The columns are the ones a pull chose (``columns=``): the records'
                other fields are left out as they are read, not a reason to refuse.

        Returns:
            The reader, or None when the columns or the path are beyond what it can declare.
        """
        if not types or not records_path or "(" in records_path:
            return None
        segments = records_path.split(".")
        if envelope is not None and segments[0] == "[]":
            # The payload is the list itself, as in the Alloy API's {"data": [...]} answers: a
            # list at the end of the path holds the records, one before the end their parents.
            segments[0] = envelope if len(segments) == 1 else f"{envelope}[]"
        elif envelope is not None:
            segments.insert(0, envelope)
        lists = sum(s.endswith("[]") for s in segments)
        if any(not s.removesuffix("[]") for s in segments) or lists > 1:
            return None
        if segments[-1].endswith("[]"):
            return None  # a list of lists
        reader = cls(types, segments, chosen_only=chosen_only)
        return reader if reader.schema is not None else None

    def _is_list(self, position: int) -> bool:
        """Whether the path's segment at ``position`` is the list that holds the records."""
        segment = self._path[position]
        if segment.endswith("[]"):
            return True
        return position == len(self._path) - 1 and not any(s.endswith("[]") for s in self._path)

    def _body_schema(self, record_type: pa.DataType) -> pa.Schema:
        # Built from the records outwards to the body's root.
        kind: pa.DataType = record_type
        field = pa.field("", kind)
        for position in reversed(range(len(self._path))):
            key = self._path[position].removesuffix("[]")
            field = pa.field(key, pa.list_(kind) if self._is_list(position) else kind)
            kind = pa.struct([field])
        return pa.schema([field])

    def read(self, bodies: Sequence[bytes], counts: Sequence[int]) -> pa.RecordBatch | None:
        """Read the records of ``bodies`` (one per page) into one batch.

        Args:
            bodies: Each page's whole answer, as received.
            counts: How many records each page has, as pagination found them.

        Returns:
            A batch of every page's records, columns named and typed as the known columns,
            or None when the reader refuses (the pages must then be converted from records).
        """
        if self.schema is None or len(bodies) != len(counts):
            return None
        newlines = any(b"\n" in body for body in bodies)
        try:
            table = pa_json.read_json(
                io.BytesIO(b"\n".join(bodies)),
                # Each page is one line, and a block must hold the longest line. One thread:
                # Arrow's pool would add 15 MB or so of per-thread memory for no gain on two
                # cores, where the calling thread and the server need the other core.
                read_options=pa_json.ReadOptions(
                    block_size=max(1 << 20, *map(len, bodies)) + 1, use_threads=False
                ),
                parse_options=pa_json.ParseOptions(
                    explicit_schema=self.schema,
                    # Fields beside the records (paging, totals) are read and left; a field new
                    # inside the records shows in their type, which is checked below.
                    # With chosen columns, the records' other fields are not even parsed.
                    unexpected_field_behavior="ignore" if self._chosen_only else "infer",
                    newlines_in_values=newlines,
                ),
            )
            if table.num_rows != len(bodies):
                return None
            records = self._records(table.combine_chunks(), counts)
            if records is None:
                return None
            return self._flat_batch(records)
        except _REFUSALS:
            return None

    def _records(self, table: pa.Table, counts: Sequence[int]) -> pa.StructArray | None:
        current: Any = table.column(self._path[0].removesuffix("[]")).chunk(0)
        lengths: list[int] | None = None
        for position, segment in enumerate(self._path):
            if position:
                if current.null_count:
                    return None  # pagination read a page with a null object here otherwise
                current = current.field(segment.removesuffix("[]"))
            if self._is_list(position):
                if current.null_count:
                    return None
                lengths = pc.list_value_length(current).to_pylist()
                current = current.flatten()
        if lengths != list(counts) or _without_empty_objects(current.type) != self._record_type:
            return None  # a new field inside the records, or records pagination did not take
        if current.null_count:
            return None  # pagination makes a null record a record of its own kind
        return current

    def _flat_batch(self, records: pa.StructArray) -> pa.RecordBatch:
        names: list[str] = []
        arrays: list[pa.Array] = []

        def add(prefix: str, struct: pa.StructArray) -> None:
            for index, child in enumerate(struct.flatten()):
                name = f"{prefix}{struct.type.field(index).name}"
                if pa.types.is_struct(child.type) and name not in self._types:
                    add(f"{name}.", child)
                    continue
                if self._types[name] == TIMESTAMP:
                    child = child.cast(TIMESTAMP)  # noqa: PLW2901 - the column as typed
                names.append(name)
                arrays.append(child)

        add("", records)
        return pa.RecordBatch.from_arrays(arrays, names=names)
