"""A pull's rows as a parent table and child tables, in memory or as one dataset per table."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alloy_data.errors import ConfigurationError, ExportError

if TYPE_CHECKING:
    import pyarrow as pa

    from alloy_data.options import PullOptions

__all__ = [
    "STAGING_NAME",
    "check_tables_export",
    "export_tables",
    "key_candidates",
    "shape_rows",
    "split_pull_tables",
    "table_name",
    "write_tables",
]

#: The staged pull inside a tables export's directory, until its tables are published. Its
#: name starts with an underscore, as does its checkpoint's, so readers of the directory skip it.
STAGING_NAME = "_pull.parquet"

# Candidate key columns, in order, when the pull has no incremental primary key.
_ID_COLUMNS = ("id", "Id", "ID")


def shape_rows(options: PullOptions) -> list[tuple[str, str]]:
    """The rows of a pull's display that say its columns and flattening."""
    depth = "" if options.flatten_depth is None else f", depth {options.flatten_depth}"
    columns = ", ".join(options.columns) if options.columns else "all"
    return [("columns", columns), ("flatten", f"{options.flatten}{depth}")]


def table_name(action_id: str) -> str:
    """The parent table's name from the action's: ``list-orders`` -> ``orders``."""
    name = re.sub(r"^(list|get|fetch|search)[-_]", "", action_id)
    return re.sub(r"[^0-9A-Za-z_]+", "_", name).strip("_") or "records"


def split_pull_tables(
    table: pa.Table, action_id: str, options: PullOptions, tags: Sequence[str] = ()
) -> dict[str, pa.Table]:
    """The pull's ``table`` as its parent table and one child table per list of objects.

    The parent's key is the incremental primary key, else an ``id`` column, when that is never
    null and unique (with ``tags``, a pull of many credentials' user and credential columns);
    otherwise each row's position, as ``_row``.
    """
    from alloy_data.frames import split_tables, table_key

    key = table_key(table, key_candidates(table.column_names, options), tags)
    return split_tables(
        table, table_name(action_id), key, tags=tags, structs=options.flatten == "struct"
    )


def key_candidates(column_names: Sequence[str], options: PullOptions) -> list[str]:
    """The columns that may key the parent table: the ``incremental=`` primary key, else the
    first of ``id``, ``Id``, ``ID`` among ``column_names`` (``id`` when none is)."""
    incremental = options.incremental
    if incremental is not None and incremental.keys:
        return list(incremental.keys)
    return [next((c for c in _ID_COLUMNS if c in column_names), "id")]


def check_tables_export(*, partition_cols: Sequence[str] | None, mode: str, target: Any) -> None:
    """Refuse what ``to_parquet(directory, tables=True)`` cannot do, before any fetch."""
    if partition_cols or mode != "replace":
        raise ConfigurationError(
            "to_parquet(directory, tables=True) writes every table anew from one run: leave "
            "out partition_cols and mode (write the parent table alone with to_parquet(path) "
            "for those)."
        )
    suffix = Path(str(getattr(target, "name", target))).suffix.lower()
    if suffix:
        raise ConfigurationError(
            f"to_parquet(..., tables=True) writes a directory with one dataset per table: name "
            f"a directory, not a {suffix} file."
        )


def export_tables(
    path: str | Path,
    *,
    stage: Callable[[Path], object],
    split: Callable[[pa.Table], dict[str, pa.Table]],
    identity: str,
    resume: bool,
    overwrite: bool,
    compression: str,
    storage_options: dict[str, Any] | None,
    metadata: Mapping[str, str],
) -> Path | str:
    """Pull into a staged Parquet file, then split it into tables and publish each one.

    The staged file (:data:`STAGING_NAME` inside the directory; for a URL, in its local staging
    folder) is written by ``stage`` through the resumable single-file export, so a run stopped
    part-way leaves its checkpoint there and ``resume=True`` continues after the last page
    saved. A staged file that is complete (a run stopped while publishing) and was staged for
    the same ``identity`` (the pull's fingerprint, kept beside it) is split again without a
    request. The staged file is removed once every table is published.

    Returns:
        The directory, or the URL for a URL other than ``file://``.
    """
    import pyarrow.parquet as pq

    from alloy_data.export import checkpoint_dir_for, resolve_target, staging_dir_for

    target = resolve_target(path, storage_options)
    if isinstance(target, Path):
        _check_directory(target)
        target.mkdir(exist_ok=True)
        staging = target / STAGING_NAME
    else:
        staging = staging_dir_for(target.url) / STAGING_NAME
        staging.parent.mkdir(parents=True, exist_ok=True)
    staged = resume and _staged_by(staging, identity)
    if not (overwrite or staged) and isinstance(target, Path):
        tables = sorted(p.name for p in target.iterdir() if not p.name.startswith(("_", ".")))
        if tables:
            raise ExportError(
                f"{target} already holds {', '.join(tables)}: pass overwrite=True to replace "
                "the tables, or choose an empty directory."
            )
    marker = staging.with_name(staging.name + ".identity")
    if not staged:
        marker.write_text(identity, encoding="utf-8")
        stage(staging)
    built = split(pq.read_table(staging))
    # The tables of a staged run are this export's own: one cut off while publishing is
    # replaced when the export is run again.
    written = write_tables(
        built,
        path,
        overwrite=overwrite or staged,
        compression=compression,
        storage_options=storage_options,
        metadata=metadata,
    )
    staging.unlink(missing_ok=True)
    marker.unlink(missing_ok=True)
    shutil.rmtree(checkpoint_dir_for(staging), ignore_errors=True)
    if not isinstance(target, Path):
        shutil.rmtree(staging.parent, ignore_errors=True)
    return written


def _check_directory(target: Path) -> None:
    if not target.parent.is_dir() or (target.exists() and not target.is_dir()):
        raise ExportError(
            f"Cannot write the tables under {target}: it must be a directory in an existing "
            "folder. Create the folder first, or choose another path."
        )


def _staged_by(staging: Path, identity: str) -> bool:
    """Whether ``staging`` is a complete staged file of the pull that ``identity`` names."""
    from alloy_data.export import checkpoint_dir_for

    marker = staging.with_name(staging.name + ".identity")
    if not staging.is_file() or checkpoint_dir_for(staging).exists() or not marker.is_file():
        return False
    return marker.read_text(encoding="utf-8") == identity


def write_tables(
    tables: Mapping[str, pa.Table],
    path: str | Path,
    *,
    overwrite: bool,
    compression: str,
    storage_options: dict[str, Any] | None,
    metadata: Mapping[str, str],
) -> Path | str:
    """Write each table as a dataset of its own under ``path`` (``path/orders/``,
    ``path/orders__line_items/``), each published whole: its part, its manifest, ``_SUCCESS``.

    Returns:
        The directory, or the URL for a URL other than ``file://``.
    """
    from alloy_data.export import DatasetPublisher, ParquetWriter, resolve_target

    target = resolve_target(path, storage_options)
    if isinstance(target, Path):
        _check_directory(target)
        target.mkdir(exist_ok=True)
    publishers = {
        name: DatasetPublisher(
            target / name if isinstance(target, Path) else target.child(name),
            overwrite=overwrite,
        )
        for name in tables
    }
    for name, table in tables.items():
        publisher = publishers[name]
        publisher.open()

        def write(local: Path, table: pa.Table = table, name: str = name) -> dict[str, Any]:
            writer = ParquetWriter(
                local, overwrite=True, compression=compression, metadata={}, fingerprint=name
            )
            writer.open()
            try:
                writer.write_page(1, table, schema=table.schema, next_parameters=None)
                writer.finish(schema=table.schema, metadata={**metadata, "table": name})
            except BaseException:
                writer.abort()
                # The table is in memory: nothing to resume, so no checkpoint is left.
                shutil.rmtree(writer.checkpoint_dir, ignore_errors=True)
                raise
            return {"table": name}

        part = publisher.write_part(f"{name}.parquet", write)
        publisher.publish([part], extra={**metadata, "table": name})
    return target if isinstance(target, Path) else target.url
