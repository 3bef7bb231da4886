"""A pull's pages into a :class:`~alloy_data.frames.TableBuilder`, converted in a worker thread.

The caller's thread fetches; one worker thread converts, chunk by chunk, in order, so that
converting overlaps with waiting for the next pages. Pages are gathered into chunks of a few
thousand records, which convert for less per record than single pages. Once earlier pages have
fixed the columns, a chunk is read straight from its pages' bytes
(:meth:`~alloy_data.frames.TableBuilder.add_bodies`), which runs outside the interpreter lock and so
alongside the fetching even when no time is spent waiting. Whatever that reader refuses is
converted from the records (:meth:`~alloy_data.frames.TableBuilder.add_pages`), so the result
and its drift are what page-by-page conversion gives.

After the first chunk, a page waits for the worker without its decoded records, only its bytes:
the worker seldom needs them, and holding thousands of decoded records (and freeing them in the
worker, which then contends for the interpreter lock with the fetching thread) cost a quarter of
a cursor pull's time. A chunk the bytes reader refuses decodes its pages' bytes again.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pyarrow as pa

from alloy_data._json import loads
from alloy_data._tuning import CHUNK_RECORDS, MAX_CHUNKS_IN_FLIGHT
from alloy_data.frames import TableBuilder
from alloy_data.pagination import Page, records_at, same_records

__all__ = ["CHUNK_RECORDS", "ChunkedConversion", "Converted"]

Converted = Callable[[list[tuple[Page, pa.RecordBatch]]], None]
"""Called in the worker with each converted chunk: (the chunk's last page covered, its batch)."""


@dataclasses.dataclass(frozen=True)
class _Waiting:
    """A page waiting for the worker: with its records, or with only its bytes and count."""

    page: Page
    count: int
    records_dropped: bool

    @classmethod
    def of(cls, page: Page, *, drop_records: bool) -> _Waiting:
        count = len(page.records)
        if drop_records and page.body is not None and _found_again(page.raw, page):
            return cls(dataclasses.replace(page, records=[], raw=None), count, True)
        return cls(page, count, False)

    def records(self) -> list[dict[str, Any]]:
        """The page's records: kept, or decoded again from its bytes as the walk found them."""
        if not self.records_dropped:
            return self.page.records
        assert self.page.body is not None  # records are dropped only where bytes are kept
        payload = _payload(loads(self.page.body), self.page)
        found = records_at(payload, self.page.records_path) or []
        return found[: self.count]  # a last page cut by max_records stays cut


def _payload(body: Any, page: Page) -> Any:
    key = page.payload_key
    return body.get(key) if key is not None and isinstance(body, dict) else body


def _found_again(body: Any, page: Page) -> bool:
    """Whether the page's records are the very records at its path in its decoded body.

    Only then can decoding the bytes again give them back. A paginator of the caller's own may
    have filtered or rebuilt them: such a page keeps its records.
    """
    return same_records(page.records, _payload(body, page), page.records_path)


class ChunkedConversion:
    """Feeds pages to a builder in chunks, converted in order in one worker thread.

    Args:
        builder: The builder that receives every page, in order. Only the worker touches it
            until :meth:`finish` returns.
        chunk_records: Records per chunk.
        on_converted: Called in the worker after each chunk with ``(page, batch)`` pairs in
            order, each batch holding the records of the pages up to and including ``page``
            since the pair before (an export writes them there, so that writing too overlaps
            with fetching).
        first_chunk_records: Records of the first chunk, when it should be smaller than the
            others (a stream declares its schema from the first chunk, and should do so soon).
    """

    def __init__(
        self,
        builder: TableBuilder,
        *,
        chunk_records: int = CHUNK_RECORDS,
        on_converted: Converted | None = None,
        first_chunk_records: int | None = None,
    ) -> None:
        self._builder = builder
        self._first_chunk_records = (
            chunk_records if first_chunk_records is None else first_chunk_records
        )
        self._on_converted = on_converted
        self._chunk_records = chunk_records
        self._waiting: list[_Waiting] = []
        self._waiting_records = 0
        self._handed_over = 0
        self._in_flight: deque[Future[None]] = deque()
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="alloy-data-convert")
        self.chunks = 0
        self.chunks_read_from_bytes = 0
        # Once a chunk fails, later ones are dropped: keeping them would leave a gap.
        self._failed = False

    def add(self, page: Page) -> None:
        """Take the next page; a full chunk goes to the worker."""
        # The first chunk is always converted from records: it sets the columns.
        self._waiting.append(_Waiting.of(page, drop_records=self._handed_over > 0))
        self._waiting_records += len(page.records)
        wanted = self._chunk_records if self._handed_over else self._first_chunk_records
        if self._waiting_records >= wanted:
            self._hand_over()

    def finish(self) -> None:
        """Convert every page taken so far and wait for it (also after a failed fetch)."""
        if self._waiting:
            self._hand_over()
        while self._in_flight:
            self._in_flight.popleft().result()

    def close(self) -> None:
        """Stop the worker thread, after the chunk it is converting."""
        for future in self._in_flight:
            future.cancel()
        self._worker.shutdown(wait=True)

    def _hand_over(self) -> None:
        chunk, self._waiting, self._waiting_records = self._waiting, [], 0
        self._handed_over += 1
        while len(self._in_flight) >= MAX_CHUNKS_IN_FLIGHT:
            self._in_flight.popleft().result()
        self._in_flight.append(self._worker.submit(self._convert, chunk))

    def summary(self) -> str | None:
        """How the chunks were converted, for the pull's notes (None for a single chunk)."""
        if self.chunks < 2:
            return None
        return (
            f"converted in {self.chunks} chunks, {self.chunks_read_from_bytes} of them read "
            "straight from the answers' bytes (the others, from the decoded records: the first "
            "chunk, and chunks with new fields or values of another type)"
        )

    def _convert(self, chunk: list[_Waiting]) -> None:
        if self._failed:
            return
        try:
            self._convert_in_order(chunk)
        except BaseException:
            self._failed = True
            raise
        finally:
            # Arrow's allocator keeps what a chunk freed in this thread's heap; with many
            # pulls converting at once (pull_many) those heaps would add up.
            pa.default_memory_pool().release_unused()

    def _convert_in_order(self, chunk: list[_Waiting]) -> None:
        self.chunks += 1
        pages = [waiting.page for waiting in chunk]
        batch = None
        if self._readable(chunk):
            batch = self._builder.add_bodies(
                [page.body for page in pages if page.body is not None],  # all, when readable
                [waiting.count for waiting in chunk],
                payload_key=pages[0].payload_key,
                records_path=pages[0].records_path,
            )
        if batch is not None:
            self.chunks_read_from_bytes += 1
            converted = [(pages[-1], batch)]
        else:
            batches = self._builder.add_pages(
                [(waiting.records(), waiting.page.number) for waiting in chunk]
            )
            if len(batches) == 1:  # the whole chunk at once
                converted = [(pages[-1], batches[0])]
            else:  # page by page
                converted = list(zip(pages, batches, strict=True))
        if self._on_converted is not None:
            self._on_converted(converted)

    @staticmethod
    def _readable(chunk: list[_Waiting]) -> bool:
        # Only pages whose records are known to be what their bytes hold (so they were
        # dropped, keeping the bytes), with the records in the same place on every page.
        first = chunk[0].page
        return all(
            waiting.records_dropped
            and waiting.page.payload_key == first.payload_key
            and waiting.page.records_path == first.records_path
            for waiting in chunk
        )
