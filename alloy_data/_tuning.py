"""The numbers that tune how pulls run, in one place.

Each is a default or a bound that was measured (see docs/benchmarks.md); none is an option a
caller passes. Changing one changes every entry point alike.
"""

#: ``concurrency="auto"``: requests in flight at first, and at most, for offset and page-number
#: paging; it grows while answers come back clean and shrinks on 429s and failures.
AUTO_CONCURRENCY_START = 2
AUTO_CONCURRENCY = 8

#: Records converted to Arrow at a time by one pull: converting this many in one go costs
#: markedly less per record than page by page, and holds only a few megabytes meanwhile.
CHUNK_RECORDS = 2_000
#: Chunks handed to the conversion's worker and not yet converted, at most: fetching waits
#: beyond that, so memory stays bounded when converting is the slower side.
MAX_CHUNKS_IN_FLIGHT = 2

#: Credentials pulled at once by ``pull_many`` by default: the work waits on the network.
DEFAULT_WORKERS = 8
#: Records in conversion chunks across all the credentials in flight, and the least a chunk has.
CHUNK_BUDGET = 16_000
MIN_CHUNK_RECORDS = 250
#: Credentials' files rendered from their spools at once (the rest wait their turn): each holds
#: a row group in memory while it is written.
FILES_RENDERED_AT_ONCE = 2

#: Credentials whose first page ``dask.read_pull`` fetches, in order, until one has records.
SAMPLE_CREDENTIALS = 5

#: Credentials listed one per row in a rich display, at most; the rest are counted.
SHOWN_CREDENTIALS = 50
