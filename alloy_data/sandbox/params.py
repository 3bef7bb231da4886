"""Action parameters: their declaration and the checking of the values a caller sends."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from alloy_data.sandbox.errors import bad_request

_JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "object": dict,
    "array": list,
    "boolean": bool,
    "number": (int, float),
}


@dataclass(frozen=True)
class Param:
    """One parameter of an action.

    ``location`` is where the live API puts it: "query", "path", "header" or "body".
    """

    name: str
    type: str
    description: str
    required: bool = False
    location: str = "query"
    default: Any = None
    maximum: int | None = None
    minimum: int | None = None
    #: The 400 message for a value above ``maximum`` (``{name}``, ``{maximum}``, ``{value}``);
    #: None serves ``maximum`` instead, silently, as some apps do with page sizes.
    oversize_refusal: str | None = "parameter '{name}' must be at most {maximum} (got {value})"
    #: Whether the live schema shows ``maximum``; the contract's shape never does.
    declare_maximum: bool = True
    #: The 400 message for a value of the wrong type (``{name}``, ``{value}``), as the app
    #: words it; None for the generic one.
    type_refusal: str | None = None

    def seed_json(self) -> dict[str, Any]:
        """Return the contract's ActionParameter: name, type, required and description only.

        A default or a maximum is not part of the contract's object, so an app's limits are
        only in the description's words, as they are behind the real API.
        """
        return {
            "name": self.name,
            "type": self.type,
            "required": self.required,
            "description": self.description,
        }

    def schema(self) -> dict[str, Any]:
        """Return a JSON Schema for the parameter's value."""
        schema: dict[str, Any] = {"type": self.type}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None and self.declare_maximum:
            schema["maximum"] = self.maximum
        if self.default is not None:
            schema["default"] = self.default
        return schema

    def live_json(self) -> dict[str, Any]:
        """Return the live API's parameter shape: ``{name, in, required, description, schema}``."""
        return {
            "name": self.name,
            "in": self.location,
            "required": self.required,
            "description": self.description,
            "schema": self.schema(),
        }


def _coerce(param: Param, value: Any) -> Any:
    if param.type == "integer":
        # Query parameters arrive as strings in the live API, so "50" counts as 50.
        if isinstance(value, str) and value.strip().lstrip("-").isdigit() and value.isascii():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            if param.type_refusal is not None:
                raise bad_request(param.type_refusal.format(name=param.name, value=str(value)[:40]))
            raise bad_request(f"parameter '{param.name}' must be an integer, got {value!r:.40}")
        if param.minimum is not None and value < param.minimum:
            raise bad_request(f"parameter '{param.name}' must be at least {param.minimum}")
        if param.maximum is not None and value > param.maximum:
            if param.oversize_refusal is None:
                return param.maximum
            raise bad_request(
                param.oversize_refusal.format(name=param.name, maximum=param.maximum, value=value)
            )
        return value
    if param.type == "string" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    expected = _JSON_TYPES.get(param.type, object)
    if not isinstance(value, expected) or (param.type == "number" and isinstance(value, bool)):
        raise bad_request(f"parameter '{param.name}' must be of type {param.type}")
    if isinstance(value, str) and len(value) > 2048:
        raise bad_request(f"parameter '{param.name}' is too long")
    return value


def check_params(
    action_id: str, declared: tuple[Param, ...], values: Mapping[str, Any]
) -> dict[str, Any]:
    """Validate ``values`` against ``declared`` and fill in defaults.

    Args:
        action_id: The action, for error messages.
        declared: The action's parameters.
        values: What the caller sent; a None value counts as not sent.

    Returns:
        A dict with every declared parameter that has a value or a default, coerced to its type.

    Raises:
        ApiError: 400 naming the parameter that is unknown, missing, mistyped or out of range.
    """
    by_name = {param.name: param for param in declared}
    unknown = [name for name in values if name not in by_name]
    if unknown:
        unknown.sort()
        accepted = ", ".join(by_name) or "none"
        raise bad_request(
            f"unknown parameter '{unknown[0]:.60}' for action '{action_id}' (accepted: {accepted})"
        )
    checked: dict[str, Any] = {}
    for param in declared:
        value = values.get(param.name)
        if value is None:
            if param.required:
                raise bad_request(f"parameter '{param.name}' is required by '{action_id}'")
            if param.default is not None:
                checked[param.name] = param.default
            continue
        checked[param.name] = _coerce(param, value)
    return checked
