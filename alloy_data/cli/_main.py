"""The entry point, its parser, and the commands that list things (`pull` has its own module)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, TextIO

from alloy_data._version import __version__
from alloy_data.cli._output import exit_status_for, print_rows
from alloy_data.cli._pull import run_pull
from alloy_data.cli._pull_options import add_pull_arguments
from alloy_data.cli._storage import without_secrets
from alloy_data.cli._store import add_store_arguments, add_store_flag, run_store
from alloy_data.cli._words import in_cli_words
from alloy_data.errors import AlloyError

__all__ = ["COMMANDS", "main", "parse_args"]

# Every command with its one-line help; docs/cli.md documents each (a test checks).
COMMANDS: dict[str, str] = {
    "connectors": "List the connectors (apps) the API reaches.",
    "resources": "List a connector's resources and their action ids.",
    "action": "Show an action's parameters.",
    "credentials": "List a user's credentials (connections) for a connector.",
    "users": "List users, or create one with --create NAME.",
    "pull": "Pull every page of a list action into a .parquet, .csv or .jsonl file.",
    "store": "List, drop or query (SQL) the local store of pulls: store list|drop|sql.",
    "sandbox": "Run the offline sandbox server in the foreground.",
    "demo": "Pull demo data from an embedded sandbox into DataFrames and Parquet files.",
}


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    common.add_argument("--base-url", help="API base URL (default: ALLOY_BASE_URL or production)")
    common.add_argument("--api-key", help="API key (default: ALLOY_API_KEY)")
    common.add_argument("--api-version", help="API version (default: ALLOY_API_VERSION or 2025-09)")
    common.add_argument(
        "--user",
        dest="user_id",
        help="user id to act for (default: ALLOY_USER_ID, else the API key's own user)",
    )
    common.add_argument(
        "--sandbox", action="store_true", help="use an embedded offline sandbox, no account needed"
    )
    common.add_argument("--json", action="store_true", help="print JSON instead of a table")
    common.add_argument("--debug", action="store_true", help="show tracebacks and request logs")

    # Flags are spelled out: an abbreviation that matches today may match two flags tomorrow.
    parser = argparse.ArgumentParser(
        allow_abbrev=False,
        prog="alloy-data",
        description="Pull data from the apps behind the Alloy Connectivity API.",
    )
    parser.add_argument("--version", action="version", version=f"alloy-data {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "connectors", allow_abbrev=False, parents=[common], help=COMMANDS["connectors"]
    )
    p.add_argument("--category", help="only connectors of this category, e.g. CRM")

    p = sub.add_parser(
        "resources", allow_abbrev=False, parents=[common], help=COMMANDS["resources"]
    )
    p.add_argument("connector", help="connector id, e.g. shopify")

    p = sub.add_parser("action", allow_abbrev=False, parents=[common], help=COMMANDS["action"])
    p.add_argument("connector", help="connector id, e.g. shopify")
    p.add_argument("action", help="action id, e.g. list-orders")

    p = sub.add_parser(
        "credentials", allow_abbrev=False, parents=[common], help=COMMANDS["credentials"]
    )
    p.add_argument("connector", help="connector id, e.g. shopify")

    p = sub.add_parser("users", allow_abbrev=False, parents=[common], help=COMMANDS["users"])
    p.add_argument("--create", metavar="USERNAME", help="create a user with this username")

    p = sub.add_parser("pull", allow_abbrev=False, parents=[common], help=COMMANDS["pull"])
    add_pull_arguments(p)
    add_store_flag(p)

    p = sub.add_parser("store", allow_abbrev=False, help=COMMANDS["store"])
    add_store_arguments(p)

    p = sub.add_parser("sandbox", allow_abbrev=False, help=COMMANDS["sandbox"])
    p.add_argument("sandbox_args", nargs=argparse.REMAINDER, help="options of the sandbox server")

    p = sub.add_parser("demo", allow_abbrev=False, help=COMMANDS["demo"])
    p.add_argument("--out-dir", default="demo-output", help="where to write the Parquet files")
    p.add_argument("--records", type=int, default=60_000, help="records in the largest pull")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Parse a command line (without the program's name), as ``main`` does.

    Raises:
        SystemExit: With status 2 and a usage message, for a command line argparse refuses.
    """
    return _parser().parse_args(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: The arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status, one of ``EXIT_STATUSES``: 0 on success, 1 on an error, 2 on a usage
        mistake, 3 when some credentials of several failed, 130 on Ctrl-C.
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["sandbox"]:
        from alloy_data.sandbox import main as sandbox_main

        return sandbox_main(args_list[1:])
    args = parse_args(args_list)
    debug = bool(getattr(args, "debug", False))
    if debug:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        # Our own logs only: a filesystem client's debug log prints its requests' headers,
        # which carry an access key id or a token from --storage-option.
        logging.getLogger("alloy_data").setLevel(logging.DEBUG)
    try:
        if args.command == "demo":
            from alloy_data.demo import run_demo

            return run_demo(out_dir=Path(args.out_dir), largest=args.records)
        if args.command == "store":
            return run_store(args, sys.stdout)
        with _client_for(args) as client:
            return _HANDLERS[args.command](client, args, sys.stdout)
    except KeyboardInterrupt as interrupt:
        _report(interrupt, args, "interrupted")
        return exit_status_for(interrupt)
    except AlloyError as error:
        if debug:
            raise
        _report(error, args, "error")
        return exit_status_for(error)


def _report(error: BaseException, args: argparse.Namespace, what: str) -> None:
    """Print ``error`` and its notes (what was kept, how to continue) in the command line's
    words, without the storage options' secrets."""
    lines = [str(error)] if str(error) else []
    lines += [str(note) for note in getattr(error, "__notes__", ())]
    secrets = getattr(args, "storage_options", [])
    text = " ".join(in_cli_words(without_secrets(line, secrets)) for line in lines)
    print(f"alloy-data: {what}" + (f": {text}" if text else ""), file=sys.stderr)


@contextmanager
def _client_for(args: argparse.Namespace) -> Iterator[Any]:
    from alloy_data.client import AlloyClient

    options: dict[str, Any] = {}
    if getattr(args, "store", None):
        options["store"] = args.store
    if args.api_version:
        options["api_version"] = args.api_version
    if args.sandbox:
        from alloy_data.sandbox import serve

        sandbox_context: Any = serve(port=0)
    else:
        sandbox_context = nullcontext(None)
    with sandbox_context as sandbox:
        if sandbox is not None:
            args.user_id = args.user_id or sandbox.fixtures.user_id
            # `pull` without --credential: the sandbox user's own credential for the connector.
            if getattr(args, "credential_ids", "") is None and not args.all_credentials:
                args.credential_ids = [sandbox.fixtures.credentials.get(args.connector)]
            client = AlloyClient(
                sandbox.api_key, base_url=sandbox.url, user_id=args.user_id, **options
            )
        else:
            client = AlloyClient(
                args.api_key, base_url=args.base_url, user_id=args.user_id, **options
            )
        with client:
            yield client


def _connectors(client: Any, args: argparse.Namespace, out: TextIO) -> int:
    rows = [
        {"connector": c.connector_id, "name": c.name, "category": c.category}
        for c in client.connectors.list(category=args.category)
    ]
    return print_rows(rows, args, out)


def _resources(client: Any, args: argparse.Namespace, out: TextIO) -> int:
    rows = [
        {"resource": r.resource_id, "name": r.name, "actions": " ".join(r.action_ids)}
        for r in client.connectors.resources(args.connector)
    ]
    return print_rows(rows, args, out)


def _action(client: Any, args: argparse.Namespace, out: TextIO) -> int:
    from alloy_data.pagination import stated_maximum

    action = client.actions.get(args.connector, args.action)
    rows = [
        {
            "parameter": p.name,
            "type": p.type,
            "required": "yes" if p.required else "",
            "in": p.location,
            # Declared, or stated in the description's words (the contract carries none).
            "maximum": stated_maximum(p)[0],
            "description": p.description,
        }
        for p in action.parameters
    ]
    if not args.json:
        out.write(f"{action.action_id}: {action.name or ''}\n")
        if action.description:
            out.write(f"{action.description}\n")
        out.write("\n")
    return print_rows(rows, args, out)


def _credentials(client: Any, args: argparse.Namespace, out: TextIO) -> int:
    # Without --user or ALLOY_USER_ID the API lists the API key's own user's credentials.
    rows = [
        {"credential": c.credential_id, "name": c.name, "type": c.type, "created": c.created_at}
        for c in client.credentials.list(args.connector, user_id=args.user_id or None)
    ]
    return print_rows(rows, args, out)


def _users(client: Any, args: argparse.Namespace, out: TextIO) -> int:
    users = [client.users.create(args.create)] if args.create else client.users.list()
    rows = [{"user": u.user_id, "username": u.username, "name": u.full_name} for u in users]
    return print_rows(rows, args, out)


_HANDLERS = {
    "connectors": _connectors,
    "resources": _resources,
    "action": _action,
    "credentials": _credentials,
    "users": _users,
    "pull": run_pull,
}
