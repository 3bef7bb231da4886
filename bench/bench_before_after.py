"""This tree against an earlier revision, side by side in one run: did anything get slower?

A change of structure (the options object, a run per call, one walk for both schedules) must
not cost speed. This takes an earlier revision out of git into a temporary folder and runs the
same pulls with each tree in turn, interleaved, each in a fresh process, against one sandbox
in its own process:

- loopback: 100,000 records by cursor (HubSpot contacts) and by offset (Box files), into a
  DataFrame and then a Parquet file, as the README shows (``to_dataframe()`` then
  ``to_parquet(...)``);
- 30 ms a request: each list action of the demo, 5,000 records, into a DataFrame.

It reports the median seconds and the requests made of each tree, and their ratio.

Usage: ``python bench/bench_before_after.py --before REVISION [--repeat 3] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

# The sandbox, its fixtures and the demo's list actions, as the 30 ms benchmark has them.
from bench_network import ACTIONS as NETWORK
from bench_network import API_KEY, fixtures, start_sandbox

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = [("hubspot", "list-contacts", "cursor"), ("box", "list-files", "offset")]


def child(args: argparse.Namespace) -> None:
    """In a fresh process whose PYTHONPATH names one tree: one pull, its seconds and requests."""
    import alloy_data as ad

    with ad.AlloyClient(API_KEY, base_url=args.url, user_id=args.user) as client:
        started = time.perf_counter()
        pull = client.pull(
            args.connector, args.action, credential_id=args.credential, progress=False
        )
        frame = pull.to_dataframe()
        requests = pull.stats.requests
        frame_seconds = time.perf_counter() - started
        if args.parquet:
            with tempfile.TemporaryDirectory() as folder:
                pull.to_parquet(Path(folder) / "rows.parquet")
            # A sink that reused the run made no request of its own.
            if not getattr(pull.stats, "reused", False):
                requests += pull.stats.requests
        seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "seconds": seconds,
                "frame_seconds": frame_seconds,
                "requests": requests,
                "rows": len(frame),
                "version": str(Path(ad.__file__).parent.parent),
            }
        )
    )


def measure(tree: Path, url: str, user: str, credential: str, case: tuple, parquet: bool) -> dict:
    connector, action, _ = case
    command = [
        sys.executable, __file__, "--child", "--url", url, "--user", user,
        "--credential", credential, "--connector", connector, "--action", action,
    ]  # fmt: skip
    if parquet:
        command.append("--parquet")
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONWARNINGS": "ignore"}
    result = subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=1800, env=env
    )
    if result.returncode != 0:
        raise SystemExit(f"{tree} {connector} {action} failed:\n{result.stderr[-2000:]}")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    if Path(figures["version"]) != tree:
        raise SystemExit(f"the child imported {figures['version']}, not {tree}")
    return figures


def compare(
    trees: dict[str, Path], cases: list[tuple], records: int, latency_ms: int, *, parquet: bool,
    repeat: int,
) -> list[dict[str, Any]]:  # fmt: skip
    process, url = start_sandbox(records, latency_ms, cache_mb=512)
    try:
        user, credentials = fixtures(url)
        rows = []
        for case in cases:
            runs: dict[str, list[dict]] = {name: [] for name in trees}
            # A first walk fills the sandbox's page cache for both trees alike.
            measure(trees["after"], url, user, credentials[case[0]], case, False)
            for index in range(repeat):
                order = list(trees) if index % 2 == 0 else list(reversed(trees))
                for name in order:
                    runs[name].append(
                        measure(trees[name], url, user, credentials[case[0]], case, parquet)
                    )
            rows.append({"case": case, "runs": runs})
        return rows
    finally:
        process.terminate()
        process.wait(timeout=10)


def render(title: str, rows: list[dict[str, Any]]) -> str:
    lines = [
        f"| {title} | before s | after s | after / before | before requests | after requests |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        connector, action, convention = row["case"]
        before = statistics.median(r["seconds"] for r in row["runs"]["before"])
        after = statistics.median(r["seconds"] for r in row["runs"]["after"])
        requests_before = row["runs"]["before"][0]["requests"]
        requests_after = row["runs"]["after"][0]["requests"]
        lines.append(
            f"| {connector} {action} ({convention}) | {before:.2f} | {after:.2f} | "
            f"{after / before:.2f} | {requests_before:,} | {requests_after:,} |"
        )
    return "\n".join(lines)


def checkout(revision: str, folder: Path) -> Path:
    """The package of ``revision``, unpacked under ``folder``."""
    archive = folder / "before.tar"
    with archive.open("wb") as handle:
        subprocess.run(
            ["git", "archive", revision, "alloy_data"], cwd=ROOT, stdout=handle, check=True
        )
    with tarfile.open(archive) as tar:
        tar.extractall(folder / "before", filter="data")
    return folder / "before"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="the git revision to compare with")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--loopback-records", type=int, default=100_000)
    parser.add_argument("--network-records", type=int, default=5_000)
    parser.add_argument("--latency-ms", type=int, default=30)
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--parquet", action="store_true", help=argparse.SUPPRESS)
    for name in ("--url", "--user", "--credential", "--connector", "--action"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if not args.before:
        parser.error("--before REVISION is needed (such as a tag or a commit)")
    with tempfile.TemporaryDirectory() as folder:
        trees = {"before": checkout(args.before, Path(folder)), "after": ROOT}
        loopback = compare(
            trees, LOOPBACK, args.loopback_records, 0, parquet=True, repeat=args.repeat
        )
        network = compare(
            trees, NETWORK, args.network_records, args.latency_ms, parquet=False,
            repeat=args.repeat,
        )  # fmt: skip
    print(f"Before: {args.before}; after: this tree. Medians of {args.repeat} interleaved runs.\n")
    print(render(f"loopback, {args.loopback_records:,} records, frame then Parquet", loopback))
    print()
    print(render(f"{args.latency_ms} ms a request, {args.network_records:,} records", network))
    if args.json:
        Path(args.json).write_text(json.dumps({"loopback": loopback, "network": network}, indent=2))


if __name__ == "__main__":
    main()
