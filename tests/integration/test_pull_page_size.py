"""The largest page each app allows, found as a person would, against the sandbox's apps.

The contract carries no maximum for a parameter, so the sandbox's apps state theirs only in
words, only in the 400 they send for a page too large (with or without the number), or nowhere
(they serve fewer records than asked). Every pull must end up at the app's largest page, make
no more requests than that page size allows, and say in ``stats`` which size and why.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

import alloy_data as ad
from alloy_data.sandbox import Sandbox, serve

RECORDS = 2_000

# connector, action, the page size found, refused first requests, what stats' reason says
CASES = [
    ("shopify", "list-orders", 250, 1, "refused 1000 (first: must be <= 250"),
    ("hubspot", "list-contacts", 100, 1, "less than or equal to 100"),
    ("hubspot", "list-companies", 62, 4, "refused 125 (Invalid input: limit"),
    ("stripe", "list-charges", 100, 0, "the most its description allows"),
    ("zendesk", "list-tickets", 100, 0, "the most the app sends a page"),
    ("box", "list-files", 1000, 0, "states no maximum"),
    ("xero", "list-invoices", 1000, 0, "the most its description allows"),
    ("quickbooks", "list-customers", 50, 0, "the most its description allows"),
    ("notion", "list-pages", 100, 0, "the most its description allows"),
]


@pytest.fixture(scope="module", params=["seed", "live"])
def sb(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    with serve(port=0, seed=4, dialect=request.param, records=RECORDS) as running:
        yield running


@pytest.mark.parametrize(
    ("connector", "action", "size", "refused", "reason"),
    CASES,
    ids=[f"{c}-{a}" for c, a, *_ in CASES],
)
def test_a_pull_pages_at_the_largest_size_the_app_allows(
    sb: Sandbox, connector: str, action: str, size: int, refused: int, reason: str
) -> None:
    with ad.AlloyClient(sb.api_key, base_url=sb.url, user_id=sb.fixtures.user_id) as client:
        pull = client.pull(
            connector, action, credential_id=sb.fixtures.credentials[connector], progress=False
        )
        frame = pull.to_dataframe()
    stats = pull.stats
    assert len(frame) == RECORDS
    if sb.dialect == "live" and connector == "box":
        # The live schema declares Box's maximum, so nothing is probed.
        reason = "the most the action declares"
    assert stats.page_size == size
    assert reason in (stats.page_size_reason or "")
    assert stats.refused_page_sizes == refused
    pages = math.ceil(RECORDS / size)
    # Paging without a total or a "more" flag asks once past the end to see it.
    assert pages <= stats.pages <= pages + 1
    # No more requests than the largest page allows, plus the refused ones; requests side by
    # side without a total may ask for pages past the end, at most one per request in flight.
    overlap = stats.concurrency - 1
    assert stats.pages + refused <= stats.requests <= stats.pages + refused + overlap


def test_a_page_size_you_ask_for_above_the_stated_maximum_is_lowered(sb: Sandbox) -> None:
    with ad.AlloyClient(sb.api_key, base_url=sb.url, user_id=sb.fixtures.user_id) as client:
        pull = client.pull(
            "stripe",
            "list-charges",
            credential_id=sb.fixtures.credentials["stripe"],
            page_size=500,
            progress=False,
        )
        assert len(pull.to_dataframe()) == RECORDS
    assert pull.stats.page_size == 100
    assert "lowered to 100" in (pull.stats.page_size_reason or "")
    assert pull.stats.refused_page_sizes == 0


def test_a_page_size_you_ask_for_that_the_app_refuses_is_lowered_too(sb: Sandbox) -> None:
    with ad.AlloyClient(sb.api_key, base_url=sb.url, user_id=sb.fixtures.user_id) as client:
        pull = client.pull(
            "hubspot",
            "list-contacts",
            credential_id=sb.fixtures.credentials["hubspot"],
            page_size=300,
            progress=False,
        )
        assert len(pull.to_dataframe()) == RECORDS
    assert pull.stats.page_size == 100
    assert pull.stats.refused_page_sizes == 1


def test_a_page_size_in_your_parameters_is_sent_as_it_is(sb: Sandbox) -> None:
    with ad.AlloyClient(sb.api_key, base_url=sb.url, user_id=sb.fixtures.user_id) as client:
        pull = client.pull(
            "hubspot",
            "list-contacts",
            credential_id=sb.fixtures.credentials["hubspot"],
            parameters={"limit": 300},
            progress=False,
        )
        with pytest.raises(ad.BadRequestError, match="less than or equal to 100"):
            pull.to_dataframe()
