"""Incremental pulls: fetch only what changed since the last run, and where its mark is kept.

An :class:`Incremental` names the cursor field (and primary key). A run finds how to narrow
what it fetches (:func:`find_filter_parameter`), follows the high-water mark and the order of
the records (:class:`IncrementalRun`), and hands the mark to the export, which keeps it in the
file's provenance for the next run. Standard library only: importing this is cheap.
"""

from __future__ import annotations

from alloy_data.incremental._detect import FilterParameter, find_filter_parameter, value_format_of
from alloy_data.incremental._fields import check_record_fields
from alloy_data.incremental._guess import guess_incremental
from alloy_data.incremental._moments import (
    VALUE_FORMATS,
    ValueFormat,
    format_moment,
    parse_moment,
    to_datetime,
    to_iso,
)
from alloy_data.incremental._spec import Incremental, IncrementalWarning, check_incremental
from alloy_data.incremental._tracker import IncrementalRun, cursor_value

__all__ = [
    "VALUE_FORMATS",
    "FilterParameter",
    "Incremental",
    "IncrementalRun",
    "IncrementalWarning",
    "ValueFormat",
    "check_incremental",
    "check_record_fields",
    "cursor_value",
    "find_filter_parameter",
    "format_moment",
    "guess_incremental",
    "parse_moment",
    "to_datetime",
    "to_iso",
    "value_format_of",
]
