"""``client.pull(...)``: every page of a list action, as records, Arrow, pandas or a file.

A :class:`Pull` is a plan: what to fetch (connector, action, credential) and how
(:class:`~alloy_data.options.PullOptions`), fixed when it is built. Each sink call runs it as a
:class:`~alloy_data.pull._run.PullRun` of its own. A sink after a complete run reuses that run's
rows instead of fetching every page again; :meth:`Pull.reset` makes the next one fetch anew.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from alloy_data.errors import ConfigurationError
from alloy_data.http import RetryPolicy
from alloy_data.incremental import find_filter_parameter
from alloy_data.options import PullOptions
from alloy_data.pull._client import PullClient
from alloy_data.pull._context import PullContext
from alloy_data.pull._convert import fetch_table, partial_table
from alloy_data.pull._display import pull_html
from alloy_data.pull._export import export_file, export_parquet
from alloy_data.pull._identity import fingerprint, provenance, public_parameters
from alloy_data.pull._replay import LastRun, reused_rows
from alloy_data.pull._run import PullRun
from alloy_data.pull._schema import record_schema, schema_columns
from alloy_data.pull._stats import PullStats
from alloy_data.pull._stored import (
    client_store,
    pull_store_key,
    table_through_store,
    through_store,
)
from alloy_data.pull._tables import check_tables_export, export_tables, split_pull_tables

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from alloy_data.engine import RequestRate
    from alloy_data.frames import EpochTimes, Shape, TableBuilder
    from alloy_data.incremental import FilterParameter, Incremental
    from alloy_data.models import Action
    from alloy_data.pagination import Page
    from alloy_data.progress import ProgressOption
    from alloy_data.pull._stream import Opening
    from alloy_data.store import Store, StoreKey

__all__ = ["Pull", "public_parameters"]


def _identifier(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{name} must be a non-empty string, not {value!r}.")
    return value


class _Served:
    """Figures of a sink that was served from the last run (it has no run of its own)."""

    def __init__(self, stats: PullStats) -> None:
        self.stats = stats


class Pull:
    """Every page of one list action, fetched lazily.

    Build it with :meth:`alloy_data.AlloyClient.pull`, whose docstring describes every
    option. Nothing is fetched until a sink runs it (``iter_pages``, ``iter_records``,
    ``to_arrow``, ``to_reader``, ``to_dataframe``, ``to_polars``, ``to_parquet``,
    ``to_file``). It is an Arrow stream too (``__arrow_c_stream__``): DuckDB, Polars and
    pyarrow read it as pages are converted (``duckdb.sql("from pull")``). A table or file sink
    after a complete run of the same pull reuses that run's rows (``stats.reused`` says so);
    :meth:`reset` makes the next sink fetch anew. :attr:`stats` describes the last run.

    Args:
        client: The client that sends the requests.
        connector_id: The connector, such as ``"shopify"``.
        action_id: A list action of it, such as ``"list-orders"``.
        credential_id: The credential the action runs with.
        user_id: The user who owns the credential (default: the client's).
        options: How to fetch and convert; default ``PullOptions()``.
        context: How the pull takes part in a larger job (a pull of many credentials).
    """

    def __init__(
        self,
        client: PullClient,
        connector_id: str,
        action_id: str,
        *,
        credential_id: str,
        user_id: str | None = None,
        options: PullOptions | None = None,
        context: PullContext | None = None,
    ) -> None:
        self.client = client
        self.connector_id = _identifier("connector_id", connector_id)
        self.action_id = _identifier("action_id", action_id)
        self.credential_id = _identifier("credential_id", credential_id)
        self.user_id = None if user_id is None else _identifier("user_id", user_id)
        if options is not None and not isinstance(options, PullOptions):
            raise ConfigurationError(
                f"options must be alloy_data.options.PullOptions, not {type(options).__name__}."
            )
        self.options = options if options is not None else PullOptions()
        self.context = context if context is not None else PullContext()
        self._lock = threading.Lock()
        self._action: Action | None = None
        self._filter: tuple[FilterParameter | None] | None = None
        rate = self.options.max_requests_per_second
        if rate is not None:
            from alloy_data.engine import RequestRate

            self._rate: RequestRate | None = RequestRate(rate)
        else:
            self._rate = None
        self._latest: PullRun | _Served | None = None
        self._last: LastRun | None = None
        self._partial: TableBuilder | None = None
        self._opening: Opening | None = None

    # -- the plan -------------------------------------------------------------------------------

    @property
    def parameters(self) -> Mapping[str, Any]:
        """The action's parameters this pull sends (read-only)."""
        return self.options.parameters

    @property
    def incremental(self) -> Incremental | None:
        """The pull's :class:`~alloy_data.Incremental`, if any."""
        return self.options.incremental

    @property
    def stats(self) -> PullStats:
        """What the last run did (the one in progress, while a sink runs)."""
        latest = self._latest
        return latest.stats if latest is not None else PullStats()

    def __repr__(self) -> str:
        return (
            f"Pull({self.connector_id!r}, {self.action_id!r}, "
            f"parameters={public_parameters(self.parameters)!r})"
        )

    def _repr_html_(self) -> str:
        return pull_html(self)

    # -- what runs ask of the plan --------------------------------------------------------------

    def action(self) -> Action:
        """The action's details (its parameters, record schema), fetched once per pull."""
        with self._lock:
            if self._action is None:
                self._action = self.client.actions.get(
                    self.connector_id, self.action_id, retry_policy=self.retry_policy
                )
            return self._action

    def filter_parameter(self) -> FilterParameter | None:
        """The action's parameter that narrows an incremental run, found once per pull."""
        incremental = self.options.incremental
        if incremental is None:
            return None
        if self._filter is None:
            self._filter = (find_filter_parameter(self.action(), incremental),)
        return self._filter[0]

    @property
    def retry_policy(self) -> RetryPolicy:
        """How this pull retries each page: ``retries`` if it is a policy, else the client's
        policy with a pull's patience (:meth:`RetryPolicy.for_pulls`), with ``retries`` as
        its number of retries when that is a number."""
        retries = self.options.retries
        if isinstance(retries, RetryPolicy):
            return retries
        policy = self.client.retry_policy.for_pulls()
        if retries is not None:
            policy = dataclasses.replace(policy, max_retries=retries)
        return policy

    def request_rates(self) -> tuple[RequestRate, ...]:
        """The request rates every attempt waits for: the pull's own and its job's."""
        return tuple(r for r in (self._rate, self.context.shared_rate) if r is not None)

    def progress_option(self) -> ProgressOption:
        """Where progress goes: the job's reporter, else the options' ``progress``."""
        return self.context.progress if self.context.progress is not None else self.options.progress

    def known_columns(self) -> tuple[str, ...]:
        """Column names from the record schema the action's metadata declares, if any."""
        return tuple(schema_columns(record_schema(self.action())))

    def epochs(self, converted: Iterable[str] = ()) -> EpochTimes:
        """Which columns become timestamps, as ``timestamps=`` and the declared schema say."""
        from alloy_data.frames import EpochTimes, declared_epoch_columns

        declared = declared_epoch_columns(record_schema(self.action()))
        return EpochTimes(self.options.timestamps, declared, converted=converted)

    def shape(self) -> Shape:
        """The columns chosen and how nested objects flatten, as the options say."""
        from alloy_data.frames import Shape

        options = self.options
        columns = None if options.columns is None else tuple(options.columns)
        return Shape(columns, options.flatten, options.flatten_depth)

    def last_run(self) -> LastRun | None:
        """The last complete run whose rows a sink can reuse, if any."""
        return self._last

    def started(self, run: PullRun) -> None:
        """Record ``run`` as the one :attr:`stats` describes."""
        self._latest = run

    def finished(
        self, run: PullRun, *, rows: pa.Table | None = None, file: Path | None = None
    ) -> None:
        """Record ``run`` as the last; with its rows (or the file they went to), keep them for
        the next sink."""
        self._latest = run
        if rows is not None or file is not None:
            self._opening = None  # a stream opened before now serves these rows instead
        if rows is not None:
            self._last = LastRun.of_table(rows, run.stats, run.since)
        elif file is not None:
            self._last = LastRun.of_file(file, run.stats, run.since)

    def served(self, stats: PullStats) -> None:
        """Record that a sink was served from the last run, with these figures."""
        self._latest = _Served(stats)

    def reset(self) -> None:
        """Forget the last run's rows: the next sink fetches every page anew."""
        self._last = None
        self._opening = None

    def keep_rows(self, table: pa.Table, stats: PullStats) -> None:
        """Keep ``table`` (rows a sink was served) for the next sink, with these figures."""
        since = PullRun(self).since
        self._last = LastRun.of_table(table, stats, since)

    # -- the local store ------------------------------------------------------------------------

    def store(self) -> Store:
        """The client's local store, which ``max_age=`` uses.

        Raises:
            ConfigurationError: The client has none (``store=False`` or ``ALLOY_DATA_STORE=off``).
        """
        return client_store(self)

    def store_key(self) -> StoreKey:
        """The address of this pull's copy in the store: connector, action, credential, user
        and every option that changes the rows or columns."""
        return pull_store_key(self)

    # -- sinks ----------------------------------------------------------------------------------

    def iter_pages(self) -> Iterator[Page]:
        """Fetch the pages one after another (always from the API).

        Yields:
            :class:`alloy_data.pagination.Page` objects in order: records, page number,
            the parameters sent, the next-state and the raw body.
        """
        run = PullRun(self)
        self.started(run)
        return run.pages(run.walker())

    def iter_records(self) -> Iterator[dict[str, Any]]:
        """Fetch the pages and yield their records one by one (as the API sent them)."""
        for page in self.iter_pages():
            yield from page.records

    def to_arrow(self, *, since: Any = None) -> pa.Table:
        """Fetch every page into one typed Arrow table.

        Nested objects become dotted columns, timestamps UTC, integers with nulls stay
        integers, and columns that appear late or widen are unified (see ``stats.drift``).
        After a complete run of this pull with the same ``since``, its rows are returned
        without a request (``stats.reused``); :meth:`reset` fetches anew.

        Args:
            since: With ``incremental=``: fetch only records whose cursor field is at or after
                this moment (a ``datetime``, ISO-8601 text or epoch seconds, such as the last
                run's ``stats.high_water_mark``), less the lookback. Default: ``start``.

        Returns:
            A ``pyarrow.Table``.
        """
        if self.options.max_age is not None:
            return table_through_store(self, since)
        run = PullRun(self, since=since)
        rows = reused_rows(self, run.since)
        if rows is not None:
            return rows
        self.started(run)
        return fetch_table(run, keep_partial=self._keep_partial)

    def _keep_partial(self, builder: TableBuilder | None) -> None:
        self._partial = builder

    def to_reader(self, *, since: Any = None) -> pa.RecordBatchReader:
        """Open the pull as a stream of Arrow record batches, converted as pages arrive.

        The whole table is never built: memory stays bounded whatever the record count. The
        stream's schema is declared before its first batch, from the first page that has
        records, plus one more column, ``_late_fields``. A later value the declared column
        holds as it is stays there; a field first seen after that page, or a value of a type
        its column cannot hold unchanged (a float in an integer column, text in a number
        column, a list of objects with new fields), is kept losslessly in the row's
        ``_late_fields`` JSON object (``{"discount_code": "SAVE10"}``); ``stats.late_fields``
        counts them. (:meth:`to_arrow` and :meth:`to_parquet` widen their columns instead.)
        After a complete run of this pull, its rows are streamed without a request. The first
        page is fetched when the stream is opened, the rest as it is read. Read it once.

        Args:
            since: With ``incremental=``: only records changed at or after this moment (see
                :meth:`to_arrow`).

        Returns:
            A ``pyarrow.RecordBatchReader``.
        """
        from alloy_data.pull._stream import open_pull

        opening = self._opening
        if opening is None or not opening.unread or opening.key != since:
            opening = self._opening = open_pull(self, since=since)
        return opening.reader()

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        """The Arrow PyCapsule stream of the pull (see :meth:`to_reader`), which DuckDB,
        Polars and pyarrow read: ``duckdb.sql("from pull")``, ``polars.DataFrame(pull)``,
        ``pyarrow.table(pull)``."""
        return self.to_reader().__arrow_c_stream__(requested_schema)

    def to_polars(self, *, since: Any = None) -> Any:
        """Fetch every page into a ``polars.DataFrame``: the rows and columns of
        :meth:`to_arrow` (``since`` as there). Polars is an optional extra.

        Raises:
            ConfigurationError: When Polars is not installed, naming
                ``pip install 'alloy-data[polars]'``.
        """
        from alloy_data.pull._engines import import_polars

        polars = import_polars()  # before fetching: a missing extra is said at once
        return polars.from_arrow(self.to_arrow(since=since))

    def to_dataframe(
        self, *, dtype_backend: str = "numpy_nullable", since: Any = None
    ) -> pd.DataFrame:
        """Fetch every page into a pandas DataFrame (see :meth:`to_arrow`).

        Args:
            dtype_backend: ``"numpy_nullable"`` (``Int64``, ``boolean``, ``string``, ...) or
                ``"pyarrow"`` (``pd.ArrowDtype`` columns; lists such as ``line_items`` stay
                Arrow lists instead of NumPy arrays).
            since: With ``incremental=``: only records changed at or after this moment (see
                :meth:`to_arrow`); ``stats.high_water_mark`` is where the next run starts.

        Returns:
            A ``pandas.DataFrame``.
        """
        from alloy_data.frames import to_dataframe

        table = self.to_arrow(since=since)
        # A fresh table is this call's own, so its memory is released as the columns convert;
        # the rows kept for the next sink are a mapped copy of their own.
        return to_dataframe(table, dtype_backend=dtype_backend, release=not self.stats.reused)

    def to_tables(self, *, since: Any = None) -> dict[str, pa.Table]:
        """Fetch every page (see :meth:`to_arrow`) into a parent table and one child table per
        list of objects, such as ``{"orders": ..., "orders__line_items": ...}``.

        The parent is named after the action (``list-orders``: ``orders``) and holds every
        column but the lists of objects. A child of column ``line_items`` is
        ``orders__line_items``: one row per item, its fields as columns (flattened as
        ``flatten=`` says), with the parent's key as ``_parent_<key>`` and the item's
        ``_position`` in its list (from 0); lists inside items become grandchildren the same
        way. The parent's key is the ``incremental=`` primary key, else its ``id`` column,
        when that is never null and unique; otherwise the parent gets a ``_row`` column (its
        row's position) and children carry ``_parent__row``. With ``flatten="json"`` lists are
        text, so there is only the parent.

        Returns:
            The Arrow tables by name, the parent first.
        """
        return split_pull_tables(
            self.to_arrow(since=since), self.action_id, self.options, tuple(self.context.tags)
        )

    def partial_arrow(self) -> pa.Table:
        """Return what the last run fetched before an error stopped it, as an Arrow table.

        Raises:
            ConfigurationError: When the last run did not fail part-way (or was an export,
                whose pages wait in its checkpoint for ``resume=True``).
        """
        return partial_table(self._partial, self.context.tags)

    def partial_dataframe(self, *, dtype_backend: str = "numpy_nullable") -> pd.DataFrame:
        """Return what the last run fetched before it stopped, as a DataFrame."""
        from alloy_data.frames import to_dataframe

        return to_dataframe(self.partial_arrow(), dtype_backend=dtype_backend)

    def provenance(self) -> dict[str, str]:
        """The provenance recorded in exported files (no secrets).

        Returns:
            A dict of strings: connector, action, parameters (secret-looking values masked),
            user and credential ids, base URL, alloy-data version.
        """
        return provenance(self)

    def fingerprint(self, since: float | None = None) -> str:
        """A stable identity of this pull (connector, action, parameters, lower bound), for
        resuming an export."""
        return fingerprint(self, since)

    def to_parquet(
        self,
        path: str | Path,
        *,
        overwrite: bool = False,
        compression: str = "zstd",
        row_group_size: int | None = None,
        partition_cols: list[str] | None = None,
        resume: bool = False,
        storage_options: dict[str, Any] | None = None,
        mode: Literal["replace", "merge", "append"] = "replace",
        tables: bool = False,
    ) -> Path | str:
        """Stream every page into a Parquet file (or a Hive-partitioned directory).

        Memory stays bounded whatever the record count. The file appears at ``path`` only when
        complete. Its footer records provenance (see :func:`alloy_data.read_metadata`). A pull
        that stops part-way leaves a checkpoint beside ``path``; ``resume=True`` continues it.
        After a complete run of this pull, its rows are written without a request.

        Args:
            path: A local path, a ``file://`` URL, or the URL of an object store or other
                fsspec filesystem (``s3://bucket/orders.parquet``, ``gs://``, ``abfs://``).
                A URL is staged and checkpointed on local disk, then uploaded whole.
            overwrite: Replace an existing target, only once the new file is complete.
            compression: ``"zstd"``, ``"snappy"``, ``"gzip"``, ``"brotli"``, ``"lz4"`` or
                ``"none"``.
            row_group_size: Rows per row group (default 65,536).
            partition_cols: Write a Hive-partitioned directory (``col=value/``); to a URL, a
                prefix published with ``_SUCCESS`` last.
            resume: Continue an interrupted export of the same pull to the same target.
            storage_options: For a URL: the fsspec filesystem's options (credentials,
                endpoint, region), as pandas takes them. Never shown in errors or logs.
            mode: ``"replace"`` writes the file anew (an existing one only with
                ``overwrite=True``). With ``incremental=``, ``"merge"`` updates the file at
                ``path``: only records changed since the high-water mark in its provenance are
                fetched, a new version of a primary key replaces the old row and the other rows
                stay; ``"append"`` adds the changed records, keeping every version. Both start
                the file when it is missing, and keep the new mark in its provenance (see
                :func:`alloy_data.read_metadata`). For an object store's URL the object is
                merged on local disk from a copy and uploaded whole.
            tables: Write :meth:`to_tables` instead: ``path`` is a directory with one dataset
                per table (``orders/``, ``orders__line_items/``), each published whole (its
                file, a manifest, then ``_SUCCESS``). The pull is staged in
                ``path/_pull.parquet`` first (resumable with ``resume=True``), then split in
                memory, so the whole parent table is held at once; ``partition_cols`` and
                ``mode`` do not apply.

        Returns:
            The path written, or the URL for a URL other than ``file://``.

        Raises:
            ExportError: If the target cannot be written (checked before anything is fetched
                where possible), with what to do.
            ConfigurationError: For a bad option, or a URL whose filesystem package is not
                installed (saying what to install).
        """
        if tables:
            check_tables_export(partition_cols=partition_cols, mode=mode, target=path)
            return export_tables(
                path,
                stage=lambda file: self.to_parquet(
                    file, overwrite=True, compression=compression, resume=resume
                ),
                split=lambda table: split_pull_tables(
                    table, self.action_id, self.options, tuple(self.context.tags)
                ),
                identity=self.fingerprint(),
                resume=resume,
                overwrite=overwrite,
                compression=compression,
                storage_options=storage_options,
                metadata=self.provenance(),
            )
        through_store(self, resume=resume)
        return export_parquet(
            self,
            path,
            overwrite=overwrite,
            compression=compression,
            row_group_size=row_group_size,
            partition_cols=partition_cols,
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
        """Stream every page into a ``.parquet``, ``.csv`` or ``.jsonl`` file, by its suffix.

        Args:
            path: A local path, a ``file://`` URL, or an object store's URL (see
                :meth:`to_parquet`).
            overwrite: Replace an existing target, only once the new file is complete.
            resume: Continue an interrupted export of the same pull to the same target.
            storage_options: For a URL: the fsspec filesystem's options, as pandas takes them.

        Returns:
            The path written, or the URL for a URL other than ``file://``.

        Raises:
            ExportError: If the target cannot be written, with what to do.
            ConfigurationError: For an unknown suffix or a filesystem that is not installed.
        """
        through_store(self, resume=resume)
        return export_file(
            self, path, overwrite=overwrite, resume=resume, storage_options=storage_options
        )
