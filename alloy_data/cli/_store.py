"""``alloy-data store list|drop|sql``: the local store of pulls, from the command line."""

from __future__ import annotations

import argparse
import os
from typing import Any, TextIO

from alloy_data.cli._output import print_rows
from alloy_data.config import ENV_STORE, store_location
from alloy_data.errors import ConfigurationError

__all__ = ["add_store_arguments", "run_store"]


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``store`` command's own subcommands and flags."""
    actions = parser.add_subparsers(dest="store_command", metavar="STORE_COMMAND", required=True)
    listing = actions.add_parser(
        "list", allow_abbrev=False, help="list the stored copies (newest first)"
    )
    drop = actions.add_parser(
        "drop",
        allow_abbrev=False,
        help="remove a connector's, an action's or a credential's copies, or those beyond "
        "--older-than / --max-bytes",
    )
    drop.add_argument("connector", nargs="?", help="the connector whose copies go")
    drop.add_argument("action", nargs="?", help="only this action's copies")
    drop.add_argument("credential", nargs="?", help="only this credential's copies of it")
    drop.add_argument("--older-than", metavar="DURATION", help="copies fetched before, e.g. 30d")
    drop.add_argument(
        "--max-bytes", type=int, metavar="N", help="drop the oldest copies until at most N bytes"
    )
    sql = actions.add_parser(
        "sql", allow_abbrev=False, help="run SQL over the store (DuckDB views connector.action)"
    )
    sql.add_argument("query", help="e.g. 'select count(*) from shopify.list_orders'")
    for sub in (listing, drop, sql):
        add_store_flag(sub)
        sub.add_argument("--json", action="store_true", help="print JSON instead of a table")
        sub.add_argument("--debug", action="store_true", help="show tracebacks")


def add_store_flag(parser: argparse.ArgumentParser) -> None:
    """``--store``: the store's folder, for ``store`` and ``pull --max-age``."""
    parser.add_argument(
        "--store",
        metavar="FOLDER",
        help=f"the local store of pulls (default: {ENV_STORE}, else the user's data folder)",
    )


def run_store(args: argparse.Namespace, out: TextIO) -> int:
    """Run ``alloy-data store ...``: no API key is needed, only the store's folder.

    Returns:
        The exit status.

    Raises:
        ConfigurationError: The store is turned off, or ``drop`` is given nothing to drop.
    """
    from alloy_data.store import Store

    where = store_location(args.store, os.environ)
    if where is None:
        raise ConfigurationError(f"The store is turned off ({ENV_STORE}=off): pass --store FOLDER.")
    store = Store(where)
    if args.store_command == "list":
        frame = store.list().drop(columns=["path"])
        rows: list[dict[str, Any]] = (
            frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
        )
        return print_rows(rows, args, out)
    if args.store_command == "sql":
        result = store.sql(args.query)
        return print_rows(
            result.astype(object).where(result.notna(), None).to_dict(orient="records"), args, out
        )
    if args.connector is not None:
        dropped = store.drop(args.connector, args.action, args.credential)
        out.write(f"dropped {dropped} stored {'copy' if dropped == 1 else 'copies'}\n")
        return 0
    if args.older_than is None and args.max_bytes is None:
        raise ConfigurationError(
            "store drop needs what to drop: a connector (and an action, and a credential), or "
            "--older-than DURATION and/or --max-bytes N."
        )
    gone = store.prune(older_than=args.older_than, max_bytes=args.max_bytes)
    out.write(f"dropped {len(gone)} stored {'copy' if len(gone) == 1 else 'copies'}\n")
    return 0
