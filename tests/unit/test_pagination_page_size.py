"""Reading an app's largest page from its words and from its 400 answers, without sockets."""

from __future__ import annotations

import pytest

from alloy_data.models import ActionParameter
from alloy_data.pagination import maximum_in_words, stated_maximum
from alloy_data.pagination._page_size import smaller_page_size


@pytest.mark.parametrize(
    ("words", "maximum"),
    [
        ("max 100", 100),
        ("Number of results (default 10, max 100)", 100),
        ("maximum 50", 50),
        ("Maximum: 100", 100),
        ("The maximum is 200.", 200),
        ("(max. 500)", 500),
        ("between 1 and 250", 250),
        ("Limit can range between 1 and 100, and the default is 10.", 100),
        ("up to 1000", 1000),
        ("Returns up to a maximum of 5,000 rows", 5000),
        ("1-100", 100),
        ("Page size (1\u2013200)", 200),
        ("cannot exceed 500", 500),
        ("Must not exceed 2,000 items", 2000),
        ("<= 250", 250),
        ("must be less than or equal to 100", 100),
        ("at most 75 per page", 75),
        ("no more than 40", 40),
        ("from 1 to 300", 300),
    ],
)
def test_a_maximum_stated_in_words_is_read(words: str, maximum: int) -> None:
    assert maximum_in_words(words) == maximum


@pytest.mark.parametrize(
    "words",
    [
        None,
        "",
        "The maximum number of results to display per page.",
        "Returns up to the first n elements from the list.",
        "Created since 2024-05-01",
        "Number of records to return per page.",
    ],
)
def test_words_without_a_maximum_give_none(words: str | None) -> None:
    assert maximum_in_words(words) is None


def test_a_declared_maximum_wins_over_the_words() -> None:
    declared = ActionParameter(name="limit", maximum=200, description="max 100")
    described = ActionParameter(name="limit", description="max 100")
    silent = ActionParameter(name="limit", description="How many.")
    assert stated_maximum(declared) == (200, "declared")
    assert stated_maximum(described) == (100, "described")
    assert stated_maximum(silent) == (None, "")


@pytest.mark.parametrize(
    ("message", "asked", "expected"),
    [
        ("limit must be less than or equal to 100", 1000, 100),
        ("first: must be <= 250", 1000, 250),
        ("parameter 'limit' must be at most 100 (got 1000)", 1000, 100),
        ("body.page_size should be ≤ `100`, instead was `1000`.", 1000, 100),
        ("Invalid input: limit", 1000, 500),
        ("The page size is too large", 250, 125),
        ("Invalid integer: 1000. limit must be less than or equal to 100", 1000, 100),
    ],
)
def test_a_refused_page_size_is_lowered_as_the_message_says(
    message: str, asked: int, expected: int
) -> None:
    assert smaller_page_size(message, asked, "limit") == expected


@pytest.mark.parametrize(
    "message",
    [
        "unknown parameter 'color' for action 'list-orders' (accepted: first, after)",
        "unknown parameter 'color' for action 'list-orders' (accepted: after, limit)",
        "parameter 'status' must be one of open, closed",
        "credentialId is not a valid ObjectId",
    ],
)
def test_a_400_about_something_else_is_not_taken_for_the_page_size(message: str) -> None:
    assert smaller_page_size(message, 1000, "limit") is None


def test_a_page_size_of_one_is_not_lowered() -> None:
    assert smaller_page_size("limit too large", 1, "limit") is None
