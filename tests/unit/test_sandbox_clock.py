"""The sandbox's clock: ticks update and insert records, drawn from the seed, without sockets."""

from __future__ import annotations

from typing import Any

import pytest

from alloy_data.sandbox import Sandbox, timeline
from alloy_data.sandbox.catalog import build_catalog
from alloy_data.sandbox.listings import Listing
from alloy_data.sandbox.records import Context

CATALOG = build_catalog()
#: (connector, resource) of every list whose records carry a time.
TIMED = [
    (connector.connector_id, resource.resource_id)
    for connector in CATALOG.values()
    for resource in connector.resources
    if resource.times is not None
]


def listing(sb: Sandbox, connector: str, resource: str) -> Listing:
    return sb.api.list_listing(connector, f"list-{resource}", sb.fixtures.credentials[connector])


def records(sb: Sandbox, connector: str, resource: str) -> dict[Any, dict[str, Any]]:
    """Every record the fixture credential's list serves now, by id."""
    found = listing(sb, connector, resource)
    id_for = found.source.ids.id_for
    return {id_for(i): timeline.record(found, i) for i in range(found.total)}


def times_of(connector: str, resource: str, record: dict[str, Any]) -> tuple[int, int]:
    fields = next(r for r in CATALOG[connector].resources if r.resource_id == resource).times
    assert fields is not None
    return fields.read(record)


def test_the_clock_starts_after_every_generated_record():
    sb = Sandbox(records=300)
    for connector, resource in TIMED:
        for record in records(sb, connector, resource).values():
            created, updated = times_of(connector, resource, record)
            assert created <= updated < sb.now


def test_the_start_is_drawn_from_the_seed_and_can_be_set_later_only():
    assert Sandbox(records=50, seed=1).now == Sandbox(records=50, seed=1).now
    later = Sandbox(records=50).now + 10_000
    assert Sandbox(records=50, start_time=later).now == later
    with pytest.raises(ValueError, match="newest generated record"):
        Sandbox(records=50, start_time=1_600_000_000)


@pytest.mark.parametrize(
    ("updates", "inserts", "expected"),
    [(0.01, 0.0, (10, 0)), (0.015, 0.005, (15, 5)), (7, 3, (7, 3)), (0, 12, (0, 12)),
     (5_000, 0, (1_000, 0))],
    ids=["share", "shares", "counts", "inserts-only", "count-above-the-total"],
)  # fmt: skip
def test_shares_and_counts_of_each_list(updates, inserts, expected):
    sb = Sandbox(records=1_000)
    tick = sb.advance_clock(updates=updates, inserts=inserts)
    charges = tick.changes[("stripe", "list-charges")]
    contacts = tick.changes[("hubspot", "list-contacts")]
    assert (contacts.updated, contacts.inserted) == expected
    # Charges are never edited; they only arrive.
    assert (charges.updated, charges.inserted) == (0, expected[1])
    assert ("shopify", "list-locations") not in tick.changes  # no times: the clock skips it
    assert (
        sb.expected_count(
            "hubspot", "list-contacts", credential_id=sb.fixtures.credentials["hubspot"]
        )
        == 1_000 + expected[1]
    )


def test_ticks_are_drawn_from_the_seed_and_the_tick_number():
    def changed(seed: int) -> list[set[int]]:
        sb = Sandbox(records=500, seed=seed)
        seen = []
        for _ in range(2):
            sb.advance_clock(3_600, updates=0.02, inserts=0.01)
            seen.append(set(listing(sb, "box", "files").versions))
        return seen

    first, again, other = changed(4), changed(4), changed(5)
    assert first == again
    assert first != other
    assert first[0] != first[1]  # the second tick picks its own records


def test_an_update_moves_the_update_time_into_the_tick_and_edits_a_visible_value():
    sb = Sandbox(records=400)
    before = {key: records(sb, *key) for key in TIMED}
    tick = sb.advance_clock(7_200, updates=0.05)
    edited = 0
    for connector, resource in TIMED:
        after = records(sb, connector, resource)
        found = listing(sb, connector, resource)
        changed = {found.source.ids.id_for(index) for index in found.versions}
        for record_id in changed:
            old, new = before[(connector, resource)][record_id], after[record_id]
            created, updated = times_of(connector, resource, new)
            assert tick.previous < updated <= tick.now, (connector, record_id)
            assert created == times_of(connector, resource, old)[0]
            assert _without_times(old) != _without_times(new), (connector, record_id)
            edited += 1
        untouched = set(after) - changed
        assert all(after[i] == before[(connector, resource)][i] for i in untouched)
    assert edited == sum(change.updated for change in tick.changes.values()) > 0


_TIME_KEYS = {
    "updated_at", "updatedAt", "lastmodifieddate", "modified_at", "UpdatedDateUTC",
    "LastUpdatedTime", "last_edited_time",
}  # fmt: skip


def _without_times(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_times(v) for k, v in value.items() if k not in _TIME_KEYS}
    return value


def test_inserts_get_new_unique_ids_created_within_the_tick():
    sb = Sandbox(records=300)
    old = {key: set(records(sb, *key)) for key in TIMED}
    tick = sb.advance_clock(600, inserts=0.1)
    for connector, resource in TIMED:
        now = records(sb, connector, resource)
        new_ids = set(now) - old[(connector, resource)]
        assert len(new_ids) == 30 == len(now) - 300
        for record_id in new_ids:
            created, updated = times_of(connector, resource, now[record_id])
            # Notion and Xero show their times rounded (to the minute, to the day).
            assert tick.previous - 86_400 < created <= updated <= tick.now


def test_stripe_charges_keep_their_creation_time_and_it_rises_with_the_id():
    sb = Sandbox(records=200)
    before = records(sb, "stripe", "charges")
    for _ in range(3):
        sb.advance_clock(updates=0.5, inserts=0.05)
    found = listing(sb, "stripe", "charges")
    after = records(sb, "stripe", "charges")
    assert all(after[i] == record for i, record in before.items())
    created = [timeline.record(found, i)["created"] for i in range(found.total)]
    assert created == sorted(created) and len(set(created)) == len(created)


def test_tenants_change_by_the_same_rule_when_next_asked_for():
    sb = Sandbox(records=100, tenants=2, tenant_records=[40, 200])
    sb.advance_clock(updates=0.1, inserts=0.05)
    counts = [
        sb.expected_count("box", "list-files", credential_id=t.credentials["box"])
        for t in sb.fixtures.tenants
    ]
    assert counts == [42, 210]
    tenant = sb.api.list_listing("box", "list-files", sb.fixtures.tenants[1].credentials["box"])
    assert len(tenant.versions) == 20


@pytest.mark.parametrize(
    ("arguments", "error", "words"),
    [({"seconds": 0}, ValueError, "at least 1"), ({"seconds": 1.5}, TypeError, "int"),
     ({"updates": 1.0}, ValueError, "below 1"), ({"inserts": -1}, ValueError, "at least 0"),
     ({"updates": "1%"}, TypeError, "share")],
    ids=["no-time", "float-seconds", "share-of-one", "negative", "text"],
)  # fmt: skip
def test_bad_ticks_are_refused_and_change_nothing(arguments, error, words):
    sb = Sandbox(records=10)
    now = sb.now
    with pytest.raises(error, match=words):
        sb.advance_clock(**arguments)
    assert sb.now == now
    assert sb.advance_clock(60).tick == 1


def test_create_actions_ids_stay_clear_of_inserted_records():
    sb = Sandbox(records=10)
    found = listing(sb, "zendesk", "tickets")
    created = sb.api._create(found, {"subject": "Hello"})
    sb.advance_clock(inserts=5)
    ids = sb.expected_ids(
        "zendesk", "list-tickets", credential_id=sb.fixtures.credentials["zendesk"]
    )
    assert len(ids) == len(set(ids)) == 15
    assert str(ids[-1]).encode() not in created


@pytest.mark.parametrize("seed", [0, 7])
@pytest.mark.parametrize(("connector", "resource"), [("shopify", "orders"), ("notion", "pages")])
def test_times_without_generating_are_the_records_own(connector, resource, seed):
    found = next(r for r in CATALOG[connector].resources if r.resource_id == resource)
    fields = found.times
    assert fields is not None and fields.times is not None
    context = Context(seed, "")
    for index in range(0, 3_000, 7):
        record = found.generator(context, index, found.ids)
        assert fields.times(context, index) == fields.read(record)
