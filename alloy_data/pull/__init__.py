"""A pull: every page of one list action, as records, Arrow, pandas or files.

:class:`Pull` is the plan (what and how, fixed when built); each sink call makes a
:class:`PullRun` of its own; :class:`PullContext` is how a job of many credentials takes part
in a pull; the file sinks live in ``_export``, the reuse of a finished run's rows in
``_replay``, the conversion of pages into one table in ``_convert``, the local store in
``_stored``, provenance and fingerprints in ``_identity``, the notebook display in ``_display``.
"""

from alloy_data.options import TIMESTAMPS_CHOICES, TimestampsOption
from alloy_data.pull._client import ActionRunner, PullClient
from alloy_data.pull._context import PullContext
from alloy_data.pull._engines import POLARS_EXTRA, import_polars
from alloy_data.pull._plan import Pull, public_parameters
from alloy_data.pull._run import PullRun
from alloy_data.pull._stats import PullStats
from alloy_data.pull._stream import Opening, PullBatches, pull_batches
from alloy_data.pull._tables import (
    check_tables_export,
    export_tables,
    key_candidates,
    shape_rows,
    split_pull_tables,
    table_name,
)
from alloy_data.pull._tags import tagged_batch, tagged_schema

__all__ = [
    "POLARS_EXTRA",
    "TIMESTAMPS_CHOICES",
    "ActionRunner",
    "Opening",
    "Pull",
    "PullBatches",
    "PullClient",
    "PullContext",
    "PullRun",
    "PullStats",
    "TimestampsOption",
    "check_tables_export",
    "export_tables",
    "import_polars",
    "key_candidates",
    "public_parameters",
    "pull_batches",
    "shape_rows",
    "split_pull_tables",
    "table_name",
    "tagged_batch",
    "tagged_schema",
]
