"""What runs under a pull: pages fetched in the background or side by side at a request rate,
and converted to Arrow a chunk at a time in a worker thread.

``pull.py`` drives these; they know nothing of HTTP (a fetch is a callable) nor of the client.
The conversion loads pyarrow, so it is imported only when first used.
"""

from typing import Any

from alloy_data.engine._background import prefetch
from alloy_data.engine._concurrency import AdaptiveLimit, RequestRate, parallel_pages

__all__ = [
    "CHUNK_RECORDS",
    "AdaptiveLimit",
    "ChunkedConversion",
    "Converted",
    "RequestRate",
    "parallel_pages",
    "prefetch",
]

_CONVERSION_NAMES = ("CHUNK_RECORDS", "ChunkedConversion", "Converted")


def __getattr__(name: str) -> Any:
    if name in _CONVERSION_NAMES:
        from alloy_data.engine import _conversion

        return getattr(_conversion, name)
    raise AttributeError(f"module 'alloy_data.engine' has no attribute {name!r}")
