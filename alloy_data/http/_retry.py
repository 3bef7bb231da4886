"""When to retry and how long to wait: the backoff policy, ``Retry-After``, and what a
transport failure means (may the request have reached the server?)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.retry import Retry

__all__ = ["RETRY_STATUSES", "Failure", "OnRetry", "RetryPolicy", "classify", "parse_retry_after"]

RETRY_STATUSES = frozenset({429, 502, 503, 504})

OnRetry = Callable[[int, float, str], None]
"""Called before each retry with (failed attempt number, seconds to wait, reason)."""


def parse_retry_after(value: str | None) -> float | None:
    """Read a ``Retry-After`` header: delay seconds or an HTTP date.

    Returns:
        Seconds to wait (0 for a date in the past), or None when absent or unreadable.
    """
    if value is None or not value.strip():
        return None
    try:
        return float(Retry().parse_retry_after(value))
    except Exception:  # urllib3 raises InvalidHeader; dates can also overflow
        return None


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry.

    Attributes:
        max_retries: Retries after the first attempt.
        backoff_base: Seconds; the n-th retry waits up to ``base * 2**(n-1)``.
        backoff_cap: The longest backoff in seconds.
        retry_after_cap: The longest ``Retry-After`` obeyed; a longer one is cut to this (and
            logged), so a server asking for an hour does not hang a notebook.
    """

    max_retries: int = 4
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    retry_after_cap: float = 60.0

    def backoff(self, retry_number: int, rng: random.Random) -> float:
        """Return the wait before retry ``retry_number`` (1-based): full jitter, capped."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** max(retry_number - 1, 0))
        return rng.uniform(0.0, ceiling)


@dataclass(frozen=True)
class Failure:
    """A transport failure: what to call it, whether the request may have reached the server."""

    reason: str
    maybe_sent: bool
    timeout: bool
    retryable: bool = True


def classify(exc: requests.RequestException) -> Failure:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return Failure("connect timeout", maybe_sent=False, timeout=True)
    if isinstance(exc, requests.exceptions.Timeout):
        return Failure("read timeout", maybe_sent=True, timeout=True)
    if isinstance(exc, requests.exceptions.SSLError):
        return Failure("TLS error", maybe_sent=False, timeout=False, retryable=False)
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return Failure("body cut short", maybe_sent=True, timeout=False)
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if isinstance(reason, NewConnectionError):
        text = str(reason).lower()
        if "refused" in text:
            what = "connection refused"
        elif "resolve" in text:
            what = "host name not resolved"
        else:
            what = "connection failed"
        return Failure(what, maybe_sent=False, timeout=False)
    if isinstance(reason, ConnectTimeoutError):
        return Failure("connect timeout", maybe_sent=False, timeout=True)
    return Failure("connection dropped", maybe_sent=True, timeout=False)
