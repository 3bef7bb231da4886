"""alloy_data.dask on a LocalCluster of two worker processes, against a sandbox subprocess.

Each check compares the Dask DataFrame with what ``client.pull_many(...)`` gives on this
machine for the same credentials.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
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

API_KEY = "sk_test_dask_4f1e9c2b7a3d5e8f0b6c1a9d2e7f3b5c"
RECORDS = {"shopify": 300, "stripe": 300, "box": 300, "notion": 300, "hubspot": 400}
SORT = ["_credential_id", "id"]


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    """A sandbox in a process of its own, as a real API would be: nothing shared with us."""
    command = [sys.executable, "-m", "alloy_data.sandbox", "--port", "0", "--seed", "7"]
    command += ["--api-key", API_KEY]
    for connector, count in RECORDS.items():
        command += ["--records", f"{connector}={count}"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            found = re.search(r"http://127\.0\.0\.1:\d+", process.stdout.readline())
            assert found, "the sandbox did not start"
            yield found.group(0)
        finally:
            process.terminate()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    with (
        distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def client(sandbox_url: str) -> Iterator[ad.AlloyClient]:
    with ad.AlloyClient(API_KEY, base_url=sandbox_url) as client:
        yield client


def targets(client: ad.AlloyClient, connector: str) -> list[tuple[str, str]]:
    found = client.pull_many(connector, "-", credentials="all", progress=False).targets()
    assert len(found) >= 2
    return [(t.user_id or "", t.credential_id) for t in found]


def local(
    client: ad.AlloyClient, connector: str, action: str, dtype_backend: str = "numpy_nullable"
) -> pd.DataFrame:
    many = client.pull_many(
        connector, action, credentials=targets(client, connector), progress=False
    )
    frame = many.to_dataframe(dtype_backend=dtype_backend)
    assert many.stats.failed == 0
    return frame


def ordered(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(SORT).reset_index(drop=True)


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
    ddf = alloy_dask.read_pull(client, connector, action, credentials=pairs)
    assert ddf.npartitions == len(pairs)
    computed = ddf.compute()
    expected = local(client, connector, action)
    assert list(computed.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(ordered(computed), ordered(expected))
    for index, (user, credential) in enumerate(pairs):
        partition = ddf.get_partition(index).compute()
        assert set(partition["_credential_id"]) == {credential}
        assert set(partition["_user_id"]) == {user}


def test_the_pyarrow_backend_and_a_client_config(
    dask_client: Any, client: ad.AlloyClient, tmp_path: Path
) -> None:
    ddf = alloy_dask.read_pull(
        client.config,
        "notion",
        "list-pages",
        credentials=targets(client, "notion"),
        dtype_backend="pyarrow",
    )
    expected = local(client, "notion", "list-pages", dtype_backend="pyarrow")
    pd.testing.assert_frame_equal(ordered(ddf.compute()), ordered(expected))
    ddf.to_parquet(tmp_path / "pages")
    read = pd.read_parquet(tmp_path / "pages", dtype_backend="pyarrow")
    pd.testing.assert_frame_equal(ordered(read), ordered(expected))


def test_to_parquet_writes_from_the_workers_and_pandas_reads_it(
    dask_client: Any, client: ad.AlloyClient, tmp_path: Path
) -> None:
    ddf = alloy_dask.read_pull(
        client, "shopify", "list-orders", credentials=targets(client, "shopify")
    )
    with distributed.get_task_stream(client=dask_client) as stream:
        ddf.to_parquet(tmp_path / "orders")
    # Every task ran on a worker process (Dask may fuse the pulls into the writing tasks).
    workers = {entry["worker"] for entry in stream.data}
    assert workers and workers <= set(dask_client.scheduler_info()["workers"])
    assert len(list((tmp_path / "orders").glob("part.*.parquet"))) == ddf.npartitions
    read = pd.read_parquet(tmp_path / "orders")
    expected = local(client, "shopify", "list-orders")
    pd.testing.assert_frame_equal(ordered(read), ordered(expected))


def test_a_type_the_sample_did_not_see_stops_with_the_fix(
    dask_client: Any, client: ad.AlloyClient
) -> None:
    # HubSpot's external_id is an integer up to record 300 and text after: the first page,
    # which types the columns, cannot know.
    pairs = targets(client, "hubspot")
    ddf = alloy_dask.read_pull(client, "hubspot", "list-contacts", credentials=pairs)
    with pytest.raises(ad.ConfigurationError) as raised:
        ddf.compute()
    message = str(raised.value)
    assert "'properties.external_id' is string here, int64 there" in message
    assert "schema={'properties.external_id': 'string'}" in message

    fixed = alloy_dask.read_pull(
        client,
        "hubspot",
        "list-contacts",
        credentials=pairs,
        schema={"properties.external_id": "string"},
    )
    expected = local(client, "hubspot", "list-contacts")
    assert expected["properties.external_id"].dtype == "string"
    pd.testing.assert_frame_equal(ordered(fixed.compute()), ordered(expected))


def test_a_failing_credential_is_left_out_or_raises(
    dask_client: Any, client: ad.AlloyClient
) -> None:
    (user, good), (_, other) = targets(client, "box")[:2]
    pairs = [(user, good), (user, other)]  # the second is another user's: 403
    ddf = alloy_dask.read_pull(client, "box", "list-files", credentials=pairs)
    computed = ddf.compute()
    assert set(computed["_credential_id"]) == {good}
    many = client.pull_many("box", "list-files", credentials=pairs, progress=False)
    expected = many.to_dataframe()
    assert [f.credential_id for f in many.stats.failures] == [other]
    pd.testing.assert_frame_equal(ordered(computed), ordered(expected))
    events = [event for _, event in dask_client.get_events(alloy_dask.EVENT_TOPIC)]
    assert any(
        e["credential_id"] == other and e["error_type"] == "PermissionDeniedError" for e in events
    )

    with pytest.raises(ad.PermissionDeniedError) as raised:
        alloy_dask.read_pull(
            client, "box", "list-files", credentials=pairs, on_error="raise"
        ).compute()
    assert raised.value.status == 403


def test_from_pull_many_runs_the_same_job(dask_client: Any, client: ad.AlloyClient) -> None:
    pairs = targets(client, "stripe")
    many = client.pull_many(
        "stripe", "list-charges", credentials=pairs, max_records=120, progress=False
    )
    ddf = alloy_dask.from_pull_many(many)
    assert ddf.npartitions == len(pairs)
    pd.testing.assert_frame_equal(ordered(ddf.compute()), ordered(many.to_dataframe()))
    assert len(ddf) == 120 * len(pairs)

    capped = client.pull_many(
        "stripe", "list-charges", credentials=pairs, max_total_requests_per_second=5
    )
    with pytest.raises(ad.ConfigurationError, match="max_requests_per_second"):
        alloy_dask.from_pull_many(capped)


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


def test_the_api_key_is_in_no_graph_task_key_or_log(
    dask_client: Any,
    client: ad.AlloyClient,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    dask_client.run(_install_log_capture)
    (user, good), (_, other) = targets(client, "box")[:2]
    ddf = alloy_dask.read_pull(
        client, "box", "list-files", credentials=[(user, good), (user, other)]
    )
    # The first credential types the columns here; the second fails on a worker.
    failing = alloy_dask.read_pull(
        client, "box", "list-files", credentials=[(user, good), (user, other)], on_error="raise"
    )
    shown: list[str] = []
    for frame in (ddf, failing):
        graph = frame.__dask_graph__()
        shown += [repr(frame), str(frame), repr(frame.dask), str(frame.dask)]
        shown += [repr(graph), str(graph), repr(frame.expr), str(frame.__dask_keys__())]
        rendered = [text for key, task in dict(graph).items() for text in _rendered((key, task))]
        # The walk reaches the spec and its masked key, so its silence about the key counts.
        assert any("MaskedSecret('sk_t…(" in text for text in rendered)
        shown += rendered
    with distributed.get_task_stream(client=dask_client) as stream:
        ddf.to_parquet(tmp_path / "files")
        with pytest.raises(ad.PermissionDeniedError):
            failing.compute()
    shown += [repr(stream.data)]
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
    ddf = alloy_dask.read_pull(client, "box", "list-files", credentials="all", max_records=10)
    found = client.pull_many("box", "list-files", credentials="all").targets()
    assert ddf.npartitions == len(found)
    assert all(isinstance(t, CredentialTarget) for t in found)
    computed = ddf.compute()
    assert sorted(set(computed["_credential_id"])) == sorted(t.credential_id for t in found)
    assert len(computed) == 10 * len(found)
