"""What bounds a pull's memory: pages waiting for the worker, row groups, the table under pandas.

Memory itself is measured by ``bench/bench_memory.py``; these tests check the behaviour that
keeps it bounded, with counts of pages and of Arrow's allocations, never the process's size.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from alloy_data.engine._conversion import ChunkedConversion
from alloy_data.export._formats import write_parquet_file
from alloy_data.frames import TableBuilder, to_dataframe
from alloy_data.pagination import Page

RECORDS_PER_PAGE = 5
PAGES_PER_CHUNK = 4
PAGES = 100
# One chunk converting, one handed over behind it and one gathering: beyond that, fetching
# waits for the worker.
MOST_PAGES_HELD = 3 * PAGES_PER_CHUNK


def page_of(number: int) -> Page:
    """A page as the walk makes it: its records are the very ones in its decoded answer."""
    records = [
        {"id": number * RECORDS_PER_PAGE + offset, "name": f"record {number}.{offset}"}
        for offset in range(RECORDS_PER_PAGE)
    ]
    answer = json.dumps({"data": {"results": records}}).encode()
    decoded = json.loads(answer)
    return Page(
        number=number,
        records=decoded["data"]["results"],
        raw=decoded,
        records_path="results",
        payload_key="data",
        body=answer,
    )


@pytest.mark.parametrize("slow", ["converting", "writing"])
def test_a_fetch_that_outruns_the_worker_holds_at_most_three_chunks_of_pages(slow: str) -> None:
    go_on = threading.Event()
    written_up_to = 0
    held: list[int] = []  # pages fetched and not yet written, as each page is fetched

    class SlowBuilder(TableBuilder):
        def add_pages(self, pages: Any) -> list[pa.RecordBatch]:
            go_on.wait(timeout=60)
            return super().add_pages(pages)

        def add_bodies(self, *args: Any, **options: Any) -> pa.RecordBatch | None:
            go_on.wait(timeout=60)
            return super().add_bodies(*args, **options)

    def write(converted: list[tuple[Page, pa.RecordBatch]]) -> None:
        nonlocal written_up_to
        if slow == "writing":
            go_on.wait(timeout=60)
        written_up_to = converted[-1][0].number

    def fetched_pages() -> Iterator[Page]:
        for number in range(1, PAGES + 1):
            held.append(number - written_up_to)
            yield page_of(number)

    builder = SlowBuilder() if slow == "converting" else TableBuilder()
    conversion = ChunkedConversion(
        builder, chunk_records=PAGES_PER_CHUNK * RECORDS_PER_PAGE, on_converted=write
    )
    failures: list[BaseException] = []

    def fetch() -> None:
        try:
            for page in fetched_pages():
                conversion.add(page)
            conversion.finish()
        except BaseException as error:  # reported in this thread, below
            failures.append(error)

    fetching = threading.Thread(target=fetch)
    fetching.start()
    try:
        # Until the fetching stops, waiting for the worker (or runs through every page).
        seen = -1
        while fetching.is_alive() and len(held) != seen:
            seen = len(held)
            fetching.join(timeout=0.2)
    finally:
        go_on.set()
        fetching.join()
        conversion.close()

    assert not failures
    assert len(held) == PAGES
    assert max(held) <= MOST_PAGES_HELD
    assert written_up_to == PAGES
    assert builder.row_count == PAGES * RECORDS_PER_PAGE


def test_a_parquet_file_is_written_holding_one_row_group_at_a_time(tmp_path: Path) -> None:
    # Arrow's own count of the batches' buffers, which only these batches use.
    pool = pa.proxy_memory_pool(pa.default_memory_pool())
    schema = pa.schema([("n", pa.int64())])
    rows_per_batch, rows_per_group, batches = 10, 25, 20
    live: list[int] = []  # bytes of the batches alive as each new batch is made

    def batch(start: int) -> pa.RecordBatch:
        values = pa.array(range(start, start + rows_per_batch), pa.int64(), memory_pool=pool)
        return pa.record_batch([values], schema=schema)

    one_batch = batch(0)
    size = pool.bytes_allocated()
    del one_batch

    def made() -> Iterator[pa.RecordBatch]:
        for index in range(batches):
            live.append(pool.bytes_allocated())
            yield batch(index * rows_per_batch)

    target = tmp_path / "numbers.parquet"
    write_parquet_file(made(), schema, target, compression="zstd", row_group_size=rows_per_group)

    # The batches of the group being gathered (three, one shared with the group before),
    # never those of a group already written.
    assert max(live) <= 3 * size
    written = pq.ParquetFile(target)
    assert written.metadata.num_row_groups == 8
    assert written.read().column("n").to_pylist() == list(range(batches * rows_per_batch))
    assert pool.bytes_allocated() == 0


RECORDS: list[dict[str, Any]] = [
    {
        "id": 1,
        "ok": True,
        "price": 1.5,
        "name": "Zoë",
        "at": "2024-05-01T10:00:00+02:00",
        "tags": ["x", "y"],
        "items": [{"sku": "A", "qty": 2}],
        "customer": {"email": "a@example.com", "score": 3},
        "nothing": None,
    },
    {
        "id": None,
        "ok": None,
        "price": None,
        "name": None,
        "at": None,
        "tags": None,
        "items": [],
        "customer": {"email": None, "score": None},
        "nothing": None,
    },
    {"id": 3, "ok": False, "price": -2.0, "name": "大阪", "tags": [], "customer": None},
]


def table_of(records: list[dict[str, Any]]) -> pa.Table:
    builder = TableBuilder()
    for number in range(1, 4):  # three pages, so that the table has several chunks
        builder.add_page(records, number)
    return builder.to_table()


@pytest.mark.parametrize("records", [RECORDS, []], ids=["rows", "empty"])
@pytest.mark.parametrize("backend", ["numpy_nullable", "pyarrow"])
def test_to_dataframe_that_releases_the_table_gives_the_same_frame_and_dtypes(
    backend: str, records: list[dict[str, Any]]
) -> None:
    expected = to_dataframe(table_of(records), dtype_backend=backend)

    # As a pull converts: a table no one else holds, released column by column.
    frame = to_dataframe(table_of(records), dtype_backend=backend, release=True)

    assert frame.dtypes.to_dict() == expected.dtypes.to_dict()
    pd.testing.assert_frame_equal(frame, expected, check_column_type=True, check_index_type=True)
