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


def time_builder(records: list[dict[str, Any]], page_size: int) -> tuple[float, float]:
    """Seconds to convert the records page by page, and then to one DataFrame."""
    started = time.perf_counter()
    builder = TableBuilder()
    for page_number, offset in enumerate(range(0, len(records), page_size), start=1):
        builder.add_page(records[offset : offset + page_size], page_number)
    table = builder.to_table()
    converted = time.perf_counter()
    to_dataframe(table)
    return converted - started, time.perf_counter() - converted


def time_json_normalize(records: list[dict[str, Any]], *, typed: bool) -> float:
    """Seconds for pandas.json_normalize, optionally followed by the same typing we do."""
    started = time.perf_counter()
    frame = pd.json_normalize(records)
    if typed:
        for column in ("created_at", "updated_at"):
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
        frame = frame.convert_dtypes()
    return time.perf_counter() - started


def main() -> None:
    """Runs the benchmark and prints records per second and the ratio to json_normalize."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=250)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    records = make_records(args.records)
    runs = [time_builder(records, args.page_size) for _ in range(args.repeat)]
    convert, frame = min(runs, key=sum)
    ours = convert + frame
    plain = min(time_json_normalize(records, typed=False) for _ in range(args.repeat))
    typed = min(time_json_normalize(records, typed=True) for _ in range(args.repeat))

    count = args.records
    print(f"{count:,} records in pages of {args.page_size}, best of {args.repeat}")
    print(f"TableBuilder + to_dataframe:   {ours:6.3f} s  {count / ours:>9,.0f} records/s")
    print(f"  pages to Arrow table:        {convert:6.3f} s")
    print(f"  Arrow table to DataFrame:    {frame:6.3f} s")
    print(f"json_normalize:                {plain:6.3f} s  {count / plain:>9,.0f} records/s")
    print(f"json_normalize + typing:       {typed:6.3f} s  {count / typed:>9,.0f} records/s")
    print(f"speed-up over json_normalize:          {plain / ours:.1f}x")
    print(f"speed-up over json_normalize + typing: {typed / ours:.1f}x")


if __name__ == "__main__":
    main()
