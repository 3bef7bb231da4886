"""A pull's file sinks: Parquet (one file, a partitioned dataset, merged or appended) and CSV or
JSON Lines, on local disk or an object store, streamed with bounded memory and resumable."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from alloy_data.errors import AlloyError, ConfigurationError
from alloy_data.incremental import to_datetime
from alloy_data.pull._convert import add_note, convert_pages
from alloy_data.pull._run import PullRun
from alloy_data.pull._stats import PullStats
from alloy_data.pull._tags import tagged_batch, tagged_schema

if TYPE_CHECKING:
    import pyarrow as pa

    from alloy_data.export import Checkpoint, Remote
    from alloy_data.pagination import Page
    from alloy_data.pull._plan import Pull

__all__ = ["export_file", "export_parquet"]

logger = logging.getLogger("alloy_data.pull")

WriteMode = Literal["replace", "merge", "append"]

# Suffixes of the text formats that to_file writes, which to_parquet would mislabel.
_OTHER_FORMATS = (".csv", ".jsonl", ".ndjson", ".json")


def export_parquet(
    pull: Pull,
    path: str | Path,
    *,
    overwrite: bool,
    compression: str,
    row_group_size: int | None,
    partition_cols: list[str] | None,
    resume: bool,
    storage_options: dict[str, Any] | None,
    mode: WriteMode,
) -> Path | str:
    """Stream the pull into a Parquet file or dataset (see :meth:`Pull.to_parquet`).

    Returns:
        The path written, or the URL for a URL other than ``file://``.
    """
    from alloy_data.export import (
        ParquetWriter,
        RemoteDatasetWriter,
        RemoteFileWriter,
        resolve_target,
    )

    target = resolve_target(path, storage_options)
    suffix = Path(target.name if not isinstance(target, Path) else target).suffix.lower()
    if suffix in _OTHER_FORMATS:
        raise ConfigurationError(
            f"to_parquet writes Parquet, not {suffix} ({path}): name the file .parquet, or "
            "call to_file(path) to write the format its suffix names."
        )
    if mode != "replace" or (pull.options.incremental is not None and not partition_cols):
        return _export_incremental(
            pull,
            target,
            mode=mode,
            overwrite=overwrite,
            compression=compression,
            row_group_size=row_group_size,
            partition_cols=partition_cols,
            resume=resume,
        )
    run = PullRun(pull)

    def make(local: Path) -> ParquetWriter:
        return ParquetWriter(
            local,
            overwrite=overwrite or not isinstance(target, Path),
            compression=compression,
            row_group_size=row_group_size,
            partition_cols=partition_cols,
            resume=resume,
            fingerprint=pull.fingerprint(run.since),
        )

    if isinstance(target, Path):
        return _write(pull, run, make(target), resume=resume, keep=not partition_cols)
    # A dataset is many objects: uploaded under a temporary prefix, _SUCCESS written last.
    remote_writer = RemoteDatasetWriter if partition_cols else RemoteFileWriter
    writer = remote_writer(
        target, make, overwrite=overwrite, resume=resume, fingerprint=pull.fingerprint(run.since)
    )
    return _write(pull, run, writer, resume=resume)


def export_file(
    pull: Pull,
    path: str | Path,
    *,
    overwrite: bool,
    resume: bool,
    storage_options: dict[str, Any] | None,
) -> Path | str:
    """Stream the pull into a ``.parquet``, ``.csv`` or ``.jsonl`` file (see :meth:`Pull.to_file`).

    Returns:
        The path written, or the URL for a URL other than ``file://``.
    """
    from alloy_data.export import RemoteFileWriter, open_writer, resolve_target

    target = resolve_target(path, storage_options)
    # The suffix picks the format, so it is checked before anything else is.
    open_writer(target if isinstance(target, Path) else Path(target.name or "data"))
    run = PullRun(pull)

    def make(local: Path) -> Any:
        return open_writer(
            local,
            overwrite=overwrite or not isinstance(target, Path),
            resume=resume,
            fingerprint=pull.fingerprint(run.since),
        )

    if isinstance(target, Path):
        keep = target.suffix.lower() in (".parquet", ".pq")
        return _write(pull, run, make(target), resume=resume, keep=keep)
    writer = RemoteFileWriter(
        target, make, overwrite=overwrite, resume=resume, fingerprint=pull.fingerprint(run.since)
    )
    return _write(pull, run, writer, resume=resume)


def _check_mode(pull: Pull, mode: str, partition_cols: list[str] | None) -> None:
    from alloy_data.export import WRITE_MODES

    incremental = pull.options.incremental
    if mode not in WRITE_MODES:
        raise ConfigurationError(
            f"Unknown mode {mode!r}: use 'replace' (write anew), 'merge' (update the file: "
            "a new version of a record replaces the old) or 'append' (keep every version)."
        )
    if incremental is None:
        raise ConfigurationError(
            f"mode={mode!r} needs to know what changed: build the pull with "
            "incremental=alloy_data.Incremental(cursor_field='updated_at', primary_key='id')."
        )
    if mode != "replace" and not incremental.keys:
        raise ConfigurationError(
            f"mode={mode!r} needs the field that identifies a record: "
            "Incremental(..., primary_key='id')."
        )
    if partition_cols:
        raise ConfigurationError(
            f"mode={mode!r} updates one Parquet file: write without partition_cols (or use "
            "client.pull_many(...).to_parquet(directory, mode=...) for a file per "
            "credential)."
        )


def _export_incremental(
    pull: Pull,
    target: Path | Remote,
    *,
    mode: str,
    overwrite: bool,
    compression: str,
    row_group_size: int | None,
    partition_cols: list[str] | None,
    resume: bool,
) -> Path | str:
    """Writes, merges or appends into a file, keeping the high-water mark in it; for a URL,
    the object is merged on local disk and uploaded whole."""
    from alloy_data.export import MergingParquetWriter, RemoteFileWriter, read_incremental_state

    _check_mode(pull, mode, partition_cols)
    incremental = pull.options.incremental
    assert incremental is not None
    state = read_incremental_state(target) if mode != "replace" else None
    if state is not None and state.get("cursor_field") != incremental.cursor_field:
        raise ConfigurationError(
            f"{target} was pulled with cursor_field={state.get('cursor_field')!r}, not "
            f"{incremental.cursor_field!r}: use the same Incremental as before, or write to a "
            "new file."
        )
    mark = None if state is None else state.get("high_water_mark")
    run = PullRun(pull, since=mark)

    def make(local: Path) -> MergingParquetWriter:
        return MergingParquetWriter(
            local,
            mode=mode,
            primary_key=incremental.keys,
            cursor_field=incremental.cursor_field,
            state={
                "cursor_field": incremental.cursor_field,
                "primary_key": list(incremental.keys),
                "high_water_mark": mark,
            },
            overwrite=overwrite or not isinstance(target, Path),
            compression=compression,
            row_group_size=row_group_size,
            resume=resume,
            fingerprint=pull.fingerprint(run.since),
        )

    if isinstance(target, Path):
        writer = make(target)
        written = _write(pull, run, writer, resume=resume, keep=mode == "replace")
    else:
        remote = target

        def fetch_current(local: Path) -> None:
            # An object store cannot update an object in place: the file is merged on local
            # disk from a copy of the object, and the merged file uploaded whole.
            if mode != "replace" and not (resume and local.exists()) and remote.exists():
                remote.download(local, advice="Check the URL and storage_options.")

        remote_writer = RemoteFileWriter(
            remote,
            make,
            overwrite=overwrite or mode != "replace",
            resume=resume,
            fingerprint=pull.fingerprint(run.since),
            before_open=fetch_current,
        )
        local_writer = remote_writer.local
        assert isinstance(local_writer, MergingParquetWriter)
        writer = local_writer
        written = _write(pull, run, remote_writer, resume=resume)
    if writer.high_water_mark is not None:
        pull.stats.high_water_mark = to_datetime(writer.high_water_mark)
    return written


def _write(pull: Pull, run: PullRun, writer: Any, *, resume: bool, keep: bool = False) -> Any:
    """Run ``run`` into ``writer`` (or replay the last run's rows into it), then finish it.

    ``keep``: the written file is the rows of the run, for the next sink to reuse.
    """
    from alloy_data.frames import TableBuilder

    last = pull.last_run()
    rows = None if resume or last is None or last.since != run.since else last.rows()
    if rows is not None and last is not None:
        return _replay(pull, rows, last.served_stats(), writer)
    pull.started(run)
    checkpoint = writer.open()
    tags = pull.context.tags

    def write(converted: list[tuple[Page, pa.RecordBatch]]) -> None:
        # In the conversion's worker thread: the writer is used by one thread at a time.
        for page, batch in converted:
            writer.write_page(
                page.number,
                tagged_batch(batch, tags),
                schema=tagged_schema(builder.schema, tags),
                next_parameters=page.next_parameters,
            )

    started = time.monotonic()
    # Everything after open() goes through abort() on failure, the action's details included:
    # a checkpoint that holds no page is removed, so that no later run is told to resume it.
    try:
        builder = TableBuilder(
            known_columns=pull.known_columns(),
            keep_batches=False,
            # An update starts from the file's columns, so that its new rows convert as the
            # rows already there did (an object that is null on every new row stays an object).
            schema=checkpoint.schema
            if checkpoint is not None
            else getattr(writer, "seed_schema", None),
            row_count=checkpoint.rows if checkpoint is not None else 0,
            epochs=pull.epochs(_timestamp_columns(checkpoint)),
            shape=pull.shape(),
        )
        convert_pages(
            run,
            builder,
            _pages_to_export(run, checkpoint),
            chunk_records=pull.context.chunk_records,
            on_converted=write,
        )
    except BaseException as error:
        pull.finished(run)
        writer.abort()  # what was written before the failure stays, for resume=True
        # The worker may have converted more than reached the disk: count what did.
        if writer.saved_rows and isinstance(error, (AlloyError, KeyboardInterrupt)):
            add_note(
                error,
                f"{writer.saved_rows} records fetched before this are kept in "
                f"{writer.checkpoint_dir}: run the same export with resume=True to "
                "continue after them.",
            )
        raise
    # With no records the builder's schema is empty; its table still has the known columns.
    schema = builder.schema if builder.row_count else builder.to_table([]).schema
    # Rendering the file holds a row group at a time; a job of many pulls lets only a few of
    # them do that at once, so that their row groups do not all sit in memory together.
    with pull.context.finish_gate:
        path = writer.finish(
            schema=tagged_schema(schema, tags), metadata=_metadata(pull, run.stats)
        )
    run.stats.elapsed = time.monotonic() - started
    pull.finished(run, file=path if keep and isinstance(path, Path) else None)
    run.warn()
    return path


def _replay(pull: Pull, rows: pa.Table, stats: PullStats, writer: Any) -> Any:
    """Write the last run's rows into ``writer``: no request, the same rows."""
    import shutil

    writer.open()  # never a checkpoint to resume: a resumed export fetches
    try:
        # One page: a replay has no next page to resume from, and a failure discards it.
        writer.write_page(1, rows, schema=rows.schema, next_parameters=None)
        with pull.context.finish_gate:
            path = writer.finish(schema=rows.schema, metadata=_metadata(pull, stats))
    except BaseException:
        writer.abort()
        # The rows are still in the last run: a replay leaves no checkpoint to resume.
        shutil.rmtree(writer.checkpoint_dir, ignore_errors=True)
        raise
    pull.served(stats)
    return path


def _metadata(pull: Pull, stats: PullStats) -> dict[str, str]:
    metadata = pull.provenance()
    metadata.update(
        pulled_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        paginator=str(stats.paginator or ""),
    )
    if stats.incremental:
        metadata["incremental_run"] = stats.incremental
    return metadata


def _pages_to_export(run: PullRun, checkpoint: Checkpoint | None) -> Iterator[Page]:
    # Conversion (and writing) happen in the conversion's worker: this thread only fetches.
    if checkpoint is None:
        return run.pages(run.walker(), fetch_ahead=False)
    # A checkpoint may hold several pages per entry, so the pages done are counted by number.
    pages_done = checkpoint.next_page_number - 1
    if checkpoint.complete:
        run.stats = PullStats(
            pages=pages_done,
            records=checkpoint.rows,
            pages_saved_before=pages_done,
            records_saved_before=checkpoint.rows,
            stop_reason="end",
        )
        return iter(())
    pull = run.pull
    logger.info(
        "resuming %s %s after page %d (%d records already saved)",
        pull.connector_id,
        pull.action_id,
        pages_done,
        checkpoint.rows,
    )
    return run.pages(
        run.walker(checkpoint),
        pages_before=pages_done,
        records_before=checkpoint.rows,
        fetch_ahead=False,
    )


def _timestamp_columns(checkpoint: Checkpoint | None) -> list[str]:
    """The timestamp columns of a resumed export's schema so far."""
    if checkpoint is None or checkpoint.schema is None:
        return []
    return [field.name for field in checkpoint.schema if str(field.type).startswith("timestamp")]
