"""Finding the action parameter that filters records by the cursor field, and its format."""

from __future__ import annotations

import re
from dataclasses import dataclass

from alloy_data.incremental._moments import ValueFormat
from alloy_data.incremental._spec import Incremental
from alloy_data.models import Action, ActionParameter

# What a parameter is about, and words that make it a lower bound rather than an upper one.
_CHANGE_WORDS = ("updat", "modif", "edit", "chang", "sync")
_CREATION_WORDS = ("creat", "insert", "added")
_LOWER_BOUND = re.compile(
    r"(^|_)(since|after|min|from|start|gte|gt|begin|newer|ge|lower)(_|$)", re.IGNORECASE
)
_UPPER_BOUND = re.compile(r"(^|_)(max|before|until|lte|lt|end|to|upper|older)(_|$)", re.IGNORECASE)
_GENERIC_NAMES = {"since", "start_time", "start_date", "from", "filter", "start", "after"}
_DESCRIBED_BOUND = re.compile(
    r"\b(since|after|at or after|on or after|later than|newer than|from|greater than|>=?)\b",
    re.IGNORECASE,
)
_ISO_EXAMPLE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?(\.\d+)?(Z|[+-]\d{2}:?\d{2})?")


@dataclass(frozen=True)
class FilterParameter:
    """The parameter to send the high-water mark in, how to write it, and why it was chosen."""

    name: str
    value_format: ValueFormat
    reason: str


def _words(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", re.sub(r"([a-z])([A-Z])", r"\1_\2", text)).lower()


def _about_creation(text: str) -> bool:
    lowered = text.lower()
    return any(w in lowered for w in _CREATION_WORDS) and not any(
        w in lowered for w in _CHANGE_WORDS
    )


def _is_lower_bound(parameter: ActionParameter) -> bool:
    name = _words(parameter.name)
    if _UPPER_BOUND.search(name):
        return False
    description = parameter.description or ""
    subject = any(w in name for w in (*_CHANGE_WORDS, *_CREATION_WORDS, "last"))
    if subject and _LOWER_BOUND.search(name):
        return True
    if name in _GENERIC_NAMES or subject or _LOWER_BOUND.search(name):
        lowered = description.lower()
        described_subject = any(w in lowered for w in (*_CHANGE_WORDS, *_CREATION_WORDS))
        return described_subject and bool(_DESCRIBED_BOUND.search(description))
    return False


def value_format_of(parameter: ActionParameter | None) -> ValueFormat:
    """How a parameter wants a moment written, read from its type and description."""
    if parameter is None:
        return "iso-z"
    description = parameter.description or ""
    lowered = description.lower()
    if "millisecond" in lowered:
        return "epoch_ms"
    if any(w in lowered for w in ("unix", "epoch", "seconds since", "posix")) or (
        parameter.type or ""
    ).lower() in ("integer", "number", "int", "long"):
        return "epoch"
    example = _ISO_EXAMPLE.search(description)
    if example:
        offset = example.group(3)
        return "iso" if offset and offset not in ("Z",) else "iso-z"
    if "yyyy-mm-dd" in lowered and "hh" not in lowered:
        return "date"
    return "iso-z"


def find_filter_parameter(action: Action, incremental: Incremental) -> FilterParameter | None:
    """The action's parameter that returns only records whose cursor is at or after a value.

    A parameter given as ``Incremental(parameter=...)`` is used as it is. Otherwise a
    parameter is chosen when its name or description says it is a lower bound on the time
    records changed (``updated_since``, ``updated_at_min``, ``modified_after``, ``since``,
    ``start_time``, ``created[gte]``, ...), and it is about creation only when the cursor
    field is too (a creation filter would miss updates).

    Returns:
        The parameter and its value format, or None when the action has none.
    """
    if incremental.parameter is not None:
        declared = action.parameter(incremental.parameter)
        value_format = incremental.value_format or value_format_of(declared)
        return FilterParameter(
            incremental.parameter, value_format, f"{incremental.parameter!r} was given"
        )
    cursor_is_creation = _about_creation(incremental.cursor_field)
    found: list[ActionParameter] = []
    for parameter in action.parameters:
        if parameter.required or not _is_lower_bound(parameter):
            continue
        text = f"{parameter.name} {parameter.description or ''}"
        if _about_creation(text) and not cursor_is_creation:
            continue
        found.append(parameter)
    if not found:
        return None
    # A name that says it all beats one that needed its description.
    found.sort(key=lambda p: _words(p.name) in _GENERIC_NAMES)
    chosen = found[0]
    value_format = incremental.value_format or value_format_of(chosen)
    return FilterParameter(
        chosen.name,
        value_format,
        f"the action's parameter {chosen.name!r} filters by the time records changed",
    )
