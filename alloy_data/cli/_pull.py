"""Running ``alloy-data pull``: one or many credentials into a file, and what was written."""

from __future__ import annotations

import argparse
import posixpath
import sys
import time
from pathlib import Path
from typing import Any, Literal, TextIO

from alloy_data.cli._output import EXIT_OK, EXIT_PARTIAL, print_rows
from alloy_data.cli._pull_options import OPTION_FLAGS, options_from_args
from alloy_data.cli._storage import parse_storage_options
from alloy_data.cli._words import in_cli_words
from alloy_data.errors import ConfigurationError
from alloy_data.options import MANY_OPTION_NAMES, ManyOptions, PullOptions

__all__ = ["run_pull"]


def run_pull(client: Any, args: argparse.Namespace, out: TextIO) -> int:
    """Run ``alloy-data pull``: write the pull to ``--out`` and print what was written.

    Returns:
        The exit status: 0, or 3 when some credentials of several failed.
    """
    from alloy_data.pull import Pull

    options, many = options_from_args(args)
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
    started = time.monotonic()
    if args.all_credentials or len(credentials) > 1:
        return _pull_many(
            client,
            args,
            out,
            credentials=credentials or "all",
            options=options,
            many=many,
            storage_options=storage_options,
            started=started,
        )
    if many != ManyOptions():
        flags = ", ".join(OPTION_FLAGS[name] for name in MANY_OPTION_NAMES)
        raise ConfigurationError(
            f"{flags} go with several credentials: pass --credential more than once, or "
            "--all-credentials."
        )
    pull = Pull(
        client,
        args.connector,
        args.action,
        credential_id=credentials[0],
        user_id=args.user_id,
        options=options,
    )
    if args.tables:
        path = pull.to_parquet(
            args.out,
            tables=True,
            overwrite=args.overwrite,
            resume=args.resume,
            storage_options=storage_options,
        )
    elif args.incremental:
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
        "fetched": stats.records_fetched,
        "pages": stats.pages,
        "seconds": round(time.monotonic() - started, 2),
        "bytes": path.stat().st_size if isinstance(path, Path) and path.is_file() else None,
        "paginator": stats.paginator,
        "page_size": stats.page_size,
        "requests": stats.requests,
        "retries": stats.retries,
        "refused": stats.refused,
        "rate_limit_waits": stats.limit_waits,
    }
    if args.incremental:
        mark = stats.high_water_mark
        # An incremental run fetches what changed; the file holds the dataset.
        summary.update(
            records=_rows_in(path),
            incremental=stats.incremental,
            high_water_mark=None if mark is None else mark.isoformat(),
        )
    _say_rate_limits(stats.limit_waits, stats.seconds_limited, stats.refused)
    if args.json:
        return print_rows([summary], args, out)
    if args.incremental:
        verb = "appended" if args.mode == "append" else "merged"
        total = "" if summary["records"] is None else f"{summary['records']} records in all, "
        out.write(
            f"{verb} {stats.records_fetched} fetched records ({stats.pages_fetched} pages, "
            f"{summary['paginator']}) into {shown} ({total}mark "
            f"{summary['high_water_mark'] or 'unset'}) in {summary['seconds']} s\n"
        )
    else:
        resumed = f"; this run fetched {stats.records_fetched}" if stats.resumed else ""
        out.write(
            f"wrote {stats.records} records ({stats.pages} pages, {summary['paginator']}"
            f"{resumed}) to {shown} in {summary['seconds']} s\n"
        )
    if args.incremental:
        notes = [n for n in stats.notes if n.startswith("incremental:")]
        for note in notes:
            print(f"alloy-data: {in_cli_words(note)}", file=sys.stderr)
    for note in stats.warnings:
        print(f"alloy-data: warning: {in_cli_words(note)}", file=sys.stderr)
    return EXIT_OK


def _say_rate_limits(waits: int, seconds: float, refused: int) -> None:
    """One line on stderr when the API's rate limit made requests wait or refused them."""
    if waits or refused:
        print(
            f"alloy-data: waited {waits} times ({seconds:.1f} s) for the API's rate limit; "
            f"{refused} requests refused (429)",
            file=sys.stderr,
        )


def _pull_many(
    client: Any,
    args: argparse.Namespace,
    out: TextIO,
    *,
    credentials: list[str] | str,
    options: PullOptions,
    many: ManyOptions,
    storage_options: dict[str, Any] | None,
    started: float,
) -> int:
    from alloy_data.many import MultiPull

    job = MultiPull(
        client, args.connector, args.action, credentials=credentials, options=options, many=many
    )
    # Kept as text: a URL (s3://bucket/prefix/) must not go through Path, which folds its "//".
    target = args.out
    write = {
        "overwrite": args.overwrite,
        "resume": args.resume,
        "storage_options": storage_options,
    }
    if args.tables:
        path = job.to_parquet(target, tables=True, **write)
    elif posixpath.splitext(target.rstrip("/"))[1] and not target.endswith("/"):
        if args.incremental:
            raise ConfigurationError(
                "--incremental with several credentials updates a dataset directory, one file "
                "per credential: give --out a directory name without a suffix."
            )
        path = job.to_file(target, **write)
    else:
        mode: Literal["replace", "merge", "append"] = args.mode if args.incremental else "replace"
        path = job.to_parquet(target, **write, mode=mode)
    stats = job.stats
    shown = _shown(path)
    summary: dict[str, Any] = {
        "file": shown,
        "records": stats.records,
        "fetched": stats.records_fetched,
        "credentials": stats.credentials,
        "failed": stats.failed,
        "pages": stats.pages,
        "requests": stats.requests,
        "refused": stats.refused,
        "rate_limit_waits": stats.limit_waits,
        "seconds": round(time.monotonic() - started, 2),
    }
    marks = sorted(
        s.high_water_mark for s in stats.per_credential.values() if s.high_water_mark is not None
    )
    if args.incremental:
        summary["high_water_mark"] = marks[-1].isoformat() if marks else None
    credentials = f"{stats.done} of {stats.credentials} credentials"
    if args.json:
        print_rows([summary], args, out)
    elif args.incremental:
        verb = "appended" if args.mode == "append" else "merged"
        if not marks:
            mark = "mark unset"
        elif marks[0] == marks[-1]:
            mark = f"mark {marks[-1].isoformat()}"
        else:
            mark = f"marks {marks[0].isoformat()} to {marks[-1].isoformat()}"
        out.write(
            f"{verb} {stats.records_fetched} fetched records from {credentials} into {shown} "
            f"({stats.records} records in all, {mark}) in {summary['seconds']} s\n"
        )
    else:
        out.write(
            f"wrote {stats.records} records from {credentials} to {shown} in "
            f"{summary['seconds']} s\n"
        )
    for failure in stats.failures:
        print(f"alloy-data: credential failed: {in_cli_words(str(failure))}", file=sys.stderr)
    _say_rate_limits(stats.limit_waits, stats.seconds_limited, stats.refused)
    return EXIT_OK if not stats.failures else EXIT_PARTIAL


def _rows_in(path: Path | str) -> int | None:
    """The rows of a local Parquet file, from its footer; None for a URL."""
    if not isinstance(path, Path) or not path.is_file():
        return None
    import pyarrow.parquet as pq

    return int(pq.read_metadata(path).num_rows)


def _shown(path: Path | str) -> str:
    from alloy_data.export import display_url

    return display_url(path) if isinstance(path, str) else str(path)
