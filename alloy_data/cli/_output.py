"""What every command shares on its way out: exit statuses and printing rows."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from alloy_data._text_table import format_table
from alloy_data.errors import ConfigurationError

__all__ = [
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "EXIT_STATUSES",
    "EXIT_USAGE",
    "exit_status_for",
    "print_rows",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
EXIT_INTERRUPTED = 130

#: Every exit status of ``alloy-data`` and when it is returned; docs/reference/cli.md shows
#: this table (a test checks both, and that each status is what the command line returns).
EXIT_STATUSES: dict[int, str] = {
    EXIT_OK: "success",
    EXIT_ERROR: (
        "an API, network or export error: the server refused or failed, the connection broke, "
        "or the output could not be written (an existing --out without --overwrite included)"
    ),
    EXIT_USAGE: (
        "a usage or configuration mistake, caught before the first request: a flag or value "
        "refused, no API key, a bad base URL"
    ),
    EXIT_PARTIAL: ("some credentials of several failed; what the others fetched was written"),
    EXIT_INTERRUPTED: "interrupted (Ctrl-C); what was saved is kept for --resume",
}


def exit_status_for(error: BaseException) -> int:
    """Return the exit status of a command that stopped on ``error``."""
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(error, ConfigurationError):
        return EXIT_USAGE
    return EXIT_ERROR


def print_rows(rows: list[dict[str, Any]], args: argparse.Namespace, out: TextIO) -> int:
    """Print ``rows`` as a table, or as JSON with ``--json``.

    Returns:
        The exit status of success.
    """
    if args.json:
        json.dump(rows, out, indent=2, ensure_ascii=False, default=str)
        out.write("\n")
    else:
        out.write(format_table(rows))
    return EXIT_OK
