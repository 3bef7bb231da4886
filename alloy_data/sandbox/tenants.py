"""Tenants: extra users, each owning one credential per connector with records of its own.

An embedded iPaaS serves many customers, each of whom connected their own store, CRM or
ledger. Tenant ``i``'s credential for a connector serves records drawn from the seed, ``i`` and
the connector, with ids in a block of their own (so no two credentials share a record id), and
as many of them as the ``tenant_records`` option says. Nothing is generated or kept for a
credential until its records are first asked for.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from alloy_data.sandbox.catalog import UNPAGINATED_MAXIMUM, Connector, Resource
from alloy_data.sandbox.listings import Listing
from alloy_data.sandbox.paging import Unpaginated
from alloy_data.sandbox.records import Context, RecordSource

#: Record ``i`` of tenant ``t`` has the id the app would give record ``i + (t + 1) * ID_BLOCK``.
ID_BLOCK = 1_000_000_000
#: The most tenants one sandbox makes (ids stay inside every app's id format up to here).
MAX_TENANTS = 10_000

#: How many records each tenant credential's list actions serve: None for a seeded size
#: between a fifth and twice the fixture credentials' count, an int for all, one int per
#: tenant, or a function of ``(tenant index, connector id, action id)``.
TenantRecords: TypeAlias = int | Sequence[int] | Callable[[int, str, str], int] | None


@dataclass(frozen=True)
class Tenant:
    """A user made by the ``tenants`` option, owning one credential per connector.

    Attributes:
        index: Its position in ``fixtures.tenants`` (0 for the first).
        user_id: The user's id.
        username: ``tenant-001``, ``tenant-002``, ...
        credentials: One credential id per connector id; each serves its own records.
    """

    index: int
    user_id: str
    username: str
    credentials: dict[str, str]


def _number(*parts: object) -> int:
    text = ":".join(str(part) for part in parts)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def _checked_count(count: object, where: str) -> int:
    if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count < ID_BLOCK:
        raise ValueError(f"{where} must be an int from 0 to {ID_BLOCK - 1:,}, got {count!r}")
    return count


def list_action_id(resource: Resource) -> str:
    """Return the id of ``resource``'s list action (``list-orders``)."""
    return f"list-{resource.resource_id}"


class TenantListings:
    """Each tenant credential's own records, set up the first time they are asked for.

    Args:
        seed: The sandbox's seed.
        catalog: The connectors by id.
        base_totals: The fixture credentials' record count per ``(connector id, resource
            id)``; seeded tenant sizes are drawn around it.
        tenants: How many tenants there are.
        sizes: See :data:`TenantRecords`.

    Raises:
        ValueError: For a count below 0 or from :data:`ID_BLOCK` on, or a list of counts whose
            length is not ``tenants``.
    """

    def __init__(
        self,
        *,
        seed: int,
        catalog: Mapping[str, Connector],
        base_totals: Mapping[tuple[str, str], int],
        tenants: int,
        sizes: TenantRecords = None,
    ) -> None:
        self.seed = seed
        self.catalog = catalog
        self.base_totals = base_totals
        self.tenants = tenants
        self.base_url = ""
        self._sizes = sizes
        self._owners: dict[str, tuple[int, str]] = {}
        self._listings: dict[tuple[str, str], Listing] = {}
        self._lock = threading.Lock()
        self._check_sizes(tenants)

    def _check_sizes(self, tenants: int) -> None:
        sizes = self._sizes
        if sizes is None:
            return
        if isinstance(sizes, int):
            _checked_count(sizes, "tenant_records")
        elif callable(sizes):
            # Called once per tenant and list action now, so a bad count fails here and not
            # as a 500 in the middle of a pull.
            for tenant in range(tenants):
                for connector in self.catalog.values():
                    for resource in connector.resources:
                        self.total(tenant, connector.connector_id, resource)
        elif isinstance(sizes, Sequence) and not isinstance(sizes, str):
            if len(sizes) != tenants:
                raise ValueError(
                    f"tenant_records has {len(sizes)} counts for {tenants} tenants; "
                    "give one per tenant"
                )
            for tenant, count in enumerate(sizes):
                _checked_count(count, f"tenant_records[{tenant}]")
        else:
            raise TypeError(
                "tenant_records must be an int, a list of ints (one per tenant) or a function "
                "of (tenant index, connector id, action id)"
            )

    def total(self, tenant: int, connector_id: str, resource: Resource) -> int:
        """Return how many records tenant ``tenant``'s list action of ``resource`` serves."""
        sizes = self._sizes
        action_id = list_action_id(resource)
        if sizes is None:
            base = self.base_totals[(connector_id, resource.resource_id)]
            low, high = base // 5, 2 * base
            count = low + _number(self.seed, "tenant-size", tenant, connector_id, action_id) % (
                high - low + 1
            )
        elif isinstance(sizes, int):
            count = sizes
        elif callable(sizes):
            where = f"tenant_records({tenant}, {connector_id!r}, {action_id!r})"
            count = _checked_count(sizes(tenant, connector_id, action_id), where)
        else:
            count = sizes[tenant]
        if isinstance(resource.actions[0].convention, Unpaginated):
            # The app answers everything at once, so it stays small.
            count = min(count, UNPAGINATED_MAXIMUM)
        return count

    def largest(self, connector_id: str, resource: Resource) -> int:
        """Return the most records any tenant's list action of ``resource`` starts with."""
        sizes = self._sizes
        if sizes is None:
            return 2 * self.base_totals[(connector_id, resource.resource_id)]
        if isinstance(sizes, int):
            return sizes
        if callable(sizes):
            return max(
                (self.total(tenant, connector_id, resource) for tenant in range(self.tenants)),
                default=0,
            )
        return max(sizes, default=0)

    def add(self, credential_id: str, tenant: int, connector_id: str) -> None:
        """Give ``credential_id`` tenant ``tenant``'s records of ``connector_id``."""
        with self._lock:
            self._owners[credential_id] = (tenant, connector_id)

    def listing(self, credential_id: str, resource_id: str) -> Listing | None:
        """Return the records ``credential_id`` serves for ``resource_id``.

        Returns:
            The listing, made on first use, or None when the credential is not a tenant's.
        """
        owner = self._owners.get(credential_id)
        if owner is None:
            return None
        key = (credential_id, resource_id)
        listing = self._listings.get(key)
        if listing is None:
            with self._lock:
                listing = self._listings.get(key)
                if listing is None:
                    listing = self._listings[key] = self._make(credential_id, *owner, resource_id)
        return listing

    def _make(
        self, credential_id: str, tenant: int, connector_id: str, resource_id: str
    ) -> Listing:
        connector = self.catalog[connector_id]
        resource = next(r for r in connector.resources if r.resource_id == resource_id)
        context = Context(_number(self.seed, "tenant-records", tenant, connector_id), self.base_url)
        source = RecordSource(
            resource.generator,
            resource.ids.shifted((tenant + 1) * ID_BLOCK),
            context,
            # Served pages are cached (bounded by cache_mb); a record cache per credential
            # would grow with the number of tenants.
            cache_size=0,
        )
        return Listing(
            resource,
            source,
            self.total(tenant, connector_id, resource),
            scope=f"{connector_id}/{resource_id}/{credential_id}",
        )

    def set_base_url(self, base_url: str) -> None:
        """Use ``base_url`` in records' links from now on."""
        with self._lock:
            self.base_url = base_url
            for listing in self._listings.values():
                listing.source.ctx.base_url = base_url
