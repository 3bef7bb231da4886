"""Numbers that are times: declared epoch columns, guessed ones, and what later pages do."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa
import pytest

from alloy_data.errors import ConfigurationError
from alloy_data.frames import EpochTimes, TableBuilder, declared_epoch_columns

TIMESTAMP = pa.timestamp("us", tz="UTC")
NOV_14_2023 = 1_700_000_000  # 2023-11-14T22:13:20Z
AT_NOV_14 = datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)


def build(pages: list[list[dict[str, Any]]], epochs: EpochTimes) -> TableBuilder:
    builder = TableBuilder(epochs=epochs)
    for number, records in enumerate(pages, start=1):
        builder.add_page(records, number)
    return builder


STRIPE_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "amount": {"type": "integer", "description": "Amount in cents"},
        "created": {"type": "integer", "format": "unix-time"},
        "refund": {
            "type": "object",
            "properties": {
                "at": {"type": ["integer", "null"], "description": "Unix timestamp of it"},
                "when": {"type": "integer", "description": "Milliseconds since the Unix epoch"},
                "stamp": {"type": "integer", "format": "date-time"},
                "text": {"type": "string", "description": "a Unix timestamp, as text"},
            },
        },
    },
}


def test_the_declared_schema_says_which_columns_are_epoch_times_and_in_what_unit() -> None:
    assert declared_epoch_columns(STRIPE_SCHEMA) == {
        "created": "s",
        "refund.at": "s",
        "refund.when": "ms",
        "refund.stamp": None,
    }
    assert declared_epoch_columns({"type": "object"}) == {}


def test_a_declared_epoch_column_becomes_utc_timestamps_and_others_stay_numbers() -> None:
    epochs = EpochTimes("auto", declared_epoch_columns(STRIPE_SCHEMA))
    builder = build([[{"id": "ch_1", "amount": 995, "created": NOV_14_2023}]], epochs)
    table = builder.to_table()
    assert table.schema.field("created").type == TIMESTAMP
    assert table.column("created").to_pylist() == [AT_NOV_14]
    assert table.schema.field("amount").type == pa.int64()
    assert any("created converted from epoch seconds" in note for note in epochs.notes())


@pytest.mark.parametrize(
    ("unit", "value"),
    [
        pytest.param("ms", NOV_14_2023 * 1000, id="declared-milliseconds"),
        pytest.param(None, NOV_14_2023 * 1000, id="unstated-milliseconds-by-magnitude"),
        pytest.param(None, NOV_14_2023, id="unstated-seconds-by-magnitude"),
        pytest.param("s", NOV_14_2023 + 0.5, id="fractional-seconds"),
    ],
)
def test_the_unit_is_the_declared_one_or_the_values_magnitude(unit: Any, value: float) -> None:
    table = build([[{"t": value}]], EpochTimes("auto", {"t": unit})).to_table()
    expected = AT_NOV_14.replace(microsecond=500_000) if isinstance(value, float) else AT_NOV_14
    assert table.column("t").to_pylist() == [expected]


def test_auto_leaves_integers_that_look_like_times_as_numbers_and_says_how_to_opt_in() -> None:
    epochs = EpochTimes("auto")
    table = build([[{"created_at": NOV_14_2023, "n": 3}]], epochs).to_table()
    assert table.schema.field("created_at").type == pa.int64()
    notes = list(epochs.notes())
    assert len(notes) == 1
    assert "created_at" in notes[0]
    assert "timestamps='guess'" in notes[0]


GUESSABLE = {
    "created": NOV_14_2023,
    "updated": NOV_14_2023 * 1000,
    "paid_at": NOV_14_2023,
    "ship_date": NOV_14_2023,
    "closeTime": NOV_14_2023,
    "event.timestamp": NOV_14_2023,
}


@pytest.mark.parametrize(("name", "value"), list(GUESSABLE.items()), ids=list(GUESSABLE))
def test_guess_converts_integers_whose_names_and_values_say_time(name: str, value: int) -> None:
    epochs = EpochTimes("guess")
    table = build([[{name: value}, {name: None}]], epochs).to_table()
    assert table.schema.field(name).type == TIMESTAMP
    assert table.column(name).to_pylist() == [AT_NOV_14, None]
    assert any(f"{name} guessed as epoch" in note for note in epochs.notes())


@pytest.mark.parametrize(
    "record",
    [
        pytest.param({"amount": NOV_14_2023}, id="not-a-time-name"),
        pytest.param({"response_time": 250}, id="a-duration"),
        pytest.param({"created": 123_456}, id="before-2000"),
        pytest.param({"created": 5_000_000_000}, id="after-2100-in-seconds"),
        pytest.param({"created": str(NOV_14_2023)}, id="digits-in-text"),
        pytest.param({"created": NOV_14_2023 + 0.5}, id="not-an-integer"),
    ],
)
def test_guess_leaves_columns_whose_name_or_values_do_not_say_time(record: dict[str, Any]) -> None:
    epochs = EpochTimes("guess")
    table = build([[record]], epochs).to_table()
    (name,) = record
    assert not pa.types.is_timestamp(table.schema.field(name).type)
    assert list(epochs.notes()) == []


def test_off_converts_nothing_even_when_declared() -> None:
    table = build([[{"created": NOV_14_2023}]], EpochTimes("off", {"created": "s"})).to_table()
    assert table.schema.field("created").type == pa.int64()


def test_a_column_stays_converted_on_later_pages_whatever_their_values() -> None:
    epochs = EpochTimes("guess")
    builder = build(
        [
            [{"created": NOV_14_2023}],
            [{"created": 0}, {"created": -1}],
            [{"created": NOV_14_2023 + 0.25}],
        ],
        epochs,
    )
    table = builder.to_table()
    assert table.schema.field("created").type == TIMESTAMP
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    assert table.column("created").to_pylist() == [
        AT_NOV_14,
        epoch,
        datetime(1969, 12, 31, 23, 59, 59, tzinfo=timezone.utc),
        AT_NOV_14.replace(microsecond=250_000),
    ]
    assert builder.drift == []
    assert any("2 values of created on later pages lie outside" in n for n in epochs.notes())


def test_values_too_large_for_a_timestamp_become_null_with_a_warning() -> None:
    epochs = EpochTimes("auto", {"created": "s"})
    table = build([[{"created": NOV_14_2023}], [{"created": 10**15}]], epochs).to_table()
    assert table.column("created").to_pylist() == [AT_NOV_14, None]
    (warning,) = epochs.warnings()
    assert "1 values of created" in warning
    assert "timestamps='off'" in warning


def test_text_on_a_later_page_widens_the_converted_column_to_text_as_drift() -> None:
    builder = build(
        [[{"created": NOV_14_2023}], [{"created": "soon"}]], EpochTimes("auto", {"created": "s"})
    )
    table = builder.to_table()
    assert table.column("created").to_pylist() == ["2023-11-14T22:13:20.000000Z", "soon"]
    assert [str(d) for d in builder.drift] == ["created: page 2, timestamp[us, tz=UTC] -> string"]


def test_a_column_is_decided_once_on_the_first_page_where_it_has_values() -> None:
    epochs = EpochTimes("guess")
    left = build([[{"created": 5}], [{"created": NOV_14_2023}]], epochs).to_table()
    assert left.column("created").to_pylist() == [5, NOV_14_2023]
    waited = build([[{"created": None}], [{"created": NOV_14_2023}]], EpochTimes("guess"))
    assert waited.to_table().column("created").to_pylist() == [None, AT_NOV_14]


def test_several_pages_at_once_decide_as_page_by_page_does() -> None:
    pages = [
        [{"id": 1}],
        [{"id": 2, "created": NOV_14_2023}],
        [{"id": 3, "created": 7}],
    ]
    one_by_one = build(pages, EpochTimes("guess")).to_table()
    together = TableBuilder(epochs=EpochTimes("guess"))
    together.add_page(pages[0], 1)
    together.add_pages([(pages[1], 2), (pages[2], 3)])
    assert together.to_table().equals(one_by_one)
    assert one_by_one.schema.field("created").type == TIMESTAMP


def test_pages_read_from_their_bytes_are_converted_too() -> None:
    def body(records: list[Any]) -> bytes:
        return json.dumps({"data": {"results": records}}).encode()

    later = [[{"id": 2, "created": NOV_14_2023 + 1}], [{"id": 3, "created": NOV_14_2023 + 2}]]
    from_bytes = build([[{"id": 1, "created": NOV_14_2023}]], EpochTimes("auto", {"created": "s"}))
    batch = from_bytes.add_bodies(
        [body(records) for records in later],
        [1, 1],
        payload_key="data",
        records_path="results",
    )
    assert batch is not None, "the bytes reader refused pages it can read"
    assert batch.schema.field("created").type == TIMESTAMP
    from_records = build(
        [[{"id": 1, "created": NOV_14_2023}], *later], EpochTimes("auto", {"created": "s"})
    )
    assert from_bytes.to_table().equals(from_records.to_table())


def test_a_resumed_export_keeps_converting_its_timestamp_columns() -> None:
    schema = pa.schema([("id", pa.int64()), ("created", TIMESTAMP)])
    builder = TableBuilder(
        schema=schema, row_count=1, epochs=EpochTimes("guess", converted=["created", "id"])
    )
    builder.add_page([{"id": 2, "created": NOV_14_2023 * 1000}], 2)
    assert builder.schema == schema
    assert builder.drift == []


def test_an_unknown_timestamps_choice_is_refused_with_the_choices() -> None:
    with pytest.raises(ConfigurationError, match=r"'auto'.*'guess'.*'off'"):
        EpochTimes("yes")  # type: ignore[arg-type]
