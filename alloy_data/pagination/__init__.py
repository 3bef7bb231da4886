"""Paging through a list action's results: the paginator strategies, auto-detection, record
location and loop guards.

This module is pure logic: the HTTP call is injected as ``fetch(parameters) -> ActionResult``,
so every strategy can be tested with a fake app. A :class:`PageWalker` drives one pull::

    walker = PageWalker(fetch, action=action, parameters={"status": "open"}, max_records=500)
    for page in walker:
        ...
    walker.stop_reason   # why it stopped; walker.notes says what it saw on the way

Each convention is also a class to configure by hand (``CursorPaginator(cursor_parameter=
"after", cursor_path="paging.next.after")``), and ``paginator="auto"`` picks one from the
action's parameters and the first answer.
"""

from alloy_data.pagination._detect import PAGING_PARAMETERS
from alloy_data.pagination._page_size import PROBE_PAGE_SIZE, maximum_in_words, stated_maximum
from alloy_data.pagination._records import records_at, same_records
from alloy_data.pagination._walker import (
    AlloyOffsetPaginator,
    CursorPaginator,
    Detection,
    FunctionPaginator,
    LastIdPaginator,
    NextLinkPaginator,
    OffsetPaginator,
    Page,
    PageNumberPaginator,
    PageWalker,
    PaginationState,
    Paginator,
    PaginatorOption,
    PositionalPaginator,
    RecordLocation,
    RelayPaginator,
    RequestPlan,
    SinglePagePaginator,
    StopKind,
    StopReason,
    WalkStops,
    detect_paginator,
    find_records,
    plan_request,
    resolve_paginator,
)

__all__ = [
    "PAGING_PARAMETERS",
    "PROBE_PAGE_SIZE",
    "AlloyOffsetPaginator",
    "CursorPaginator",
    "Detection",
    "FunctionPaginator",
    "LastIdPaginator",
    "NextLinkPaginator",
    "OffsetPaginator",
    "Page",
    "PageNumberPaginator",
    "PageWalker",
    "PaginationState",
    "Paginator",
    "PaginatorOption",
    "PositionalPaginator",
    "RecordLocation",
    "RelayPaginator",
    "RequestPlan",
    "SinglePagePaginator",
    "StopKind",
    "StopReason",
    "WalkStops",
    "detect_paginator",
    "find_records",
    "maximum_in_words",
    "plan_request",
    "records_at",
    "resolve_paginator",
    "same_records",
    "stated_maximum",
]
