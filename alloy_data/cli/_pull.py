"""``alloy-data pull``: its flags, and a pull of one or many credentials into a file."""

from __future__ import annotations

import argparse
import json
import posixpath
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from alloy_data.cli._output import EXIT_OK, EXIT_PARTIAL, print_rows
from alloy_data.cli._storage import parse_storage_options
from alloy_data.errors import ConfigurationError
from alloy_data.incremental import Incremental

__all__ = ["add_pull_arguments", "parse_params", "run_pull"]


def add_pull_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``alloy-data pull`` to its parser."""
    parser.add_argument("connector", help="connector id, e.g. shopify")
    parser.add_argument("action", help="list action id, e.g. list-orders")
    parser.add_argument(
        "--credential",
        dest="credential_ids",
        action="append",
        default=None,
        metavar="ID",
        help="credential (connection) id; repeat to pull several into one dataset",
    )
    parser.add_argument(
        "--all-credentials",
        action="store_true",
        help="pull every credential of the connector of every user into one dataset",
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an action parameter; repeat for more (values are JSON when they parse as JSON)",
    )
    parser.add_argument("--max-records", type=int, help="stop after this many records")
    parser.add_argument("--max-pages", type=int, help="stop after this many pages")
    parser.add_argument("--page-size", type=int, help="records per page (default: the largest)")
    parser.add_argument("--paginator", default="auto", help="pagination convention (default: auto)")
    parser.add_argument(
        "--concurrency",
        type=_concurrency,
        default="auto",
        help="requests in flight at once for offset/page paging: auto (default) or a number",
    )
    parser.add_argument("--retries", type=int, help="retries per page (default: a pull's patience)")
    parser.add_argument(
        "--timestamps",
        choices=("auto", "guess", "off"),
        default="auto",
        help="which number columns become UTC timestamps: those the action declares as epoch "
        "times (auto, default), also integer columns whose names and values say time (guess), "
        "or none (off)",
    )
    parser.add_argument(
        "--out",
        required=True,
        help="output file (.parquet, .csv or .jsonl), or a URL such as s3://bucket/orders.parquet",
    )
    parser.add_argument(
        "--storage-option",
        dest="storage_options",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an fsspec option for a URL --out; repeat for more (JSON when it parses; "
        "client_kwargs.endpoint_url=... nests); values are never printed",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing file")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted pull")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.add_argument(
        "--incremental",
        metavar="FIELD",
        help="fetch only records whose FIELD (e.g. updated_at) is past the mark kept in --out, "
        "and merge them in (needs --primary-key and a .parquet file or a dataset directory)",
    )
    parser.add_argument(
        "--primary-key",
        action="append",
        default=None,
        metavar="FIELD",
        help="the field that identifies a record (repeat for a key of several fields)",
    )
    parser.add_argument(
        "--mode",
        choices=("merge", "append"),
        default="merge",
        help="with --incremental: merge (a new version replaces the old, default) or append "
        "(keep every version)",
    )
    parser.add_argument(
        "--filter-parameter",
        metavar="NAME",
        help="with --incremental: the action's parameter that filters by FIELD (default: found "
        "from the action's parameters)",
    )
    parser.add_argument(
        "--lookback", type=float, default=0, metavar="SECONDS", help="margin taken off the mark"
    )
    parser.add_argument("--start", metavar="MOMENT", help="the first run's lower bound (ISO-8601)")


def _concurrency(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"use auto or a whole number, not {text!r}") from None


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


def run_pull(client: Any, args: argparse.Namespace, out: TextIO) -> int:
    """Run ``alloy-data pull``: write the pull to ``--out`` and print what was written.

    Returns:
        The exit status: 0, or 3 when some credentials of several failed.
    """
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
        return print_rows([summary], args, out)
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
        print_rows([summary], args, out)
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
