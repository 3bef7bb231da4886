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

    def seed_json(self) -> dict[str, Any]:
        """Return the contract's ActionParameter, with ``default``/``maximum`` when set."""
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "required": self.required,
            "description": self.description,
        }
        if self.default is not None:
            out["default"] = self.default
        if self.maximum is not None:
            out["maximum"] = self.maximum
        return out

    def schema(self) -> dict[str, Any]:
        """Return a JSON Schema for the parameter's value."""
        schema: dict[str, Any] = {"type": self.type}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
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
            raise bad_request(f"parameter '{param.name}' must be an integer, got {value!r:.40}")
        if param.minimum is not None and value < param.minimum:
            raise bad_request(f"parameter '{param.name}' must be at least {param.minimum}")
        if param.maximum is not None and value > param.maximum:
            raise bad_request(
                f"parameter '{param.name}' must be at most {param.maximum} (got {value})"
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
