"""The sandbox's clock: the current time and the ticks that moved it.

Each tick says how far the clock moved and how many records each list changes (a share of its
count or a number). Lists replay the ticks they have not seen when they are next asked for, so
a tick costs nothing for the records of credentials nobody pulls, and what a list looks like
depends only on the seed and the ticks, never on the order in which lists were asked for.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

Amount = int | float


def check_amount(name: str, value: object) -> Amount:
    """Return ``value`` after checking it is a share (a float from 0 to below 1) or a count.

    Raises:
        TypeError: For anything but an int or a float.
        ValueError: For a negative value or a float of 1 or more.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"{name} must be a share of each list's records (a float below 1) or a count "
            f"(an int), got {value!r}"
        )
    if value < 0:
        raise ValueError(f"{name} must be at least 0, got {value!r}")
    if isinstance(value, float) and value >= 1:
        raise ValueError(
            f"{name} as a float is a share of each list's records and must be below 1, got "
            f"{value!r}; pass an int for a number of records"
        )
    return value


def how_many(amount: Amount, count: int) -> int:
    """Return how many of ``count`` records ``amount`` (a share or a number) stands for."""
    if isinstance(amount, float):
        return min(count, round(amount * count))
    return min(count, amount)


@dataclass(frozen=True)
class Tick:
    """One move of the clock: from ``start`` (exclusive) to ``end`` (inclusive)."""

    number: int
    start: int
    end: int
    updates: Amount
    inserts: Amount


@dataclass(frozen=True)
class Changes:
    """How many records of one list action a tick updated and inserted."""

    updated: int
    inserted: int


@dataclass(frozen=True)
class ClockTick:
    """What :meth:`Sandbox.advance_clock` did.

    Attributes:
        tick: The tick's number (1 for the first).
        previous: The time before the tick, epoch seconds.
        now: The time after it, epoch seconds.
        changes: Per ``(connector id, action id)``, what changed in the records the fixture
            credentials see. Tenants' credentials change by the same rule, each by the share
            (or number) of its own records, when they are next asked for.
    """

    tick: int
    previous: int
    now: int
    changes: dict[tuple[str, str], Changes] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Return the summary as JSON-ready data (what the admin endpoint answers)."""
        return {
            "tick": self.tick,
            "previous": self.previous,
            "now": self.now,
            "changes": [
                {
                    "connectorId": connector_id,
                    "actionId": action_id,
                    "updated": change.updated,
                    "inserted": change.inserted,
                }
                for (connector_id, action_id), change in self.changes.items()
            ],
        }


class Clock:
    """The current time and every tick so far; ``lock`` makes a tick and a page exclusive."""

    def __init__(self, start: int) -> None:
        self.start = start
        self.now = start
        self.ticks: list[Tick] = []
        self.lock = threading.RLock()

    @property
    def tick(self) -> int:
        """How many ticks there have been."""
        return len(self.ticks)

    def advance(self, seconds: int, updates: Amount, inserts: Amount) -> Tick:
        """Move the clock ``seconds`` ahead and return the tick (call with ``lock`` held).

        Raises:
            TypeError: For a non-integer ``seconds`` or amounts of the wrong kind.
            ValueError: For ``seconds`` below 1 or amounts out of range.
        """
        if isinstance(seconds, bool) or not isinstance(seconds, int):
            raise TypeError(f"seconds must be an int, got {seconds!r}")
        if seconds < 1:
            raise ValueError(f"seconds must be at least 1, got {seconds}")
        tick = Tick(
            len(self.ticks) + 1,
            self.now,
            self.now + seconds,
            check_amount("updates", updates),
            check_amount("inserts", inserts),
        )
        self.ticks.append(tick)
        self.now = tick.end
        return tick
