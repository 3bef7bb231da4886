"""The sandbox in a process of its own for a benchmark, and the ids a benchmark pulls with."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def sandbox_process(api_key: str, *arguments: str) -> Iterator[str]:
    """Run ``python -m alloy_data.sandbox --port 0`` with ``arguments`` for the block.

    Yields:
        The sandbox's URL.
    """
    command = [
        sys.executable, "-m", "alloy_data.sandbox", "--port", "0", "--api-key", api_key,
        *arguments,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"http://[0-9.:]+", line)
        if not found:
            raise SystemExit(f"the sandbox did not start: {line!r}")
        yield found.group(0)
    finally:
        process.terminate()
        process.wait(timeout=10)


def first_credentials(
    url: str, api_key: str, connectors: Iterable[str]
) -> tuple[str, dict[str, str]]:
    """The sandbox's first user, and that user's first credential of each connector."""
    import requests

    with requests.Session() as session:
        session.trust_env = False
        session.headers["Authorization"] = f"Bearer {api_key}"
        user = session.get(f"{url}/users", timeout=30).json()["data"][0]["userId"]
        credentials = {}
        for connector in connectors:
            listed = session.get(
                f"{url}/connectors/{connector}/credentials", params={"userId": user}, timeout=30
            ).json()["credentials"]
            credentials[connector] = listed[0]["credentialId"]
    return user, credentials
