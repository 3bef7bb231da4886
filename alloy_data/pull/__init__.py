"""A pull: every page of one list action, as records, Arrow, pandas or files.

:class:`Pull` is the plan (what and how, fixed when built); each sink call makes a
:class:`PullRun` of its own; :class:`PullContext` is how a job of many credentials takes part
in a pull; the file sinks live in ``_export``, the reuse of a finished run's rows in
``_replay``.
"""

from alloy_data.options import TIMESTAMPS_CHOICES, TimestampsOption
from alloy_data.pull._client import ActionRunner, PullClient
from alloy_data.pull._context import PullContext
from alloy_data.pull._plan import Pull, public_parameters
from alloy_data.pull._run import PullRun
from alloy_data.pull._stats import PullStats
from alloy_data.pull._tables import (
    check_tables_export,
    shape_rows,
    split_pull_tables,
    write_tables,
)

__all__ = [
    "TIMESTAMPS_CHOICES",
    "ActionRunner",
    "Pull",
    "PullClient",
    "PullContext",
    "PullRun",
    "PullStats",
    "TimestampsOption",
    "check_tables_export",
    "public_parameters",
    "shape_rows",
    "split_pull_tables",
    "write_tables",
]
