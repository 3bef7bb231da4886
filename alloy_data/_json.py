"""JSON decoding for answers: orjson when it is installed, the standard library otherwise."""

from __future__ import annotations

import json
import re
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency, but a missing wheel must not break
    orjson = None  # type: ignore[assignment]

__all__ = ["loads"]

# orjson turns integers beyond 64 bits into floats, silently losing digits; a run of 20 digits
# (also inside a string, which costs only speed) sends the document to the standard library.
_LONG_DIGITS = re.compile(rb"\d{20}")


def loads(data: bytes | str) -> Any:
    """Decode a JSON document.

    orjson decodes the large list pages of a pull about three times faster than the standard
    library. Documents it refuses (``NaN``) or would change (integers beyond 64 bits) are
    decoded by the standard library, which also reports where invalid JSON goes wrong.

    Returns:
        The decoded value.

    Raises:
        json.JSONDecodeError: When the data is not JSON.
    """
    raw = data.encode() if isinstance(data, str) else data
    if orjson is not None and not _LONG_DIGITS.search(raw):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)
