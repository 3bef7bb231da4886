"""The spool, checkpoint, resume, locking and atomic-rename machinery of the export writers.

Every format shares it; a format only says how to render the aligned batches
(:meth:`_SpoolingWriter._render`). The public classes live in :mod:`alloy_data.export`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar

import pyarrow as pa

from alloy_data.errors import ConfigurationError, ExportError
from alloy_data.export._spool import (
    CHECKPOINT_FILE,
    OUTPUT_NAME,
    PREVIOUS_NAME,
    Spool,
    checkpoint_dir_for,
    fsync_directory,
    lock_directory,
    remove_path,
)
from alloy_data.frames import align_batch, without_null_parents

# Messages are about exports, whichever module emits them.
logger = logging.getLogger("alloy_data.export")


@dataclass(frozen=True)
class Checkpoint:
    """Where an interrupted export continues.

    Attributes:
        next_parameters: The request parameters of the next page to fetch (empty when the last
            page was already written; see ``complete``).
        next_page_number: The number to give the next page.
        rows: Rows already written.
        pages: Pages already written.
        schema: The unified schema of the pages already written; seed the pull's schema with
            it so that later pages widen it the same way an uninterrupted pull would.
        complete: ``True`` when the last written page had no next page: only
            :meth:`~ParquetWriter.finish` is left to do.
    """

    next_parameters: dict[str, Any]
    next_page_number: int
    rows: int
    pages: int
    schema: pa.Schema | None = None
    complete: bool = False


def _merge_schemas(old: pa.Schema | None, new: pa.Schema) -> pa.Schema:
    """The earlier schema widened by a later one, columns in first-seen order.

    After a resume the pull's schema starts from the pages fetched since, so columns seen only
    before the interruption must survive, and a type that differs must hold both.
    """
    if old is None or old.equals(new):
        return new
    fields = []
    for field in old:
        index = new.get_field_index(field.name)
        if index < 0:
            fields.append(field)
            continue
        later = new.field(index)
        if later.type == field.type:
            fields.append(later)
            continue
        try:
            merged = pa.unify_schemas(
                [pa.schema([field]), pa.schema([later])], promote_options="permissive"
            )
            fields.append(merged.field(0))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            fields.append(pa.field(field.name, pa.string()))
    known = set(old.names)
    fields.extend(field for field in new if field.name not in known)
    return pa.schema(fields, metadata=new.metadata)


def _check_metadata(metadata: Mapping[str, str] | None, what: str) -> dict[str, str]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise ConfigurationError(
            f"{what} must be a dict of strings to strings; encode other values (for example "
            "with json.dumps) first."
        )
    return dict(metadata)


def checked_path(path: Any) -> Path:
    """``path`` as a ``Path``, after refusing what cannot name a file.

    Raises:
        ConfigurationError: For a path that is not text or a ``Path``, is empty, or holds a
            NUL character.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ConfigurationError(
            f"The output path must be text or a pathlib.Path, not {type(path).__name__}."
        )
    text = os.fspath(path)
    if not isinstance(text, str) or not text.strip() or "\0" in text:
        raise ConfigurationError(f"{text!r} is no file name: pass a path such as 'orders.parquet'.")
    return Path(text)


class _SpoolingWriter:
    """The spool, checkpoint, resume and atomic-rename machinery shared by every format."""

    kind: ClassVar[str] = ""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        overwrite: bool = False,
        metadata: Mapping[str, str] | None = None,
        resume: bool = False,
        fingerprint: str = "",
    ) -> None:
        self.path = checked_path(path)
        self.overwrite = overwrite
        self.resume = resume
        self.fingerprint = fingerprint
        self.metadata = _check_metadata(metadata, "metadata")
        self.checkpoint: Checkpoint | None = None
        self._spool: Spool | None = None
        self._lock: int | None = None
        self._state = "new"

    @property
    def checkpoint_dir(self) -> Path:
        """The directory beside the target that holds the spool and the checkpoint."""
        return checkpoint_dir_for(self.path)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, state={self._state!r})"

    def __enter__(self) -> _SpoolingWriter:
        if self._state == "new":
            self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Leaving the block without finish() keeps the checkpoint, ready for resume=True.
        if self._state in ("open", "failed"):
            self.abort()

    def open(self) -> Checkpoint | None:
        """Prepares the checkpoint directory, or reopens one to resume.

        Returns:
            With ``resume=True`` and a checkpoint from the same pull (same ``fingerprint``)
            beside the target: where to continue. Otherwise ``None``: start from the first
            page. Without ``resume=True`` a leftover checkpoint is removed (and logged).

        Raises:
            ExportError: If the target exists and ``overwrite`` is false, if the checkpoint
                belongs to a different pull, or if the directory cannot be written.
        """
        if self._state != "new":
            raise ExportError(f"{self!r} was already opened; make a new writer for a new export.")
        directory = self.checkpoint_dir
        try:
            self._check_target(directory)
        except OSError as error:  # a name too long, a folder that cannot be read, ...
            raise ExportError(f"Cannot write {self.path}: {error}.") from error
        try:
            if directory.exists():
                self._take_lock(directory)
                spool = self._reuse_or_discard(directory)
                if spool is not None:
                    self._spool = spool
                    self._state = "open"
                    self.checkpoint = self._describe(spool)
                    return self.checkpoint
                self._release_lock()
            self._spool = Spool.create(directory, fingerprint=self.fingerprint, kind=self.kind)
            self._take_lock(directory)
        except OSError as error:
            self._release_lock()
            raise ExportError(
                f"Cannot prepare {directory}, where the pages are kept until {self.path.name} "
                f"is complete: {error}. Write to a folder you can create files in, with free "
                "space."
            ) from error
        except BaseException:
            self._release_lock()
            raise
        self._state = "open"
        return None

    @property
    def writes_directory(self) -> bool:
        """Whether the output is a directory (a partitioned dataset) rather than one file."""
        return False

    @property
    def seed_schema(self) -> pa.Schema | None:
        """The columns that new pages should be converted to, when the target dictates them."""
        return None

    @property
    def last_page_number(self) -> int | None:
        """The number of the last page on disk in the checkpoint, if any."""
        return None if self._spool is None else self._spool.state.last_page_number

    @property
    def saved_rows(self) -> int:
        """Rows of the pages on disk in the checkpoint (all of them after :meth:`finish`)."""
        return 0 if self._spool is None else self._spool.state.rows

    def _check_target(self, directory: Path) -> None:
        parent = self.path.parent
        if not parent.is_dir():
            what = "is not a directory" if parent.exists() else "does not exist"
            raise ExportError(
                f"Cannot write {self.path}: {parent} {what}. Create the folder first, or choose "
                "a path in an existing one."
            )
        _recover_interrupted_swap(self.path, directory)
        if self.path.is_dir() and not self.writes_directory:
            # overwrite=True would delete the folder and everything in it to put a file there.
            raise ExportError(
                f"{self.path} is a directory. Name the file to write inside it, such as "
                f"{self.path / ('data' + (self.path.suffix or '.' + self.kind))}; to replace "
                "the directory with a file, remove it first."
            )
        if self.path.exists() and not (self.path.is_file() or self.path.is_dir()):
            raise ExportError(
                f"{self.path} is not a regular file (a device, a pipe or a socket), which an "
                "export never replaces: choose the path of a file."
            )
        if self.path.exists() and not self.overwrite:
            raise ExportError(
                f"{self.path} already exists. Pass overwrite=True to replace it (it is replaced "
                "only once the new file is complete)."
            )

    def _take_lock(self, directory: Path) -> None:
        # Two exports to one path would spool into, or delete, each other's checkpoint.
        try:
            self._lock = lock_directory(directory)
        except BlockingIOError as error:
            raise ExportError(
                f"Another export is writing to {self.path} right now (it holds {directory}). "
                "Wait for it to finish, or stop it, then try again."
            ) from error

    def _release_lock(self) -> None:
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def __del__(self) -> None:
        # A writer dropped without finish() or abort() must not keep its path locked.
        if getattr(self, "_lock", None) is not None:
            self._release_lock()

    def _reuse_or_discard(self, directory: Path) -> Spool | None:
        if not self.resume:
            left = Spool.load(directory)
            if left is not None and left.state.pages:
                logger.warning(
                    "Removing %s, a checkpoint left by an earlier export that did not finish "
                    "(pass resume=True to continue it instead).",
                    directory,
                )
            else:
                # Nothing was saved in it: there is nothing to resume, so nothing to advise.
                logger.info("Removing %s, an empty checkpoint of an earlier export.", directory)
            remove_path(directory)
            return None
        spool = Spool.load(directory)
        if spool is None:
            logger.warning(
                "Starting %s from the first page: %s holds no usable checkpoint.",
                self.path,
                directory,
            )
            remove_path(directory)
            return None
        if spool.state.fingerprint != self.fingerprint or spool.state.kind != self.kind:
            raise ExportError(
                f"The checkpoint in {directory} belongs to a different pull or format than this "
                "one (its connector, action or parameters differ), so it cannot be resumed. Run "
                "the same pull again with resume=True, or pass resume=False to discard it and "
                "start over."
            )
        logger.info(
            "Resuming %s after %d pages (%d rows).", self.path, spool.state.pages, spool.state.rows
        )
        return spool

    @staticmethod
    def _describe(spool: Spool) -> Checkpoint:
        state = spool.state
        last = state.last_page_number
        return Checkpoint(
            next_parameters=dict(state.next_parameters or {}),
            next_page_number=0 if last is None else last + 1,
            rows=state.rows,
            pages=state.pages,
            schema=state.schema,
            complete=state.pages > 0 and state.next_parameters is None,
        )

    def _open_spool(self) -> Spool:
        if self._state != "open" or self._spool is None:
            raise ExportError(
                f"{self!r} is not open for writing: call open() first, and make a new writer "
                "after finish(), abort() or a failed write."
            )
        return self._spool

    def write_page(
        self,
        page_number: int,
        batch: pa.RecordBatch | pa.Table,
        *,
        schema: pa.Schema,
        next_parameters: Mapping[str, Any] | None,
    ) -> None:
        """Persists one page durably and records it in the checkpoint.

        Once this returns, a process killed at any moment resumes after this page.

        Args:
            page_number: The page's number; each call's must be greater than the last.
            batch: The page's records, as converted (not yet aligned to ``schema``).
            schema: The unified schema so far (``TableBuilder.schema``), which includes the
                batch's columns.
            next_parameters: The request parameters of the next page (JSON-encodable), or
                ``None`` when this is the last page.

        Raises:
            ExportError: If the page is out of order, its columns are not in ``schema``, or
                the disk write fails.
        """
        spool = self._open_spool()
        last = spool.state.last_page_number
        if last is not None and page_number <= last:
            raise ExportError(
                f"Page {page_number} arrived after page {last}: pages must be written once, in "
                "increasing order."
            )
        batches = batch.to_batches() if isinstance(batch, pa.Table) else [batch]
        if not batches:
            batches = [pa.RecordBatch.from_pylist([], schema=batch.schema)]
        missing = [name for name in batches[0].schema.names if schema.get_field_index(name) < 0]
        if missing and all(pa.types.is_null(batches[0].schema.field(n).type) for n in missing):
            # Null objects whose fields the schema has (see frames.without_null_parents).
            batches = [b.drop_columns(missing) for b in batches]
        elif missing:
            raise ExportError(
                f"Page {page_number} has columns that the schema lacks: {', '.join(missing)}. "
                "Pass the unified schema of all pages so far (TableBuilder.schema)."
            )
        parameters = None if next_parameters is None else dict(next_parameters)
        try:
            json.dumps(parameters)
        except (TypeError, ValueError) as error:
            raise ExportError(
                f"The next page's parameters cannot be saved in the checkpoint: {error}."
            ) from error
        merged = _merge_schemas(spool.state.schema, schema)
        try:
            spool.append(page_number, batches, schema=merged, next_parameters=parameters)
        except BaseException as error:
            # The spool may end in a half-written page; only abort() (then resume) is safe now.
            self._state = "failed"
            self._release_lock()
            if isinstance(error, OSError):
                then = (
                    f"The pages before it are kept in {self.checkpoint_dir}: free some space, "
                    "then run the same export again with resume=True."
                    if spool.state.pages
                    else "Free some space, then run the export again."
                )
                raise ExportError(f"Cannot spool page {page_number}: {error}. {then}") from error
            raise

    def finish(self, *, schema: pa.Schema, metadata: Mapping[str, str] | None = None) -> Path:
        """Writes the complete output and moves it onto the target in one rename.

        Args:
            schema: The final unified schema (``TableBuilder.schema``); with no pages, the
                columns the empty output should have.
            metadata: Provenance to add to the constructor's (Parquet only; the writer adds
                ``row_count``).

        Returns:
            The path written.

        Raises:
            ExportError: If the output cannot be written; the checkpoint stays for a resume.
        """
        spool = self._open_spool()
        provenance = {**self.metadata, **_check_metadata(metadata, "finish(metadata=...)")}
        output = self.checkpoint_dir / OUTPUT_NAME
        remove_path(output)
        try:
            final_schema, aligned, rows = self._output(spool, schema)
            provenance.update(self._more_provenance())
            provenance["row_count"] = str(rows)
            self._check_schema(final_schema)
            self._render(aligned, final_schema, provenance, output, rows)
            _swap_in(output, self.path, self.checkpoint_dir / PREVIOUS_NAME)
        except BaseException as error:
            remove_path(output)
            self._state = "failed"
            self._release_lock()
            if isinstance(error, (OSError, pa.ArrowException)):
                then = (
                    f"The pulled pages are kept in {self.checkpoint_dir}; run again with "
                    "resume=True to retry."
                    if spool.state.pages
                    else "Run the export again."
                )
                raise ExportError(f"Cannot write {self.path}: {error}. {then}") from error
            raise
        self._state = "finished"
        # The checkpoint file goes first: a directory without it is never resumed.
        (self.checkpoint_dir / CHECKPOINT_FILE).unlink(missing_ok=True)
        remove_path(self.checkpoint_dir)
        self._release_lock()
        return self.path

    def abort(self) -> None:
        """Stops without touching the target, keeping the spooled pages for ``resume=True``."""
        unused = self._spool is not None and not self._spool.state.pages
        if unused and self._state in ("open", "failed"):
            remove_path(self.checkpoint_dir)
        if self._state != "finished":
            self._state = "aborted"
        self._release_lock()

    def _output(
        self, spool: Spool, schema: pa.Schema
    ) -> tuple[pa.Schema, Iterator[pa.RecordBatch], int]:
        """The final schema, its batches and their row count: the spooled pages, aligned.

        A writer that combines the pages with what the target already holds overrides this.
        """
        final_schema = without_null_parents(_merge_schemas(spool.state.schema, schema))
        aligned = (align_batch(batch, final_schema) for batch in spool.iter_batches())
        return final_schema, aligned, spool.state.rows

    def _more_provenance(self) -> dict[str, str]:
        """Provenance that only :meth:`_output` can tell; none by default."""
        return {}

    def _check_schema(self, schema: pa.Schema) -> None:
        """Hook for format-specific checks of the final schema."""

    def _render(
        self,
        batches: Iterator[pa.RecordBatch],
        schema: pa.Schema,
        provenance: dict[str, str],
        destination: Path,
        rows: int,
    ) -> None:
        raise NotImplementedError


def _recover_interrupted_swap(target: Path, directory: Path) -> None:
    """Puts back a target that a killed process had moved aside to swap in a dataset."""
    previous = directory / PREVIOUS_NAME
    if not previous.exists():
        return
    if target.exists():
        remove_path(previous)
    else:
        logger.warning("Restoring %s, which an interrupted export had moved aside.", target)
        os.replace(previous, target)
        fsync_directory(target.parent)


def _swap_in(new: Path, target: Path, previous: Path) -> None:
    """Moves ``new`` onto ``target``: one atomic rename for a file onto a file; otherwise the
    old target is renamed aside first and removed after (an interrupted swap is undone by the
    next :meth:`open`)."""
    if new.is_file() and not target.is_dir():
        os.replace(new, target)
        fsync_directory(target.parent)
        return
    moved_aside = target.exists() or target.is_symlink()
    if moved_aside:
        os.replace(target, previous)
    try:
        os.replace(new, target)
    except BaseException:
        if moved_aside:
            os.replace(previous, target)
        raise
    fsync_directory(target.parent)
    remove_path(previous)
