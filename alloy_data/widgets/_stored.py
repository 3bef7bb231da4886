"""The Explorer's panel of the local store: the chosen action's stored copies, their age, the
max age a Pull is served within, and a button that refreshes the copy now."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import ipywidgets as widgets

from alloy_data._durations import as_duration

if TYPE_CHECKING:
    from alloy_data.client import AlloyClient
    from alloy_data.store import Store, StoredCopy

__all__ = ["StoredCopies", "age_text"]


def age_text(age: dt.timedelta) -> str:
    """An age in the largest unit that fits: ``"45 s"``, ``"12 min"``, ``"3.5 h"``, ``"2.0 d"``."""
    seconds = age.total_seconds()
    if seconds < 60:
        return f"{max(seconds, 0):.0f} s"
    if seconds < 3_600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86_400:
        return f"{seconds / 3_600:.1f} h"
    return f"{seconds / 86_400:.1f} d"


class StoredCopies(widgets.VBox):
    """The stored copies of one action, and how Pull uses the store.

    Args:
        client: The client whose store (``client.store``) is shown.

    Attributes:
        max_age_box: "Max age" (a Text): a Pull is served from the store when its copy is
            younger than this (``1h``, ``30m``, ``2d``); empty: the store is not used.
        refresh_button: "Refresh stored copy": fetch the chosen selection anew into the store
            now (only what changed, for a pull with an ``Incremental``).
        table: The chosen action's copies: credential, parameters, rows, fetched at, age.
    """

    def __init__(self, client: AlloyClient) -> None:
        self._client = client
        has_store = self._store() is not None
        self.max_age_box = widgets.Text(
            description="Max age",
            placeholder="e.g. 1h: serve Pull from the store" if has_store else "no store",
            disabled=not has_store,
            continuous_update=False,
        )
        self.refresh_button = widgets.Button(
            description="Refresh stored copy",
            icon="refresh",
            disabled=not has_store,
            layout=widgets.Layout(width="auto"),
            tooltip="Fetch the chosen selection anew into the local store, and show it",
        )
        self.table = widgets.HTML()
        self._refreshing = False
        super().__init__(
            children=[widgets.HBox([self.max_age_box, self.refresh_button]), self.table]
        )
        self.add_class("alloy-stored-copies")

    def _store(self) -> Store | None:
        # A client made without a store (or a stand-in for one) has none to show.
        return getattr(self._client, "store", None)

    @property
    def max_age(self) -> dt.timedelta | None:
        """The max age in the box, or None when it is empty.

        Raises:
            ConfigurationError: The box holds no duration (saying what to write).
        """
        text = self.max_age_box.value.strip()
        return None if not text else as_duration(text, "Max age")

    @property
    def pull_max_age(self) -> dt.timedelta | float | None:
        """The max age a Pull is served within: 0 while :meth:`refreshing`, else
        :attr:`max_age`."""
        return 0 if self._refreshing else self.max_age

    @contextmanager
    def refreshing(self) -> Iterator[None]:
        """Within, :attr:`pull_max_age` is 0: a Pull fetches anew into the store (what
        "Refresh stored copy" does)."""
        self._refreshing = True
        try:
            yield
        finally:
            self._refreshing = False

    def copies(self, connector_id: str | None, action_id: str | None) -> list[StoredCopy]:
        """The stored copies of the action, the newest first."""
        store = self._store()
        if store is None or not connector_id or not action_id:
            return []
        found = [
            copy
            for copy in store.copies()
            if (copy.connector_id, copy.action_id) == (connector_id, action_id)
        ]
        return sorted(found, key=lambda copy: copy.order, reverse=True)

    def show(self, connector_id: str | None, action_id: str | None) -> None:
        """List the stored copies of the action with their age, or say there are none."""
        if self._store() is None:
            self.table.value = "<p>No local store: connect with ad.connect(store=True).</p>"
            return
        copies = self.copies(connector_id, action_id)
        if not copies:
            self.table.value = (
                f"<p>No stored copy of {html.escape(action_id or 'this action')} yet: set a max "
                "age and Pull.</p>"
                if action_id
                else ""
            )
            return
        now = dt.datetime.now(dt.timezone.utc)
        rows = "".join(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(cell))}</td>"
                for cell in (
                    copy.credential_id,
                    copy.parameters,
                    f"{copy.rows:,}",
                    copy.fetched_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
                    age_text(copy.age(now)),
                )
            )
            + "</tr>"
            for copy in copies
        )
        self.table.value = (
            f"<p>{len(copies)} stored cop{'y' if len(copies) == 1 else 'ies'} of "
            f"{html.escape(action_id or '')}:</p><table><tr><th>credential</th><th>parameters"
            "</th><th>rows</th><th>fetched at</th><th>age</th></tr>"
            f"{rows}</table>"
        )
