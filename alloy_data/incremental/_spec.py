"""What an incremental pull is told: which field moves forward, and what identifies a record."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from alloy_data.errors import ConfigurationError
from alloy_data.incremental._moments import ValueFormat, check_value_format, parse_moment


class IncrementalWarning(UserWarning):
    """An incremental pull could not narrow what it fetched and read every page instead."""


@dataclass(frozen=True)
class Incremental:
    """How to fetch only what changed since the last run.

    Args:
        cursor_field: The field that grows when a record is created or changed, such as
            ``"updated_at"``; a dotted path reaches into nested objects
            (``"properties.updatedAt"``). Its values may be ISO-8601 text, epoch seconds or
            milliseconds, or ``/Date(...)/``.
        primary_key: The field (or fields) that identify a record, for ``mode="merge"``.
        parameter: The action's parameter that filters by the cursor field (such as
            ``"updated_at_min"``). By default it is found from the action's parameter names
            and descriptions.
        start: The lower bound of the first run (a ``datetime``, ISO-8601 text or epoch
            seconds); by default the first run fetches everything.
        lookback: A margin taken off the last high-water mark, for clocks that differ and
            writes that land late: a ``timedelta`` or seconds (default none).
        value_format: How to write the mark into ``parameter``: ``"iso"``
            (``2026-11-30T10:00:00+00:00``), ``"iso-z"`` (``...Z``), ``"date"``,
            ``"epoch"`` (seconds), ``"epoch_ms"``, or a function of a UTC ``datetime``.
            By default it is read from the parameter's type and description.

    Raises:
        ConfigurationError: For an empty field name, an unparseable ``start``, a negative
            ``lookback`` or an unknown ``value_format``.
    """

    cursor_field: str
    primary_key: str | Sequence[str] | None = None
    parameter: str | None = None
    start: Any = None
    lookback: timedelta | float | None = None
    value_format: ValueFormat | None = None
    _keys: tuple[str, ...] = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        if not isinstance(self.cursor_field, str) or not self.cursor_field.strip():
            raise ConfigurationError(
                "Incremental needs cursor_field: the name of the field that grows when a record "
                "changes, such as 'updated_at' (a dotted path like 'properties.updatedAt' "
                "reaches nested fields)."
            )
        keys = _key_names(self.primary_key)
        object.__setattr__(self, "_keys", keys)
        if self.parameter is not None and (
            not isinstance(self.parameter, str) or not self.parameter
        ):
            raise ConfigurationError(
                f"parameter must be the name of the action's filter parameter, not "
                f"{self.parameter!r}."
            )
        if self.start is not None and parse_moment(self.start) is None:
            raise ConfigurationError(
                f"start={self.start!r} is not a moment: give a datetime, ISO-8601 text such as "
                "'2026-01-01T00:00:00Z', or epoch seconds."
            )
        if self.lookback_seconds < 0:
            raise ConfigurationError(
                "lookback must be zero or more: a timedelta or a number of seconds."
            )
        check_value_format(self.value_format)

    @property
    def keys(self) -> tuple[str, ...]:
        """The primary key's column names (empty when none was given)."""
        return self._keys

    @property
    def lookback_seconds(self) -> float:
        """``lookback`` in seconds."""
        lookback = self.lookback
        if lookback is None:
            return 0.0
        if isinstance(lookback, timedelta):
            return lookback.total_seconds()
        if isinstance(lookback, bool) or not isinstance(lookback, (int, float)):
            raise ConfigurationError(
                f"lookback must be a timedelta or a number of seconds, not {lookback!r}."
            )
        return float(lookback)

    @property
    def start_seconds(self) -> float | None:
        """``start`` as seconds since the epoch, or None."""
        return parse_moment(self.start)


def _key_names(primary_key: Any) -> tuple[str, ...]:
    if primary_key is None:
        return ()
    names = (primary_key,) if isinstance(primary_key, str) else tuple(primary_key)
    if not names or not all(isinstance(name, str) and name for name in names):
        raise ConfigurationError(
            f"primary_key must be a field name or a list of them, not {primary_key!r}."
        )
    return names


def check_incremental(value: Any) -> Incremental | None:
    """``value`` if it is an :class:`Incremental` (or None); else a ConfigurationError."""
    if value is None or isinstance(value, Incremental):
        return value
    raise ConfigurationError(
        f"incremental must be alloy_data.Incremental(cursor_field=..., primary_key=...), not "
        f"{type(value).__name__}."
    )
