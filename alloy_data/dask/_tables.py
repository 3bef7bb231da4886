"""Child tables on Dask: each credential's pulled table split on its worker into the parent
and its child tables, keyed as ``pull_many(...).to_tables()`` keys them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from alloy_data.dask._columns import meta
from alloy_data.dask._read import PulledJob
from alloy_data.dask._task import Pulled, aligned
from alloy_data.many import MultiPull
from alloy_data.pull import key_candidates, table_name

if TYPE_CHECKING:
    import dask.dataframe as dd
    import pandas as pd
    import pyarrow as pa

__all__ = ["read_table_frames"]


def read_table_frames(
    dd_module: ModuleType, many: MultiPull, pulled: PulledJob, dtype_backend: str
) -> dict[str, dd.DataFrame]:
    """One DataFrame per table over the pulled tables, one partition per credential each.

    The parent's key is chosen over every credential at once, as ``pull_many`` chooses it over
    their combined table: its candidates when they are never null and unique in every
    credential's rows (which the tag columns tell apart), else each row's position in the
    credentials' rows taken in order (``_row``, counted across the partitions).

    Returns:
        The DataFrames by table name, the parent first.
    """
    import dask

    from alloy_data.frames import ROW_COLUMN

    columns = pulled.columns
    candidates = key_candidates(columns.names, many.options)
    answers: Sequence[tuple[bool, int]] = dask.compute(
        *[dask.delayed(_key_holds)(item, columns, candidates) for item in pulled.persisted]
    )
    holds = all(c in columns.names for c in candidates) and all(ok for ok, _ in answers)
    splitting = _Splitting(
        name=table_name(many.action_id),
        key=tuple(candidates) if holds else (ROW_COLUMN,),
        tags=tuple(many.many_options.tag_columns),
        structs=many.options.flatten == "struct",
    )
    empty = splitting.split(columns.empty_table(), 0)
    if not pulled.persisted:
        return {
            table: dd_module.from_pandas(meta(t.schema, dtype_backend), npartitions=1)
            for table, t in empty.items()
        }
    offsets, start = [], 0
    for _, rows in answers:
        offsets.append(start)
        start += rows
    splits = [
        dask.delayed(_split_pulled, pure=True)(
            item, columns, splitting, offset, dask_key_name=f"{pulled.run}-split-{i}"
        )
        for i, (item, offset) in enumerate(zip(pulled.persisted, offsets, strict=True))
    ]
    frames = {}
    # Dask would turn every object column into text; the partitions' types are pull_many's.
    with dask.config.set({"dataframe.convert-string": False}):
        for table, schema_of in empty.items():
            parts = [
                dask.delayed(_table_part, pure=True)(
                    split, table, dtype_backend, dask_key_name=f"{pulled.run}-{table}-{i}"
                )
                for i, split in enumerate(splits)
            ]
            frames[table] = dd_module.from_delayed(
                parts,
                meta=meta(schema_of.schema, dtype_backend),
                prefix=f"{pulled.run}-{table}",
                verify_meta=False,
            )
    return frames


def _key_holds(pulled: Pulled, columns: pa.Schema, candidates: list[str]) -> tuple[bool, int]:
    """Whether ``candidates`` key the credential's aligned rows (never null, unique), and how
    many rows there are."""
    table = aligned(pulled, columns)
    if not all(c in table.column_names for c in candidates):
        return False, table.num_rows
    complete = all(table.column(c).null_count == 0 for c in candidates)
    unique = table.group_by(candidates).aggregate([]).num_rows == table.num_rows
    return complete and unique, table.num_rows


@dataclass(frozen=True)
class _Splitting:
    """How every credential's rows split: the parent's name and key, the tags, the nesting."""

    name: str
    key: tuple[str, ...]
    tags: tuple[str, ...]
    structs: bool

    def split(self, table: pa.Table, offset: int) -> dict[str, pa.Table]:
        """``table`` as the tables; its rows are numbered from ``offset`` when they key by
        position."""
        import numpy as np
        import pyarrow as pa

        from alloy_data.frames import ROW_COLUMN, split_tables

        if self.key == (ROW_COLUMN,):
            rows = np.arange(offset, offset + table.num_rows, dtype=np.int64)
            table = table.add_column(0, ROW_COLUMN, pa.array(rows, pa.int64()))
        return split_tables(table, self.name, self.key, tags=self.tags, structs=self.structs)


def _split_pulled(
    pulled: Pulled, columns: pa.Schema, splitting: _Splitting, offset: int
) -> dict[str, pa.Table]:
    """On the worker: the credential's rows, aligned to the columns, as the tables."""
    return splitting.split(aligned(pulled, columns), offset)


def _table_part(split: dict[str, Any], table: str, dtype_backend: str) -> pd.DataFrame:
    """One table of a credential's split, as its partition."""
    from alloy_data.frames import to_dataframe

    return to_dataframe(split[table], dtype_backend)
