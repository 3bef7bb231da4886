"""An offline, deterministic Alloy Connectivity API on loopback.

>>> from alloy_data.sandbox import serve
>>> with serve(port=0) as sb:  # doctest: +SKIP
...     sb.url, sb.api_key, sb.fixtures.credentials["shopify"]

It imports nothing else from ``alloy_data`` and only the standard library.
"""

from __future__ import annotations

from alloy_data.sandbox.app import Fixtures, Sandbox, serve
from alloy_data.sandbox.cli import main
from alloy_data.sandbox.clock import Changes, ClockTick
from alloy_data.sandbox.faults import FAULT_KINDS
from alloy_data.sandbox.limits import RateLimitRule
from alloy_data.sandbox.tenants import Tenant

__all__ = [
    "FAULT_KINDS",
    "Changes",
    "ClockTick",
    "Fixtures",
    "RateLimitRule",
    "Sandbox",
    "Tenant",
    "main",
    "serve",
]
