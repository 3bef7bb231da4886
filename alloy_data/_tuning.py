"""The numbers that tune how pulls run, in one place.

Each is a default or a bound that was measured (see docs/benchmarks.md); none is an option a
caller passes. Changing one changes every entry point alike.
"""

#: ``concurrency="auto"``: requests in flight at first, and at most, for offset and page-number
#: paging; it grows while answers come back clean and shrinks on 429s and failures.
AUTO_CONCURRENCY_START = 2
AUTO_CONCURRENCY = 8

#: The page size asked for when nothing says how large a page may be. An app that allows less
#: answers 400 (and the size is lowered) or sends fewer (and its number is kept).
PROBE_PAGE_SIZE = 1000
#: First requests refused for their page size before the walk gives up: from 1,000, halving
#: reaches 1 in ten steps; an app still refusing then refuses something else.
PAGE_SIZE_TRIES = 10
#: A page proves newest-first order only with this many dated records going down.
ORDER_EVIDENCE = 3

#: Attempts at a server that has never answered this client, when nothing listens at its
#: address: a second one covers a server still starting; more only keep a mistyped URL waiting.
FIRST_CONTACT_ATTEMPTS = 2
#: A pull retries each page at least this many times by default (a one-off call fewer).
PULL_MIN_RETRIES = 8
#: Connections the client keeps: enough that concurrent pulls sharing one client do not queue.
POOL_SIZE = 16
#: Action details a client remembers: every action a session touches, bounded.
ACTION_CACHE_SIZE = 256
#: Rows a Parquet row group holds by default.
DEFAULT_ROW_GROUP_SIZE = 65_536

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

#: Seconds of jitter, at most, added to a wait for a rate limit, so that the requests that
#: waited do not all start at the same instant.
LIMIT_JITTER = 0.02
#: Seconds between looks at a spent budget whose reset is not known yet (the answers in
#: flight will tell it).
LIMIT_POLL = 0.05
#: Seconds added to a window learned from refusals when its length is taken to be whole
#: seconds, so that the next window's first request does not arrive just before it opens.
LIMIT_MARGIN = 0.05
#: Seconds between looks at a learned window whose first request is still out.
LIMIT_PROBE_POLL = 0.005
