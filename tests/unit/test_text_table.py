"""Plain text tables: aligned columns, and no column that is empty in every row."""

from __future__ import annotations

from typing import Any

import pytest

from alloy_data._text_table import format_table


def test_columns_are_aligned_under_their_headers() -> None:
    table = format_table([{"id": "a", "name": "Alpha"}, {"id": "bbb", "name": "B"}])
    assert table == "id   name\n---  -----\na    Alpha\nbbb  B\n"


@pytest.mark.parametrize("empty", [None, ""], ids=["none", "empty-string"])
def test_a_column_empty_in_every_row_is_left_out(empty: Any) -> None:
    rows = [
        {"credential": "cred_1", "name": empty, "type": None, "created": "2026-01-01"},
        {"credential": "cred_2", "name": "", "type": empty, "created": "2026-01-02"},
    ]
    header = format_table(rows).splitlines()[0]
    assert header.split() == ["credential", "created"]


def test_a_column_with_one_value_is_kept_and_blank_elsewhere() -> None:
    rows = [{"id": "a", "note": None}, {"id": "b", "note": "x"}, {"id": "c", "note": ""}]
    assert format_table(rows).splitlines() == ["id  note", "--  ----", "a", "b   x", "c"]


@pytest.mark.parametrize("value", [0, False], ids=["zero", "false"])
def test_falsy_values_that_are_not_empty_are_shown(value: Any) -> None:
    assert format_table([{"id": "a", "count": value}]).splitlines()[2].split() == ["a", str(value)]


def test_rows_with_every_column_empty_keep_the_first() -> None:
    assert format_table([{"id": None, "name": ""}, {"id": "", "name": None}]) == "id\n--\n\n\n"


def test_no_rows() -> None:
    assert format_table([]) == "(none)\n"
