"""The cursor and key fields of an incremental pull, checked against the records of its first
page: a field that no record has would leave the mark unset and every record kept, and an
update that matches no key."""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from alloy_data.errors import ConfigurationError
from alloy_data.incremental._spec import Incremental

__all__ = ["check_record_fields"]

# Nested objects are looked into this deep for the names to suggest.
_DEPTH = 3


def _has(record: Mapping[str, Any], path: str) -> bool:
    """Whether ``record`` has the field at ``path`` (a dotted path reaches nested objects),
    whatever its value."""
    if path in record:
        return True
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return False
        value = value[part]
    return True


def _paths(record: Mapping[str, Any], prefix: str = "", depth: int = 0) -> Iterator[str]:
    for key, value in record.items():
        path = f"{prefix}{key}"
        yield path
        if isinstance(value, Mapping) and depth < _DEPTH:
            yield from _paths(value, f"{path}.", depth + 1)


def _closest(name: str, present: Sequence[str]) -> list[str]:
    folded = name.replace("_", "").replace(".", "").lower()
    same = [p for p in present if p.replace("_", "").replace(".", "").lower() == folded]
    alike = difflib.get_close_matches(name, present, n=3, cutoff=0.6)
    return list(dict.fromkeys([*same, *alike]))[:3]


def check_record_fields(records: Sequence[Any], incremental: Incremental) -> None:
    """Refuse an incremental setup whose cursor field, or a primary key field, no record of
    ``records`` (the first page that has any) has.

    Raises:
        ConfigurationError: Naming the closest fields the records do have, and the
            ``Incremental(...)`` that fits.
    """
    dicts = [record for record in records if isinstance(record, Mapping)]
    if not dicts:
        return
    wanted = [("cursor_field", incremental.cursor_field)]
    wanted += [("primary_key", key) for key in incremental.keys]
    missing = [(what, name) for what, name in wanted if not any(_has(r, name) for r in dicts)]
    if not missing:
        return
    present = list(dict.fromkeys(path for record in dicts for path in _paths(record)))
    fixes: dict[str, Any] = {
        "cursor_field": incremental.cursor_field,
        "primary_key": incremental.primary_key,
    }
    told = []
    for what, name in missing:
        closest = _closest(name, present)
        guess = f" (closest: {', '.join(map(repr, closest))})" if closest else ""
        told.append(f"{what} {name!r}{guess}")
        if closest and what == "cursor_field":
            fixes["cursor_field"] = closest[0]
        elif closest:
            keys = list(incremental.keys)
            keys[keys.index(name)] = closest[0]
            fixes["primary_key"] = keys[0] if len(keys) == 1 else keys
    shown = ", ".join(present[:20]) + (", ..." if len(present) > 20 else "")
    key = "" if fixes["primary_key"] is None else f", primary_key={fixes['primary_key']!r}"
    fix = f"Incremental(cursor_field={fixes['cursor_field']!r}{key}, ...)"
    harm = []
    if any(what == "cursor_field" for what, _ in missing):
        harm.append("no high-water mark could be kept")
    if any(what == "primary_key" for what, _ in missing):
        harm.append("no update could be matched to the record it replaces")
    raise ConfigurationError(
        f"No record of the first page has the Incremental's {' or '.join(told)}, so "
        f"{' and '.join(harm)}; the rest was not fetched. The records have: {shown}. Build the "
        f"pull with {fix}, naming fields the records have (a dotted path such as "
        "'properties.updatedAt' reaches nested fields)."
    )
