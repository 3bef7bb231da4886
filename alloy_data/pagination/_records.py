"""Reading values at paths in an action's answer, and finding the records in it.

Paths are dotted keys (``pagination.hasMore``); a key may itself hold a dot
(``@odata.nextLink``). Record paths may also step into every item of a list with ``[]``
(``data.orders.edges[].node``); the path ``[]`` means the payload itself is the list, and the
empty path means the payload itself is one record.
"""

from __future__ import annotations

import hashlib
import json
import operator
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MISSING",
    "RecordLocation",
    "find_records",
    "fingerprint",
    "first_present",
    "holds_list",
    "iter_mappings",
    "locate_records",
    "lookup",
    "records_at",
    "same_records",
]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()
"""What :func:`lookup` returns for a path that is not there (a JSON ``null`` is ``None``)."""

# Well-known names under which APIs put their list of records, tried in this order.
RECORD_KEYS = (
    "data",
    "results",
    "items",
    "records",
    "entries",
    "value",
    "rows",
    "elements",
    "nodes",
)
# Of those, the ones that name an envelope's list even when the object also has an ``id``.
_ENVELOPE_RECORD_KEYS = ("data", "results", "records")

# Paging and execution metadata: never records, never searched for records.
_METADATA_KEYS = frozenset(
    key.lower()
    for key in (
        "pagination",
        "pageInfo",
        "page_info",
        "paging",
        "links",
        "_links",
        "meta",
        "response_metadata",
        "errors",
        "warnings",
        "extensions",
        "executionId",
        "execution_id",
    )
)
# Keys stripped when the whole payload is taken as one record: they describe the call.
_ENVELOPE_KEYS = frozenset(
    key.lower()
    for key in (
        "executionId",
        "execution_id",
        "success",
        "pagination",
        "pageInfo",
        "page_info",
        "paging",
        "_links",
        "response_metadata",
    )
)
# Paging fields: an object holding only these (and metadata) is no record.
_PAGING_KEYS = frozenset(
    key.lower()
    for key in (
        "has_more",
        "hasMore",
        "next_cursor",
        "nextCursor",
        "nextPageToken",
        "next_page_token",
        "cursor",
        "next",
        "next_page",
        "nextPage",
        "total",
        "total_count",
        "totalCount",
        "total_pages",
        "totalPages",
        "count",
        "offset",
        "limit",
        "page",
        "status",
        "object",
        "url",
    )
)
# Keys under which an API wraps a single record ({"data": {"id": ...}}).
_WRAPPER_KEYS = ("data", "result", "response", "record", "item")
_ID_KEYS = ("id", "_id", "uuid", "ID", "Id")


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray))


def _is_metadata_key(key: str) -> bool:
    return key.lower() in _METADATA_KEYS or key.startswith("@odata.")


_SCALAR_TYPES = frozenset({str, int, float, bool})


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


def lookup(obj: Any, path: str) -> Any:
    """Return the value at a dotted path in ``obj``, or ``MISSING`` when it is not there."""
    # Decoded JSON is made of plain dicts: checking for those first skips the slower ABC check.
    if type(obj) is not dict and not isinstance(obj, Mapping):
        return MISSING
    if path in obj:
        return obj[path]
    if "." not in path:
        return MISSING
    parts = path.split(".")
    # Longest key first, so ``links.next`` finds a literal "links.next" key before descending.
    for cut in range(len(parts) - 1, 0, -1):
        head = ".".join(parts[:cut])
        if head in obj:
            found = lookup(obj[head], ".".join(parts[cut:]))
            if found is not MISSING:
                return found
    return MISSING


def first_present(sources: Sequence[Any], paths: Sequence[str]) -> tuple[Any, str | None]:
    """Return ``(value, path)`` for the first path present in any source, else ``(MISSING, None)``.

    Paths are tried in order, each in every source, so the order of ``paths`` is the priority.
    """
    for path in paths:
        for source in sources:
            value = lookup(source, path)
            if value is not MISSING:
                return value, path
    return MISSING, None


def iter_mappings(obj: Any, prefix: str = "", depth: int = 6) -> Iterator[tuple[str, Mapping]]:
    """Yield ``(path, mapping)`` for ``obj`` and every mapping nested in it, shallowest first."""
    level: list[tuple[str, Any]] = [(prefix, obj)]
    for _ in range(depth):
        deeper: list[tuple[str, Any]] = []
        for path, value in level:
            if not isinstance(value, Mapping):
                continue
            yield path, value
            for key, child in value.items():
                if isinstance(child, Mapping):
                    deeper.append((f"{path}.{key}" if path else str(key), child))
        level = deeper
        if not level:
            return


def _as_records(items: Sequence[Any]) -> list[dict[str, Any]]:
    # Lists of plain values (ids, names) become one-column records rather than being dropped.
    return [
        item if type(item) is dict else dict(item) if isinstance(item, Mapping) else {"value": item}
        for item in items
    ]


def _select(value: Any, segments: list[str]) -> Any:
    if not segments:
        return value
    segment, rest = segments[0], segments[1:]
    if segment.endswith("[]"):
        key = segment[:-2]
        items = value if not key else lookup(value, key)
        if not _is_list(items):
            return MISSING
        selected = (_select(item, rest) for item in items)
        return [item for item in selected if item is not MISSING]
    found = lookup(value, segment)
    return MISSING if found is MISSING else _select(found, rest)


def records_at(payload: Any, path: str) -> list[dict[str, Any]] | None:
    """Return the records at ``path`` in ``payload``, or None when the path is not there.

    A path that ends on a list gives its items; one that ends on an object gives that object as
    the only record; the empty path gives the payload itself as one record.
    """
    if path == "":
        return _single_record(payload)
    found = _select(payload, path.split("."))
    if found is MISSING or found is None:
        return None
    if _is_list(found):
        return _as_records(found)
    return _single_record(found)


def holds_list(payload: Any, path: str) -> bool:
    """Whether ``path`` in ``payload`` is a list (of records), rather than a single object."""
    return path != "" and _is_list(_select(payload, path.split(".")))


def same_records(records: Sequence[Any], payload: Any, path: str) -> bool:
    """Whether ``records`` are the very objects at ``path`` in ``payload`` (or the first of them).

    True means :func:`records_at` over the same JSON decoded again gives records equal to them.
    Records a caller's own code filtered or rebuilt, plain values wrapped as records, and the
    single record of the empty path are not the same objects: False.
    """
    if path == "":
        return False
    found = _select(payload, path.split("."))
    if not _is_list(found) or len(found) < len(records):
        return False
    return all(map(operator.is_, records, found))


def _single_record(payload: Any) -> list[dict[str, Any]]:
    if payload is None:
        return []
    if not isinstance(payload, Mapping):
        return [{"value": payload}]
    record = {k: v for k, v in payload.items() if str(k).lower() not in _ENVELOPE_KEYS}
    if all(_is_metadata_key(str(k)) or str(k).lower() in _PAGING_KEYS for k in record):
        return []
    return [record]


def _unwrap_single(payload: Mapping) -> tuple[Any, str]:
    """Step into ``{"data": {...}}``-style wrappers around a single record."""
    path = ""
    while True:
        keys = [k for k in payload if str(k).lower() not in _ENVELOPE_KEYS]
        if len(keys) != 1 or keys[0] not in _WRAPPER_KEYS:
            return payload, path
        inner = payload[keys[0]]
        if not isinstance(inner, Mapping):
            return payload, path
        payload, path = inner, f"{path}.{keys[0]}" if path else str(keys[0])


@dataclass(frozen=True)
class RecordLocation:
    """Where the records of one answer are.

    Attributes:
        records: The records found.
        path: The exact path (usable as ``records_path``).
        explanation: Why this list was chosen when there were several, else "".
    """

    records: list[dict[str, Any]]
    path: str
    explanation: str = ""

    @property
    def described_path(self) -> str:
        """The path, followed by the explanation in parentheses when there is one."""
        return f"{self.path} ({self.explanation})" if self.explanation else self.path


def _looks_like_record(obj: Mapping) -> bool:
    return any(_scalar(obj.get(key)) for key in _ID_KEYS)


def _object_list(value: Any) -> bool:
    return _is_list(value) and all(isinstance(item, Mapping) for item in value)


def _candidates_at(path: str, obj: Mapping) -> tuple[list[tuple[str, list]], list[str]]:
    """The record lists directly in ``obj``: (the well-known ones, the other lists of objects)."""
    known: list[tuple[str, list]] = []
    prefix = f"{path}." if path else ""
    is_record = _looks_like_record(obj)
    for key in RECORD_KEYS:
        value: Any = obj.get(key)
        if not _is_list(value) or (is_record and key not in _ENVELOPE_RECORD_KEYS):
            continue
        objects = sum(isinstance(item, Mapping) for item in value)
        # A list of objects, or of plain values; a mixed list only under the envelope's "data".
        if objects in (0, len(value)) or key == "data":
            known.append((prefix + key, list(value)))
    edges: Any = obj.get("edges")
    if _object_list(edges) and all("node" in edge for edge in edges):
        known.append((f"{prefix}edges[].node", [edge["node"] for edge in edges]))
    if known or is_record:
        return known, []
    others = [
        str(key)
        for key, value in obj.items()
        if not _is_metadata_key(str(key)) and _object_list(value) and key not in RECORD_KEYS
    ]
    return known, [prefix + key for key in others]


def _has_ids(items: list) -> bool:
    return bool(items) and all(
        isinstance(item, Mapping) and any(k in item for k in _ID_KEYS) for item in items
    )


def locate_records(payload: Any) -> RecordLocation:
    """Find the records in an action's payload (see :func:`find_records` for the rules)."""
    if payload is None:
        return RecordLocation([], "")
    if _is_list(payload):
        return RecordLocation(_as_records(payload), "[]")
    if not isinstance(payload, Mapping):
        return RecordLocation(_single_record(payload), "")
    for path, obj in _record_containers(payload):
        known, others = _candidates_at(path, obj)
        if known:
            found_path, items = known[0]
            return RecordLocation(_as_records(items), found_path)
        if len(others) == 1:
            return RecordLocation(_as_records(lookup(payload, others[0])), others[0])
        if others:
            return _choose(payload, others)
    inner, path = _unwrap_single(payload)
    return RecordLocation(_single_record(inner), path)


def _record_containers(payload: Mapping) -> Iterator[tuple[str, Mapping]]:
    # Breadth first, never into metadata or into an object that is itself a record: the lists
    # inside a record (line items, addresses) are its fields, not the action's records.
    level: list[tuple[str, Mapping]] = [("", payload)]
    for _ in range(6):
        deeper: list[tuple[str, Mapping]] = []
        for path, obj in level:
            yield path, obj
            if path and _looks_like_record(obj):
                continue
            for key, child in obj.items():
                if isinstance(child, Mapping) and not _is_metadata_key(str(key)):
                    deeper.append((f"{path}.{key}" if path else str(key), child))
        if not deeper:
            return
        level = deeper


def _choose(payload: Mapping, paths: list[str]) -> RecordLocation:
    lists = {path: lookup(payload, path) for path in paths}
    # Stable across pages where possible: a non-empty list of objects with ids, then the
    # longest, then the first in the answer's own order.
    ranked = sorted(
        paths,
        key=lambda p: (not lists[p], not _has_ids(lists[p]), -len(lists[p]), paths.index(p)),
    )
    chosen = ranked[0]
    others = ", ".join(p for p in paths if p != chosen)
    explanation = (
        f"chosen among {len(paths)} lists of objects, also {others}; "
        "set records_path on the paginator to choose another"
    )
    return RecordLocation(_as_records(lists[chosen]), chosen, explanation)


def find_records(payload: Any) -> tuple[list[dict[str, Any]], str]:
    """Find the records in an action's payload (``ActionResult.data``).

    The rules, first match wins:

    1. A payload that is a list is the records (path ``[]``).
    2. In an object, the first list under ``data``, ``results``, ``items``, ``records``,
       ``entries``, ``value``, ``rows``, ``elements`` or ``nodes``; then a GraphQL ``edges[].node``
       (only the nodes: an edge's ``cursor`` is paging metadata, not a field).
    3. Otherwise the only list of objects in it (``orders``, ``tickets``, ``Invoices``). When
       there are several, the non-empty one whose items have ids, then the longest, then the
       first; the path then explains the choice in parentheses.
    4. Steps 2 and 3 repeat one level deeper at a time (``data.orders.edges[].node``), never
       inside paging metadata (``pagination``, ``pageInfo``, ``paging``, ``links``, ``meta``,
       ``errors``) and never inside an object that has an ``id`` (its lists are its fields).
    5. An object with an ``id`` (a scalar) is one record, except that a ``data``, ``results``
       or ``records`` list in it still wins; an object with no list at all is one record too
       (path ``""``, or ``"data"`` for a record wrapped as ``{"data": {...}}``), without
       envelope keys such as ``executionId`` and ``success``. An object holding only paging
       fields (``has_more``, ``next_cursor``, ``pagination``, ...), ``None`` and ``{}`` give
       no records.

    Lists of plain values become records with one ``value`` field.

    Returns:
        The records, and the path where they were found (``"data.orders.edges[].node"``),
        followed by an explanation in parentheses when a choice was made.
    """
    location = locate_records(payload)
    return location.records, location.described_path


def fingerprint(records: Sequence[Mapping[str, Any]]) -> str:
    """A short digest of a page's records: by their ids when all have one, else by content."""
    for key in _ID_KEYS:
        ids = [record.get(key) for record in records] if records else []
        if ids and set(map(type, ids)) <= _SCALAR_TYPES:
            text = "\x1f".join(map(str, ids))
            break
    else:
        text = json.dumps(list(records), sort_keys=True, default=str)
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()
