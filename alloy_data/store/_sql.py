"""DuckDB views over the store: one per stored action, named ``connector.action``."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from alloy_data.errors import ConfigurationError

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

    from alloy_data.store._store import StoredCopy

__all__ = ["connect_views", "sql_name", "view_names"]


def sql_name(identifier: str) -> str:
    """An id as an SQL name: lower case, other characters than letters and digits as ``_``
    (``list-orders`` -> ``list_orders``)."""
    name = re.sub(r"[^a-z0-9_]", "_", identifier.lower()).strip("_") or "_"
    return f"_{name}" if name[0].isdigit() else name


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def view_names(copies: Sequence[StoredCopy]) -> dict[tuple[str, str], list[StoredCopy]]:
    """The stored copies of each view, by ``(schema, view)``: for each credential, user and
    parameters, the newest copy (copies that differ only by an option such as ``max_records``
    would otherwise repeat rows)."""
    newest: dict[tuple[str, str, str, str, str, str], StoredCopy] = {}
    for copy in sorted(copies, key=lambda copy: copy.order):
        address = (
            sql_name(copy.connector_id),
            sql_name(copy.action_id),
            copy.connector_id,
            copy.credential_id,
            copy.user_id,
            copy.parameters,
        )
        newest[address] = copy
    views: dict[tuple[str, str], list[StoredCopy]] = defaultdict(list)
    for (schema, view, *_), copy in sorted(newest.items()):
        views[schema, view].append(copy)
    return dict(views)


def _import_duckdb() -> object:
    try:
        import duckdb
    except ImportError as error:
        raise ConfigurationError(
            "SQL over the store needs DuckDB: pip install 'alloy-data[duckdb]'."
        ) from error
    return duckdb


def connect_views(copies: Sequence[StoredCopy]) -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB connection with a view per stored action.

    Raises:
        ConfigurationError: DuckDB is not installed.
    """
    _import_duckdb()
    import duckdb

    connection = duckdb.connect()
    registered: set[int] = set()
    for copy in copies:
        remote = getattr(copy.folder, "remote", None)
        if remote is not None and id(remote.fs) not in registered:
            # The copies of an object store are read through its own fsspec filesystem.
            connection.register_filesystem(remote.fs)
            registered.add(id(remote.fs))
    for (schema, view), members in sorted(view_names(copies).items()):
        connection.execute(f"create schema if not exists {_quoted(schema)}")
        selects = [
            f"select *, {_literal(copy.credential_id)} as _credential_id, "
            f"{_literal(copy.user_id)} as _user_id, "
            f"{_literal(copy.parameters)} as _parameters "
            f"from read_parquet({_literal(str(copy.path))})"
            for copy in members
        ]
        connection.execute(
            f"create or replace view {_quoted(schema)}.{_quoted(view)} as "
            + " union all by name ".join(selects)
        )
    return connection


def run_sql(copies: Sequence[StoredCopy], query: str) -> pd.DataFrame:
    """Run ``query`` over the views of ``copies``.

    Raises:
        ConfigurationError: DuckDB is not installed, or the query fails.
    """
    if not isinstance(query, str) or not query.strip():
        raise ConfigurationError(
            "sql() takes a query, such as 'select * from shopify.list_orders'."
        )
    connection = connect_views(copies)
    import duckdb

    try:
        return connection.execute(query).df()
    except duckdb.Error as error:
        names = ", ".join(f"{s}.{v}" for s, v in sorted(view_names(copies))) or "none yet"
        raise ConfigurationError(
            f"The query failed: {error}. The store's views: {names} (a pull with max_age= "
            "stores its rows)."
        ) from error
    finally:
        connection.close()
