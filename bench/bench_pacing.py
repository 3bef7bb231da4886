"""Pulls under a rate limit, before and after pacing: seconds, x the window floor, refusals.

The sandbox runs in its own process with 30 ms of latency and a limit of 20 requests per
2-second window on each credential (a fixed window that opens with the first request after the
last one closed), once answering with ``X-RateLimit-Limit/-Remaining/-Reset`` on every answer
and once with a bare 429 and ``Retry-After``. Each pull takes 6,000 records into an Arrow
table, in a fresh process whose ``PYTHONPATH`` names one tree: an earlier revision (taken out
of git, as ``bench_before_after.py`` does) or this one. The cases:

- Alloy offset, 50 a page (QuickBooks customers, 120 pages);
- page number (Xero invoices, 100 a page: 60 pages);
- cursor (HubSpot contacts);
- ``pull_many`` over 3 credentials, each limited on its own (Alloy offset).

The floor is what the limit allows: (windows needed - 1) x the window, plus the last window's
requests at the latency (side by side when the pull overlaps requests). Between runs the
benchmark waits out a window, so that no run starts in another's.

Usage: ``python bench/bench_pacing.py [--before REVISION] [--repeat 1] [--json FILE]``; without
``--before`` only this tree runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _sandbox import sandbox_process
from bench_before_after import checkout
from bench_network import API_KEY

ROOT = Path(__file__).resolve().parent.parent
RECORDS = 6_000
LIMIT, WINDOW = 20, 2.0
# connector, action, label, many credentials, page size (None: the largest the app allows)
CASES = [
    ("quickbooks", "list-customers", "Alloy offset, 50 a page", False, None),
    # 100 a page, as the table has it (60 pages; Xero allows 1,000).
    ("xero", "list-invoices", "page number, 100 a page", False, 100),
    ("hubspot", "list-contacts", "cursor", False, None),
    ("quickbooks", "list-customers", "pull_many, 3 credentials, Alloy offset", True, None),
]
MODES = {"with headers": "x-ratelimit", "without headers": "none"}


def child(args: argparse.Namespace) -> None:
    """One pull (or pull_many) in this process; print its figures as JSON."""
    import alloy_data as ad

    targets = json.loads(args.targets)
    sized = {"page_size": int(args.page_size)} if args.page_size else {}
    with ad.AlloyClient(API_KEY, base_url=args.url) as client:
        started = time.perf_counter()
        if len(targets) == 1:
            user, credential = targets[0]
            pull: Any = client.pull(
                args.connector, args.action, credential_id=credential, user_id=user,
                progress=False, **sized,
            )  # fmt: skip
            rows = pull.to_arrow().num_rows
            every = [pull.stats]
        else:
            pull = client.pull_many(
                args.connector, args.action, credentials=[tuple(t) for t in targets],
                progress=False, **sized,
            )  # fmt: skip
            rows = pull.to_arrow().num_rows
            every = list(pull.stats.per_credential.values())
        seconds = time.perf_counter() - started
    figures = [
        {
            "requests": stats.requests,
            "refused": stats.retry_reasons.get("HTTP 429", 0),
            "concurrency": stats.concurrency,
        }
        for stats in every
    ]
    print(json.dumps({"seconds": seconds, "rows": rows, "pulls": figures}))


def sandbox(rule: str, latency_ms: int) -> contextlib.AbstractContextManager[str]:
    """The sandbox with three more users' credentials, all under the limit ``rule``."""
    return sandbox_process(
        API_KEY,
        "--records", str(RECORDS), "--latency-ms", str(latency_ms), "--cache-mb", "256",
        "--tenants", "3", "--tenant-records", str(RECORDS), "--limit", rule,
    )  # fmt: skip


def targets_of(url: str, connector: str, many: bool) -> list[list[str]]:
    import requests

    headers = {"Authorization": f"Bearer {API_KEY}"}
    users = requests.get(f"{url}/users", headers=headers, timeout=30).json()["data"]
    found = []
    for user in users:
        listed = requests.get(
            f"{url}/connectors/{connector}/credentials",
            params={"userId": user["userId"]},
            headers=headers,
            timeout=30,
        ).json()["credentials"]
        found.extend([user["userId"], c["credentialId"]] for c in listed)
    # The main user's first; for many, three tenants' (the last users made).
    return found[-3:] if many else found[:1]


def floor(pulls: list[dict[str, Any]], latency_ms: int) -> float:
    """The least time the limit allows the largest of the pulls."""
    worst = 0.0
    for pull in pulls:
        granted = pull["requests"] - pull["refused"]
        windows = math.ceil(granted / LIMIT)
        last = granted - (windows - 1) * LIMIT
        side_by_side = max(1, pull["concurrency"])
        worst = max(
            worst, (windows - 1) * WINDOW + math.ceil(last / side_by_side) * latency_ms / 1000
        )
    return worst


def measure(tree: Path, url: str, case: tuple, targets: list[list[str]]) -> dict[str, Any]:
    connector, action, _, _, page_size = case
    command = [
        sys.executable, __file__, "--child", "--url", url, "--connector", connector,
        "--action", action, "--targets", json.dumps(targets),
        "--page-size", str(page_size or ""),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONWARNINGS": "ignore"}
    result = subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=1800, env=env
    )
    if result.returncode != 0:
        raise SystemExit(f"{tree} {connector} {action} failed:\n{result.stderr[-2000:]}")
    time.sleep(WINDOW + 0.2)  # the next run starts in a window of its own
    return json.loads(result.stdout.strip().splitlines()[-1])


def run(trees: dict[str, Path], latency_ms: int, repeat: int) -> list[dict[str, Any]]:
    rows = []
    for mode, headers in MODES.items():
        rule = f"{LIMIT}/{WINDOW:g}s:credential:fixed_window:{headers}"
        with sandbox(rule, latency_ms) as url:
            for case in CASES:
                targets = targets_of(url, case[0], case[3])
                runs: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
                for index in range(repeat):
                    order = list(trees) if index % 2 == 0 else list(reversed(trees))
                    for name in order:
                        figures = measure(trees[name], url, case, targets)
                        figures["floor"] = floor(figures["pulls"], latency_ms)
                        runs[name].append(figures)
                rows.append({"mode": mode, "case": case[2], "runs": runs})
    return rows


def render(rows: list[dict[str, Any]], names: list[str]) -> str:
    header = "| pull | answers |" + "".join(f" {name} s (x floor) | refused |" for name in names)
    lines = [header, "| --- | --- |" + " ---: | ---: |" * len(names)]
    for row in rows:
        cells = []
        for name in names:
            runs = row["runs"][name]
            seconds = statistics.median(r["seconds"] for r in runs)
            ratio = statistics.median(r["seconds"] / r["floor"] for r in runs)
            refused = [sum(p["refused"] for p in r["pulls"]) for r in runs]
            requests = [sum(p["requests"] for p in r["pulls"]) for r in runs]
            cells.append(f"{seconds:.1f} ({ratio:.2f}x)")
            cells.append(f"{statistics.median(refused):.0f} of {statistics.median(requests):.0f}")
        lines.append(f"| {row['case']} | {row['mode']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="the git revision to compare with")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--latency-ms", type=int, default=30)
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    for name in ("--url", "--connector", "--action", "--targets", "--page-size"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    with tempfile.TemporaryDirectory() as folder:
        trees = {"after": ROOT}
        if args.before:
            trees = {"before": checkout(args.before, Path(folder)), "after": ROOT}
        rows = run(trees, args.latency_ms, args.repeat)
    print(
        f"{LIMIT} requests per {WINDOW:g} s window per credential, {args.latency_ms} ms a "
        f"request, {RECORDS:,} records; before: {args.before or '(not run)'}; medians of "
        f"{args.repeat}.\n"
    )
    print(render(rows, list(trees)))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
