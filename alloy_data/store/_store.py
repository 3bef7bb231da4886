"""Where each stored copy lives, how old it is, its lock, listing, dropping and limits."""

from __future__ import annotations

import builtins
import contextlib
import datetime as dt
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alloy_data.errors import AlloyError, ConfigurationError, ExportError
from alloy_data.incremental import parse_moment, to_datetime
from alloy_data.store._folders import SUFFIX as _SUFFIX
from alloy_data.store._folders import LocalFolder, RemoteFolder, folder_for
from alloy_data.store._key import StoreKey, path_segment

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    import pyarrow as pa

__all__ = ["Store", "StoredCopy"]

logger = logging.getLogger("alloy_data.store")


#: The columns of :meth:`Store.list`, in order.
LIST_COLUMNS = (
    "connector",
    "action",
    "credential",
    "user",
    "parameters",
    "rows",
    "bytes",
    "fetched_at",
    "mark",
    "path",
)


@dataclass(frozen=True)
class StoredCopy:
    """One pull's copy in the store, as its file says.

    Attributes:
        path: The Parquet file (its URL in an object store).
        connector_id: The connector.
        action_id: The action.
        credential_id: The credential.
        user_id: The user who owns the credential ("" when unknown).
        parameters: The action's parameters as JSON text (secret-looking values masked).
        rows: Rows in the file.
        bytes: The file's size.
        fetched_at: When the pull that wrote it ended (UTC).
        mark: With ``incremental=``: the high-water mark the next refresh starts from (UTC).
        written: When the file was written (its change time, in nanoseconds): orders copies
            fetched within the same second.
    """

    path: Path | str
    connector_id: str
    action_id: str
    credential_id: str
    user_id: str
    parameters: str
    rows: int
    bytes: int
    fetched_at: dt.datetime
    mark: dt.datetime | None
    written: int = 0
    folder: LocalFolder | RemoteFolder | None = field(default=None, repr=False, compare=False)

    @property
    def order(self) -> tuple[dt.datetime, int]:
        """Sorts copies from the oldest fetched to the newest."""
        return (self.fetched_at, self.written)

    def age(self, now: dt.datetime | None = None) -> dt.timedelta:
        """How long ago the copy was fetched."""
        return (now or dt.datetime.now(dt.timezone.utc)) - self.fetched_at

    def read(self) -> pa.Table:
        """The copy's rows (without the file's provenance).

        Raises:
            ExportError: The file went, or cannot be read.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            if self.folder is not None:
                table = self.folder.read(self.path)
            else:
                table = pq.read_table(self.path)
        except (OSError, pa.ArrowException, ExportError) as error:
            raise ExportError(
                f"The store's copy {self.path} cannot be read ({error}): drop it "
                "(client.store.drop(...)) and pull again."
            ) from error
        return table.replace_schema_metadata(None)


def _parse_time(text: str) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def _copy_of(folder: LocalFolder | RemoteFolder, path: Path | str) -> StoredCopy | None:
    """Describe the file at ``path`` from its provenance; None when it is not a stored copy."""
    from alloy_data.export import INCREMENTAL_KEY

    described = folder.describe(path)
    if described is None:
        return None
    metadata, size, written = described
    fetched = _parse_time(metadata.get("pulled_at", ""))
    if fetched is None:
        fetched = dt.datetime.fromtimestamp(written / 1e9, dt.timezone.utc)
    mark = None
    state = metadata.get(INCREMENTAL_KEY)
    if state:
        try:
            seconds = parse_moment(json.loads(state)["high_water_mark"])
        except (ValueError, TypeError, KeyError, AlloyError):
            seconds = None
        mark = None if seconds is None else to_datetime(seconds)
    return StoredCopy(
        path=path,
        connector_id=metadata.get("connector", ""),
        action_id=metadata.get("action", ""),
        credential_id=metadata.get("credential_id", ""),
        user_id=metadata.get("user_id", ""),
        parameters=metadata.get("parameters", "{}"),
        rows=int(metadata.get("row_count", "0") or 0),
        bytes=size,
        fetched_at=fetched,
        mark=mark,
        written=written,
        folder=folder,
    )


class Store:
    """The local store of pulls: one Parquet file per pull's address, under ``root``.

    ``client.store`` is the store of a client (``ad.connect(store=...)``,
    ``ALLOY_DATA_STORE``, else the user's data folder); pulls use it when given ``max_age=``.
    Its folders are readable by their owner alone; no file in it carries a key.

    Args:
        root: The store's folder (a path, or a ``file://`` URL), or an object store's prefix
            (``s3://bucket/alloy-store``, ``gs://``, ``abfs://``: fsspec and the filesystem's
            package, its credentials from its own configuration, such as the environment).

    Raises:
        ConfigurationError: ``root`` is a file, or a URL whose filesystem is unknown or not
            installed (saying what to install).
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.folder = folder_for(root)

    @property
    def root(self) -> Path | str:
        """The store's folder, or its URL in an object store."""
        folder = self.folder
        return folder.root if isinstance(folder, LocalFolder) else folder.url

    def __repr__(self) -> str:
        return f"Store({str(self.folder)!r})"

    # -- one copy -------------------------------------------------------------------------------

    def path_for(self, key: StoreKey) -> Path | str:
        """Where the copy of ``key`` lives (local folders are made, readable by the owner only)."""
        return self.folder.file(key.folder, f"{key.digest}{_SUFFIX}")

    @contextlib.contextmanager
    def lock(self, key: StoreKey) -> Iterator[None]:
        """Hold the lock of ``key``'s copy (``filelock``) while the block runs: a pull holds it
        while it reads the copy's age and refreshes it, so that a second process waits, then
        finds the copy the first one wrote."""
        import filelock

        lock = filelock.FileLock(self.folder.lock_file(self.path_for(key)))
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            logger.info("waiting for another process that is pulling %s", key.folder)
            lock.acquire()
        try:
            yield
        finally:
            lock.release()

    def stored(self, key: StoreKey) -> StoredCopy | None:
        """The copy of ``key``, or None when there is none (or only an unfinished one)."""
        path = self.folder.existing(key.folder, f"{key.digest}{_SUFFIX}")
        return None if path is None else _copy_of(self.folder, path)

    # -- every copy -----------------------------------------------------------------------------

    def copies(self) -> builtins.list[StoredCopy]:
        """Every complete copy in the store."""
        found = (_copy_of(self.folder, path) for path in self.folder.files())
        return [copy for copy in found if copy is not None]

    def list(self) -> pd.DataFrame:
        """Every stored copy, one row each.

        Returns:
            A DataFrame with the columns connector, action, credential, user, parameters,
            rows, bytes, fetched_at (UTC), mark (the incremental high-water mark, if any) and
            path; the newest first.
        """
        import pandas as pd

        rows = [
            (
                c.connector_id,
                c.action_id,
                c.credential_id,
                c.user_id,
                c.parameters,
                c.rows,
                c.bytes,
                c.fetched_at,
                c.mark,
                str(c.path),
            )
            for c in sorted(self.copies(), key=lambda copy: copy.order, reverse=True)
        ]
        frame = pd.DataFrame(rows, columns=list(LIST_COLUMNS))
        frame["fetched_at"] = pd.to_datetime(frame["fetched_at"], utc=True)
        frame["mark"] = pd.to_datetime(frame["mark"], utc=True)
        frame = frame.astype({"rows": "int64", "bytes": "int64"})
        return frame

    def drop(
        self,
        connector_id: str,
        action_id: str | None = None,
        credential_id: str | None = None,
    ) -> int:
        """Remove every file of the copies named: a connector's, an action's, or one
        credential's copies of an action (with their unfinished checkpoints and locks).

        Returns:
            How many complete copies were removed.

        Raises:
            ConfigurationError: A credential is named without an action.
        """
        if credential_id is not None and action_id is None:
            raise ConfigurationError(
                "drop(connector_id, action_id, credential_id): name the action whose copies "
                "of that credential go, or leave the credential out."
            )
        parts = tuple(path_segment(p) for p in (connector_id, action_id, credential_id) if p)
        dropped = 0
        for path in self.folder.files(parts):
            copy = _copy_of(self.folder, path)
            # Folders are named after ids made safe: two ids may share one, so check the file.
            if copy is None or (
                copy.connector_id == connector_id
                and action_id in (None, copy.action_id)
                and credential_id in (None, copy.credential_id)
            ):
                dropped += self._drop_file(path)
        # What an unfinished pull left (a checkpoint, a lock) has no file to check: it goes too.
        self.folder.tidy(parts)
        return dropped

    def _drop_file(self, path: Path | str) -> int:
        import filelock

        lock_file = self.folder.lock_file(path)
        # A process refreshing this copy finishes first: its file then goes with the rest.
        with filelock.FileLock(lock_file):
            existed = _copy_of(self.folder, path) is not None
            self.folder.remove(path)
        Path(lock_file).unlink(missing_ok=True)
        return int(existed)

    def prune(
        self, *, older_than: Any = None, max_bytes: int | None = None
    ) -> builtins.list[StoredCopy]:
        """Keep the store within limits: drop copies fetched longer ago than ``older_than``,
        then the oldest copies until the rest hold at most ``max_bytes``.

        Args:
            older_than: A duration (``"30d"``, a ``timedelta`` or seconds), or None.
            max_bytes: The most bytes the copies may hold together, or None.

        Returns:
            The copies dropped.

        Raises:
            ConfigurationError: A limit is not a duration or a whole number of bytes.
        """
        from alloy_data.store._limits import over_limits

        dropped = over_limits(self.copies(), older_than=older_than, max_bytes=max_bytes)
        for copy in dropped:
            self._drop_file(copy.path)
        self.folder.tidy(())
        return dropped

    # -- SQL ------------------------------------------------------------------------------------

    def duckdb(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with one view per stored action, ``connector.action``.

        Each view holds every credential's copies, with ``_credential_id``, ``_user_id`` and
        ``_parameters`` (JSON text) columns; of copies that differ only by an option such as
        ``max_records``, the newest. JupySQL's ``%sql`` can use the connection
        (``%sql conn --alias store``).

        Returns:
            A new in-memory DuckDB connection (the views read the store's files).

        Raises:
            ConfigurationError: DuckDB is not installed (``pip install 'alloy-data[duckdb]'``).
        """
        from alloy_data.store._sql import connect_views

        return connect_views(self.copies())

    def sql(self, query: str) -> pd.DataFrame:
        """Run SQL over the store's views (see :meth:`duckdb`), such as
        ``select count(*) from shopify.list_orders``.

        Returns:
            The result as a pandas DataFrame.

        Raises:
            ConfigurationError: DuckDB is not installed, or the query fails (with DuckDB's
                words and the views there are).
        """
        from alloy_data.store._sql import run_sql

        return run_sql(self.copies(), query)
