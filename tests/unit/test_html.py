"""The HTML fragments of rich display escape every value and leave out what is empty."""

from __future__ import annotations

from alloy_data import _html

HOSTILE = "<img src=x onerror=\"alert('x')\"> & co"


def test_every_value_and_label_is_escaped() -> None:
    fragments = [
        _html.key_values([(HOSTILE, HOSTILE)]),
        _html.grid([HOSTILE], [[HOSTILE]]),
        _html.items([HOSTILE]),
        _html.items([HOSTILE], warning=True),
        _html.details(HOSTILE, "<p>body</p>"),
        _html.block(HOSTILE),
    ]
    for fragment in fragments:
        assert "<img" not in fragment
        assert "&lt;img src=x onerror=&quot;alert(&#x27;x&#x27;)&quot;&gt; &amp; co" in fragment


def test_empty_parts_render_nothing() -> None:
    assert _html.key_values([("pages", None)]) == ""
    assert _html.grid(["column"], []) == ""
    assert _html.items([]) == ""
    assert _html.details("Notes (0)", "") == ""


def test_rows_with_a_value_are_kept_in_order() -> None:
    table = _html.key_values([("records", 5), ("total", None), ("pages", 0)])
    assert table.index(">records<") < table.index(">5<") < table.index(">pages<")
    assert ">0<" in table
    assert "total" not in table
