"""``ad.connect()``: the real API when a key is configured, else an embedded offline sandbox."""

from __future__ import annotations

import atexit
import logging
import os
import sys
from typing import Any, TextIO

import requests

from alloy_data.client import AlloyClient
from alloy_data.config import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, StoreOption

__all__ = ["connect"]


def connect(
    api_key: str | None = None,
    *,
    sandbox: bool | None = None,
    records: int | dict[str, int] | None = None,
    announce: TextIO | None = None,
    base_url: str | None = None,
    api_version: str | None = None,
    user_id: str | None = None,
    timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
    max_retries: int = DEFAULT_MAX_RETRIES,
    session: requests.Session | None = None,
    trust_env: bool = True,
    allow_insecure_http: bool = False,
    logger: logging.Logger | None = None,
    store: StoreOption = None,
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
        base_url: The API's URL (ignored for the sandbox, which has its own).
        api_version: Sent as ``x-api-version``; default ``ALLOY_API_VERSION`` or 2025-09.
        user_id: The user calls act for; for the sandbox, default its seeded user.
        timeout: Seconds, or ``(connect, read)`` seconds, for each request.
        max_retries: Retries after a failed attempt of one call.
        session: A ``requests.Session`` to send through (you keep ownership of it).
        trust_env: Read proxies, CA bundles and ``ALLOY_*`` variables from the environment.
        allow_insecure_http: Allow plain http to a host other than loopback.
        logger: Where the one-line request log goes (default ``alloy_data.http``).
        store: The local store of pulls (``client.store``), which pulls given ``max_age=``
            are served from: a folder, True (the user's data folder, found by
            ``platformdirs``), False (none); default ``ALLOY_DATA_STORE`` (``off`` for none),
            else the user's data folder.

    Returns:
        An :class:`AlloyClient`. For the sandbox, ``client.user_id`` is a seeded user who owns
        one credential per connector (``client.credentials.list(connector, user_id=...)``).
    """
    options: dict[str, Any] = {
        "api_version": api_version,
        "user_id": user_id,
        "timeout": timeout,
        "max_retries": max_retries,
        "session": session,
        "trust_env": trust_env,
        "allow_insecure_http": allow_insecure_http,
        "logger": logger,
        "store": store,
    }
    key = api_key or (os.environ.get("ALLOY_API_KEY") if trust_env else None)
    if sandbox is False or (sandbox is None and key):
        return AlloyClient(key, base_url=base_url, **options)

    from alloy_data.sandbox import Sandbox

    server = Sandbox(port=0, records=records)
    server.start()
    atexit.register(server.stop)
    options["user_id"] = user_id or server.fixtures.user_id
    client = AlloyClient(server.api_key, base_url=server.url, **options)
    client.add_close_callback(server.stop)
    print(
        f"alloy-data: no ALLOY_API_KEY set, so this uses the offline sandbox at {server.url} "
        "(demo data, no account needed).",
        file=announce or sys.stdout,
    )
    return client
