"""Each app's own pagination convention: which parameters choose a page, how the answer looks.

A convention turns checked parameters into a window ``[start, stop)`` of record indexes and
renders the encoded records of that window into the app's response body. Cursors are opaque:
urlsafe base64 of the position, bound to one resource and checksummed, so a garbled or foreign
cursor is refused instead of silently restarting.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from alloy_data.sandbox.errors import bad_request
from alloy_data.sandbox.ids import RecordIds
from alloy_data.sandbox.params import Param


class CursorError(ValueError):
    """A cursor that this sandbox did not hand out."""


def encode_cursor(scope: str, position: int) -> str:
    """Return an opaque cursor for ``position`` (the index of the next record) in ``scope``."""
    payload = f"{scope}:{position}"
    check = zlib.crc32(payload.encode()) & 0xFFFF
    raw = f"{payload}:{check:04x}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(scope: str, cursor: str) -> int:
    """Return the position a cursor from :func:`encode_cursor` holds.

    Raises:
        CursorError: When the cursor is garbled, checksummed wrongly or from another scope.
    """
    if not cursor.isascii() or len(cursor) > 200:
        raise CursorError("not a cursor")
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        payload, check = raw.decode().rsplit(":", 1)
        cursor_scope, position = payload.rsplit(":", 1)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise CursorError("not a cursor") from exc
    if f"{zlib.crc32(payload.encode()) & 0xFFFF:04x}" != check or not position.isdigit():
        raise CursorError("checksum mismatch")
    if cursor_scope != scope:
        raise CursorError("cursor from another resource")
    return int(position)


def _negative(key: int) -> int:
    return -key


@dataclass
class PageContext:
    """What a convention needs besides the parameters.

    Windows are positions in the served order. Cursors hold a key that survives records
    moving between pages: the index of the next record in ascending index order, or the last
    served record's sort key (``keys``) in newest-first orders.
    """

    scope: str  # "connector/resource", binds cursors (and a filter's value, when filtered)
    total: int
    ids: RecordIds
    base_url: str
    #: The record indexes served, in order; None for 0 to ``total`` - 1.
    indexes: Sequence[int] | None = None
    #: Newest-first orders: a descending key per position; None in ascending index order.
    keys: Sequence[int] | None = None
    #: Filter parameters that next-page links carry.
    link_params: dict[str, Any] = field(default_factory=dict)
    #: Whether a record index is one the listing serves (unfiltered); default: below total.
    is_served: Callable[[int], bool] | None = None

    def index_at(self, position: int) -> int:
        """Return the record index served at ``position``."""
        return position if self.indexes is None else self.indexes[position]

    def cursor_key(self, position: int) -> int:
        """Return the cursor key that resumes after the record at ``position``."""
        if self.keys is not None:
            return self.keys[position]
        return self.index_at(position) + 1

    def resume(self, key: int) -> int:
        """Return the position of the first record after a cursor key."""
        if self.keys is not None:
            return bisect_right(self.keys, -key, key=_negative)
        if self.indexes is None:
            return min(key, self.total)
        return bisect_left(self.indexes, key)

    def serves(self, index: int) -> bool:
        """Return True when record ``index`` is one the listing serves."""
        return self.is_served(index) if self.is_served is not None else index < self.total

    def link_query(self) -> str:
        """Return ``&name=value`` for the filter parameters a next link carries."""
        return "&" + urlencode(self.link_params) if self.link_params else ""


class Convention:
    """Base class: a pagination convention with its parameters."""

    #: When True the page is the execute answer's envelope (``data`` + ``pagination``),
    #: not an app body inside it.
    alloy_envelope = False

    def params(self) -> tuple[Param, ...]:
        """Return the parameters the list action declares for paging."""
        return ()

    def window(self, values: dict[str, Any], ctx: PageContext) -> tuple[int, int]:
        """Return ``(start, stop)`` for the checked parameter ``values``."""
        return 0, ctx.total

    def render(
        self, records: list[bytes], start: int, values: dict[str, Any], ctx: PageContext
    ) -> bytes:
        """Return the response body for ``records``, which start at index ``start``."""
        raise NotImplementedError


@dataclass(frozen=True)
class PageSize:
    """How an app states and enforces the size of its pages, as real apps do.

    Attributes:
        default: The size an app uses when none is asked.
        maximum: The largest page it serves.
        words: The parameter's description in the app's own docs; it may or may not name the
            maximum.
        refusal: The 400 message for a page larger than the maximum (``{name}``,
            ``{maximum}`` and ``{value}`` are filled in); None when the app silently serves
            its maximum instead.
        declared: Whether the live dialect's JSON Schema carries ``maximum`` (the contract's
            shape never does).
    """

    default: int
    maximum: int
    words: str
    refusal: str | None = "parameter '{name}' must be at most {maximum} (got {value})"
    declared: bool = False

    def param(self, name: str) -> Param:
        """The page-size parameter ``name`` of an action that pages this way."""
        return Param(
            name,
            "integer",
            self.words,
            default=self.default,
            maximum=self.maximum,
            minimum=1,
            oversize_refusal=self.refusal,
            declare_maximum=self.declared,
        )


SHOPIFY_FIRST = PageSize(
    50, 250, "Returns up to the first n elements from the list.", "first: must be <= {maximum}"
)
HUBSPOT_LIMIT = PageSize(
    10,
    100,
    "The maximum number of results to display per page.",
    "{name} must be less than or equal to {maximum}",
)
#: Says neither in words nor in its error how large a page may be: only halving finds it.
HUBSPOT_LIMIT_TERSE = PageSize(
    10, 100, "The maximum number of results to display per page.", "Invalid input: {name}"
)
STRIPE_LIMIT = PageSize(
    10,
    100,
    "A limit on the number of objects to be returned. Limit can range between 1 and 100, and "
    "the default is 10.",
    "Invalid integer: {value}. {name} must be less than or equal to {maximum}",
)
#: Serves at most its maximum whatever is asked, and says so nowhere.
ZENDESK_PER_PAGE = PageSize(100, 100, "Number of records to return per page.", None)
BOX_LIMIT = PageSize(
    100,
    1000,
    "The maximum number of items to return per page.",
    "{name} must be less than or equal to {maximum}",
    declared=True,
)
XERO_PAGE_SIZE = PageSize(100, 1000, "The number of invoices per page, up to 1000.")
ALLOY_LIMIT = PageSize(20, 50, "Records per page (max 50).")
NOTION_PAGE_SIZE = PageSize(
    100,
    100,
    "The number of items from the full list desired in the response. Maximum: 100",
    "body failed validation: body.page_size should be ≤ `{maximum}`, instead was `{value}`.",
)


def _cursor_position(name: str, values: dict[str, Any], ctx: PageContext) -> int:
    cursor = values.get(name)
    if cursor is None or cursor == "":
        return 0
    try:
        return ctx.resume(decode_cursor(ctx.scope, cursor))
    except CursorError as exc:
        raise bad_request(f"parameter '{name}' is not a valid cursor: {exc}") from None


def _join(records: list[bytes]) -> bytes:
    return b"[" + b",".join(records) + b"]"


def _dump(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


class Unpaginated(Convention):
    """Everything in one answer: ``{"<root>": [...]}``."""

    def __init__(self, root: str) -> None:
        self.root = root

    def render(
        self, records: list[bytes], start: int, values: dict[str, Any], ctx: PageContext
    ) -> bytes:
        return b'{"' + self.root.encode() + b'":' + _join(records) + b"}"


class RelayCursor(Convention):
    """GraphQL connections: ``first``/``after``; ``edges[].node``, ``pageInfo``."""

    def __init__(self, root: str, size: PageSize = SHOPIFY_FIRST) -> None:
        self.root = root
        self.size = size

    def params(self) -> tuple[Param, ...]:
        return (
            self.size.param("first"),
            Param("after", "string", "Cursor: the endCursor of the previous page"),
        )

    def window(self, values: dict[str, Any], ctx: PageContext) -> tuple[int, int]:
        start = _cursor_position("after", values, ctx)
        return start, min(start + values["first"], ctx.total)

    def render(
        self, records: list[bytes], start: int, values: dict[str, Any], ctx: PageContext
    ) -> bytes:
        edges = []
        end_cursor = None
        for offset, record in enumerate(records):
            end_cursor = encode_cursor(ctx.scope, ctx.cursor_key(start + offset))
            edges.append(b'{"cursor":"' + end_cursor.encode() + b'","node":' + record + b"}")
        page_info = {
            "hasNextPage": start + len(records) < ctx.total,
            "hasPreviousPage": start > 0,
            "endCursor": end_cursor,
        }
        return (
            b'{"data":{"' + self.root.encode() + b'":{"edges":' + _join(edges)
            + b',"pageInfo":' + _dump(page_info) + b"}}}"
        )  # fmt: skip


class BodyCursor(Convention):
    """HubSpot: ``limit``/``after``; ``{"results": [...], "paging": {"next": {...}}}``."""

    def __init__(self, path: str, size: PageSize = HUBSPOT_LIMIT) -> None:
        self.path = path
        self.size = size

    def params(self) -> tuple[Param, ...]:
        return (
            self.size.param("limit"),
            Param("after", "string", "Cursor: paging.next.after of the previous page"),
        )

    def window(self, values: dict[str, Any], ctx: PageContext) -> tuple[int, int]:
        start = _cursor_position("after", values, ctx)
        return start, min(start + values["limit"], ctx.total)

    def render(
        self, records: list[bytes], start: int, values: dict[str, Any], ctx: PageContext
    ) -> bytes:
        stop = start + len(records)
        body = b'{"results":' + _join(records)
        if stop < ctx.total:
            after = encode_cursor(ctx.scope, ctx.cursor_key(stop - 1))
            link = f"{ctx.base_url}{self.path}?limit={values['limit']}&after={after}"
            link += ctx.link_query()
            body += b',"paging":' + _dump({"next": {"after": after, "link": link}})
        return body + b"}"


class LastId(Convention):
    """Stripe: ``limit``/``starting_after`` (a record id); ``has_more``."""

    def __init__(self, url: str, size: PageSize = STRIPE_LIMIT) -> None:
        self.url = url
        self.size = size

    def params(self) -> tuple[Param, ...]:
        return (
            self.size.param("limit"),
            Param("starting_after", "string", "The id of the last object of the previous page"),
        )

    def window(self, values: dict[str, Any], ctx: PageContext) -> tuple[int, int]:
        last_id = values.get("starting_after")
        start = 0
        if last_id:
            index = ctx.ids.index_for(last_id)
            if index is None or not ctx.serves(index):
                raise bad_request(f"parameter 'starting_after': no such object: '{last_id:.60}'")
            # Newest-first last-id orders key their records by index.
            start = ctx.resume(index if ctx.keys is not None else index + 1)
        return start, min(start + values["limit"], ctx.total)

    def render(
        self, records: list[bytes], start: int, values: dict[str, Any], ctx: PageContext
    ) -> bytes:
        has_more = b"true" if start + len(records) < ctx.total else b"false"
        return (
            b'{"object":"list","url":"' + self.url.encode() + b'","has_more":' + has_more
            + b',"data":' + _join(records) + b"}"
        )  # fmt: skip


class NextLink(Convention):
    """Zendesk: ``page``/``per_page``; ``next_page`` is a full URL, ``count`` the total."""

    def __init__(self, root: str, path: str, size: PageSize = ZENDESK_PER_PAGE) -> None:
        self.root = root
        self.path = path
        self.size = size

    def params(self) -> tuple[Param, ...]:
        return (
            Param("page", "integer", "Page number, from 1", default=1, minimum=1),
            self.size.param("per_page"),
        )

    def window(self, values: dict[str, Any], ctx: PageContext) -> tuple[int, int]:
        start = min((values["page"] - 1) * values["per_page"], ctx.total)
        return start, min(start + values["per_page"], ctx.total)

    def _link(self, ctx: PageContext, page: int, size: int) -> str:
        return f"{ctx.base_url}{self.path}?page={page}&per_page={size}{ctx.link_query()}"

    def render(
        self, records: list[bytes], start: int, values: dict[str, Any], ctx: PageContext
    ) -> bytes:
        page, size = values["page"], values["per_page"]
        more = page * size < ctx.total
        links = {
            "next_page": self._link(ctx, page + 1, size) if more else None,
            "previous_page": self._link(ctx, page - 1, size) if page > 1 else None,
            "count": ctx.total,
        }
        return b'{"' + self.root.encode() + b'":' + _join(records) + b"," + _dump(links)[1:]


class OffsetLimit(Convention):
    """Box: ``offset``/``limit``; ``{"entries", "total_count", "offset", "limit"}``."""

    def __init__(self, size: PageSize = BOX_LIMIT) -> None:
        self.size = size

    def params(self) -> tuple[Param, ...]:
        return (
            Param("offset", "integer", "Index of the first item", default=0, minimum=0),
            self.size.param("limit"),
        )

    def window(self, values: dict[str, Any], ctx: PageContext) -> tuple[int, int]:
        start = min(values["offset"], ctx.total)
        return start, min(start + values["limit"], ctx.total)

    def render(
        self, records: list[bytes], start: int, values: dict[str, Any], ctx: PageContext
    ) -> bytes:
        tail = {"total_count": ctx.total, "offset": values["offset"], "limit": values["limit"]}
        return b'{"entries":' + _join(records) + b"," + _dump(tail)[1:]


class PageNumber(Convention):
    """Xero: ``page`` (from 1)/``pageSize``; no totals, the end is a short or empty page."""

    def __init__(self, root: str, size: PageSize = XERO_PAGE_SIZE) -> None:
        self.root = root
        self.size = size

    def params(self) -> tuple[Param, ...]:
        return (
            Param("page", "integer", "Page number, from 1", default=1, minimum=1),
            self.size.param("pageSize"),
        )

    def window(self, values: dict[str, Any], ctx: PageContext) -> tuple[int, int]:
        start = min((values["page"] - 1) * values["pageSize"], ctx.total)
        return start, min(start + values["pageSize"], ctx.total)

    def render(
        self, records: list[bytes], start: int, values: dict[str, Any], ctx: PageContext
    ) -> bytes:
        return b'{"' + self.root.encode() + b'":' + _join(records) + b"}"


class AlloyOffset(Convention):
    """Alloy's own paging: ``limit`` (at most 50)/``offset``; ``pagination.hasMore/nextOffset``.

    The page is the execute answer itself: ``{"data": [...], "pagination": {...}}``.
    """

    alloy_envelope = True

    def __init__(self, size: PageSize = ALLOY_LIMIT) -> None:
        self.size = size

    def params(self) -> tuple[Param, ...]:
        return (
            self.size.param("limit"),
            Param("offset", "integer", "Index of the first record", default=0, minimum=0),
        )

    def window(self, values: dict[str, Any], ctx: PageContext) -> tuple[int, int]:
        start = min(values["offset"], ctx.total)
        return start, min(start + values["limit"], ctx.total)

    def render(
        self, records: list[bytes], start: int, values: dict[str, Any], ctx: PageContext
    ) -> bytes:
        stop = start + len(records)
        more = stop < ctx.total
        pagination = {"hasMore": more, "nextOffset": stop if more else None}
        return b'{"data":' + _join(records) + b',"pagination":' + _dump(pagination) + b"}"


class NotionCursor(Convention):
    """Notion: ``page_size``/``start_cursor``; ``{object, results, next_cursor, has_more}``."""

    def __init__(self, size: PageSize = NOTION_PAGE_SIZE) -> None:
        self.size = size

    def params(self) -> tuple[Param, ...]:
        return (
            self.size.param("page_size"),
            Param("start_cursor", "string", "Cursor: next_cursor of the previous page"),
        )

    def window(self, values: dict[str, Any], ctx: PageContext) -> tuple[int, int]:
        start = _cursor_position("start_cursor", values, ctx)
        return start, min(start + values["page_size"], ctx.total)

    def render(
        self, records: list[bytes], start: int, values: dict[str, Any], ctx: PageContext
    ) -> bytes:
        stop = start + len(records)
        more = stop < ctx.total
        tail: dict[str, Any] = {
            "next_cursor": encode_cursor(ctx.scope, ctx.cursor_key(stop - 1)) if more else None,
            "has_more": more,
            "type": "page_or_database",
            "page_or_database": {},
        }
        return b'{"object":"list","results":' + _join(records) + b"," + _dump(tail)[1:]
