"""Pages into an Arrow table builder, several pages at a time, keeping what a failure left."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from alloy_data.errors import AlloyError
from alloy_data.pagination import Page

if TYPE_CHECKING:
    from alloy_data.engine import ChunkedConversion, Converted
    from alloy_data.frames import TableBuilder
    from alloy_data.pull._run import PullRun

__all__ = ["add_note", "convert_pages", "record_conversion", "record_drift"]

logger = logging.getLogger("alloy_data.pull")


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
