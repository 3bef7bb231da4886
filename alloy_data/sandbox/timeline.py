"""How the clock's ticks change a listing's records, and the orders and filters it serves.

Call these with the clock's lock held. A tick updates a share (or a number) of a listing's
records, drawn from the seed, the listing and the tick's number, and inserts new ones after
the last; a record a tick touched is generated as before and then stamped with its new times
and edits. Views (the record indexes a request serves, in order) are cached per tick and
filter, so a filtered pull of 100,000 records sorts and scans once.
"""

from __future__ import annotations

import random
from array import array
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

from alloy_data.sandbox.clock import Changes, Tick, how_many
from alloy_data.sandbox.listings import Listing
from alloy_data.sandbox.records import encode

#: Sort keys of "updated_desc" views pack the time above the record index.
_INDEX_BITS = 40
_INDEX_MASK = (1 << _INDEX_BITS) - 1
#: Views kept per listing and tick (a view of 100,000 records takes about a megabyte).
_MAX_VIEWS = 8


@dataclass(frozen=True)
class View:
    """The records one request serves.

    Attributes:
        indexes: Record indexes in serving order.
        keys: For newest-first orders, a descending cursor key per position (a later page
            starts after the last key served, wherever records moved in between); None for
            views in ascending index order, whose cursor key is the next record's index.
    """

    indexes: Sequence[int]
    keys: Sequence[int] | None = None


def catch_up(listing: Listing, ticks: Sequence[Tick], seed: int) -> list[Changes]:
    """Apply the ticks ``listing`` has not taken yet and return what each changed."""
    done = []
    while listing.applied < len(ticks):
        done.append(_apply(listing, ticks[listing.applied], seed))
        listing.applied += 1
        listing.views.clear()
    return done


def _moments(rng: random.Random, tick: Tick, count: int, granularity: int) -> list[int]:
    """Return ``count`` sorted moments in ``(tick.start, tick.end]``, on the app's grain."""
    low = (tick.start // granularity + 1) * granularity
    high = tick.end // granularity * granularity
    if low > high:
        # A tick shorter than the app's grain: the app shows the grain's start.
        return [tick.end] * count
    steps = (high - low) // granularity + 1
    return sorted(low + rng.randrange(steps) * granularity for _ in range(count))


def _apply(listing: Listing, tick: Tick, seed: int) -> Changes:
    fields = listing.resource.times
    if fields is None:
        return Changes(0, 0)
    count = listing.total
    rng = random.Random(f"{seed}:{listing.scope}:tick:{tick.number}")
    updates = how_many(tick.updates, count) if fields.editable else 0
    inserts = tick.inserts if isinstance(tick.inserts, int) else round(tick.inserts * count)
    chosen = rng.sample(range(count), updates) if updates else []
    for index, moment in zip(chosen, _moments(rng, tick, updates, fields.granularity), strict=True):
        listing.versions[index] = listing.versions.get(index, 0) + 1
        listing.touched[index] = moment
    for offset, moment in enumerate(_moments(rng, tick, inserts, fields.granularity)):
        listing.inserted[count + offset] = moment
        listing.touched[count + offset] = moment
    listing.total = count + inserts
    return Changes(updates, inserts)


def record(listing: Listing, index: int) -> dict[str, object]:
    """Return record ``index`` as it is now (with the ticks' edits)."""
    value = listing.source.record(index)
    moment = listing.touched.get(index)
    fields = listing.resource.times
    if moment is not None and fields is not None:
        fields.stamp(value, listing.inserted.get(index), moment, listing.versions.get(index, 0))
    return value


def encoded(listing: Listing, index: int) -> bytes:
    """Return record ``index`` as it is now, encoded."""
    if index in listing.touched:
        return encode(record(listing, index))
    return listing.source.encoded(index)


def _base_times(listing: Listing) -> tuple[array[int], array[int]]:
    """The generated records' creation and update times, read once from the records."""
    if listing.base_times is None:
        fields = listing.resource.times
        assert fields is not None
        created: array[int] = array("q")
        updated: array[int] = array("q")
        source = listing.source
        for index in range(listing.base_total):
            if fields.times is not None:
                first, last = fields.times(source.ctx, index)
            else:
                first, last = fields.read(source.record(index))
            created.append(first)
            updated.append(last)
        listing.base_times = (created, updated)
    return listing.base_times


def _created(listing: Listing, index: int) -> int:
    """Return record ``index``'s creation time, generating one record at most."""
    if index in listing.inserted:
        return listing.inserted[index]
    fields = listing.resource.times
    assert fields is not None
    if listing.base_times is not None:
        return listing.base_times[0][index]
    return fields.read(listing.source.record(index))[0]


def time_of(listing: Listing, index: int, field: str) -> int:
    """Return record ``index``'s current creation or update time (``field``)."""
    if field == "created" and index in listing.inserted:
        return listing.inserted[index]
    if field == "updated" and index in listing.touched:
        return listing.touched[index]
    created, updated = _base_times(listing)
    return (created if field == "created" else updated)[index]


def view(listing: Listing, since: tuple[str, int] | None = None) -> View:
    """Return the records a list request serves: all, or those at or after ``since``.

    Args:
        listing: The records, caught up with the clock.
        since: ``(field, epoch seconds)``: only records whose "created" or "updated" time is
            at or after it.
    """
    key = since
    cached = listing.views.get(key)
    if cached is None:
        if len(listing.views) >= _MAX_VIEWS:
            # Many filter values within one tick: forget the oldest view.
            del listing.views[next(iter(listing.views))]
        cached = listing.views[key] = _make_view(listing, since)
    assert isinstance(cached, View)
    return cached


def _make_view(listing: Listing, since: tuple[str, int] | None) -> View:
    order = listing.resource.order
    total = listing.total
    if since is None:
        if order == "id":
            return View(range(total))
        if order == "created_desc":
            # Creation times rise with the index, so newest first is the reverse index order.
            descending = range(total - 1, -1, -1)
            return View(descending, descending)
        return _by_update(listing, range(total))
    field, moment = since
    if field == "created" and order == "created_desc":
        # Creation times rise with the index: the records since ``moment`` are a tail.
        first = bisect_left(range(total), moment, key=lambda index: _created(listing, index))
        tail = range(total - 1, first - 1, -1)
        return View(tail, tail)
    created, updated = _base_times(listing)
    times = created if field == "created" else updated
    changed = listing.touched if field == "updated" else listing.inserted
    matching = [
        index
        for index in range(listing.base_total)
        if times[index] >= moment and index not in changed
    ]
    matching.extend(index for index, value in changed.items() if value >= moment)
    if order == "id":
        return View(sorted(matching))
    if order == "created_desc":
        matching.sort(reverse=True)
        return View(matching, matching)
    return _by_update(listing, matching)


def _by_update(listing: Listing, indexes: Sequence[int]) -> View:
    """Sort ``indexes`` most recently edited first (ties: the higher index first)."""
    keys = sorted(
        ((time_of(listing, index, "updated") << _INDEX_BITS) | index for index in indexes),
        reverse=True,
    )
    return View([key & _INDEX_MASK for key in keys], keys)
