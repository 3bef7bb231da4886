"""Fixtures for tests against the sandbox on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from alloy_data.sandbox import Sandbox, serve


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """A running seed-dialect sandbox with default records, shared by the session.

    Do not inject faults into it; start your own with ``serve()`` for that.
    """
    with serve(port=0, seed=0) as running:
        yield running


@pytest.fixture(scope="session")
def live_sandbox() -> Iterator[Sandbox]:
    """A running live-dialect sandbox with default records, shared by the session."""
    with serve(port=0, dialect="live", seed=0) as running:
        yield running
