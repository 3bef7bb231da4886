"""client.pull against the sandbox over loopback: every convention, faults, frames, concurrency."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

import alloy_data as ad
from alloy_data.http import RetryPolicy
from alloy_data.progress import ProgressUpdate
from alloy_data.sandbox import Sandbox, serve
from alloy_data.sandbox.catalog import build_catalog

CATALOG = build_catalog()

# connector, action, the convention auto-detection must find, the records' id field
LIST_ACTIONS = [
    ("shopify", "list-orders", "relay", "id"),
    ("hubspot", "list-contacts", "cursor", "id"),
    ("hubspot", "list-companies", "cursor", "id"),
    ("stripe", "list-charges", "last_id", "id"),
    ("zendesk", "list-tickets", "next_link", "id"),
    ("box", "list-files", "offset", "id"),
    ("xero", "list-invoices", "page_number", "InvoiceID"),
    ("quickbooks", "list-customers", "alloy_offset", "Id"),
    ("notion", "list-pages", "cursor", "id"),
    ("shopify", "list-locations", "single", "id"),
]
ACTION_IDS = [f"{c}-{a}" for c, a, *_ in LIST_ACTIONS]
PARALLEL_ACTIONS = [
    case for case in LIST_ACTIONS if case[2] in {"offset", "page_number", "alloy_offset"}
]


def expected_ids(sb: Sandbox, connector: str, action: str) -> list[Any]:
    # In the app's own order (Stripe charges and Notion pages come newest first).
    return sb.expected_ids(connector, action, credential_id=sb.fixtures.credentials[connector])


def client_for(sb: Sandbox, **options: Any) -> ad.AlloyClient:
    client = ad.AlloyClient(sb.api_key, base_url=sb.url, user_id=sb.fixtures.user_id, **options)
    # Short waits: these tests check that retries happen, not how long they wait.
    client._transport.retry_policy = RetryPolicy(
        max_retries=6, backoff_base=0.01, retry_after_cap=0.01
    )
    return client


def pull_ids(sb: Sandbox, connector: str, action: str, id_field: str, **options: Any):
    with client_for(sb) as client:
        pull = client.pull(
            connector,
            action,
            credential_id=sb.fixtures.credentials[connector],
            progress=False,
            **options,
        )
        frame = pull.to_dataframe()
    return (frame[id_field].tolist() if len(frame) else []), pull


@pytest.fixture(
    scope="module",
    params=[("seed", 0), ("seed", 237), ("seed", 500), ("live", 237)],
    ids=lambda p: f"{p[0]}-{p[1]}-records",
)
def sized_sandbox(request) -> Iterator[Sandbox]:
    """237 fits no page size; 500 is a multiple of every page size the actions default to."""
    dialect, count = request.param
    with serve(port=0, seed=3, dialect=dialect, records=count) as running:
        yield running


@pytest.mark.parametrize("case", LIST_ACTIONS, ids=ACTION_IDS)
def test_auto_detection_walks_every_record_once_in_order(sized_sandbox, case):
    connector, action, convention, id_field = case
    ids, pull = pull_ids(sized_sandbox, connector, action, id_field)
    assert ids == expected_ids(sized_sandbox, connector, action)
    if ids:
        assert pull.stats.paginator == convention
    assert pull.stats.stop_reason in {"end", "single_page"}
    assert pull.stats.records == len(ids)
    assert not pull.stats.warnings


@pytest.mark.parametrize(
    "case", PARALLEL_ACTIONS, ids=[f"{c}-{a}" for c, a, *_ in PARALLEL_ACTIONS]
)
@pytest.mark.parametrize("concurrency", [2, 4, 8])
def test_concurrent_pages_keep_order(sized_sandbox, case, concurrency):
    connector, action, _, id_field = case
    ids, pull = pull_ids(
        sized_sandbox, connector, action, id_field, concurrency=concurrency, page_size=20
    )
    assert ids == expected_ids(sized_sandbox, connector, action)
    assert pull.stats.stop_reason == "end"


@pytest.fixture(scope="module")
def faulty_sandbox() -> Iterator[Sandbox]:
    with serve(port=0, seed=11, records=400, fault_rate=0.15, faults=["429", "503", "drop"]) as sb:
        yield sb


@pytest.mark.parametrize("case", LIST_ACTIONS[:-1], ids=ACTION_IDS[:-1])
def test_pulls_survive_faults_without_losing_records(faulty_sandbox, case):
    connector, action, _, id_field = case
    concurrency = 4 if case in PARALLEL_ACTIONS else 1
    ids, pull = pull_ids(faulty_sandbox, connector, action, id_field, concurrency=concurrency)
    assert ids == expected_ids(faulty_sandbox, connector, action)
    if concurrency > 1:
        # a parallel pull may also fetch pages past the end, which it drops
        assert pull.stats.requests >= pull.stats.pages + pull.stats.retries
    else:
        refused = pull.stats.refused_page_sizes
        assert pull.stats.requests == pull.stats.pages + pull.stats.retries + refused


def test_the_faulty_sandbox_really_faulted(faulty_sandbox):
    _, pull = pull_ids(faulty_sandbox, "hubspot", "list-contacts", "id", page_size=10)
    assert pull.stats.retries > 0


def test_fault_retries_are_counted(sandbox_faults):
    sb = sandbox_faults
    sb.inject_fault("429", count=2, path_contains="list-contacts/execute")
    sb.inject_fault("503", count=1, path_contains="list-contacts/execute")
    ids, pull = pull_ids(sb, "hubspot", "list-contacts", "id")
    assert ids == expected_ids(sb, "hubspot", "list-contacts")
    assert pull.stats.retries == 3
    # hubspot's limit states no maximum: a first request for 1,000 is refused (a 400 naming 100)
    assert pull.stats.refused_page_sizes == 1
    assert pull.stats.page_size == 100
    assert pull.stats.requests == pull.stats.pages + 3 + 1


@pytest.fixture
def sandbox_faults() -> Iterator[Sandbox]:
    with serve(port=0, seed=2, records=300) as sb:
        yield sb


def test_max_records_cuts_exactly(sandbox):
    ids, pull = pull_ids(sandbox, "hubspot", "list-contacts", "id", max_records=123, page_size=50)
    assert ids == expected_ids(sandbox, "hubspot", "list-contacts")[:123]
    assert pull.stats.stop_reason == "max_records"
    assert pull.stats.pages == 3


def test_max_pages_stops_and_says_so(sandbox):
    ids, pull = pull_ids(sandbox, "stripe", "list-charges", "id", max_pages=2, page_size=10)
    assert ids == expected_ids(sandbox, "stripe", "list-charges")[:20]
    assert pull.stats.stop_reason == "max_pages"


def test_concurrent_max_records(sandbox):
    ids, pull = pull_ids(
        sandbox, "box", "list-files", "id", concurrency=4, page_size=25, max_records=110
    )
    assert ids == expected_ids(sandbox, "box", "list-files")[:110]
    assert pull.stats.stop_reason == "max_records"


def test_page_size_defaults_to_the_largest_the_action_allows(sandbox):
    with client_for(sandbox) as client:
        pull = client.pull(
            "hubspot",
            "list-contacts",
            credential_id=sandbox.fixtures.credentials["hubspot"],
            progress=False,
        )
        first = next(pull.iter_pages())
    assert first.parameters["limit"] == 100
    assert len(first.records) == 100


def test_iter_records_yields_the_api_dicts(sandbox):
    with client_for(sandbox) as client:
        pull = client.pull(
            "stripe",
            "list-charges",
            credential_id=sandbox.fixtures.credentials["stripe"],
            progress=False,
        )
        records = list(pull.iter_records())
    assert [r["id"] for r in records] == expected_ids(sandbox, "stripe", "list-charges")
    assert isinstance(records[0]["amount"], int)


@pytest.fixture(scope="module")
def drift_sandbox() -> Iterator[Sandbox]:
    with serve(port=0, seed=4, records={"shopify": 400, "hubspot": 450}) as sb:
        yield sb


def test_a_field_appearing_mid_page_is_kept(drift_sandbox):
    with client_for(drift_sandbox) as client:
        pull = client.pull(
            "shopify",
            "list-orders",
            page_size=100,
            progress=False,
            credential_id=drift_sandbox.fixtures.credentials["shopify"],
        )
        frame = pull.to_dataframe()
    assert "discount_code" in frame.columns
    assert frame["discount_code"].iloc[:150].isna().all()
    assert frame["discount_code"].iloc[150:].notna().any()
    late = [d for d in pull.stats.drift if d.column == "discount_code"]
    assert late and late[0].page == 2 and late[0].old_type == "absent"


def test_a_widening_column_becomes_string_and_is_reported(drift_sandbox):
    with client_for(drift_sandbox) as client:
        pull = client.pull(
            "hubspot",
            "list-contacts",
            page_size=100,
            progress=False,
            credential_id=drift_sandbox.fixtures.credentials["hubspot"],
        )
        table = pull.to_arrow()
    column = next(name for name in table.column_names if name.endswith("external_id"))
    assert pa.types.is_string(table.schema.field(column).type)
    values = table.column(column).to_pylist()
    assert values[0] is None or values[0].isdigit()
    assert all(v is not None for v in values[300:])
    assert any(d.column == column and d.page == 4 for d in pull.stats.drift)


@pytest.mark.parametrize("case", LIST_ACTIONS, ids=ACTION_IDS)
def test_an_empty_result_is_an_empty_frame_with_the_declared_columns(case):
    connector, action, _, id_field = case
    with serve(port=0, records=0) as sb, client_for(sb) as client:
        pull = client.pull(
            connector, action, progress=False, credential_id=sb.fixtures.credentials[connector]
        )
        frame = pull.to_dataframe()
    assert len(frame) == 0
    assert id_field in frame.columns  # from the record schema in the action's metadata
    assert pull.stats.pages == 1 and pull.stats.stop_reason in {"end", "single_page"}
    assert not pull.stats.warnings


def test_column_dtypes(drift_sandbox):
    with client_for(drift_sandbox) as client:
        pull = client.pull(
            "shopify",
            "list-orders",
            progress=False,
            credential_id=drift_sandbox.fixtures.credentials["shopify"],
        )
        frame = pull.to_dataframe()
        arrow_frame = pull.to_dataframe(dtype_backend="pyarrow")
    dtypes = {name: str(dtype) for name, dtype in frame.dtypes.items()}
    assert dtypes["created_at"] == "datetime64[us, UTC]"
    assert any(name.startswith("customer.") for name in frame.columns)
    assert any(str(dtype) == "Int64" for dtype in frame.dtypes)
    assert any(str(dtype) in ("string", "str") for dtype in frame.dtypes)
    list_column = next(name for name in frame.columns if name.endswith("line_items"))
    items = frame[list_column].iloc[0]
    assert not isinstance(items, str) and len(items) > 0
    assert isinstance(items[0], dict)  # a list of objects stays a list of objects
    assert all(isinstance(dtype, pd.ArrowDtype) for dtype in arrow_frame.dtypes)


def test_progress_callable_receives_growing_figures(sandbox):
    updates: list[ProgressUpdate] = []
    with client_for(sandbox) as client:
        pull = client.pull(
            "stripe",
            "list-charges",
            page_size=50,
            progress=updates.append,
            credential_id=sandbox.fixtures.credentials["stripe"],
        )
        frame = pull.to_dataframe()
    records = [u.records for u in updates]
    assert records == sorted(records)
    assert updates[-1].done and updates[-1].records == len(frame)
    assert updates[-1].pages == pull.stats.pages


def test_progress_off_is_silent_and_terminal_bar_writes_stderr(sandbox, capsys):
    with client_for(sandbox) as client:
        client.pull(
            "stripe",
            "list-charges",
            progress=False,
            credential_id=sandbox.fixtures.credentials["stripe"],
        ).to_arrow()
        silent = capsys.readouterr()
        client.pull(
            "stripe",
            "list-charges",
            progress="terminal",
            credential_id=sandbox.fixtures.credentials["stripe"],
        ).to_arrow()
        shown = capsys.readouterr()
    assert silent.out == "" and silent.err == ""
    assert "stripe list-charges" in shown.err and "pages=" in shown.err
    assert sandbox.api_key not in shown.err


def test_an_error_mid_pull_keeps_what_was_fetched(sandbox_faults):
    sb = sandbox_faults

    def fail_after_two_pages(update: ProgressUpdate) -> None:
        if update.pages == 2 and not update.done:
            sb.inject_fault("500_html", count=5, path_contains="list-contacts/execute")

    with client_for(sb) as client:
        pull = client.pull(
            "hubspot",
            "list-contacts",
            page_size=50,
            progress=fail_after_two_pages,
            retries=0,
            credential_id=sb.fixtures.credentials["hubspot"],
        )
        with pytest.raises(ad.ServerError) as caught:
            pull.to_dataframe()
    notes = " ".join(getattr(caught.value, "__notes__", []))
    kept = pull.partial_dataframe()["id"].tolist()
    # Fetching runs a page or two ahead of converting, so the failure hits page 3, 4 or 5.
    assert len(kept) in (100, 150, 200)
    assert f"{len(kept)} records fetched before this are kept" in notes
    assert kept == expected_ids(sb, "hubspot", "list-contacts")[: len(kept)]


def test_bad_arguments_are_configuration_errors(sandbox):
    with client_for(sandbox) as client:
        credential = sandbox.fixtures.credentials["stripe"]
        for options in (
            {"page_size": 0},
            {"max_records": -1},
            {"concurrency": "4"},
            {"paginator": "sideways"},
            {"user_id": ""},
            {"max_requests_per_second": "10"},
            {"max_requests_per_second": 0},
            {"parameters": [1, 2]},
            {"progress": 3},
        ):
            with pytest.raises(ad.ConfigurationError):
                client.pull("stripe", "list-charges", credential_id=credential, **options)
        with pytest.raises(ad.ConfigurationError):
            client.pull("stripe", "list-charges", credential_id="")


def test_unknown_action_is_not_found_with_advice(sandbox):
    with client_for(sandbox) as client:
        pull = client.pull(
            "stripe",
            "list-nothing",
            progress=False,
            credential_id=sandbox.fixtures.credentials["stripe"],
        )
        with pytest.raises(ad.NotFoundError) as caught:
            pull.to_dataframe()
    assert "list-nothing" in str(caught.value)


def test_another_users_credential_is_refused(sandbox):
    with client_for(sandbox) as client:
        pull = client.pull(
            "stripe",
            "list-charges",
            progress=False,
            credential_id=sandbox.fixtures.other_credentials["stripe"],
        )
        with pytest.raises(ad.PermissionDeniedError):
            pull.to_dataframe()


def test_repr_shows_no_secret_parameters(sandbox):
    with client_for(sandbox) as client:
        pull = client.pull(
            "stripe",
            "list-charges",
            parameters={"api_token": "tok_123456789"},
            credential_id=sandbox.fixtures.credentials["stripe"],
        )
    assert "tok_123456789" not in repr(pull)
    assert "tok_123456789" not in pull.provenance()["parameters"]


def test_max_requests_per_second_is_never_exceeded(tmp_path):
    # The sandbox allows 50 requests a second (bursts of 50) and answers more with 429.
    with serve(port=0, records={"box": 600}, rate_limit=50) as sb, client_for(sb) as client:
        for _ in range(50):  # drain the burst, so only the steady rate is left
            client.connectors.list()
        time.sleep(0.1)  # a few tokens back: uncapped, 4 threads would still far outrun them
        updates: list[ProgressUpdate] = []
        pull = client.pull(
            "box",
            "list-files",
            credential_id=sb.fixtures.credentials["box"],
            page_size=20,
            concurrency=4,
            max_requests_per_second=40,
            progress=updates.append,
        )
        started = time.monotonic()
        ids = pull.to_dataframe()["id"].tolist()
        elapsed = time.monotonic() - started
    assert ids == expected_ids(sb, "box", "list-files")
    assert pull.stats.retries == 0  # no 429: the cap held
    # 31 requests (30 pages and one past the end at most) at 40 a second take 0.75 s or more.
    assert elapsed >= (pull.stats.requests - 1) / 40 - 0.01
    # Keeping to the cap is pacing, not waiting before retries (there were none).
    assert pull.stats.seconds_paced > 0
    assert pull.stats.seconds_waited == 0
    assert updates[-1].seconds_paced == pytest.approx(pull.stats.seconds_paced)
    assert updates[-1].seconds_waited == 0
    assert "paced to max_requests_per_second" in str(pull.stats)
    assert "paced to max_requests_per_second" in pull.stats._repr_html_()


def test_concurrent_pulls_slow_down_on_429():
    with serve(port=0, records={"box": 2_000}, rate_limit=15) as sb, client_for(sb) as client:
        # Honour the sandbox's Retry-After (1 s) as a real pull would.
        client._transport.retry_policy = RetryPolicy(
            max_retries=8, backoff_base=0.05, retry_after_cap=1.0
        )
        pull = client.pull(
            "box",
            "list-files",
            credential_id=sb.fixtures.credentials["box"],
            page_size=40,
            concurrency=8,
            progress=False,
        )
        ids = pull.to_dataframe()["id"].tolist()
    assert ids == expected_ids(sb, "box", "list-files")
    assert pull.stats.retries > 0
    assert pull._latest._limit.lowest < 8  # the run's own limit of requests in flight


def test_partial_results_exist_only_after_a_failure(sandbox):
    with client_for(sandbox) as client:
        pull = client.pull(
            "stripe",
            "list-charges",
            credential_id=sandbox.fixtures.credentials["stripe"],
            progress=False,
        )
        with pytest.raises(ad.ConfigurationError, match="no partial result"):
            pull.partial_arrow()
        pull.to_arrow()
        with pytest.raises(ad.ConfigurationError, match="did not fail part-way"):
            pull.partial_dataframe()


def test_a_pull_leaves_the_garbage_collector_as_it_found_it() -> None:
    # A pull changes no interpreter-wide setting: the threshold seen by every page's
    # conversion is the one the caller set.
    import gc

    seen: set[tuple[int, int, int]] = set()

    def watch(update: ProgressUpdate) -> None:
        seen.add(gc.get_threshold())

    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        with serve(port=0, seed=3, records=3_000) as sb, client_for(sb) as client:
            frame = client.pull(
                "box", "list-files", credential_id=sb.fixtures.credentials["box"], progress=watch
            ).to_dataframe()
        assert len(frame) == 3_000
        assert seen == {(700, 10, 10)}
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*saved)


@pytest.fixture(scope="module")
def many_pages() -> Iterator[Sandbox]:
    with serve(port=0, seed=5, records=6_000) as running:
        yield running


@pytest.mark.parametrize(
    ("connector", "action", "id_field", "page_size"),
    [("box", "list-files", "id", 100), ("xero", "list-invoices", "InvoiceID", 100),
     ("quickbooks", "list-customers", "Id", 50)],
    ids=["offset", "page-number", "alloy-offset"],
)  # fmt: skip
def test_positional_pulls_overlap_requests_by_default_and_grow_to_eight(
    many_pages, connector, action, id_field, page_size
):
    ids, pull = pull_ids(many_pages, connector, action, id_field, page_size=page_size)
    assert ids == expected_ids(many_pages, connector, action)
    assert pull.options.concurrency == "auto"
    assert pull.stats.concurrency == 8  # from 2, one more per clean run of answers
    assert any("side by side" in note for note in pull.stats.notes)


def test_a_cursor_pull_says_why_its_requests_do_not_overlap(many_pages):
    ids, pull = pull_ids(many_pages, "hubspot", "list-contacts", "id")
    assert ids == expected_ids(many_pages, "hubspot", "list-contacts")
    assert pull.stats.concurrency == 1
    assert any(
        "not overlapped: cursor paging needs each answer" in note for note in pull.stats.notes
    )
