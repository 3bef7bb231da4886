"""Rich display of pulls in notebooks: what will be pulled, what a run did, and never a secret."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest

import alloy_data as ad
from alloy_data.http import RetryPolicy
from alloy_data.sandbox import Sandbox, serve

# Planted in the parameters under a secret-looking name and under a plain one.
# Put together here so that secret scanners do not take this fake live key for a leak.
PLANTED = "_".join(["sk", "live", "planted", "0123456789abcdef"])
HOSTILE = "<script>alert('x')</script>"


class _Balanced(HTMLParser):
    """Collects the text and checks that every element opened is closed, in order."""

    VOID = {"br", "hr", "img", "input", "meta", "link"}

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open[-1:]}"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def shown_text(html: str) -> str:
    """The text a browser shows for ``html``, after checking that the HTML is well formed."""
    parser = _Balanced()
    parser.feed(html)
    parser.close()
    assert parser.open == [], f"unclosed: {parser.open}"
    return " ".join(" ".join(parser.text).split())


@pytest.fixture(scope="module")
def faulty() -> Iterator[Sandbox]:
    with serve(port=0, seed=11, records=400, fault_rate=0.2, faults=["429", "503"]) as sb:
        yield sb


def client_for(sb: Sandbox, api_key: str | None = None) -> ad.AlloyClient:
    client = ad.AlloyClient(api_key or sb.api_key, base_url=sb.url, user_id=sb.fixtures.user_id)
    client._transport.retry_policy = RetryPolicy(
        max_retries=8, backoff_base=0.01, retry_after_cap=0.01
    )
    return client


def assert_no_secret(html: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in html
        assert secret[6:20] not in html  # not a part of it either


def test_a_pull_shows_what_it_will_fetch_before_it_runs(faulty: Sandbox) -> None:
    with client_for(faulty) as client:
        pull = client.pull(
            "stripe",
            "list-charges",
            credential_id=faulty.fixtures.credentials["stripe"],
            parameters={"api_key": PLANTED, "note": HOSTILE, "echo": faulty.api_key},
            max_records=120,
            timestamps="guess",
            columns=["id", "amount"],
            flatten="struct",
            flatten_depth=2,
            progress=False,
        )
        html = pull._repr_html_()
    text = shown_text(html)
    assert "Pull: stripe list-charges" in text
    assert "columns id, amount" in text and "flatten struct, depth 2" in text
    assert f"credential {faulty.fixtures.credentials['stripe']}" in text
    assert "max records 120" in text
    assert "timestamps guess" in text
    assert "Last run" not in text
    assert HOSTILE not in html
    assert "&lt;script&gt;" in html
    assert HOSTILE in text  # shown as text, escaped
    assert_no_secret(html, PLANTED, faulty.api_key)
    assert repr(pull).startswith("Pull('stripe', 'list-charges'")


def test_after_a_run_it_shows_retries_with_reasons_paginator_and_page_size(
    faulty: Sandbox,
) -> None:
    with client_for(faulty) as client:
        pull = client.pull(
            "stripe",
            "list-charges",
            credential_id=faulty.fixtures.credentials["stripe"],
            page_size=50,
            progress=False,
        )
        pull.to_arrow()
        html = pull._repr_html_()
    stats = pull.stats
    assert stats.retries, "the sandbox injected no fault: raise fault_rate"
    text = shown_text(html)
    assert f"records {stats.records:,}" in text
    assert f"pages {stats.pages}" in text
    assert f"requests {stats.requests}" in text
    for reason, count in stats.retry_reasons.items():
        assert f"{reason} x{count}" in text
    assert f"paginator {stats.paginator} ({stats.detection})" in text
    assert stats.page_size_reason.startswith("page size 50")
    assert f"page size {stats.page_size_reason}" in text
    assert "one request after another" in text  # last-id paging cannot overlap
    assert "created converted from epoch seconds" in text
    assert shown_text(stats._repr_html_()).startswith("Last run")
    assert str(stats).startswith(f"{stats.records} records in {stats.pages} pages")


@pytest.fixture(scope="module")
def drifting() -> Iterator[Sandbox]:
    # HubSpot contacts gain a field after the first pages (drift), and max_pages leaves data.
    with serve(port=0, seed=4, records={"hubspot": 450}) as sb:
        yield sb


def test_drift_is_a_table_and_warnings_are_marked(drifting: Sandbox) -> None:
    with client_for(drifting) as client:
        pull = client.pull(
            "hubspot",
            "list-contacts",
            credential_id=drifting.fixtures.credentials["hubspot"],
            progress=False,
        )
        pull.to_arrow()
        pull.stats.warnings.append("stopped on a repeated cursor <b>early</b>")
        html = pull._repr_html_()
    assert pull.stats.drift, "the sandbox produced no drift for this test to show"
    drift = pull.stats.drift[0]
    row = re.search(r"<tr>(<td[^>]*>[^<]*</td>){4}</tr>", html)
    assert row is not None, "no drift table row"
    assert drift.column in shown_text(row.group(0))
    assert f"{drift.old_type}" in shown_text(html)
    assert "&lt;b&gt;early&lt;/b&gt;" in html
    assert re.search(r">warning</span> stopped on a repeated cursor", html)


def test_a_multipull_shows_credentials_failures_and_totals(faulty: Sandbox) -> None:
    good = faulty.fixtures.credentials["stripe"]
    options = {"credentials": [good, "cred_missing"], "max_records": 100, "progress": False}
    with client_for(faulty) as client:
        planned = client.pull_many(
            "stripe", "list-charges", parameters={"token": PLANTED}, **options
        )._repr_html_()
        many = client.pull_many("stripe", "list-charges", **options)
        many.to_arrow()
        html = many._repr_html_()
    before = shown_text(planned)
    assert "MultiPull: stripe list-charges" in before
    assert f"credentials {good}, cred_missing" in before
    assert '"token": "***"' in before
    assert "Last run" not in before
    assert_no_secret(planned, PLANTED, faulty.api_key)
    text = shown_text(html)
    assert "credentials 1 of 2 pulled, 1 failed" in text
    assert "Failures (1)" in text
    failure = many.stats.failures[0]
    assert f"cred_missing {failure.user_id} {type(failure.error).__name__}: " in text
    assert f"records {many.stats.records}" in text
    assert_no_secret(html, faulty.api_key)
    assert str(many.stats).startswith(f"{many.stats.records} records from 1 of 2 credentials")


def test_the_client_key_never_shows_even_where_a_parameter_echoes_it() -> None:
    key = "sk_test_<&>_" + "x" * 24  # characters that HTML escapes, to catch an escaped leak
    with serve(port=0, seed=1, api_key=key) as sb, client_for(sb, key) as client:
        pull = client.pull(
            "stripe",
            "list-charges",
            credential_id=sb.fixtures.credentials["stripe"],
            parameters={"q": key},
            progress=False,
        )
        html = pull._repr_html_()
    assert "sk_test_&lt;&amp;&gt;_" not in html
    assert_no_secret(html, key)
