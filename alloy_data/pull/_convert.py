"""Pages into an Arrow table builder, several pages at a time, keeping what a failure left."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from alloy_data.errors import AlloyError, ConfigurationError
from alloy_data.pagination import Page
from alloy_data.pull._tags import tagged_table

if TYPE_CHECKING:
    from collections.abc import Mapping

    import pyarrow as pa

    from alloy_data.engine import ChunkedConversion, Converted
    from alloy_data.frames import TableBuilder
    from alloy_data.pull._run import PullRun

__all__ = [
    "add_note",
    "convert_pages",
    "fetch_table",
    "partial_table",
    "record_conversion",
    "record_drift",
]

logger = logging.getLogger("alloy_data.pull")


def fetch_table(run: PullRun, *, keep_partial: Callable[[TableBuilder | None], None]) -> pa.Table:
    """Fetch every page of ``run`` into one Arrow table, tagged as its pull tags its rows, and
    record the run as the pull's last (its rows kept for the next sink).

    Args:
        keep_partial: Given the builder of a run that failed part-way with rows converted
            (what :meth:`Pull.partial_arrow` returns), or None once the pages are converted.

    Raises:
        What the fetch raised, once the pages before it are converted.
    """
    from alloy_data.frames import TableBuilder

    pull = run.pull
    builder = TableBuilder(
        known_columns=pull.known_columns(), epochs=pull.epochs(), shape=pull.shape()
    )
    pages = run.pages(run.walker(), fetch_ahead=False)
    try:
        convert_pages(run, builder, pages, chunk_records=pull.context.chunk_records)
    except BaseException as error:
        if builder.row_count and isinstance(error, (AlloyError, KeyboardInterrupt)):
            keep_partial(builder)  # kept only after a failure
        raise
    keep_partial(None)
    table = tagged_table(builder.to_table(), pull.context.tags)
    pull.finished(run, rows=table)
    run.warn()
    return table


def partial_table(builder: TableBuilder | None, tags: Mapping[str, str]) -> pa.Table:
    """What a run that failed part-way converted (see :meth:`Pull.partial_arrow`).

    Raises:
        ConfigurationError: When there is none.
    """
    if builder is None or not builder.keeps_batches:
        raise ConfigurationError(
            "There is no partial result: the last to_arrow()/to_dataframe() of this pull "
            "did not fail part-way. (An interrupted to_parquet() keeps its pages in a "
            "checkpoint instead: call it again with resume=True.)"
        )
    return tagged_table(builder.to_table(), tags)


def convert_pages(
    run: PullRun,
    builder: TableBuilder,
    pages: Iterator[Page],
    *,
    chunk_records: int,
    on_converted: Converted | None = None,
) -> None:
    """Convert ``pages`` into ``builder``, several pages at a time where that is cheaper.

    After a failed fetch the pages fetched before it are still converted: for an in-memory
    sink they stay in the builder (returned through the error's note and
    :meth:`Pull.partial_arrow`), for an export they are handed to ``on_converted`` (its
    checkpoint keeps them for ``resume=True``).

    Raises:
        What the fetch raised, once the pages before it are converted.
    """
    from alloy_data.engine import ChunkedConversion

    conversion = ChunkedConversion(builder, on_converted=on_converted, chunk_records=chunk_records)
    try:
        # Converting happens in the conversion's worker thread, so this thread only fetches.
        for page in pages:
            conversion.add(page)
        conversion.finish()
    except BaseException as error:
        if isinstance(error, (AlloyError, KeyboardInterrupt)):
            with contextlib.suppress(Exception):  # the fetch's error is the one to report
                failed_on = getattr(error, "page", None)
                # An export fetches that page again on resume, so only tables keep it.
                if isinstance(failed_on, Page) and on_converted is None:
                    conversion.add(failed_on)
                conversion.finish()
            _note_partial(builder, error)
        raise
    finally:
        conversion.close()
        record_drift(run, builder)
        record_conversion(run, conversion)


def _note_partial(builder: TableBuilder, error: BaseException) -> None:
    if builder.row_count and builder.keeps_batches:
        # An export says what its checkpoint holds instead.
        add_note(
            error,
            f"{builder.row_count} records fetched before this are kept: "
            "pull.partial_arrow() or pull.partial_dataframe() returns them.",
        )


def record_conversion(run: PullRun, conversion: ChunkedConversion) -> None:
    """Note in the run's figures how its chunks were converted."""
    summary = conversion.summary()
    if summary is not None:
        run.stats.notes.append(summary)
        logger.debug("pull %s %s: %s", run.pull.connector_id, run.pull.action_id, summary)


def record_drift(run: PullRun, builder: TableBuilder) -> None:
    """Put the builder's drift and timestamp notes in the run's figures."""
    run.stats.drift = list(builder.drift)
    for drift in builder.drift:
        run.stats.notes.append(f"schema drift: {drift}")
    run.stats.notes.extend(builder.shape_notes())
    run.stats.notes.extend(builder.epochs.notes())
    run.stats.warnings.extend(builder.epochs.warnings())


def add_note(error: BaseException, note: str) -> None:
    """Add ``note`` to ``error`` (shown under its traceback), on every Python we support."""
    adder: Callable[[str], None] | None = getattr(error, "add_note", None)
    if adder is not None:
        adder(note)
    else:  # Python 3.10 has no add_note; tracebacks there do not show the note, code can read it
        error.__notes__ = [*getattr(error, "__notes__", []), note]
