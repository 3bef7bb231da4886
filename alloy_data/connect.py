"""``ad.connect()``: the real API when a key is configured, else an embedded offline sandbox."""

from __future__ import annotations

import atexit
import os
import sys
from typing import Any, TextIO

from alloy_data.client import AlloyClient

__all__ = ["connect"]


def connect(
    api_key: str | None = None,
    *,
    sandbox: bool | None = None,
    records: int | dict[str, int] | None = None,
    announce: TextIO | None = None,
    **options: Any,
) -> AlloyClient:
    """Return a client for the real Alloy API, or for an offline sandbox when there is no key.

    With an API key (the argument, or ``ALLOY_API_KEY``) this is ``AlloyClient(api_key, ...)``.
    Without one it starts the embedded sandbox (demo data for Shopify, HubSpot, Stripe, ...) in
    a background thread, and says so in one line. The sandbox stops when the client is closed
    or the interpreter exits.

    Args:
        api_key: The API key; default ``ALLOY_API_KEY``.
        sandbox: True forces the sandbox, False forbids it (a missing key is then an error),
            None decides by the key.
        records: Record counts for the sandbox's list actions (an int, or per connector).
        announce: Where the one-line notice goes (default stdout).
        **options: Passed on to :class:`AlloyClient` (``base_url``, ``user_id``, ``timeout``...).

    Returns:
        An :class:`AlloyClient`. For the sandbox, ``client.user_id`` is a seeded user who owns
        one credential per connector (``client.credentials.list(connector, user_id=...)``).
    """
    trust_env = options.get("trust_env", True)
    key = api_key or (os.environ.get("ALLOY_API_KEY") if trust_env else None)
    if sandbox is False or (sandbox is None and key):
        return AlloyClient(key, **options)

    from alloy_data.sandbox import Sandbox

    server = Sandbox(port=0, records=records)
    server.start()
    atexit.register(server.stop)
    options.setdefault("user_id", server.fixtures.user_id)
    options["base_url"] = server.url
    client = AlloyClient(server.api_key, **options)
    client.add_close_callback(server.stop)
    print(
        f"alloy-data: no ALLOY_API_KEY set, so this uses the offline sandbox at {server.url} "
        "(demo data, no account needed).",
        file=announce or sys.stdout,
    )
    return client
