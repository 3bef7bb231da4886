"""Benchmark: peak memory of DuckDB reading a pull's stream, and of to_dataframe() on nested
records.

Runs the sandbox in its own process, serving from its cache (a first walk fills it), so that
it answers faster than the client takes pages. Each case runs in a fresh process and reports
its peak resident set size (``ru_maxrss``) above the one after its imports (pandas, pyarrow,
requests, duckdb, alloy-data):

- ``duckdb_stream``: ``duckdb.sql("select ..., count(*), sum(...) from pull group by ...")``
  over QuickBooks customers (the Alloy API's own paging, 50 a page), for 100,000 and 1,000,000
  records: the stream's peak should not grow with the record count (target: 1,000,000 at most
  1.2 times 100,000);
- ``duckdb_table``: the same query over ``pull.to_arrow()``, for comparison;
- ``to_dataframe`` and ``to_arrow`` of 400,000 Shopify orders (a customer object, a shipping
  address, a list of line items, tags, nullable integers): the peak above imports against the
  DataFrame's ``memory_usage(deep=True).sum()`` (target: at most 2) and the table's ``nbytes``.
  ``read_stream`` reads the same orders batch by batch from ``pull.to_reader()``, for
  comparison. The cases also report what the process still holds once the result is built
  (``retained``, the resident set size then, above the one after imports):
  ``memory_usage(deep=True)`` counts a list cell (a NumPy array of dicts) by its array alone,
  not the dicts and strings in it.

Cases run ``--repeat`` times, interleaved; the report shows medians.

Usage: ``python bench/bench_engines.py [--repeat 3] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _sandbox import first_credentials, sandbox_process

API_KEY = "sk_bench_engines_key"
STREAM_SOURCE = ("quickbooks", "list-customers")
NESTED_SOURCE = ("shopify", "list-orders")
STREAM_COUNTS = (100_000, 1_000_000)
NESTED_COUNT = 400_000
# An aggregation whose own state stays small (a few dozen groups), so that what grows is the
# reading of the pull, if anything.
QUERY = (
    'select "BillAddr.CountrySubDivisionCode" as province, Active, count(*) as customers, '
    "sum(Balance) as balance, max(DisplayName) as last_name from pull group by all"
)


def _peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS bytes.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _resident_mb() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss) / 2**20


def child(args: argparse.Namespace) -> None:
    """One case in this fresh process: print its figures as JSON."""
    # Everything a case uses is imported before the baseline, so only the case is measured.
    import duckdb
    import orjson  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow.compute
    import pyarrow.json
    import pyarrow.parquet  # noqa: F401
    import requests  # noqa: F401

    import alloy_data as ad
    import alloy_data.engine._conversion
    import alloy_data.frames
    import alloy_data.pull

    after_imports = _peak_mb()
    resident_after_imports = _resident_mb()
    started = time.perf_counter()
    connector, action = NESTED_SOURCE if args.connector == NESTED_SOURCE[0] else STREAM_SOURCE
    size_mb = None
    with ad.AlloyClient(API_KEY, base_url=args.url, user_id=args.user, trust_env=False) as client:
        pull = client.pull(
            connector,
            action,
            credential_id=args.credential,
            max_records=args.records,
            progress=False,
        )
        if args.case == "duckdb_stream":
            rows = duckdb.sql(QUERY).fetchall()
            assert sum(row[2] for row in rows) == args.records
        elif args.case == "duckdb_table":
            rows_of_pull = pull.to_arrow()  # noqa: F841 (the query names it)
            rows = duckdb.sql(QUERY.replace("from pull", "from rows_of_pull")).fetchall()
            assert sum(row[2] for row in rows) == args.records
        elif args.case == "read_stream":
            read = sum(batch.num_rows for batch in pull.to_reader())
            assert read == args.records
        elif args.case == "to_arrow":
            table = pull.to_arrow()
            size_mb = table.nbytes / 2**20
        elif args.case == "to_dataframe":
            frame = pull.to_dataframe()
            size_mb = frame.memory_usage(deep=True).sum() / 2**20
        elif args.case == "walk":  # fills the sandbox's cache; not measured
            for _ in pull.iter_pages():
                pass
    seconds = time.perf_counter() - started
    peak = _peak_mb()
    gc.collect()
    retained = _resident_mb() - resident_after_imports
    print(
        json.dumps(
            {
                "case": args.case,
                "records": pull.stats.records,
                "seconds": seconds,
                "after_imports_mb": after_imports,
                "peak_mb": peak,
                "above_mb": peak - after_imports,
                "size_mb": size_mb,
                "retained_mb": retained,
            }
        )
    )


def sandbox() -> contextlib.AbstractContextManager[str]:
    """The sandbox with the records of both sources, every page cached once walked."""
    most = max(STREAM_COUNTS)
    return sandbox_process(
        API_KEY,
        "--records", f"{STREAM_SOURCE[0]}={most}",
        "--records", f"{NESTED_SOURCE[0]}={NESTED_COUNT}",
        # Room for every page, so that after the first walk every answer comes from memory.
        "--cache-mb", str(most // 250),
    )  # fmt: skip


def fixtures(url: str) -> tuple[str, dict[str, str]]:
    """The sandbox's first user and that user's credential of each connector used."""
    return first_credentials(url, API_KEY, (STREAM_SOURCE[0], NESTED_SOURCE[0]))


def measure(
    case: str, records: int, url: str, user: str, connector: str, credential: str
) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, __file__, "--child", case, "--records", str(records), "--url", url,
         "--user", user, "--connector", connector, "--credential", credential],
        capture_output=True, text=True, check=False, timeout=1800,
    )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"{case} of {records:,} records failed:\n{result.stderr}")
    figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def plan() -> list[tuple[str, int, str]]:
    """(case, records, connector) of every measured case, in the order they run."""
    cases = [("duckdb_stream", n, STREAM_SOURCE[0]) for n in STREAM_COUNTS]
    cases += [("duckdb_table", n, STREAM_SOURCE[0]) for n in STREAM_COUNTS]
    nested = ("read_stream", "to_arrow", "to_dataframe")
    cases += [(case, NESTED_COUNT, NESTED_SOURCE[0]) for case in nested]
    return cases


def run_all(repeat: int, only: set[str] | None) -> list[dict[str, Any]]:
    samples: dict[tuple[str, int], list[dict[str, Any]]] = {}
    cases = [case for case in plan() if only is None or case[0] in only]
    with sandbox() as url:
        user, credentials = fixtures(url)
        for connector, records in (
            (STREAM_SOURCE[0], max(STREAM_COUNTS)),
            (NESTED_SOURCE[0], NESTED_COUNT),
        ):
            measure("walk", records, url, user, connector, credentials[connector])
        for _ in range(repeat):  # interleaved, so that drift in the machine hits all alike
            for case, records, connector in cases:
                sample = measure(case, records, url, user, connector, credentials[connector])
                print(json.dumps(sample), flush=True)
                samples.setdefault((case, records), []).append(sample)
    summary = []
    for runs in samples.values():
        row = {key: runs[0][key] for key in ("case", "records")}
        for key in ("seconds", "after_imports_mb", "peak_mb", "above_mb", "retained_mb"):
            row[key] = statistics.median(run[key] for run in runs)
        sizes = [run["size_mb"] for run in runs if run["size_mb"] is not None]
        row["size_mb"] = statistics.median(sizes) if sizes else None
        row["ratio"] = row["above_mb"] / row["size_mb"] if row["size_mb"] else None
        row["runs"] = len(runs)
        summary.append(row)
    return summary


def render(summary: list[dict[str, Any]]) -> str:
    lines = [
        f"Medians of {summary[0]['runs']} runs, each case in a fresh process:",
        "",
        "| case | records | seconds | peak RSS MB | above imports MB | result MB "
        "| above / result | retained MB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in summary:
        size = "" if row["size_mb"] is None else f"{row['size_mb']:.1f}"
        ratio = "" if row["ratio"] is None else f"{row['ratio']:.2f}"
        lines.append(
            f"| {row['case']} | {row['records']:,} | {row['seconds']:.1f} | {row['peak_mb']:.0f} "
            f"| {row['above_mb']:.0f} | {size} | {ratio} | {row['retained_mb']:.0f} |"
        )
    for case in ("duckdb_stream", "duckdb_table"):
        rows = sorted((r for r in summary if r["case"] == case), key=lambda r: r["records"])
        if len(rows) > 1:
            lines.append(
                f"\n{case}: {rows[-1]['records']:,} records peak at "
                f"{rows[-1]['peak_mb'] / rows[0]['peak_mb']:.2f} times the peak of "
                f"{rows[0]['records']:,} ({rows[-1]['above_mb'] / rows[0]['above_mb']:.2f} "
                "times above imports)."
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cases", nargs="+", help="only these cases")
    parser.add_argument("--json", help="also write the medians to this file")
    parser.add_argument("--child", dest="case", help=argparse.SUPPRESS)
    parser.add_argument("--records", type=int, help=argparse.SUPPRESS)
    for hidden in ("--url", "--user", "--connector", "--credential"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        child(args)
        return
    summary = run_all(args.repeat, set(args.cases) if args.cases else None)
    print()
    print(render(summary))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
