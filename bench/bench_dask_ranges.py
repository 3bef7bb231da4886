"""Would Dask partitions per range of pages beat one partition per credential?

Offset and page-number paging could split one credential's pull into ranges of pages, one
partition each, if the last page were known. The contract's apps give no totals, so the last
page would be found by probing: exponential (pages 1, 2, 4, ... until one is empty), then
binary search, one request at a time (about 2 log2(pages) requests). This measures both halves
of that bargain before any code is written for it:

- ``probe``: the probes themselves, for real, against the sandbox: requests and seconds;
- ``per credential``: ``read_pull`` of the credentials, one partition each (what ships);
- ``ranges, ideal``: ``read_pull`` of credentials holding half the records each, two for every
  credential above: exactly the pages that two range partitions would fetch, with no probe
  and no overhead of its own, so the best that partitions per range could do; plus the probe
  time of the credentials, for the comparison.

The sandbox runs in its own process with 30 ms of latency a request, Box's ``list-files``
(offset paging, 1,000 records a page); Dask is a ``LocalCluster`` of 2 worker processes with
2 threads each, started once, and the contenders alternate for ``--rounds`` rounds (medians).

Usage: ``python bench/bench_dask_ranges.py [--records 100000] [--many 10] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

API_KEY = "sk_bench_dask_ranges_key"
CONNECTOR, ACTION = "box", "list-files"
PAGE_SIZE = 1000  # Box's largest page in the sandbox
LATENCY_MS = 30


def start_sandbox(records: list[int]) -> tuple[subprocess.Popen[str], str]:
    command = [
        sys.executable, "-m", "alloy_data.sandbox", "--port", "0", "--api-key", API_KEY,
        "--tenants", str(len(records)), "--tenant-records", *map(str, records),
        "--latency-ms", str(LATENCY_MS), "--cache-mb", "2048",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    found = re.search(r"http://[0-9.:]+", process.stdout.readline())
    if not found:
        process.terminate()
        raise SystemExit("the sandbox did not start")
    return process, found.group(0)


def tenant_pairs(client: Any) -> list[tuple[str, str]]:
    users = [u for u in client.users.list() if (u.username or "").startswith("tenant-")]
    users.sort(key=lambda u: int(re.sub(r"\D", "", u.username or "") or 0))
    return [
        (user.user_id, credential.credential_id)
        for user in users
        for credential in client.credentials.list(CONNECTOR, user_id=user.user_id)
    ]


def probe_last_page(client: Any, user_id: str, credential_id: str) -> tuple[int, int]:
    """The number of the last page that holds records, and the requests spent finding it."""
    requests = 0

    def has_records(page: int) -> bool:
        nonlocal requests
        requests += 1
        result = client.actions.execute(
            CONNECTOR, ACTION, credential_id=credential_id, user_id=user_id,
            # One record says whether the page holds any: a small answer, the same latency.
            parameters={"offset": (page - 1) * PAGE_SIZE, "limit": 1},
        )  # fmt: skip
        return bool(result.data.get("entries"))

    if not has_records(1):
        return 0, requests
    low, high = 1, 2
    while has_records(high):
        low, high = high, high * 2
    while high - low > 1:  # low has records, high has none
        middle = (low + high) // 2
        low, high = (middle, high) if has_records(middle) else (low, middle)
    return low, requests


def read(client: Any, pairs: list[tuple[str, str]]) -> int:
    import alloy_data.dask

    frame = alloy_data.dask.read_pull(client, CONNECTOR, ACTION, credentials=pairs).compute()
    return len(frame)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--many", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from dask.distributed import Client, LocalCluster

    import alloy_data as ad

    big, many_size = args.records, args.records // args.many
    # Tenants: 1 big, 2 halves of it; N of a tenth, 2N halves of those.
    layout = [big, big // 2, big // 2]
    layout += [many_size] * args.many + [many_size // 2] * (2 * args.many)
    process, url = start_sandbox(layout)
    try:
        with ad.AlloyClient(API_KEY, base_url=url) as client:
            pairs = tenant_pairs(client)
            one, halves = pairs[:1], pairs[1:3]
            tenths = pairs[3 : 3 + args.many]
            twentieths = pairs[3 + args.many :]
            started = time.perf_counter()
            last, probe_requests = probe_last_page(client, *one[0])
            probe_one = time.perf_counter() - started
            started = time.perf_counter()
            with ThreadPoolExecutor(len(tenths)) as pool:
                probes = list(pool.map(lambda pair: probe_last_page(client, *pair), tenths))
            probe_many = time.perf_counter() - started
            with (
                LocalCluster(n_workers=2, processes=True, threads_per_worker=2,
                             host="127.0.0.1", dashboard_address=None) as cluster,
                Client(cluster),
            ):  # fmt: skip
                read(client, pairs)  # warm: the sandbox generates and caches every record
                times: dict[str, list[float]] = {}
                contenders = {
                    f"1 credential x {big:,}: per credential (1 partition)": one,
                    f"1 credential x {big:,}: ranges, ideal (2 partitions)": halves,
                    f"{args.many} credentials x {many_size:,}: per credential "
                    f"({args.many} partitions)": tenths,
                    f"{args.many} credentials x {many_size:,}: ranges, ideal "
                    f"({2 * args.many} partitions)": twentieths,
                }
                for _ in range(args.rounds):
                    for name, chosen in contenders.items():
                        started = time.perf_counter()
                        rows = read(client, chosen)
                        times.setdefault(name, []).append(time.perf_counter() - started)
                        if rows != big:
                            raise SystemExit(f"{name}: {rows} rows, not {big}")
    finally:
        process.terminate()
        process.wait(timeout=30)

    many_requests = [requests for _, requests in probes]
    print(f"Box list-files, {LATENCY_MS} ms a request, 2 Dask worker processes x 2 threads, "
          f"median of {args.rounds}:\n")  # fmt: skip
    print(f"probe of 1 credential: last page {last}, {probe_requests} requests, "
          f"{probe_one:.2f} s")  # fmt: skip
    print(f"probes of {args.many} credentials side by side: {min(many_requests)}-"
          f"{max(many_requests)} requests each, {probe_many:.2f} s\n")  # fmt: skip
    print("| run | seconds | with the probe |")
    print("|---|---|---|")
    for name, values in times.items():
        median = statistics.median(values)
        probe = probe_one if name.startswith("1 credential") else probe_many
        with_probe = f"{median + probe:.2f}" if "ranges" in name else ""
        print(f"| {name} | {median:.2f} | {with_probe} |")


if __name__ == "__main__":
    main()
