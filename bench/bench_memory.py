"""Benchmark: peak memory of pulls from a fast server, against what the pull returns.

Runs the sandbox in its own process, serving QuickBooks customers with the Alloy API's own
paging (``{"data": [...], "pagination": {...}}``, 50 records a page) from its cache, which a
first walk fills: it then answers faster than a client takes pages, so fetching outruns
converting and writing. Each case runs in a fresh process, which measures its peak resident set
size (``ru_maxrss``) above the resident set size after its imports (pandas, pyarrow,
requests, alloy-data):

- ``to_parquet`` of 100,000 and 1,000,000 records: streaming export, whose peak should not grow
  with the record count (the report gives the ratio of the two peaks);
- ``to_arrow()``: the peak above imports against the returned table's ``nbytes``;
- ``to_dataframe()``: the peak above imports against the DataFrame's
  ``memory_usage(deep=True).sum()``.

Cases run ``--repeat`` times, interleaved; the report shows medians.

Usage: ``python bench/bench_memory.py [--records 100000 1000000] [--repeat 3] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

API_KEY = "sk_bench_memory_key"
CONNECTOR, ACTION = "quickbooks", "list-customers"
CASES = ("to_parquet", "to_arrow", "to_dataframe")


def _peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS bytes.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def child(args: argparse.Namespace) -> None:
    """One case in this fresh process: print its figures as JSON."""
    # Everything a pull uses is imported before the baseline, so only the pull is measured.
    import orjson  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow.compute
    import pyarrow.json
    import pyarrow.parquet  # noqa: F401
    import requests  # noqa: F401

    import alloy_data as ad
    import alloy_data.engine._conversion
    import alloy_data.export
    import alloy_data.frames
    import alloy_data.pull

    after_imports = _peak_mb()
    started = time.perf_counter()
    with ad.AlloyClient(API_KEY, base_url=args.url, user_id=args.user, trust_env=False) as client:
        pull = client.pull(
            CONNECTOR,
            ACTION,
            credential_id=args.credential,
            max_records=args.records,
            progress=False,
        )
        size_mb = None
        if args.case == "to_parquet":
            pull.to_parquet(Path(args.directory) / "customers.parquet", overwrite=True)
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
    print(
        json.dumps(
            {
                "case": args.case,
                "records": pull.stats.records,
                "pages": pull.stats.pages,
                "concurrency": getattr(pull.stats, "concurrency", None),
                "seconds": seconds,
                "after_imports_mb": after_imports,
                "peak_mb": peak,
                "above_mb": peak - after_imports,
                "size_mb": size_mb,
            }
        )
    )


@contextlib.contextmanager
def sandbox(records: int) -> Iterator[str]:
    """Run the sandbox in a subprocess for the block; yield its URL."""
    command = [
        sys.executable, "-m", "alloy_data.sandbox", "--port", "0", "--api-key", API_KEY,
        "--records", f"{CONNECTOR}={records}",
        # Room for every page, so that after the first walk every answer comes from memory.
        "--cache-mb", str(max(64, records // 500)),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"http://[0-9.:]+", line)
        if not found:
            raise SystemExit(f"the sandbox did not start: {line!r}")
        yield found.group(0)
    finally:
        process.terminate()
        process.wait(timeout=10)


def fixtures(url: str) -> tuple[str, str]:
    """The sandbox's first user and that user's QuickBooks credential."""
    import requests

    with requests.Session() as session:
        session.trust_env = False
        session.headers["Authorization"] = f"Bearer {API_KEY}"
        user = session.get(f"{url}/users").json()["data"][0]["userId"]
        listed = session.get(
            f"{url}/connectors/{CONNECTOR}/credentials", params={"userId": user}
        ).json()["credentials"]
    return user, listed[0]["credentialId"]


def measure(case: str, records: int, url: str, user: str, credential: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        result = subprocess.run(
            [sys.executable, __file__, "--child", case, "--records", str(records), "--url", url,
             "--user", user, "--credential", credential, "--directory", directory],
            capture_output=True, text=True, check=False, timeout=1800,
        )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"{case} of {records:,} records failed:\n{result.stderr}")
    figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def run_all(counts: list[int], repeat: int) -> list[dict[str, Any]]:
    samples: dict[tuple[str, int], list[dict[str, Any]]] = {}
    with sandbox(max(counts)) as url:
        user, credential = fixtures(url)
        measure("walk", max(counts), url, user, credential)
        for _ in range(repeat):  # interleaved, so that drift in the machine hits all alike
            for case in CASES:
                for records in counts:
                    sample = measure(case, records, url, user, credential)
                    print(json.dumps(sample), flush=True)
                    samples.setdefault((case, records), []).append(sample)
    summary = []
    for runs in samples.values():
        row = {key: runs[0][key] for key in ("case", "records", "pages", "concurrency")}
        for key in ("seconds", "after_imports_mb", "peak_mb", "above_mb"):
            row[key] = statistics.median(run[key] for run in runs)
        sizes = [run["size_mb"] for run in runs if run["size_mb"] is not None]
        row["size_mb"] = statistics.median(sizes) if sizes else None
        row["ratio"] = row["above_mb"] / row["size_mb"] if row["size_mb"] else None
        row["runs"] = len(runs)
        summary.append(row)
    return summary


def render(summary: list[dict[str, Any]]) -> str:
    lines = [
        f"{CONNECTOR} {ACTION}, 50 records a page, from the sandbox's cache "
        f"(medians of {summary[0]['runs']} runs):",
        "",
        "| case | records | seconds | peak RSS MB | above imports MB | result MB "
        "| above / result |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in summary:
        size = "" if row["size_mb"] is None else f"{row['size_mb']:.1f}"
        ratio = "" if row["ratio"] is None else f"{row['ratio']:.2f}"
        lines.append(
            f"| {row['case']} | {row['records']:,} | {row['seconds']:.1f} | {row['peak_mb']:.0f} "
            f"| {row['above_mb']:.0f} | {size} | {ratio} |"
        )
    exports = sorted((r for r in summary if r["case"] == "to_parquet"), key=lambda r: r["records"])
    if len(exports) > 1:
        smallest, largest = exports[0], exports[-1]
        lines += [
            "",
            f"to_parquet: {largest['records']:,} records peak at "
            f"{largest['peak_mb'] / smallest['peak_mb']:.2f} times the peak of "
            f"{smallest['records']:,} (target: at most 1.1).",
        ]
    lines += [
        "Targets: to_arrow at most 1.5 times the table's nbytes above imports, to_dataframe at "
        "most 2 times the DataFrame's deep memory.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", help="also write the medians to this file")
    parser.add_argument("--child", dest="case", help=argparse.SUPPRESS)
    for hidden in ("--url", "--user", "--credential", "--directory"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        args.records = args.records[0]
        child(args)
        return
    summary = run_all(sorted(args.records), args.repeat)
    print()
    print(render(summary))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
