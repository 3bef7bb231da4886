"""Parsing the sandbox command line's options."""

from __future__ import annotations

import pytest

from alloy_data.sandbox.cli import _records, build_parser


@pytest.mark.parametrize(
    ("argv", "expected"),
    [([], None), (["--records", "500"], 500),
     (["--records", "box=3", "shopify=0"], {"box": 3, "shopify": 0}),
     (["--records", "box=3", "--records", "xero=9"], {"box": 3, "xero": 9})],
    ids=["default", "one-count", "pairs", "repeated-flag"],
)  # fmt: skip
def test_records_option(argv, expected):
    assert _records(build_parser().parse_args(argv).records) == expected


def test_records_option_refuses_a_bare_word():
    with pytest.raises(ValueError):
        _records(["box=3", "many"])


def test_defaults_are_a_loopback_seed_dialect_server():
    args = build_parser().parse_args([])
    assert (args.host, args.dialect, args.seed, args.fault_rate) == ("127.0.0.1", "seed", 0, 0.0)


def test_limit_flags_become_rules_and_a_wrong_one_is_refused(capsys):
    args = build_parser().parse_args(["--limit", "20/2s", "--limit", "100/60s:key:ietf"])
    assert [(r.requests, r.seconds, r.scope, r.headers) for r in args.limit] == [
        (20, 2.0, "credential", "x-ratelimit"),
        (100, 60.0, "key", "ietf"),
    ]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--limit", "20/2s:hourly"])
    assert "'hourly' in '20/2s:hourly' is none of" in capsys.readouterr().err
