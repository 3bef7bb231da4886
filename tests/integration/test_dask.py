"""alloy_data.dask on a LocalCluster of two worker processes, against the sandbox.

Each check compares the Dask DataFrame with what ``client.pull_many(...)`` gives on this
machine for the same credentials: the same rows in the same order, the same columns, the same
dtypes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("dask.dataframe", reason="dask is not installed (the dask and dev extras)")
distributed = pytest.importorskip("distributed", reason="distributed is not installed")

import pandas as pd  # noqa: E402

import alloy_data as ad  # noqa: E402
from alloy_data import dask as alloy_dask  # noqa: E402
from alloy_data.many import CredentialTarget  # noqa: E402
from alloy_data.sandbox import Sandbox, serve  # noqa: E402

API_KEY = "sk_test_dask_4f1e9c2b7a3d5e8f0b6c1a9d2e7f3b5c"
RECORDS = {"shopify": 300, "stripe": 300, "box": 300, "notion": 300, "hubspot": 400}
#: Two tenants more, with records of their own: Shopify's discount_code starts at record 150
#: and HubSpot's external_id turns from a number to text at record 300, so the first tenant
#: has neither and the second has both, on a later page.
TENANT_RECORDS = [120, 320]
SORT = ["_credential_id", "id"]
ROOT = Path(ad.__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with serve(
        port=0,
        seed=7,
        api_key=API_KEY,
        records=RECORDS,
        tenants=len(TENANT_RECORDS),
        tenant_records=TENANT_RECORDS,
    ) as running:
        yield running


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    # The workers import the alloy_data under test, wherever it is.
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    with (
        distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
            # The scheduler's HTTP server on a free port: 8787 may be another cluster's.
            scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
            env={"PYTHONPATH": path},
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        imported = client.run(lambda: __import__("alloy_data").__file__)
        assert {Path(file).resolve() for file in imported.values()} == {Path(ad.__file__).resolve()}
        yield client


@pytest.fixture(scope="module")
def client(sb: Sandbox) -> Iterator[ad.AlloyClient]:
    with ad.AlloyClient(API_KEY, base_url=sb.url, user_id=sb.fixtures.user_id) as client:
        yield client


def targets(client: ad.AlloyClient, connector: str) -> list[tuple[str, str]]:
    found = client.pull_many(connector, "-", credentials="all", progress=False).targets()
    assert len(found) >= 2
    return [(t.user_id or "", t.credential_id) for t in found]


def tenants(sb: Sandbox, connector: str) -> list[tuple[str, str]]:
    return [(tenant.user_id, tenant.credentials[connector]) for tenant in sb.fixtures.tenants]


def local(
    client: ad.AlloyClient,
    connector: str,
    action: str,
    dtype_backend: str = "numpy_nullable",
    **options: Any,
) -> pd.DataFrame:
    options.setdefault("credentials", targets(client, connector))
    many = client.pull_many(connector, action, progress=False, **options)
    frame = many.to_dataframe(dtype_backend=dtype_backend)
    assert many.stats.failed == 0
    return frame


def ordered(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(SORT).reset_index(drop=True)


def assert_same(computed: pd.DataFrame, expected: pd.DataFrame) -> None:
    """The same columns and dtypes, and each credential's rows in the same order."""
    assert list(computed.columns) == list(expected.columns)
    assert list(computed.dtypes) == list(expected.dtypes)
    pd.testing.assert_frame_equal(computed.reset_index(drop=True), expected)


@pytest.mark.parametrize(
    ("connector", "action"),
    [
        ("box", "list-files"),  # offset paging
        ("notion", "list-pages"),  # cursor paging, lists of objects
        ("shopify", "list-orders"),  # nested objects, line items, a field from record 150 on
        ("stripe", "list-charges"),  # last-id paging
    ],
)
def test_one_partition_per_credential_holding_the_rows_of_pull_many(
    dask_client: Any, client: ad.AlloyClient, connector: str, action: str
) -> None:
    pairs = targets(client, connector)
    ddf = alloy_dask.read_pull(client, connector, action, credentials=pairs, progress=False)
    assert ddf.npartitions == len(pairs)
    assert_same(ddf.compute(), local(client, connector, action))
    for index, (user, credential) in enumerate(pairs):
        partition = ddf.get_partition(index).compute()
        assert set(partition["_credential_id"]) == {credential}
        assert set(partition["_user_id"]) == {user}


@pytest.mark.parametrize(
    ("connector", "action", "column", "options"),
    [
        # from record 150 on: page 4 of the second tenant, never in the first's
        ("shopify", "list-orders", "discount_code", {"page_size": 50}),
        # a number up to record 300 and text after: the second tenant's last page
        ("hubspot", "list-contacts", "properties.external_id", {}),
    ],
)
def test_columns_that_come_late_or_from_some_credentials_only_are_those_of_pull_many(
    dask_client: Any,
    client: ad.AlloyClient,
    sb: Sandbox,
    connector: str,
    action: str,
    column: str,
    options: dict[str, Any],
) -> None:
    pairs = tenants(sb, connector)
    # What typing from a first page would see: the column absent, or a number.
    first = client.pull_many(
        connector, action, credentials=pairs[:1], max_pages=1, progress=False, **options
    ).to_arrow()
    assert column not in first.column_names or str(first.schema.field(column).type) == "int64"

    ddf = alloy_dask.read_pull(
        client, connector, action, credentials=pairs, progress=False, **options
    )
    expected = local(client, connector, action, credentials=pairs, **options)
    assert column in expected.columns
    assert list(ddf.columns) == list(expected.columns)
    for name, lazy in ddf.dtypes.items():
        # Dask writes Parquet from the lazy types, which cannot say what an object column of
        # lists holds: there, and only there, they are the ArrowDtype of the same values.
        if expected[name].dtype == object:
            assert isinstance(lazy, pd.ArrowDtype), name
        else:
            assert lazy == expected[name].dtype, name
    computed = ddf.compute()
    assert_same(computed, expected)
    for user, credential in pairs:
        ids = sb.expected_ids(connector, action, credential_id=credential)
        if "max_records" not in options:
            assert computed[computed["_credential_id"] == credential]["id"].tolist() == ids
        assert set(computed[computed["_credential_id"] == credential]["_user_id"]) == {user}


def test_the_pulls_run_once_when_read_pull_is_called(
    dask_client: Any, client: ad.AlloyClient, sb: Sandbox
) -> None:
    before = sb.request_count
    ddf = alloy_dask.read_pull(
        client, "box", "list-files", credentials=tenants(sb, "box"), progress=False
    )
    fetched = sb.request_count
    assert fetched > before
    first = ddf.compute()
    pd.testing.assert_frame_equal(ddf.compute(), first)
    assert sb.request_count == fetched  # computing reads the tables kept on the workers


def test_every_option_reaches_the_pulls_on_the_workers(
    dask_client: Any, client: ad.AlloyClient
) -> None:
    pairs = targets(client, "stripe")
    options: dict[str, Any] = {
        "max_records": 7,
        "timestamps": "off",
        "user_column": "tenant",
        "credential_column": "store",
    }
    ddf = alloy_dask.read_pull(
        client, "stripe", "list-charges", credentials=pairs, progress=False, **options
    )
    computed = ddf.compute()
    expected = local(client, "stripe", "list-charges", credentials=pairs, **options)
    assert_same(computed, expected)
    assert len(computed) == 7 * len(pairs)
    assert str(computed["created"].dtype) == "Int64"  # "off": epoch numbers stay numbers
    assert list(computed.columns[-2:]) == ["tenant", "store"]
    default = alloy_dask.read_pull(
        client, "stripe", "list-charges", credentials=pairs[:1], max_records=3, progress=False
    ).compute()
    assert str(default["created"].dtype) == "datetime64[us, UTC]"

    pages = alloy_dask.read_pull(
        client,
        "box",
        "list-files",
        credentials=targets(client, "box"),
        page_size=10,
        max_pages=2,
        progress=False,
    ).compute()
    assert pages.groupby("_credential_id").size().tolist() == [20] * len(targets(client, "box"))


def test_incremental_keeps_what_changed_since_its_start(
    dask_client: Any, client: ad.AlloyClient, sb: Sandbox
) -> None:
    pairs = tenants(sb, "shopify")
    everything = local(client, "shopify", "list-orders", credentials=pairs)
    start = everything["updated_at"].sort_values().iloc[len(everything) // 2].to_pydatetime()
    incremental = ad.Incremental(cursor_field="updated_at", primary_key="id", start=start)
    ddf = alloy_dask.read_pull(
        client, "shopify", "list-orders", credentials=pairs, incremental=incremental,
        progress=False,
    )  # fmt: skip
    computed = ddf.compute()
    expected = local(client, "shopify", "list-orders", credentials=pairs, incremental=incremental)
    assert_same(computed, expected)
    assert 0 < len(computed) < len(everything)
    assert (computed["updated_at"] >= start).all()


@contextlib.contextmanager
def executes(
    sb: Sandbox, monkeypatch: pytest.MonkeyPatch, *, latency_ms: int = 10
) -> Iterator[list[tuple[float, str]]]:
    """Each execute request the sandbox answers: when it came, and for which credential."""
    seen: list[tuple[float, str]] = []
    handle = sb.api.handle

    def recording(request: Any) -> Any:
        if request.method == "POST" and request.path.endswith("/execute"):
            seen.append((time.monotonic(), request.json_object().get("credentialId")))
        return handle(request)

    with monkeypatch.context() as patch:
        patch.setattr(sb.api, "handle", recording)
        patch.setattr(sb, "latency_ms", latency_ms)  # so that pulls side by side overlap
        yield seen


def runs(credentials: list[str]) -> int:
    """How many runs of one credential the sequence has: 2 for AAABBB, 6 for ABABAB."""
    return sum(1 for i, c in enumerate(credentials) if i == 0 or credentials[i - 1] != c)


@pytest.mark.parametrize("workers", [1, None])
def test_workers_is_how_many_credentials_are_pulled_at_once(
    dask_client: Any,
    client: ad.AlloyClient,
    sb: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    workers: int | None,
) -> None:
    pairs = tenants(sb, "box")
    with executes(sb, monkeypatch, latency_ms=25) as seen:
        # A request at a time, a dozen of them: each pull takes a third of a second or more.
        ddf = alloy_dask.read_pull(
            client, "box", "list-files", credentials=pairs, workers=workers, page_size=5,
            max_records=60, concurrency=1, progress=False,
        )  # fmt: skip
    assert len(ddf.compute()) == 60 * len(pairs)
    order = [credential for _, credential in seen]
    assert set(order) == {credential for _, credential in pairs}
    if workers == 1:
        assert runs(order) == len(pairs)  # one credential after the other
    else:
        assert runs(order) > len(pairs)  # side by side, on both workers


def test_max_total_requests_per_second_is_shared_by_the_running_pulls(
    dask_client: Any, client: ad.AlloyClient, sb: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    pairs = tenants(sb, "box")
    with executes(sb, monkeypatch) as seen:
        ddf = alloy_dask.read_pull(
            client, "box", "list-files", credentials=pairs, page_size=10, max_records=60,
            max_total_requests_per_second=20, progress=False,
        )  # fmt: skip
    assert len(ddf.compute()) == 60 * len(pairs)
    times = [when for when, _ in seen]
    # Each running pull may start at once, then keeps to its share (10 a second here); a tenth
    # more for the clocks. Without the cap, the requests come many times faster.
    assert len(times) <= 20 * (times[-1] - times[0]) * 1.1 + len(pairs)
    assert len(times) >= 12


def test_progress_is_the_clusters_bar_or_nothing(
    dask_client: Any, client: ad.AlloyClient, sb: Sandbox, capfd: pytest.CaptureFixture[str]
) -> None:
    pairs = tenants(sb, "box")
    alloy_dask.read_pull(
        client, "box", "list-files", credentials=pairs, max_records=5, progress="terminal"
    )
    shown = capfd.readouterr()
    assert "100% Completed" in shown.out + shown.err
    alloy_dask.read_pull(
        client, "box", "list-files", credentials=pairs, max_records=5, progress=False
    )
    quiet = capfd.readouterr()
    assert "Completed" not in quiet.out + quiet.err


def test_the_pyarrow_backend_and_a_client_config(
    dask_client: Any, client: ad.AlloyClient, tmp_path: Path
) -> None:
    ddf = alloy_dask.read_pull(
        client.config,
        "notion",
        "list-pages",
        credentials=targets(client, "notion"),
        dtype_backend="pyarrow",
        progress=False,
    )
    expected = local(client, "notion", "list-pages", dtype_backend="pyarrow")
    assert_same(ddf.compute(), expected)
    ddf.to_parquet(tmp_path / "pages")
    read = pd.read_parquet(tmp_path / "pages", dtype_backend="pyarrow")
    pd.testing.assert_frame_equal(ordered(read), ordered(expected))


def test_to_parquet_writes_from_the_workers_and_pandas_reads_it(
    dask_client: Any, client: ad.AlloyClient, tmp_path: Path
) -> None:
    ddf = alloy_dask.read_pull(
        client, "shopify", "list-orders", credentials=targets(client, "shopify"), progress=False
    )
    with distributed.get_task_stream(client=dask_client) as stream:
        ddf.to_parquet(tmp_path / "orders")
    # Every task ran on a worker process.
    workers = {entry["worker"] for entry in stream.data}
    assert workers and workers <= set(dask_client.scheduler_info()["workers"])
    assert len(list((tmp_path / "orders").glob("part.*.parquet"))) == ddf.npartitions
    read = pd.read_parquet(tmp_path / "orders")
    expected = local(client, "shopify", "list-orders")
    pd.testing.assert_frame_equal(ordered(read), ordered(expected))


def test_a_schema_of_your_own_overrides_and_is_checked_now(
    dask_client: Any, client: ad.AlloyClient
) -> None:
    pairs = targets(client, "hubspot")
    expected = local(client, "hubspot", "list-contacts")
    assert expected["properties.external_id"].dtype == "string"
    fixed = alloy_dask.read_pull(
        client,
        "hubspot",
        "list-contacts",
        credentials=pairs,
        schema={"properties.external_id": "string"},
        progress=False,
    )
    assert_same(fixed.compute(), expected)

    with pytest.raises(ad.ConfigurationError) as raised:
        alloy_dask.read_pull(
            client,
            "hubspot",
            "list-contacts",
            credentials=pairs,
            schema={"properties.external_id": "int64"},
            progress=False,
        )
    message = str(raised.value)
    assert "'properties.external_id' is string here, int64 there" in message
    assert "schema={'properties.external_id': 'string'}" in message


def test_a_failing_credential_is_left_out_or_raises(
    dask_client: Any, client: ad.AlloyClient
) -> None:
    (user, good), (_, other) = targets(client, "box")[:2]
    pairs = [(user, good), (user, other)]  # the second is another user's: 403
    ddf = alloy_dask.read_pull(client, "box", "list-files", credentials=pairs, progress=False)
    computed = ddf.compute()
    assert set(computed["_credential_id"]) == {good}
    many = client.pull_many("box", "list-files", credentials=pairs, progress=False)
    expected = many.to_dataframe()
    assert [f.credential_id for f in many.stats.failures] == [other]
    assert_same(computed, expected)
    events = [event for _, event in dask_client.get_events(alloy_dask.EVENT_TOPIC)]
    assert any(
        e["credential_id"] == other and e["error_type"] == "PermissionDeniedError" for e in events
    )

    with pytest.raises(ad.PermissionDeniedError) as raised:
        alloy_dask.read_pull(
            client, "box", "list-files", credentials=pairs, on_error="raise", progress=False
        )
    assert raised.value.status == 403


def test_from_pull_many_runs_the_same_job(dask_client: Any, client: ad.AlloyClient) -> None:
    pairs = targets(client, "stripe")
    many = client.pull_many(
        "stripe", "list-charges", credentials=pairs, max_records=120, progress=False
    )
    ddf = alloy_dask.from_pull_many(many)
    assert ddf.npartitions == len(pairs)
    assert_same(ddf.compute(), many.to_dataframe())
    assert len(ddf) == 120 * len(pairs)

    capped = client.pull_many(
        "stripe", "list-charges", credentials=pairs, max_records=20, workers=1,
        max_total_requests_per_second=50, progress=False,
    )  # fmt: skip
    assert_same(alloy_dask.from_pull_many(capped).compute(), capped.to_dataframe())


def _install_log_capture(dask_worker: Any) -> None:
    import logging.handlers

    handler = logging.handlers.BufferingHandler(capacity=1_000_000)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    handler.set_name("alloy-data-test-capture")
    logging.getLogger().addHandler(handler)
    logging.getLogger("alloy_data").setLevel(logging.DEBUG)


def _collect_log_capture(dask_worker: Any) -> list[str]:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == "alloy-data-test-capture":
            root.removeHandler(handler)
            return [handler.format(record) for record in handler.buffer]  # type: ignore[attr-defined]
    return []


def _rendered(value: Any, depth: int = 0) -> Iterator[str]:
    """repr and str of a task and of everything inside it: a task's own repr elides its
    arguments, and the key would hide there."""
    yield repr(value)
    yield str(value)
    if depth > 20:
        return
    inside: list[Any] = []
    if hasattr(value, "func") and hasattr(value, "args"):  # a dask Task
        inside += [value.func, *value.args, *getattr(value, "kwargs", {}).values()]
    elif hasattr(value, "value") and type(value).__name__ == "DataNode":
        inside.append(value.value)
    elif isinstance(value, (list, tuple, set)):
        inside += list(value)
    elif isinstance(value, dict):
        inside += [*value.keys(), *value.values()]
    elif hasattr(value, "__dataclass_fields__"):
        inside += [getattr(value, name) for name in value.__dataclass_fields__]
    for item in inside:
        yield from _rendered(item, depth + 1)


def _scheduler_tasks(dask_scheduler: Any) -> list[str]:
    return [
        text
        for key, state in dask_scheduler.tasks.items()
        for text in _rendered((key, state.run_spec))
    ]


def test_the_api_key_is_in_no_graph_task_key_or_log(
    dask_client: Any,
    client: ad.AlloyClient,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    dask_client.run(_install_log_capture)
    (user, good), (_, other) = targets(client, "box")[:2]
    pairs = [(user, good), (user, other)]
    with distributed.get_task_stream(client=dask_client) as stream:
        # The pulls run on the workers here; the second credential fails there.
        ddf = alloy_dask.read_pull(client, "box", "list-files", credentials=pairs)
        with pytest.raises(ad.PermissionDeniedError):
            alloy_dask.read_pull(client, "box", "list-files", credentials=pairs, on_error="raise")
        ddf.to_parquet(tmp_path / "files")
    graph = ddf.__dask_graph__()
    shown = [repr(ddf), str(ddf), repr(ddf.dask), str(ddf.dask)]
    shown += [repr(graph), str(graph), repr(ddf.expr), str(ddf.__dask_keys__())]
    shown += [text for key, task in dict(graph).items() for text in _rendered((key, task))]
    # The tasks the scheduler keeps for the pulls hold the spec and its masked key, so the
    # walk's silence about the key counts.
    on_scheduler = dask_client.run_on_scheduler(_scheduler_tasks)
    assert any("MaskedSecret('sk_t…(" in text for text in on_scheduler)
    shown += [*on_scheduler, repr(stream.data)]
    worker_lines = dask_client.run(_collect_log_capture)
    # The capture saw the workers' request log, so its silence about the key means something.
    assert any("list-files" in line for lines in worker_lines.values() for line in lines)
    shown += [line for lines in worker_lines.values() for line in lines]
    shown += [repr(dask_client.get_worker_logs()), repr(dask_client.get_scheduler_logs())]
    shown += [repr(dask_client.get_events()), caplog.text]
    spec = alloy_dask.ClientSpec.from_config(client.config)
    shown += [repr(spec), str(spec), repr(spec.api_key), str(spec.api_key)]
    leaked = [text[:200] for text in shown if API_KEY in text]
    assert leaked == []
    assert spec.connect().config.api_key == API_KEY


def test_credentials_as_targets_of_pull_many(dask_client: Any, client: ad.AlloyClient) -> None:
    # "all" asks the API for every user's credentials, as pull_many does.
    ddf = alloy_dask.read_pull(
        client, "box", "list-files", credentials="all", max_records=10, progress=False
    )
    found = client.pull_many("box", "list-files", credentials="all").targets()
    assert ddf.npartitions == len(found)
    assert all(isinstance(t, CredentialTarget) for t in found)
    computed = ddf.compute()
    assert sorted(set(computed["_credential_id"])) == sorted(t.credential_id for t in found)
    assert len(computed) == 10 * len(found)


def test_read_pull_with_max_age_fills_the_store_that_pull_many_is_served_from(
    dask_client: Any, sb: Sandbox, tmp_path: Path
) -> None:
    with ad.AlloyClient(
        API_KEY, base_url=sb.url, user_id=sb.fixtures.user_id, store=tmp_path
    ) as stored:
        pairs = targets(stored, "box")
        ddf = alloy_dask.read_pull(
            stored, "box", "list-files", credentials=pairs, max_age="1h", progress=False
        )
        computed = ddf.compute()
        # Each worker wrote its credential's copy into the client's store.
        assert sorted(stored.store.list()["credential"]) == sorted(c for _, c in pairs)
        before = sb.request_count
        many = stored.pull_many(
            "box", "list-files", credentials=pairs, max_age="1h", progress=False
        )
        served = many.to_dataframe()
        assert sb.request_count == before  # no page, no action details: all from the store
        assert_same(ordered(computed), ordered(served))


def test_partitions_pace_to_each_credentials_rate_limit(dask_client: Any) -> None:
    # Each worker process keeps the budgets of the credentials it pulls.
    with serve(port=0, api_key=API_KEY, records=10, tenants=2, tenant_records=2000,
               limits=["5/0.5s:x-ratelimit"]) as limited:  # fmt: skip
        pairs = [(t.user_id, t.credentials["box"]) for t in limited.fixtures.tenants]
        with ad.AlloyClient(API_KEY, base_url=limited.url) as alloy:
            ddf = alloy_dask.read_pull(
                alloy, "box", "list-files", credentials=pairs, page_size=50, progress=False
            )
            frame = ddf.compute()
        assert len(frame) == 4000
        # 40 pages each at 5 a window: without pacing about 30 requests are refused.
        assert limited.limit_refusals <= len(pairs)


def table_frame(table: Any) -> pd.DataFrame:
    from alloy_data.frames import to_dataframe

    return to_dataframe(table)


@pytest.mark.parametrize(
    ("connector", "action", "options", "key"),
    [
        # line items; the record's id keys the parent, a field comes from record 150 on
        ("shopify", "list-orders", {"page_size": 50}, "id"),
        # no id among the columns: the parent is keyed by its row, counted across credentials
        ("shopify", "list-orders", {"columns": ["name", "line_items"]}, "_row"),
        # items' nested objects kept as structs
        ("shopify", "list-orders", {"flatten": "struct", "columns": ["id", "line_items"]}, "id"),
        ("notion", "list-pages", {}, "id"),
    ],
)
def test_read_tables_gives_the_tables_of_pull_many(
    dask_client: Any,
    client: ad.AlloyClient,
    connector: str,
    action: str,
    options: dict[str, Any],
    key: str,
) -> None:
    import dask.dataframe as dd

    pairs = targets(client, connector)
    many = client.pull_many(connector, action, credentials=pairs, progress=False, **options)
    expected = many.to_tables()
    assert many.stats.failed == 0
    frames = alloy_dask.read_tables(
        client, connector, action, credentials=pairs, progress=False, **options
    )
    assert list(frames) == list(expected)
    assert len(expected) >= 2  # a parent and at least one child
    for name, table in expected.items():
        frame = frames[name]
        assert isinstance(frame, dd.DataFrame)
        assert frame.npartitions == len(pairs)
        computed = frame.compute().reset_index(drop=True)
        wanted = table_frame(table)
        assert list(computed.columns) == list(wanted.columns), name
        assert list(computed.dtypes) == list(wanted.dtypes), name
        assert len(computed) == table.num_rows > 0, name
        # The same rows, in the same order: each credential's in turn.
        pd.testing.assert_frame_equal(computed, wanted, check_dtype=True)
        assert set(computed["_credential_id"]) == {c for _, c in pairs}, name
    parent_name, children = next(iter(expected)), list(expected)[1:]
    parent = frames[parent_name]
    assert key in parent.columns
    for name in children:
        if name.count("__") > 1:
            continue
        child = frames[name]
        joined = dd.merge(
            child,
            parent,
            left_on=["_credential_id", f"_parent_{key}"],
            right_on=["_credential_id", key],
            how="inner",
        )
        assert len(joined) == expected[name].num_rows, name
    if key == "_row":
        rows = parent["_row"].compute()
        assert sorted(rows) == list(range(expected[parent_name].num_rows))
