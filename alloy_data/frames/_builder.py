"""The table builder: pages of records into one Arrow table, then pandas."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa

from alloy_data.errors import ConfigurationError
from alloy_data.frames._bodies import BodyReader
from alloy_data.frames._epochs import EpochTimes
from alloy_data.frames._page import Page, PageConverter
from alloy_data.frames._shape import Shape, record_paths
from alloy_data.frames._widen import cast, unify

__all__ = ["SchemaDrift", "TableBuilder", "align_batch", "records_to_batch", "to_dataframe"]

_DTYPE_BACKENDS = ("numpy_nullable", "pyarrow")


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


def records_to_batch(records: Sequence[Any]) -> pa.RecordBatch:
    """Converts one page of records to a typed record batch, with no memory of other pages.

    Args:
        records: JSON-decoded records, usually dicts.

    Returns:
        A batch with one row per record and one flat column per dotted path.
    """
    return PageConverter(frozenset(), frozenset()).convert(records).batch


def without_null_parents(schema: pa.Schema) -> pa.Schema:
    """``schema`` less the null columns whose path other columns extend (``a.b`` beside
    ``a.b.c``).

    A page whose records all hold ``null`` where other pages hold an object flattens to one null
    column at the object's path; the object's own columns already say it is null there, so the
    table is the same whichever pages the records fell on.
    """
    names = schema.names
    parents = {name.rsplit(".", 1)[0] for name in names if "." in name}
    prefixes: set[str] = set()
    for parent in parents:
        parts = parent.split(".")
        prefixes.update(".".join(parts[:end]) for end in range(1, len(parts) + 1))
    dropped = [
        index
        for index, field in enumerate(schema)
        if pa.types.is_null(field.type) and field.name in prefixes
    ]
    if not dropped:
        return schema
    return pa.schema(
        [field for index, field in enumerate(schema) if index not in dropped],
        metadata=schema.metadata,
    )


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
    if extra and all(pa.types.is_null(batch.schema.field(name).type) for name in extra):
        # Null objects on a page where other pages had their fields (see without_null_parents).
        batch = batch.drop_columns(extra)
    elif extra:
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
            arrays.append(cast(batch.column(index), field.type))
    if not arrays:
        return batch
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


class TableBuilder:
    """Converts pages of records to batches and unifies their schemas into one table.

    Args:
        known_columns: Column names for an empty result (when no page had a record).
        keep_batches: Keep the converted batches for :meth:`to_table`. Pass ``False`` to
            track only the schema and drift (when the batches are written out as they come).
        schema: The unified schema of pages converted earlier (a resumed export's checkpoint),
            so that later pages widen it and report drift as one uninterrupted pull would.
        row_count: How many records those earlier pages held.
        epochs: Which number columns are epoch times to convert to UTC timestamps, page after
            page (by default none are).
        shape: The columns chosen and how nested objects flatten (by default every column,
            dotted).

    Attributes:
        drift: Columns that appeared after the first page or whose type widened, in order.
        row_count: Records converted so far.
    """

    def __init__(
        self,
        known_columns: Iterable[str] = (),
        *,
        keep_batches: bool = True,
        schema: pa.Schema | None = None,
        row_count: int = 0,
        epochs: EpochTimes | None = None,
        shape: Shape | None = None,
    ) -> None:
        self.shape = Shape() if shape is None else shape
        # The paths of the first records as they came, to name the closest to a wrong column.
        self._record_paths: set[str] = set()
        self._known_columns = tuple(known_columns)
        self.epochs = EpochTimes("off") if epochs is None else epochs
        self._keep_batches = keep_batches
        self._batches: list[pa.RecordBatch] = []
        self._types: dict[str, pa.DataType] = (
            {} if schema is None else dict(zip(schema.names, schema.types, strict=True))
        )
        self._json_paths: set[str] = set()
        self._drift_seen: set[tuple[str, str, str]] = set()
        self.drift: list[SchemaDrift] = []
        self.row_count = row_count

    @property
    def keeps_batches(self) -> bool:
        """Whether :meth:`to_table` can combine the converted batches by itself."""
        return self._keep_batches

    @property
    def schema(self) -> pa.Schema:
        """The schema unified over all pages so far, columns in the order first seen (or in
        the order the shape's columns were chosen, a chosen path that no record had as a null
        column)."""
        return self.shape.arrange(without_null_parents(pa.schema(list(self._types.items()))))

    def shape_notes(self) -> list[str]:
        """What the pull's stats say about the shape: chosen paths that no record had."""
        return self.shape.missing(pa.schema(list(self._types.items())), sorted(self._record_paths))

    def add_page(self, records: Sequence[Any], page_number: int) -> pa.RecordBatch:
        """Converts one page, widening the schema and recording drift.

        Args:
            records: The page's JSON-decoded records.
            page_number: The page's number, used in drift records.

        Returns:
            The page as a typed record batch (not yet aligned to the unified schema).
        """
        page = self._convert(records)
        # A path null on every record of the page is no conflict with an object seen before.
        crossed = self._object_scalar_conflicts(
            [f.name for f in page.batch.schema if not pa.types.is_null(f.type)]
        )
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
            unified = unify(old, field.type)
            if unified != old:
                self._types[field.name] = unified
                self._record(field.name, page_number, str(old), str(unified))
        self.row_count += page.batch.num_rows
        if self._keep_batches:
            self._batches.append(page.batch)
        return page.batch

    def add_pages(self, pages: Sequence[tuple[Sequence[Any], int]]) -> list[pa.RecordBatch]:
        """Converts several pages, as one batch when that gives what page by page would.

        Converting a few thousand records at once costs less than converting them page by
        page. It is done when the result cannot differ: the schema is known from earlier pages,
        and the combined batch adds no column, widens no type and has no values that disagree.
        Otherwise the pages are converted one by one with :meth:`add_page`, so that drift is
        recorded on the page where it happened.

        Args:
            pages: ``(records, page_number)`` for each page, in order.

        Returns:
            The batches: one for all the pages, or one per page.
        """
        if len(pages) > 1 and self.row_count and self._types:
            combined = self._convert_raw([record for records, _ in pages for record in records])
            clean = not (combined.conflicts or combined.json_paths or combined.renamed)
            # Epoch columns decide on the page where they start, so a chunk that would decide
            # one goes page by page.
            batch = self.epochs.convert_decided(combined.batch) if clean else None
            if batch is not None and self._add_unchanging(batch):
                return [batch]
        return [self.add_page(records, number) for records, number in pages]

    def add_bodies(
        self,
        bodies: Sequence[bytes],
        counts: Sequence[int],
        *,
        payload_key: str | None,
        records_path: str,
    ) -> pa.RecordBatch | None:
        """Adds pages read straight from their answers' bytes, when that changes nothing.

        Once earlier pages have fixed the columns, pages can be read by Arrow's JSON reader with
        those types declared, outside the interpreter lock. A value of another type, a new
        field or anything else the declared types do not cover makes this refuse; the pages
        must then go through :meth:`add_pages`, which records the drift. What it accepts is
        what :meth:`add_pages` would have produced.

        Args:
            bodies: Each page's answer, as received.
            counts: How many records pagination found on each page.
            payload_key: The envelope's key that holds the payload, or None (see
                :class:`~alloy_data.pagination.Page`).
            records_path: Where the records are in the payload.

        Returns:
            The pages as one batch (not yet aligned to the unified schema), or None when the
            pages were not added.
        """
        readable, chosen_only = self.shape.reads_bytes(self._types)
        if not self.row_count or self._json_paths or not readable:
            return None
        reader = BodyReader.for_pages(
            self.epochs.raw_types(self._types),
            payload_key,
            records_path,
            chosen_only=chosen_only,
        )
        batch = None if reader is None else reader.read(bodies, counts)
        if batch is not None:
            batch = self.epochs.convert_decided(batch)
        return batch if batch is not None and self._add_unchanging(batch) else None

    def _add_unchanging(self, batch: pa.RecordBatch) -> bool:
        for field in batch.schema:
            known = self._types.get(field.name)
            if known is None or unify(known, field.type) != known:
                return False
        self.row_count += batch.num_rows
        if self._keep_batches:
            self._batches.append(batch)
        return True

    def to_table(self, batches: Iterable[pa.RecordBatch] | None = None) -> pa.Table:
        """Builds the table of all pages, each aligned to the unified schema.

        Args:
            batches: The batches to combine; by default the ones this builder converted.

        Returns:
            A table with the unified schema (widened further if given batches have columns or
            types this builder has not seen). With no rows, its columns are the ones seen, or
            else the known columns, and a column that was only ever null is a string column.
        """
        if batches is None and not self._keep_batches and self.row_count:
            raise ConfigurationError(
                "This TableBuilder was made with keep_batches=False, so it has no batches to "
                "combine: pass the batches to to_table(), or make it with keep_batches=True."
            )
        chosen = self._batches if batches is None else list(batches)
        schema = (
            self.schema
            if batches is None
            else self.shape.arrange(without_null_parents(_covering_schema(self._types, chosen)))
        )
        if not any(b.num_rows for b in chosen):
            return self._empty_table(schema)
        return pa.Table.from_batches([align_batch(b, schema) for b in chosen], schema=schema)

    def _empty_table(self, schema: pa.Schema) -> pa.Table:
        if not len(schema):
            schema = pa.schema([(name, pa.string()) for name in self._known_columns])
        fields = [pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f for f in schema]
        return pa.schema(fields).empty_table()

    def _convert(self, records: Sequence[Any]) -> Page:
        page = self._convert_raw(records)
        page.batch = self.epochs.convert(page.batch)
        return page

    def _convert_raw(self, records: Sequence[Any]) -> Page:
        strings = frozenset(n for n, t in self._types.items() if pa.types.is_string(t))
        if self.shape.changes_records:
            if self.shape.columns is not None and not self._record_paths:
                self._record_paths = record_paths(records)
            records = self.shape.records(records)
        converter = PageConverter(frozenset(self._json_paths), strings, structs=self.shape.structs)
        return converter.convert(records)

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


def _covering_schema(types: dict[str, pa.DataType], batches: list[pa.RecordBatch]) -> pa.Schema:
    covering = dict(types)
    for batch in batches:
        for field in batch.schema:
            known = covering.get(field.name)
            covering[field.name] = field.type if known is None else unify(known, field.type)
    return pa.schema(list(covering.items()))


def to_dataframe(
    table: pa.Table, dtype_backend: str = "numpy_nullable", *, release: bool = False
) -> pd.DataFrame:
    """Converts a table to a pandas DataFrame with nullable dtypes.

    Args:
        table: A table, usually from :meth:`TableBuilder.to_table`.
        dtype_backend: ``"numpy_nullable"`` for pandas' nullable dtypes (``Int64``,
            ``boolean``, ``Float64``, ``string``; timestamps as ``datetime64[us, UTC]``; lists
            as object columns holding NumPy arrays) or ``"pyarrow"`` for ``pd.ArrowDtype`` columns.
        release: Free each column of ``table`` as soon as it is converted, so that the table
            and the DataFrame are not both held in full; ``table`` must not be used afterwards.

    Returns:
        The DataFrame, one column per table column.

    Raises:
        ConfigurationError: If ``dtype_backend`` is not one of the two choices.
    """
    options = {"self_destruct": True, "split_blocks": True} if release else {}
    if dtype_backend == "pyarrow":
        return table.to_pandas(types_mapper=pd.ArrowDtype, **options)
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
        return table.to_pandas(types_mapper=nullable.get, **options)
    choices = " or ".join(repr(c) for c in _DTYPE_BACKENDS)
    raise ConfigurationError(f"Unknown dtype_backend {dtype_backend!r}: choose {choices}.")
