"""Numbers that are times: epoch seconds or milliseconds to UTC timestamps (see
:mod:`alloy_data.frames`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from alloy_data.errors import ConfigurationError
from alloy_data.frames._page import TIMESTAMP

__all__ = ["TIMESTAMP_OPTIONS", "EpochTimes", "check_timestamps_option", "declared_epoch_columns"]

TimestampsOption = Literal["auto", "guess", "off"]
TIMESTAMP_OPTIONS: tuple[str, ...] = ("auto", "guess", "off")

Unit = Literal["s", "ms"]
_FACTORS = {"s": 1_000_000, "ms": 1_000}
# Values a guessed column must all fall in: 2000-01-01 to 2100-01-01, in seconds or in
# milliseconds (the two ranges do not overlap, so the values also say which).
_PLAUSIBLE = {"s": (946_684_800, 4_102_444_800), "ms": (946_684_800_000, 4_102_444_800_000)}
# Declared without a unit (an integer with format date-time): a magnitude only milliseconds
# reach after 1973, and seconds only after the year 5000.
_MILLISECONDS_FROM = 100_000_000_000

# What apps write in a JSON Schema for an epoch time: Stripe's OpenAPI says
# {"type": "integer", "format": "unix-time"}; others say so in the description.
_SECONDS_FORMATS = {"unix-time", "unix-timestamp", "unixtime", "epoch", "epoch-seconds"}
_MILLISECONDS_FORMATS = {"unix-time-ms", "unix-ms", "epoch-ms", "epoch-millis", "timestamp-millis"}
_SECONDS_WORDS = re.compile(
    r"\bunix\s*(time|timestamp|epoch)|\bseconds since (the )?(unix )?epoch|\bepoch (time|seconds)",
    re.IGNORECASE,
)
_MILLISECONDS_WORDS = re.compile(
    r"\bmilliseconds since (the )?(unix )?epoch|\bepoch milli|\bunix\b.*\bmilliseconds\b",
    re.IGNORECASE,
)
# Names that say "a time": created, updated, timestamp, *_at, *_time, *_date (and camelCase).
_TIME_NAME = re.compile(
    r"^(created|updated|timestamp)$|_(at|time|date|timestamp)$|[a-z](At|Time|Date)$"
)


def check_timestamps_option(value: Any) -> TimestampsOption:
    """Return ``value`` if it is a ``timestamps=`` choice.

    Raises:
        ConfigurationError: For anything else, naming the choices.
    """
    if value not in TIMESTAMP_OPTIONS:
        raise ConfigurationError(
            f"timestamps must be 'auto' (epoch columns the action declares become timestamps), "
            f"'guess' (also integer columns whose names and values look like epoch times) or "
            f"'off' (numbers stay numbers), not {value!r}."
        )
    return value


def declared_epoch_columns(schema: Mapping[str, Any], prefix: str = "") -> dict[str, Unit | None]:
    """Find the columns a JSON Schema of records marks as epoch times.

    A property is an epoch time when its format says so (``unix-time``, ``epoch-ms``, ...), when
    it is a number with ``format: date-time``, or when its description says "Unix timestamp",
    "seconds since the epoch" or "milliseconds since the epoch".

    Returns:
        Dotted column names (as records flatten) and their unit: ``"s"``, ``"ms"``, or None
        when the schema does not say (the values' magnitude decides).
    """
    found: dict[str, Unit | None] = {}
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return found
    for name, child in properties.items():
        if not isinstance(child, Mapping):
            continue
        column = f"{prefix}{name}"
        if isinstance(child.get("properties"), Mapping):
            found.update(declared_epoch_columns(child, f"{column}."))
            continue
        marked, unit = _epoch_mark(child)
        if marked:
            found[column] = unit
    return found


def _epoch_mark(prop: Mapping[str, Any]) -> tuple[bool, Unit | None]:
    kinds = prop.get("type")
    kinds = {kinds} if isinstance(kinds, str) else set(kinds or ())
    if kinds - {"integer", "number", "null"}:
        return False, None  # a string of digits is not read as a time
    text = prop.get("format")
    text = text.lower() if isinstance(text, str) else ""
    description = prop.get("description")
    description = description if isinstance(description, str) else ""
    if text in _MILLISECONDS_FORMATS or _MILLISECONDS_WORDS.search(description):
        return True, "ms"
    if text in _SECONDS_FORMATS or _SECONDS_WORDS.search(description):
        return True, "s"
    if text == "date-time" and kinds & {"integer", "number"}:
        return True, None
    return False, None


class EpochTimes:
    """Which columns of one pull are epoch times, converted the same way on every page.

    A column is decided once, on the first page where it has a number: converted (with its
    unit) or left as numbers. A converted column stays converted: values on later pages are
    converted with the same unit whatever they are (``0`` is 1970-01-01), and values beyond
    what a timestamp holds (past the year 294,000) become null and are counted in
    :attr:`warnings`.

    Args:
        mode: ``"auto"`` converts the declared columns and notes the ones ``"guess"`` would
            convert; ``"guess"`` also converts integer columns with a time's name whose
            values all lie between 2000 and 2100 in seconds or milliseconds; ``"off"``
            converts nothing.
        declared: The declared epoch columns and their units
            (:func:`declared_epoch_columns`).
        converted: Columns already timestamps in a schema written earlier (a resumed export):
            they stay converted, their unit decided again by magnitude.
    """

    def __init__(
        self,
        mode: TimestampsOption = "auto",
        declared: Mapping[str, Unit | None] | None = None,
        converted: Iterable[str] = (),
    ) -> None:
        self.mode = check_timestamps_option(mode)
        self._declared: dict[str, Unit | None] = {} if mode == "off" else dict(declared or {})
        self._units: dict[str, Unit | None] = {}
        self._left: set[str] = set()
        self._guessed: set[str] = set()
        self._raw: dict[str, pa.DataType] = {}
        self._could_guess: dict[str, Unit] = {}
        self._unrepresentable: dict[str, int] = {}
        self._implausible: dict[str, int] = {}
        for name in converted:
            if name in self._declared or (mode == "guess" and _has_time_name(name)):
                self._units[name] = self._declared.get(name)

    @property
    def active(self) -> bool:
        """Whether any column may be converted."""
        return self.mode != "off"

    def convert(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """Convert one page's epoch columns to ``timestamp[us, UTC]``, deciding the columns
        seen for the first time.

        Returns:
            The batch with its epoch columns as timestamps.
        """
        converted = self._convert(batch, decide=True)
        assert converted is not None  # only a batch that may not decide is refused
        return converted

    def convert_decided(self, batch: pa.RecordBatch) -> pa.RecordBatch | None:
        """Convert several pages' epoch columns at once, when no column needs deciding.

        Returns:
            The batch with its epoch columns as timestamps, or None when a column is seen
            for the first time: it is decided on the page where it starts, so the pages must
            be converted one by one.
        """
        return self._convert(batch, decide=False)

    def _convert(self, batch: pa.RecordBatch, *, decide: bool) -> pa.RecordBatch | None:
        if not self.active:
            return batch
        arrays = list(batch.columns)
        changed = False
        for index, field in enumerate(batch.schema):
            kind = field.type
            if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
                continue
            name = field.name
            if name not in self._units:
                if name in self._left:
                    continue
                if not self._may_decide(name, kind):
                    continue
                if not decide:
                    return None
                self._decide(name, arrays[index])
                if name not in self._units:
                    continue
            arrays[index] = self._to_timestamps(name, arrays[index])
            changed = True
        if not changed:
            return batch
        return pa.RecordBatch.from_arrays(arrays, schema=_with_timestamps(batch.schema, arrays))

    def raw_types(self, types: Mapping[str, pa.DataType]) -> dict[str, pa.DataType]:
        """``types`` with each converted column's type as the answers carry it (a number), for
        a reader of the raw answers; a converted column whose numbers were not seen yet keeps
        its timestamp type."""
        return {name: self._raw.get(name, kind) for name, kind in types.items()}

    def notes(self) -> Iterator[str]:
        """What was converted, guessed or left as numbers, for ``stats.notes``."""
        for name, unit in self._units.items():
            if name not in self._raw:
                continue
            words = _UNIT_WORDS.get(unit or "s", "seconds")
            if name in self._guessed:
                yield (
                    f"timestamps: {name} guessed as epoch {words} from its name and values "
                    "and converted to UTC (timestamps='auto' keeps the numbers)"
                )
            else:
                yield (
                    f"timestamps: {name} converted from epoch {words} to UTC (the action "
                    "declares it an epoch time)"
                )
        for name, unit in self._could_guess.items():
            yield (
                f"timestamps: {name} holds integers that look like epoch {_UNIT_WORDS[unit]} "
                "and was left as numbers: pass timestamps='guess' to convert it to UTC"
            )
        for name, count in self._implausible.items():
            yield (
                f"timestamps: {count} values of {name} on later pages lie outside 2000-2100 "
                "and were converted as they are: if the column is not a time, pass "
                "timestamps='auto'"
            )

    def warnings(self) -> Iterator[str]:
        """Values lost in conversion (beyond a timestamp's range), for ``stats.warnings``."""
        for name, count in self._unrepresentable.items():
            yield (
                f"{count} values of {name} are too large to be epoch times and became null: "
                "pass timestamps='off' to keep the numbers"
            )

    def _may_decide(self, name: str, kind: pa.DataType) -> bool:
        if name in self._declared:
            return True
        return pa.types.is_integer(kind) and _has_time_name(name)

    def _decide(self, name: str, array: pa.Array) -> None:
        values = array.drop_null()
        if not len(values):
            return  # decided on a page where it has values
        if name in self._declared:
            self._units[name] = self._declared[name] or _unit_by_magnitude(values)
            return
        guessed = _plausible_unit(values)
        if guessed is None:
            self._left.add(name)
        elif self.mode == "guess":
            self._units[name] = guessed
            self._guessed.add(name)
        else:
            self._left.add(name)
            self._could_guess[name] = guessed

    def _to_timestamps(self, name: str, array: pa.Array) -> pa.Array:
        unit = self._units.get(name)
        if unit is None:
            values = array.drop_null()
            if not len(values):
                return pa.nulls(len(array), TIMESTAMP)
            unit = self._units[name] = _unit_by_magnitude(values)
        known = self._raw.get(name)
        self._raw[name] = array.type if known is None or known == array.type else pa.float64()
        if name in self._guessed:
            low, high = _PLAUSIBLE[unit]
            outside = pc.sum(pc.or_(pc.less(array, low), pc.greater(array, high))).as_py()
            if outside:
                self._implausible[name] = self._implausible.get(name, 0) + outside
        factor = _FACTORS[unit]
        limit = (2**63 - 1) // factor
        numbers = array.cast(pa.float64())
        fits = pc.less_equal(pc.abs(numbers), float(limit))
        lost = len(array) - array.null_count - (pc.sum(fits).as_py() or 0)
        if lost:
            self._unrepresentable[name] = self._unrepresentable.get(name, 0) + lost
            numbers = pc.if_else(fits, numbers, pa.scalar(None, pa.float64()))
            array = pc.if_else(fits, array, pa.scalar(None, array.type))
        if pa.types.is_integer(array.type):
            micros = pc.multiply(array.cast(pa.int64()), factor)
        else:
            micros = pc.round(pc.multiply(numbers, float(factor))).cast(pa.int64())
        return micros.cast(TIMESTAMP)


_UNIT_WORDS: dict[str, str] = {"s": "seconds", "ms": "milliseconds"}


def _has_time_name(name: str) -> bool:
    return bool(_TIME_NAME.search(name.rsplit(".", 1)[-1]))


def _plausible_unit(values: pa.Array) -> Unit | None:
    smallest, largest = pc.min_max(values).values()
    for unit in ("s", "ms"):
        low, high = _PLAUSIBLE[unit]
        if low <= smallest.as_py() and largest.as_py() <= high:
            return unit
    return None


def _unit_by_magnitude(values: pa.Array) -> Unit:
    largest = pc.max(pc.abs(values)).as_py()
    return "ms" if largest >= _MILLISECONDS_FROM else "s"


def _with_timestamps(schema: pa.Schema, arrays: list[pa.Array]) -> pa.Schema:
    return pa.schema(
        [field.with_type(array.type) for field, array in zip(schema, arrays, strict=True)]
    )
