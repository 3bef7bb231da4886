"""The command line's tables leave out columns empty in every row; ``--json`` keeps them all."""

from __future__ import annotations

import json

import pytest

from alloy_data.cli import main
from alloy_data.sandbox import Sandbox


def run(capsys: pytest.CaptureFixture[str], sandbox: Sandbox, *argv: str) -> str:
    api = ["--base-url", sandbox.url, "--api-key", sandbox.api_key]
    code = main([*argv, *api, "--user", sandbox.fixtures.user_id])
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def header_after(out: str, first_column: str) -> list[str]:
    """The words of the table's header row, the line that starts with ``first_column``."""
    return next(line.split() for line in out.splitlines() if line.startswith(first_column))


def test_credentials_show_no_empty_name_and_type_columns(
    capsys: pytest.CaptureFixture[str], sandbox: Sandbox
) -> None:
    # The contract's credentials carry no name and no type.
    out = run(capsys, sandbox, "credentials", "stripe")
    assert header_after(out, "credential") == ["credential", "created"]
    assert sandbox.fixtures.credentials["stripe"] in out
    rows = json.loads(run(capsys, sandbox, "credentials", "stripe", "--json"))
    assert set(rows[0]) == {"credential", "name", "type", "created"}
    assert rows[0]["name"] is None and rows[0]["type"] is None


def test_parameters_show_only_columns_some_parameter_fills(
    capsys: pytest.CaptureFixture[str], sandbox: Sandbox
) -> None:
    # No parameter of list-charges is required or says where it goes.
    out = run(capsys, sandbox, "action", "stripe", "list-charges")
    assert header_after(out, "parameter") == ["parameter", "type", "maximum", "description"]
    rows = json.loads(run(capsys, sandbox, "action", "stripe", "list-charges", "--json"))
    assert {"required", "in"} <= set(rows[0])


def test_filled_columns_stay(capsys: pytest.CaptureFixture[str], sandbox: Sandbox) -> None:
    out = run(capsys, sandbox, "connectors")
    assert header_after(out, "connector") == ["connector", "name", "category"]
