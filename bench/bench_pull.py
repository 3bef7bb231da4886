"""Pull throughput and memory: alloy-data against the loops analysts write, side by side.

Runs the sandbox in its own process (so it does not share the GIL with the client), then, for
cursor paging (HubSpot contacts, 100 a page) and offset paging (Box files, 1,000 a page), pulls
the same records into a DataFrame and then a Parquet file with each contender, each run in a
fresh subprocess that reports its time and peak RSS. Contenders:

- ``floor``: replays the same requests and only reads the bytes (the cost of the network and
  the server, which no client can beat);
- ``naive``: ``requests.post`` per page, ``resp.json()``, ``pandas.json_normalize``,
  ``DataFrame.to_parquet``: the loop analysts write;
- ``alloy``: ``client.pull(...).to_dataframe()`` then ``to_parquet``, and the same with
  ``concurrency=1`` for offset paging (the default is ``concurrency="auto"``);
- ``dlt``: a dlt pipeline writing Parquet (only where dlt is installed: ``pip install
  alloy-data[bench]``).

Two more rows say where the time and the memory go: ``floor + Arrow JSON parse`` (offset
paging) replays the requests and parses every page's bytes with Arrow's C++ JSON reader, no
Python objects at all, a bound no converting client beats; and alloy-data run with
``ARROW_DEFAULT_MEMORY_POOL=system``, to show how much of its peak memory is Arrow's default
allocator (mimalloc) holding on to memory.

A second part repeats the cursor comparison with 10 ms (20,000 records) and 50 ms (10,000
records) of latency per request, as a real API adds far more than loopback does. A third part
adds 50 ms of latency to every request and compares page-number paging (Xero invoices, 100 a
page) sequentially, with the default ``concurrency="auto"`` and with ``concurrency=8``.

Usage: ``python bench/bench_pull.py [--records 100000] [--repeat 3] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

API_KEY = "sk_bench_pull_key"
SYSTEM_ALLOCATOR = {"ARROW_DEFAULT_MEMORY_POOL": "system"}
RECORDS_KEYS = {"cursor": "results", "offset": "entries", "page_number": "Invoices"}
LATENCY_RECORDS = 10_000
LATENCY_PAGE_SIZE = 100
# (milliseconds of latency a request, records): real APIs answer in tens of milliseconds.
CURSOR_LATENCIES = ((10, 20_000), (50, 10_000))
PAGINGS = {
    "cursor": ("hubspot", "list-contacts"),
    "offset": ("box", "list-files"),
    "page_number": ("xero", "list-invoices"),
}


# -- the contenders, each run in a child process ----------------------------------------


def _session(url: str) -> Any:
    import requests

    session = requests.Session()
    session.trust_env = False
    session.headers["Authorization"] = f"Bearer {API_KEY}"
    return session


def _execute_url(url: str, connector: str, action: str) -> str:
    return f"{url}/connectors/{connector}/actions/{action}/execute"


def plan_requests(url: str, user: str, credential: str, paging: str) -> list[dict[str, Any]]:
    """Walk the pages once and return every request's parameters, for the floor to replay."""
    connector, action = PAGINGS[paging]
    session = _session(url)
    target = _execute_url(url, connector, action)
    plans: list[dict[str, Any]] = []
    if paging == "cursor":
        parameters: dict[str, Any] = {"limit": 100}
        while True:
            plans.append(dict(parameters))
            body = session.post(
                target, json={"userId": user, "credentialId": credential, "parameters": parameters}
            ).json()["data"]
            if "paging" not in body:
                return plans
            parameters["after"] = body["paging"]["next"]["after"]
    size = 1000  # the largest page both actions allow
    key = "offset" if paging == "offset" else "page"
    index = 0
    while True:
        position = index * size if paging == "offset" else index + 1
        parameters = {key: position, ("limit" if paging == "offset" else "pageSize"): size}
        plans.append(parameters)
        body = session.post(
            target, json={"userId": user, "credentialId": credential, "parameters": parameters}
        ).json()["data"]
        records = body["entries"] if paging == "offset" else body["Invoices"]
        if len(records) < size:
            return plans
        index += 1


def run_floor(args: argparse.Namespace) -> int:
    connector, action = PAGINGS[args.paging]
    plans = json.loads(Path(args.plan).read_text())
    session = _session(args.url)
    target = _execute_url(args.url, connector, action)
    total = 0
    for parameters in plans:
        response = session.post(
            target,
            json={"userId": args.user, "credentialId": args.credential, "parameters": parameters},
        )
        total += len(response.content)
    return len(plans)


def run_socket(args: argparse.Namespace) -> int:
    """The floor without an HTTP library: one kept-alive socket, each request in one write,
    each answer read by its Content-Length. What the network and the server cost alone."""
    import socket
    from urllib.parse import urlsplit

    connector, action = PAGINGS[args.paging]
    plans = json.loads(Path(args.plan).read_text())
    where = urlsplit(args.url)
    path = urlsplit(_execute_url(args.url, connector, action)).path
    connection = socket.create_connection((where.hostname, where.port))
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = connection.makefile("rb")
    total = 0
    for parameters in plans:
        body = json.dumps(
            {"userId": args.user, "credentialId": args.credential, "parameters": parameters}
        ).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {where.netloc}\r\n"
            f"Authorization: Bearer {API_KEY}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        connection.sendall(head.encode() + body)
        reader.readline()  # the status line
        length = None
        while (line := reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise RuntimeError("the sandbox answered without a Content-Length")
        total += len(reader.read(length))
    connection.close()
    return len(plans)


def run_parse(args: argparse.Namespace) -> int:
    """The floor, then Arrow's C++ JSON reader over every page's bytes: no Python objects at
    all. No client that turns the records into columns can be faster than this."""
    import io

    import pyarrow.json as pa_json

    connector, action = PAGINGS[args.paging]
    plans = json.loads(Path(args.plan).read_text())
    session = _session(args.url)
    target = _execute_url(args.url, connector, action)
    bodies = [
        session.post(
            target,
            json={"userId": args.user, "credentialId": args.credential, "parameters": parameters},
        ).content
        for parameters in plans
    ]
    block = max(map(len, bodies)) + 1
    table = pa_json.read_json(
        io.BytesIO(b"\n".join(bodies)),
        read_options=pa_json.ReadOptions(block_size=max(block, 1 << 20)),
    )
    records = table.column("data").combine_chunks().field(RECORDS_KEYS[args.paging])
    return sum(records.value_lengths().to_pylist())


def run_naive(args: argparse.Namespace) -> int:
    import pandas as pd

    connector, action = PAGINGS[args.paging]
    session = _session(args.url)
    target = _execute_url(args.url, connector, action)
    records: list[dict[str, Any]] = []
    if args.paging == "cursor":
        parameters: dict[str, Any] = {"limit": 100}
        while True:
            response = session.post(
                target,
                json={
                    "userId": args.user,
                    "credentialId": args.credential,
                    "parameters": parameters,
                },
            )
            body = response.json()["data"]
            records.extend(body["results"])
            if "paging" not in body:
                break
            parameters["after"] = body["paging"]["next"]["after"]
    else:
        offset = 0
        while True:
            parameters = {"offset": offset, "limit": 1000}
            response = session.post(
                target,
                json={
                    "userId": args.user,
                    "credentialId": args.credential,
                    "parameters": parameters,
                },
            )
            body = response.json()["data"]
            records.extend(body["entries"])
            offset += len(body["entries"])
            if len(body["entries"]) < 1000:
                break
    frame = pd.json_normalize(records)
    try:
        frame.to_parquet(args.out)
    except (ValueError, TypeError) as error:  # pyarrow.ArrowInvalid: a column of mixed types
        # What an analyst does next: turn the mixed columns into text and try again.
        print(
            f"naive loop: to_parquet failed ({type(error).__name__}); retrying with the "
            "mixed columns as text",
            file=sys.stderr,
        )
        mixed = [c for c in frame.columns if frame[c].dtype == object]
        frame[mixed] = frame[mixed].astype(str)
        frame.to_parquet(args.out)
    return len(frame)


def run_alloy(args: argparse.Namespace) -> int:
    import alloy_data as ad

    connector, action = PAGINGS[args.paging]
    with ad.AlloyClient(API_KEY, base_url=args.url, user_id=args.user, trust_env=False) as client:
        pull = client.pull(
            connector,
            action,
            credential_id=args.credential,
            progress=False,
            concurrency=int(args.concurrency) if args.concurrency else "auto",
            page_size=args.page_size,
        )
        frame = pull.to_dataframe()
    frame.to_parquet(args.out)
    return len(frame)


def run_dlt(args: argparse.Namespace) -> int:
    import dlt
    import pyarrow.parquet as pq
    from dlt.sources.helpers.rest_client import RESTClient
    from dlt.sources.helpers.rest_client.paginators import (
        JSONResponseCursorPaginator,
        OffsetPaginator,
    )

    connector, action = PAGINGS[args.paging]
    if args.paging == "cursor":
        paginator: Any = JSONResponseCursorPaginator(
            cursor_path="data.paging.next.after", cursor_body_path="parameters.after"
        )
        data_selector = "data.results"
        first = {"limit": 100}
    else:
        paginator = OffsetPaginator(
            limit=1000,
            offset_body_path="parameters.offset",
            limit_body_path="parameters.limit",
            total_path="data.total_count",
        )
        data_selector = "data.entries"
        first = {"limit": 1000, "offset": 0}
    client = RESTClient(
        base_url=args.url,
        headers={"Authorization": f"Bearer {API_KEY}"},
        paginator=paginator,
        data_selector=data_selector,
    )

    @dlt.resource(name="records")
    def records() -> Any:
        yield from client.paginate(
            f"/connectors/{connector}/actions/{action}/execute",
            method="POST",
            json={"userId": args.user, "credentialId": args.credential, "parameters": first},
        )

    workdir = Path(args.out).parent / f"dlt-{args.paging}"
    shutil.rmtree(workdir, ignore_errors=True)  # each run loads afresh, not on top of the last
    pipeline = dlt.pipeline(
        pipeline_name="bench",
        destination=dlt.destinations.filesystem(str(workdir)),
        dataset_name="bench",
        pipelines_dir=str(workdir / "state"),
    )
    pipeline.run(records(), loader_file_format="parquet")
    files = sorted((workdir / "bench" / "records").glob("*.parquet"))
    frame = pq.ParquetDataset(files).read().to_pandas()
    return len(frame)


CONTENDERS = {
    "floor": run_floor,
    "socket": run_socket,
    "parse": run_parse,
    "naive": run_naive,
    "alloy": run_alloy,
    "dlt": run_dlt,
}


def child(args: argparse.Namespace) -> None:
    # Imports are not part of any loop's cost: load what every contender uses first.
    import pandas  # noqa: F401
    import pyarrow.parquet  # noqa: F401
    import requests  # noqa: F401

    import alloy_data.frames
    import alloy_data.pull  # noqa: F401

    if args.contender == "dlt":
        import dlt  # noqa: F401
    started = time.perf_counter()
    rows = CONTENDERS[args.contender](args)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_mb": peak_mb}))


# -- the orchestration ---------------------------------------------------------------------


def start_sandbox(records: int, latency_ms: int) -> tuple[subprocess.Popen[str], str]:
    command = [
        sys.executable,
        "-m",
        "alloy_data.sandbox",
        "--port",
        "0",
        "--api-key",
        API_KEY,
        "--records",
        f"hubspot={records}",
        "--records",
        f"box={records}",
        "--records",
        f"xero={records}",
        "--latency-ms",
        str(latency_ms),
        # Enough memory to serve every page from cache after the first walk, so the
        # runs measure the clients, not record generation.
        "--cache-mb",
        "256",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    found = re.search(r"http://[0-9.:]+", line)
    if not found:
        process.terminate()
        raise SystemExit(f"the sandbox did not start: {line!r}")
    return process, found.group(0)


def fixtures(url: str) -> tuple[str, dict[str, str]]:
    session = _session(url)
    user = session.get(f"{url}/users").json()["data"][0]["userId"]
    credentials = {}
    for connector, _ in PAGINGS.values():
        listed = session.get(
            f"{url}/connectors/{connector}/credentials", params={"userId": user}
        ).json()["credentials"]
        credentials[connector] = listed[0]["credentialId"]
    return user, credentials


def measure(
    contender: str,
    paging: str,
    url: str,
    user: str,
    credential: str,
    plan: Path,
    workdir: Path,
    concurrency: int | None = None,
    page_size: int | None = None,
    environment: dict[str, str] | None = None,
) -> dict[str, Any] | None:
    out = workdir / f"{contender}-{paging}.parquet"
    command = [
        sys.executable,
        __file__,
        "--child",
        contender,
        "--paging",
        paging,
        "--url",
        url,
        "--user",
        user,
        "--credential",
        credential,
        "--plan",
        str(plan),
        "--out",
        str(out),
    ]
    if concurrency:
        command += ["--concurrency", str(concurrency)]
    if page_size:
        command += ["--page-size", str(page_size)]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
        env={**os.environ, **(environment or {})},
    )
    if result.returncode != 0:
        print(
            f"  {contender} ({paging}) failed: {result.stderr.strip().splitlines()[-1:]}",
            file=sys.stderr,
        )
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])


def dlt_installed() -> bool:
    probe = subprocess.run([sys.executable, "-c", "import dlt"], capture_output=True, check=False)
    return probe.returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--child", dest="contender", help=argparse.SUPPRESS)
    for hidden in ("--paging", "--url", "--user", "--credential", "--plan", "--out"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", help=argparse.SUPPRESS)
    parser.add_argument("--page-size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.contender:
        child(args)
        return
    results = run_all(args.records, args.repeat)
    print(render(results, args.records))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


Run = tuple[str, str, int | None, dict[str, str] | None]
"""A row of a comparison: its name, the contender, its concurrency and extra environment."""


def compare(
    url: str,
    paging: str,
    runs: list[Run],
    repeat: int,
    workdir: Path,
) -> dict[str, Any]:
    """Measure each contender ``repeat`` times, interleaved, against the sandbox at ``url``."""
    user, credentials = fixtures(url)
    credential = credentials[PAGINGS[paging][0]]
    plan = workdir / f"plan-{paging}.json"
    # Walking the pages once also fills the sandbox's cache before anything is measured.
    plan.write_text(json.dumps(plan_requests(url, user, credential, paging)))
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name, *_ in runs}
    for _ in range(repeat):  # interleaved, so drift in the machine hits all alike
        for name, contender, concurrency, environment in runs:
            sample = measure(
                contender,
                paging,
                url,
                user,
                credential,
                plan,
                workdir,
                concurrency,
                environment=environment,
            )
            if sample:
                samples[name].append(sample)
    return summarise(samples)


def run_all(records: int, repeat: int) -> dict[str, Any]:
    results: dict[str, Any] = {"throughput": {}, "latency": {}}
    with_dlt = dlt_installed()
    base: list[Run] = [
        ("floor", "floor", None, None),
        ("naive", "naive", None, None),
        ("alloy", "alloy", None, None),
    ]
    # What the network and the server cost without any HTTP library: the wire alone.
    socket_floor: list[Run] = [("floor, one socket without an HTTP library", "socket", None, None)]
    # Where the time and the memory go: the bytes parsed by Arrow alone, and alloy-data with
    # the C library's allocator instead of Arrow's default (mimalloc), which keeps more memory.
    system_allocator: list[Run] = [
        ("alloy, ARROW_DEFAULT_MEMORY_POOL=system", "alloy", None, SYSTEM_ALLOCATOR)
    ]
    # (Only for offset paging: HubSpot's external_id mixes numbers and text, which Arrow's
    # reader refuses to infer.)
    parse_only: list[Run] = [("floor + Arrow JSON parse", "parse", None, None)]
    others: list[Run] = [("dlt", "dlt", None, None)] if with_dlt else []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        with sandbox_process(records, 0) as url:
            results["throughput"]["cursor paging"] = compare(
                url, "cursor", base + socket_floor + system_allocator + others, repeat, workdir
            )
            # The default is concurrency="auto"; this row fetches one page after another.
            concurrent: list[Run] = [("alloy concurrency=1", "alloy", 1, None)]
            offset_runs = base + socket_floor + concurrent + parse_only + system_allocator + others
            results["throughput"]["offset paging"] = compare(
                url, "offset", offset_runs, repeat, workdir
            )
        # Real APIs answer in tens of milliseconds, not one: there fetching the next page
        # overlaps converting the last one.
        for latency_ms, latency_records in CURSOR_LATENCIES:
            with sandbox_process(latency_records, latency_ms) as url:
                label = f"cursor paging, {latency_ms} ms latency, {latency_records:,} records"
                results["throughput"][label] = compare(url, "cursor", base, repeat, workdir)
        # Latency dominates with pages of 100: the case concurrency is for.
        with sandbox_process(LATENCY_RECORDS, 50) as url:
            user, credentials = fixtures(url)
            measure(  # warms the cache
                "alloy", "page_number", url, user, credentials["xero"],
                workdir / "none.json", workdir, 8, LATENCY_PAGE_SIZE,
            )  # fmt: skip
            runs_at_latency = (
                ("sequential", 1),
                ("auto (the default)", None),
                ("concurrency=8", 8),
            )
            samples: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in runs_at_latency}
            for _ in range(repeat):
                for name, concurrency in runs_at_latency:
                    sample = measure(
                        "alloy", "page_number", url, user, credentials["xero"],
                        workdir / "none.json", workdir, concurrency, LATENCY_PAGE_SIZE,
                    )  # fmt: skip
                    if sample:
                        samples[name].append(sample)
            results["latency"] = summarise(samples)
    return results


@contextlib.contextmanager
def sandbox_process(records: int, latency_ms: int) -> Iterator[str]:
    """Run the sandbox in a subprocess for the block; yield its URL."""
    process, url = start_sandbox(records, latency_ms)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def summarise(samples: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    summary = {}
    for name, runs in samples.items():
        if runs:
            summary[name] = {
                "seconds": statistics.median(r["seconds"] for r in runs),
                "peak_mb": statistics.median(r["peak_mb"] for r in runs),
                "rows": runs[0]["rows"],
                "runs": len(runs),
            }
    return summary


def render(results: dict[str, Any], records: int) -> str:
    lines = [
        f"Pulls of {records:,} records over loopback, unless the table says otherwise "
        "(medians; ratio to the floor):",
        "",
    ]
    for label, summary in results["throughput"].items():
        floor = summary.get("floor", {}).get("seconds")
        lines.append(f"| {label} | seconds | x floor | peak RSS MB | rows |")
        lines.append("| --- | --- | --- | --- | --- |")
        naive, alloy = summary.get("naive", {}), summary.get("alloy", {})
        for name, figures in summary.items():
            ratio = figures["seconds"] / floor if floor else float("nan")
            lines.append(
                f"| {name} | {figures['seconds']:.2f} | {ratio:.2f} | "
                f"{figures['peak_mb']:.0f} | {figures['rows']:,} |"
            )
        lines.append("")
        if naive and alloy:
            faster = naive["seconds"] / alloy["seconds"]
            lines.append(f"alloy-data is {faster:.1f}x faster than the naive loop here.")
            lines.append("")
    latency = results["latency"]
    if "sequential" in latency and "concurrency=8" in latency:
        speedup = latency["sequential"]["seconds"] / latency["concurrency=8"]["seconds"]
        lines.append(
            f"Page-number paging of {LATENCY_RECORDS:,} records, {LATENCY_PAGE_SIZE} a "
            "page, with 50 ms latency per request:"
        )
        lines.append("")
        lines.append("| run | seconds | rows |")
        lines.append("| --- | --- | --- |")
        for name, figures in latency.items():
            lines.append(f"| {name} | {figures['seconds']:.2f} | {figures['rows']:,} |")
        lines.append("")
        lines.append(f"concurrency=8 is {speedup:.1f}x faster than sequential.")
        auto = latency.get("auto (the default)")
        if auto:
            auto_speedup = latency["sequential"]["seconds"] / auto["seconds"]
            lines.append(f"The default, concurrency='auto', is {auto_speedup:.1f}x faster.")
    return "\n".join(lines)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
