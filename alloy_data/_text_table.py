"""Plain text tables for the terminal, as the command line and the demo print them."""

from __future__ import annotations

from typing import Any

__all__ = ["format_table"]


def format_table(rows: list[dict[str, Any]]) -> str:
    """Format dicts as a plain text table with a header row.

    Returns:
        The table as text ending in a newline, or ``"(none)\\n"`` for no rows.
    """
    if not rows:
        return "(none)\n"
    columns = list(rows[0])
    cells = [[("" if row.get(c) is None else str(row.get(c))) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines) + "\n"
