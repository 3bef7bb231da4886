"""A list action's records as one credential sees them, and how the clock changed them."""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Any

from alloy_data.sandbox.catalog import Resource
from alloy_data.sandbox.records import RecordSource


@dataclass
class Listing:
    """A resource's records as served: the source, how many there are and what changed.

    Attributes:
        resource: The resource (its actions, paging convention, order and time fields).
        source: Generates and encodes the records; its ``ids`` are the ids served.
        total: How many records the list action serves now (generated and inserted).
        created: Records made by the ``create-*`` action, by id, encoded.
        scope: Binds cursors and cached pages to these records (``connector/resource``, and
            the credential for a tenant's own records).
        base_total: How many records were generated before the clock first moved; records
            from ``base_total`` on were inserted by ticks.
        applied: How many of the clock's ticks these records have taken.
        touched: The update time (epoch seconds) of every record a tick updated or inserted.
        inserted: The creation time of every inserted record, by index.
        versions: How many times a tick updated each record, by index.
        views: Orders and filters of the records, cached for the current tick.
        base_times: The generated records' ``(created, updated)`` times, made on first use.
    """

    resource: Resource
    source: RecordSource
    total: int
    created: dict[str, bytes] = field(default_factory=dict)
    scope: str = ""
    base_total: int = -1
    applied: int = 0
    touched: dict[int, int] = field(default_factory=dict)
    inserted: dict[int, int] = field(default_factory=dict)
    versions: dict[int, int] = field(default_factory=dict)
    views: dict[Any, Any] = field(default_factory=dict)
    base_times: tuple[array[int], array[int]] | None = None

    def __post_init__(self) -> None:
        if self.base_total < 0:
            self.base_total = self.total
