"""Deterministic, realistic records, generated one at a time from ``(seed, index)``.

Nothing is stored: record ``i`` of a resource is a pure function of the seed and ``i``, so any
page of a million-record resource costs the same as the first one. The records carry the
awkward parts of real data: nested objects, lists of objects, money, timestamps in several
offset styles, nulls, unicode, and fields that appear or change type part-way through.
"""

from __future__ import annotations

import hashlib
import json
import struct
import unicodedata
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from functools import lru_cache
from typing import Any, TypeVar

from alloy_data.sandbox.ids import RecordIds

#: Shopify orders get ``discount_code`` from this index on (mid-page for most page sizes).
DISCOUNT_CODE_FROM = 150
#: HubSpot ``properties.external_id`` is an integer before this index and a string from it on.
EXTERNAL_ID_STRING_FROM = 300

_EPOCH = 1_672_531_200  # 2023-01-01T00:00:00Z
_STEP_SECONDS = 97  # so a million records span about three years

FIRST_NAMES = (
    "Zoë", "Łukasz", "Amélie", "José", "Søren", "Ana María", "Chloé", "Mohammed", "Priya",
    "Olivia", "Liam", "Noah", "Emma", "Hiroshi", "Björn", "Ngozi", "Siobhán", "François",
    "Dmitri", "Aroha", "Mei", "Ömer", "Nguyễn Văn", "Kwame",
)  # fmt: skip
LAST_NAMES = (
    "渡辺", "Müller", "O'Brien", "García", "Kowalski", "Nakamura", "Smith", "Johansson",
    "Dubois", "Okafor", "Rossi", "Petrović", "Åberg", "Silva", "Chen", "Gómez", "Haddad",
    "Fitzgerald", "Ivanova", "Tanaka", "Nováková", "Brown", "Øvergaard", "Singh",
)  # fmt: skip
CITIES = (
    ("Ottawa", "CA", "ON"), ("Berlin", "DE", "BE"), ("Kraków", "PL", "MA"), ("Tokyo", "JP", "13"),
    ("São Paulo", "BR", "SP"), ("Austin", "US", "TX"), ("Dublin", "IE", "D"),
    ("Montréal", "CA", "QC"), ("Lagos", "NG", "LA"), ("Zürich", "CH", "ZH"),
    ("New York", "US", "NY"), ("Wellington", "NZ", "WGN"),
)  # fmt: skip
PRODUCTS = (
    ("Merino Wool Beanie", "HAT-MER"), ("Ceramic Pour-Over Set", "KIT-POUR"),
    ("Trail Running Shoes", "SHO-TRL"), ("Organic Cotton Tee", "TEE-ORG"),
    ("Linen Throw — Sand", "HOM-LIN"), ("Espresso Beans 1kg", "COF-ESP"),
    ("Yoga Mat Pro", "FIT-YOG"), ("Leather Notebook A5", "STA-NTB"),
)  # fmt: skip
COMPANIES = (
    "Acme Corp", "Globex", "Initech", "Umbrella GmbH", "Stark Industries", "Wayne Enterprises",
    "Soylent SA", "Hooli", "Vandelay Industries", "Kōbō Design", "Ñandú Labs", "Møller & Søn",
)  # fmt: skip
WORDS = (
    "invoice", "refund", "delivery", "login", "password", "export", "billing", "upgrade",
    "integration", "report", "café", "naïve", "résumé", "shipping", "discount", "renewal",
)  # fmt: skip


_WORDS = struct.Struct("<16I")
T = TypeVar("T")


class Draws:
    """Deterministic pseudo-random draws from a hash of ``(seed, stream, index)``.

    Much cheaper than seeding a ``Draws`` for every record, which is what makes
    generating pages on demand affordable.
    """

    __slots__ = ("_key", "_pool", "_position", "_round")

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._round = 0
        self._pool: tuple[int, ...] = ()
        self._position = 0
        self._refill()

    def _refill(self) -> None:
        digest = hashlib.blake2b(self._key, digest_size=64, salt=self._round.to_bytes(16, "big"))
        self._pool = _WORDS.unpack(digest.digest())
        self._position = 0
        self._round += 1

    def _next(self) -> int:
        if self._position == 16:
            self._refill()
        value = self._pool[self._position]
        self._position += 1
        return value

    def randrange(self, start: int, stop: int | None = None) -> int:
        """Return an int in ``[start, stop)`` (or ``[0, start)``)."""
        if stop is None:
            start, stop = 0, start
        return start + self._next() % (stop - start)

    def random(self) -> float:
        """Return a float in ``[0, 1)``."""
        return self._next() / 4_294_967_296

    def choice(self, options: Sequence[T]) -> T:
        """Return one of ``options``."""
        return options[self._next() % len(options)]

    def sample(self, options: Sequence[T], count: int) -> list[T]:
        """Return ``count`` distinct elements of ``options``, in draw order."""
        picked: list[int] = []
        while len(picked) < count:
            position = self._next() % len(options)
            if position not in picked:
                picked.append(position)
        return [options[position] for position in picked]


def _rng(seed: int, stream: str, index: int) -> Draws:
    return Draws(f"{seed}:{stream}:{index}".encode())


def latest_creation(count: int) -> int:
    """Return the latest creation time (epoch seconds) any of ``count`` generated records has."""
    return _EPOCH + max(count, 1) * _STEP_SECONDS - 1


def _moment(index: int, rng: Draws) -> int:
    return _EPOCH + index * _STEP_SECONDS + rng.randrange(_STEP_SECONDS)


@lru_cache(maxsize=8192)
def _day(days: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=days)).isoformat()


def _clock(epoch: int) -> str:
    days, seconds = divmod(epoch, 86_400)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{_day(days)}T{hours:02d}:{minutes:02d}:{seconds:02d}"


def iso_offset(epoch: int, hours: int) -> str:
    """Return ``epoch`` as ISO-8601 with a numeric offset, e.g. ``2023-01-01T07:00:00-05:00``."""
    sign = "-" if hours < 0 else "+"
    return f"{_clock(epoch + hours * 3600)}{sign}{abs(hours):02d}:00"


def iso_z(epoch: int, millis: int | None = None) -> str:
    """Return ``epoch`` as ISO-8601 UTC with a ``Z``, with milliseconds when given."""
    text = _clock(epoch)
    return f"{text}.{millis:03d}Z" if millis is not None else f"{text}Z"


@lru_cache(maxsize=256)
def _ascii(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(char for char in folded.lower() if char.isalnum()) or "user"


def _person(rng: Draws) -> tuple[str, str, str]:
    first = rng.choice(FIRST_NAMES)
    last = rng.choice(LAST_NAMES)
    return first, last, f"{_ascii(first)}.{rng.randrange(10_000)}@example.com"


def _address(rng: Draws) -> dict[str, Any]:
    city, country, province = rng.choice(CITIES)
    return {
        "address1": f"{rng.randrange(1, 999)} {rng.choice(('Main', 'Rue', 'High', 'Oak'))} St",
        "address2": None if rng.random() < 0.7 else f"Unit {rng.randrange(1, 40)}",
        "city": city,
        "province_code": province,
        "country_code": country,
        "zip": f"{rng.randrange(10_000, 99_999)}",
    }


def _cents(rng: Draws, low: int = 500, high: int = 50_000) -> int:
    return rng.randrange(low, high)


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


class Context:
    """What records depend on besides their index: the seed and the sandbox's own URL."""

    def __init__(self, seed: int, base_url: str) -> None:
        self.seed = seed
        self.base_url = base_url


Generator = Callable[[Context, int, RecordIds], dict[str, Any]]


def _order_lag(seed: int, index: int) -> int:
    # A stream of its own, so that the order's other values stay what they were.
    return 60 + _rng(seed, "shopify.orders.updated", index).randrange(86_400 * 14 - 60)


def shopify_order_times(ctx: Context, index: int) -> tuple[int, int]:
    """Return order ``index``'s creation and update times without generating the order."""
    rng = _rng(ctx.seed, "shopify.orders", index)
    for _ in range(3):  # the draws of _person, which come first
        rng.random()
    created = _moment(index, rng)
    return created, created + _order_lag(ctx.seed, index)


def shopify_order(ctx: Context, index: int, ids: RecordIds) -> dict[str, Any]:
    """Return Shopify order ``index``: customer, shipping address, line items, money."""
    rng = _rng(ctx.seed, "shopify.orders", index)
    first, last, email = _person(rng)
    created = _moment(index, rng)
    items = []
    subtotal = 0
    for line in range(rng.randrange(1, 5)):
        title, sku = rng.choice(PRODUCTS)
        quantity = rng.randrange(1, 4)
        price = _cents(rng, 900, 15_000)
        subtotal += price * quantity
        items.append(
            {
                "id": f"gid://shopify/LineItem/{index * 10 + line + 1}",
                "title": title,
                "sku": f"{sku}-{rng.randrange(1, 9)}",
                "quantity": quantity,
                "price": _money(price),
            }
        )
    tax = subtotal * 13 // 100
    order: dict[str, Any] = {
        "id": ids.id_for(index),
        "name": f"#{1001 + index}",
        "email": email,
        "created_at": iso_offset(created, -5),
        "updated_at": iso_offset(created + _order_lag(ctx.seed, index), -5),
        "processed_at": iso_offset(created + 60, 0),
        "currency": rng.choice(("USD", "CAD", "EUR")),
        "subtotal_price": _money(subtotal),
        "total_tax": _money(tax),
        "total_price": _money(subtotal + tax),
        "financial_status": rng.choice(("paid", "paid", "pending", "refunded")),
        "fulfillment_status": rng.choice(("fulfilled", None, None, "partial")),
        "customer": {
            "id": 7_000_000 + rng.randrange(100_000),
            "email": email,
            "first_name": first,
            "last_name": last,
            "orders_count": None if rng.random() < 0.2 else rng.randrange(1, 40),
        },
        "shipping_address": None if rng.random() < 0.1 else _address(rng),
        "line_items": items,
        "tags": rng.sample(("vip", "wholesale", "gift", "first-order", "b2b"), rng.randrange(3)),
        "note": None if rng.random() < 0.8 else f"Please gift wrap — {first}",
    }
    if index >= DISCOUNT_CODE_FROM:
        order["discount_code"] = None if rng.random() < 0.4 else f"SAVE{rng.randrange(5, 40)}"
    return order


def shopify_location(ctx: Context, index: int, ids: RecordIds) -> dict[str, Any]:
    """Return Shopify location ``index``."""
    rng = _rng(ctx.seed, "shopify.locations", index)
    city, country, _ = rng.choice(CITIES)
    return {
        "id": ids.id_for(index),
        "name": f"{city} warehouse",
        "active": rng.random() < 0.9,
        "address": {"city": city, "country_code": country},
        "fulfills_online_orders": index % 2 == 0,
    }


def hubspot_contact(ctx: Context, index: int, ids: RecordIds) -> dict[str, Any]:
    """Return HubSpot contact ``index``; ``external_id`` widens from integer to string."""
    rng = _rng(ctx.seed, "hubspot.contacts", index)
    first, last, email = _person(rng)
    created = _moment(index, rng)
    created_at = iso_z(created, rng.randrange(1000))
    updated_at = iso_z(created + rng.randrange(86_400 * 30), rng.randrange(1000))
    external_id: int | str = (
        50_000 + index if index < EXTERNAL_ID_STRING_FROM else f"EXT-{50_000 + index}"
    )
    return {
        "id": ids.id_for(index),
        "properties": {
            "email": email,
            "firstname": first,
            "lastname": last,
            "company": None if rng.random() < 0.25 else rng.choice(COMPANIES),
            "phone": None if rng.random() < 0.4 else f"+1-555-{rng.randrange(1000, 9999)}",
            "lifecyclestage": rng.choice(("lead", "subscriber", "customer", "opportunity")),
            "createdate": created_at,
            "lastmodifieddate": updated_at,
            "external_id": external_id,
        },
        "createdAt": created_at,
        "updatedAt": updated_at,
        "archived": False,
    }


def hubspot_company(ctx: Context, index: int, ids: RecordIds) -> dict[str, Any]:
    """Return HubSpot company ``index``."""
    rng = _rng(ctx.seed, "hubspot.companies", index)
    name = f"{rng.choice(COMPANIES)} {index}"
    created_at = iso_z(_moment(index, rng), rng.randrange(1000))
    return {
        "id": ids.id_for(index),
        "properties": {
            "name": name,
            "domain": f"company{index}.example.com",
            "industry": rng.choice(("RETAIL", "SOFTWARE", "LOGISTICS", None)),
            "numberofemployees": None if rng.random() < 0.3 else rng.randrange(1, 5000),
            "createdate": created_at,
        },
        "createdAt": created_at,
        "updatedAt": created_at,
        "archived": False,
    }


def stripe_charge(ctx: Context, index: int, ids: RecordIds) -> dict[str, Any]:
    """Return Stripe charge ``index``: integer cents, unix ``created``, billing details."""
    rng = _rng(ctx.seed, "stripe.charges", index)
    first, last, email = _person(rng)
    amount = _cents(rng)
    refunded = rng.random() < 0.1
    address = _address(rng)
    return {
        "id": ids.id_for(index),
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": amount if refunded else 0,
        "currency": rng.choice(("usd", "eur", "gbp")),
        "created": _moment(index, rng),
        "customer": f"cus_{rng.randrange(10**9):09d}" if rng.random() < 0.8 else None,
        "description": None if rng.random() < 0.5 else f"Order #{1001 + index}",
        "paid": True,
        "refunded": refunded,
        "status": rng.choice(("succeeded", "succeeded", "succeeded", "failed")),
        "receipt_email": email if rng.random() < 0.6 else None,
        "billing_details": {
            "name": f"{first} {last}",
            "email": email,
            "address": {
                "city": address["city"],
                "country": address["country_code"],
                "line1": address["address1"],
                "postal_code": address["zip"],
            },
        },
        "payment_method_details": {
            "type": "card",
            "card": {
                "brand": rng.choice(("visa", "mastercard", "amex")),
                "last4": f"{rng.randrange(10_000):04d}",
                "exp_month": rng.randrange(1, 13),
                "exp_year": 2026 + rng.randrange(5),
            },
        },
        "metadata": {},
    }


def stripe_customer(ctx: Context, index: int, ids: RecordIds) -> dict[str, Any]:
    """Return Stripe customer ``index``."""
    rng = _rng(ctx.seed, "stripe.customers", index)
    first, last, email = _person(rng)
    return {
        "id": ids.id_for(index),
        "object": "customer",
        "email": email,
        "name": f"{first} {last}",
        "created": _moment(index, rng),
        "balance": 0 if rng.random() < 0.8 else -_cents(rng, 100, 5000),
        "currency": rng.choice(("usd", "eur", None)),
        "delinquent": rng.random() < 0.05,
        "metadata": {"crm_id": f"C-{index}"} if rng.random() < 0.5 else {},
    }


def zendesk_ticket(ctx: Context, index: int, ids: RecordIds) -> dict[str, Any]:
    """Return Zendesk ticket ``index``; ``assignee_id`` is an integer or null."""
    rng = _rng(ctx.seed, "zendesk.tickets", index)
    ticket_id = ids.id_for(index)
    created = _moment(index, rng)
    words = rng.sample(WORDS, 3)
    return {
        "id": ticket_id,
        "url": f"{ctx.base_url}/api/v2/tickets/{ticket_id}.json",
        "subject": f"Question about {words[0]} and {words[1]}",
        "description": f"Hi, I have a problem with {words[2]}. ¿Pueden ayudarme? ありがとう",
        "status": rng.choice(("new", "open", "pending", "solved", "closed")),
        "priority": rng.choice(("low", "normal", "high", "urgent", None)),
        "type": rng.choice(("question", "incident", "problem", "task")),
        "requester_id": 360_000 + rng.randrange(5000),
        "assignee_id": None if rng.random() < 0.3 else 361_000 + rng.randrange(50),
        "organization_id": None if rng.random() < 0.5 else 900 + rng.randrange(30),
        "tags": rng.sample(WORDS, rng.randrange(4)),
        "via": {"channel": rng.choice(("email", "web", "api", "chat"))},
        "custom_fields": [{"id": 360_001, "value": rng.choice(("tier_1", "tier_2", None))}],
        "created_at": iso_z(created),
        "updated_at": iso_z(created + rng.randrange(86_400 * 7)),
    }


def box_file(ctx: Context, index: int, ids: RecordIds) -> dict[str, Any]:
    """Return Box file ``index``."""
    rng = _rng(ctx.seed, "box.files", index)
    first, last, email = _person(rng)
    created = _moment(index, rng)
    stem = rng.choice(("Q3 report", "Contrato", "Präsentation", "会議メモ", "budget", "logo"))
    extension = rng.choice(("pdf", "docx", "xlsx", "png"))
    return {
        "type": "file",
        "id": ids.id_for(index),
        "etag": str(rng.randrange(5)),
        "name": f"{stem} {index}.{extension}",
        "size": rng.randrange(1_000, 50_000_000),
        "created_at": iso_offset(created, -7),
        "modified_at": iso_offset(created + rng.randrange(86_400 * 90), -7),
        "parent": {"type": "folder", "id": str(100_000 + index % 25), "name": f"Team {index % 25}"},
        "created_by": {
            "type": "user",
            "id": str(20_000 + rng.randrange(50)),
            "name": f"{first} {last}",
            "login": email,
        },
        "shared_link": None if rng.random() < 0.7 else {"url": f"https://app.box.com/s/{index:x}"},
    }


def _ms_date(epoch: int) -> str:
    return f"/Date({epoch * 1000}+0000)/"


def xero_invoice(ctx: Context, index: int, ids: RecordIds) -> dict[str, Any]:
    """Return Xero invoice ``index``: PascalCase, decimal money, Microsoft JSON dates."""
    rng = _rng(ctx.seed, "xero.invoices", index)
    created = _moment(index, rng)
    day = f"{_day(created // 86_400)}T00:00:00"
    due = f"{_day(created // 86_400 + 30)}T00:00:00"
    lines = []
    subtotal = 0
    for _ in range(rng.randrange(1, 4)):
        quantity = rng.randrange(1, 10)
        unit = _cents(rng, 1000, 90_000)
        subtotal += quantity * unit
        lines.append(
            {
                "Description": rng.choice(("Consulting", "Licence", "Support", "Hardware")),
                "Quantity": float(quantity),
                "UnitAmount": unit / 100,
                "LineAmount": quantity * unit / 100,
                "AccountCode": rng.choice(("200", "260", "400")),
            }
        )
    tax = subtotal * 15 // 100
    paid = rng.random() < 0.5
    return {
        "InvoiceID": ids.id_for(index),
        "InvoiceNumber": f"INV-{index + 1:05d}",
        "Type": rng.choice(("ACCREC", "ACCPAY")),
        "Status": "PAID" if paid else rng.choice(("AUTHORISED", "DRAFT")),
        "Contact": {
            "ContactID": f"c{index % 97:07d}-0000-4000-8000-000000000000",
            "Name": rng.choice(COMPANIES),
        },
        "DateString": day,
        "Date": _ms_date(created - created % 86_400),
        "DueDateString": due,
        "LineItems": lines,
        "SubTotal": subtotal / 100,
        "TotalTax": tax / 100,
        "Total": (subtotal + tax) / 100,
        "AmountDue": 0.0 if paid else (subtotal + tax) / 100,
        "CurrencyCode": rng.choice(("NZD", "AUD", "GBP")),
        "UpdatedDateUTC": _ms_date(created + 3600),
    }


def quickbooks_customer(ctx: Context, index: int, ids: RecordIds) -> dict[str, Any]:
    """Return QuickBooks Online customer ``index``."""
    rng = _rng(ctx.seed, "quickbooks.customers", index)
    first, last, email = _person(rng)
    address = _address(rng)
    created = _moment(index, rng)
    company = None if rng.random() < 0.4 else rng.choice(COMPANIES)
    return {
        "Id": ids.id_for(index),
        "SyncToken": str(rng.randrange(4)),
        "DisplayName": f"{company or first + ' ' + last} ({index + 1})",
        "GivenName": first,
        "FamilyName": last,
        "CompanyName": company,
        "PrimaryEmailAddr": {"Address": email},
        "BillAddr": {
            "Line1": address["address1"],
            "City": address["city"],
            "CountrySubDivisionCode": address["province_code"],
            "PostalCode": address["zip"],
        },
        "Balance": _cents(rng, 0, 200_000) / 100 if rng.random() < 0.5 else 0.0,
        "Active": rng.random() < 0.95,
        "MetaData": {
            "CreateTime": iso_offset(created, -8),
            "LastUpdatedTime": iso_offset(created + rng.randrange(86_400 * 60), -8),
        },
    }


def notion_page_times(ctx: Context, index: int) -> tuple[int, int]:
    """Return page ``index``'s creation and last edit times without generating the page."""
    rng = _rng(ctx.seed, "notion.pages", index)
    created = _moment(index, rng) // 60 * 60
    rng.random()  # the title's draw
    return created, created + rng.randrange(86_400) // 60 * 60


def notion_page(ctx: Context, index: int, ids: RecordIds) -> dict[str, Any]:
    """Return Notion page ``index``."""
    rng = _rng(ctx.seed, "notion.pages", index)
    created = _moment(index, rng) // 60 * 60  # Notion rounds to the minute
    page_id = ids.id_for(index)
    title = (
        f"{rng.choice(('Roadmap', 'Meeting notes', 'Spec', 'Retro', 'Überblick')).strip()} {index}"
    )
    return {
        "object": "page",
        "id": page_id,
        "created_time": iso_z(created, 0),
        "last_edited_time": iso_z(created + rng.randrange(86_400) // 60 * 60, 0),
        "archived": False,
        "url": f"https://www.notion.so/{str(page_id).replace('-', '')}",
        "properties": {
            "Name": {"type": "title", "title": [{"plain_text": title}]},
            "Status": {
                "type": "select",
                "select": None
                if rng.random() < 0.2
                else {"name": rng.choice(("Done", "In progress"))},
            },
        },
    }


class RecordSource:
    """Records of one resource: generated by index, encoded as compact JSON, cached in bulk."""

    def __init__(
        self, generator: Generator, ids: RecordIds, ctx: Context, *, cache_size: int = 20_000
    ) -> None:
        self.generator = generator
        self.ids = ids
        self.ctx = ctx
        self.encoded = lru_cache(maxsize=cache_size)(self._encode)

    def record(self, index: int) -> dict[str, Any]:
        """Return the record at ``index`` as a fresh dict."""
        return self.generator(self.ctx, index, self.ids)

    def _encode(self, index: int) -> bytes:
        return encode(self.record(index))

    def page(self, start: int, stop: int) -> list[bytes]:
        """Return the encoded records from ``start`` up to (not including) ``stop``."""
        encoded = self.encoded
        return [encoded(index) for index in range(start, stop)]


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def encode(value: Any) -> bytes:
    """Return ``value`` as compact UTF-8 JSON."""
    return _ENCODER.encode(value).encode()
