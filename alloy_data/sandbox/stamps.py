"""Where each app keeps a record's creation and update times, and what an edit changes.

A :class:`TimeFields` reads a generated record's times (epoch seconds) and writes new ones in
the app's own field and format, together with a visible change that a real edit makes: a
status that moves on, a version counter that goes up. Records of kinds the app never edits
(Stripe charges) take only inserts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from alloy_data.sandbox import records
from alloy_data.sandbox.records import Context, iso_offset, iso_z

Record = dict[str, Any]
#: Writes ``(record, created or None, updated, version)`` into a record.
Stamp = Callable[[Record, "int | None", int, int], None]

_DAY = 86_400


def epoch_of(text: str) -> int:
    """Return an ISO-8601 timestamp with an offset or a ``Z`` as epoch seconds."""
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    return int(datetime.fromisoformat(text).timestamp())


def _ms_date_epoch(text: str) -> int:
    # "/Date(1672531200000+0000)/"
    return int(text[6:].split("+", 1)[0]) // 1000


def _ms_date(epoch: int) -> str:
    return f"/Date({epoch * 1000}+0000)/"


def _next(options: Sequence[Any], current: Any, steps: int) -> Any:
    position = options.index(current) if current in options else 0
    return options[(position + steps) % len(options)]


@dataclass(frozen=True)
class TimeFields:
    """How one kind of record carries time.

    Attributes:
        read: Returns a generated record's ``(created, updated)`` epoch seconds.
        stamp: Writes created (when not None) and updated times and the ``version``-th edit.
        max_lag: The most seconds a generated record's update may follow its creation.
        editable: False for records the app never changes (only inserts happen).
        granularity: The app rounds its times down to this many seconds (Notion: minutes).
        times: Returns generated record ``i``'s ``(created, updated)`` without generating it,
            for lists that filter or sort on time (``read`` of the record when None).
    """

    read: Callable[[Record], tuple[int, int]]
    stamp: Stamp
    max_lag: int
    editable: bool = True
    granularity: int = 1
    times: Callable[[Context, int], tuple[int, int]] | None = None


def _shopify_read(record: Record) -> tuple[int, int]:
    return epoch_of(record["created_at"]), epoch_of(record["updated_at"])


def _shopify_stamp(record: Record, created: int | None, updated: int, version: int) -> None:
    if created is not None:
        record["created_at"] = iso_offset(created, -5)
        record["processed_at"] = iso_offset(created + 60, 0)
    record["updated_at"] = iso_offset(updated, -5)
    if version:
        statuses = ("pending", "authorized", "paid", "partially_refunded", "refunded")
        record["financial_status"] = _next(statuses, record["financial_status"], version)


def _hubspot_read(record: Record) -> tuple[int, int]:
    return epoch_of(record["createdAt"]), epoch_of(record["updatedAt"])


def _hubspot_contact_stamp(record: Record, created: int | None, updated: int, version: int) -> None:
    properties = record["properties"]
    if created is not None:
        record["createdAt"] = properties["createdate"] = iso_z(created, created % 1000)
    record["updatedAt"] = properties["lastmodifieddate"] = iso_z(updated, updated % 1000)
    if version:
        stages = ("subscriber", "lead", "opportunity", "customer")
        properties["lifecyclestage"] = _next(stages, properties["lifecyclestage"], version)


def _hubspot_company_stamp(record: Record, created: int | None, updated: int, version: int) -> None:
    properties = record["properties"]
    if created is not None:
        record["createdAt"] = properties["createdate"] = iso_z(created, created % 1000)
    record["updatedAt"] = iso_z(updated, updated % 1000)
    if version:
        employees = properties["numberofemployees"] or 0
        properties["numberofemployees"] = employees + version


def _created_only_read(record: Record) -> tuple[int, int]:
    return record["created"], record["created"]


def _stripe_stamp(record: Record, created: int | None, updated: int, version: int) -> None:
    # Stripe objects carry a creation time only; the clock never edits them.
    if created is not None:
        record["created"] = created


def _zendesk_read(record: Record) -> tuple[int, int]:
    return epoch_of(record["created_at"]), epoch_of(record["updated_at"])


def _zendesk_stamp(record: Record, created: int | None, updated: int, version: int) -> None:
    if created is not None:
        record["created_at"] = iso_z(created)
    record["updated_at"] = iso_z(updated)
    if version:
        statuses = ("new", "open", "pending", "solved", "closed")
        record["status"] = _next(statuses, record["status"], version)


def _box_read(record: Record) -> tuple[int, int]:
    return epoch_of(record["created_at"]), epoch_of(record["modified_at"])


def _box_stamp(record: Record, created: int | None, updated: int, version: int) -> None:
    if created is not None:
        record["created_at"] = iso_offset(created, -7)
    record["modified_at"] = iso_offset(updated, -7)
    # Box's etag counts the file's versions.
    record["etag"] = str(int(record["etag"]) + version)


def _day_string(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT00:00:00")


def _xero_read(record: Record) -> tuple[int, int]:
    updated = _ms_date_epoch(record["UpdatedDateUTC"])
    return _ms_date_epoch(record["Date"]), updated


def _xero_stamp(record: Record, created: int | None, updated: int, version: int) -> None:
    if created is not None:
        day = created - created % _DAY
        record["Date"] = _ms_date(day)
        record["DateString"] = _day_string(day)
        record["DueDateString"] = _day_string(day + 30 * _DAY)
    record["UpdatedDateUTC"] = _ms_date(updated)
    if version:
        statuses = ("DRAFT", "SUBMITTED", "AUTHORISED", "PAID")
        record["Status"] = _next(statuses, record["Status"], version)
        record["AmountDue"] = 0.0 if record["Status"] == "PAID" else record["Total"]


def _quickbooks_read(record: Record) -> tuple[int, int]:
    meta = record["MetaData"]
    return epoch_of(meta["CreateTime"]), epoch_of(meta["LastUpdatedTime"])


def _quickbooks_stamp(record: Record, created: int | None, updated: int, version: int) -> None:
    meta = record["MetaData"]
    if created is not None:
        meta["CreateTime"] = iso_offset(created, -8)
    meta["LastUpdatedTime"] = iso_offset(updated, -8)
    # QuickBooks' SyncToken is the entity's version counter.
    record["SyncToken"] = str(int(record["SyncToken"]) + version)


def _notion_read(record: Record) -> tuple[int, int]:
    return epoch_of(record["created_time"]), epoch_of(record["last_edited_time"])


def _notion_stamp(record: Record, created: int | None, updated: int, version: int) -> None:
    if created is not None:
        record["created_time"] = iso_z(created // 60 * 60, 0)
    record["last_edited_time"] = iso_z(updated // 60 * 60, 0)
    if version:
        status = record["properties"]["Status"]
        current = (status["select"] or {}).get("name")
        names = ("Not started", "In progress", "Done")
        status["select"] = {"name": _next(names, current, version)}


SHOPIFY_ORDERS = TimeFields(
    _shopify_read, _shopify_stamp, max_lag=14 * _DAY, times=records.shopify_order_times
)
HUBSPOT_CONTACTS = TimeFields(_hubspot_read, _hubspot_contact_stamp, max_lag=30 * _DAY)
HUBSPOT_COMPANIES = TimeFields(_hubspot_read, _hubspot_company_stamp, max_lag=0)
STRIPE_CREATED_ONLY = TimeFields(_created_only_read, _stripe_stamp, max_lag=0, editable=False)
ZENDESK_TICKETS = TimeFields(_zendesk_read, _zendesk_stamp, max_lag=7 * _DAY)
BOX_FILES = TimeFields(_box_read, _box_stamp, max_lag=90 * _DAY)
XERO_INVOICES = TimeFields(_xero_read, _xero_stamp, max_lag=3600)
QUICKBOOKS_CUSTOMERS = TimeFields(_quickbooks_read, _quickbooks_stamp, max_lag=60 * _DAY)
NOTION_PAGES = TimeFields(
    _notion_read, _notion_stamp, max_lag=_DAY, granularity=60, times=records.notion_page_times
)
