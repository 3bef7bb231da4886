"""columns=, flatten= and child tables, on records without sockets."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from alloy_data.errors import ConfigurationError
from alloy_data.frames import Shape, TableBuilder, split_tables, table_key
from alloy_data.incremental import Incremental
from alloy_data.options import PullOptions


def order(number: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"o{number}",
        "total": number * 1.5,
        "customer": {"email": f"c{number}@x.test", "address": {"city": "Lyon", "geo": {"lat": 1}}},
        "line_items": [{"sku": f"s{number}-{i}", "qty": i} for i in range(number % 3)],
        **extra,
    }


def build(pages: list[list[dict[str, Any]]], **shape: Any) -> tuple[pa.Table, TableBuilder]:
    builder = TableBuilder(shape=Shape(**shape))
    for number, records in enumerate(pages, 1):
        builder.add_page(records, number)
    return builder.to_table(), builder


def test_columns_keep_only_the_chosen_paths_in_the_chosen_order() -> None:
    table, _ = build(
        [[order(1), order(2)]], columns=("total", "customer.email", "id", "customer.address")
    )
    assert table.column_names == [
        "total",
        "customer.email",
        "id",
        "customer.address.city",
        "customer.address.geo.lat",
    ]
    assert table.column("customer.email").to_pylist() == ["c1@x.test", "c2@x.test"]


def test_columns_are_cut_before_conversion_so_other_fields_never_become_arrow() -> None:
    builder = TableBuilder(shape=Shape(columns=("id",)))
    # A value Arrow cannot hold (an integer beyond 64 bits) outside the chosen column.
    batch = builder.add_page([{"id": 1, "huge": 2**80}, {"id": 2, "huge": 1}], 1)
    assert batch.schema.names == ["id"]
    assert builder.drift == []


def test_a_chosen_path_no_record_has_is_a_null_column_and_a_note_names_the_closest() -> None:
    table, builder = build([[order(1)]], columns=("id", "customer.emial"))
    assert table.column_names == ["id", "customer.emial"]
    assert table.column("customer.emial").null_count == 1
    (note,) = builder.shape_notes()
    assert "customer.emial" in note and "customer.email" in note


def test_a_chosen_path_that_appears_on_a_later_page_is_filled_there() -> None:
    table, builder = build(
        [[order(1)], [order(2, discount={"code": "X"})]], columns=("id", "discount.code")
    )
    assert table.column("discount.code").to_pylist() == [None, "X"]
    assert builder.shape_notes() == []


def test_struct_mode_keeps_objects_whole_and_widens_a_struct_that_gains_a_field() -> None:
    first = {"id": 1, "customer": {"email": "a"}}
    later = {"id": 2, "customer": {"email": "b", "phone": "+33"}}
    table, builder = build([[first], [later]], flatten="struct")
    assert table.column_names == ["id", "customer"]
    assert pa.types.is_struct(table.schema.field("customer").type)
    assert table.column("customer").to_pylist() == [
        {"email": "a", "phone": None},
        {"email": "b", "phone": "+33"},
    ]
    assert [d.column for d in builder.drift] == ["customer"]


def test_struct_mode_turns_an_object_that_becomes_text_into_json_text() -> None:
    table, _ = build([[{"id": 1, "c": {"a": 1}}], [{"id": 2, "c": "plain"}]], flatten="struct")
    assert table.column("c").to_pylist() == ['{"a": 1}', "plain"]


def test_struct_mode_drops_empty_objects_so_that_parquet_can_store_it(tmp_path) -> None:
    table, _ = build([[{"id": 1, "c": {"a": 1, "empty": {}}}]], flatten="struct")
    pq.write_table(table, tmp_path / "t.parquet")
    assert pq.read_table(tmp_path / "t.parquet").column("c").to_pylist() == [{"a": 1}]


def test_json_mode_turns_every_nested_value_into_json_text() -> None:
    table, _ = build([[order(2)]], flatten="json")
    assert table.schema.field("customer").type == pa.string()
    assert table.column("customer").to_pylist()[0].startswith('{"email": "c2@x.test"')
    assert table.column("line_items").to_pylist() == [
        '[{"sku": "s2-0", "qty": 0}, {"sku": "s2-1", "qty": 1}]'
    ]


@pytest.mark.parametrize(
    ("flatten", "depth", "columns"),
    [
        ("dotted", 1, ["id", "total", "customer.email", "customer.address", "line_items"]),
        (
            "dotted",
            2,
            [
                "id",
                "total",
                "customer.email",
                "customer.address.city",
                "customer.address.geo",
                "line_items",
            ],
        ),
        ("dotted", 0, ["id", "total", "customer", "line_items"]),
        ("struct", 1, ["id", "total", "customer", "line_items"]),
    ],
    ids=["dotted-1", "dotted-2", "dotted-0", "struct-1"],
)
def test_objects_deeper_than_the_depth_are_json_text(
    flatten: str, depth: int, columns: list[str]
) -> None:
    table, _ = build([[order(1)]], flatten=flatten, depth=depth)
    assert table.column_names == columns
    if flatten == "struct":
        assert table.column("customer").to_pylist()[0]["address"] == (
            '{"city": "Lyon", "geo": {"lat": 1}}'
        )


def test_the_options_refuse_bad_shapes_saying_what_to_do() -> None:
    with pytest.raises(ConfigurationError, match="list of dotted paths"):
        PullOptions(columns="id")
    with pytest.raises(ConfigurationError, match="empty list"):
        PullOptions(columns=[])
    with pytest.raises(ConfigurationError, match="dotted path"):
        PullOptions(columns=["customer..email"])
    with pytest.raises(ConfigurationError, match="twice"):
        PullOptions(columns=["id", "id"])
    with pytest.raises(ConfigurationError, match="flatten must be"):
        PullOptions(flatten="nested")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="flatten_depth must be"):
        PullOptions(flatten_depth=-1)
    with pytest.raises(ConfigurationError, match="leave flatten_depth out"):
        PullOptions(flatten="json", flatten_depth=1)
    assert PullOptions(columns=["id"]).columns == ("id",)


def test_an_incremental_pull_keeps_its_cursor_and_key_as_columns() -> None:
    incremental = Incremental("updated_at", primary_key="id")
    with pytest.raises(ConfigurationError, match="leaves out updated_at, which incremental"):
        PullOptions(incremental=incremental, columns=["id", "total"])
    assert PullOptions(incremental=incremental, columns=["id", "updated_at"]).columns
    nested = Incremental("MetaData.LastUpdatedTime", primary_key="Id")
    with pytest.raises(ConfigurationError, match="keep flatten='dotted'"):
        PullOptions(incremental=nested, flatten="struct")
    assert PullOptions(incremental=nested, columns=["Id", "MetaData"]).columns


def test_child_tables_carry_the_parent_key_and_position_and_join_back_exactly() -> None:
    records = [order(n) for n in range(1, 8)]
    table, _ = build([records])
    tables = split_tables(table, "orders", table_key(table, ["id"]))
    assert list(tables) == ["orders", "orders__line_items"]
    parent, items = tables["orders"].to_pandas(), tables["orders__line_items"].to_pandas()
    assert "line_items" not in parent.columns
    assert len(items) == sum(len(r["line_items"]) for r in records)
    joined = items.merge(parent, left_on="_parent_id", right_on="id", validate="many_to_one")
    assert len(joined) == len(items)
    rebuilt = {
        key: [f"{sku}/{qty}" for sku, qty in zip(group.sku, group.qty, strict=True)]
        for key, group in joined.sort_values("_position").groupby("_parent_id")
    }
    expected = {r["id"]: [f"{i['sku']}/{i['qty']}" for i in r["line_items"]] for r in records}
    assert rebuilt == {k: v for k, v in expected.items() if v}


def test_without_a_unique_key_rows_get_their_position_and_grandchildren_chain_keys() -> None:
    records = [
        {"name": "a", "lines": [{"sku": "x", "taxes": [{"rate": 0.1}, {"rate": 0.2}]}]},
        {"name": "b", "lines": [{"sku": "y", "taxes": []}, {"sku": "z", "taxes": None}]},
    ]
    table, _ = build([records])
    tables = split_tables(table, "orders", table_key(table, ["id"]))
    assert list(tables) == ["orders", "orders__lines", "orders__lines__taxes"]
    assert tables["orders"].column("_row").to_pylist() == [0, 1]
    lines = tables["orders__lines"]
    assert lines.column("_parent__row").to_pylist() == [0, 1, 1]
    assert lines.column("_position").to_pylist() == [0, 0, 1]
    taxes = tables["orders__lines__taxes"].to_pandas()
    assert taxes[["_parent__parent__row", "_parent__position", "_position", "rate"]].to_dict(
        "records"
    ) == [
        {"_parent__parent__row": 0, "_parent__position": 0, "_position": 0, "rate": 0.1},
        {"_parent__parent__row": 0, "_parent__position": 0, "_position": 1, "rate": 0.2},
    ]


def test_a_duplicated_id_is_no_key_and_tags_make_a_key_unique() -> None:
    table = pa.table({"id": [1, 1], "_credential_id": ["a", "b"]})
    assert table_key(table, ["id"]) == ["_row"]
    assert table_key(table, ["id"], ["_credential_id"]) == ["id"]
    tagged = pa.table(
        {"id": [1, 1], "_credential_id": ["a", "b"], "l": [[{"v": 1}], [{"v": 2}, {"v": 3}]]}
    )
    child = split_tables(tagged, "t", ["id"], tags=["_credential_id"])["t__l"]
    assert child.column_names == ["_credential_id", "_parent_id", "_position", "v"]
    assert pd.DataFrame(child.to_pydict()).values.tolist() == [
        ["a", 1, 0, 1],
        ["b", 1, 0, 2],
        ["b", 1, 1, 3],
    ]
