"""JSON decoding for answers: orjson when it is installed, the standard library otherwise."""

from __future__ import annotations

import json
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency, but a missing wheel must not break
    orjson = None  # type: ignore[assignment]

__all__ = ["loads"]

# orjson turns integers beyond 64 bits into floats, silently losing digits. Those have twenty
# digits, or nineteen after a minus sign (below -9223372036854775808); such a run (also inside a
# string, which costs only speed) sends the document to the standard library. Mapping every
# digit to 0 and looking for the runs is some 10 times faster than a regular expression.
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_TWENTY_DIGITS = b"0" * 20
_MINUS_NINETEEN_DIGITS = b"-" + b"0" * 19


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
    shape = raw.translate(_DIGITS_TO_ZERO)
    if orjson is not None and _TWENTY_DIGITS not in shape and _MINUS_NINETEEN_DIGITS not in shape:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)
