"""Durations as people write them: ``"1h"``, ``"30m"``, ``"2d"``, a ``timedelta`` or seconds."""

from __future__ import annotations

import datetime as dt
import math
import numbers
from typing import Any

from alloy_data.errors import ConfigurationError

__all__ = ["as_duration"]


def as_duration(value: Any, name: str) -> dt.timedelta:
    """Read a duration: a ``timedelta``, a number of seconds, or text ``pytimeparse`` reads
    (``"1h"``, ``"30m"``, ``"2d"``, ``"90s"``, ``"1.5h"``, ``"1 day 2 hours"``, ``"1w"``).

    Returns:
        The duration, 0 or more.

    Raises:
        ConfigurationError: The value is no duration, or is negative, naming ``name``.
    """
    duration: dt.timedelta | None = None
    if isinstance(value, dt.timedelta):
        duration = value
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        seconds = float(value)
        if math.isfinite(seconds) and abs(seconds) < dt.timedelta.max.total_seconds():
            duration = dt.timedelta(seconds=seconds)
    elif isinstance(value, str) and value.strip():
        from pytimeparse import parse

        text = value.strip()
        # pytimeparse reads units; a bare number is seconds, as a number argument is.
        parsed = parse(text) if not text.replace(".", "", 1).isdigit() else float(text)
        if parsed is not None and abs(parsed) < dt.timedelta.max.total_seconds():
            duration = dt.timedelta(seconds=parsed)
    if duration is None or duration < dt.timedelta(0):
        raise ConfigurationError(
            f'{name} must be a duration such as "1h", "30m", "2d" or "90s", a '
            f"datetime.timedelta, or a number of seconds, 0 or more; not {value!r}."
        )
    return duration
