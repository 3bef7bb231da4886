"""The client guide's first example runs against the sandbox as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import alloy_data

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "client.md"


def test_first_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    if not hasattr(alloy_data, "AlloyClient"):
        pytest.skip("alloy_data does not export AlloyClient yet")
    example = re.search(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.DOTALL)
    assert example is not None, "docs/client.md has no Python example"
    exec(compile(example.group(1), str(GUIDE), "exec"), {"__name__": "client_guide"})
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("AlloyClient(base_url='http://127.0.0.1:")
    assert "orders list-orders" in printed
    assert printed[-1] == "#1001"
