"""The flags of ``alloy-data pull`` and the options they make, built once."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

from alloy_data.errors import ConfigurationError
from alloy_data.incremental import Incremental
from alloy_data.options import (
    CREDENTIAL_COLUMN,
    USER_COLUMN,
    ManyOptions,
    PullOptions,
)

__all__ = ["OPTION_FLAGS", "add_pull_arguments", "options_from_args", "parse_params"]

#: The flag of ``alloy-data pull`` for each option of
#: :class:`~alloy_data.options.PullOptions` and :class:`~alloy_data.options.ManyOptions`.
OPTION_FLAGS: dict[str, str] = {
    "parameters": "--param",
    "undeclared_parameters": "--undeclared-parameters",
    "paginator": "--paginator",
    "page_size": "--page-size",
    "max_pages": "--max-pages",
    "max_records": "--max-records",
    "concurrency": "--concurrency",
    "max_requests_per_second": "--max-requests-per-second",
    "retries": "--retries",
    "incremental": "--incremental",
    "timestamps": "--timestamps",
    "columns": "--columns",
    "flatten": "--flatten",
    "flatten_depth": "--flatten-depth",
    "max_age": "--max-age",
    "progress": "--no-progress",
    "workers": "--workers",
    "on_error": "--on-error",
    "user_column": "--user-column",
    "credential_column": "--credential-column",
    "max_total_requests_per_second": "--max-total-requests-per-second",
}


def options_from_args(args: argparse.Namespace) -> tuple[PullOptions, ManyOptions]:
    """Build the options of ``alloy-data pull`` from its parsed flags, once.

    Args:
        args: The parsed command line of ``alloy-data pull``.

    Returns:
        The options of each credential's pull, and how several credentials are run.

    Raises:
        ConfigurationError: A flag's value is refused by the options, or a flag that goes with
            ``--incremental`` is given without it.
    """
    options = PullOptions(
        parameters=parse_params(args.param),
        undeclared_parameters=args.undeclared_parameters,
        paginator=args.paginator,
        page_size=args.page_size,
        max_pages=args.max_pages,
        max_records=args.max_records,
        concurrency=args.concurrency,
        max_requests_per_second=args.max_requests_per_second,
        retries=args.retries,
        incremental=_incremental(args),
        timestamps=args.timestamps,
        columns=_columns(args.columns),
        flatten=args.flatten,
        flatten_depth=args.flatten_depth,
        max_age=args.max_age,
        progress=False if args.no_progress else "terminal",
    )
    many = ManyOptions(
        workers=args.workers,
        on_error=args.on_error,
        user_column=args.user_column,
        credential_column=args.credential_column,
        max_total_requests_per_second=args.max_total_requests_per_second,
    )
    return options, many


def _columns(text: str | None) -> list[str] | None:
    """``--columns id,customer.email``: the paths between commas (the options check them)."""
    if text is None:
        return None
    return [path.strip() for path in text.split(",")]


def _incremental(args: argparse.Namespace) -> Incremental | None:
    if not args.incremental:
        if args.primary_key or args.filter_parameter or args.start or args.lookback is not None:
            raise ConfigurationError(
                "--primary-key, --filter-parameter, --start and --lookback go with "
                "--incremental FIELD."
            )
        return None
    if not args.primary_key:
        raise ConfigurationError(
            "--incremental needs --primary-key FIELD: the field that identifies a record, "
            "such as id."
        )
    keys = args.primary_key
    return Incremental(
        args.incremental,
        primary_key=keys[0] if len(keys) == 1 else tuple(keys),
        parameter=args.filter_parameter,
        start=args.start,
        lookback=args.lookback,
    )


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
    parser.add_argument(
        "--undeclared-parameters",
        default="refuse",
        metavar="{refuse,send}",
        help="a --param name the action does not declare stops the pull before its first "
        "request (refuse, default), or is sent as it is (send)",
    )
    parser.add_argument("--max-records", type=int, help="stop after this many records")
    parser.add_argument("--max-pages", type=int, help="stop after this many pages")
    parser.add_argument("--page-size", type=int, help="records per page (default: the largest)")
    parser.add_argument(
        "--paginator",
        default="auto",
        help="pagination convention: auto (default), cursor, offset, page_number, relay, "
        "last_id, next_link, alloy_offset or single",
    )
    parser.add_argument(
        "--concurrency",
        type=_concurrency,
        default="auto",
        help="requests in flight at once for offset/page paging: auto (default) or a number",
    )
    parser.add_argument(
        "--max-requests-per-second",
        type=float,
        metavar="N",
        help="a cap on requests a second, retries included (with several credentials: each one's)",
    )
    parser.add_argument("--retries", type=int, help="retries per page (default: a pull's patience)")
    parser.add_argument(
        "--timestamps",
        default="auto",
        metavar="{auto,guess,off}",
        help="which number columns become UTC timestamps: those the action declares as epoch "
        "times (auto, default), also integer columns whose names and values say time (guess), "
        "or none (off)",
    )
    parser.add_argument(
        "--columns",
        metavar="PATH,PATH,...",
        help="the columns to keep, as dotted paths into nested objects, comma-separated (e.g. "
        "id,customer.email,total_price); converted and written in this order (default: all)",
    )
    parser.add_argument(
        "--flatten",
        default="dotted",
        metavar="{dotted,struct,json}",
        help="nested objects as top-level dotted columns such as customer.email (dotted, "
        "default), as one struct column each (struct), or as JSON text (json)",
    )
    parser.add_argument(
        "--flatten-depth",
        type=int,
        metavar="N",
        help="objects nested deeper than N levels are kept as JSON text (default: no limit)",
    )
    parser.add_argument(
        "--max-age",
        metavar="DURATION",
        help="serve the rows from the local store when its copy is younger than this (1h, 30m, "
        "2d, or seconds), else refresh the copy first; 0 refreshes through the store",
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
    parser.add_argument(
        "--tables",
        action="store_true",
        help="write --out as a directory of Parquet datasets: the parent table and one child "
        "table per list of objects (orders, orders__line_items), keyed to their parent",
    )
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
        "--lookback",
        type=float,
        metavar="SECONDS",
        help="with --incremental: a margin taken off the mark (default 0)",
    )
    parser.add_argument("--start", metavar="MOMENT", help="the first run's lower bound (ISO-8601)")
    many = parser.add_argument_group(
        "several credentials (--credential more than once, or --all-credentials)"
    )
    many.add_argument(
        "--workers", type=int, metavar="N", help="credentials pulled at once (default 8)"
    )
    many.add_argument(
        "--on-error",
        default="continue",
        metavar="{continue,raise}",
        help="continue (default: leave a failed credential out, exit 3) or raise (stop at the "
        "first failure, exit 1)",
    )
    many.add_argument(
        "--user-column",
        default=USER_COLUMN,
        metavar="NAME",
        help=f"the column of each row's user id (default {USER_COLUMN})",
    )
    many.add_argument(
        "--credential-column",
        default=CREDENTIAL_COLUMN,
        metavar="NAME",
        help=f"the column of each row's credential id (default {CREDENTIAL_COLUMN})",
    )
    many.add_argument(
        "--max-total-requests-per-second",
        type=float,
        metavar="N",
        help="a cap on requests a second across every credential, retries included",
    )


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
