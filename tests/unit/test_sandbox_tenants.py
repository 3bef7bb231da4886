"""Tenants: more users and credentials, each credential with records of its own, made lazily."""

from __future__ import annotations

import pytest

from alloy_data.sandbox import Sandbox, Tenant
from alloy_data.sandbox.catalog import UNPAGINATED_MAXIMUM, build_catalog
from alloy_data.sandbox.cli import _tenant_records, build_parser
from alloy_data.sandbox.ids import IdFactory, RecordIds
from alloy_data.sandbox.store import Store
from alloy_data.sandbox.tenants import ID_BLOCK, MAX_TENANTS, TenantListings

CATALOG = build_catalog()
LIST_ACTIONS = [
    (connector.connector_id, action.action_id)
    for connector in CATALOG.values()
    for action in connector.actions()
    if action.verb == "list"
]
LIST_IDS = [f"{connector}-{action}" for connector, action in LIST_ACTIONS]
STYLES = [
    RecordIds("int", start=1),
    RecordIds("digits", prefix="gid://shopify/Order/", start=5_100_000_000),
    RecordIds("digits", start=1_001),
    RecordIds("stripe", prefix="ch_"),
    RecordIds("uuid", prefix="xero.invoices"),
]


@pytest.mark.parametrize("ids", STYLES, ids=lambda ids: f"{ids.style}-{ids.prefix}")
def test_shifted_ids_map_back_to_their_index_and_not_to_the_unshifted_ones(ids):
    shifted = ids.shifted(3 * ID_BLOCK)
    own = [shifted.id_for(index) for index in (0, 1, 999, 123_456)]
    assert [shifted.index_for(value) for value in own] == [0, 1, 999, 123_456]
    assert not set(own) & {ids.id_for(index) for index in (0, 1, 999, 123_456)}
    assert shifted.index_for(ids.id_for(5)) is None
    assert ids.index_for(own[0]) == 3 * ID_BLOCK
    assert type(own[0]) is type(ids.id_for(0))


def test_tenants_are_users_with_one_credential_per_connector():
    sb = Sandbox(tenants=3)
    tenants = sb.fixtures.tenants
    assert [tenant.index for tenant in tenants] == [0, 1, 2]
    assert [tenant.username for tenant in tenants] == ["tenant-001", "tenant-002", "tenant-003"]
    assert all(isinstance(tenant, Tenant) for tenant in tenants)
    users = {sb.fixtures.user_id, sb.fixtures.other_user_id} | {t.user_id for t in tenants}
    assert len(users) == 5
    credentials = [c for tenant in tenants for c in tenant.credentials.values()]
    assert len(set(credentials)) == 3 * len(CATALOG)
    for tenant in tenants:
        assert set(tenant.credentials) == set(CATALOG)
        owned = sb.api.store.credentials_of(tenant.user_id)
        assert {c.credential_id for c in owned} == set(tenant.credentials.values())


def test_without_tenants_there_are_none():
    assert Sandbox().fixtures.tenants == []


@pytest.mark.parametrize("dialect", ["seed", "live"])
def test_tenants_leave_the_fixtures_ids_and_records_as_they_were(dialect):
    plain = Sandbox(dialect=dialect, seed=4)
    with_tenants = Sandbox(dialect=dialect, seed=4, tenants=5)
    before, after = plain.fixtures, with_tenants.fixtures
    assert (before.user_id, before.other_user_id) == (after.user_id, after.other_user_id)
    assert (before.credentials, before.other_credentials) == (
        after.credentials,
        after.other_credentials,
    )
    for connector, action in LIST_ACTIONS:
        for credential in (after.credentials[connector], after.other_credentials[connector]):
            assert with_tenants.expected_ids(
                connector, action, credential_id=credential
            ) == plain.expected_ids(connector, action, credential_id=credential)
    for key, listing in plain.api.listings.items():
        assert with_tenants.api.listings[key].source.record(7) == listing.source.record(7)


@pytest.mark.parametrize(("connector", "action"), LIST_ACTIONS, ids=LIST_IDS)
def test_each_tenant_credential_has_its_own_ids_and_records(connector, action):
    sb = Sandbox(tenants=4, seed=2, tenant_records=30)
    fixture = sb.fixtures.credentials[connector]
    seen = set(sb.expected_ids(connector, action, credential_id=fixture))
    firsts = []
    for tenant in sb.fixtures.tenants:
        credential = tenant.credentials[connector]
        ids = sb.expected_ids(connector, action, credential_id=credential)
        assert len(ids) == len(set(ids)) == 30
        assert not seen & set(ids), "two credentials share record ids"
        seen |= set(ids)
        source = sb.api.list_listing(connector, action, credential).source
        records = [source.record(index) for index in range(5)]
        firsts.append(
            repr(
                [
                    {k: v for k, v in r.items() if k not in ("id", "InvoiceID", "Id")}
                    for r in records
                ]
            )
        )
    assert len(set(firsts)) == 4, "tenants' records are copies of each other"


@pytest.mark.parametrize(("connector", "action"), LIST_ACTIONS, ids=LIST_IDS)
def test_seeded_sizes_lie_between_a_fifth_and_twice_the_fixtures_count(connector, action):
    sb = Sandbox(tenants=12, seed=9, records=200)
    sizes = [
        sb.expected_count(connector, action, credential_id=tenant.credentials[connector])
        for tenant in sb.fixtures.tenants
    ]
    base = sb.expected_count(connector, action, credential_id=sb.fixtures.credentials[connector])
    assert all(base // 5 <= size <= 2 * base for size in sizes), (base, sizes)
    assert len(set(sizes)) > 1, "every tenant has the same size"
    again = Sandbox(tenants=12, seed=9, records=200)
    assert sizes == [
        again.expected_count(connector, action, credential_id=tenant.credentials[connector])
        for tenant in again.fixtures.tenants
    ]


def test_sizes_can_be_set_per_tenant_or_by_a_function():
    listed = Sandbox(tenants=3, tenant_records=[0, 1, 237])
    counts = [
        listed.expected_count("box", "list-files", credential_id=t.credentials["box"])
        for t in listed.fixtures.tenants
    ]
    assert counts == [0, 1, 237]

    def size(tenant: int, connector: str, action: str) -> int:
        return 100 * tenant + len(action)

    computed = Sandbox(tenants=2, tenant_records=size)
    second = computed.fixtures.tenants[1]
    assert computed.expected_count(
        "hubspot", "list-companies", credential_id=second.credentials["hubspot"]
    ) == 100 + len("list-companies")
    assert computed.expected_count(
        "shopify", "list-locations", credential_id=second.credentials["shopify"]
    ) == min(100 + len("list-locations"), UNPAGINATED_MAXIMUM)


def test_the_benchmark_shape_costs_nothing_until_records_are_asked_for():
    sb = Sandbox(tenants=50, tenant_records=20_000)
    tenants = sb.api.tenants
    assert tenants is not None
    assert tenants._listings == {}
    last = sb.fixtures.tenants[-1]
    ids = sb.expected_ids("box", "list-files", credential_id=last.credentials["box"])
    assert len(ids) == 20_000
    assert ids[0] == str(1_200_000_000 + 50 * ID_BLOCK)
    assert list(tenants._listings) == [(last.credentials["box"], "files")]


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [({"tenants": -1}, ValueError, "tenants"),
     ({"tenants": MAX_TENANTS + 1}, ValueError, "tenants"),
     ({"tenants": 2.0}, TypeError, "tenants"),
     ({"tenant_records": 5}, ValueError, "needs tenants"),
     ({"tenants": 2, "tenant_records": [1, 2, 3]}, ValueError, "one per tenant"),
     ({"tenants": 2, "tenant_records": -1}, ValueError, "tenant_records"),
     ({"tenants": 2, "tenant_records": ID_BLOCK}, ValueError, "tenant_records"),
     ({"tenants": 2, "tenant_records": [1, True]}, ValueError, r"tenant_records\[1\]"),
     ({"tenants": 2, "tenant_records": lambda *_: -3}, ValueError, "tenant_records"),
     ({"tenants": 2, "tenant_records": "many"}, TypeError, "tenant_records"),
     ({"tenants": 2, "records": ID_BLOCK}, ValueError, "below"),
     ({"credential_rate_limit": 0}, ValueError, "credential_rate_limit")],
    ids=["negative", "too-many", "float", "records-alone", "list-length", "negative-count",
         "count-too-large", "bool-count", "function-negative", "string", "fixture-too-large",
         "rate-zero"],
)  # fmt: skip
def test_bad_tenant_options_are_refused(options, error, match):
    with pytest.raises(error, match=match):
        Sandbox(**options)


@pytest.mark.parametrize(
    ("connector", "action", "credential", "match"),
    [("nope", "list-orders", "shopify", "unknown connector"),
     ("shopify", "get-orders", "shopify", "not a list action"),
     ("shopify", "list-orders", "hubspot", "is for hubspot"),
     ("shopify", "list-orders", None, "unknown credential")],
    ids=["connector", "get-action", "other-connector", "credential"],
)  # fmt: skip
def test_expected_ids_refuses_what_serves_no_list(connector, action, credential, match):
    sb = Sandbox(tenants=1)
    credential_id = sb.fixtures.tenants[0].credentials[credential] if credential else "cred_x"
    with pytest.raises(ValueError, match=match):
        sb.expected_ids(connector, action, credential_id=credential_id)


def test_listing_a_users_credentials_does_not_depend_on_others():
    store = Store(IdFactory(0, object_ids=False))
    one, two = store.add_user("one"), store.add_user("two")
    first = store.add_credential("box", one.user_id, "oauth2", "Box (one)")
    store.add_credential("box", two.user_id, "oauth2", "Box (two)")
    second = store.add_credential("xero", one.user_id, "oauth2", "Xero (one)")
    assert store.credentials_of(one.user_id) == [first, second]
    assert store.credentials_of(one.user_id, "xero") == [second]
    store.delete_credential(first.credential_id)
    assert store.credentials_of(one.user_id) == [second]
    assert store.credentials_of("usr_nobody") == []


def test_tenant_listings_give_nothing_for_other_credentials():
    listings = TenantListings(
        seed=0, catalog=CATALOG, base_totals={("box", "files"): 10}, tenants=1, sizes=None
    )
    listings.add("cred_a", 0, "box")
    assert listings.listing("cred_b", "files") is None
    own = listings.listing("cred_a", "files")
    assert own is not None
    assert 2 <= own.total <= 20
    assert listings.listing("cred_a", "files") is own


@pytest.mark.parametrize(
    ("argv", "tenants", "records", "rate"),
    [([], 0, None, None),
     (["--tenants", "50", "--tenant-records", "20000"], 50, 20_000, None),
     (["--tenants", "3", "--tenant-records", "5", "0", "9"], 3, [5, 0, 9], None),
     (["--tenants", "2", "--credential-rate-limit", "2.5"], 2, None, 2.5)],
    ids=["default", "one-count", "per-tenant", "rate"],
)  # fmt: skip
def test_tenant_options_on_the_command_line(argv, tenants, records, rate):
    args = build_parser().parse_args(argv)
    assert (args.tenants, _tenant_records(args.tenant_records), args.credential_rate_limit) == (
        tenants,
        records,
        rate,
    )


def test_the_command_line_refuses_a_count_per_tenant_that_does_not_add_up(capsys):
    from alloy_data.sandbox import main

    assert main(["--port", "0", "--tenants", "2", "--tenant-records", "1", "2", "3"]) == 2
    assert "one per tenant" in capsys.readouterr().err
