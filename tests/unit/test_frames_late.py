"""Fitting batches to a stream's declared schema: nothing lost, and only what does not fit moves."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pyarrow as pa
import pytest

from alloy_data.frames import LATE_FIELDS, LateFields, TableBuilder, holds, stream_schema


def declared(records: list[dict]) -> LateFields:
    builder = TableBuilder()
    builder.add_page(records, 1)
    return LateFields(stream_schema(builder.schema))


def batch_of(records: list[dict]) -> pa.RecordBatch:
    builder = TableBuilder()
    return builder.add_page(records, 1)


def late(batch: pa.RecordBatch) -> list[dict | None]:
    return [None if t is None else json.loads(t) for t in batch.column(LATE_FIELDS).to_pylist()]


def test_the_declared_schema_ends_with_the_late_fields_column() -> None:
    schema = stream_schema(pa.schema([("id", pa.int64())]), [("name", pa.string())])
    assert schema.names == ["id", "name", LATE_FIELDS]
    assert schema.field(LATE_FIELDS).type == pa.string()


def test_a_batch_that_fits_is_unchanged_but_for_an_empty_late_column() -> None:
    fitter = declared([{"id": 1, "price": 2.5}])
    fitted = fitter.fit(batch_of([{"id": 2, "price": 3.5}, {"id": 3, "price": None}]))
    assert fitted.schema == fitter.schema
    assert fitted.column("id").to_pylist() == [2, 3]
    assert late(fitted) == [None, None]
    assert fitter.columns == {}


def test_a_field_first_seen_late_goes_to_late_fields() -> None:
    fitter = declared([{"id": 1}])
    fitted = fitter.fit(batch_of([{"id": 2, "code": "A", "n": {"x": 1}}, {"id": 3}]))
    assert fitted.schema.names == ["id", LATE_FIELDS]
    assert late(fitted) == [{"code": "A", "n.x": 1}, None]
    assert fitter.columns == {"code": 1, "n.x": 1}


@pytest.mark.parametrize(
    ("first", "later", "kept"),
    [
        pytest.param(1, 2.5, 2.5, id="int-then-float"),
        pytest.param(1, "one", "one", id="int-then-string"),
        pytest.param("a", 7, 7, id="string-then-int"),
        pytest.param(True, 3, 3, id="bool-then-int"),
        pytest.param([1], ["x"], ["x"], id="list-item-type"),
    ],
)
def test_a_value_its_column_cannot_hold_unchanged_moves_with_its_type(
    first: object, later: object, kept: object
) -> None:
    fitter = declared([{"id": 1, "v": first}])
    fitted = fitter.fit(batch_of([{"id": 2, "v": later}, {"id": 3, "v": None}]))
    assert fitted.schema == fitter.schema  # the declared type stays
    assert fitted.column("v").to_pylist() == [None, None]
    assert late(fitted) == [{"v": kept}, None]
    assert fitter.columns == {"v": 1}


def test_integers_fit_a_float_column_and_null_fits_anything() -> None:
    fitter = declared([{"price": 1.5, "note": "x"}])
    fitted = fitter.fit(batch_of([{"price": 2, "note": None}]))
    assert fitted.column("price").type == pa.float64()
    assert fitted.column("price").to_pylist() == [2.0]
    assert late(fitted) == [None]


def test_a_column_null_on_the_first_page_keeps_later_values_in_late_fields() -> None:
    fitter = declared([{"id": 1, "closed_at": None}])
    when = "2024-05-01T08:00:00Z"
    fitted = fitter.fit(batch_of([{"id": 2, "closed_at": when}]))
    assert fitted.column("closed_at").null_count == 1
    assert late(fitted) == [{"closed_at": "2024-05-01T08:00:00+00:00"}]


def test_objects_in_lists_with_new_fields_move_whole() -> None:
    fitter = declared([{"items": [{"sku": "a"}]}])
    fitted = fitter.fit(batch_of([{"items": [{"sku": "b", "qty": 2}]}, {"items": [{"sku": "c"}]}]))
    assert fitted.column("items").to_pylist() == [None, None]
    assert late(fitted) == [
        {"items": [{"sku": "b", "qty": 2}]},
        {"items": [{"sku": "c", "qty": None}]},
    ]


def test_fitting_again_to_another_schema_merges_the_late_fields() -> None:
    own = declared([{"id": 1}])
    once = own.fit(batch_of([{"id": 2, "a": 1, "b": "x"}]))
    other = LateFields(stream_schema(pa.schema([("a", pa.int64())])))
    twice = other.fit(once)
    assert twice.schema.names == ["a", LATE_FIELDS]
    assert late(twice) == [{"a": 1, "b": "x", "id": 2}]


def test_timestamps_and_other_values_become_json_text() -> None:
    fitter = LateFields(stream_schema(pa.schema([("id", pa.int64())])))
    moment = datetime(2024, 5, 1, 8, tzinfo=timezone.utc)
    batch = pa.record_batch(
        [pa.array([1]), pa.array([moment], pa.timestamp("us", tz="UTC"))], names=["id", "at"]
    )
    assert late(fitter.fit(batch)) == [{"at": "2024-05-01T08:00:00+00:00"}]


def test_holds() -> None:
    assert holds(pa.float64(), pa.int64())
    assert holds(pa.int64(), pa.null())
    assert not holds(pa.int64(), pa.float64())
    assert not holds(pa.string(), pa.int64())
    assert not holds(pa.list_(pa.null()), pa.list_(pa.int64()))
