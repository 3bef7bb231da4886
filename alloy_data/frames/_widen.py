"""Widening Arrow types across pages, and casting earlier batches to the wider types."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from alloy_data.errors import AlloyError
from alloy_data.frames._page import json_text


def unify(old: pa.DataType, new: pa.DataType) -> pa.DataType:
    """The narrowest type that holds values of both types, falling back to string."""
    unified = _unify_clean(old, new)
    return pa.string() if unified is None else unified


def _unify_clean(old: pa.DataType, new: pa.DataType) -> pa.DataType | None:
    if old == new:
        return old
    if pa.types.is_null(old):
        return new
    if pa.types.is_null(new):
        return old
    numbers = {pa.int64(), pa.float64()}
    if old in numbers and new in numbers:
        return pa.float64()
    if pa.types.is_list(old) and pa.types.is_list(new):
        item = _unify_clean(old.value_type, new.value_type)
        return None if item is None else pa.list_(item)
    if pa.types.is_struct(old) and pa.types.is_struct(new):
        fields = {f.name: f.type for f in old}
        for field in new:
            if field.name in fields:
                merged = _unify_clean(fields[field.name], field.type)
                if merged is None:
                    return None
                fields[field.name] = merged
            else:
                fields[field.name] = field.type
        return pa.struct(list(fields.items()))
    return None


def cast(array: pa.Array, target: pa.DataType) -> pa.Array:
    """The array as ``target``, a type that ``unify`` produced from the array's type."""
    if array.type == target:
        return array
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), target)
    if pa.types.is_string(target):
        if pa.types.is_timestamp(array.type):
            # Arrow writes "2024-05-01 08:00:00.000000Z"; ISO-8601 wants the "T".
            text = array.cast(pa.string())
            return pc.replace_substring(text, pattern=" ", replacement="T", max_replacements=1)
        if pa.types.is_struct(array.type) or pa.types.is_list(array.type):
            return pa.array([json_text(v) for v in array.to_pylist()], pa.string())
    try:
        return array.cast(target)
    except pa.ArrowException:
        pass
    if pa.types.is_struct(target) and pa.types.is_struct(array.type):
        names = {f.name for f in array.type}
        children = [
            cast(array.field(f.name), f.type) if f.name in names else pa.nulls(len(array), f.type)
            for f in target
        ]
        return pa.StructArray.from_arrays(children, fields=list(target), mask=array.is_null())
    if pa.types.is_list(target) and pa.types.is_list(array.type):
        items = cast(array.values, target.value_type)
        offsets = array.offsets
        return pa.ListArray.from_arrays(offsets, items, mask=array.is_null())
    if pa.types.is_string(target):
        return pa.array([json_text(v) for v in array.to_pylist()], pa.string())
    raise AlloyError(
        f"Cannot convert a column of type {array.type} to {target}. Align batches only to a "
        "schema built from them (TableBuilder.schema)."
    )
