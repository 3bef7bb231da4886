"""The local store of pulls: one Parquet dataset per pull's address, refreshed, listed, queried.

A pull with ``max_age=`` writes through the store (:class:`Store`): its pages land in the
dataset's checkpoint as they arrive, the dataset appears whole when the pull ends (the export's
machinery: atomic, resumable, with its provenance and incremental mark in the file), and a
process stopped part-way continues at its next page. Each dataset has a lock (``filelock``)
that a second process waits on. :meth:`Store.sql` queries every dataset through DuckDB views.
"""

from alloy_data.store._key import StoreKey
from alloy_data.store._store import Store, StoredCopy

__all__ = ["Store", "StoreKey", "StoredCopy"]
