"""Decoding answers: orjson first, the standard library for what orjson refuses."""

from __future__ import annotations

import json
import math

import pytest

from alloy_data import _json


def test_orjson_is_used_when_installed() -> None:
    assert _json.orjson is not None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b'{"a": [1, 2.5, "Zo\xc3\xab", null, true]}', {"a": [1, 2.5, "Zoë", None, True]}),
        (b'{"big": 123456789012345678901234567890}', {"big": 123456789012345678901234567890}),
        ('{"text": "渡辺"}', {"text": "渡辺"}),
        (b'{"max": 18446744073709551615}', {"max": 18446744073709551615}),
        (b'{"over": 18446744073709551616}', {"over": 18446744073709551616}),
        (b'{"min": -9223372036854775808}', {"min": -9223372036854775808}),
        (b'{"under": -9223372036854775809}', {"under": -9223372036854775809}),
    ],
    ids=["plain", "beyond-64-bits", "str-input", "u64-max", "u64-max+1", "i64-min", "i64-min-1"],
)
def test_loads(text, expected) -> None:
    decoded = _json.loads(text)
    assert decoded == expected
    # Equal is not enough: 2**64 == float(2**64). Integers must stay integers.
    assert [type(v) for v in decoded.values()] == [type(v) for v in expected.values()]


def test_nan_is_read_as_the_standard_library_reads_it() -> None:
    assert math.isnan(_json.loads(b'{"x": NaN}')["x"])


def test_invalid_json_says_where() -> None:
    with pytest.raises(json.JSONDecodeError) as caught:
        _json.loads(b'{"a": [1, 2')
    assert caught.value.pos == len(b'{"a": [1, 2')


def test_without_orjson_the_standard_library_decodes(monkeypatch) -> None:
    monkeypatch.setattr(_json, "orjson", None)
    assert _json.loads(b'{"a": 1}') == {"a": 1}
