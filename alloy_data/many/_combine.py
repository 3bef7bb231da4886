"""Every credential's table as one: their schemas unified, and how each differed from it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

    from alloy_data.many._targets import CredentialTarget

__all__ = ["combine_tables"]


def combine_tables(
    tables: Sequence[tuple[CredentialTarget, pa.Table]], tag_columns: Sequence[str]
) -> tuple[pa.Table, dict[str, list[str]]]:
    """The credentials' tables as one, and each credential's drift from its unified schema.

    Args:
        tables: ``[(target, table)]`` of the credentials that succeeded.
        tag_columns: The user and credential columns, the columns of a job with no table.

    Returns:
        The table, and the differences of each credential whose columns differ, by its id
        (``"total: absent"``, ``"total: int64 -> double"``).
    """
    from alloy_data.frames import TableBuilder

    batches = [batch for _, table in tables for batch in table.to_batches()]
    combined = TableBuilder().to_table(batches) if batches else _empty(tables, tag_columns)
    return combined, _drift(tables, combined.schema)


def _empty(
    tables: Sequence[tuple[CredentialTarget, pa.Table]], tag_columns: Sequence[str]
) -> pa.Table:
    import pyarrow as pa

    if tables:
        return tables[0][1]
    return pa.schema([pa.field(name, pa.string()) for name in tag_columns]).empty_table()


def _drift(
    tables: Sequence[tuple[CredentialTarget, pa.Table]], schema: pa.Schema
) -> dict[str, list[str]]:
    drift: dict[str, list[str]] = {}
    for target, table in tables:
        differences = []
        for unified in schema:
            own = table.schema.get_field_index(unified.name)
            if own < 0:
                differences.append(f"{unified.name}: absent")
            elif table.schema.field(own).type != unified.type and table.num_rows:
                differences.append(
                    f"{unified.name}: {table.schema.field(own).type} -> {unified.type}"
                )
        if differences:
            drift[target.credential_id] = differences
    return drift
