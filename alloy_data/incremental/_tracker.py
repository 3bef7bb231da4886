"""Following one incremental run page by page: the mark, the order, what to keep, when to stop."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alloy_data._tuning import ORDER_EVIDENCE
from alloy_data.incremental._moments import parse_moment
from alloy_data.incremental._spec import Incremental


def cursor_value(record: Mapping[str, Any], path: str) -> Any:
    """The value at ``path`` in ``record`` (a dotted path reaches nested objects), or None."""
    if path in record:
        return record[path]
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


class IncrementalRun:
    """What one run of an incremental pull has seen.

    Args:
        incremental: The pull's settings.
        since: The lower bound of this run (seconds since the epoch, lookback already taken
            off), or None to keep everything.
        may_stop: Whether the run may end early once records come newest first and go past
            ``since`` (not when the app already filters them).
    """

    def __init__(self, incremental: Incremental, since: float | None, *, may_stop: bool) -> None:
        self.incremental = incremental
        self.since = since
        self.may_stop = may_stop
        self.mark: float | None = None
        self.kept = 0
        self.dropped = 0
        self.undated = 0
        self.stopped_early = False
        self._descending = True
        self._evidence = 0
        self._previous: float | None = None

    @property
    def newest_first(self) -> bool:
        """Whether every record so far came in order of the cursor field, newest first."""
        return self._descending and self._evidence >= ORDER_EVIDENCE

    def page(self, records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
        """The records of a page to keep, and whether the pages after it can be skipped."""
        path = self.incremental.cursor_field
        since = self.since
        kept: list[dict[str, Any]] = []
        last: float | None = None
        for record in records:
            value = cursor_value(record, path) if isinstance(record, Mapping) else None
            moment = parse_moment(value)
            if moment is None:
                self.undated += 1
                kept.append(record)
                continue
            if self.mark is None or moment > self.mark:
                self.mark = moment
            if self._previous is not None:
                if moment > self._previous:
                    self._descending = False
                elif moment < self._previous:
                    self._evidence += 1
            self._previous = moment
            last = moment
            if since is None or moment >= since:
                kept.append(record)
            else:
                self.dropped += 1
        self.kept += len(kept)
        stop = (
            self.may_stop
            and since is not None
            and last is not None
            and last < since
            and self.newest_first
        )
        if stop:
            self.stopped_early = True
        return kept, stop
