"""The store across processes: a pull killed part-way resumes at its next page, two processes
pulling the same thing share one refresh under the copy's lock and get exact rows, and a reader
never sees a half-written copy."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import alloy_data as ad
from alloy_data.progress import ProgressUpdate
from alloy_data.sandbox import Sandbox, serve

RECORDS = 6_000
PAGE_SIZE = 50

# A kernel of its own: pulls the sandbox's orders through the store and says what it got.
CHILD = r"""
import hashlib, json, os, sys
import alloy_data as ad

client = ad.AlloyClient(
    os.environ["SANDBOX_KEY"], base_url=os.environ["SANDBOX_URL"],
    user_id=os.environ["SANDBOX_USER"], store=os.environ["STORE"],
)
pull = client.pull(
    "shopify", "list-orders", credential_id=os.environ["SANDBOX_CREDENTIAL"],
    page_size=50, concurrency=1, max_age=sys.argv[1], progress=False,
)
frame = pull.to_dataframe()
ids = sorted(frame["id"].astype(str))
print(json.dumps({
    "refresh": pull.stats.refresh, "rows": len(frame), "requests": pull.stats.requests,
    "ids": hashlib.sha256("\n".join(ids).encode()).hexdigest(),
}), flush=True)
"""

# A reader in another process: counts the rows of the copy through SQL as fast as it can.
READER = r"""
import json, os, sys, time
import alloy_data as ad
from alloy_data.errors import AlloyError

store = ad.AlloyClient("sk_reader_not_used_0000", store=os.environ["STORE"]).store
seen = []
deadline = time.monotonic() + float(sys.argv[1])
while time.monotonic() < deadline:
    try:
        seen.append(int(store.sql("select count(*) as n from shopify.list_orders")["n"][0]))
    except AlloyError:
        seen.append(None)  # no copy yet: no view
print(json.dumps(seen), flush=True)
"""


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with serve(port=0, seed=17, records={"shopify": RECORDS}, latency_ms=5) as running:
        yield running


def environment(sb: Sandbox, store: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "SANDBOX_KEY": sb.api_key,
        "SANDBOX_URL": sb.url,
        "SANDBOX_USER": sb.fixtures.user_id,
        "SANDBOX_CREDENTIAL": sb.fixtures.credentials["shopify"],
        "STORE": str(store),
    }


def orders(sb: Sandbox, store: Path, max_age: str = "1h", **options: object) -> ad.pull.Pull:
    client = ad.AlloyClient(sb.api_key, base_url=sb.url, user_id=sb.fixtures.user_id, store=store)
    return client.pull(
        "shopify",
        "list-orders",
        credential_id=sb.fixtures.credentials["shopify"],
        page_size=PAGE_SIZE,
        concurrency=1,
        max_age=max_age,
        progress=options.pop("progress", False),  # type: ignore[arg-type]
        **options,  # type: ignore[arg-type]
    )


def expected_ids(sb: Sandbox) -> list[str]:
    credential = sb.fixtures.credentials["shopify"]
    return sorted(
        str(i) for i in sb.expected_ids("shopify", "list-orders", credential_id=credential)
    )


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_pull_killed_part_way_goes_on_at_its_next_page(sb: Sandbox, tmp_path: Path) -> None:
    store = tmp_path / "store"
    pull = orders(sb, store)
    checkpoint = store.joinpath(*pull.store_key().folder) / (
        f"{pull.store_key().digest}.parquet.alloy-checkpoint"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, "1h"],
        env=environment(sb, store),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    saved = 0
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and child.poll() is None:
            with contextlib.suppress(OSError, ValueError, KeyError):
                saved = json.loads((checkpoint / "checkpoint.json").read_text())["rows"]
            if saved >= 2_000:
                child.send_signal(signal.SIGKILL)  # a kernel restart, or a crash
                break
            time.sleep(0.01)
    finally:
        _, errors = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL, errors.decode(errors="replace")
    assert pull.store().list().empty  # nothing half-written is listed, or served

    frame = pull.to_dataframe()
    assert pull.stats.refresh == "resumed"
    assert pull.stats.records_saved_before == saved
    assert pull.stats.pages_fetched == (RECORDS - saved) // PAGE_SIZE
    assert sorted(frame["id"].astype(str)) == expected_ids(sb)
    assert len(frame) == RECORDS


def test_a_keyboard_interrupt_keeps_what_was_fetched(sb: Sandbox, tmp_path: Path) -> None:
    def interrupt(update: ProgressUpdate) -> None:
        if update.pages == 30 and not update.done:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        orders(sb, tmp_path, progress=interrupt).to_arrow()
    again = orders(sb, tmp_path)
    table = again.to_arrow()
    assert again.stats.refresh == "resumed"
    assert again.stats.pages_saved_before >= 29
    assert sorted(str(i) for i in table.column("id").to_pylist()) == expected_ids(sb)


def test_two_processes_pulling_the_same_copy_share_one_refresh_and_a_reader_sees_it_whole(
    sb: Sandbox, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    env = environment(sb, store)
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, "8"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    kernels = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, "1h"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    results = []
    for kernel in kernels:
        out, errors = kernel.communicate(timeout=120)
        assert kernel.returncode == 0, errors.decode(errors="replace")
        results.append(json.loads(out))
    out, errors = reader.communicate(timeout=120)
    assert reader.returncode == 0, errors.decode(errors="replace")
    seen = json.loads(out)

    want = hashlib.sha256("\n".join(expected_ids(sb)).encode()).hexdigest()
    assert [r["ids"] for r in results] == [want, want]
    assert [r["rows"] for r in results] == [RECORDS, RECORDS]
    # One refreshed while the other waited on the lock, then was served what it wrote.
    assert sorted(r["refresh"] for r in results) == ["from the store", "full"]
    assert min(r["requests"] for r in results) == 0
    # The reader saw no copy, then the whole copy: never a part of it.
    assert set(seen) <= {None, RECORDS}
    assert RECORDS in seen


def test_two_processes_refreshing_at_once_both_get_exact_rows(sb: Sandbox, tmp_path: Path) -> None:
    env = environment(sb, tmp_path)
    kernels = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, "0"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    results = []
    for kernel in kernels:
        out, errors = kernel.communicate(timeout=120)
        assert kernel.returncode == 0, errors.decode(errors="replace")
        results.append(json.loads(out))
    assert [r["refresh"] for r in results] == ["full", "full"]
    assert [r["rows"] for r in results] == [RECORDS, RECORDS]
    assert len({r["ids"] for r in results}) == 1
    copies = orders(sb, tmp_path).store().copies()
    assert len(copies) == 1 and copies[0].rows == RECORDS
