"""A pull of many credentials into files: a dataset with a part per credential (a directory or
an object store's prefix), or one file streamed from the parts, through the one publisher."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from alloy_data.errors import AlloyError, ConfigurationError

if TYPE_CHECKING:
    from alloy_data.export import DatasetPublisher, Part, Remote
    from alloy_data.many._job import MultiPull
    from alloy_data.many._targets import CredentialTarget
    from alloy_data.pull import Pull

__all__ = ["export_file", "export_parquet", "tables_identity"]

WriteMode = Literal["replace", "merge", "append"]


def export_parquet(
    many: MultiPull,
    path: str | Path,
    *,
    partition_cols: Sequence[str] | None,
    overwrite: bool,
    resume: bool,
    storage_options: dict[str, Any] | None,
    mode: WriteMode,
) -> Path | str:
    """Stream every credential into a Parquet dataset or file (see :meth:`MultiPull.to_parquet`).

    Returns:
        The path written, or the URL for a URL other than ``file://``.
    """
    from alloy_data.export import WRITE_MODES, resolve_target

    target = resolve_target(path, storage_options)
    columns = list(partition_cols or [])
    if columns and columns != [many.credential_column]:
        raise ConfigurationError(
            f"partition_cols can be [{many.credential_column!r}] (one directory per "
            "credential) or None."
        )
    if isinstance(target, Path):
        dataset = not target.suffix
    else:
        dataset = str(path).endswith("/") or not Path(target.name).suffix
    if mode not in WRITE_MODES:
        raise ConfigurationError(f"Unknown mode {mode!r}: use 'replace', 'merge' or 'append'.")
    incremental = many.options.incremental
    if mode != "replace" and incremental is None:
        raise ConfigurationError(
            f"mode={mode!r} needs to know what changed: build the pull with "
            "incremental=alloy_data.Incremental(cursor_field='updated_at', primary_key='id')."
        )
    if mode != "replace" and incremental is not None and not incremental.keys:
        raise ConfigurationError(
            f"mode={mode!r} needs the field that identifies a record: "
            "Incremental(..., primary_key='id')."
        )
    if mode != "replace" and not (columns or dataset):
        raise ConfigurationError(
            f"mode={mode!r} updates a dataset, one file per credential: give a directory "
            "(a path without a suffix) or a prefix (a URL ending in '/')."
        )
    if columns or dataset:
        return _write_dataset(many, target, overwrite=overwrite, resume=resume, mode=mode)
    return _write_merged(many, target, overwrite=overwrite, resume=resume)


def export_file(
    many: MultiPull,
    path: str | Path,
    *,
    overwrite: bool,
    resume: bool,
    storage_options: dict[str, Any] | None,
) -> Path | str:
    """Stream every credential into one ``.parquet``, ``.csv`` or ``.jsonl`` file.

    Returns:
        The path written, or the URL for a URL other than ``file://``.
    """
    from alloy_data.export import resolve_target

    target = resolve_target(path, storage_options)
    return _write_merged(many, target, overwrite=overwrite, resume=resume)


def _write_dataset(
    many: MultiPull,
    target: Path | Remote,
    *,
    overwrite: bool,
    resume: bool,
    mode: WriteMode = "replace",
) -> Path | str:
    from alloy_data.export import DatasetPublisher

    publisher = DatasetPublisher(target, overwrite=overwrite, resume=resume, mode=mode)
    publisher.open()
    written = _write_parts(many, publisher)
    stats = many.stats
    if stats.failures:
        if not written:
            publisher.abandon()
            stats.notes.append(
                f"nothing was written to {target}: every credential failed, the first "
                f"{stats.failures[0]}"
            )
            return publisher.location
        # Not published: a reader must not take an incomplete dataset for the whole.
        stats.notes.append(
            f"{target} was not published (no _SUCCESS): {stats.failed} credentials "
            "failed; run again with resume=True to retry them"
        )
        return publisher.location
    credentials = [
        {"user_id": t.user_id, "credential_id": t.credential_id, **part.entry}
        for t, part in written
    ]
    extra = {"connector": many.connector_id, "action": many.action_id}
    return publisher.publish([part for _, part in written], {**extra, "credentials": credentials})


def _write_parts(
    many: MultiPull, publisher: DatasetPublisher
) -> list[tuple[CredentialTarget, Part]]:
    """Writes each credential's part through ``publisher``; counts the rows written."""
    from alloy_data.export import DatasetPublisher

    def write(pull: Pull, target: CredentialTarget) -> Part:
        def part(file: Path) -> dict[str, Any]:
            pull.to_parquet(file, overwrite=True, resume=publisher.resume, mode=publisher.mode)
            mark = pull.stats.high_water_mark
            return {} if mark is None else {"high_water_mark": mark.isoformat()}

        # One file per credential, holding its user and credential columns itself: Hive
        # directories named "_credential_id=..." would be skipped by pyarrow and pandas,
        # which ignore paths that start with an underscore.
        written = publisher.write_part(DatasetPublisher.part_name(target.credential_id), part)
        finished.append(written)
        return written

    finished: list[Part] = []
    try:
        written = many.run_each(write)
    except BaseException:
        # Stopped before any part was written (on_error="raise", a mistake in the options):
        # nothing is left behind that a later run would be told to resume.
        if not finished:
            publisher.abandon()
        raise
    many.stats.records = sum(part.rows for _, part in written)
    return written


def _write_merged(
    many: MultiPull, target: Path | Remote, *, overwrite: bool, resume: bool
) -> Path | str:
    from alloy_data.export import DatasetPublisher

    # Each credential is staged as a file of its own (resumable on its own), then the files
    # are streamed into the one target, a batch at a time.
    publisher = DatasetPublisher.for_file(target, overwrite=overwrite, resume=resume)
    written = _write_parts(many, publisher)
    stats = many.stats
    if stats.failures and not written:
        publisher.abandon()
        raise AlloyError(
            f"{stats.failed} of {stats.credentials} credentials failed, the first "
            f"{stats.failures[0]}; nothing was written."
        )
    if stats.failures:
        raise AlloyError(
            f"{stats.failed} of {stats.credentials} credentials failed, the first "
            f"{stats.failures[0]}. What the others fetched is kept in "
            f"{publisher.directory}: run the same call with resume=True to retry the failed "
            "ones, or pull_many(...) without them."
        )
    return publisher.publish_file([part for _, part in written], _metadata(many))


def _metadata(many: MultiPull) -> dict[str, str]:
    from alloy_data._version import __version__

    return {
        "connector": many.connector_id,
        "action": many.action_id,
        "credentials": json.dumps(sorted(many.stats.per_credential), separators=(",", ":")),
        "pulled_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "row_count": str(many.stats.records),
        "alloy_data_version": __version__,
    }


def tables_identity(many: MultiPull) -> str:
    """What a tables export of ``many`` stages: the action, the credentials asked for and the
    options that choose the rows and columns, so that a staged pull of another job is not
    taken for this one's."""
    options = many.options
    return json.dumps(
        [
            many.connector_id,
            many.action_id,
            repr(many.requested),
            dict(options.parameters),
            options.page_size,
            options.max_pages,
            options.max_records,
            options.columns,
            options.flatten,
            options.flatten_depth,
            options.timestamps,
            list(many.many_options.tag_columns),
        ],
        sort_keys=True,
        default=str,
    )
