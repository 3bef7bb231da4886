"""Updated-since parameters: each app's own name, words and format for "changed after".

A list action with one of these serves only the records whose creation or update time is at
or after the value (inclusive), in its usual order, and refuses a value in another format with
a 400 that says the format, as the app does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from alloy_data.sandbox.errors import bad_request
from alloy_data.sandbox.params import Param


@dataclass(frozen=True)
class Since:
    """A list action's filter on a record time.

    Attributes:
        param: The parameter as the action declares it.
        field: Which time it filters on: "updated" or "created".
        parse: Turns the checked value into epoch seconds, or raises a 400.
    """

    param: Param
    field: str
    parse: Callable[[Any], int]


def _iso_with_offset(name: str, example: str) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        text = str(value)
        refusal = bad_request(
            f"parameter '{name}': invalid date '{text[:60]}'; expected a date and time with a "
            f"UTC offset, e.g. {example}"
        )
        if "T" not in text:
            raise refusal
        try:
            moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        except ValueError:
            raise refusal from None
        if moment.tzinfo is None:
            raise refusal
        return int(moment.timestamp())

    return parse


def _epoch_seconds(value: Any) -> int:
    # check_params has made it an int already.
    return int(value)


SHOPIFY_UPDATED_AT_MIN = Since(
    Param(
        "updated_at_min",
        "string",
        "Show orders last updated at or after date (format: 2014-04-25T16:15:47-04:00).",
    ),
    "updated",
    _iso_with_offset("updated_at_min", "2014-04-25T16:15:47-04:00"),
)

STRIPE_CREATED_GTE = Since(
    Param(
        "created[gte]",
        "integer",
        "Only return charges that were created at or after this time: a Unix timestamp in "
        "seconds (minimum value to filter by, inclusive).",
        type_refusal="Invalid integer: {value}. {name} must be a Unix timestamp in seconds "
        "(e.g. 1700000000)",
    ),
    "created",
    _epoch_seconds,
)
