"""Run every benchmark under bench/ in turn (``make bench``) and print their reports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
BENCHMARKS = [
    ("sandbox: execute requests per second", ["bench_sandbox.py"]),
    ("frames: records to Arrow and pandas", ["bench_frames.py"]),
    ("pull: alloy-data against the loops analysts write", ["bench_pull.py", "--repeat", "3"]),
    ("export: peak memory of 100,000 and 1,000,000 records", ["bench_export.py"]),
    ("memory: pulls from a fast server against what they return", ["bench_memory.py"]),
    ("engines: DuckDB over a pull's stream, to_dataframe of nested records", ["bench_engines.py"]),
    ("network: every demo list action with 30 ms of latency a request", ["bench_network.py"]),
    ("many credentials: 50 x 20,000 records, rate-limited per credential", ["bench_many.py"]),
    ("incremental: a refresh after 1% changed, against a full re-pull", ["bench_incremental.py"]),
    ("columns: 5 columns chosen before conversion, against every column", ["bench_columns.py"]),
    ("store: a notebook's pulls with and without max_age=, 30 ms a request", ["bench_store.py"]),
    (
        "pacing: pulls under a rate limit of 20 requests per 2 s, with and without headers",
        ["bench_pacing.py"],
    ),
]


def main() -> int:
    failed = 0
    for title, command in BENCHMARKS:
        print(f"\n## {title}\n", flush=True)
        result = subprocess.run([sys.executable, str(HERE / command[0]), *command[1:]], check=False)
        failed += result.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
