"""Benchmark: ``columns=`` chosen before conversion, against the full pull of the same data.

Two measures, each case in a fresh process reporting its peak resident set size
(``ru_maxrss``) above the resident set size once its imports (and, for the first measure, its
records) are in memory, and its time:

- **frames**: 200,000 records of 60 fields (12 of them in nested objects, a list of objects)
  in pages of 250, converted by a ``TableBuilder`` to a table, then to a DataFrame: every column,
  against 5 of them (``Shape(columns=...)``, what ``columns=`` gives a pull).
- **pull**: ``client.pull("shopify", "list-orders").to_dataframe()`` of 100,000 records from the
  sandbox in its own process (relay paging, 250 records a page): every column (27), against 5.

Cases run ``--repeat`` times, interleaved; the report shows medians.

Usage: ``python bench/bench_columns.py [--repeat 3] [--records 200000] [--pull-records 100000]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

from _sandbox import first_credentials, sandbox_process

API_KEY = "sk_bench_columns_key"
FRAMES_COLUMNS = ["id", "customer.email", "total", "status", "created_at"]
PULL_COLUMNS = ["id", "customer.email", "total_price", "financial_status", "created_at"]


def _peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _record(number: int) -> dict[str, Any]:
    """A record of 60 fields: 45 at the top (one a list of objects), 15 in nested objects."""
    record: dict[str, Any] = {
        "id": f"r{number}",
        "total": number * 0.25,
        "status": ("open", "paid", "void")[number % 3],
        "created_at": f"2026-0{1 + number % 9}-1{number % 10}T08:00:00Z",
        "items": [{"sku": f"s{number}-{i}", "qty": i} for i in range(number % 4)],
    }
    record.update({f"text_{i}": f"value {number} {i}" for i in range(20)})
    record.update({f"number_{i}": number * i for i in range(20)})
    record["customer"] = {
        "email": f"c{number}@example.test",
        **{f"field_{i}": f"c{i}" for i in range(9)},
        "address": {"city": "Lyon", "zip": "69001", "country": "FR", "line1": "1 rue", "geo": 4},
    }
    return record


def frames_child(case: str, records: int) -> dict[str, Any]:
    import pandas  # noqa: F401
    import pyarrow  # noqa: F401

    from alloy_data.frames import Shape, TableBuilder, to_dataframe

    pages = [[_record(n) for n in range(start, start + 250)] for start in range(0, records, 250)]
    baseline = _peak_mb()
    shape = Shape(tuple(FRAMES_COLUMNS)) if case == "columns" else Shape()
    started = time.process_time()
    builder = TableBuilder(shape=shape)
    builder.add_page(pages[0], 1)
    for start in range(1, len(pages), 8):  # as a pull converts: chunks of 2,000 records
        chunk = pages[start : start + 8]
        builder.add_pages([(page, start + i + 1) for i, page in enumerate(chunk)])
    frame = to_dataframe(builder.to_table(), release=True)
    seconds = time.process_time() - started
    return {
        "columns": len(frame.columns),
        "seconds": seconds,
        "above_mb": _peak_mb() - baseline,
        "result_mb": frame.memory_usage(deep=True).sum() / 2**20,
    }


def pull_child(case: str, records: int, url: str, user: str, credential: str) -> dict[str, Any]:
    import orjson  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow.json  # noqa: F401
    import requests  # noqa: F401

    import alloy_data as ad
    import alloy_data.engine._conversion
    import alloy_data.frames
    import alloy_data.pull

    baseline = _peak_mb()
    started = time.perf_counter()
    columns = PULL_COLUMNS if case == "columns" else None
    with ad.AlloyClient(API_KEY, base_url=url, user_id=user, trust_env=False) as client:
        frame = client.pull(
            "shopify",
            "list-orders",
            credential_id=credential,
            max_records=records,
            columns=columns,
            progress=False,
        ).to_dataframe()
    return {
        "columns": len(frame.columns),
        "seconds": time.perf_counter() - started,
        "above_mb": _peak_mb() - baseline,
        "result_mb": frame.memory_usage(deep=True).sum() / 2**20,
    }


def sandbox(records: int) -> contextlib.AbstractContextManager[str]:
    """The sandbox with ``records`` Shopify orders, its pages cached once walked."""
    return sandbox_process(
        API_KEY, "--records", f"shopify={records}", "--cache-mb", str(max(64, records // 250))
    )


def fixtures(url: str) -> tuple[str, str]:
    user, credentials = first_credentials(url, API_KEY, ["shopify"])
    return user, credentials["shopify"]


def measure(*words: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, __file__, "--child", *words],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if result.returncode != 0:
        raise SystemExit(f"{words} failed:\n{result.stderr}")
    figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--pull-records", type=int, default=100_000)
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args()
    if args.child:
        kind, case, records, *rest = args.child
        if kind == "frames":
            figures = frames_child(case, int(records))
        else:
            figures = pull_child(case, int(records), *rest)
        print(json.dumps(figures))
        return
    samples: dict[tuple[str, str], list[dict[str, Any]]] = {}
    with sandbox(args.pull_records) as url:
        user, credential = fixtures(url)
        measure("pull", "all", str(args.pull_records), url, user, credential)  # fills the cache
        for _ in range(args.repeat):
            for case in ("all", "columns"):
                frames = measure("frames", case, str(args.records))
                samples.setdefault(("frames", case), []).append(frames)
                pulled = measure("pull", case, str(args.pull_records), url, user, credential)
                samples.setdefault(("pull", case), []).append(pulled)
                print(json.dumps({"case": case, "frames": frames, "pull": pulled}), flush=True)
    print()
    print("| measure | columns | seconds | peak above baseline MB | result MB |")
    print("| --- | ---: | ---: | ---: | ---: |")
    medians = {}
    for (kind, case), runs in samples.items():
        row = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        medians[kind, case] = row
        print(
            f"| {kind} | {row['columns']:.0f} | {row['seconds']:.2f} | {row['above_mb']:.0f} "
            f"| {row['result_mb']:.1f} |"
        )
    for kind in ("frames", "pull"):
        full, chosen = medians[kind, "all"], medians[kind, "columns"]
        print(
            f"{kind}: 5 columns take {chosen['seconds'] / full['seconds']:.2f} of the time and "
            f"{chosen['above_mb'] / full['above_mb']:.2f} of the peak of every column"
        )


if __name__ == "__main__":
    main()
