"""One sandbox action for each paging convention, for tests that run a path through them all."""

from __future__ import annotations

import pytest

#: connector, list action, the field that identifies a record; one per paging convention.
EVERY_CONVENTION = [
    pytest.param("hubspot", "list-contacts", "id", id="cursor"),
    pytest.param("shopify", "list-orders", "id", id="relay"),
    pytest.param("stripe", "list-charges", "id", id="last-id"),
    pytest.param("box", "list-files", "id", id="offset"),
    pytest.param("zendesk", "list-tickets", "id", id="next-link"),
    pytest.param("xero", "list-invoices", "InvoiceID", id="page-number"),
    pytest.param("quickbooks", "list-customers", "Id", id="alloy-offset"),
]
