"""``client.pull_many(...)``: one list action for many credentials, side by side, as one dataset.

An embedded iPaaS connects each of a company's customers' own apps, so the question is rarely
"the orders of one store" and usually "the orders of every store our customers connected". A
:class:`MultiPull` runs one :class:`~alloy_data.pull.Pull` per credential, several at once, each
with its own paging, concurrency and rate limit; every row carries the user and credential it
came from; a credential that fails is reported and does not stop the others.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from alloy_data._tuning import (
    CHUNK_BUDGET,
    CHUNK_RECORDS,
    DEFAULT_WORKERS,
    FILES_RENDERED_AT_ONCE,
    MIN_CHUNK_RECORDS,
)
from alloy_data.engine import RequestRate
from alloy_data.errors import AlloyError, ClientClosedError, ConfigurationError
from alloy_data.many._combine import combine_tables
from alloy_data.many._display import job_html
from alloy_data.many._export import export_file, export_parquet, tables_identity
from alloy_data.many._stats import CredentialFailure, MultiPullStats
from alloy_data.many._targets import CredentialTarget, ManyClient, check_targets, find_targets
from alloy_data.options import ManyOptions, PullOptions
from alloy_data.progress import ProgressUpdate, combined_update, make_reporter
from alloy_data.pull import (
    Opening,
    Pull,
    PullContext,
    check_tables_export,
    export_tables,
    public_parameters,
    split_pull_tables,
)

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["MultiPull"]

logger = logging.getLogger("alloy_data.many")


class MultiPull:
    """One list action, pulled for many credentials side by side; lazy like a Pull.

    Build it with :meth:`alloy_data.AlloyClient.pull_many`, whose docstring describes every
    argument. Each ``iter_*``/``to_*`` call runs the whole job afresh; :attr:`stats` describes
    the last run. It is an Arrow stream too (``__arrow_c_stream__``, :meth:`to_reader`):
    DuckDB, Polars and pyarrow read it credential after credential.
    """

    def __init__(
        self,
        client: ManyClient,
        connector_id: str,
        action_id: str,
        *,
        credentials: Sequence[str] | Sequence[tuple[str, str]] | Literal["all"],
        options: PullOptions | None = None,
        many: ManyOptions | None = None,
    ) -> None:
        self._client = client
        self.connector_id = connector_id
        self.action_id = action_id
        self._requested = check_targets(credentials)
        self.options = options if options is not None else PullOptions()
        self.many_options = many if many is not None else ManyOptions()
        self.stats = MultiPullStats()
        self._lock = threading.Lock()
        #: The credentials of the last run, in order.
        self.last_targets: list[CredentialTarget] = []
        # One pull per credential, kept from run to run: a sink after a complete run reuses
        # each pull's rows instead of fetching them again.
        self._pulls: dict[CredentialTarget, Pull] = {}
        total = self.many_options.max_total_requests_per_second
        self._shared_rate = RequestRate(total) if total is not None else None
        # Files rendered at once: each holds a row group in memory while it is written.
        self._finish_gate = threading.BoundedSemaphore(FILES_RENDERED_AT_ONCE)
        # Which run's progress a pull's figures go to: the thread that runs the pull says.
        self._route = threading.local()
        # A stream opened (by DuckDB, to learn its schema) that no reader has read yet.
        self._opening: Opening | None = None
        self._stream_report: Callable[[str, ProgressUpdate], None] | None = None

    @property
    def requested(self) -> list[CredentialTarget] | Literal["all"]:
        """The credentials as asked for: their targets, or "all"."""
        return self._requested

    @property
    def workers(self) -> int | None:
        """Credentials pulled at once (None: the default)."""
        return self.many_options.workers

    @property
    def on_error(self) -> Literal["continue", "raise"]:
        """What a failed credential does to the job."""
        return self.many_options.on_error

    @property
    def user_column(self) -> str:
        """The column that holds each row's user id."""
        return self.many_options.user_column

    @property
    def credential_column(self) -> str:
        """The column that holds each row's credential id."""
        return self.many_options.credential_column

    @property
    def max_total_requests_per_second(self) -> float | None:
        """The cap on requests a second across every credential."""
        return self.many_options.max_total_requests_per_second

    @property
    def client(self) -> ManyClient:
        """The client the credentials are pulled with."""
        return self._client

    def __repr__(self) -> str:
        how_many = "all" if self._requested == "all" else f"{len(self._requested)}"
        return f"MultiPull({self.connector_id!r}, {self.action_id!r}, credentials={how_many})"

    def _repr_html_(self) -> str:
        return job_html(self, self._requested)

    # -- which credentials ---------------------------------------------------------------

    def targets(self) -> list[CredentialTarget]:
        """The credentials this job pulls: as given, or every credential of the connector of
        every user of the account (``"all"``: found through the API, one request per user).

        Returns:
            The targets, with their users.
        """
        return find_targets(self._client, self.connector_id, self._requested)

    def pull_for(self, target: CredentialTarget, *, chunk_records: int) -> Pull:
        """The pull of one credential: made once, kept for later runs (its rows are reused).

        Returns:
            The credential's :class:`~alloy_data.pull.Pull`, tagged with its user and
            credential and taking part in this job's rate, progress and file rendering.
        """
        with self._lock:
            pull = self._pulls.get(target)
            if pull is None or pull.context.chunk_records != chunk_records:
                context = PullContext(
                    tags={
                        self.user_column: target.user_id or "",
                        self.credential_column: target.credential_id,
                    },
                    shared_rate=self._shared_rate,
                    chunk_records=chunk_records,
                    finish_gate=self._finish_gate,
                    progress=functools.partial(self._progress, target.credential_id),
                )
                pull = Pull(
                    self._client,
                    self.connector_id,
                    self.action_id,
                    credential_id=target.credential_id,
                    user_id=target.user_id,
                    options=self.options,
                    context=context,
                )
                self._pulls[target] = pull
            return pull

    def reset(self) -> None:
        """Forget every credential's last run: the next sink fetches anew."""
        self._opening = None
        with self._lock:
            for pull in self._pulls.values():
                pull.reset()

    def _progress(self, credential_id: str, update: ProgressUpdate) -> None:
        # A stream's pulls run in whichever thread reads it, so it reports through the job.
        report = getattr(self._route, "report", None) or self._stream_report
        if report is not None:
            report(credential_id, update)

    # -- running the job -----------------------------------------------------------------

    def run_each(
        self, work: Callable[[Pull, CredentialTarget], Any]
    ) -> list[tuple[CredentialTarget, Any]]:
        """Run ``work(pull, target)`` for every credential, side by side, as one run of the job
        (its figures in :attr:`stats`, its progress in one bar).

        Returns:
            ``[(target, result)]`` of the credentials that succeeded, in the targets' order.
        """
        started = time.monotonic()
        targets = self.targets()
        self.last_targets = targets
        self.stats = MultiPullStats(credentials=len(targets))
        if not targets:
            self.stats.notes.append(f"no credential of {self.connector_id!r} was found")
        workers = min(self.workers or DEFAULT_WORKERS, max(1, len(targets)))
        # Each pull holds up to three chunks of records on their way to Arrow; with many at
        # once, smaller chunks keep the job's total near what a few pulls would hold.
        chunk_records = min(CHUNK_RECORDS, max(MIN_CHUNK_RECORDS, CHUNK_BUDGET // workers))
        figures: dict[str, ProgressUpdate] = {}
        reporter = make_reporter(
            self.options.progress,
            description=f"{self.connector_id} {self.action_id} x{len(targets)}",
        )

        def report(done: bool = False) -> None:
            with self._lock:
                updates = list(figures.values())
                finished, failed = self.stats.done, self.stats.failed
            reporter.update(
                combined_update(
                    updates,
                    elapsed=time.monotonic() - started,
                    done=done,
                    credentials_done=finished,
                    credentials_failed=failed,
                    credentials_total=len(targets),
                )
            )

        def on_update(credential_id: str, update: ProgressUpdate) -> None:
            with self._lock:
                figures[credential_id] = update
            report()

        results: dict[int, Any] = {}
        first_error: AlloyError | None = None

        def stopping() -> bool:
            # A closed client, or a mistake in the options, fails every credential alike: that
            # is the job's error, not theirs.
            return first_error is not None and (
                self.on_error == "raise"
                or isinstance(first_error, (ClientClosedError, ConfigurationError))
            )

        def one(index: int, target: CredentialTarget) -> None:
            nonlocal first_error
            if stopping():
                return  # stopping: credentials not started yet are not started
            pull = self.pull_for(target, chunk_records=chunk_records)
            self._route.report = on_update
            try:
                results[index] = work(pull, target)
            except AlloyError as error:
                with self._lock:
                    self.stats.failed += 1
                    self.stats.failures.append(
                        CredentialFailure(
                            target.user_id, target.credential_id, error, pull.stats.records
                        )
                    )
                    if first_error is None or isinstance(
                        error, (ClientClosedError, ConfigurationError)
                    ):
                        first_error = error
                logger.info(
                    "pull_many %s: %s failed: %s", self.action_id, target.credential_id, error
                )
            else:
                with self._lock:
                    self.stats.done += 1
            finally:
                self._route.report = None
                with self._lock:
                    self.stats.per_credential[target.credential_id] = pull.stats
                report()

        pool = ThreadPoolExecutor(workers, thread_name_prefix="alloy-data-credential")
        try:
            futures: list[Future[None]] = [pool.submit(one, i, t) for i, t in enumerate(targets)]
            for future in futures:
                future.result()
                if stopping():
                    for pending in futures:
                        pending.cancel()
                    break
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            self._total(started)
            report(done=True)
            reporter.close()
        if first_error is not None and stopping():
            raise first_error
        return [(targets[index], results[index]) for index in sorted(results)]

    def _total(self, started: float) -> None:
        stats = self.stats
        stats.elapsed = time.monotonic() - started
        every = list(stats.per_credential.values())
        stats.pages = sum(s.pages for s in every)
        stats.requests = sum(s.requests for s in every)
        stats.retries = sum(s.retries for s in every)
        stats.seconds_waited = sum(s.seconds_waited for s in every)
        stats.seconds_paced = sum(s.seconds_paced for s in every)
        stats.refused = sum(s.refused for s in every)
        stats.limit_waits = sum(s.limit_waits for s in every)
        stats.seconds_limited = sum(s.seconds_limited for s in every)
        stats.rate_limits = sorted({limit for s in every for limit in s.rate_limits})
        stats.records_fetched = sum(s.records_fetched for s in every)
        stats.failures.sort(key=lambda failure: failure.credential_id)
        for failure in stats.failures:
            stats.notes.append(f"credential {failure}")

    # -- results -------------------------------------------------------------------------

    def iter_records(self) -> Iterator[dict[str, Any]]:
        """Yield every credential's records, credential after credential, each with its user
        and credential in ``user_column`` and ``credential_column``.

        The credentials are fetched side by side; the records of each come in page order.
        """
        for target, records in self.run_each(lambda pull, _: list(pull.iter_records())):
            tags = {self.user_column: target.user_id, self.credential_column: target.credential_id}
            for record in records:
                yield {**record, **tags}

    def to_arrow(self) -> pa.Table:
        """Pull every credential into one Arrow table (schemas unified, drift per credential in
        ``stats.drift``); failed credentials are left out and listed in ``stats.failures``.

        Returns:
            A ``pyarrow.Table`` with ``user_column`` and ``credential_column``.
        """
        tables = self.run_each(lambda pull, _: pull.to_arrow())
        combined, drift = combine_tables(tables, self.many_options.tag_columns)
        self.stats.drift.update(drift)
        self.stats.records = combined.num_rows
        return combined

    def to_tables(self) -> dict[str, pa.Table]:
        """Pull every credential (see :meth:`to_arrow`) into a parent table and one child
        table per list of objects, as :meth:`Pull.to_tables` does; every row of every table
        carries the user and credential columns, and the parent's key is unique with them.

        Returns:
            The Arrow tables by name, the parent first.
        """
        return split_pull_tables(
            self.to_arrow(), self.action_id, self.options, self.many_options.tag_columns
        )

    def to_reader(self) -> pa.RecordBatchReader:
        """Open the job as one stream of Arrow record batches, credential after credential.

        The credentials are pulled one at a time as the reader is read, each converted page by
        page, so memory stays that of one pull's stream. The schema is declared from the first
        credential that has records (its first page), with ``_late_fields``, then
        ``user_column`` and ``credential_column``; values the schema cannot hold, from any
        credential, are kept in ``_late_fields`` (see :meth:`Pull.to_reader
        <alloy_data.pull.Pull.to_reader>`). A credential that fails is left out and listed in
        ``stats.failures`` (``on_error="raise"`` raises instead). Read it once.

        Returns:
            A ``pyarrow.RecordBatchReader``.
        """
        from alloy_data.many._stream import open_many

        opening = self._opening
        if opening is None or not opening.unread:
            opening = self._opening = open_many(self)
        return opening.reader()

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        """The Arrow PyCapsule stream of the job (see :meth:`to_reader`), which DuckDB,
        Polars and pyarrow read: ``duckdb.sql("from many")``, ``polars.DataFrame(many)``."""
        return self.to_reader().__arrow_c_stream__(requested_schema)

    def to_polars(self) -> Any:
        """Pull every credential into one Polars DataFrame (the rows of :meth:`to_arrow`).

        Polars is an optional extra: ``pip install 'alloy-data[polars]'``.

        Returns:
            A ``polars.DataFrame``.

        Raises:
            ConfigurationError: When Polars is not installed, naming the extra to install.
        """
        from alloy_data.pull import import_polars

        polars = import_polars()  # before fetching: a missing extra is said at once
        return polars.from_arrow(self.to_arrow())

    def to_dataframe(self, *, dtype_backend: str = "numpy_nullable") -> pd.DataFrame:
        """Pull every credential into one pandas DataFrame (see :meth:`to_arrow`).

        Returns:
            A ``pandas.DataFrame``.
        """
        from alloy_data.frames import to_dataframe

        return to_dataframe(self.to_arrow(), dtype_backend=dtype_backend, release=True)

    def to_parquet(
        self,
        path: str | Path,
        *,
        partition_cols: Sequence[str] | None = None,
        overwrite: bool = False,
        resume: bool = False,
        storage_options: dict[str, Any] | None = None,
        mode: Literal["replace", "merge", "append"] = "replace",
        tables: bool = False,
    ) -> Path | str:
        """Stream every credential into one Parquet dataset (a directory) or file.

        With ``partition_cols=[credential_column]`` (or a path without a suffix), ``path`` is a
        directory with one file per credential (``part-<credential id>.parquet``, holding the
        user and credential columns), each streamed with bounded memory, written atomically
        and carrying its own provenance; ``_SUCCESS`` and a manifest are written last, when
        every credential is done. pandas, pyarrow, DuckDB and Polars read the directory as
        one dataset. With ``resume=True`` a job that stopped skips the
        credentials whose files are complete and resumes the one that was cut. With a
        ``.parquet`` path the credentials are staged that way beside it, then streamed into one
        file. After a complete run, each credential's rows are written without a request.

        Args:
            path: A local path, a ``file://`` URL, or the URL of an object store or other
                fsspec filesystem (``s3://bucket/orders/`` for a dataset under that prefix,
                ``s3://bucket/orders.parquet`` for one file). For a URL, the files are
                staged and checkpointed on local disk, and each credential's file is uploaded
                when complete, then the manifest, then ``_SUCCESS``.
            partition_cols: ``[credential_column]`` or None.
            overwrite: Replace an existing dataset or file.
            resume: Continue a job that stopped, skipping the credentials already written.
            storage_options: For a URL: the fsspec filesystem's options (credentials,
                endpoint, region), as pandas takes them. Never shown in errors or logs.
            mode: ``"replace"``, or with ``incremental=`` ``"merge"`` or ``"append"``: each
                credential's file in a dataset directory or prefix is updated from its own
                high-water mark, as :meth:`Pull.to_parquet` does for one file (for a URL, a
                copy of each object is updated on local disk and uploaded), and the manifest
                lists each mark.
            tables: Write :meth:`to_tables` instead, one dataset per table under the
                directory ``path`` (see :meth:`Pull.to_parquet`). The credentials are staged
                in ``path/_pull.parquet`` first, as a ``.parquet`` path is, so that
                ``resume=True`` continues a job that stopped.

        Returns:
            The path written, or the URL for a URL other than ``file://``.

        Raises:
            ConfigurationError: For bad options, an existing dataset without ``overwrite``,
                or a URL whose filesystem package is not installed.
            ExportError: If the target cannot be written, with what to do.
        """
        if tables:
            check_tables_export(partition_cols=partition_cols, mode=mode, target=path)
            return export_tables(
                path,
                stage=lambda file: self.to_parquet(file, overwrite=True, resume=resume),
                split=lambda table: split_pull_tables(
                    table, self.action_id, self.options, self.many_options.tag_columns
                ),
                identity=tables_identity(self),
                resume=resume,
                overwrite=overwrite,
                compression="zstd",
                storage_options=storage_options,
                metadata={
                    "connector": self.connector_id,
                    "action": self.action_id,
                    "parameters": json.dumps(
                        public_parameters(self.options.parameters), default=str
                    ),
                },
            )
        return export_parquet(
            self,
            path,
            partition_cols=partition_cols,
            overwrite=overwrite,
            resume=resume,
            storage_options=storage_options,
            mode=mode,
        )

    def to_file(
        self,
        path: str | Path,
        *,
        overwrite: bool = False,
        resume: bool = False,
        storage_options: dict[str, Any] | None = None,
    ) -> Path | str:
        """Stream every credential into one ``.parquet``, ``.csv`` or ``.jsonl`` file.

        Args:
            path: A local path, a ``file://`` URL, or an object store's URL (see
                :meth:`to_parquet`).
            overwrite: Replace an existing file.
            resume: Continue a job that stopped, skipping the credentials already staged.
            storage_options: For a URL: the fsspec filesystem's options, as pandas takes them.

        Returns:
            The path written, or the URL for a URL other than ``file://``.
        """
        return export_file(
            self, path, overwrite=overwrite, resume=resume, storage_options=storage_options
        )
