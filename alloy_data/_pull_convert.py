"""A pull's pages into a :class:`~alloy_data.frames.TableBuilder`, converted in a worker thread.

The caller's thread fetches; one worker thread converts, chunk by chunk, in order, so that
converting overlaps with waiting for the next pages. Pages are gathered into chunks of a few
thousand records, which convert for less per record than single pages. Once earlier pages have
fixed the columns, a chunk is read straight from its pages' bytes
(:meth:`~alloy_data.frames.TableBuilder.add_bodies`), which runs outside the interpreter lock and so
alongside the fetching even when no time is spent waiting. Whatever that reader refuses is
converted from the records (:meth:`~alloy_data.frames.TableBuilder.add_pages`), so the result
and its drift are what page-by-page conversion gives.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import pyarrow as pa

from alloy_data.frames import TableBuilder
from alloy_data.pagination import Page

__all__ = ["CHUNK_RECORDS", "ChunkedConversion", "Converted"]

Converted = Callable[[list[tuple[Page, pa.RecordBatch]]], None]
"""Called in the worker with each converted chunk: (the chunk's last page covered, its batch)."""

# Converting this many records in one go costs markedly less per record than page by page,
# and holds only a few megabytes of decoded pages meanwhile.
CHUNK_RECORDS = 2_000
# Chunks handed to the worker and not yet converted, at most: fetching waits beyond that, so
# memory stays bounded when converting is the slower side.
MAX_CHUNKS_IN_FLIGHT = 2


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
    """

    def __init__(
        self,
        builder: TableBuilder,
        *,
        chunk_records: int = CHUNK_RECORDS,
        on_converted: Converted | None = None,
    ) -> None:
        self._builder = builder
        self._on_converted = on_converted
        self._chunk_records = chunk_records
        self._waiting: list[Page] = []
        self._waiting_records = 0
        self._in_flight: deque[Future[None]] = deque()
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="alloy-data-convert")
        self.chunks = 0
        self.chunks_read_from_bytes = 0
        # Once a chunk fails, later ones are dropped: keeping them would leave a gap.
        self._failed = False

    def add(self, page: Page) -> None:
        """Take the next page; a full chunk goes to the worker."""
        self._waiting.append(page)
        self._waiting_records += len(page.records)
        if self._waiting_records >= self._chunk_records:
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

    def _convert(self, chunk: list[Page]) -> None:
        if self._failed:
            return
        try:
            self._convert_in_order(chunk)
        except BaseException:
            self._failed = True
            raise

    def _convert_in_order(self, chunk: list[Page]) -> None:
        self.chunks += 1
        batch = None
        if self._readable(chunk):
            batch = self._builder.add_bodies(
                [page.body for page in chunk if page.body is not None],
                [len(page.records) for page in chunk],
                payload_key=chunk[0].payload_key,
                records_path=chunk[0].records_path,
            )
        if batch is not None:
            self.chunks_read_from_bytes += 1
            converted = [(chunk[-1], batch)]
        else:
            batches = self._builder.add_pages([(page.records, page.number) for page in chunk])
            if len(batches) == 1:  # the whole chunk at once
                converted = [(chunk[-1], batches[0])]
            else:  # page by page
                converted = list(zip(chunk, batches, strict=True))
        if self._on_converted is not None:
            self._on_converted(converted)

    @staticmethod
    def _readable(chunk: list[Page]) -> bool:
        first = chunk[0]
        return len(chunk) > 1 and all(
            page.body is not None
            and page.payload_key == first.payload_key
            and page.records_path == first.records_path
            for page in chunk
        )
