"""The ``Explorer``: the pickers, preview, pull, export and the code that does the same."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import ipywidgets as widgets

from alloy_data.errors import AlloyError, ConfigurationError
from alloy_data.incremental import Incremental, IncrementalWarning, guess_incremental
from alloy_data.options import (
    CREDENTIAL_COLUMN,
    MANY_OPTION_NAMES,
    PULL_OPTION_NAMES,
    USER_COLUMN,
    FlattenOption,
    PullOptions,
    TimestampsOption,
    UndeclaredParametersOption,
    documented,
    many_options_from,
    pull_options_from,
)
from alloy_data.widgets._actions import ActionPicker
from alloy_data.widgets._base import (
    attempt,
    reported,
    show_error,
    show_info,
    show_table,
    unexpected_text,
)
from alloy_data.widgets._code import count, display_code, literal, reproducing_code
from alloy_data.widgets._columns import ColumnPicker
from alloy_data.widgets._pickers import ConnectorPicker, CredentialPicker
from alloy_data.widgets._progress import end_bar, reset_bar, show_figures
from alloy_data.widgets._selection import every_credential, one_credential
from alloy_data.widgets._stored import StoredCopies

if TYPE_CHECKING:
    from datetime import timedelta

    import pandas as pd

    from alloy_data.client import AlloyClient
    from alloy_data.http import RetryPolicy
    from alloy_data.many import MultiPull
    from alloy_data.pagination import PaginatorOption
    from alloy_data.progress import ProgressOption, ProgressUpdate
    from alloy_data.pull import Pull

__all__ = ["Explorer"]

#: How a Refresh narrowed what it fetched, by ``stats.incremental``, for the status line.
_HOW_REFRESHED = {
    "filter": "the app sent only what changed",
    "newest_first": "stopped once past the last run's records",
    "full": "the app cannot filter, so every page was read",
    "first_run": "no mark yet, so every page was read",
}

T = TypeVar("T")


class Explorer(widgets.VBox):
    """Browse connectors, preview an action's first page, pull it all and export it.

    Choosing a connector lists the user's credentials and the connector's actions; choosing an
    action builds its parameter form. The buttons and the methods of the same names do the same
    thing; errors show in :attr:`status` instead of being raised.

    Args:
        client: The client to use (``ad.connect()`` or ``ad.AlloyClient(...)``).
        user_id: The user whose credentials to use (default: the client's user).
        preview_rows: How many rows the table shows.

    Attributes:
        user: The user id box (a Text).
        connector: The :class:`ConnectorPicker`.
        credential: The :class:`CredentialPicker`.
        action: The :class:`ActionPicker`.
        columns: The :class:`~alloy_data.widgets.ColumnPicker`: the columns and flattening
            that Pull, Export and Show code use (a Preview lists the columns).
        preview_button, pull_button, export_button, code_button: The buttons.
        stored: The local store's panel (:class:`StoredCopies`): the chosen action's stored
            copies and their age, the max age Pull and Export are served within, and "Refresh
            stored copy".
        refresh_button: "Refresh": after an export, fetch only what changed since and merge it
            into the file (enabled once an export recorded a high-water mark).
        export_path: Where "Export to Parquet" writes (a Text).
        progress, progress_label: The pull's progress bar and its figures.
        status: The status line: what happened last, or what went wrong.
        output: Where the table (or the code) shows.
        dataframe: The last pulled DataFrame, or None.
        last_pull: The last ``Pull`` run (its ``stats`` say what it did), a ``MultiPull`` when
            every credential was pulled, or None.
        error: The last error shown, or None: an ``AlloyError``, or any other exception raised
            by a click (the status line says so; the same method in a cell shows its
            traceback).
    """

    def __init__(
        self, client: AlloyClient, user_id: str | None = None, *, preview_rows: int = 10
    ) -> None:
        self._client = client
        self.preview_rows = preview_rows
        self.dataframe: pd.DataFrame | None = None
        self.last_pull: Pull | MultiPull | None = None
        self.error: Exception | None = None
        self.user = widgets.Text(
            value=user_id or client.user_id or "",
            description="User",
            placeholder="user id",
            continuous_update=False,
        )
        self.connector = ConnectorPicker(client)
        self.credential = CredentialPicker(client, user_id=self.user.value or None)
        self.action = ActionPicker(client)
        self.columns = ColumnPicker()
        self.all_credentials = widgets.Checkbox(
            value=False,
            description="Every credential of the connector, all users",
            indent=False,
            layout=widgets.Layout(width="auto"),
        )
        self.preview_button = widgets.Button(description="Preview", icon="eye")
        self.pull_button = widgets.Button(
            description="Pull", icon="download", button_style="primary"
        )
        self.export_button = widgets.Button(
            description="Export to Parquet", icon="save", layout=widgets.Layout(width="auto")
        )
        self.code_button = widgets.Button(description="Show code", icon="code")
        self.refresh_button = widgets.Button(
            description="Refresh",
            icon="refresh",
            disabled=True,
            tooltip="After an export: fetch only what changed since, and merge it into the file",
        )
        self._exported: tuple[str | Path, Incremental] | None = None
        self._preview_columns: list[str] = []
        self.export_path = widgets.Text(description="Parquet file", placeholder="data.parquet")
        self.progress = widgets.FloatProgress(value=0.0, min=0.0, max=1.0)
        self.progress_label = widgets.HTML()
        self.status = widgets.HTML()
        self.output = widgets.Output()
        self.stored = StoredCopies(client)
        super().__init__(
            children=[
                self.user,
                self.connector,
                self.credential,
                self.all_credentials,
                self.action,
                self.columns,
                widgets.HBox([self.preview_button, self.pull_button, self.code_button]),
                widgets.HBox([self.export_path, self.export_button, self.refresh_button]),
                self.stored,
                widgets.HBox([self.progress, self.progress_label]),
                self.status,
                self.output,
            ]
        )
        self.add_class("alloy-explorer")
        self.status.add_class("alloy-status")
        self.progress_label.add_class("alloy-progress-label")
        self.output.add_class("alloy-output")
        self.user.observe(self._user_changed, names="value")
        self.connector.observe(self._connector_changed, names="value")
        self.preview_button.on_click(self._clicked(self.preview, "preview"))
        self.pull_button.on_click(self._clicked(self.run, "run"))
        self.export_button.on_click(self._clicked(self.export, "export"))
        self.code_button.on_click(self._clicked(self.show_code, "show_code"))
        self.refresh_button.on_click(self._clicked(self.refresh, "refresh"))
        self.stored.refresh_button.on_click(self._clicked(self.refresh_stored, "refresh_stored"))
        self.action.observe(
            lambda _: self.stored.show(self.connector.value, self.action.value), names="value"
        )

    def refresh_stored(self) -> pd.DataFrame | None:
        """Fetch the selection anew into the local store and show it (what "Refresh stored
        copy" does): a Pull with ``max_age=0``.

        Returns:
            The DataFrame, or None when the pull failed (see :attr:`status`).
        """
        with self.stored.refreshing():
            return self.run()

    def _clicked(self, method: Callable[[], object], name: str) -> Callable[[object], None]:
        """A button's handler: ``method``, with any error shown in the status line.

        AlloyErrors are shown by the methods themselves; anything else raised in a click would
        otherwise reach only the browser's console.
        """

        def click(_button: object) -> None:
            try:
                method()
            except Exception as error:
                self.error = error
                if method != self.show_code:
                    self._end_progress(ok=False)
                if isinstance(error, AlloyError):
                    show_error(self.status, error)
                else:
                    show_error(self.status, unexpected_text(error, f"explorer.{name}()"))

        return click

    @property
    def client(self) -> AlloyClient:
        """The client the Explorer lists, previews, pulls and exports with."""
        return self._client

    @property
    def user_id(self) -> str | None:
        """The user id in the user box, or None when it is empty."""
        return self.user.value.strip() or None

    def _user_changed(self, change: dict[str, Any]) -> None:
        with reported(self.status, f"explorer.credential.user_id = {self.user_id!r}"):
            self.credential.user_id = self.user_id

    def _connector_changed(self, change: dict[str, Any]) -> None:
        show_info(self.status, "")
        with reported(self.status, f"explorer.connector.value = {change['new']!r}"):
            self.credential.connector_id = change["new"]
            self.action.connector_id = change["new"]

    @documented(*PULL_OPTION_NAMES, *MANY_OPTION_NAMES)
    def pull(
        self,
        *,
        parameters: Mapping[str, Any] | None = None,
        undeclared_parameters: UndeclaredParametersOption = "refuse",
        paginator: PaginatorOption = "auto",
        page_size: int | None = None,
        max_pages: int | None = None,
        max_records: int | None = None,
        concurrency: int | Literal["auto"] = "auto",
        max_requests_per_second: float | None = None,
        retries: int | RetryPolicy | None = None,
        incremental: Incremental | None = None,
        timestamps: TimestampsOption = "auto",
        columns: Sequence[str] | None = None,
        flatten: FlattenOption = "dotted",
        flatten_depth: int | None = None,
        max_age: timedelta | float | str | None = None,
        progress: ProgressOption = "auto",
        workers: int | None = None,
        on_error: Literal["continue", "raise"] = "continue",
        user_column: str = USER_COLUMN,
        credential_column: str = CREDENTIAL_COLUMN,
        max_total_requests_per_second: float | None = None,
    ) -> Pull | MultiPull:
        """Build the lazy pull of the current selection (nothing is fetched yet).

        The connector, credential, user, action and parameters come from the pickers: the
        chosen credential's ``Pull``, or with "All credentials" ticked a ``MultiPull`` of
        every credential of the connector. The options are those of
        :meth:`alloy_data.AlloyClient.pull` and :meth:`~alloy_data.AlloyClient.pull_many`
        (the latter only matter with "All credentials").

        Args:
            parameters: Added to (and winning over) the parameters set in the action picker.
            columns: Default: the columns chosen in the column picker.
            flatten: Default (with ``flatten_depth`` left out): the column picker's choice.

        Returns:
            The ``Pull`` or ``MultiPull``.

        Raises:
            ConfigurationError: The connector, credential or action is not chosen yet, a
                parameter does not parse, or an option is wrong.
        """
        columns, flatten, flatten_depth = self.columns.applied(columns, flatten, flatten_depth)
        arguments = {**locals(), "parameters": {**self.action.parameters, **(parameters or {})}}
        options = pull_options_from(arguments)
        many = many_options_from(arguments)
        if self.all_credentials.value:
            return every_credential(self, options, many)
        return one_credential(self, options)

    def _picked_options(self, **changes: Any) -> PullOptions:
        """The options of a pull of the selection: the picker's parameters, and ``changes``."""
        return PullOptions(parameters=self.action.parameters, **changes)

    def _attempt(self, work: Callable[[], T], doing: str) -> T | None:
        self.error = None
        result, self.error = attempt(self.status, work, doing)
        return result

    def preview(self) -> pd.DataFrame | None:
        """Fetch the first page only and show its first rows (what Preview does).

        The progress bar shows the page's figures, green when it came, red when it failed.

        Returns:
            The first page as a DataFrame, or None when it failed (see :attr:`status`).
        """

        def first_page() -> pd.DataFrame:
            options = self._picked_options(max_pages=1, progress=self._show_progress)
            return one_credential(self, options).to_dataframe()

        self._reset_progress()
        frame = self._attempt(first_page, "Fetching the first page…")
        self._end_progress(ok=frame is not None)
        if frame is not None:
            self._preview_columns = list(frame.columns)
            self.columns.discover(self._preview_columns)
            show_table(
                self.output,
                frame.head(self.preview_rows),
                f"First page: {count(len(frame), 'row')}",
            )
            show_info(self.status, f"Preview: the first page has {count(len(frame), 'record')}.")
        return frame

    def run(self) -> pd.DataFrame | None:
        """Pull every page into :attr:`dataframe`, with the progress bar (what Pull does).

        Returns:
            The DataFrame, or None when the pull failed (see :attr:`status`).
        """

        def everything() -> tuple[Pull | MultiPull, pd.DataFrame]:
            pull = self._whole_pull()
            self.last_pull = pull
            return pull, pull.to_dataframe()

        self._reset_progress()
        outcome = self._attempt(everything, "Pulling…")
        self._end_progress(ok=outcome is not None)
        if outcome is None:
            return None
        pull, frame = outcome
        self.stored.show(self.connector.value, self.action.value)
        self.dataframe = frame
        show_table(
            self.output,
            frame.head(self.preview_rows),
            f"{len(frame):,} rows, {len(frame.columns)} columns",
        )
        if not self.status.value:
            show_info(self.status, f"Pulled {pull.stats}.")
        return frame

    def export(self, path: str | Path | None = None) -> Path | str | None:
        """Pull every page into a Parquet file, replacing it (what "Export to Parquet" does).

        Args:
            path: Where to write; default the path box, else ``<connector>-<action>.parquet``.

        Returns:
            The path written (the URL, for an object store's URL), or None when it failed
            (see :attr:`status`).
        """
        target = path or self.export_path.value.strip() or self._default_path()

        incremental = self._refreshable(target)

        def write() -> tuple[Pull | MultiPull, Path | str]:
            pull = self._whole_pull(incremental)
            self.last_pull = pull
            written = pull.to_parquet(target, overwrite=True)
            return pull, written

        self._reset_progress()
        self._exported = None
        self.refresh_button.disabled = True
        outcome = self._attempt(write, f"Exporting to {target}…")
        self._end_progress(ok=outcome is not None)
        if outcome is None:
            return None
        pull, written = outcome
        if incremental is not None and isinstance(written, Path) and _has_mark(written):
            self._exported = (written, incremental)
            self.refresh_button.disabled = False
        if not self.status.value:
            where = written.resolve() if isinstance(written, Path) else written
            show_info(self.status, f"Wrote {pull.stats.records:,} records to {where}.")
        return written

    def _refreshable(self, target: str | Path) -> Incremental | None:
        """How a later Refresh updates an export: a cursor and key from the columns seen in
        a preview or pull, or the action's declared ones; None when none fit or the export is
        not one local Parquet file of one credential."""
        if self.all_credentials.value or "://" in str(target):
            return None
        columns: list[str] = [] if self.dataframe is None else list(self.dataframe.columns)
        if self._preview_columns:
            columns += self._preview_columns
        if not columns:
            with contextlib.suppress(AlloyError):
                pull = one_credential(self, self._picked_options(progress=False))
                columns = list(pull.known_columns())
        guessed = guess_incremental(columns)
        try:  # the columns chosen may leave out its cursor or key: then there is no Refresh
            return PullOptions(incremental=guessed, **self.columns.choices()).incremental
        except ConfigurationError:
            return None

    def refresh(self) -> Path | str | None:
        """Fetch only what changed since the last export and merge it in (what Refresh does).

        The export recorded a high-water mark in the file (see :mod:`alloy_data.incremental`);
        this runs the same pull with ``incremental=`` and ``to_parquet(path, mode="merge")``.

        Returns:
            The file updated, or None when it failed or nothing was exported yet (see
            :attr:`status`).
        """
        if self._exported is None:
            show_error(
                self.status,
                "Export to Parquet first: Refresh updates the file an export wrote, from the "
                "mark kept in it (the export needs an updated-at field and an id).",
            )
            return None
        target, incremental = self._exported

        def update() -> tuple[Pull | MultiPull, Path | str]:
            pull = self._whole_pull(incremental)
            self.last_pull = pull
            return pull, pull.to_parquet(target, mode="merge")

        self._reset_progress()
        with warnings.catch_warnings():
            # A refresh that had to read every page says so in the status line instead.
            warnings.simplefilter("ignore", IncrementalWarning)
            outcome = self._attempt(update, f"Refreshing {target}…")
        self._end_progress(ok=outcome is not None)
        if outcome is None:
            return None
        pull, written = outcome
        stats = pull.stats
        how = _HOW_REFRESHED.get(str(getattr(stats, "incremental", "")), "")
        where = written.resolve() if isinstance(written, Path) else written
        if not self.status.value:
            show_info(
                self.status,
                f"Refreshed {where}: {count(stats.records, 'changed record')} in "
                f"{count(stats.pages, 'page')} ({how}).",
            )
        return written

    def _whole_pull(self, incremental: Incremental | None = None) -> Pull | MultiPull:
        """The pull that Pull and Export run: the chosen credential's, or every credential's."""
        max_age = self.stored.pull_max_age
        return self.pull(progress=self._show_progress, incremental=incremental, max_age=max_age)

    def _default_path(self) -> str:
        parts = [part for part in (self.connector.value, self.action.value) if part]
        return f"{'-'.join(parts) or 'data'}.parquet"

    @property
    def code(self) -> str:
        """Python that reproduces the current selection (it never contains the API key).

        Returns:
            Lines that import alloy_data, make a client, pull and build a DataFrame ``df``.
        """
        try:
            parameters = literal(self.action.parameters)
        except ConfigurationError as error:
            parameters = f"{{}},  # {error}"
        refreshed = None
        if self._exported is not None and not self.all_credentials.value:
            refreshed = self._exported
        return reproducing_code(
            base_url=self._client.base_url,
            connector_id=self.connector.value,
            action_id=self.action.value,
            credential_id=None if self.all_credentials.value else self.credential.value,
            user_id=self.user_id,
            parameters=parameters,
            refreshed=refreshed,
            shape=self.columns.choices(),
            max_age=self.stored.max_age_box.value.strip() or None,
        )

    def show_code(self) -> str:
        """Show :attr:`code` below the buttons (what "Show code" does).

        Returns:
            The code.
        """
        code = self.code
        display_code(self.output, code)
        return code

    def _reset_progress(self) -> None:
        reset_bar(self.progress, self.progress_label)

    def _end_progress(self, *, ok: bool) -> None:
        end_bar(self.progress, ok=ok)

    def _show_progress(self, figures: ProgressUpdate) -> None:
        show_figures(self.progress, self.progress_label, figures)


def _has_mark(path: Path) -> bool:
    """Whether an export kept a high-water mark, so that Refresh can update it."""
    from alloy_data.export import read_incremental_state

    return read_incremental_state(path) is not None
