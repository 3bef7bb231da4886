"""Which stored copies go to keep the store within an age and a size."""

from __future__ import annotations

import datetime as dt
import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from alloy_data._durations import as_duration
from alloy_data.errors import ConfigurationError

if TYPE_CHECKING:
    from alloy_data.store._store import StoredCopy

__all__ = ["over_limits"]


def over_limits(
    copies: Sequence[StoredCopy], *, older_than: Any = None, max_bytes: Any = None
) -> list[StoredCopy]:
    """The copies to drop: those older than ``older_than``, then the oldest of the rest until
    they hold at most ``max_bytes``.

    Raises:
        ConfigurationError: A limit is not a duration or a whole number of bytes.
    """
    if max_bytes is not None and (
        isinstance(max_bytes, bool) or not isinstance(max_bytes, numbers.Integral) or max_bytes < 0
    ):
        raise ConfigurationError(
            f"max_bytes must be a whole number of bytes, 0 or more, or None; not {max_bytes!r}."
        )
    now = dt.datetime.now(dt.timezone.utc)
    drop: list[StoredCopy] = []
    kept = sorted(copies, key=lambda copy: copy.order, reverse=True)
    if older_than is not None:
        oldest = as_duration(older_than, "older_than")
        drop = [copy for copy in kept if copy.age(now) > oldest]
        kept = [copy for copy in kept if copy.age(now) <= oldest]
    if max_bytes is not None:
        limit = int(max_bytes)
        total = sum(copy.bytes for copy in kept)
        for copy in reversed(kept):  # the oldest first
            if total <= limit:
                break
            drop.append(copy)
            total -= copy.bytes
    return drop
