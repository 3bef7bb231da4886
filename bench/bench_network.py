"""Pulls as users meet them: every list action of the demo, 30 ms of latency on each request.

Real pulls cross the internet to apps we did not write, so what decides their speed is how many
requests they make and whether those can overlap, not what a request costs on loopback. This
runs the sandbox in its own process with ``--latency-ms 30`` and pulls each list action of the
demo into a DataFrame two ways, each in a fresh subprocess:

- ``naive``: the loop analysts write: ``requests.post`` per page with the app's own paging
  parameter and no page size (the app's default), ``pandas.json_normalize`` at the end;
- ``alloy``: ``client.pull(...).to_dataframe()`` with the default settings.

It reports requests made, seconds and records a second, side by side, and the page size and
overlap alloy-data chose.

Usage: ``python bench/bench_network.py [--records 5000] [--latency-ms 30] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

API_KEY = "sk_bench_network_key"
# connector, action, convention, as in alloy_data/demo.py
ACTIONS = [
    ("hubspot", "list-contacts", "cursor in body"),
    ("shopify", "list-orders", "relay/GraphQL"),
    ("stripe", "list-charges", "last id"),
    ("box", "list-files", "offset/limit"),
    ("zendesk", "list-tickets", "next link"),
    ("xero", "list-invoices", "page number"),
    ("quickbooks", "list-customers", "Alloy offset"),
]


# -- the naive loops, one per paging convention, as an analyst writes them -----------------

Records = list[dict[str, Any]]
Following = dict[str, Any] | None
Step = Callable[[dict[str, Any]], tuple[Records, Following]]


def _hubspot(answer: dict[str, Any]) -> tuple[Records, Following]:
    data = answer["data"]
    after = data.get("paging", {}).get("next", {}).get("after")
    return data["results"], ({"after": after} if after else None)


def _shopify(answer: dict[str, Any]) -> tuple[Records, Following]:
    orders = answer["data"]["data"]["orders"]
    info = orders["pageInfo"]
    nodes = [edge["node"] for edge in orders["edges"]]
    return nodes, ({"after": info["endCursor"]} if info["hasNextPage"] else None)


def _stripe(answer: dict[str, Any]) -> tuple[Records, Following]:
    data = answer["data"]
    records = data["data"]
    return records, ({"starting_after": records[-1]["id"]} if data["has_more"] else None)


def _box(answer: dict[str, Any]) -> tuple[Records, Following]:
    data = answer["data"]
    following = data["offset"] + len(data["entries"])
    more = data["entries"] and following < data["total_count"]
    return data["entries"], ({"offset": following} if more else None)


def _zendesk(answer: dict[str, Any]) -> tuple[Records, Following]:
    data = answer["data"]
    link = data.get("next_page")
    if not link:
        return data["tickets"], None
    query = parse_qs(urlsplit(link).query)
    return data["tickets"], {"page": int(query["page"][0])}


class _Xero:
    def __init__(self) -> None:
        self.page = 1

    def __call__(self, answer: dict[str, Any]) -> tuple[Records, Following]:
        invoices = answer["data"]["Invoices"]
        self.page += 1
        return invoices, ({"page": self.page} if invoices else None)


def _quickbooks(answer: dict[str, Any]) -> tuple[Records, Following]:
    pagination = answer["pagination"]
    following = pagination["nextOffset"]
    return answer["data"], ({"offset": following} if pagination["hasMore"] else None)


def naive_step(connector: str) -> Step:
    steps: dict[str, Step] = {
        "hubspot": _hubspot,
        "shopify": _shopify,
        "stripe": _stripe,
        "box": _box,
        "zendesk": _zendesk,
        "xero": _Xero(),
        "quickbooks": _quickbooks,
    }
    return steps[connector]


def run_naive(url: str, user: str, credential: str, connector: str, action: str) -> dict:
    import pandas as pd
    import requests

    step = naive_step(connector)
    records: list[dict[str, Any]] = []
    parameters: dict[str, Any] | None = {}
    requests_made = 0
    started = time.perf_counter()
    while parameters is not None:
        response = requests.post(
            f"{url}/connectors/{connector}/actions/{action}/execute",
            json={"userId": user, "credentialId": credential, "parameters": parameters},
            headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=30,
        )
        requests_made += 1
        response.raise_for_status()
        page, parameters = step(response.json())
        records.extend(page)
    frame = pd.json_normalize(records)
    return {"seconds": time.perf_counter() - started, "requests": requests_made, "rows": len(frame)}


def run_alloy(url: str, user: str, credential: str, connector: str, action: str) -> dict:
    import alloy_data as ad

    with ad.AlloyClient(API_KEY, base_url=url, user_id=user) as client:
        started = time.perf_counter()
        pull = client.pull(connector, action, credential_id=credential, progress=False)
        frame = pull.to_dataframe()
        seconds = time.perf_counter() - started
    stats = pull.stats
    return {
        "seconds": seconds,
        "requests": stats.requests,
        "rows": len(frame),
        "page_size": stats.page_size,
        "concurrency": stats.concurrency,
    }


# -- the orchestration ---------------------------------------------------------------------


def child(args: argparse.Namespace) -> None:
    run = run_alloy if args.child == "alloy" else run_naive
    result = run(args.url, args.user, args.credential, args.connector, args.action)
    print(json.dumps(result))


def start_sandbox(
    records: int, latency_ms: int, cache_mb: int = 256
) -> tuple[subprocess.Popen[str], str]:
    command = [
        sys.executable, "-m", "alloy_data.sandbox", "--port", "0", "--api-key", API_KEY,
        "--records", str(records), "--latency-ms", str(latency_ms), "--cache-mb", str(cache_mb),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    found = re.search(r"http://[0-9.:]+", line)
    if not found:
        process.terminate()
        raise SystemExit(f"the sandbox did not start: {line!r}")
    return process, found.group(0)


def fixtures(url: str) -> tuple[str, dict[str, str]]:
    import requests

    headers = {"Authorization": f"Bearer {API_KEY}"}
    user = requests.get(f"{url}/users", headers=headers, timeout=30).json()["data"][0]["userId"]
    credentials = {}
    for connector, _, _ in ACTIONS:
        listed = requests.get(
            f"{url}/connectors/{connector}/credentials",
            params={"userId": user},
            headers=headers,
            timeout=30,
        ).json()["credentials"]
        credentials[connector] = listed[0]["credentialId"]
    return user, credentials


def measure(contender: str, url: str, user: str, credential: str, connector: str, action: str):
    command = [
        sys.executable, __file__, "--child", contender, "--url", url, "--user", user,
        "--credential", credential, "--connector", connector, "--action", action,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=1800)
    if result.returncode != 0:
        raise SystemExit(f"{contender} {connector} {action} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_all(records: int, latency_ms: int) -> list[dict[str, Any]]:
    process, url = start_sandbox(records, latency_ms)
    try:
        user, credentials = fixtures(url)
        rows = []
        for connector, action, convention in ACTIONS:
            credential = credentials[connector]
            naive = measure("naive", url, user, credential, connector, action)
            alloy = measure("alloy", url, user, credential, connector, action)
            rows.append(
                {"action": f"{connector} {action}", "convention": convention,
                 "naive": naive, "alloy": alloy}
            )  # fmt: skip
        return rows
    finally:
        process.terminate()
        process.wait(timeout=10)


def render(rows: list[dict[str, Any]], records: int, latency_ms: int) -> str:
    lines = [
        f"{records:,} records a list action, {latency_ms} ms of latency on every request, "
        "default settings:",
        "",
        "| action | paging | naive requests | naive s | alloy-data requests | alloy-data s "
        "| page size | overlap | records/s naive | records/s alloy-data | x faster |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        naive, alloy = row["naive"], row["alloy"]
        lines.append(
            f"| {row['action']} | {row['convention']} | {naive['requests']:,} | "
            f"{naive['seconds']:.1f} | {alloy['requests']:,} | {alloy['seconds']:.1f} | "
            f"{alloy['page_size'] or ''} | x{alloy['concurrency']} | "
            f"{naive['rows'] / naive['seconds']:,.0f} | {alloy['rows'] / alloy['seconds']:,.0f} | "
            f"{naive['seconds'] / alloy['seconds']:.1f} |"
        )
    naive_total = sum(r["naive"]["seconds"] for r in rows)
    alloy_total = sum(r["alloy"]["seconds"] for r in rows)
    lines += [
        "",
        f"All seven: {naive_total:.1f} s naive, {alloy_total:.1f} s alloy-data "
        f"({naive_total / alloy_total:.1f}x faster).",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5_000)
    parser.add_argument("--latency-ms", type=int, default=30)
    parser.add_argument("--json", help="also write the figures to this file")
    for name in ("--child", "--url", "--user", "--credential", "--connector", "--action"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    rows = run_all(args.records, args.latency_ms)
    print(render(rows, args.records, args.latency_ms))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(rows, handle, indent=2)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
