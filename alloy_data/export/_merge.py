"""Combining a pull's new rows with the Parquet file it updates: merge by key, or append.

The new rows are spooled and checkpointed like any export; only the final render differs.
It streams the existing file a row group at a time, leaves out the rows that new versions
replace, and adds the new rows, so memory holds one row group and the new rows' keys.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from alloy_data.errors import ConfigurationError, ExportError
from alloy_data.export._base import _merge_schemas
from alloy_data.export._remote import Remote
from alloy_data.export._spool import Spool
from alloy_data.export._writers import ParquetWriter
from alloy_data.frames import align_batch, without_null_parents
from alloy_data.incremental import parse_moment, to_iso

WRITE_MODES = ("replace", "merge", "append")
#: The provenance key of an incremental dataset's state: cursor field, key, high-water mark.
INCREMENTAL_KEY = "incremental"


def _by_batch(positions: Iterable[tuple[int, int]]) -> dict[int, list[int]]:
    """(batch, row) positions as the sorted rows of each batch."""
    rows: dict[int, list[int]] = {}
    for index, row in positions:
        rows.setdefault(index, []).append(row)
    return {index: sorted(chosen) for index, chosen in rows.items()}


def _key_of(columns: Sequence[list[Any]], row: int) -> Any:
    if len(columns) == 1:
        return columns[0][row]
    return tuple(column[row] for column in columns)


class MergingParquetWriter(ParquetWriter):
    """A :class:`ParquetWriter` that updates the file at ``path`` instead of replacing it.

    Args:
        path: The Parquet file to update (created when missing).
        mode: ``"merge"``: a new version of a primary key replaces the old row, other rows
            stay as they are. ``"append"``: every version is kept; a row already in the file
            (same key and cursor value) is not added twice.
        primary_key: The key columns (dotted names, as in the table).
        cursor_field: The column that grows when a record changes; among new rows with the
            same key, the one with the latest value wins.
        state: The incremental state to keep in the file's provenance (cursor field, key,
            the mark before this run); the mark is raised to the newest cursor value written.
        overwrite: For ``"replace"``: replace an existing file (the update modes always do).
        compression: As for :class:`ParquetWriter`.
        row_group_size: As for :class:`ParquetWriter`.
        metadata: As for :class:`ParquetWriter`.
        resume: As for :class:`ParquetWriter`.
        fingerprint: As for :class:`ParquetWriter`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        mode: str,
        primary_key: Sequence[str],
        cursor_field: str,
        state: Mapping[str, Any],
        overwrite: bool = False,
        compression: str | None = "zstd",
        row_group_size: int | None = None,
        metadata: dict[str, str] | None = None,
        resume: bool = False,
        fingerprint: str = "",
    ) -> None:
        if mode not in WRITE_MODES:
            raise ConfigurationError(
                f"Unknown mode {mode!r}: use 'replace', 'merge' (a new version of a record "
                "replaces the old) or 'append' (every version is kept)."
            )
        super().__init__(
            path,
            overwrite=overwrite or mode != "replace",
            compression=compression,
            row_group_size=row_group_size,
            metadata=metadata,
            resume=resume,
            fingerprint=fingerprint,
        )
        self.mode = mode
        self.primary_key = tuple(primary_key)
        self.cursor_field = cursor_field
        self.state = dict(state)
        self.high_water_mark: float | None = parse_moment(state.get("high_water_mark"))

    @property
    def seed_schema(self) -> pa.Schema | None:
        """The existing file's columns, which the new rows are converted to (merge, append)."""
        existing = None if self.mode == "replace" else self._existing()
        return None if existing is None else existing.schema_arrow.remove_metadata()

    def _more_provenance(self) -> dict[str, str]:
        if not self.state:
            return {}
        state = {**self.state, "mode": self.mode}
        state["high_water_mark"] = (
            None if self.high_water_mark is None else to_iso(self.high_water_mark)
        )
        return {INCREMENTAL_KEY: json.dumps(state, sort_keys=True)}

    def _raise_mark(self, cursors: list[Any]) -> None:
        for value in cursors:
            moment = parse_moment(value)
            mark = self.high_water_mark
            if moment is not None and (mark is None or moment > mark):
                self.high_water_mark = moment

    def _existing(self) -> pq.ParquetFile | None:
        if not self.path.is_file():
            return None
        try:
            return pq.ParquetFile(self.path)
        except (OSError, pa.ArrowException) as error:
            raise ExportError(
                f"Cannot read {self.path} to update it ({error}). Write to a new path, or pass "
                "mode='replace' with overwrite=True to start it again."
            ) from error

    def _check_columns(self, schema: pa.Schema, where: str) -> None:
        wanted = [*self.primary_key, self.cursor_field]
        missing = [name for name in wanted if schema.get_field_index(name) < 0]
        if missing:
            raise ExportError(
                f"Cannot {self.mode} into {self.path}: {where} has no column "
                f"{', '.join(missing)}. The columns are: {', '.join(schema.names) or '(none)'}. "
                "Check Incremental(cursor_field=..., primary_key=...)."
            )

    def _output(
        self, spool: Spool, schema: pa.Schema
    ) -> tuple[pa.Schema, Iterator[pa.RecordBatch], int]:
        new_schema = _merge_schemas(spool.state.schema, schema)
        existing = None if self.mode == "replace" else self._existing()
        old_schema = None if existing is None else existing.schema_arrow.remove_metadata()
        final_schema = without_null_parents(_merge_schemas(old_schema, new_schema))
        wanted = [*self.primary_key, self.cursor_field]
        if self.mode == "replace" and any(new_schema.get_field_index(n) < 0 for n in wanted):
            # A plain export whose rows lack the cursor or key is still an export: it is
            # written whole, without a mark to update it from.
            self.state = {}
            return super()._output(spool, schema)
        if spool.state.rows:
            self._check_columns(new_schema, "the new rows")
        if existing is not None and existing.metadata.num_rows:
            self._check_columns(old_schema or final_schema, "the file")
        winners = self._new_rows(spool)
        drop: dict[int, list[int]] = {}
        if existing is not None and winners:
            if self.mode == "merge":
                drop = self._rows_matching(existing, set(winners))
            else:  # append: the versions the file holds already are not added again
                present = self._present(existing, set(winners))
                winners = {key: at for key, at in winners.items() if key not in present}
        chosen = _by_batch(winners.values())
        old_rows = 0 if existing is None else existing.metadata.num_rows
        rows = old_rows - sum(len(rows) for rows in drop.values()) + len(winners)
        batches = self._combined(existing, final_schema, drop, spool, chosen)
        return final_schema, batches, rows

    def _identity(self, keys: list[list[Any]], cursors: list[Any], row: int) -> Any:
        """What makes a row the same row: its key (merge), or its key and version (append)."""
        key = _key_of(keys, row)
        if self.mode == "append":
            return (key, parse_moment(cursors[row]))
        return key

    def _columns(self, table: pa.Table | pa.RecordBatch) -> tuple[list[list[Any]], list[Any]]:
        if not table.num_rows:  # an empty page may have no columns at all
            return [[] for _ in self.primary_key], []
        keys = [table.column(name).to_pylist() for name in self.primary_key]
        return keys, table.column(self.cursor_field).to_pylist()

    def _new_rows(self, spool: Spool) -> dict[Any, tuple[int, int]]:
        """The spooled rows to write, by identity: where each is (batch, row).

        Among rows of the same identity, the one with the latest cursor value wins, and of
        equal ones the later: it is the newer answer. Without a primary key every row is its
        own identity.
        """
        winners: dict[Any, tuple[int, int, float]] = {}
        for index, batch in enumerate(spool.iter_batches()):
            keys, cursors = self._columns(batch)
            self._raise_mark(cursors)
            for row in range(batch.num_rows):
                if not self.primary_key:
                    winners[(index, row)] = (index, row, 0.0)
                    continue
                identity = self._identity(keys, cursors, row)
                moment = parse_moment(cursors[row])
                moment = float("-inf") if moment is None else moment
                best = winners.get(identity)
                if best is None or moment >= best[2]:
                    winners[identity] = (index, row, moment)
        return {identity: (index, row) for identity, (index, row, _) in winners.items()}

    def _rows_matching(
        self, existing: pq.ParquetFile, identities: set[Any]
    ) -> dict[int, list[int]]:
        """Per row group of the existing file, the rows whose identity is among the new ones."""
        found: dict[int, list[int]] = {}
        if not identities:
            return found
        if self.mode == "merge" and len(self.primary_key) == 1:
            return self._keys_matching(existing, identities)
        columns = [*self.primary_key, self.cursor_field]
        for group in range(existing.num_row_groups):
            keys, cursors = self._columns(existing.read_row_group(group, columns=columns))
            rows = [
                row
                for row in range(len(cursors))
                if self._identity(keys, cursors, row) in identities
            ]
            if rows:
                found[group] = rows
        return found

    def _keys_matching(
        self, existing: pq.ParquetFile, identities: set[Any]
    ) -> dict[int, list[int]]:
        """:meth:`_rows_matching` for a key of one column, in Arrow rather than Python."""
        (name,) = self.primary_key
        found: dict[int, list[int]] = {}
        wanted = pa.array([key for key in identities if key is not None])
        for group in range(existing.num_row_groups):
            column = existing.read_row_group(group, columns=[name]).column(name)
            try:
                values = wanted.cast(column.type) if wanted.type != column.type else wanted
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                return {}  # keys of another type match no row of the file
            rows = pc.indices_nonzero(pc.is_in(column, value_set=values)).to_pylist()
            if rows:
                found[group] = rows
        return found

    def _present(self, existing: pq.ParquetFile, identities: set[Any]) -> set[Any]:
        """Which of ``identities`` (key and version) the existing file already holds."""
        present: set[Any] = set()
        columns = [*self.primary_key, self.cursor_field]
        for group in range(existing.num_row_groups):
            keys, cursors = self._columns(existing.read_row_group(group, columns=columns))
            present.update(
                identity
                for row in range(len(cursors))
                if (identity := self._identity(keys, cursors, row)) in identities
            )
        return present

    def _new_batches(
        self, spool: Spool, schema: pa.Schema, winners: dict[int, list[int]]
    ) -> Iterator[pa.RecordBatch]:
        for index, batch in enumerate(spool.iter_batches()):
            rows = winners.get(index)
            if not rows:
                continue
            chosen = (
                batch if len(rows) == batch.num_rows else batch.take(pa.array(rows, pa.int64()))
            )
            yield align_batch(chosen, schema)

    def _combined(
        self,
        existing: pq.ParquetFile | None,
        schema: pa.Schema,
        drop: dict[int, list[int]],
        spool: Spool,
        winners: dict[int, list[int]],
    ) -> Iterator[pa.RecordBatch]:
        if existing is not None:
            for group in range(existing.num_row_groups):
                table = existing.read_row_group(group).replace_schema_metadata(None)
                dropped = drop.get(group)
                if dropped:
                    keep = pc.invert(
                        pc.is_in(pa.array(range(table.num_rows)), pa.array(dropped, pa.int64()))
                    )
                    table = table.filter(keep)
                for batch in table.to_batches():
                    yield align_batch(batch, schema)
        yield from self._new_batches(spool, schema, winners)


def read_incremental_state(path: Path | Remote) -> dict[str, Any] | None:
    """The incremental state (cursor field, key, high-water mark) kept in a Parquet file's
    provenance, local or in an object store; None when the file is missing or was not written
    incrementally."""
    from alloy_data.export._remote import read_remote_metadata
    from alloy_data.export._writers import _decode_provenance, read_metadata

    if isinstance(path, Path):
        if not path.is_file():
            return None
        provenance = read_metadata(path)
    else:
        if not path.exists() or path.is_dir():
            return None
        provenance = _decode_provenance(read_remote_metadata(path).metadata or {}, path)
    text = provenance.get(INCREMENTAL_KEY)
    if not text:
        return None
    try:
        state = json.loads(text)
    except ValueError:
        return None
    return state if isinstance(state, dict) else None
