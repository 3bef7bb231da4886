"""Incremental pulls without a server: moments, filter parameters, the run tracker, merging."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from alloy_data import ConfigurationError, ExportError, Incremental
from alloy_data.export import MergingParquetWriter, read_incremental_state, read_metadata
from alloy_data.incremental import (
    IncrementalRun,
    cursor_value,
    find_filter_parameter,
    format_moment,
    parse_moment,
)
from alloy_data.models import Action, ActionParameter

NOON = datetime(2026, 11, 30, 12, 0, 0, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-30T12:00:00Z",
        "2026-11-30T07:00:00-05:00",
        "2026-11-30T12:00:00",
        "2026-11-30T12:00:00.0000000Z",
        "2026-11-30 12:00:00+00:00",
        NOON,
        int(NOON),
        int(NOON * 1000),
        str(int(NOON)),
        f"/Date({int(NOON * 1000)}+0000)/",
        datetime(2026, 11, 30, 12, tzinfo=timezone.utc),
        datetime(2026, 11, 30, 12),
    ],
)
def test_moments_in_every_shape_apps_send_compare_as_the_same_instant(value: Any) -> None:
    assert parse_moment(value) == pytest.approx(NOON)


@pytest.mark.parametrize("value", [None, "", "yesterday", True, float("nan"), {"a": 1}, []])
def test_what_is_not_a_moment_is_none(value: Any) -> None:
    assert parse_moment(value) is None


def test_fractions_of_seconds_are_kept_for_ordering() -> None:
    earlier = parse_moment("2026-11-30T12:00:00.100Z")
    later = parse_moment("2026-11-30T12:00:00.2Z")
    assert earlier is not None and later is not None and earlier < later


@pytest.mark.parametrize(
    ("value_format", "expected"),
    [
        ("iso", "2026-11-30T12:00:00+00:00"),
        ("iso-z", "2026-11-30T12:00:00Z"),
        ("date", "2026-11-30"),
        ("epoch", int(NOON)),
        ("epoch_ms", int(NOON) * 1000),
    ],
)
def test_the_mark_is_written_in_the_parameter_s_format_rounded_down(
    value_format: Any, expected: Any
) -> None:
    assert format_moment(NOON + 0.9, value_format) == expected


def test_a_function_formats_the_mark_as_the_caller_wants() -> None:
    assert format_moment(NOON, lambda moment: moment.strftime("%d/%m/%Y")) == "30/11/2026"


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"cursor_field": ""}, "cursor_field"),
        ({"cursor_field": "updated_at", "start": "last tuesday"}, "not a moment"),
        ({"cursor_field": "updated_at", "lookback": -5}, "zero or more"),
        ({"cursor_field": "updated_at", "value_format": "rfc"}, "Unknown value_format"),
        ({"cursor_field": "updated_at", "primary_key": ["id", 3]}, "primary_key"),
        ({"cursor_field": "updated_at", "parameter": ""}, "parameter"),
    ],
)
def test_bad_settings_are_refused_with_what_to_give(options: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigurationError, match=words):
        Incremental(**options)


def test_settings_are_normalised() -> None:
    incremental = Incremental(
        "updated_at", primary_key=["shop", "id"], lookback=timedelta(minutes=5), start=NOON
    )
    assert incremental.keys == ("shop", "id")
    assert incremental.lookback_seconds == 300
    assert incremental.start_seconds == NOON


def _action(*parameters: ActionParameter) -> Action:
    return Action(action_id="list-things", parameters=parameters)


SHOPIFY = ActionParameter(
    "updated_at_min",
    type="string",
    description="Show orders last updated at or after date (format: 2014-04-25T16:15:47-04:00).",
)
ZENDESK = ActionParameter(
    "start_time",
    type="integer",
    description="Return tickets updated at or after this time, in unix seconds.",
)
STRIPE = ActionParameter(
    "created[gte]",
    type="integer",
    description="Only return charges created at or after this Unix timestamp.",
)
UPPER = ActionParameter("updated_at_max", description="Show orders last updated at or before date.")
PAGING = ActionParameter("limit", type="integer", description="The most records a page.")


@pytest.mark.parametrize(
    ("parameter", "cursor", "name", "value_format"),
    [
        (SHOPIFY, "updated_at", "updated_at_min", "iso"),
        (ZENDESK, "updated_at", "start_time", "epoch"),
        (STRIPE, "created", "created[gte]", "epoch"),
        (
            ActionParameter("modifiedSince", description="Only items modified since this time."),
            "modified_at",
            "modifiedSince",
            "iso-z",
        ),
        (
            ActionParameter(
                "since", description="Epoch milliseconds: return contacts updated after it."
            ),
            "properties.updatedAt",
            "since",
            "epoch_ms",
        ),
    ],
)
def test_a_filter_parameter_is_found_with_its_format(
    parameter: ActionParameter, cursor: str, name: str, value_format: str
) -> None:
    found = find_filter_parameter(_action(PAGING, UPPER, parameter), Incremental(cursor))
    assert found is not None
    assert (found.name, found.value_format) == (name, value_format)


@pytest.mark.parametrize(
    ("parameters", "cursor"),
    [
        ((PAGING, UPPER), "updated_at"),
        # A creation filter would miss every record that was changed, not created.
        ((STRIPE,), "updated_at"),
        ((ActionParameter("since", description="A free-text query."),), "updated_at"),
        (
            (
                ActionParameter(
                    "updated_at_min", required=True, description="Updated after this date."
                ),
            ),
            "updated_at",
        ),
    ],
)
def test_no_filter_is_invented(parameters: tuple[ActionParameter, ...], cursor: str) -> None:
    assert find_filter_parameter(_action(*parameters), Incremental(cursor)) is None


def test_a_parameter_given_by_hand_wins_and_keeps_its_declared_format() -> None:
    found = find_filter_parameter(
        _action(SHOPIFY, ZENDESK), Incremental("updated_at", parameter="start_time")
    )
    assert found is not None and (found.name, found.value_format) == ("start_time", "epoch")
    found = find_filter_parameter(
        _action(SHOPIFY), Incremental("updated_at", parameter="changed", value_format="date")
    )
    assert found is not None and (found.name, found.value_format) == ("changed", "date")


def test_a_dotted_cursor_reaches_into_nested_objects() -> None:
    record = {"id": 1, "properties": {"updatedAt": "2026-11-30T12:00:00Z"}}
    assert cursor_value(record, "properties.updatedAt") == "2026-11-30T12:00:00Z"
    assert cursor_value({"a.b": 5}, "a.b") == 5
    assert cursor_value(record, "properties.missing") is None


def _records(*moments: float | None) -> list[dict[str, Any]]:
    return [{"id": index, "updated_at": moment} for index, moment in enumerate(moments)]


def test_a_newest_first_run_stops_once_past_the_mark_and_keeps_only_newer_records() -> None:
    run = IncrementalRun(Incremental("updated_at"), since=NOON, may_stop=True)
    kept, stop = run.page(_records(NOON + 50, NOON + 40, NOON + 30, NOON + 20))
    assert (len(kept), stop) == (4, False)
    kept, stop = run.page(_records(NOON + 10, NOON, NOON - 10, NOON - 20))
    assert [r["updated_at"] for r in kept] == [NOON + 10, NOON]
    assert stop and run.stopped_early and run.newest_first
    assert run.mark == NOON + 50


def test_records_out_of_order_never_stop_a_run_early() -> None:
    run = IncrementalRun(Incremental("updated_at"), since=NOON, may_stop=True)
    run.page(_records(NOON + 50, NOON + 40, NOON + 30, NOON + 20))
    kept, stop = run.page(_records(NOON + 60, NOON - 10, NOON - 20, NOON - 30))
    assert not stop and not run.newest_first
    assert [r["updated_at"] for r in kept] == [NOON + 60]
    assert run.mark == NOON + 60


def test_a_run_that_the_app_filters_never_stops_early() -> None:
    run = IncrementalRun(Incremental("updated_at"), since=NOON, may_stop=False)
    _, stop = run.page(_records(NOON + 30, NOON + 20, NOON + 10, NOON - 10))
    assert not stop


def test_records_without_the_cursor_are_kept_and_counted() -> None:
    run = IncrementalRun(Incremental("updated_at"), since=NOON, may_stop=True)
    kept, _ = run.page(_records(None, NOON - 1, NOON + 1))
    assert [r["id"] for r in kept] == [0, 2]
    assert (run.undated, run.dropped) == (1, 1)


ROWS = pa.schema([("id", pa.int64()), ("updated_at", pa.string()), ("value", pa.string())])


def _write(
    path: Path, mode: str, pages: list[list[tuple[int, str, str]]], *, resume: bool = False
) -> MergingParquetWriter:
    state = read_incremental_state(path) or {}
    writer = MergingParquetWriter(
        path,
        mode=mode,
        primary_key=["id"],
        cursor_field="updated_at",
        state={"cursor_field": "updated_at", "high_water_mark": state.get("high_water_mark")},
        resume=resume,
        fingerprint="fp",
    )
    writer.open()
    for number, rows in enumerate(pages, 1):
        batch = pa.RecordBatch.from_pylist(
            [dict(zip(ROWS.names, row, strict=True)) for row in rows], schema=ROWS
        )
        writer.write_page(number, batch, schema=ROWS, next_parameters={"page": number + 1})
    writer.finish(schema=ROWS)
    return writer


def _rows(path: Path) -> list[tuple[Any, ...]]:
    table = pq.read_table(path)
    return sorted(tuple(row.values()) for row in table.to_pylist())


def test_merge_replaces_old_versions_and_leaves_other_rows(tmp_path: Path) -> None:
    path = tmp_path / "things.parquet"
    _write(path, "merge", [[(1, "2026-01-01T00:00:00Z", "a"), (2, "2026-01-02T00:00:00Z", "b")]])
    writer = _write(
        path, "merge", [[(2, "2026-01-05T00:00:00Z", "B"), (3, "2026-01-04T00:00:00Z", "c")]]
    )
    assert _rows(path) == [
        (1, "2026-01-01T00:00:00Z", "a"),
        (2, "2026-01-05T00:00:00Z", "B"),
        (3, "2026-01-04T00:00:00Z", "c"),
    ]
    assert read_metadata(path)["row_count"] == "3"
    assert read_incremental_state(path)["high_water_mark"] == "2026-01-05T00:00:00.000000Z"
    assert writer.high_water_mark == parse_moment("2026-01-05T00:00:00Z")


def test_the_newest_of_two_copies_in_one_run_wins(tmp_path: Path) -> None:
    path = tmp_path / "things.parquet"
    _write(
        path,
        "merge",
        [[(1, "2026-01-03T00:00:00Z", "newer")], [(1, "2026-01-01T00:00:00Z", "older")]],
    )
    assert _rows(path) == [(1, "2026-01-03T00:00:00Z", "newer")]


def test_append_keeps_every_version_once(tmp_path: Path) -> None:
    path = tmp_path / "things.parquet"
    _write(path, "append", [[(1, "2026-01-01T00:00:00Z", "a"), (2, "2026-01-02T00:00:00Z", "b")]])
    # The run after sees the record at the mark again (filters are inclusive): not added twice.
    _write(path, "append", [[(2, "2026-01-02T00:00:00Z", "b"), (1, "2026-01-06T00:00:00Z", "A")]])
    assert _rows(path) == [
        (1, "2026-01-01T00:00:00Z", "a"),
        (1, "2026-01-06T00:00:00Z", "A"),
        (2, "2026-01-02T00:00:00Z", "b"),
    ]
    assert read_metadata(path)["row_count"] == "3"


def test_a_run_with_nothing_new_keeps_the_mark(tmp_path: Path) -> None:
    path = tmp_path / "things.parquet"
    _write(path, "merge", [[(1, "2026-01-01T00:00:00Z", "a")]])
    _write(path, "merge", [[]])
    assert _rows(path) == [(1, "2026-01-01T00:00:00Z", "a")]
    assert read_incremental_state(path)["high_water_mark"] == "2026-01-01T00:00:00.000000Z"


def test_new_columns_widen_the_file(tmp_path: Path) -> None:
    path = tmp_path / "things.parquet"
    _write(path, "merge", [[(1, "2026-01-01T00:00:00Z", "a")]])
    wider = pa.schema([*ROWS, pa.field("extra", pa.int64())])
    writer = MergingParquetWriter(
        path, mode="merge", primary_key=["id"], cursor_field="updated_at", state={}
    )
    writer.open()
    batch = pa.RecordBatch.from_pylist(
        [{"id": 2, "updated_at": "2026-01-02T00:00:00Z", "value": "b", "extra": 7}], schema=wider
    )
    writer.write_page(1, batch, schema=wider, next_parameters=None)
    writer.finish(schema=wider)
    assert pq.read_table(path).to_pylist() == [
        {"id": 1, "updated_at": "2026-01-01T00:00:00Z", "value": "a", "extra": None},
        {"id": 2, "updated_at": "2026-01-02T00:00:00Z", "value": "b", "extra": 7},
    ]


def test_a_missing_key_column_is_an_export_error_naming_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "things.parquet"
    writer = MergingParquetWriter(
        path, mode="merge", primary_key=["uuid"], cursor_field="updated_at", state={}
    )
    writer.open()
    batch = pa.RecordBatch.from_pylist(
        [{"id": 1, "updated_at": "2026-01-01T00:00:00Z", "value": "a"}], schema=ROWS
    )
    writer.write_page(1, batch, schema=ROWS, next_parameters=None)
    with pytest.raises(ExportError, match=r"no column uuid.*id, updated_at, value"):
        writer.finish(schema=ROWS)
    assert not path.exists()


def test_an_interrupted_merge_leaves_the_file_and_resumes(tmp_path: Path) -> None:
    path = tmp_path / "things.parquet"
    _write(path, "merge", [[(1, "2026-01-01T00:00:00Z", "a"), (2, "2026-01-02T00:00:00Z", "b")]])
    before = path.read_bytes()
    writer = MergingParquetWriter(
        path,
        mode="merge",
        primary_key=["id"],
        cursor_field="updated_at",
        state={"cursor_field": "updated_at"},
        fingerprint="fp",
    )
    writer.open()
    batch = pa.RecordBatch.from_pylist(
        [{"id": 2, "updated_at": "2026-01-09T00:00:00Z", "value": "B"}], schema=ROWS
    )
    writer.write_page(1, batch, schema=ROWS, next_parameters={"page": 2})
    writer.abort()
    assert path.read_bytes() == before
    resumed = MergingParquetWriter(
        path,
        mode="merge",
        primary_key=["id"],
        cursor_field="updated_at",
        state={"cursor_field": "updated_at"},
        resume=True,
        fingerprint="fp",
    )
    checkpoint = resumed.open()
    assert checkpoint is not None and checkpoint.rows == 1
    resumed.finish(schema=ROWS)
    assert _rows(path) == [(1, "2026-01-01T00:00:00Z", "a"), (2, "2026-01-09T00:00:00Z", "B")]


def test_an_unknown_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="'merge'"):
        MergingParquetWriter(
            tmp_path / "x.parquet", mode="upsert", primary_key=["id"], cursor_field="u", state={}
        )


def test_a_front_end_guesses_the_cursor_and_key_from_well_known_columns() -> None:
    from alloy_data.incremental import guess_incremental

    guessed = guess_incremental(["id", "created_at", "updated_at", "name"])
    assert guessed is not None
    assert (guessed.cursor_field, guessed.keys) == ("updated_at", ("id",))
    quickbooks = guess_incremental(["Id", "MetaData.CreateTime", "MetaData.LastUpdatedTime"])
    assert quickbooks is not None and quickbooks.cursor_field == "MetaData.LastUpdatedTime"
    assert guess_incremental(["name", "updated_at"]) is None
    assert guess_incremental(["id", "name"]) is None


def test_no_lookback_is_none_as_the_design_writes_it() -> None:
    assert Incremental("updated_at", lookback=None).lookback_seconds == 0
    assert Incremental("updated_at").lookback_seconds == 0
