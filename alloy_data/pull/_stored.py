"""A pull through the local store: served from its copy when young enough, else refreshed into it.

The refresh is the export's: pages go to the copy's checkpoint as they arrive, so a run stopped
part-way (a kernel restart, a crash, a KeyboardInterrupt, a failure after the retries) continues
at its next page the next time; the copy is replaced whole only when the refresh ends. With an
``Incremental`` that has a primary key, a refresh fetches only what changed since the mark kept
in the copy and merges it in. The copy's lock is held throughout, so a second process asking
for the same pull waits, then is served what the first one wrote.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alloy_data.errors import ConfigurationError
from alloy_data.options import STORE_KEY_OPTION_NAMES
from alloy_data.pull._export import export_parquet
from alloy_data.pull._stats import PullStats
from alloy_data.pull._tags import tagged_table

if TYPE_CHECKING:
    import pyarrow as pa

    from alloy_data.pull._plan import Pull
    from alloy_data.store import Store, StoredCopy, StoreKey

__all__ = ["client_store", "pull_store_key", "table_through_store", "through_store"]

logger = logging.getLogger("alloy_data.pull")


def client_store(pull: Pull) -> Store:
    """The local store of the pull's client (see :meth:`Pull.store`).

    Raises:
        ConfigurationError: The client has none.
    """
    store = getattr(pull.client, "store", None)
    if store is None:
        raise ConfigurationError(
            "max_age= serves rows from the local store, and this client has none: "
            "connect with ad.connect(store=True) (or a folder), or leave max_age out."
        )
    return store


def pull_store_key(pull: Pull) -> StoreKey:
    """The address of the pull's copy in the store (see :meth:`Pull.store_key`)."""
    from alloy_data.store import StoreKey

    config = getattr(pull.client, "config", None)
    shape = {name: getattr(pull.options, name) for name in STORE_KEY_OPTION_NAMES}
    shape["parameters"] = dict(pull.parameters)
    return StoreKey(
        connector_id=pull.connector_id,
        action_id=pull.action_id,
        credential_id=pull.credential_id,
        user_id=str(pull.user_id or getattr(config, "user_id", None) or ""),
        shape=shape,
    )


def through_store(pull: Pull, *, resume: bool) -> None:
    """Before a file sink: with ``max_age=``, bring the rows the store serves (the export then
    replays them); ``resume=True`` continues the file's own checkpoint instead."""
    if pull.options.max_age is not None and not resume:
        pull.to_arrow()


def table_through_store(pull: Pull, since: Any = None) -> pa.Table:
    """The pull's rows, from the store's copy when it is younger than ``max_age``, else after
    refreshing the copy; tagged as the pull tags its rows.

    Raises:
        ConfigurationError: There is no store, or ``since=`` is given (the store keeps whole
            pulls).
    """
    max_age = pull.options.max_age
    assert isinstance(max_age, dt.timedelta)  # the options made it one
    if since is not None:
        raise ConfigurationError(
            "since= asks for a slice of the records, and the store keeps whole pulls: leave "
            "since= out (with incremental=, a refresh fetches only what changed), or build the "
            "pull without max_age=."
        )
    store = pull.store()
    key = pull.store_key()
    with store.lock(key):
        copy = store.stored(key)
        if copy is not None and max_age > dt.timedelta(0) and copy.age() < max_age:
            table = copy.read()
            stats = _served_stats(copy, table.num_rows)
        else:
            table, stats = _refresh(pull, store, copy)
    pull.served(stats)
    table = tagged_table(table, pull.context.tags)
    pull.keep_rows(table, stats)
    return table


def _served_stats(copy: StoredCopy, rows: int) -> PullStats:
    minutes = copy.age().total_seconds() / 60
    stats = PullStats(
        records=rows,
        stop_reason="end",
        fetched_at=copy.fetched_at,
        refresh="from the store",
        high_water_mark=copy.mark,
    )
    stats.notes.append(
        f"served from the store's copy, fetched {minutes:,.1f} minutes ago (younger than "
        "max_age): no request was made"
    )
    return stats


def _discard_a_foreign_checkpoint(refresher: Pull, path: Path, merge: bool) -> None:
    """Remove an unfinished refresh of this copy made with other fetching options (another
    ``page_size``): its pages cannot be continued by this one, which starts over instead."""
    import shutil

    from alloy_data.export import checkpoint_dir_for, checkpoint_fingerprint, read_incremental_state
    from alloy_data.pull._run import PullRun

    found = checkpoint_fingerprint(path)
    if found is None:
        return
    state = read_incremental_state(path) if merge else None
    mark = None if state is None else state.get("high_water_mark")
    expected = refresher.fingerprint(PullRun(refresher, since=mark).since)
    if found != expected:
        logger.warning(
            "Starting the refresh of %s over: the unfinished one beside it was made with other "
            "options (such as page_size), so it cannot be continued.",
            path,
        )
        shutil.rmtree(checkpoint_dir_for(path), ignore_errors=True)


def _refresh(pull: Pull, store: Store, copy: StoredCopy | None) -> tuple[pa.Table, PullStats]:
    """Bring the copy up to date through the export (resuming a stopped refresh), then read it.

    The copy holds the rows untagged: a single pull and a pull of many credentials share it.
    """
    from alloy_data.pull._plan import Pull

    incremental = pull.options.incremental
    merge = incremental is not None and bool(incremental.keys)
    refresher = Pull(
        pull.client,
        pull.connector_id,
        pull.action_id,
        credential_id=pull.credential_id,
        user_id=pull.user_id,
        options=pull.options,
        context=dataclasses.replace(pull.context, tags={}),
    )
    path = store.path_for(pull.store_key())
    if isinstance(path, Path):
        _discard_a_foreign_checkpoint(refresher, path, merge)
    try:
        export_parquet(
            refresher,
            path,
            overwrite=True,
            compression="zstd",
            row_group_size=None,
            partition_cols=None,
            resume=True,
            storage_options=None,
            mode="merge" if merge else "replace",
        )
    finally:
        pull.served(refresher.stats)  # what the refresh did, shown by the pull it served
    stats = refresher.stats
    stats.fetched_at = dt.datetime.now(dt.timezone.utc)
    if stats.resumed:
        stats.refresh = "resumed"
    elif merge and copy is not None:
        stats.refresh = "incremental"
    else:
        stats.refresh = "full"
    refreshed = store.stored(pull.store_key())
    assert refreshed is not None
    table = refreshed.read()
    if merge:
        # The figures of an incremental refresh count what changed; the rows are the copy's.
        stats.notes.append(
            f"{stats.records_fetched:,} changed records merged into the store's copy, which "
            f"holds {table.num_rows:,}"
        )
    return table, stats
