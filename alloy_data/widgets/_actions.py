"""``ActionPicker``: a connector's actions, and a form for the chosen action's parameters."""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import traitlets

from alloy_data.errors import AlloyError, ConfigurationError
from alloy_data.widgets._base import ChoiceWidget, show_error, show_info

if TYPE_CHECKING:
    from alloy_data.client import AlloyClient
    from alloy_data.models import Action, ActionParameter, Resource

__all__ = ["PAGING_PARAMETERS", "ActionPicker"]

#: Parameter names the paginator sets page after page, so the form leaves them out.
PAGING_PARAMETERS = frozenset(
    {
        "after",
        "before",
        "cursor",
        "ending_before",
        "first",
        "last",
        "limit",
        "offset",
        "page",
        "pageSize",
        "pageToken",
        "page_size",
        "page_token",
        "per_page",
        "start_cursor",
        "starting_after",
    }
)

_WIDE = {"description_width": "initial"}
_JSON_TYPES = ("object", "array")


def _verb(resource: Resource, name: str) -> str:
    # Servers that list full ids ("list-orders") read better as "Orders: list".
    suffix = f"-{resource.resource_id}"
    return name[: -len(suffix)] if name.endswith(suffix) and len(name) > len(suffix) else name


def _field_for(parameter: ActionParameter) -> widgets.ValueWidget:
    label = f"{parameter.name} *" if parameter.required else parameter.name
    common: dict[str, Any] = {
        "description": label,
        "tooltip": parameter.description or parameter.name,
        "style": _WIDE,
    }
    kind = (parameter.type or "string").lower()
    default = parameter.default
    if kind == "integer":
        start = default if isinstance(default, int) and not isinstance(default, bool) else 0
        return widgets.IntText(value=start, **common)
    if kind == "number":
        number = float(default) if isinstance(default, (int, float)) else 0.0
        return widgets.FloatText(value=number, **common)
    if kind == "boolean":
        return widgets.Checkbox(value=bool(default), indent=False, **common)
    if kind in _JSON_TYPES:
        text = json.dumps(default) if default is not None else ""
        return widgets.Text(value=text, placeholder=f"JSON {kind}", **common)
    return widgets.Text(value="" if default is None else str(default), **common)


class ActionPicker(ChoiceWidget):
    """Choose one of a connector's actions and fill in its parameters.

    Setting ``connector_id`` lists the connector's resources and their actions (labels such as
    ``"Orders: list"``, values such as ``"list-orders"``) and selects a list action. Choosing
    an action fetches its parameters and builds the form: a number box for integers and
    numbers, a checkbox for booleans, a text box otherwise (JSON for objects and arrays);
    required parameters are marked with ``*`` and descriptions show beside each box. Paging
    parameters (``limit``, ``after``, ``page``, ...) are left to the paginator.

    Args:
        client: The client to list actions and fetch their parameters with.
        connector_id: The connector whose actions to list.

    Attributes:
        value: The chosen action id, or None.
        connector_id: The connector (a trait: setting it lists the actions again).
        resources: The connector's resources, as listed last.
        action: The chosen action's metadata, or None.
        fields: The form's input widgets by parameter name.
        paging_parameters: The chosen action's parameters left to the paginator.
        form: The parameter form (a VBox).
        status: The status line, where errors show.
    """

    connector_id = traitlets.Unicode(None, allow_none=True, help="The connector id.")

    def __init__(self, client: AlloyClient, connector_id: str | None = None) -> None:
        super().__init__("Action")
        self._client = client
        self.resources: list[Resource] = []
        self.action: Action | None = None
        self.fields: dict[str, widgets.ValueWidget] = {}
        self.paging_parameters: tuple[str, ...] = ()
        self._changed_fields: set[str] = set()
        self._details: dict[tuple[str, str], Action] = {}
        self.form = widgets.VBox()
        self.children = (self.dropdown, self.form, self.status)
        self.connector_id = connector_id

    @traitlets.validate("value")
    def _check_value(self, proposal: dict[str, Any]) -> str | None:
        value: str | None = proposal["value"]
        known = [action_id for _, action_id in self.options]
        if value is not None and value not in known:
            raise traitlets.TraitError(
                f"{value!r} is not an action of {self.connector_id!r}; choose one of {known}."
            )
        return value

    @traitlets.observe("connector_id")
    def _connector_changed(self, change: dict[str, Any]) -> None:
        self.refresh()

    def refresh(self) -> None:
        """List the connector's actions again and rebuild the form of the chosen one."""
        self.resources = []
        if self.connector_id:
            try:
                self.resources = self._client.connectors.resources(self.connector_id)
            except AlloyError as error:
                show_error(self.status, error)
            else:
                show_info(self.status, "")
        options = [
            (f"{resource.name or resource.resource_id}: {_verb(resource, name)}", action_id)
            for resource in self.resources
            for name, action_id in zip(resource.actions, resource.action_ids, strict=True)
        ]
        ids = [action_id for _, action_id in options]
        chosen: str | None
        if self.value in ids:
            chosen = self.value
        else:
            listing = [i for i in ids if i.startswith("list")]
            chosen = (listing or ids)[0] if ids else None
        self._show_choices(options, chosen)
        if chosen == self.value:
            # Another connector may have an action of the same id; its form differs.
            self._selected(chosen)
        else:
            self.value = chosen

    def _selected(self, value: str | None) -> None:
        self.action = None
        if value is not None and self.connector_id:
            key = (self.connector_id, value)
            try:
                if key not in self._details:
                    self._details[key] = self._client.actions.get(self.connector_id, value)
            except AlloyError as error:
                show_error(self.status, error)
            else:
                self.action = self._details[key]
                show_info(self.status, "")
        self._build_form()

    def _build_form(self) -> None:
        self.fields = {}
        self._changed_fields = set()
        parameters = self.action.parameters if self.action is not None else ()
        self.paging_parameters = tuple(p.name for p in parameters if p.name in PAGING_PARAMETERS)
        rows: list[widgets.Widget] = []
        if self.action is not None and self.action.description:
            rows.append(widgets.HTML(f"<i>{html.escape(self.action.description)}</i>"))
        for parameter in parameters:
            if parameter.name in PAGING_PARAMETERS:
                continue
            box = _field_for(parameter)
            box.observe(
                lambda _change, name=parameter.name: self._changed_fields.add(name), names="value"
            )
            self.fields[parameter.name] = box
            note = widgets.HTML(f"<small>{html.escape(parameter.description or '')}</small>")
            rows.append(widgets.HBox([box, note]))
        if self.paging_parameters:
            names = ", ".join(self.paging_parameters)
            rows.append(widgets.HTML(f"<small>Paging ({html.escape(names)}) is automatic.</small>"))
        self.form.children = tuple(rows)

    @property
    def parameters(self) -> dict[str, Any]:
        """The form's values, ready for ``client.pull(parameters=...)``.

        Empty text boxes are left out, and so are number boxes and checkboxes nobody changed
        (unless required: the server applies its defaults). JSON boxes are parsed.

        Returns:
            Parameter names to values.

        Raises:
            ConfigurationError: A JSON box does not hold valid JSON.
        """
        if self.action is None:
            return {}
        values: dict[str, Any] = {}
        for parameter in self.action.parameters:
            box = self.fields.get(parameter.name)
            if box is None:
                continue
            if isinstance(box, widgets.Text):
                text = box.value.strip()
                if text:
                    values[parameter.name] = _parse_text(parameter, text)
            elif parameter.required or parameter.name in self._changed_fields:
                values[parameter.name] = box.value
        return values


def _parse_text(parameter: ActionParameter, text: str) -> Any:
    if (parameter.type or "").lower() not in _JSON_TYPES:
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigurationError(
            f"Parameter {parameter.name!r} takes JSON ({parameter.type}); {text!r} is not valid "
            f'JSON ({error.msg}). Write it like {{"key": "value"}} or [1, 2].'
        ) from None
