"""``ConnectorPicker`` and ``CredentialPicker``: choosing an app, and a user's access to it."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import traitlets

from alloy_data.errors import AlloyError
from alloy_data.widgets._base import ChoiceWidget, reported, show_error, show_info

if TYPE_CHECKING:
    from alloy_data.client import AlloyClient
    from alloy_data.models import Connector, Credential, CredentialMetadata

__all__ = ["ConnectorPicker", "CredentialPicker"]

ALL_CATEGORIES = "All"
_WIDE = {"description_width": "initial"}


def _hidden(widget: widgets.Widget, hidden: bool) -> None:
    widget.layout.display = "none" if hidden else None


class ConnectorPicker(ChoiceWidget):
    """Choose a connector (an app such as Shopify), filtered by category and a search box.

    Constructing it fetches the connector list, and nothing else.

    Args:
        client: The client to list connectors with.
        value: A connector id to select at once.

    Attributes:
        value: The chosen connector id, or None.
        connectors: Every connector the API listed.
        category: The category filter (a Dropdown, ``"All"`` first).
        search: The search box (a Text); it matches names, ids and categories.
        dropdown: The connector choice itself.
        status: The status line, where errors show.
        error: Why the last listing failed (such as a server that cannot be reached), or None.
    """

    def __init__(self, client: AlloyClient, *, value: str | None = None) -> None:
        super().__init__("Connector")
        self._client = client
        self.connectors: list[Connector] = []
        self.error: AlloyError | None = None
        self.category = widgets.Dropdown(
            description="Category", options=[ALL_CATEGORIES], value=ALL_CATEGORIES
        )
        self.search = widgets.Text(description="Search", placeholder="name, id or category")
        self.children = (widgets.HBox([self.category, self.search]), self.dropdown, self.status)
        self.category.observe(self._filter_changed, names="value")
        self.search.observe(self._filter_changed, names="value")
        self.refresh()
        if value is not None:
            self.value = value

    def refresh(self) -> None:
        """Fetch the connector list again (errors show in the status line)."""
        try:
            self.connectors = self._client.connectors.list()
        except AlloyError as error:
            self.error = error
            show_error(self.status, error)
            return
        self.error = None
        show_info(self.status, "")
        categories = sorted({c.category for c in self.connectors if c.category})
        with self._quietly():
            kept = self.category.value if self.category.value in categories else ALL_CATEGORIES
            self.category.options = [ALL_CATEGORIES, *categories]
            self.category.value = kept
        self._apply_filter()

    def _matches(self, connector: Connector) -> bool:
        category = self.category.value
        if category not in (None, ALL_CATEGORIES) and connector.category != category:
            return False
        words = self.search.value.strip().lower()
        haystack = " ".join(
            part for part in (connector.connector_id, connector.name, connector.category) if part
        ).lower()
        return words in haystack

    def _filter_changed(self, change: dict[str, Any]) -> None:
        if not self._quiet:
            with reported(self.status, f"picker.search.value = {self.search.value!r}"):
                self._apply_filter()

    def _apply_filter(self) -> None:
        options = [
            (_connector_label(c), c.connector_id) for c in self.connectors if self._matches(c)
        ]
        self._show_choices(options, self.value)
        if self.value is not None and self.value not in {value for _, value in options}:
            # The choice was filtered out of sight; a hidden choice would surprise.
            self.value = None

    @traitlets.validate("value")
    def _check_value(self, proposal: dict[str, Any]) -> str | None:
        value: str | None = proposal["value"]
        known = [c.connector_id for c in self.connectors]
        if value is not None and value not in known:
            raise traitlets.TraitError(f"{value!r} is not a connector here; choose one of {known}.")
        return value

    def _selected(self, value: str | None) -> None:
        if value is not None and value not in {v for _, v in self.options}:
            with self._quietly():
                self.category.value = ALL_CATEGORIES
                self.search.value = ""
            self._apply_filter()


def _connector_label(connector: Connector) -> str:
    name = connector.name or connector.connector_id
    return f"{name} ({connector.category})" if connector.category else name


def _credential_label(credential: Credential) -> str:
    identifier = credential.credential_id or "?"
    if credential.name:
        return f"{credential.name} · {identifier}"
    if credential.created_at:
        return f"{identifier} (created {credential.created_at})"
    return identifier


class CredentialPicker(ChoiceWidget):
    """Choose one of a user's credentials for a connector, or create a new one.

    The credentials are listed when a connector is chosen: the user's, or without a user those
    of the API key's own user. The "New credential" form is built from the connector's
    credential metadata when it is first opened: one field per credential field, required ones
    marked with ``*``, secret ones as password boxes. For OAuth connectors, creating answers a
    link to authorise in the browser; Refresh then lists the credentials again and selects the
    new one.

    Args:
        client: The client to list and create credentials with.
        connector_id: The connector whose credentials to list.
        user_id: The user who owns them (default: the client's user, else the API key's own
            user).

    Attributes:
        value: The chosen credential id, or None. Any credential id may be set; one of another
            user is added to the choices named as theirs are, with its owner, and one found
            nowhere as "not listed".
        connector_id: The connector (a trait: setting it lists credentials again).
        user_id: The user (a trait: setting it lists credentials again).
        credentials: The credentials listed last.
        metadata: The connector's credential metadata, once the form has been opened.
        fields: The form's input widgets by credential field name.
        new_button, create_button, refresh_button: The form's buttons.
        oauth_link: Where the authorisation link shows (an HTML widget).
        status: The status line, where errors show.
    """

    connector_id = traitlets.Unicode(None, allow_none=True, help="The connector id.")
    user_id = traitlets.Unicode(None, allow_none=True, help="The user who owns the credentials.")

    def __init__(
        self,
        client: AlloyClient,
        connector_id: str | None = None,
        user_id: str | None = None,
    ) -> None:
        super().__init__("Credential")
        self._client = client
        self.credentials: list[Credential] = []
        self.metadata: CredentialMetadata | None = None
        self.fields: dict[str, widgets.Text] = {}
        self._awaiting_authorization: set[str] | None = None
        self.new_button = widgets.Button(description="New credential", icon="plus")
        self.create_button = widgets.Button(description="Create", button_style="primary")
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh")
        self.oauth_link = widgets.HTML()
        self.form_fields = widgets.VBox()
        self.form = widgets.VBox(
            [self.form_fields, widgets.HBox([self.create_button, self.refresh_button])]
        )
        self.form.add_class("alloy-credential-form")
        self.add_class("alloy-credential-picker")
        # Wide enough for an id and its creation time, as the API names credentials.
        self.dropdown.layout.width = "44em"
        self.children = (
            widgets.HBox([self.dropdown, self.new_button]),
            self.form,
            self.oauth_link,
            self.status,
        )
        _hidden(self.form, True)
        _hidden(self.refresh_button, True)
        self.new_button.on_click(self._clicked(self.show_form, "show_form"))
        self.create_button.on_click(self._clicked(self.create, "create"))
        self.refresh_button.on_click(self._clicked(self.refresh, "refresh"))
        self.user_id = user_id if user_id is not None else client.user_id
        self.connector_id = connector_id

    def _clicked(self, method: Callable[[], object], name: str) -> Callable[[object], None]:
        def click(_button: object) -> None:
            with reported(self.status, f"credential_picker.{name}()"):
                method()

        return click

    @traitlets.observe("connector_id")
    def _connector_changed(self, change: dict[str, Any]) -> None:
        self.metadata = None
        self.fields = {}
        self.form_fields.children = ()
        self.oauth_link.value = ""
        self._awaiting_authorization = None
        _hidden(self.form, True)
        _hidden(self.refresh_button, True)
        self.refresh()

    @traitlets.observe("user_id")
    def _user_changed(self, change: dict[str, Any]) -> None:
        self.refresh()

    def refresh(self, *, select: str | None = None) -> None:
        """List the user's credentials for the connector again.

        The selection is kept when it is still listed; otherwise ``select``, a credential that
        appeared since an OAuth link was shown, or the first one is chosen.
        """
        listed: list[Credential] = []
        if self.connector_id:
            try:
                # No user: the API lists the API key's own user's credentials.
                listed = self._client.credentials.list(self.connector_id, user_id=self.user_id)
            except AlloyError as error:
                show_error(self.status, error)
            else:
                show_info(self.status, "")
        else:
            show_info(self.status, "")
        self.credentials = listed
        ids = [c.credential_id for c in listed if c.credential_id]
        chosen = self._choose(ids, select)
        options = [(_credential_label(c), c.credential_id) for c in listed if c.credential_id]
        self._show_choices(options, chosen)
        self.value = chosen
        if self.connector_id and not ids and not self.status.value:
            show_info(self.status, "This user has no credential for the connector yet.")

    def _choose(self, ids: list[str], select: str | None) -> str | None:
        if select in ids:
            return select
        if self._awaiting_authorization is not None:
            new = [i for i in ids if i not in self._awaiting_authorization]
            if new:
                self._awaiting_authorization = None
                self.oauth_link.value = ""
                _hidden(self.refresh_button, True)
                return new[-1]
            show_info(
                self.status,
                "No new credential yet: finish authorising in the other tab, then Refresh.",
            )
        if self.value in ids:
            return self.value
        return ids[0] if ids else None

    def _selected(self, value: str | None) -> None:
        if value is not None and value not in {v for _, v in self.options}:
            self._show_choices([*self.options, (self._unlisted_label(value), value)], value)

    def _unlisted_label(self, credential_id: str) -> str:
        """Name a credential the user does not own as a listed one is named, with its owner."""
        found = self._find_elsewhere(credential_id)
        if found is None:
            return f"{credential_id} (not listed)"
        return f"{_credential_label(found)} · user {found.user_id}"

    def _find_elsewhere(self, credential_id: str) -> Credential | None:
        """Look for a credential among the other users' credentials for the connector."""
        if not self.connector_id:
            return None
        try:
            for user in self._client.users.list():
                if not user.user_id or user.user_id == self.user_id:
                    continue
                listed = self._client.credentials.list(self.connector_id, user_id=user.user_id)
                for credential in listed:
                    if credential.credential_id == credential_id:
                        return credential
        except AlloyError:
            # Only a label is at stake: the id stays selectable as "not listed".
            return None
        return None

    def show_form(self) -> None:
        """Open the "new credential" form, fetching the connector's metadata the first time."""
        if not self.connector_id:
            show_error(self.status, "Choose a connector first.")
            return
        if self.metadata is None:
            try:
                self.metadata = self._client.credentials.metadata(self.connector_id)
            except AlloyError as error:
                show_error(self.status, error)
                return
            self.fields = {}
            rows = [widgets.HTML(f"<b>New credential</b> ({self.metadata.auth_type or 'auth'})")]
            for spec in self.metadata.fields:
                box_type = widgets.Password if spec.secret else widgets.Text
                box = box_type(
                    description=f"{spec.name} *" if spec.required else spec.name,
                    placeholder=spec.description or "",
                    tooltip=spec.description or spec.name,
                    style=_WIDE,
                )
                self.fields[spec.name] = box
                rows.append(box)
            self.form_fields.children = tuple(rows)
        _hidden(self.form, False)

    def create(self) -> Credential | None:
        """Create a credential from the form's fields (what the Create button does).

        Returns:
            The new credential, or None when a required field is empty or the API refused
            (the status line says why). For OAuth connectors the credential has ``oauth_url``
            and the link is shown; press Refresh (or call :meth:`refresh`) after authorising.
        """
        if self.metadata is None:
            self.show_form()
        if self.metadata is None or not self.connector_id:
            return None
        if not self.user_id:
            show_error(self.status, "Enter a user id first.")
            return None
        data = {name: box.value.strip() for name, box in self.fields.items() if box.value.strip()}
        missing = [f.name for f in self.metadata.fields if f.required and f.name not in data]
        if missing:
            show_error(self.status, f"Fill in the required fields first: {', '.join(missing)}.")
            return None
        known = {c.credential_id for c in self.credentials if c.credential_id}
        try:
            credential = self._client.credentials.create(
                self.connector_id,
                user_id=self.user_id,
                data=data,
                authentication_type=self.metadata.auth_type,
            )
        except AlloyError as error:
            show_error(self.status, error)
            return None
        for box in self.fields.values():
            if isinstance(box, widgets.Password):
                box.value = ""
        if credential.oauth_url:
            self._awaiting_authorization = known
            url = html.escape(credential.oauth_url, quote=True)
            self.oauth_link.value = (
                f'<a href="{url}" target="_blank" rel="noopener noreferrer">Authorise in a new '
                "tab</a>, then press Refresh."
            )
            _hidden(self.refresh_button, False)
            show_info(self.status, "")
            return credential
        _hidden(self.form, True)
        self.refresh(select=credential.credential_id)
        show_info(self.status, f"Created credential {credential.credential_id}.")
        return credential
