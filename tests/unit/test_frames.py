"""Records to Arrow batches and tables, and to DataFrames."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from alloy_data.errors import AlloyError, ConfigurationError
from alloy_data.frames import (
    SchemaDrift,
    TableBuilder,
    align_batch,
    records_to_batch,
    to_dataframe,
)

UTC = timezone.utc
TIMESTAMP = pa.timestamp("us", tz="UTC")


def build(*pages: list[Any], known_columns: tuple[str, ...] = ()) -> TableBuilder:
    builder = TableBuilder(known_columns=known_columns)
    for number, records in enumerate(pages, start=1):
        builder.add_page(records, number)
    return builder


def column(table: pa.Table | pa.RecordBatch, name: str) -> list[Any]:
    return table.column(name).to_pylist()


def drift_of(builder: TableBuilder) -> list[str]:
    return [str(d) for d in builder.drift]


# Flattening


def test_nested_objects_flatten_to_dotted_names_at_any_depth() -> None:
    batch = records_to_batch(
        [
            {
                "id": 1,
                "customer": {"email": "a@example.com", "name": {"first": "Ada"}},
                "shipping_address": {"geo": {"lat": 48.85, "lng": 2.35}},
            }
        ]
    )

    assert batch.schema.names == [
        "id",
        "customer.email",
        "customer.name.first",
        "shipping_address.geo.lat",
        "shipping_address.geo.lng",
    ]
    assert column(batch, "customer.name.first") == ["Ada"]
    assert column(batch, "shipping_address.geo.lat") == [48.85]


def test_a_null_or_missing_parent_object_gives_null_children() -> None:
    batch = records_to_batch(
        [{"customer": {"email": "a@example.com"}}, {"customer": None}, {"id": 3}]
    )

    assert column(batch, "customer.email") == ["a@example.com", None, None]


@pytest.mark.parametrize(
    "records",
    [
        pytest.param([{"id": 1, "meta": {}}], id="only-empty-object"),
        pytest.param([{"id": 1, "meta": {}}, {"id": 2, "meta": {"a": 5}}], id="empty-then-full"),
        pytest.param([{}, {}], id="empty-records"),
    ],
)
def test_empty_objects_do_not_crash_and_keep_rows(records: list[Any]) -> None:
    batch = records_to_batch(records)

    assert batch.num_rows == len(records)
    assert "meta" not in batch.schema.names


def test_lists_stay_lists_and_lists_of_objects_stay_lists_of_structs() -> None:
    batch = records_to_batch(
        [
            {"tags": ["vip", "new"], "items": [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 1}]},
            {"tags": [], "items": None},
        ]
    )

    assert batch.schema.field("tags").type == pa.list_(pa.string())
    items_type = batch.schema.field("items").type
    assert pa.types.is_list(items_type)
    assert items_type.value_type == pa.struct([("sku", pa.string()), ("qty", pa.int64())])
    assert column(batch, "items")[0] == [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 1}]
    assert "items.sku" not in batch.schema.names


def test_objects_in_lists_with_different_keys_share_one_struct_type() -> None:
    batch = records_to_batch([{"items": [{"sku": "A"}, {"qty": 2}]}])

    assert column(batch, "items") == [[{"sku": "A", "qty": None}, {"sku": None, "qty": 2}]]


# Types


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        pytest.param("2024-05-01T10:00:00Z", datetime(2024, 5, 1, 10, tzinfo=UTC), id="Z"),
        pytest.param(
            "2024-05-01T10:00:00.123Z",
            datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=UTC),
            id="millis-Z",
        ),
        pytest.param(
            "2024-05-01T10:00:00.123456+00:00",
            datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC),
            id="micros-plus-00:00",
        ),
        pytest.param(
            "2024-05-01T10:00:00+02:00", datetime(2024, 5, 1, 8, tzinfo=UTC), id="plus-02:00"
        ),
        pytest.param(
            "2024-05-01T10:00:00-05:30",
            datetime(2024, 5, 1, 15, 30, tzinfo=UTC),
            id="minus-05:30",
        ),
        pytest.param(
            "2024-05-01T10:00:00+0200", datetime(2024, 5, 1, 8, tzinfo=UTC), id="plus-0200"
        ),
        pytest.param(
            "2024-05-01 10:00:00Z", datetime(2024, 5, 1, 10, tzinfo=UTC), id="space-separator"
        ),
        pytest.param(
            "2024-05-01T00:30:00+02:00",
            datetime(2024, 4, 30, 22, 30, tzinfo=UTC),
            id="offset-crosses-midnight",
        ),
    ],
)
def test_iso_timestamps_become_utc_instants(text: str, instant: datetime) -> None:
    batch = records_to_batch([{"created_at": text}, {"created_at": None}])

    assert batch.schema.field("created_at").type == TIMESTAMP
    assert column(batch, "created_at") == [instant, None]


def test_timestamps_with_different_offset_styles_share_one_column() -> None:
    batch = records_to_batch(
        [
            {"at": "2024-05-01T10:00:00Z"},
            {"at": "2024-05-01T12:00:00.000+02:00"},
            {"at": "2024-05-01 05:00:00-05:00"},
        ]
    )

    assert column(batch, "at") == [datetime(2024, 5, 1, 10, tzinfo=UTC)] * 3


def test_timestamps_are_detected_by_value_not_by_name() -> None:
    batch = records_to_batch(
        [{"created_at": "soon", "note": "2024-05-01T10:00:00Z", "updated": "2024-05-01"}]
    )

    assert batch.schema.field("created_at").type == pa.string()
    assert batch.schema.field("note").type == TIMESTAMP


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("19.99", id="money"),
        pytest.param("0042", id="leading-zero-number"),
        pytest.param("1714557600", id="epoch-seconds-text"),
        pytest.param("2024-05-01", id="date-only"),
        pytest.param("2024-05-01T10:00:00", id="no-offset"),
        pytest.param("", id="empty-string"),
        pytest.param("10:00:00Z", id="time-only"),
        pytest.param("2024-05-01T10:00:00.123456789Z", id="nanoseconds"),
    ],
)
def test_strings_that_are_not_offset_timestamps_stay_strings(value: str) -> None:
    batch = records_to_batch([{"x": value}, {"x": None}])

    assert batch.schema.field("x").type == pa.string()
    assert column(batch, "x") == [value, None]


def test_one_non_timestamp_value_keeps_the_column_as_text() -> None:
    batch = records_to_batch([{"at": "2024-05-01T10:00:00Z"}, {"at": "not yet"}])

    assert batch.schema.field("at").type == pa.string()
    assert column(batch, "at") == ["2024-05-01T10:00:00Z", "not yet"]


def test_timestamps_inside_lists_stay_text() -> None:
    batch = records_to_batch([{"items": [{"shipped_at": "2024-05-01T10:00:00Z"}]}])

    assert column(batch, "items") == [[{"shipped_at": "2024-05-01T10:00:00Z"}]]


def test_integers_and_booleans_with_nulls_keep_their_types() -> None:
    batch = records_to_batch([{"n": 1, "ok": True}, {"n": None, "ok": None}, {"n": 3}])

    assert batch.schema.field("n").type == pa.int64()
    assert batch.schema.field("ok").type == pa.bool_()
    assert column(batch, "n") == [1, None, 3]
    assert column(batch, "ok") == [True, None, None]


def test_integers_too_large_for_int64_become_text() -> None:
    batch = records_to_batch([{"n": 2**70}, {"n": 1}])

    assert column(batch, "n") == [str(2**70), "1"]


def test_unicode_keys_and_values_survive() -> None:
    records = [{"名前": "大阪", "città": {"nome": "São Paulo"}, "emoji": "🙂"}]

    frame = to_dataframe(build(records).to_table())

    assert list(frame.columns) == ["名前", "città.nome", "emoji"]
    assert frame.iloc[0].tolist() == ["大阪", "São Paulo", "🙂"]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param(ValueError("boom"), '"boom"', id="exception-object"),
        pytest.param(frozenset(), '"frozenset()"', id="frozenset"),
    ],
)
def test_values_that_are_not_json_become_json_text_of_their_str(value: Any, text: str) -> None:
    batch = records_to_batch([{"odd": value}, {"odd": None}])

    assert column(batch, "odd") == [text, None]


# Records that are not plain objects, and names that collide


def test_scalar_records_become_a_value_column() -> None:
    batch = records_to_batch([1, 2, None])

    assert batch.schema.names == ["value"]
    assert column(batch, "value") == [1, 2, None]


def test_scalars_among_objects_go_to_the_value_column() -> None:
    batch = records_to_batch([{"id": 1}, "stray"])

    assert column(batch, "id") == [1, None]
    assert column(batch, "value") == [None, "stray"]


def test_keys_that_are_not_strings_are_stringified() -> None:
    batch = records_to_batch([{1: "one", "nested": {2: "two"}, None: 0}])

    assert batch.schema.names == ["1", "nested.2", "None"]
    assert column(batch, "nested.2") == ["two"]


def test_a_dotted_key_and_a_nested_path_keep_both_columns() -> None:
    batch = records_to_batch([{"a.b": "literal", "a": {"b": "nested"}}])

    assert batch.schema.names == ["a.b", "a.b_2"]
    assert column(batch, "a.b") == ["literal"]
    assert column(batch, "a.b_2") == ["nested"]


def test_a_suffix_that_is_already_taken_is_skipped() -> None:
    batch = records_to_batch([{"a.b": 1, "a.b_2": 2, "a": {"b": 3}}])

    assert batch.schema.names == ["a.b", "a.b_2", "a.b_3"]
    assert batch.to_pylist() == [{"a.b": 1, "a.b_2": 2, "a.b_3": 3}]


def test_a_number_key_and_its_string_twin_keep_both_columns() -> None:
    batch = records_to_batch([{1: "number", "1": "string"}])

    assert batch.schema.names == ["1", "1_2"]
    assert sorted(batch.to_pylist()[0].values()) == ["number", "string"]


# Drift


def test_a_key_that_appears_part_way_through_the_first_page_is_kept() -> None:
    records: list[Any] = [{"id": n} for n in range(250)]
    for record in records[150:]:
        record["discount"] = "SPRING"

    builder = build(records)
    table = builder.to_table()

    assert column(table, "discount") == [None] * 150 + ["SPRING"] * 100
    assert builder.drift == []


def test_a_key_that_appears_part_way_through_a_later_page_is_drift_on_that_page() -> None:
    second: list[Any] = [{"id": n} for n in range(250)]
    for record in second[150:]:
        record["discount"] = 10

    builder = build([{"id": -1}], second)
    table = builder.to_table()

    assert column(table, "discount") == [None] * 151 + [10] * 100
    assert builder.drift == [SchemaDrift("discount", 2, "absent", "int64")]


def test_a_column_new_on_a_later_page_is_null_before_it() -> None:
    builder = build([{"id": 1}, {"id": 2}], [{"id": 3}], [{"id": 4, "note": "hi"}])
    table = builder.to_table()

    assert table.schema.names == ["id", "note"]
    assert column(table, "note") == [None, None, None, "hi"]
    assert drift_of(builder) == ["note: page 3, absent -> string"]


@pytest.mark.parametrize(
    ("pages", "expected_type", "values", "drift"),
    [
        pytest.param(
            [[{"n": 1}], [{"n": 2.5}]],
            pa.float64(),
            [1.0, 2.5],
            ["n: page 2, int64 -> double"],
            id="int-to-double-across-pages",
        ),
        pytest.param(
            [[{"n": 1}, {"n": 2.5}]], pa.float64(), [1.0, 2.5], [], id="int-and-double-in-a-page"
        ),
        pytest.param(
            [[{"n": 1}], [{"n": "n/a"}]],
            pa.string(),
            ["1", "n/a"],
            ["n: page 2, int64 -> string"],
            id="int-to-string-across-pages",
        ),
        pytest.param(
            [[{"n": 1}, {"n": "n/a"}]],
            pa.string(),
            ["1", "n/a"],
            ["n: page 1, int64 -> string"],
            id="int-and-string-in-a-page",
        ),
        pytest.param(
            [[{"n": "n/a"}, {"n": 1}]],
            pa.string(),
            ["n/a", "1"],
            ["n: page 1, int64 -> string"],
            id="string-and-int-in-a-page",
        ),
        pytest.param(
            [[{"n": 1.5}], [{"n": 2}], [{"n": "x"}]],
            pa.string(),
            ["1.5", "2", "x"],
            ["n: page 3, double -> string"],
            id="double-to-string",
        ),
        pytest.param(
            [[{"n": True}, {"n": 1}]],
            pa.string(),
            ["true", "1"],
            ["n: page 1, bool -> string"],
            id="bool-and-int-in-a-page",
        ),
        pytest.param(
            [[{"n": None}], [{"n": 7}]],
            pa.int64(),
            [None, 7],
            ["n: page 2, null -> int64"],
            id="null-to-int",
        ),
        pytest.param(
            [[{"n": 7}], [{"n": None}]], pa.int64(), [7, None], [], id="int-then-null-is-no-drift"
        ),
        pytest.param(
            [[{"n": "2024-05-01T10:00:00+02:00"}], [{"n": "later"}]],
            pa.string(),
            ["2024-05-01T08:00:00.000000Z", "later"],
            ["n: page 2, timestamp[us, tz=UTC] -> string"],
            id="timestamp-to-string",
        ),
        pytest.param(
            [[{"n": [1, 2]}], [{"n": [2.5]}]],
            pa.list_(pa.float64()),
            [[1.0, 2.0], [2.5]],
            ["n: page 2, list<item: int64> -> list<item: double>"],
            id="list-of-int-to-list-of-double",
        ),
    ],
)
def test_types_widen_across_and_inside_pages(
    pages: list[list[Any]], expected_type: pa.DataType, values: list[Any], drift: list[str]
) -> None:
    builder = build(*pages)
    table = builder.to_table()

    assert table.schema.field("n").type == expected_type
    assert column(table, "n") == values
    assert drift_of(builder) == drift


def test_objects_in_lists_gaining_fields_widen_the_struct() -> None:
    builder = build([{"items": [{"sku": "A"}]}], [{"items": [{"sku": "B", "qty": 2}]}])
    table = builder.to_table()

    assert column(table, "items") == [[{"sku": "A", "qty": None}], [{"sku": "B", "qty": 2}]]
    assert [d.column for d in builder.drift] == ["items"]


def test_a_widened_column_is_cast_in_earlier_batches_too() -> None:
    builder = build([{"n": 1}], [{"n": 2}], [{"n": 0.5}], [{"n": 3}])

    table = builder.to_table()

    assert table.schema.field("n").type == pa.float64()
    assert column(table, "n") == [1.0, 2.0, 0.5, 3.0]


def test_each_drift_is_recorded_once_with_the_page_it_happened_on() -> None:
    builder = build([{"n": 1}], [{"n": 1.5}], [{"n": 2.5}], [{"n": 3}], [{"n": 4.5}])

    assert builder.drift == [SchemaDrift("n", 2, "int64", "double")]


@pytest.mark.parametrize(
    ("pages", "values", "old_type"),
    [
        pytest.param(
            [[{"a": {"b": 1}}, {"a": 5}]], ['{"b": 1}', "5"], "struct", id="object-then-scalar"
        ),
        pytest.param(
            [[{"a": "x"}, {"a": {"b": 1}}]], ["x", '{"b": 1}'], "struct", id="scalar-then-object"
        ),
        pytest.param([[{"a": [1, 2]}, {"a": "x"}]], ["[1, 2]", "x"], "list", id="list-then-scalar"),
        pytest.param(
            [[{"a": [1]}, {"a": [{"b": 1}]}]],
            ["[1]", '[{"b": 1}]'],
            "list",
            id="list-of-scalars-and-list-of-objects",
        ),
        pytest.param(
            [[{"a": 5}], [{"a": {"b": 1}}]],
            ["5", '{"b": 1}'],
            "int64",
            id="scalar-page-then-object-page",
        ),
        pytest.param(
            [[{"a": [1, 2]}], [{"a": 3}]],
            ["[1, 2]", "3"],
            "list<item: int64>",
            id="list-page-then-scalar-page",
        ),
    ],
)
def test_objects_or_lists_mixed_with_scalars_fall_back_to_json_text(
    pages: list[list[Any]], values: list[Any], old_type: str
) -> None:
    builder = build(*pages)
    table = builder.to_table()

    assert table.schema.field("a").type == pa.string()
    assert column(table, "a") == values
    assert [(d.column, d.old_type, d.new_type) for d in builder.drift] == [
        ("a", old_type, "string")
    ]


def test_an_object_page_then_a_scalar_page_keeps_both_and_switches_to_json() -> None:
    builder = build([{"a": {"b": 1}}], [{"a": 5}], [{"a": {"b": 2}}])
    table = builder.to_table()

    assert column(table, "a.b") == [1, None, None]
    assert column(table, "a") == [None, "5", '{"b": 2}']
    assert builder.drift == [SchemaDrift("a", 2, "struct", "string")]


def test_a_nested_path_that_mixes_objects_and_scalars_keeps_its_siblings_flat() -> None:
    batch = records_to_batch(
        [
            {"customer": {"email": "a@example.com", "address": {"city": "Lyon"}}},
            {"customer": {"email": "b@example.com", "address": "unknown"}},
        ]
    )

    assert column(batch, "customer.email") == ["a@example.com", "b@example.com"]
    assert column(batch, "customer.address") == ['{"city": "Lyon"}', "unknown"]


# Empty pages and results


def test_empty_pages_add_no_rows_and_no_drift() -> None:
    builder = TableBuilder()
    first = builder.add_page([], 1)
    builder.add_page([{"id": 1}], 2)
    builder.add_page([], 3)

    assert first.num_rows == 0
    assert builder.row_count == 1
    assert column(builder.to_table(), "id") == [1]
    assert builder.drift == []


def test_an_empty_result_has_the_known_columns_as_strings() -> None:
    builder = build([], [], known_columns=("id", "customer.email"))

    table = builder.to_table()

    assert table.num_rows == 0
    assert table.schema == pa.schema([("id", pa.string()), ("customer.email", pa.string())])
    assert list(to_dataframe(table).columns) == ["id", "customer.email"]


def test_an_empty_result_without_known_columns_has_no_columns() -> None:
    table = TableBuilder().to_table()

    assert (table.num_rows, table.num_columns) == (0, 0)


def test_an_empty_result_keeps_columns_seen_on_pages_with_null_types_as_strings() -> None:
    builder = TableBuilder(known_columns=("id",))
    builder.add_page([{"id": 1, "note": None}], 1)

    table = builder.to_table([builder.add_page([{"id": 2, "note": None}], 2).slice(0, 0)])

    assert table.num_rows == 0
    assert table.schema == pa.schema([("id", pa.int64()), ("note", pa.string())])


# TableBuilder options


def test_keep_batches_false_tracks_schema_and_drift_only() -> None:
    builder = TableBuilder(keep_batches=False)
    first = builder.add_page([{"n": 1}], 1)
    second = builder.add_page([{"n": 0.5, "x": "y"}], 2)

    assert builder.schema == pa.schema([("n", pa.float64()), ("x", pa.string())])
    assert builder.row_count == 2
    assert len(builder.drift) == 2
    with pytest.raises(ConfigurationError, match="keep_batches"):
        builder.to_table()
    assert column(builder.to_table([first, second]), "n") == [1.0, 0.5]


def test_to_table_aligns_batches_given_to_it() -> None:
    builder = TableBuilder()
    first = builder.add_page([{"a": 1}], 1)
    second = builder.add_page([{"b": "x"}], 2)

    table = builder.to_table([second, first])

    assert table.to_pylist() == [{"a": None, "b": "x"}, {"a": 1, "b": None}]


def test_to_table_widens_for_batches_it_did_not_convert() -> None:
    builder = TableBuilder()
    builder.add_page([{"a": 1}], 1)
    stranger = records_to_batch([{"a": "x", "b": True}])

    table = TableBuilder().to_table([stranger])
    mixed = builder.to_table([builder.add_page([{"a": 2}], 2), stranger])

    assert table.to_pylist() == [{"a": "x", "b": True}]
    assert mixed.to_pylist() == [{"a": "2", "b": None}, {"a": "x", "b": True}]


def test_schema_drift_is_a_frozen_value_that_reads_well() -> None:
    drift = SchemaDrift("total", 3, "int64", "double")

    assert str(drift) == "total: page 3, int64 -> double"
    with pytest.raises(dataclasses.FrozenInstanceError):
        drift.page = 4  # type: ignore[misc]


# align_batch


def test_align_batch_adds_missing_columns_casts_and_orders_like_the_schema() -> None:
    batch = records_to_batch([{"b": 1, "a": "x"}])
    schema = pa.schema([("a", pa.string()), ("c", TIMESTAMP), ("b", pa.float64())])

    aligned = align_batch(batch, schema)

    assert aligned.schema == schema
    assert aligned.to_pylist() == [{"a": "x", "c": None, "b": 1.0}]


def test_align_batch_turns_lists_into_json_text_for_a_string_column() -> None:
    batch = records_to_batch([{"a": [1, 2]}, {"a": None}])

    aligned = align_batch(batch, pa.schema([("a", pa.string())]))

    assert column(aligned, "a") == ["[1, 2]", None]


def test_align_batch_refuses_columns_missing_from_the_schema() -> None:
    batch = records_to_batch([{"a": 1, "zz": 2}])

    with pytest.raises(ConfigurationError, match="zz"):
        align_batch(batch, pa.schema([("a", pa.int64())]))


def test_align_batch_reports_an_impossible_cast_as_an_alloy_error() -> None:
    batch = records_to_batch([{"a": "x"}])

    with pytest.raises(AlloyError, match=r"TableBuilder\.schema"):
        align_batch(batch, pa.schema([("a", pa.int64())]))


# DataFrames


def mixed_table() -> pa.Table:
    return build(
        [
            {
                "n": 1,
                "ok": True,
                "price": 1.5,
                "name": "a",
                "at": "2024-05-01T10:00:00+02:00",
                "tags": ["x"],
            },
            {"n": None, "ok": None, "price": None, "name": None, "at": None, "tags": None},
        ]
    ).to_table()


def test_to_dataframe_uses_nullable_dtypes_by_default() -> None:
    frame = to_dataframe(mixed_table())

    assert {name: str(dtype) for name, dtype in frame.dtypes.items()} == {
        "n": "Int64",
        "ok": "boolean",
        "price": "Float64",
        "name": "string",
        "at": "datetime64[us, UTC]",
        "tags": "object",
    }
    assert frame["n"].tolist() == [1, pd.NA]
    assert frame["ok"].tolist() == [True, pd.NA]
    assert frame["at"][0] == pd.Timestamp("2024-05-01T08:00:00Z")
    assert list(frame["tags"][0]) == ["x"]


def test_to_dataframe_with_the_pyarrow_backend_uses_arrow_dtypes() -> None:
    frame = to_dataframe(mixed_table(), dtype_backend="pyarrow")

    assert all(isinstance(dtype, pd.ArrowDtype) for dtype in frame.dtypes)
    assert frame["n"].dtype == pd.ArrowDtype(pa.int64())
    assert frame["n"].isna().tolist() == [False, True]
    assert frame["n"][0] == 1
    assert frame["ok"].dtype == pd.ArrowDtype(pa.bool_())


@pytest.mark.parametrize("backend", ["numpy", "arrow", "", "NUMPY_NULLABLE"])
def test_to_dataframe_refuses_unknown_backends_and_names_the_choices(backend: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        to_dataframe(mixed_table(), dtype_backend=backend)

    assert "'numpy_nullable'" in str(caught.value)
    assert "'pyarrow'" in str(caught.value)


# Random mixes


def random_value(rng: Any, depth: int) -> Any:
    kind = rng.choice(
        ["int", "float", "bool", "str", "money", "ts", "none", "list", "dict", "empty", "big"]
    )
    if depth > 2 and kind in ("list", "dict"):
        kind = "none"
    if kind == "int":
        return rng.randrange(-1000, 1000)
    if kind == "float":
        return rng.uniform(-1, 1)
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "str":
        return rng.choice(["", "é", "x", "大阪", "2024-05-01"])
    if kind == "money":
        return f"{rng.uniform(0, 100):.2f}"
    if kind == "ts":
        moment = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(10**7))
        return moment.isoformat().replace("+00:00", rng.choice(["Z", "+00:00"]))
    if kind == "list":
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(3))]
    if kind == "dict":
        return random_record(rng, depth + 1)
    if kind == "empty":
        return {}
    if kind == "big":
        return 2**64
    return None


def random_record(rng: Any, depth: int = 0) -> Any:
    if depth == 0 and rng.random() < 0.02:
        return rng.choice([1, "loose", None])
    keys = rng.sample(["a", "b", "c", "a.b", "d", 1], rng.randrange(4))
    return {key: random_value(rng, depth) for key in keys}


@pytest.mark.parametrize("seed", range(25), ids=lambda seed: f"seed-{seed}")
def test_random_mixes_never_crash_and_keep_every_row(seed: int) -> None:
    import random

    rng = random.Random(seed)
    pages = [[random_record(rng) for _ in range(rng.randrange(0, 30))] for _ in range(6)]
    builder = build(*pages)

    table = builder.to_table()
    frame = to_dataframe(table)
    arrow_frame = to_dataframe(table, dtype_backend="pyarrow")

    expected_rows = sum(len(page) for page in pages)
    assert table.num_rows == builder.row_count == expected_rows
    assert len(frame) == len(arrow_frame) == expected_rows
    assert table.schema == builder.schema or expected_rows == 0
    for drift in builder.drift:
        assert 1 <= drift.page <= len(pages)
    json.dumps([str(d) for d in builder.drift])


def test_a_builder_seeded_with_an_earlier_schema_reports_drift_as_one_pull_would():
    earlier = pa.schema([("id", pa.int64()), ("name", pa.string())])
    builder = TableBuilder(schema=earlier, row_count=100, keep_batches=False)
    builder.add_page([{"id": "A-1", "name": "Zoë", "late": True}], page_number=5)
    assert builder.schema.field("id").type == pa.string()
    assert [str(d) for d in builder.drift] == [
        "id: page 5, int64 -> string",
        "late: page 5, absent -> bool",
    ]
    assert builder.row_count == 101


# Several pages at once


def steady_record(rng: Any, number: int, perturb: bool) -> dict[str, Any]:
    """A record shaped like the last; with ``perturb``, now and then a random mix's value."""
    record: dict[str, Any] = {
        "id": number,
        "name": rng.choice(["Zoë", "大阪", "Ann"]),
        "at": "2024-05-01T10:00:00Z",
        "customer": {"email": f"c{number}@example.com", "score": number / 7},
        "tags": ["a"],
    }
    if perturb and rng.random() < 0.05:
        record[rng.choice(["id", "name", "at", "late", "customer"])] = random_value(rng, 1)
    return record


@pytest.mark.parametrize("seed", range(30), ids=lambda seed: f"seed-{seed}")
def test_pages_converted_together_give_what_page_by_page_gives(seed: int) -> None:
    import random

    rng = random.Random(seed)
    steady = seed % 3 != 0
    counter = iter(range(10**6))
    pages = [
        [steady_record(rng, next(counter), index == 4) for _ in range(rng.randrange(0, 40))]
        if steady
        else [random_record(rng) for _ in range(rng.randrange(0, 30))]
        for index in range(12)
    ]
    one_by_one = build(*pages)
    together = TableBuilder()
    numbered = list(enumerate(pages, start=1))
    combined = 0
    while numbered:
        size = rng.randrange(1, 4)
        chunk, numbered = numbered[:size], numbered[size:]
        batches = together.add_pages([(records, number) for number, records in chunk])
        combined += len(batches) < len(chunk)

    assert together.to_table().equals(one_by_one.to_table())
    if steady:
        assert combined  # the test also covers the combined conversion
    assert together.schema == one_by_one.schema
    assert drift_of(together) == drift_of(one_by_one)
    assert together.row_count == one_by_one.row_count


def test_pages_that_change_nothing_become_one_batch() -> None:
    builder = TableBuilder()
    builder.add_page([{"id": 1, "at": "2024-05-01T10:00:00Z"}], 1)
    batches = builder.add_pages([([{"id": 2, "at": "2024-05-02T10:00:00Z"}], 2), ([{"id": 3}], 3)])
    assert [batch.num_rows for batch in batches] == [2]
    assert column(builder.to_table(), "id") == [1, 2, 3]
    assert builder.to_table().schema.field("at").type == TIMESTAMP
    assert builder.drift == []


def test_pages_that_drift_are_converted_one_by_one_to_name_the_page() -> None:
    builder = TableBuilder()
    builder.add_page([{"id": 1}], 1)
    batches = builder.add_pages(
        [([{"id": 2}], 2), ([{"id": 3, "late": "x"}], 3), ([{"id": 4.5}], 4)]
    )
    assert [batch.num_rows for batch in batches] == [1, 1, 1]
    assert drift_of(builder) == ["late: page 3, absent -> string", "id: page 4, int64 -> double"]
    assert column(builder.to_table(), "id") == [1.0, 2.0, 3.0, 4.5]


def test_the_first_pages_are_converted_one_by_one() -> None:
    builder = TableBuilder()
    batches = builder.add_pages([([{"id": 1}], 1), ([{"id": 2, "late": True}], 2)])
    assert len(batches) == 2
    assert drift_of(builder) == ["late: page 2, absent -> bool"]


def test_a_page_of_null_objects_adds_no_column_beside_the_objects_fields() -> None:
    from alloy_data.frames import TableBuilder

    nulls = [{"id": 1, "status": {"select": None}}, {"id": 2, "status": {"select": None}}]
    objects = [{"id": 3, "status": {"select": {"name": "Done"}}}]
    for order in ([nulls, objects], [objects, nulls]):
        builder = TableBuilder()
        for number, page in enumerate(order, 1):
            builder.add_page(page, number)
        table = builder.to_table()
        assert table.column_names == ["id", "status.select.name"]
        assert sorted(table.to_pylist(), key=lambda row: row["id"]) == [
            {"id": 1, "status.select.name": None},
            {"id": 2, "status.select.name": None},
            {"id": 3, "status.select.name": "Done"},
        ]
