"""The Explorer's column picker: which columns a pull keeps, and how nesting is flattened."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import ipywidgets as widgets

from alloy_data.options import FLATTEN_CHOICES, FlattenOption

__all__ = ["ColumnPicker", "discovered_paths"]

_FLATTEN_LABELS = {
    "dotted": "Nested fields as columns (customer.email)",
    "struct": "Nested objects as struct columns",
    "json": "Nested values as JSON text",
}
_DEPTHS: list[tuple[str, int | None]] = [("Any depth", None)] + [
    (f"Depth {depth}", depth) for depth in range(4)
]


def discovered_paths(columns: Iterable[str]) -> list[str]:
    """Every path a preview's dotted columns hold: each object's path before its fields
    (``customer``, then ``customer.email``), in the order the columns came."""
    paths: dict[str, None] = {}
    for column in columns:
        parts = str(column).split(".")
        for end in range(1, len(parts) + 1):
            paths.setdefault(".".join(parts[:end]), None)
    return list(paths)


class ColumnPicker(widgets.VBox):
    """The columns to keep (none chosen: every column) and how nested objects flatten.

    A Preview fills :attr:`paths` with what the first page holds, nested paths included.

    Attributes:
        paths: A SelectMultiple of the discovered paths; what is selected is kept, in the
            order listed (``columns=``).
        flatten: A Dropdown of ``flatten=`` (dotted, struct, json).
        depth: A Dropdown of ``flatten_depth=`` (any depth, or 0 to 3).
    """

    def __init__(self) -> None:
        self.paths = widgets.SelectMultiple(
            options=[],
            description="Columns",
            rows=8,
            layout=widgets.Layout(width="auto", min_width="24em"),
        )
        self.flatten = widgets.Dropdown(
            options=[(_FLATTEN_LABELS[mode], mode) for mode in FLATTEN_CHOICES],
            value="dotted",
            description="Nesting",
            layout=widgets.Layout(width="auto"),
        )
        self.depth = widgets.Dropdown(options=_DEPTHS, value=None, description="Depth")
        self.hint = widgets.HTML("<i>Preview to list the columns; none chosen keeps them all.</i>")
        super().__init__(
            children=[
                self.hint,
                widgets.HBox([self.paths, widgets.VBox([self.flatten, self.depth])]),
            ]
        )
        self.add_class("alloy-columns")
        self.flatten.observe(self._flatten_changed, names="value")

    def _flatten_changed(self, change: dict[str, Any]) -> None:
        # JSON text has no depth: every nested value is text already.
        self.depth.disabled = change["new"] == "json"
        if self.depth.disabled:
            self.depth.value = None

    def discover(self, columns: Sequence[str]) -> None:
        """List the paths that ``columns`` (a preview's, dotted) hold, keeping the selection
        that is still there."""
        kept = [path for path in self.paths.value if path in set(discovered_paths(columns))]
        self.paths.options = discovered_paths(columns)
        self.paths.value = tuple(kept)
        self.hint.value = "<i>Choose the columns to keep (none chosen keeps them all).</i>"

    def choices(self) -> dict[str, Any]:
        """The pull options this picker sets: ``columns``, ``flatten``, ``flatten_depth``."""
        chosen = [path for path in self.paths.options if path in self.paths.value]
        return {
            "columns": chosen or None,
            "flatten": self.flatten.value,
            "flatten_depth": None if self.flatten.value == "json" else self.depth.value,
        }

    def applied(
        self, columns: Sequence[str] | None, flatten: FlattenOption, flatten_depth: int | None
    ) -> tuple[Sequence[str] | None, FlattenOption, int | None]:
        """A pull's ``columns``, ``flatten`` and ``flatten_depth``, with this picker's choices
        where they are left out (``columns=None``; ``flatten="dotted"`` and no depth)."""
        picked = self.choices()
        if flatten == "dotted" and flatten_depth is None:
            flatten, flatten_depth = picked["flatten"], picked["flatten_depth"]
        return (picked["columns"] if columns is None else columns), flatten, flatten_depth
