"""Benchmark: records to Arrow and pandas, page by page, against pandas.json_normalize.

Builds 100,000 order-like records in memory (a customer object, a list of line items,
timestamps with offsets, nullable integers, money as strings, a field that appears part-way
through), converts them in pages of 250 with ``TableBuilder`` then ``to_dataframe`` (page by
page, 2,000 records at a time as a pull does, and from the pages' JSON bytes as a pull does after
its first chunk, the bytes' encoding not timed), and times
``pandas.json_normalize`` on the same records, alone and followed by the typing that frames does
(UTC timestamps, nullable dtypes).

Run with ``python bench/bench_frames.py [--records N] [--page-size N] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pandas as pd

from alloy_data.frames import TableBuilder, to_dataframe

_OFFSETS = ["Z", "+00:00", "+02:00", "-05:00"]
_CITIES = ["Lyon", "München", "São Paulo", "Toronto", "大阪"]


def make_records(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """Builds ``count`` order-like records; ``discount_code`` appears from the middle on."""
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    records = []
    for number in range(count):
        created = start + timedelta(seconds=rng.randrange(30_000_000))
        stamp = created.strftime("%Y-%m-%dT%H:%M:%S") + f".{rng.randrange(1000):03d}"
        record: dict[str, Any] = {
            "id": number,
            "name": f"#{1000 + number}",
            "created_at": stamp + rng.choice(_OFFSETS),
            "updated_at": None if rng.random() < 0.2 else stamp + "Z",
            "total_price": f"{rng.uniform(1, 500):.2f}",
            "currency": "EUR",
            "quantity": None if rng.random() < 0.1 else rng.randrange(1, 20),
            "test": None if rng.random() < 0.1 else rng.random() < 0.5,
            "tags": [rng.choice(["vip", "new", "gift"]) for _ in range(rng.randrange(3))],
            "customer": {
                "id": rng.randrange(10**9),
                "email": f"user{number}@example.com",
                "accepts_marketing": rng.random() < 0.3,
                "default_address": {
                    "city": rng.choice(_CITIES),
                    "zip": f"{rng.randrange(10**5):05d}",
                    "geo": {"lat": rng.uniform(-90, 90), "lng": rng.uniform(-180, 180)},
                },
            },
            "line_items": [
                {
                    "sku": f"SKU-{rng.randrange(500)}",
                    "quantity": rng.randrange(1, 5),
                    "price": f"{rng.uniform(1, 100):.2f}",
                }
                for _ in range(rng.randrange(1, 4))
            ],
        }
        if number >= count // 2:
            record["discount_code"] = rng.choice([None, "SPRING", "VIP10"])
        records.append(record)
    return records


class Clock:
    """Wall-clock and CPU seconds since it was made (CPU time is steadier on a busy machine)."""

    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()

    def lap(self) -> tuple[float, float]:
        """Wall and CPU seconds since the start."""
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def time_builder(records: list[dict[str, Any]], page_size: int) -> dict[str, float]:
    """Seconds to convert the records page by page, then to one DataFrame."""
    gc.collect()
    clock = Clock()
    builder = TableBuilder()
    for page_number, offset in enumerate(range(0, len(records), page_size), start=1):
        builder.add_page(records[offset : offset + page_size], page_number)
    table = builder.to_table()
    arrow_wall, arrow_cpu = clock.lap()
    to_dataframe(table)
    wall, cpu = clock.lap()
    return {"wall": wall, "cpu": cpu, "arrow_wall": arrow_wall, "arrow_cpu": arrow_cpu}


def time_chunks(records: list[dict[str, Any]], page_size: int, chunk: int) -> dict[str, float]:
    """Seconds to convert the records ``chunk`` at a time, as a pull does (no bytes involved)."""
    gc.collect()
    clock = Clock()
    builder = TableBuilder()
    pages = [
        (records[offset : offset + page_size], number)
        for number, offset in enumerate(range(0, len(records), page_size), start=1)
    ]
    per_chunk = max(chunk // page_size, 1)
    for start in range(0, len(pages), per_chunk):
        builder.add_pages(pages[start : start + per_chunk])
    to_dataframe(builder.to_table())
    wall, cpu = clock.lap()
    return {"wall": wall, "cpu": cpu}


def time_bodies(records: list[dict[str, Any]], page_size: int, chunk: int) -> dict[str, float]:
    """Seconds to read the same pages from their JSON bytes with the types known, as a pull
    does after its first chunk (the first chunk is converted from its records)."""
    import orjson

    pages = [records[offset : offset + page_size] for offset in range(0, len(records), page_size)]
    bodies = [orjson.dumps({"data": {"results": page}}) for page in pages]
    per_chunk = max(chunk // page_size, 1)
    gc.collect()
    clock = Clock()
    builder = TableBuilder()
    builder.add_pages([(page, number) for number, page in enumerate(pages[:per_chunk], start=1)])
    for start in range(per_chunk, len(pages), per_chunk):
        chunk_pages = pages[start : start + per_chunk]
        added = builder.add_bodies(
            bodies[start : start + per_chunk],
            [len(page) for page in chunk_pages],
            payload_key="data",
            records_path="results",
        )
        if added is None:
            numbered = enumerate(chunk_pages, start=start + 1)
            builder.add_pages([(page, number) for number, page in numbered])
    to_dataframe(builder.to_table())
    wall, cpu = clock.lap()
    return {"wall": wall, "cpu": cpu}


def time_json_normalize(records: list[dict[str, Any]], *, typed: bool) -> dict[str, float]:
    """Seconds for pandas.json_normalize, optionally followed by the same typing we do."""
    gc.collect()
    clock = Clock()
    frame = pd.json_normalize(records)
    if typed:
        for column in ("created_at", "updated_at"):
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
        frame = frame.convert_dtypes()
    wall, cpu = clock.lap()
    return {"wall": wall, "cpu": cpu}


def best(runs: list[dict[str, float]]) -> dict[str, float]:
    """The run with the least CPU time."""
    return min(runs, key=lambda run: run["cpu"])


def main() -> None:
    """Runs the benchmark and prints records per second and the ratio to json_normalize."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=250)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    records = make_records(args.records)
    # Keep the garbage collector from walking the input's millions of objects over and over,
    # which would charge whichever side runs at an unlucky moment.
    gc.collect()
    gc.freeze()
    ours = best([time_builder(records, args.page_size) for _ in range(args.repeat)])
    chunks = best([time_chunks(records, args.page_size, 2_000) for _ in range(args.repeat)])
    bodies = best([time_bodies(records, args.page_size, 2_000) for _ in range(args.repeat)])
    plain = best([time_json_normalize(records, typed=False) for _ in range(args.repeat)])
    typed = best([time_json_normalize(records, typed=True) for _ in range(args.repeat)])

    count = args.records
    print(f"{count:,} records in pages of {args.page_size}, best of {args.repeat} (by CPU time)")
    print(f"{'':32}{'wall s':>8}{'CPU s':>8}{'records/s (CPU)':>17}")
    rows = [
        ("TableBuilder + to_dataframe", ours),
        ("  pages to Arrow table", {"wall": ours["arrow_wall"], "cpu": ours["arrow_cpu"]}),
        ("add_pages, 2,000 at a time", chunks),
        ("add_bodies (Arrow JSON reader)", bodies),
        ("json_normalize", plain),
        ("json_normalize + typing", typed),
    ]
    for label, run in rows:
        rate = count / run["cpu"]
        print(f"{label:32}{run['wall']:8.3f}{run['cpu']:8.3f}{rate:17,.0f}")
    for label, run in (("page by page", ours), ("2,000 at a time", chunks), ("from bytes", bodies)):
        print(
            f"{label}: {plain['cpu'] / run['cpu']:.1f}x json_normalize, "
            f"{typed['cpu'] / run['cpu']:.1f}x json_normalize + typing (CPU)"
        )


if __name__ == "__main__":
    main()
