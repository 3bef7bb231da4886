"""Benchmark: peak memory and time of streaming records into Parquet with ``ParquetWriter``.

For each record count (100,000 and 1,000,000 by default) a fresh process generates order-like
nested records page by page (250 per page; a customer object, a list of line items, timestamps,
nullable integers, unicode, and a field that appears half-way through so the schema drifts),
converts each page with ``TableBuilder(keep_batches=False)``, writes it with
``ParquetWriter.write_page`` and finishes the file. Each process reports its peak resident set
size and the seconds spent in ``write_page`` (spooling each page durably) and ``finish``
(rewriting the spool into Parquet), apart from the seconds spent generating the synthetic
records and converting them with ``TableBuilder``. Memory should not grow with the record
count.

Run with ``python bench/bench_export.py [--records 100000 1000000] [--page-size 250]``.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

_CITIES = ["Lyon", "München", "São Paulo", "Toronto", "大阪"]
_START = datetime(2024, 1, 1, tzinfo=timezone.utc)


def make_page(page: int, size: int, *, with_discount: bool) -> list[dict[str, Any]]:
    """Builds one page of order-like records, the same for the same page number."""
    rng = random.Random(page)
    records = []
    for offset in range(size):
        number = page * size + offset
        created = _START + timedelta(seconds=rng.randrange(30_000_000))
        record: dict[str, Any] = {
            "id": number,
            "name": f"#{1000 + number}",
            "created_at": created.strftime("%Y-%m-%dT%H:%M:%S.") + f"{number % 1000:03d}Z",
            "total": round(rng.uniform(1, 500), 2),
            "quantity": None if rng.random() < 0.1 else rng.randrange(1, 20),
            "tags": [rng.choice(["vip", "new", "gift"]) for _ in range(rng.randrange(3))],
            "customer": {
                "id": rng.randrange(10**9),
                "email": f"user{number}@example.com",
                "address": {"city": rng.choice(_CITIES), "zip": f"{rng.randrange(10**5):05d}"},
            },
            "line_items": [
                {"sku": f"SKU-{rng.randrange(500)}", "qty": rng.randrange(1, 5), "price": 9.5}
                for _ in range(rng.randrange(1, 4))
            ],
        }
        if with_discount:
            record["discount"] = {"code": f"D{rng.randrange(100)}", "percent": rng.randrange(50)}
        records.append(record)
    return records


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS bytes.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def run_one(records: int, page_size: int, directory: Path) -> dict[str, Any]:
    """Exports ``records`` records in this process and measures it."""
    from alloy_data.export import ParquetWriter
    from alloy_data.frames import TableBuilder

    baseline = _peak_rss_mb()
    target = directory / f"orders-{records}.parquet"
    writer = ParquetWriter(target, overwrite=True, metadata={"bench": "export"})
    writer.open()
    builder = TableBuilder(keep_batches=False)
    pages = -(-records // page_size)
    generating = converting = writing = 0.0
    for page in range(pages):
        size = min(page_size, records - page * page_size)
        started = time.perf_counter()
        page_records = make_page(page, size, with_discount=page >= pages // 2)
        generated = time.perf_counter()
        batch = builder.add_page(page_records, page)
        converted = time.perf_counter()
        next_parameters = None if page == pages - 1 else {"offset": (page + 1) * page_size}
        writer.write_page(page, batch, schema=builder.schema, next_parameters=next_parameters)
        written = time.perf_counter()
        generating += generated - started
        converting += converted - generated
        writing += written - converted
    spool_mb = (writer.checkpoint_dir / "pages.spool").stat().st_size / 1e6
    started = time.perf_counter()
    writer.finish(schema=builder.schema)
    finishing = time.perf_counter() - started
    return {
        "records": records,
        "pages": pages,
        "import_rss_mb": round(baseline, 1),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "generate_seconds": round(generating, 2),
        "convert_seconds": round(converting, 2),
        "write_page_seconds": round(writing, 2),
        "finish_seconds": round(finishing, 2),
        "spool_mb": round(spool_mb, 1),
        "parquet_mb": round(target.stat().st_size / 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--page-size", type=int, default=250)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--directory", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.records[0], args.page_size, Path(args.directory))))
        return
    results = []
    with tempfile.TemporaryDirectory() as directory:
        for records in args.records:
            # A fresh process each, so one run's peak memory cannot hide in another's.
            output = subprocess.run(
                [sys.executable, __file__, "--child", "--records", str(records),
                 "--page-size", str(args.page_size), "--directory", directory],
                check=True, capture_output=True, text=True,
            ).stdout  # fmt: skip
            results.append(json.loads(output))
            print(json.dumps(results[-1]), flush=True)
    print()
    print(
        "| records | peak RSS (MB) | after imports (MB) | write_page s | finish s "
        "| convert s | generate s | spool MB | Parquet MB |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(
            f"| {r['records']:,} | {r['peak_rss_mb']} | {r['import_rss_mb']} "
            f"| {r['write_page_seconds']} | {r['finish_seconds']} | {r['convert_seconds']} "
            f"| {r['generate_seconds']} | {r['spool_mb']} | {r['parquet_mb']} |"
        )
    if len(results) > 1:
        growth = results[-1]["peak_rss_mb"] / results[0]["peak_rss_mb"] - 1
        print(f"\nPeak memory grows {growth:+.0%} from the smallest to the largest run.")


if __name__ == "__main__":
    main()
