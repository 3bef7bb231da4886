"""Record generation: deterministic, random access by index, realistic, drifting fields."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from alloy_data.sandbox import records
from alloy_data.sandbox.catalog import build_catalog
from alloy_data.sandbox.ids import RecordIds
from alloy_data.sandbox.records import Context, RecordSource

CATALOG = build_catalog()
RESOURCES = [
    (connector.connector_id, resource)
    for connector in CATALOG.values()
    for resource in connector.resources
]
RESOURCE_IDS = [f"{connector}-{resource.resource_id}" for connector, resource in RESOURCES]


def source(resource_name: str, seed: int = 0) -> RecordSource:
    connector_id, resource_id = resource_name.split("/")
    resource = next(r for r in CATALOG[connector_id].resources if r.resource_id == resource_id)
    return RecordSource(resource.generator, resource.ids, Context(seed, "http://sandbox.test"))


@pytest.mark.parametrize(("connector_id", "resource"), RESOURCES, ids=RESOURCE_IDS)
def test_same_seed_and_index_give_the_same_record(connector_id, resource):
    first = source(f"{connector_id}/{resource.resource_id}", seed=7)
    second = source(f"{connector_id}/{resource.resource_id}", seed=7)
    assert [first.record(i) for i in (0, 5, 499)] == [second.record(i) for i in (0, 5, 499)]


@pytest.mark.parametrize(("connector_id", "resource"), RESOURCES, ids=RESOURCE_IDS)
def test_another_seed_gives_other_records_with_the_same_ids(connector_id, resource):
    one = source(f"{connector_id}/{resource.resource_id}", seed=1)
    two = source(f"{connector_id}/{resource.resource_id}", seed=2)
    assert [one.record(i) for i in range(10)] != [two.record(i) for i in range(10)]
    assert resource.ids.id_for(3) in one.record(3).values()
    assert resource.ids.id_for(3) in two.record(3).values()


@pytest.mark.parametrize(("connector_id", "resource"), RESOURCES, ids=RESOURCE_IDS)
def test_records_have_unique_ids_that_map_back_to_their_index(connector_id, resource):
    generated = source(f"{connector_id}/{resource.resource_id}")
    seen = set()
    for index in range(400):
        record = generated.record(index)
        record_id = record.get("id", record.get("InvoiceID", record.get("Id")))
        assert resource.ids.index_for(record_id) == index
        seen.add(record_id)
    assert len(seen) == 400


def test_random_access_does_not_depend_on_order_or_neighbours():
    orders = source("shopify/orders")
    late = orders.record(999_999)
    orders.record(0)
    assert source("shopify/orders").record(999_999) == late
    assert late["id"] == "gid://shopify/Order/5100999999"


def test_a_record_far_down_a_huge_resource_is_made_alone():
    resource = next(r for r in CATALOG["hubspot"].resources if r.resource_id == "contacts")
    made: list[int] = []

    def counting(ctx, index, ids):
        made.append(index)
        return resource.generator(ctx, index, ids)

    contacts = RecordSource(counting, resource.ids, Context(0, "http://sandbox.test"))
    contacts.page(5_000_000, 5_000_100)
    # Random access by index: none of the five million records before them was generated.
    assert made == list(range(5_000_000, 5_000_100))


def test_the_encoded_cache_is_bounded():
    files = RecordSource(records.box_file, RecordIds("digits"), Context(0, ""), cache_size=50)
    for index in range(500):
        files.encoded(index)
    assert files.encoded.cache_info().currsize == 50


def test_shopify_discount_code_appears_only_from_its_threshold():
    orders = source("shopify/orders")
    before = [orders.record(i) for i in range(records.DISCOUNT_CODE_FROM)]
    after = [orders.record(i) for i in range(records.DISCOUNT_CODE_FROM, 400)]
    assert all("discount_code" not in order for order in before)
    assert all("discount_code" in order for order in after)
    assert any(isinstance(order["discount_code"], str) for order in after)


def test_hubspot_external_id_widens_from_integer_to_string():
    contacts = source("hubspot/contacts")
    threshold = records.EXTERNAL_ID_STRING_FROM
    early = [contacts.record(i)["properties"]["external_id"] for i in range(threshold)]
    late = [contacts.record(i)["properties"]["external_id"] for i in range(threshold, 400)]
    assert all(isinstance(value, int) for value in early)
    assert all(isinstance(value, str) for value in late)


def test_orders_are_nested_with_money_line_items_nulls_and_unicode():
    orders = [source("shopify/orders").record(i) for i in range(300)]
    assert all(re.fullmatch(r"\d+\.\d\d", order["total_price"]) for order in orders)
    assert all(order["customer"]["email"].endswith("@example.com") for order in orders)
    assert all(isinstance(order["line_items"], list) and order["line_items"] for order in orders)
    assert any(order["shipping_address"] is None for order in orders)
    assert any(order["shipping_address"]["city"] for order in orders if order["shipping_address"])
    counts = [order["customer"]["orders_count"] for order in orders]
    assert None in counts
    assert any(isinstance(count, int) for count in counts)
    names = {order["customer"]["first_name"] + order["customer"]["last_name"] for order in orders}
    assert any(not name.isascii() for name in names)


def test_stripe_money_is_integer_cents_with_a_currency():
    charge = source("stripe/charges").record(11)
    assert isinstance(charge["amount"], int)
    assert charge["currency"] in {"usd", "eur", "gbp"}


@pytest.mark.parametrize(
    ("resource_name", "field", "pattern"),
    [
        ("shopify/orders", "created_at", r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d-05:00"),
        ("shopify/orders", "processed_at", r".*T\d\d:\d\d:\d\d\+00:00"),
        ("hubspot/contacts", "createdAt", r".*T\d\d:\d\d:\d\d\.\d{3}Z"),
        ("zendesk/tickets", "created_at", r".*T\d\d:\d\d:\d\dZ"),
        ("box/files", "created_at", r".*T\d\d:\d\d:\d\d-07:00"),
        ("xero/invoices", "UpdatedDateUTC", r"/Date\(\d+\+0000\)/"),
    ],
    ids=["shopify-offset", "shopify-utc-offset", "hubspot-millis-z", "zendesk-z", "box-offset",
         "xero-ms-date"],
)  # fmt: skip
def test_timestamps_come_in_each_apps_style(resource_name, field, pattern):
    assert re.fullmatch(pattern, source(resource_name).record(42)[field])


def test_timestamps_grow_with_the_index():
    tickets = source("zendesk/tickets")
    stamps = [tickets.record(i)["created_at"] for i in range(50)]
    assert stamps == sorted(stamps)


@pytest.mark.parametrize(
    ("style", "garbage"),
    [("digits", "12x"), ("digits", "-5"), ("stripe", "ch_!!"), ("uuid", "not-a-uuid"),
     ("int", "٣"), ("stripe", 12)],
    ids=["digits-letters", "digits-negative", "stripe-symbols", "uuid-text", "int-arabic-digit",
         "stripe-int"],
)  # fmt: skip
def test_foreign_ids_map_to_no_index(style, garbage):
    prefix = "ch_" if style == "stripe" else ""
    assert RecordIds(style, prefix=prefix).index_for(garbage) is None


@pytest.mark.parametrize("epoch", [0, 1_672_531_200, 1_709_164_800, 2_000_000_123], ids=str)
@pytest.mark.parametrize("hours", [-8, -5, 0, 9], ids=lambda h: f"utc{h:+d}")
def test_timestamp_formatting_matches_datetime(epoch, hours):
    zone = timezone(timedelta(hours=hours))
    assert records.iso_offset(epoch, hours) == datetime.fromtimestamp(epoch, zone).isoformat()
    expected_z = datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert records.iso_z(epoch) == expected_z


def test_draws_are_deterministic_and_in_range():
    one, two = records.Draws(b"k"), records.Draws(b"k")
    values = [one.randrange(5, 10) for _ in range(100)]
    assert values == [two.randrange(5, 10) for _ in range(100)]
    assert set(values) == {5, 6, 7, 8, 9}
    assert all(0 <= one.random() < 1 for _ in range(100))
    assert sorted(one.sample("abcde", 5)) == list("abcde")
