"""Moments in time as apps write them: ISO-8601 text, epoch numbers, Microsoft JSON dates.

Every moment is handled as float seconds since the epoch, UTC, so that values written with
different offsets or units compare correctly.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date, datetime, timezone
from typing import Any, Literal, Union

from alloy_data.errors import ConfigurationError

ValueFormat = Union[  # noqa: UP007 - an alias evaluated at import, on Python 3.10 too
    Literal["iso", "iso-z", "date", "epoch", "epoch_ms"], Callable[[datetime], Any]
]
VALUE_FORMATS = ("iso", "iso-z", "date", "epoch", "epoch_ms")

# Numbers above this are taken as milliseconds: 1e11 seconds is the year 5138.
_MILLISECONDS_FROM = 1e11
_MS_JSON_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


def parse_moment(value: Any) -> float | None:
    """Seconds since the epoch (UTC) for a timestamp as an app sends it, or None.

    Accepts ISO-8601 text (with ``Z``, an offset, or none: taken as UTC), a date, epoch
    seconds or milliseconds (told apart by size), ``/Date(1700000000000+0000)/`` and
    ``datetime``/``pandas.Timestamp`` objects. Anything else (None, empty, unparseable) is None.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
        if math.isnan(number) or math.isinf(number):
            return None
        return number / 1000 if abs(number) >= _MILLISECONDS_FROM else number
    if isinstance(value, datetime):
        return _aware(value).timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc).timestamp()
    if isinstance(value, str):
        return _parse_text(value.strip())
    to_pydatetime = getattr(value, "to_pydatetime", None)  # pandas.Timestamp, numpy datetime64
    if callable(to_pydatetime):
        return parse_moment(to_pydatetime())
    return None


def _parse_text(text: str) -> float | None:
    if not text:
        return None
    match = _MS_JSON_DATE.match(text)
    if match:
        return int(match.group(1)) / 1000
    if text.lstrip("-").replace(".", "", 1).isdigit():
        return parse_moment(float(text))
    candidate = text[:-1] + "+00:00" if text[-1] in "Zz" else text
    try:
        return _aware(datetime.fromisoformat(candidate)).timestamp()
    except ValueError:
        pass
    # fromisoformat before Python 3.11 takes neither 'Z' nor fractions other than 3 or 6 digits.
    trimmed = re.sub(r"(\.\d{1,6})\d*", r"\1", candidate)
    trimmed = re.sub(r"\.(\d{1,5})(?=[+-]|$)", lambda m: "." + m.group(1).ljust(6, "0"), trimmed)
    try:
        return _aware(datetime.fromisoformat(trimmed)).timestamp()
    except ValueError:
        return None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def to_datetime(seconds: float) -> datetime:
    """The UTC ``datetime`` of ``seconds`` since the epoch."""
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def to_iso(seconds: float) -> str:
    """``seconds`` since the epoch as ISO-8601 UTC text with microseconds (``...Z``)."""
    return to_datetime(seconds).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def check_value_format(value_format: Any) -> ValueFormat | None:
    """``value_format`` if it is a known name or a callable (or None); else ConfigurationError."""
    if value_format is None or callable(value_format) or value_format in VALUE_FORMATS:
        return value_format
    raise ConfigurationError(
        f"Unknown value_format {value_format!r}: use one of {', '.join(VALUE_FORMATS)}, or a "
        "function that takes a UTC datetime and returns the value to send."
    )


def format_moment(seconds: float, value_format: ValueFormat) -> Any:
    """``seconds`` since the epoch as a filter parameter's value, rounded down.

    Rounding down keeps the filter inclusive of the moment itself, so that a record written in
    the same second as the last one seen is fetched again rather than missed.
    """
    whole = math.floor(seconds)
    moment = to_datetime(whole)
    if callable(value_format):
        return value_format(moment)
    if value_format == "epoch":
        return whole
    if value_format == "epoch_ms":
        return whole * 1000
    if value_format == "date":
        return moment.strftime("%Y-%m-%d")
    if value_format == "iso-z":
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%S+00:00")
