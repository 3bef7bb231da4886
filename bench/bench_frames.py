"""Benchmark: records to Arrow and pandas, page by page, against pandas.json_normalize.

Builds 100,000 order-like records in memory (a customer object, a list of line items,
timestamps with offsets, nullable integers, money as strings, a field that appears part-way
through), converts them in pages of 250 with ``TableBuilder`` then ``to_dataframe``, and times
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
    plain = best([time_json_normalize(records, typed=False) for _ in range(args.repeat)])
    typed = best([time_json_normalize(records, typed=True) for _ in range(args.repeat)])

    count = args.records
    print(f"{count:,} records in pages of {args.page_size}, best of {args.repeat} (by CPU time)")
    print(f"{'':32}{'wall s':>8}{'CPU s':>8}{'records/s (CPU)':>17}")
    rows = [
        ("TableBuilder + to_dataframe", ours),
        ("  pages to Arrow table", {"wall": ours["arrow_wall"], "cpu": ours["arrow_cpu"]}),
        ("json_normalize", plain),
        ("json_normalize + typing", typed),
    ]
    for label, run in rows:
        rate = count / run["cpu"]
        print(f"{label:32}{run['wall']:8.3f}{run['cpu']:8.3f}{rate:17,.0f}")
    print(f"speed-up over json_normalize:          {plain['cpu'] / ours['cpu']:.1f}x (CPU)")
    print(f"speed-up over json_normalize + typing: {typed['cpu'] / ours['cpu']:.1f}x (CPU)")


if __name__ == "__main__":
    main()
