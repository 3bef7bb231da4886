"""A table whose columns hold lists of objects, as a parent table and one child table per list.

Each child row carries its parent's key (every key column ``k`` as ``_parent_k``, the columns
that tag rows, such as a pull of many credentials' ``_credential_id``, as they are) and its
``_position`` in the list (from 0). A child's own key, for the lists inside its items, is its
parent's key and its position: a grandchild carries ``_parent__parent_id`` and
``_parent__position``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["POSITION_COLUMN", "ROW_COLUMN", "split_tables", "table_key"]

#: The parent's key when it has none of its own: the row's position in the parent table.
ROW_COLUMN = "_row"
#: An item's position in its list, from 0.
POSITION_COLUMN = "_position"


def _is_list_of_objects(kind: pa.DataType) -> bool:
    return (pa.types.is_list(kind) or pa.types.is_large_list(kind)) and pa.types.is_struct(
        kind.value_type
    )


def table_key(table: pa.Table, candidates: Sequence[str], tags: Sequence[str] = ()) -> list[str]:
    """The columns that identify a row of ``table`` beside ``tags``: ``candidates`` when those
    columns are there, never null and unique together with the tags; else
    :data:`ROW_COLUMN` (which :func:`split_tables` then adds)."""
    together = [*tags, *candidates]
    if candidates and all(name in table.column_names for name in together):
        complete = all(table.column(name).null_count == 0 for name in together)
        if complete and table.group_by(together).aggregate([]).num_rows == table.num_rows:
            return list(candidates)
    return [ROW_COLUMN]


def _item_columns(items: pa.Array, prefix: str, structs: bool) -> list[tuple[str, pa.Array]]:
    """The items' fields as columns: dotted names for nested objects unless ``structs``."""
    columns: list[tuple[str, pa.Array]] = []
    for index, child in enumerate(items.flatten()):
        name = f"{prefix}{items.type.field(index).name}"
        if pa.types.is_struct(child.type) and not structs:
            columns += _item_columns(child, f"{name}.", structs)
        elif not (pa.types.is_struct(child.type) and child.type.num_fields == 0):
            columns.append((name, child))
    return columns


def split_tables(
    table: pa.Table,
    name: str,
    key: Sequence[str],
    *,
    tags: Sequence[str] = (),
    structs: bool = False,
) -> dict[str, pa.Table]:
    """Split ``table`` into itself without its lists of objects, and one table per such list.

    Args:
        table: The parent rows.
        name: The parent table's name; a child of column ``line_items`` is
            ``f"{name}__line_items"`` (dots in a column name become ``__``).
        key: The columns that identify a parent row beside the tags (see :func:`table_key`);
            :data:`ROW_COLUMN` is added to the parent when the key names it.
        tags: Columns that every row carries as it is, children included (a pull of many
            credentials' user and credential columns).
        structs: Keep the items' nested objects as struct columns (``flatten="struct"``)
            instead of dotted columns.

    Returns:
        The tables by name, the parent first, each child after its parent.
    """
    if ROW_COLUMN in key and ROW_COLUMN not in table.column_names:
        table = table.add_column(0, ROW_COLUMN, pa.array(np.arange(table.num_rows), pa.int64()))
    lists = [field.name for field in table.schema if _is_list_of_objects(field.type)]
    tables = {name: table.drop_columns(lists)}
    child_key = [*(f"_parent_{k}" for k in key), POSITION_COLUMN]
    for column in lists:
        child = _child(table, column, key, tags, structs)
        child_name = f"{name}__{column.replace('.', '__')}"
        tables.update(split_tables(child, child_name, child_key, tags=tags, structs=structs))
    return tables


def _child(
    table: pa.Table, column: str, key: Sequence[str], tags: Sequence[str], structs: bool
) -> pa.Table:
    lists = table.column(column).combine_chunks()
    parents = pc.list_parent_indices(lists)
    items = pc.list_flatten(lists)
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False)
    starts = np.cumsum(lengths) - lengths
    parent_rows = parents.to_numpy(zero_copy_only=False)
    positions = np.arange(len(parent_rows), dtype=np.int64) - starts[parent_rows]
    names = [*tags, *(f"_parent_{k}" for k in key), POSITION_COLUMN]
    arrays = [table.column(k).take(parents).combine_chunks() for k in [*tags, *key]]
    arrays.append(pa.array(positions, pa.int64()))
    for field_name, array in _item_columns(items, "", structs):
        names.append(field_name if field_name not in names else f"{field_name}_item")
        arrays.append(array)
    return pa.Table.from_arrays(arrays, names=names)
