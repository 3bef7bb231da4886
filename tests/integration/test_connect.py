"""ad.connect() and the README's examples, run as an analyst would run them."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import alloy_data as ad

README = Path(__file__).resolve().parents[2] / "README.md"


def test_connect_without_a_key_starts_the_sandbox_and_says_so(monkeypatch):
    monkeypatch.delenv("ALLOY_API_KEY", raising=False)
    said = io.StringIO()
    with ad.connect(announce=said, records={"stripe": 30}) as client:
        assert client.config.base_url.startswith("http://127.0.0.1:")
        credentials = client.credentials.list("stripe", user_id=client.user_id)
        frame = client.pull(
            "stripe", "list-charges", progress=False, credential_id=credentials[0].credential_id
        ).to_dataframe()
        url = client.config.base_url
    assert len(frame) == 30
    line = said.getvalue()
    assert line.count("\n") == 1 and "offline sandbox" in line and url in line
    key = client.config.api_key
    assert key not in line


def test_connect_stops_its_sandbox_when_the_client_closes(monkeypatch):
    monkeypatch.delenv("ALLOY_API_KEY", raising=False)
    client = ad.connect(announce=io.StringIO())
    client.connectors.list()
    client.close()
    with ad.AlloyClient(client.config.api_key, base_url=client.config.base_url) as other:
        other._transport.retry_policy = type(other._transport.retry_policy)(max_retries=0)
        with pytest.raises(ad.AlloyConnectionError):
            other.connectors.list()


def test_connect_with_a_key_uses_the_real_api_settings(monkeypatch):
    monkeypatch.setenv("ALLOY_API_KEY", "sk_test_connect_1234567890")
    said = io.StringIO()
    client = ad.connect(announce=said)
    try:
        assert client.config.base_url == "https://production.runalloy.com"
        assert said.getvalue() == ""
        assert "sk_test_connect_1234567890" not in repr(client)
    finally:
        client.close()


def test_connect_can_be_told_to_refuse_the_sandbox(monkeypatch):
    monkeypatch.delenv("ALLOY_API_KEY", raising=False)
    with pytest.raises(ad.ConfigurationError, match="ALLOY_API_KEY"):
        ad.connect(sandbox=False)


def readme_python_blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, re.DOTALL)


def test_the_readme_has_python_examples():
    assert len(readme_python_blocks()) >= 2


@pytest.mark.parametrize("index", range(2), ids=["first-example", "pull-example"])
def test_readme_examples_run_against_the_sandbox(index, tmp_path):
    # The blocks build on each other, as cells of a notebook do.
    code = "\n".join(readme_python_blocks()[: index + 1])
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ALLOY_")}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "offline sandbox" in result.stdout
    if index == 1:
        assert (tmp_path / "contacts.parquet").is_file()
        assert "records in" in result.stdout
