"""A list action's records as one credential sees them."""

from __future__ import annotations

from dataclasses import dataclass, field

from alloy_data.sandbox.catalog import Resource
from alloy_data.sandbox.records import RecordSource


@dataclass
class Listing:
    """A resource's records as served: the source, how many there are and what was created.

    Attributes:
        resource: The resource (its actions, paging convention and answer shapes).
        source: Generates and encodes the records; its ``ids`` are the ids served.
        total: How many records the list action serves.
        created: Records made by the ``create-*`` action, by id, encoded.
        scope: Binds cursors and cached pages to these records (``connector/resource``, and
            the credential for a tenant's own records).
    """

    resource: Resource
    source: RecordSource
    total: int
    created: dict[str, bytes] = field(default_factory=dict)
    scope: str = ""
