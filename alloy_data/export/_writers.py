"""Writers for Parquet, CSV and JSON Lines, opening one by suffix, and reading provenance."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from alloy_data._tuning import DEFAULT_ROW_GROUP_SIZE
from alloy_data.errors import ConfigurationError, ExportError
from alloy_data.export._base import Checkpoint, _SpoolingWriter, checked_path
from alloy_data.export._formats import (
    write_csv,
    write_jsonl,
    write_parquet_dataset,
    write_parquet_file,
)

__all__ = [
    "METADATA_KEY",
    "Checkpoint",
    "CsvWriter",
    "JsonlWriter",
    "ParquetWriter",
    "open_writer",
    "read_metadata",
]

METADATA_KEY = "alloy_data"
"""The Parquet footer key under which the provenance is stored, as one JSON object."""

_COMPRESSIONS = ("zstd", "snappy", "gzip", "brotli", "lz4", "none")


def _with_provenance(schema: pa.Schema, provenance: dict[str, str]) -> pa.Schema:
    metadata = dict(schema.metadata or {})
    metadata[METADATA_KEY.encode()] = json.dumps(
        provenance, ensure_ascii=False, sort_keys=True
    ).encode()
    return schema.with_metadata(metadata)


class ParquetWriter(_SpoolingWriter):
    """Streams pages into a Parquet file, or a Hive-partitioned dataset directory.

    Args:
        path: The target file (or directory, with ``partition_cols``).
        overwrite: Replace an existing target (only once the new output is complete).
        compression: ``"zstd"`` (default), ``"snappy"``, ``"gzip"``, ``"brotli"``, ``"lz4"``
            or ``"none"``.
        row_group_size: Rows per row group (default 65,536); memory holds about one group.
        partition_cols: Write a directory partitioned by these columns (``col=value/``).
        metadata: Provenance (strings to strings) stored as JSON in the footer under
            ``"alloy_data"``; :meth:`finish` adds more and ``row_count``.
        resume: Continue the checkpoint an interrupted export with the same ``fingerprint``
            left beside ``path``.
        fingerprint: The identity of the pull (connector, action, parameters).

    Raises:
        ConfigurationError: For an unknown compression, a row group size below 1 or
            metadata that is not strings.
    """

    kind = "parquet"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        overwrite: bool = False,
        compression: str | None = "zstd",
        row_group_size: int | None = None,
        partition_cols: Sequence[str] | None = None,
        metadata: Mapping[str, str] | None = None,
        resume: bool = False,
        fingerprint: str = "",
    ) -> None:
        super().__init__(
            path, overwrite=overwrite, metadata=metadata, resume=resume, fingerprint=fingerprint
        )
        chosen = "none" if compression is None else str(compression).lower()
        if chosen not in _COMPRESSIONS:
            raise ConfigurationError(
                f"Unknown Parquet compression {compression!r}: choose one of "
                f"{', '.join(_COMPRESSIONS)}."
            )
        if row_group_size is not None and (
            isinstance(row_group_size, bool)
            or not isinstance(row_group_size, int)
            or row_group_size < 1
        ):
            raise ConfigurationError(
                f"row_group_size must be a positive number of rows, not {row_group_size!r}."
            )
        if isinstance(partition_cols, str):
            partition_cols = [partition_cols]
        self.compression = chosen
        self.row_group_size = row_group_size or DEFAULT_ROW_GROUP_SIZE
        self.partition_cols = list(partition_cols or [])

    @property
    def writes_directory(self) -> bool:
        """Whether the output is a partitioned dataset directory rather than one file."""
        return bool(self.partition_cols)

    def _check_schema(self, schema: pa.Schema) -> None:
        missing = [name for name in self.partition_cols if schema.get_field_index(name) < 0]
        if missing:
            raise ExportError(
                f"Cannot partition by {', '.join(missing)}: no such column. The columns are: "
                f"{', '.join(schema.names) or '(none)'}."
            )

    def _render(
        self,
        batches: Iterator[pa.RecordBatch],
        schema: pa.Schema,
        provenance: dict[str, str],
        destination: Path,
        rows: int,
    ) -> None:
        schema = _with_provenance(schema, provenance)
        if self.partition_cols:
            write_parquet_dataset(
                batches,
                schema,
                destination,
                partition_cols=self.partition_cols,
                compression=self.compression,
                row_group_size=self.row_group_size,
                rows=rows,
            )
        else:
            write_parquet_file(
                batches,
                schema,
                destination,
                compression=self.compression,
                row_group_size=self.row_group_size,
            )


class CsvWriter(_SpoolingWriter):
    """Streams pages into a CSV file whose header is the final unified schema.

    Lists and structs are written as JSON text and timestamps as ISO-8601 (``...Z`` for UTC).
    CSV has no place for provenance: ``metadata`` is accepted for a uniform call and ignored.

    Args:
        path: The target file.
        overwrite: Replace an existing target (only once the new file is complete).
        metadata: Ignored (kept so that every writer takes the same options).
        resume: Continue the checkpoint an interrupted export left beside ``path``.
        fingerprint: The identity of the pull (connector, action, parameters).
    """

    kind = "csv"

    def _render(
        self,
        batches: Iterator[pa.RecordBatch],
        schema: pa.Schema,
        provenance: dict[str, str],
        destination: Path,
        rows: int,
    ) -> None:
        write_csv(batches, schema, destination)


class JsonlWriter(_SpoolingWriter):
    """Streams pages into a JSON Lines file: one JSON object per record.

    Every object has every column of the final schema (``null`` where a record has no value);
    keys are the flat, dotted column names; timestamps are ISO-8601 UTC (``...Z``); NaN and
    infinities become ``null``. ``metadata`` is accepted for a uniform call and ignored.

    Args:
        path: The target file.
        overwrite: Replace an existing target (only once the new file is complete).
        metadata: Ignored (kept so that every writer takes the same options).
        resume: Continue the checkpoint an interrupted export left beside ``path``.
        fingerprint: The identity of the pull (connector, action, parameters).
    """

    kind = "jsonl"

    def _render(
        self,
        batches: Iterator[pa.RecordBatch],
        schema: pa.Schema,
        provenance: dict[str, str],
        destination: Path,
        rows: int,
    ) -> None:
        write_jsonl(batches, destination)


_WRITERS: dict[str, type[_SpoolingWriter]] = {
    ".parquet": ParquetWriter,
    ".pq": ParquetWriter,
    ".csv": CsvWriter,
    ".jsonl": JsonlWriter,
    ".ndjson": JsonlWriter,
}


def open_writer(
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    metadata: Mapping[str, str] | None = None,
    resume: bool = False,
    fingerprint: str = "",
    compression: str | None = None,
    row_group_size: int | None = None,
    partition_cols: Sequence[str] | None = None,
) -> ParquetWriter | CsvWriter | JsonlWriter:
    """Makes the writer that the file's suffix calls for.

    Args:
        path: The target; ``.parquet``/``.pq``, ``.csv`` or ``.jsonl``/``.ndjson`` (any case).
            A path without a suffix is a Parquet dataset directory when ``partition_cols`` is
            given.
        overwrite: Replace a file that is already there.
        metadata: Provenance for the Parquet footer (strings; no secrets).
        resume: Continue the export an interrupted run left (its checkpoint).
        fingerprint: The pull's identity; a checkpoint of another pull is not resumed.
        compression: Parquet only: the codec (default zstd; ``"none"`` for none).
        row_group_size: Parquet only: rows a row group.
        partition_cols: Parquet only: write a dataset directory partitioned by these columns.

    Returns:
        An unopened :class:`ParquetWriter`, :class:`CsvWriter` or :class:`JsonlWriter`.

    Raises:
        ConfigurationError: For another suffix, or a Parquet option given for another format.
    """
    suffix = checked_path(path).suffix.lower()
    writer_class = _WRITERS.get(suffix)
    if writer_class is None and not suffix and partition_cols:
        writer_class = ParquetWriter
    if writer_class is None:
        raise ConfigurationError(
            f"Cannot tell the format of {os.fspath(path)!r} from its suffix: use one of "
            f"{', '.join(_WRITERS)}."
        )
    common: dict[str, Any] = {
        "overwrite": overwrite,
        "metadata": metadata,
        "resume": resume,
        "fingerprint": fingerprint,
    }
    parquet_only: dict[str, Any] = {
        "compression": compression,
        "row_group_size": row_group_size,
        "partition_cols": partition_cols,
    }
    if writer_class is ParquetWriter:
        given = {name: value for name, value in parquet_only.items() if value is not None}
        return ParquetWriter(path, **common, **given)
    unsupported = [name for name, value in parquet_only.items() if value is not None]
    if unsupported:
        raise ConfigurationError(
            f"{', '.join(unsupported)} apply only to Parquet, not to {suffix} files."
        )
    return CsvWriter(path, **common) if writer_class is CsvWriter else JsonlWriter(path, **common)


def _first_parquet_file(directory: Path) -> Path | None:
    for current, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        for name in sorted(files):
            if name.endswith((".parquet", ".pq")) and not name.startswith((".", "_")):
                return Path(current) / name
    return None


def read_metadata(
    path: str | os.PathLike[str], *, storage_options: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """Reads the provenance that a :class:`ParquetWriter` stored in a file's footer.

    Args:
        path: A Parquet file, or a partitioned dataset directory (its first file is read); or
            the URL of either (``s3://bucket/orders.parquet``, ``file:///...``).
        storage_options: For a URL: the filesystem's options (credentials, endpoint), as
            pandas takes them. Never shown in errors.

    Returns:
        The provenance: what the pull supplied (connector, action, parameters, ...) plus
        ``row_count``, all strings.

    Raises:
        ExportError: If the path is missing, is not Parquet, or has no alloy-data provenance.
        ConfigurationError: For a URL whose filesystem is not installed (saying what to
            install), or ``storage_options`` with a plain path.
    """
    import pyarrow.parquet as pq

    from alloy_data.export._remote import Remote, read_remote_metadata, resolve_target

    resolved = resolve_target(path, storage_options)
    if isinstance(resolved, Remote):
        return _decode_provenance(read_remote_metadata(resolved).metadata or {}, resolved)
    location = resolved
    if location.is_dir():
        found = _first_parquet_file(location)
        if found is None:
            raise ExportError(f"{location} holds no Parquet files.")
        location = found
    elif not location.exists():
        raise ExportError(f"{location} does not exist.")
    try:
        metadata = pq.read_schema(location).metadata or {}
    except (OSError, pa.ArrowException) as error:
        raise ExportError(
            f"Cannot read {location} as Parquet ({error}); provenance is stored only in Parquet "
            "files."
        ) from error
    return _decode_provenance(metadata, location)


def _decode_provenance(metadata: Mapping[bytes, bytes], location: object) -> dict[str, str]:
    raw = metadata.get(METADATA_KEY.encode())
    if raw is None:
        raise ExportError(
            f"{location} has no alloy-data provenance (no {METADATA_KEY!r} key in its footer); "
            "it was not written by alloy-data."
        )
    try:
        decoded = json.loads(raw)
    except ValueError as error:
        raise ExportError(f"The provenance in {location} is not valid JSON: {error}.") from error
    if not isinstance(decoded, dict):
        raise ExportError(f"The provenance in {location} is not a JSON object.")
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in decoded.items()}
