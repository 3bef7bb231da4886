"""Guessing an incremental setup from a table's columns, for front ends that ask nothing."""

from __future__ import annotations

from collections.abc import Iterable

from alloy_data.incremental._spec import Incremental

# Most telling first: a field that moves on every change beats one set at creation.
_CURSOR_NAMES = (
    "updated_at",
    "updatedAt",
    "updated",
    "modified_at",
    "modifiedAt",
    "last_modified",
    "lastModified",
    "last_edited_time",
    "UpdatedDateUTC",
    "MetaData.LastUpdatedTime",
    "properties.lastmodifieddate",
    "properties.hs_lastmodifieddate",
    "created_at",
    "createdAt",
    "created",
)
_KEY_NAMES = ("id", "Id", "ID", "uuid", "gid", "key")


def guess_incremental(columns: Iterable[str]) -> Incremental | None:
    """An :class:`Incremental` from well-known column names, or None when none fits.

    The cursor is the first of ``updated_at``, ``updatedAt``, ``modified_at``,
    ``last_edited_time``, ``UpdatedDateUTC``, ``MetaData.LastUpdatedTime``, ... (then creation
    times) that the table has, and the key the first of ``id``, ``Id``, ``uuid``, ... .
    """
    present = set(columns)
    cursor = next((name for name in _CURSOR_NAMES if name in present), None)
    key = next((name for name in _KEY_NAMES if name in present), None)
    if cursor is None or key is None:
        return None
    return Incremental(cursor, primary_key=key)
