"""Scale-out on Dask: one list action for many credentials, one partition per credential.

``read_pull(client, connector, action, credentials=...)`` is ``client.pull_many(...)`` on a Dask
cluster: each credential is pulled into Arrow by a task on a worker, and the result is a
``dask.dataframe.DataFrame`` with one partition per credential holding the rows and columns
``pull_many(...).to_dataframe()`` gives, ``_user_id`` and ``_credential_id`` included.
``ddf.to_parquet(...)`` then writes from the workers. :func:`from_pull_many` turns a
:class:`~alloy_data.many.MultiPull` you built for a local run into the same DataFrame.
:func:`read_tables` takes the same arguments and gives the tables of
``pull_many(...).to_tables()``, a DataFrame per table, each credential split on its worker.

The pulls run when ``read_pull`` is called, and their tables stay on the workers (persisted):
only their schemas come back, to type the columns exactly as pull_many unifies them. What the
DataFrame computes later (aligning each table to those columns, pandas, your own steps) reads
those tables; nothing is fetched again.

Dask is an optional extra (``pip install 'alloy-data[dask]'``); importing this module does not
import it, calling it does.

How the client reaches the workers: never the client itself (it holds a connection pool and
its key), but a :class:`ClientSpec` (base URL, API version, user, timeout, retries, and the key
in a :class:`MaskedSecret`), from which each task builds its own
:class:`~alloy_data.AlloyClient`. The key shows only masked (``sk_t…(40 chars)``) in any repr
of the task graph, and no task key or name holds it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from alloy_data.client import AlloyClient
from alloy_data.config import ClientConfig
from alloy_data.dask._read import pull_on_cluster, read_frame
from alloy_data.dask._spec import ClientSpec, MaskedSecret
from alloy_data.dask._tables import read_table_frames
from alloy_data.dask._task import EVENT_TOPIC
from alloy_data.errors import ConfigurationError
from alloy_data.many import MultiPull
from alloy_data.options import (
    CREDENTIAL_COLUMN,
    MANY_OPTION_NAMES,
    PULL_OPTION_NAMES,
    USER_COLUMN,
    FlattenOption,
    TimestampsOption,
    UndeclaredParametersOption,
    documented,
    many_options_from,
    pull_options_from,
)

if TYPE_CHECKING:
    from datetime import timedelta

    import dask.dataframe as dd
    import pyarrow as pa

    from alloy_data.http import RetryPolicy
    from alloy_data.incremental import Incremental
    from alloy_data.pagination import PaginatorOption
    from alloy_data.progress import ProgressOption

__all__ = [
    "EVENT_TOPIC",
    "INSTALL_HINT",
    "ClientSpec",
    "MaskedSecret",
    "from_pull_many",
    "read_pull",
    "read_tables",
]

logger = logging.getLogger("alloy_data.dask")

#: What to run to get Dask, named in the error when it is missing.
INSTALL_HINT = "pip install 'alloy-data[dask]'"


def _dask_dataframe() -> ModuleType:
    try:
        import dask.dataframe
    except ImportError as error:
        raise ConfigurationError(
            f"alloy_data.dask needs Dask's DataFrame, which cannot be imported here ({error}). "
            f"Install the extra: {INSTALL_HINT}"
        ) from None
    return dask.dataframe


@documented(*MANY_OPTION_NAMES, *PULL_OPTION_NAMES)
def read_pull(
    client_or_config: AlloyClient | ClientConfig,
    connector_id: str,
    action_id: str,
    *,
    credentials: Sequence[str] | Sequence[tuple[str, str]] | Literal["all"],
    workers: int | None = None,
    on_error: Literal["continue", "raise"] = "continue",
    user_column: str = USER_COLUMN,
    credential_column: str = CREDENTIAL_COLUMN,
    max_total_requests_per_second: float | None = None,
    parameters: Mapping[str, Any] | None = None,
    undeclared_parameters: UndeclaredParametersOption = "refuse",
    paginator: PaginatorOption = "auto",
    page_size: int | None = None,
    max_pages: int | None = None,
    max_records: int | None = None,
    concurrency: int | Literal["auto"] = "auto",
    max_requests_per_second: float | None = None,
    retries: int | RetryPolicy | None = None,
    incremental: Incremental | None = None,
    timestamps: TimestampsOption = "auto",
    columns: Sequence[str] | None = None,
    flatten: FlattenOption = "dotted",
    flatten_depth: int | None = None,
    max_age: timedelta | float | str | None = None,
    progress: ProgressOption = "auto",
    schema: pa.Schema | Mapping[str, pa.DataType | str] | None = None,
    dtype_backend: Literal["numpy_nullable", "pyarrow"] = "numpy_nullable",
) -> dd.DataFrame:
    """Pull one list action for many credentials on Dask, one partition per credential.

    The rows and columns (names, order and types) are those of
    ``client.pull_many(...).to_dataframe()`` with the same arguments: each credential pulled
    in full by a task on a worker, its rows tagged with its user and credential, the columns
    unified across credentials as pull_many unifies them (a column that only some credentials
    have, or that appears on a later page, is there; a type that differs is widened).

    What is eager and what is lazy: the credentials are listed (``"all"`` asks the API) and
    pulled when ``read_pull`` is called, with the distributed client in use (else Dask's local
    scheduler); each credential's Arrow table stays on the worker that pulled it (persisted),
    and only the tables' schemas come back here. The returned DataFrame is lazy over those
    tables: aligning them to the columns and converting to pandas happen when it is computed,
    as often as it is, without fetching again. With the local scheduler the tables are held in
    this process. A failure with ``on_error="raise"``, or records that do not fit ``schema=``,
    raise here.

    Args:
        client_or_config: An :class:`~alloy_data.AlloyClient` or its ``ClientConfig``; the
            workers build their own clients from its settings.
        connector_id: The connector, such as ``"shopify"``.
        action_id: A list-style action of that connector, such as ``"list-orders"``.
        credentials: Credential ids (owned by the client's user), ``(user_id,
            credential_id)`` pairs, or ``"all"``: every credential of the connector of every
            user of the account, listed now.
        workers: At most this many credentials pulled at once across the cluster (a
            ``distributed.Semaphore`` of that many leases; with the local scheduler, its
            ``num_workers``). Default: as many as the cluster runs tasks.
        on_error: ``"continue"`` (the default) gives a credential whose pull fails an empty
            partition, logs a warning here and on its worker and, on a distributed cluster,
            an event (``dask_client.get_events("alloy-data")``); ``"raise"`` raises the
            credential's error from ``read_pull``.
        max_total_requests_per_second: A cap on requests a second across every credential,
            retries included. Workers apart share no rate, so each pull that runs gets an
            equal share: the cap divided by the most pulls that can run at once (``workers``,
            else the cluster's threads now, which then also limit how many run, so that the
            shares never add up to more than the cap).
        incremental: As for ``pull_many``: each credential's partition keeps only the records
            changed since ``Incremental.start`` (what ``pull.to_arrow()`` keeps); with no
            start, every record.
        progress: The progress of the pulls on the cluster: ``"auto"`` or True shows
            ``distributed``'s progress bar when a distributed client is in use (a widget in a
            notebook), else ``dask.diagnostics.ProgressBar``; ``"terminal"`` the text bar;
            False or None nothing. A function cannot be called from the workers and is
            refused.
        schema: Column types instead of the unified ones: a ``pyarrow.Schema`` of the
            records' columns (the user and credential columns follow them), or a dict of
            column names to Arrow types or type names (``{"external_id": "string"}``) that
            override or add to the unified columns. A credential whose records do not fit
            raises a ``ConfigurationError`` naming the columns and the ``schema=`` that fits.
        dtype_backend: ``"numpy_nullable"`` or ``"pyarrow"``, as for ``to_dataframe``.

    Returns:
        A ``dask.dataframe.DataFrame`` with one partition per credential, in the credentials'
        order (one empty partition when there are none).

    Raises:
        ConfigurationError: Dask is not installed, an argument is wrong (before anything is
            fetched), or the records do not fit ``schema=``.
        AlloyError: A credential's error, with ``on_error="raise"``.
    """
    dd_module = _dask_dataframe()
    with _job(locals(), "read_pull") as (many, config):
        pulled = pull_on_cluster(many, config, schema=schema, dtype_backend=dtype_backend)
        return read_frame(dd_module, pulled, dtype_backend)


@documented(*MANY_OPTION_NAMES, *PULL_OPTION_NAMES)
def read_tables(
    client_or_config: AlloyClient | ClientConfig,
    connector_id: str,
    action_id: str,
    *,
    credentials: Sequence[str] | Sequence[tuple[str, str]] | Literal["all"],
    workers: int | None = None,
    on_error: Literal["continue", "raise"] = "continue",
    user_column: str = USER_COLUMN,
    credential_column: str = CREDENTIAL_COLUMN,
    max_total_requests_per_second: float | None = None,
    parameters: Mapping[str, Any] | None = None,
    undeclared_parameters: UndeclaredParametersOption = "refuse",
    paginator: PaginatorOption = "auto",
    page_size: int | None = None,
    max_pages: int | None = None,
    max_records: int | None = None,
    concurrency: int | Literal["auto"] = "auto",
    max_requests_per_second: float | None = None,
    retries: int | RetryPolicy | None = None,
    incremental: Incremental | None = None,
    timestamps: TimestampsOption = "auto",
    columns: Sequence[str] | None = None,
    flatten: FlattenOption = "dotted",
    flatten_depth: int | None = None,
    max_age: timedelta | float | str | None = None,
    progress: ProgressOption = "auto",
    schema: pa.Schema | Mapping[str, pa.DataType | str] | None = None,
    dtype_backend: Literal["numpy_nullable", "pyarrow"] = "numpy_nullable",
) -> dict[str, dd.DataFrame]:
    """Pull one list action for many credentials on Dask into a parent table and one child
    table per list of objects, one partition per credential in each.

    The tables, their names, columns and rows are those of
    ``client.pull_many(...).to_tables()`` with the same arguments (see
    :meth:`Pull.to_tables <alloy_data.pull.Pull.to_tables>`): ``{"orders": ...,
    "orders__line_items": ...}``, each child row carrying the user and credential columns, its
    parent's key (``_parent_id``, or ``_parent__row`` when the parent has no key of its own)
    and its ``_position``. The credentials are pulled when ``read_tables`` is called, as
    :func:`read_pull` pulls them, and their tables stay on the workers; each is split into the
    tables on its worker when a DataFrame is computed, so the rows never gather in this
    process. The parent's key is chosen over every credential, as ``pull_many`` chooses it.

    Args:
        client_or_config: An :class:`~alloy_data.AlloyClient` or its ``ClientConfig``.
        connector_id: The connector, such as ``"shopify"``.
        action_id: A list-style action of that connector, such as ``"list-orders"``.
        credentials: As for :func:`read_pull`.
        workers: As for :func:`read_pull`.
        on_error: As for :func:`read_pull`: a credential that failed has empty partitions.
        max_total_requests_per_second: As for :func:`read_pull`.
        incremental: As for :func:`read_pull`; its primary key keys the parent table.
        progress: As for :func:`read_pull`; a function is refused.
        schema: The parent's columns before the split, as for :func:`read_pull`.
        dtype_backend: ``"numpy_nullable"`` or ``"pyarrow"``, as for ``to_dataframe``.

    Returns:
        A dict of ``dask.dataframe.DataFrame`` by table name, the parent first.

    Raises:
        ConfigurationError: Dask is not installed, an argument is wrong (before anything is
            fetched), or the records do not fit ``schema=``.
        AlloyError: A credential's error, with ``on_error="raise"``.
    """
    dd_module = _dask_dataframe()
    with _job(locals(), "read_tables") as (many, config):
        pulled = pull_on_cluster(many, config, schema=schema, dtype_backend=dtype_backend)
        return read_table_frames(dd_module, many, pulled, dtype_backend)


def from_pull_many(
    many: MultiPull,
    *,
    schema: pa.Schema | Mapping[str, pa.DataType | str] | None = None,
    dtype_backend: Literal["numpy_nullable", "pyarrow"] = "numpy_nullable",
) -> dd.DataFrame:
    """Run a ``client.pull_many(...)`` job on Dask instead of this machine's threads.

    ``from_pull_many(client.pull_many("shopify", "list-orders", credentials="all"))`` is
    :func:`read_pull` with the job's options (``many.options`` and ``many.many_options``),
    which mean on Dask what :func:`read_pull` says; like it, it pulls now.

    Args:
        many: The job, from :meth:`~alloy_data.AlloyClient.pull_many`.
        schema: As for :func:`read_pull`.
        dtype_backend: As for :func:`read_pull`.

    Returns:
        A ``dask.dataframe.DataFrame`` with one partition per credential.

    Raises:
        ConfigurationError: Dask is not installed, the job's progress is a function, or the
            records do not fit ``schema=``.
        AlloyError: A credential's error, with ``on_error="raise"``.
    """
    dd_module = _dask_dataframe()
    if not isinstance(many, MultiPull):
        raise ConfigurationError(
            f"from_pull_many takes the MultiPull of client.pull_many(...), not "
            f"{type(many).__name__}."
        )
    pulled = pull_on_cluster(many, many.client.config, schema=schema, dtype_backend=dtype_backend)
    return read_frame(dd_module, pulled, dtype_backend)


@contextmanager
def _job(arguments: Mapping[str, Any], entry: str) -> Iterator[tuple[MultiPull, ClientConfig]]:
    """The job of an entry point's ``arguments``, and the settings its workers connect with.

    A client built here from a ``ClientConfig`` is closed when the block ends.
    """
    options = pull_options_from(arguments)
    many_options = many_options_from(arguments)
    client_or_config = arguments["client_or_config"]
    if isinstance(client_or_config, ClientConfig):
        client = ClientSpec.from_config(client_or_config).connect()
        owned = True
    elif isinstance(client_or_config, AlloyClient):
        client, owned = client_or_config, False
    else:
        raise ConfigurationError(
            f"{entry} takes an AlloyClient or its ClientConfig (client.config), not "
            f"{type(client_or_config).__name__}."
        )
    try:
        many = MultiPull(
            client,
            arguments["connector_id"],
            arguments["action_id"],
            credentials=arguments["credentials"],
            options=options,
            many=many_options,
        )
        yield many, client.config
    finally:
        if owned:
            client.close()
