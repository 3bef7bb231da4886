"""The DataFrame's columns: unified from every credential's pulled schema as pull_many does,
or given by the user's ``schema=``, and the empty frame that tells Dask their types."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from alloy_data.errors import ConfigurationError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = [
    "CredentialShape",
    "FullSchema",
    "SchemaOption",
    "arrow_type",
    "check_fit",
    "meta",
    "schema_option",
    "target_schema",
    "type_text",
    "unified_schema",
]

_TIMESTAMP = re.compile(r"timestamp\[(s|ms|us|ns)(?:, tz=([^\]]+))?\]")


@dataclass(frozen=True)
class CredentialShape:
    """What the client gathers of one credential's pulled table: never its rows.

    Attributes:
        credential_id: The credential.
        schema: The table's schema (its tag columns included), or None when the pull failed.
        rows: The table's rows.
        batches: The table's record batches.
        failure: ``"ErrorType: message"`` when the pull failed.
    """

    credential_id: str
    schema: pa.Schema | None
    rows: int = 0
    batches: int = 0
    failure: str | None = None


@dataclass(frozen=True)
class FullSchema:
    """A ``schema=`` that names every column of the records."""

    schema: pa.Schema


SchemaOption = FullSchema | dict[str, "pa.DataType"] | None


def schema_option(schema: object) -> SchemaOption:
    """Check ``read_pull``'s ``schema=``.

    Returns:
        A :class:`FullSchema`, the overriding types by column, or None.

    Raises:
        ConfigurationError: For a schema that is neither a ``pyarrow.Schema`` nor a dict of
            column names to types.
    """
    import pyarrow as pa

    if schema is None:
        return None
    if isinstance(schema, pa.Schema):
        return FullSchema(schema)
    if not isinstance(schema, Mapping):
        raise ConfigurationError(
            "schema must be a pyarrow.Schema or a dict of column names to Arrow types, not "
            f"{type(schema).__name__}."
        )
    types: dict[str, pa.DataType] = {}
    for name, value in schema.items():
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"schema has the key {name!r}: column names are strings.")
        types[name] = arrow_type(name, value)
    return types


def arrow_type(name: str, value: object) -> pa.DataType:
    """Read a column's type: a pyarrow type, or its name (``"int64"``, ``"timestamp[us]"``).

    Returns:
        The Arrow type.

    Raises:
        ConfigurationError: For anything else, with the names that are understood.
    """
    import pyarrow as pa

    if isinstance(value, pa.DataType):
        return value
    if isinstance(value, str):
        found = _TIMESTAMP.fullmatch(value.strip())
        if found:
            return pa.timestamp(found.group(1), tz=found.group(2))
        with contextlib.suppress(ValueError):
            return pa.type_for_alias(value.strip())
    raise ConfigurationError(
        f"schema[{name!r}] is {value!r}: pass a pyarrow type (pa.string(), "
        "pa.list_(pa.int64())) or a type name such as 'string', 'int64', 'double', 'bool' or "
        "'timestamp[us, tz=UTC]'."
    )


def type_text(data_type: pa.DataType) -> str:
    """The type as :func:`arrow_type` reads it back, or its pyarrow spelling.

    Returns:
        Text to show in a ``schema={...}`` suggestion.
    """
    text = str(data_type)
    try:
        same = arrow_type("-", text) == data_type
    except ConfigurationError:
        same = False
    return repr(text) if same else f"<pyarrow {text}>"


def unified_schema(shapes: Sequence[CredentialShape], tags: Sequence[str]) -> pa.Schema:
    """The schema ``MultiPull.to_arrow`` gives for credentials whose tables have these shapes.

    Returns:
        The unified schema, tag columns included where pull_many puts them.
    """
    import pyarrow as pa

    from alloy_data.frames import TableBuilder

    pulled = [shape for shape in shapes if shape.schema is not None]
    # The builder decides from the batches' schemas and from whether any has rows, nothing
    # else; a batch of one null row stands for a table with rows, an empty one for a table
    # without, so the types and the order of the columns are the builder's own.
    probes = [_probe(shape) for shape in pulled if shape.batches]
    if probes:
        return TableBuilder().to_table(probes).schema
    if pulled:
        assert pulled[0].schema is not None
        return pulled[0].schema
    return pa.schema([pa.field(name, pa.string()) for name in tags])


def _probe(shape: CredentialShape) -> pa.RecordBatch:
    import pyarrow as pa

    assert shape.schema is not None
    rows = 1 if shape.rows else 0
    arrays = [pa.nulls(rows, field.type) for field in shape.schema]
    return pa.RecordBatch.from_arrays(arrays, schema=shape.schema)


def target_schema(unified: pa.Schema, option: SchemaOption, tags: Sequence[str]) -> pa.Schema:
    """The DataFrame's schema: the unified one, or the user's ``schema=`` applied to it.

    A full schema replaces the records' columns (the tag columns follow them); a dict changes
    the types of the columns it names and adds the others at the end.

    Returns:
        The schema every partition is aligned to.
    """
    import pyarrow as pa

    if option is None:
        return unified
    tag_fields = [pa.field(name, pa.string()) for name in tags]
    if isinstance(option, FullSchema):
        kept = [field for field in option.schema if field.name not in tags]
        return pa.schema([*kept, *tag_fields])
    fields = [
        pa.field(field.name, option.get(field.name, field.type))
        if field.name not in tags
        else field
        for field in unified
    ]
    fields += [
        pa.field(name, kind)
        for name, kind in option.items()
        if name not in unified.names and name not in tags
    ]
    return pa.schema(fields)


def check_fit(
    shape: CredentialShape, schema: pa.Schema, *, where: str, tags: Sequence[str]
) -> None:
    """Refuse a credential whose columns the schema cannot hold without dropping or mangling
    values: a column the schema lacks, or a type wider than the schema's.

    Raises:
        ConfigurationError: Naming the columns and the ``schema=`` that would hold them.
    """
    import pyarrow as pa

    from alloy_data.frames import unify

    if shape.schema is None or not shape.rows:
        return
    problems: list[str] = []
    fixes: dict[str, pa.DataType] = {}
    for own in shape.schema:
        if own.name in tags:
            continue
        index = schema.get_field_index(own.name)
        if index < 0:
            if pa.types.is_null(own.type):
                continue  # only nulls: the column adds nothing (as align_batch has it)
            problems.append(f"{own.name!r} ({own.type}) is not among them")
            fixes[own.name] = own.type
            continue
        expected = schema.field(index).type
        if unify(expected, own.type) != expected:
            problems.append(f"{own.name!r} is {own.type} here, {expected} there")
            fixes[own.name] = unify(expected, own.type)
    if problems:
        suggestion = ", ".join(f"{name!r}: {type_text(kind)}" for name, kind in fixes.items())
        raise ConfigurationError(
            f"{where}, credential {shape.credential_id}: its records do not fit the schema you "
            f"passed: {'; '.join(problems)}. Pass schema={{{suggestion}}} to type them so, or "
            "leave schema= out to get the columns pull_many gives."
        )


def meta(schema: pa.Schema, dtype_backend: str) -> pd.DataFrame:
    """The empty DataFrame that tells Dask the columns and their types.

    Its dtypes are those of the partitions (``to_dataframe``'s), but for the columns that
    ``numpy_nullable`` leaves as ``object`` (lists, objects inside lists, columns only ever
    null): those are ``pd.ArrowDtype`` here, because Dask types a Parquet file from the meta
    and cannot type an ``object`` column. The partitions keep them as ``object``, as pull_many
    does, and Parquet files written so record them as such, which pandas reads back (it does
    not read back an ``ArrowDtype`` list from a file's pandas metadata).

    Returns:
        The empty DataFrame.
    """
    import pandas as pd

    from alloy_data.frames import to_dataframe

    frame = to_dataframe(schema.empty_table(), dtype_backend)
    for column in schema:
        if frame[column.name].dtype == object:
            frame[column.name] = pd.Series(
                pd.array([], dtype=pd.ArrowDtype(column.type)), index=frame.index
            )
    return frame
