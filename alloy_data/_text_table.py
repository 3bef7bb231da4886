"""Plain text tables for the terminal, as the command line and the demo print them."""

from __future__ import annotations

from typing import Any

__all__ = ["format_table"]


def format_table(rows: list[dict[str, Any]]) -> str:
    """Format dicts as a plain text table with a header row.

    A column that is empty (None or ``""``) in every row is left out, as a header over blanks
    tells the reader nothing; when every column is empty, the first is kept so that each row
    still shows as a line.

    Returns:
        The table as text ending in a newline, or ``"(none)\\n"`` for no rows.
    """
    if not rows:
        return "(none)\n"
    keys = list(rows[0])
    cells = [[("" if row.get(c) is None else str(row.get(c))) for c in keys] for row in rows]
    shown = [i for i in range(len(keys)) if any(r[i] for r in cells)]
    if keys and not shown:
        shown = [0]
    columns = [keys[i] for i in shown]
    cells = [[r[i] for i in shown] for r in cells]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines) + "\n"
