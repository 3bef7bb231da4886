"""Incremental pulls against the sandbox as its clock moves: filtering, newest-first, neither.

For each kind of app, 100,000 records are pulled into a Parquet file, 1% of them change
(half updated, half inserted), and a merge run must leave the file equal to a fresh full pull,
ids and values, fetching few pages where the app allows it. At 100,000 records these are field
tests (`make test-field`); `make test` runs them on 10,000.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import alloy_data as ad
from alloy_data.progress import ProgressUpdate
from alloy_data.sandbox import Sandbox, serve

RECORDS = 100_000
QUICK_RECORDS = 10_000
CASES = {
    # connector, action, cursor field, how the second run narrows what it fetches
    "filter": ("shopify", "list-orders", "updated_at", "filter"),
    "filter-epoch": ("stripe", "list-charges", "created", "filter"),
    "newest-first": ("notion", "list-pages", "last_edited_time", "newest_first"),
    "neither": ("hubspot", "list-contacts", "updatedAt", "full"),
}


@pytest.fixture(
    scope="module",
    params=[
        pytest.param(QUICK_RECORDS, id="10k"),
        pytest.param(
            RECORDS,
            id="100k",
            # make test-field keeps the tests that share this sandbox on one worker.
            marks=[pytest.mark.field, pytest.mark.xdist_group("incremental-100k")],
        ),
    ],
)
def records(request: pytest.FixtureRequest) -> int:
    """Records an app: each test runs on 10,000, and on 100,000 as a field test."""
    return request.param


@pytest.fixture(scope="module")
def clock_sandbox(records: int) -> Iterator[Sandbox]:
    counts = {connector: records for connector, *_ in CASES.values()}
    with serve(records=counts, seed=7) as sandbox:
        yield sandbox


def _client(sandbox: Sandbox) -> ad.AlloyClient:
    return ad.AlloyClient(
        api_key=sandbox.api_key, base_url=sandbox.url, user_id=sandbox.fixtures.user_id
    )


def _pull(sandbox: Sandbox, case: str, **options: Any) -> ad.pull.Pull:
    connector, action, cursor, _ = CASES[case]
    return _client(sandbox).pull(
        connector,
        action,
        credential_id=sandbox.fixtures.credentials[connector],
        incremental=ad.Incremental(cursor, primary_key="id"),
        progress=options.pop("progress", False),
        **options,
    )


def _fresh(sandbox: Sandbox, case: str) -> pa.Table:
    connector, action, *_ = CASES[case]
    credential = sandbox.fixtures.credentials[connector]
    pull = _client(sandbox).pull(connector, action, credential_id=credential, progress=False)
    return pull.to_arrow()


def _same(path: Path, fresh: pa.Table) -> None:
    """The file holds the same records as ``fresh``: ids, columns and every value."""
    merged = pq.read_table(path).replace_schema_metadata(None).sort_by("id")
    fresh = fresh.sort_by("id")
    assert merged.column("id").to_pylist() == fresh.column("id").to_pylist()
    assert sorted(merged.column_names) == sorted(fresh.column_names)
    for name in fresh.column_names:
        theirs, ours = fresh.column(name), merged.column(name)
        if ours.type != theirs.type:
            # Pages converted apart may carry a wider type (microseconds for milliseconds).
            try:
                ours = ours.cast(theirs.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                assert ours.to_pylist() == theirs.to_pylist(), name
                continue
        assert ours.equals(theirs), name


class Interrupt:
    """A progress callback that stops the run, as Ctrl-C would, once ``pages`` are fetched."""

    def __init__(self, pages: int) -> None:
        self.pages = pages

    def __call__(self, update: ProgressUpdate) -> None:
        if update.pages >= self.pages and not update.done:
            raise KeyboardInterrupt


@pytest.mark.parametrize("case", list(CASES))
def test_a_merge_after_one_percent_changed_equals_a_fresh_full_pull(
    clock_sandbox: Sandbox, records: int, case: str, tmp_path: Path
) -> None:
    strategy = CASES[case][3]
    path = tmp_path / "data.parquet"
    first = _pull(clock_sandbox, case)
    first.to_parquet(path, mode="merge")
    assert first.stats.incremental == "first_run"
    full_pages = first.stats.pages
    mark = ad.read_metadata(path)["incremental"]
    assert first.stats.high_water_mark is not None and mark

    inserts = 0 if case == "neither" else records // 200
    updates = 0 if case == "filter-epoch" else records // 200
    clock_sandbox.advance_clock(86_400, updates=updates, inserts=inserts or records // 200)

    second = _pull(clock_sandbox, case)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        second.to_parquet(path, mode="merge")
    assert second.stats.incremental == strategy, second.stats.notes
    fell_back = [w for w in caught if issubclass(w.category, ad.IncrementalWarning)]
    assert bool(fell_back) == (strategy == "full")
    assert second.stats.high_water_mark > first.stats.high_water_mark
    if strategy != "full":
        # The figure docs/benchmarks.md reports: at most 5% of a full pull's pages.
        assert second.stats.pages <= max(2, full_pages * 0.05), (second.stats.pages, full_pages)
    fresh = _fresh(clock_sandbox, case)
    _same(path, fresh)

    # Nothing changed since: the file keeps its rows and values.
    third = _pull(clock_sandbox, case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ad.IncrementalWarning)
        third.to_parquet(path, mode="merge")
    assert int(ad.read_metadata(path)["row_count"]) == len(fresh)
    _same(path, fresh)


@pytest.mark.parametrize("case", ["filter", "newest-first", "neither"])
def test_a_merge_stopped_half_way_resumes_to_the_same_dataset(
    clock_sandbox: Sandbox, case: str, tmp_path: Path
) -> None:
    path = tmp_path / "data.parquet"
    _pull(clock_sandbox, case).to_parquet(path, mode="merge")
    before = path.read_bytes()
    # 2,000 changes, twenty pages of 100 or more, so that the merge is stopped early on.
    clock_sandbox.advance_clock(86_400, updates=1_000, inserts=1_000)

    stopped = _pull(clock_sandbox, case, progress=Interrupt(pages=2), page_size=100)
    with pytest.raises(KeyboardInterrupt), warnings.catch_warnings():
        warnings.simplefilter("ignore", ad.IncrementalWarning)
        stopped.to_parquet(path, mode="merge")
    assert path.read_bytes() == before  # the file is untouched until the merge is complete

    resumed = _pull(clock_sandbox, case, page_size=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ad.IncrementalWarning)
        resumed.to_parquet(path, mode="merge", resume=True)
    _same(path, _fresh(clock_sandbox, case))


def test_append_keeps_every_version_and_a_run_without_changes_adds_nothing(
    clock_sandbox: Sandbox, tmp_path: Path
) -> None:
    path = tmp_path / "versions.parquet"
    _pull(clock_sandbox, "filter").to_parquet(path, mode="append")
    rows = pq.read_metadata(path).num_rows
    clock_sandbox.advance_clock(3_600, updates=50, inserts=20)
    second = _pull(clock_sandbox, "filter")
    second.to_parquet(path, mode="append")
    table = pq.read_table(path, columns=["id"]).column("id").to_pylist()
    assert len(table) == rows + 70
    assert len(set(table)) == rows + 20  # the 50 updated records are there twice
    _pull(clock_sandbox, "filter").to_parquet(path, mode="append")
    assert pq.read_metadata(path).num_rows == rows + 70


def test_in_memory_runs_keep_their_own_mark(clock_sandbox: Sandbox) -> None:
    pull = _pull(clock_sandbox, "filter")
    pull.to_arrow()
    mark = pull.stats.high_water_mark
    clock_sandbox.advance_clock(3_600, updates=30, inserts=10)
    changed = pull.to_dataframe(since=mark)
    assert pull.stats.incremental == "filter"
    assert 40 <= len(changed) <= 45  # the 40 changes, and records written in the mark's second
    assert pull.stats.high_water_mark > mark


def test_pull_many_merges_each_credential_from_its_own_mark(tmp_path: Path) -> None:
    with serve(tenants=3, tenant_records=[3_000, 1_000, 2_000], seed=3) as sandbox:
        client = _client(sandbox)
        incremental = ad.Incremental("updated_at", primary_key="id")
        directory = tmp_path / "orders"

        def run() -> ad.many.MultiPull:
            many = client.pull_many(
                "shopify", "list-orders", credentials="all", incremental=incremental, progress=False
            )
            many.to_parquet(directory, mode="merge")
            return many

        first = run()
        sandbox.advance_clock(86_400, updates=0.01, inserts=0.01)
        second = run()
        assert second.stats.pages <= first.stats.pages / 4
        fresh = client.pull_many("shopify", "list-orders", credentials="all", progress=False)
        keys = [("_credential_id", "ascending"), ("id", "ascending")]
        expected = fresh.to_arrow().sort_by(keys)
        merged = pq.read_table(directory).sort_by(keys)
        for name in ("_credential_id", "id", "updated_at", "total_price"):
            assert merged.column(name).to_pylist() == expected.column(name).to_pylist(), name
        assert (directory / "_SUCCESS").exists()


def test_the_command_line_merges_into_a_file(clock_sandbox: Sandbox, tmp_path: Path) -> None:
    from alloy_data.cli import main

    path = tmp_path / "orders.parquet"
    base = [
        "--base-url",
        clock_sandbox.url,
        "--api-key",
        clock_sandbox.api_key,
        "--user",
        clock_sandbox.fixtures.user_id,
    ]
    argv = [
        "pull",
        "shopify",
        "list-orders",
        *base,
        "--credential",
        clock_sandbox.fixtures.credentials["shopify"],
        "--out",
        str(path),
        "--incremental",
        "updated_at",
        "--primary-key",
        "id",
        "--no-progress",
    ]
    assert main(argv) == 0
    clock_sandbox.advance_clock(3_600, updates=100, inserts=100)
    assert main(argv) == 0
    _same(path, _fresh(clock_sandbox, "filter"))


KILLED_MERGE = r"""
import os, sys
import alloy_data as ad

client = ad.AlloyClient(
    os.environ["SANDBOX_KEY"],
    base_url=os.environ["SANDBOX_URL"],
    user_id=os.environ["SANDBOX_USER"],
)
pull = client.pull(
    "shopify",
    "list-orders",
    credential_id=os.environ["SANDBOX_CREDENTIAL"],
    incremental=ad.Incremental("updated_at", primary_key="id"),
    page_size=100,
    progress=False,
)
pull.to_parquet(sys.argv[1], mode="merge")
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_merge_killed_with_sigkill_keeps_the_file_and_resumes(tmp_path: Path) -> None:
    with serve(records={"shopify": 20_000}, seed=13, latency_ms=20) as sandbox:
        credential = sandbox.fixtures.credentials["shopify"]

        def orders() -> ad.pull.Pull:
            return _client(sandbox).pull(
                "shopify",
                "list-orders",
                credential_id=credential,
                incremental=ad.Incremental("updated_at", primary_key="id"),
                page_size=100,
                progress=False,
            )

        path = tmp_path / "orders.parquet"
        orders().to_parquet(path, mode="merge")
        before = path.read_bytes()
        sandbox.advance_clock(86_400, updates=8_000)
        environment = {
            **os.environ,
            "SANDBOX_KEY": sandbox.api_key,
            "SANDBOX_URL": sandbox.url,
            "SANDBOX_USER": sandbox.fixtures.user_id,
            "SANDBOX_CREDENTIAL": credential,
        }
        child = subprocess.Popen(
            [sys.executable, "-c", KILLED_MERGE, str(path)],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        checkpoint = Path(f"{path}.alloy-checkpoint") / "checkpoint.json"
        deadline = time.monotonic() + 60
        saved = 0
        try:
            while time.monotonic() < deadline and child.poll() is None:
                with contextlib.suppress(OSError, ValueError):
                    saved = json.loads(checkpoint.read_text(encoding="utf-8"))["rows"]
                if saved >= 2_000:
                    child.send_signal(signal.SIGKILL)
                    break
                time.sleep(0.01)
        finally:
            _, errors = child.communicate(timeout=30)
        assert child.returncode == -signal.SIGKILL, errors.decode(errors="replace")
        assert path.read_bytes() == before  # the file is untouched by the killed merge

        resumed = orders()
        resumed.to_parquet(path, mode="merge", resume=True)
        # It continued after the pages the killed run had saved, without fetching them again.
        assert resumed.stats.requests < resumed.stats.pages
        _same(path, _fresh(sandbox, "filter"))
