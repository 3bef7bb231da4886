"""A pull as an Arrow stream: record batches as pages are converted, never the whole table.

A stream declares its schema before its first batch, so a run is started when the stream is
opened: its first page with records is fetched and converted, and its columns are the stream's
schema, with one more, ``_late_fields``. Pages then flow through the same walk and chunked
conversion as ``to_arrow()``, and each batch is fitted to the declared schema by
:class:`~alloy_data.frames.LateFields`: a value the declared column holds as it is stays there;
a field first seen later, or a value of a type its column cannot hold unchanged (a float in an
integer column, text in a number column), is kept, with its column's name, in the row's
``_late_fields`` JSON object. ``stats.late_fields`` counts them and ``stats.drift`` says on
which page each column appeared or changed.

After a complete run whose rows the pull keeps, a stream serves those rows instead (with the
run's own unified schema, so ``_late_fields`` stays empty).

DuckDB asks an object for its stream several times for one query (to learn the schema, then to
scan it); an opened stream nobody has read yet is handed to the next request, so that a query
fetches the first page once.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any

from alloy_data.errors import AlloyError
from alloy_data.pull._convert import record_conversion, record_drift
from alloy_data.pull._run import PullRun
from alloy_data.pull._tags import tagged_batch, tagged_schema

if TYPE_CHECKING:
    import pyarrow as pa

    from alloy_data.engine import ChunkedConversion
    from alloy_data.frames import LateFields
    from alloy_data.pagination import Page
    from alloy_data.pull._plan import Pull

__all__ = ["Opening", "PullBatches", "open_pull", "pull_batches"]


class PullBatches:
    """One run of a pull (or its kept rows) as batches fitted to a declared schema.

    Opening it fetches and converts pages until the first that has records. Iterate it once.

    Attributes:
        schema: The declared schema (without the pull's tags), ``_late_fields`` last.
    """

    schema: pa.Schema
    #: Whether it has rows (known once it is opened: the schema is declared on the first).
    has_rows: bool = False

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        raise NotImplementedError

    def close(self) -> None:
        """Stop the run if it has not finished (its figures are kept)."""


class _Kept(PullBatches):
    """The rows of the pull's last complete run."""

    def __init__(self, rows: pa.Table, pull: Pull, schema: pa.Schema | None) -> None:
        from alloy_data.frames import LateFields, stream_schema

        tags = list(pull.context.tags)
        own = rows.drop_columns([name for name in tags if name in rows.column_names])
        self._fitter = LateFields(schema if schema is not None else stream_schema(own.schema))
        self.schema = self._fitter.schema
        self.has_rows = own.num_rows > 0
        self._rows: pa.Table | None = own

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        rows, self._rows = self._rows, None
        if rows is None:
            return
        for batch in rows.to_batches():
            yield self._fitter.fit(batch)


class _Running(PullBatches):
    """A run of the pull, primed up to its first converted batch."""

    def __init__(self, pull: Pull, run: PullRun, schema: pa.Schema | None) -> None:
        from alloy_data.frames import TableBuilder

        self._pull = pull
        self._run = run
        self._given = schema
        self._fitter: LateFields | None = None
        self._builder = TableBuilder(
            known_columns=pull.known_columns(),
            keep_batches=False,
            epochs=pull.epochs(),
            shape=pull.shape(),
        )
        self._converted: deque[pa.RecordBatch] = deque()
        pull.started(run)
        self._batches = self._generate()
        # Runs up to the declaration (a failure before any record is the opening's).
        next(self._batches)

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        for batch in self._batches:
            if batch is not None:
                yield batch

    def close(self) -> None:
        self._batches.close()

    def _declare(self) -> None:
        from alloy_data.frames import LateFields, stream_schema

        builder = self._builder
        schema = builder.schema if builder.row_count else builder.to_table([]).schema
        self._fitter = LateFields(self._given if self._given is not None else stream_schema(schema))
        self.schema = self._fitter.schema
        self.has_rows = builder.row_count > 0

    def _generate(self) -> Generator[pa.RecordBatch | None, None, None]:
        from alloy_data.engine import ChunkedConversion

        run = self._run
        pages = run.pages(run.walker(), fetch_ahead=False)
        assert isinstance(pages, Generator)
        conversion = ChunkedConversion(
            self._builder,
            on_converted=self._keep,
            chunk_records=self._pull.context.chunk_records,
            first_chunk_records=1,
        )
        failure: BaseException | None = None
        try:
            try:
                for page in pages:
                    conversion.add(page)
                    if self._fitter is None and page.records:
                        conversion.finish()  # the first chunk: this page and any empty before
                        self._declare()
                        yield None  # declared: the opening returns
                    yield from self._fitted()
                conversion.finish()
            except (AlloyError, KeyboardInterrupt) as error:
                failure = error
                with contextlib.suppress(Exception):  # the fetch's error is the one to report
                    failed_on: Page | None = getattr(error, "page", None)
                    if failed_on is not None:
                        conversion.add(failed_on)
                    conversion.finish()
                if self._fitter is None and not self._converted:
                    raise
            if self._fitter is None:
                self._declare()
                yield None
            # What was fetched before a failure is handed out before the failure is raised.
            yield from self._fitted()
            if failure is not None:
                raise failure
        finally:
            pages.close()
            conversion.close()
            self._finish(conversion)

    def _keep(self, converted: list[tuple[Page, pa.RecordBatch]]) -> None:
        # In the conversion's worker; deque appends are safe across threads.
        self._converted.extend(batch for _, batch in converted)

    def _fitted(self) -> Iterator[pa.RecordBatch]:
        fitter = self._fitter
        assert fitter is not None  # declared before any batch is handed out
        while self._converted:
            yield fitter.fit(self._converted.popleft())

    def _finish(self, conversion: ChunkedConversion) -> None:
        run, stats = self._run, self._run.stats
        record_drift(run, self._builder)
        record_conversion(run, conversion)
        if self._fitter is not None and self._fitter.columns:
            stats.late_fields = dict(self._fitter.columns)
            for column, count in self._fitter.columns.items():
                stats.notes.append(
                    f"stream: {count} values of {column} came after the stream's schema was "
                    "declared (a new field, or a type its column cannot hold unchanged) and are "
                    "kept as JSON in _late_fields"
                )
        self._pull.finished(run)
        run.warn()


def pull_batches(pull: Pull, *, since: Any = None, schema: pa.Schema | None = None) -> PullBatches:
    """Open one run of ``pull`` (or its kept rows) as batches without its tags.

    Args:
        pull: The pull.
        since: The run's lower bound, as :meth:`Pull.to_arrow` takes it.
        schema: A schema declared already, to fit the batches to (a stream of many
            credentials); by default the run declares its own from its first page.

    Returns:
        The opened batches; ``.schema`` is declared.
    """
    if pull.options.max_age is not None:
        # The store keeps whole copies: the stream reads the copy it serves (or refreshes), as
        # the kept rows of a complete run.
        pull.to_arrow(since=since)
    run = PullRun(pull, since=since)
    last = pull.last_run()
    if last is not None and last.since == run.since:
        rows = last.rows()
        if rows is not None:
            pull.served(last.served_stats())
            return _Kept(rows, pull, schema)
    return _Running(pull, run, schema)


class Opening:
    """A stream opened to declare its schema, read by the first reader that reads it; a
    reader that comes later reads a run of its own, fitted to the same schema.

    Args:
        batches: The opened stream's batches (with the tags already).
        schema: Its schema.
        reopen: Opens another run, fitted to ``schema``.
        key: What the stream was opened for (its lower bound), to reuse it only for that.
    """

    def __init__(
        self,
        batches: Iterator[pa.RecordBatch],
        schema: pa.Schema,
        reopen: Callable[[pa.Schema], Iterator[pa.RecordBatch]],
        key: Any = None,
    ) -> None:
        self.schema = schema
        self.key = key
        self._batches: Iterator[pa.RecordBatch] | None = batches
        self._reopen = reopen
        self._lock = threading.Lock()

    @property
    def unread(self) -> bool:
        """Whether no reader has read from it yet."""
        return self._batches is not None

    def reader(self) -> pa.RecordBatchReader:
        """A reader of the stream (see the class)."""
        import pyarrow as pa

        return pa.RecordBatchReader.from_batches(self.schema, self._read())

    def _read(self) -> Iterator[pa.RecordBatch]:
        with self._lock:
            batches, self._batches = self._batches, None
        yield from batches if batches is not None else self._reopen(self.schema)


def open_pull(pull: Pull, *, since: Any = None) -> Opening:
    """Open ``pull`` as a stream with its tags (a credential of a job of many has them)."""
    tags = pull.context.tags

    def tagged(opened: PullBatches) -> Iterator[pa.RecordBatch]:
        try:
            for batch in opened:
                yield tagged_batch(batch, tags)
        finally:
            opened.close()

    def reopen(schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        own = schema.remove_metadata()
        untagged = [field for field in own if field.name not in tags]
        import pyarrow as pa

        return tagged(pull_batches(pull, since=since, schema=pa.schema(untagged)))

    opened = pull_batches(pull, since=since)
    return Opening(tagged(opened), tagged_schema(opened.schema, tags), reopen, key=since)
