"""Small HTML fragments for rich display in notebooks (``_repr_html_``), every value escaped.

The fragments use inline styles only, readable on light and dark themes, so that they look the
same in JupyterLab, Notebook, VS Code and a saved notebook's HTML.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

__all__ = ["block", "details", "grid", "items", "key_values", "text"]

_TABLE = "border-collapse:collapse;margin:0.2em 0 0.5em 0;font-size:0.92em"
_CELL = "text-align:left;padding:0.15em 0.8em 0.15em 0;vertical-align:top"
_WARNING = "border-left:3px solid #d97706;padding:0.1em 0.5em;margin:0.2em 0;color:inherit"
_WARNING_MARK = "color:#d97706;font-weight:bold"


def text(value: object) -> str:
    """Return ``value`` as escaped HTML text (None as an empty string)."""
    return "" if value is None else escape(str(value))


def key_values(rows: Iterable[tuple[str, object]]) -> str:
    """Return a two-column table of labels and values; rows whose value is None are left out."""
    cells = "".join(
        f'<tr><th style="{_CELL}">{text(label)}</th><td style="{_CELL}">{text(value)}</td></tr>'
        for label, value in rows
        if value is not None
    )
    return f'<table style="{_TABLE}">{cells}</table>' if cells else ""


def grid(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Return a table with a header row; an empty string when there are no rows."""
    body = "".join(
        "<tr>" + "".join(f'<td style="{_CELL}">{text(cell)}</td>' for cell in row) + "</tr>"
        for row in rows
    )
    if not body:
        return ""
    head = "".join(f'<th style="{_CELL}">{text(header)}</th>' for header in headers)
    return f'<table style="{_TABLE}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def items(lines: Iterable[str], *, warning: bool = False) -> str:
    """Return the lines as a list; warnings are marked and set off with a coloured bar."""
    if warning:
        return "".join(
            f'<div style="{_WARNING}"><span style="{_WARNING_MARK}">warning</span> '
            f"{text(line)}</div>"
            for line in lines
        )
    entries = "".join(f"<li>{text(line)}</li>" for line in lines)
    return f'<ul style="margin:0.2em 0">{entries}</ul>' if entries else ""


def details(summary: str, body: str, *, open_: bool = False) -> str:
    """Return ``body`` (HTML) folded under a one-line summary; empty when ``body`` is."""
    if not body:
        return ""
    state = " open" if open_ else ""
    return f"<details{state}><summary>{text(summary)}</summary>{body}</details>"


def block(title: str, *parts: str) -> str:
    """Return the parts (HTML) under a bold title, as one fragment."""
    body = "".join(parts)
    return f'<div class="alloy-data"><strong>{text(title)}</strong>{body}</div>'
