"""What every command shares on its way out: exit statuses and printing rows."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from alloy_data._text_table import format_table

__all__ = ["EXIT_ERROR", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_PARTIAL", "EXIT_USAGE", "print_rows"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
# Some credentials of a pull of many failed; what the others fetched was written.
EXIT_PARTIAL = 3
EXIT_INTERRUPTED = 130


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
