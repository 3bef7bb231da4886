"""What an action's metadata declares of its records: their JSON Schema and its columns."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alloy_data.models import Action

__all__ = ["record_schema", "schema_columns"]


def record_schema(action: Action) -> Mapping[str, Any]:
    """The JSON Schema of the action's records, as its metadata declares it (else empty)."""
    for key in ("responseSchema", "outputSchema", "recordSchema"):
        schema = action.raw.get(key)
        if isinstance(schema, Mapping):
            return schema
    return {}


def schema_columns(schema: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """Dotted column names of a JSON Schema's object properties, as frames flattens them."""
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return
    for name, child in properties.items():
        column = f"{prefix}{name}"
        if isinstance(child, Mapping) and isinstance(child.get("properties"), Mapping):
            yield from schema_columns(child, f"{column}.")
        else:
            yield column
