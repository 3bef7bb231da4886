"""Incremental refreshes against a full re-pull, with 30 ms of latency a request.

For each kind of app the sandbox emulates (filters by an updated-since parameter, returns
newest first, neither), it pulls ``--records`` records into a Parquet file with
``mode="merge"``, moves the sandbox's clock a day with 1% of the records changed (half updated,
half inserted; inserts only for Stripe, whose charges do not change), then refreshes the file
two ways:

- ``full``: what a refresh costs without ``incremental=``: every page again;
- ``incremental``: ``to_parquet(path, mode="merge")`` from the mark kept in the file.

It reports pages, requests and seconds of each, the share of a full pull's pages the
incremental run fetched, and checks that the merged file holds the same ids as the full pull.

Usage: ``python bench/bench_incremental.py [--records 100000] [--latency-ms 30] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

import alloy_data as ad
from alloy_data.sandbox import serve

CASES = [
    ("filter (ISO)", "shopify", "list-orders", "updated_at"),
    ("filter (epoch)", "stripe", "list-charges", "created"),
    ("newest first", "notion", "list-pages", "last_edited_time"),
    ("neither", "hubspot", "list-contacts", "updatedAt"),
]


def _run(pull: Any, action: Any) -> dict[str, Any]:
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ad.IncrementalWarning)
        action()
    return {
        "pages": pull.stats.pages,
        "requests": pull.stats.requests,
        "seconds": round(time.perf_counter() - started, 2),
        "records": pull.stats.records,
        "how": pull.stats.incremental,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--latency-ms", type=int, default=30)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    counts = {connector: args.records for _, connector, _, _ in CASES}
    results = []
    with serve(records=counts, latency_ms=args.latency_ms, seed=11) as sandbox:
        client = ad.AlloyClient(
            sandbox.api_key, base_url=sandbox.url, user_id=sandbox.fixtures.user_id
        )
        for label, connector, action, cursor in CASES:

            def pull(
                incremental: bool,
                connector: str = connector,
                action: str = action,
                cursor: str = cursor,
            ) -> Any:
                return client.pull(
                    connector,
                    action,
                    credential_id=sandbox.fixtures.credentials[connector],
                    incremental=ad.Incremental(cursor, primary_key="id") if incremental else None,
                    progress=False,
                )

            with tempfile.TemporaryDirectory() as directory:
                path = Path(directory) / "data.parquet"
                first = pull(True)
                first.to_parquet(path, mode="merge")
                one_percent = args.records // 200
                updates = 0 if connector == "stripe" else one_percent
                inserts = one_percent * 2 if connector == "stripe" else one_percent
                sandbox.advance_clock(86_400, updates=updates, inserts=inserts)
                full = pull(False)
                full_figures = _run(
                    full, lambda full=full: full.to_parquet(Path(directory) / "f.parquet")
                )
                incremental = pull(True)
                inc_figures = _run(
                    incremental, lambda p=incremental, path=path: p.to_parquet(path, mode="merge")
                )
                ids = set(pq.read_table(path, columns=["id"]).column("id").to_pylist())
                full_ids = set(
                    pq.read_table(Path(directory) / "f.parquet", columns=["id"])
                    .column("id")
                    .to_pylist()
                )
            row = {
                "case": label,
                "action": f"{connector} {action}",
                "full": full_figures,
                "incremental": inc_figures,
                "share_of_pages": round(inc_figures["pages"] / max(full_figures["pages"], 1), 4),
                "speedup": round(full_figures["seconds"] / max(inc_figures["seconds"], 1e-9), 1),
                "same_ids": ids == full_ids,
            }
            results.append(row)
    print(
        f"{args.records:,} records, 1% changed, {args.latency_ms} ms a request\n"
        f"{'case':16} {'action':22} {'full pages':>10} {'full s':>7} {'incr pages':>10} "
        f"{'incr s':>7} {'pages %':>8} {'speedup':>8} {'how':>13} same ids"
    )
    for row in results:
        full, inc = row["full"], row["incremental"]
        print(
            f"{row['case']:16} {row['action']:22} {full['pages']:>10} {full['seconds']:>7} "
            f"{inc['pages']:>10} {inc['seconds']:>7} {row['share_of_pages'] * 100:>7.1f}% "
            f"{row['speedup']:>7}x {inc['how']:>13} {row['same_ids']}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0 if all(row["same_ids"] for row in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
