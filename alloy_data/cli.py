"""The ``alloy-data`` command line: a thin shell over the library.

Every command prints a table (or JSON with ``--json``). Errors are one line on stderr and a
non-zero exit; ``--debug`` shows the traceback too. ``--sandbox`` runs a command against an
embedded offline sandbox instead of the real API.
"""

from __future__ import annotations

import argparse
import json
import logging
import posixpath
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, TextIO

from alloy_data._text_table import format_table
from alloy_data._version import __version__
from alloy_data.errors import AlloyError, ConfigurationError
from alloy_data.incremental import Incremental

__all__ = ["COMMANDS", "main"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
# Some credentials of a pull of many failed; what the others fetched was written.
EXIT_PARTIAL = 3
EXIT_INTERRUPTED = 130

# Every command with its one-line help; docs/cli.md documents each (a test checks).
COMMANDS: dict[str, str] = {
    "connectors": "List the connectors (apps) the API reaches.",
    "resources": "List a connector's resources and their action ids.",
    "action": "Show an action's parameters.",
    "credentials": "List a user's credentials (connections) for a connector.",
    "users": "List users, or create one with --create NAME.",
    "pull": "Pull every page of a list action into a .parquet, .csv or .jsonl file.",
    "sandbox": "Run the offline sandbox server in the foreground.",
    "demo": "Pull demo data from an embedded sandbox into DataFrames and Parquet files.",
}


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--base-url", help="API base URL (default: ALLOY_BASE_URL or production)")
    common.add_argument("--api-key", help="API key (default: ALLOY_API_KEY)")
    common.add_argument("--api-version", help="API version (default: ALLOY_API_VERSION or 2025-09)")
    common.add_argument(
        "--user", dest="user_id", help="user id to act for (default: ALLOY_USER_ID)"
    )
    common.add_argument(
        "--sandbox", action="store_true", help="use an embedded offline sandbox, no account needed"
    )
    common.add_argument("--json", action="store_true", help="print JSON instead of a table")
    common.add_argument("--debug", action="store_true", help="show tracebacks and request logs")

    parser = argparse.ArgumentParser(
        prog="alloy-data",
        description="Pull data from the apps behind the Alloy Connectivity API.",
    )
    parser.add_argument("--version", action="version", version=f"alloy-data {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("connectors", parents=[common], help=COMMANDS["connectors"])
    p.add_argument("--category", help="only connectors of this category, e.g. CRM")

    p = sub.add_parser("resources", parents=[common], help=COMMANDS["resources"])
    p.add_argument("connector", help="connector id, e.g. shopify")

    p = sub.add_parser("action", parents=[common], help=COMMANDS["action"])
    p.add_argument("connector", help="connector id, e.g. shopify")
    p.add_argument("action", help="action id, e.g. list-orders")

    p = sub.add_parser("credentials", parents=[common], help=COMMANDS["credentials"])
    p.add_argument("connector", help="connector id, e.g. shopify")

    p = sub.add_parser("users", parents=[common], help=COMMANDS["users"])
    p.add_argument("--create", metavar="USERNAME", help="create a user with this username")

    p = sub.add_parser("pull", parents=[common], help=COMMANDS["pull"])
    p.add_argument("connector", help="connector id, e.g. shopify")
    p.add_argument("action", help="list action id, e.g. list-orders")
    p.add_argument(
        "--credential",
        dest="credential_ids",
        action="append",
        default=None,
        metavar="ID",
        help="credential (connection) id; repeat to pull several into one dataset",
    )
    p.add_argument(
        "--all-credentials",
        action="store_true",
        help="pull every credential of the connector of every user into one dataset",
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an action parameter; repeat for more (values are JSON when they parse as JSON)",
    )
    p.add_argument("--max-records", type=int, help="stop after this many records")
    p.add_argument("--max-pages", type=int, help="stop after this many pages")
    p.add_argument("--page-size", type=int, help="records per page (default: the largest)")
    p.add_argument("--paginator", default="auto", help="pagination convention (default: auto)")
    p.add_argument(
        "--concurrency",
        type=_concurrency,
        default="auto",
        help="requests in flight at once for offset/page paging: auto (default) or a number",
    )
    p.add_argument("--retries", type=int, help="retries per page (default: a pull's patience)")
    p.add_argument(
        "--timestamps",
        choices=("auto", "guess", "off"),
        default="auto",
        help="which number columns become UTC timestamps: those the action declares as epoch "
        "times (auto, default), also integer columns whose names and values say time (guess), "
        "or none (off)",
    )
    p.add_argument(
        "--out",
        required=True,
        help="output file (.parquet, .csv or .jsonl), or a URL such as s3://bucket/orders.parquet",
    )
    p.add_argument(
        "--storage-option",
        dest="storage_options",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an fsspec option for a URL --out; repeat for more (JSON when it parses; "
        "client_kwargs.endpoint_url=... nests); values are never printed",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing file")
    p.add_argument("--resume", action="store_true", help="continue an interrupted pull")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument(
        "--incremental",
        metavar="FIELD",
        help="fetch only records whose FIELD (e.g. updated_at) is past the mark kept in --out, "
        "and merge them in (needs --primary-key and a .parquet file or a dataset directory)",
    )
    p.add_argument(
        "--primary-key",
        action="append",
        default=None,
        metavar="FIELD",
        help="the field that identifies a record (repeat for a key of several fields)",
    )
    p.add_argument(
        "--mode",
        choices=("merge", "append"),
        default="merge",
        help="with --incremental: merge (a new version replaces the old, default) or append "
        "(keep every version)",
    )
    p.add_argument(
        "--filter-parameter",
        metavar="NAME",
        help="with --incremental: the action's parameter that filters by FIELD (default: found "
        "from the action's parameters)",
    )
    p.add_argument(
        "--lookback", type=float, default=0, metavar="SECONDS", help="margin taken off the mark"
    )
    p.add_argument("--start", metavar="MOMENT", help="the first run's lower bound (ISO-8601)")

    p = sub.add_parser("sandbox", help=COMMANDS["sandbox"])
    p.add_argument("sandbox_args", nargs=argparse.REMAINDER, help="options of the sandbox server")

    p = sub.add_parser("demo", help=COMMANDS["demo"])
    p.add_argument("--out-dir", default="demo-output", help="where to write the Parquet files")
    p.add_argument("--records", type=int, default=60_000, help="records in the largest pull")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def _concurrency(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"use auto or a whole number, not {text!r}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: The arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 1 on an error, 2 on a usage error, 130 on Ctrl-C.
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["sandbox"]:
        from alloy_data.sandbox import main as sandbox_main

        return sandbox_main(args_list[1:])
    parser = _parser()
    args = parser.parse_args(args_list)
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
        with _client_for(args) as client:
            return _HANDLERS[args.command](client, args, sys.stdout)
    except KeyboardInterrupt:
        print("alloy-data: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except AlloyError as error:
        if debug:
            raise
        message = _without_secrets(str(error), getattr(args, "storage_options", []))
        print(f"alloy-data: error: {message}", file=sys.stderr)
        return EXIT_USAGE if isinstance(error, ConfigurationError) else EXIT_ERROR


@contextmanager
def _client_for(args: argparse.Namespace) -> Iterator[Any]:
    from alloy_data.client import AlloyClient

    options: dict[str, Any] = {}
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


def _print(rows: list[dict[str, Any]], args: argparse.Namespace, out: TextIO) -> int:
    if args.json:
        json.dump(rows, out, indent=2, ensure_ascii=False, default=str)
        out.write("\n")
    else:
        out.write(format_table(rows))
    return EXIT_OK


def _connectors(client: Any, args: argparse.Namespace, out: TextIO) -> int:
    rows = [
        {"connector": c.connector_id, "name": c.name, "category": c.category}
        for c in client.connectors.list(category=args.category)
    ]
    return _print(rows, args, out)


def _resources(client: Any, args: argparse.Namespace, out: TextIO) -> int:
    rows = [
        {"resource": r.resource_id, "name": r.name, "actions": " ".join(r.action_ids)}
        for r in client.connectors.resources(args.connector)
    ]
    return _print(rows, args, out)


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
    return _print(rows, args, out)


def _credentials(client: Any, args: argparse.Namespace, out: TextIO) -> int:
    user_id = _require_user(client, args)
    rows = [
        {"credential": c.credential_id, "name": c.name, "type": c.type, "created": c.created_at}
        for c in client.credentials.list(args.connector, user_id=user_id)
    ]
    return _print(rows, args, out)


def _users(client: Any, args: argparse.Namespace, out: TextIO) -> int:
    users = [client.users.create(args.create)] if args.create else client.users.list()
    rows = [{"user": u.user_id, "username": u.username, "name": u.full_name} for u in users]
    return _print(rows, args, out)


def _require_user(client: Any, args: argparse.Namespace) -> str:
    user_id = args.user_id or getattr(client, "user_id", None)
    if not user_id:
        raise ConfigurationError("No user: pass --user USER_ID or set ALLOY_USER_ID.")
    return str(user_id)


def parse_params(pairs: Sequence[str]) -> dict[str, Any]:
    """Parse ``KEY=VALUE`` pairs; a value that parses as JSON is taken as JSON.

    Returns:
        The parameters as a dict.

    Raises:
        ConfigurationError: When a pair has no ``=`` or an empty key.
    """
    parameters: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigurationError(f"--param {pair!r} is not KEY=VALUE, e.g. --param status=open")
        try:
            parameters[key.strip()] = json.loads(value)
        except ValueError:
            parameters[key.strip()] = value
    return parameters


def parse_storage_options(pairs: Sequence[str]) -> dict[str, Any]:
    """Parse ``--storage-option KEY=VALUE`` pairs into the ``storage_options`` dict of fsspec.

    A value that parses as JSON is taken as JSON (``anon=true``, ``client_kwargs={...}``), any
    other as text; a dotted key nests (``client_kwargs.endpoint_url=http://...`` becomes
    ``{"client_kwargs": {"endpoint_url": "http://..."}}``). A later pair wins over an earlier
    one for the same key.

    Returns:
        The options as a dict (empty for no pairs).

    Raises:
        ConfigurationError: For a pair without ``=``, an empty key or key part, or a key that
            is both a value and a group (``a=1`` and ``a.b=2``). The message never shows a
            value, which may be a secret.
    """
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        parts = [part.strip() for part in key.split(".")]
        if not sep or not all(parts):
            # The pair itself is not shown: without its "=", a secret may be all there is.
            raise ConfigurationError(
                "--storage-option takes KEY=VALUE, such as --storage-option "
                "client_kwargs.endpoint_url=http://localhost:9000; one was given without a "
                "key or without '='."
            )
        try:
            parsed: Any = json.loads(value)
        except ValueError:
            parsed = value
        group = options
        for depth, part in enumerate(parts[:-1]):
            group = group.setdefault(part, {})
            if not isinstance(group, dict):
                raise ConfigurationError(
                    f"--storage-option {'.'.join(parts[: depth + 1])!r} is given both as a "
                    f"value and as a group of options ({key.strip()!r}): give one of them."
                )
        if isinstance(group.get(parts[-1]), dict) and isinstance(parsed, dict):
            group[parts[-1]].update(parsed)
        else:
            group[parts[-1]] = parsed
    return options


def _leaf_texts(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaf_texts(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _leaf_texts(item)
    elif value is not None and not isinstance(value, bool):
        yield str(value)


def _without_secrets(message: str, pairs: Sequence[str]) -> str:
    # The library's messages name options, never their values; a filesystem's own exception
    # text, quoted inside them, is not under our control, so every value given is masked.
    try:
        options = parse_storage_options(pairs)
    except ConfigurationError:
        options = {}
    for text in sorted(set(_leaf_texts(options)), key=len, reverse=True):
        if len(text) >= 4:
            message = message.replace(text, "***")
    return message


def _pull(client: Any, args: argparse.Namespace, out: TextIO) -> int:
    parameters = parse_params(args.param)
    storage_options = parse_storage_options(args.storage_options) or None
    credentials = [c for c in (args.credential_ids or []) if c]
    if args.all_credentials and credentials:
        raise ConfigurationError("Pass --credential or --all-credentials, not both.")
    if not credentials and not args.all_credentials:
        raise ConfigurationError(
            "No credential: pass --credential CREDENTIAL_ID (more than once for several), or "
            f"--all-credentials (list them with: alloy-data credentials {args.connector} "
            "--user USER_ID)."
        )
    options: dict[str, Any] = {
        "parameters": parameters,
        "paginator": args.paginator,
        "page_size": args.page_size,
        "max_pages": args.max_pages,
        "max_records": args.max_records,
        "concurrency": args.concurrency,
        "retries": args.retries,
        "timestamps": args.timestamps,
        "progress": False if args.no_progress else "terminal",
    }
    if args.incremental:
        options["incremental"] = Incremental(
            args.incremental,
            primary_key=args.primary_key,
            parameter=args.filter_parameter,
            start=args.start,
            lookback=args.lookback,
        )
        if not args.primary_key:
            raise ConfigurationError(
                "--incremental needs --primary-key FIELD: the field that identifies a record, "
                "such as id."
            )
    elif args.primary_key or args.filter_parameter or args.start:
        raise ConfigurationError(
            "--primary-key, --filter-parameter and --start go with --incremental FIELD."
        )
    started = time.monotonic()
    if args.all_credentials or len(credentials) > 1:
        return _pull_many(
            client,
            args,
            out,
            credentials=credentials or "all",
            options=options,
            storage_options=storage_options,
            started=started,
        )
    pull = client.pull(
        args.connector,
        args.action,
        credential_id=credentials[0],
        user_id=args.user_id,
        **options,
    )
    if args.incremental:
        if not str(args.out).endswith(".parquet"):
            raise ConfigurationError(
                "--incremental keeps its mark in a Parquet file: give --out a .parquet path."
            )
        path = pull.to_parquet(
            args.out, mode=args.mode, resume=args.resume, storage_options=storage_options
        )
    else:
        path = pull.to_file(
            args.out, overwrite=args.overwrite, resume=args.resume, storage_options=storage_options
        )
    stats = pull.stats
    shown = _shown(path)
    summary = {
        "file": shown,
        "records": stats.records,
        "pages": stats.pages,
        "seconds": round(time.monotonic() - started, 2),
        "bytes": path.stat().st_size if isinstance(path, Path) and path.is_file() else None,
        "paginator": stats.paginator,
        "page_size": stats.page_size,
        "requests": stats.requests,
        "retries": stats.retries,
    }
    if args.incremental:
        mark = stats.high_water_mark
        summary.update(
            incremental=stats.incremental,
            high_water_mark=None if mark is None else mark.isoformat(),
        )
    if args.json:
        return _print([summary], args, out)
    verb = "merged" if args.incremental and args.mode == "merge" else "wrote"
    if args.incremental and args.mode == "append":
        verb = "appended"
    out.write(
        f"{verb} {summary['records']} records ({summary['pages']} pages, "
        f"{summary['paginator']}) to {shown} in {summary['seconds']} s\n"
    )
    if args.incremental:
        notes = [n for n in stats.notes if n.startswith("incremental:")]
        for note in notes:
            print(f"alloy-data: {note}", file=sys.stderr)
    for note in stats.warnings:
        print(f"alloy-data: warning: {note}", file=sys.stderr)
    return EXIT_OK


def _pull_many(
    client: Any,
    args: argparse.Namespace,
    out: TextIO,
    *,
    credentials: list[str] | str,
    options: dict[str, Any],
    storage_options: dict[str, Any] | None,
    started: float,
) -> int:
    many = client.pull_many(args.connector, args.action, credentials=credentials, **options)
    # Kept as text: a URL (s3://bucket/prefix/) must not go through Path, which folds its "//".
    target = args.out
    write = {
        "overwrite": args.overwrite,
        "resume": args.resume,
        "storage_options": storage_options,
    }
    if posixpath.splitext(target.rstrip("/"))[1] and not target.endswith("/"):
        if args.incremental:
            raise ConfigurationError(
                "--incremental with several credentials updates a dataset directory, one file "
                "per credential: give --out a directory name without a suffix."
            )
        path = many.to_file(target, **write)
    else:
        mode = args.mode if args.incremental else "replace"
        path = many.to_parquet(target, **write, mode=mode)
    stats = many.stats
    shown = _shown(path)
    summary = {
        "file": shown,
        "records": stats.records,
        "credentials": stats.credentials,
        "failed": stats.failed,
        "pages": stats.pages,
        "requests": stats.requests,
        "seconds": round(time.monotonic() - started, 2),
    }
    if args.json:
        _print([summary], args, out)
    else:
        out.write(
            f"wrote {stats.records} records from {stats.done} of {stats.credentials} "
            f"credentials to {shown} in {summary['seconds']} s\n"
        )
    for failure in stats.failures:
        print(f"alloy-data: credential failed: {failure}", file=sys.stderr)
    return EXIT_OK if not stats.failures else EXIT_PARTIAL


def _shown(path: Path | str) -> str:
    from alloy_data.export import display_url

    return display_url(path) if isinstance(path, str) else str(path)


_HANDLERS = {
    "connectors": _connectors,
    "resources": _resources,
    "action": _action,
    "credentials": _credentials,
    "users": _users,
    "pull": _pull,
}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
