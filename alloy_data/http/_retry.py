"""When to retry and how long to wait: the backoff policy, ``Retry-After``, and what a
transport failure means (may the request have reached the server?)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace

import requests
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.retry import Retry

from alloy_data._tuning import FIRST_CONTACT_ATTEMPTS, PULL_MIN_RETRIES

__all__ = [
    "FIRST_CONTACT_ATTEMPTS",
    "NOT_RETRIED_5XX",
    "Failure",
    "OnRetry",
    "RetryPolicy",
    "classify",
    "is_retryable_status",
    "parse_retry_after",
]

# 501 (not implemented) and 505 (HTTP version not supported) answer the same every time.
NOT_RETRIED_5XX = frozenset({501, 505})


OnRetry = Callable[[int, float, str], None]
"""Called before each retry with (failed attempt number, seconds to wait, reason)."""


def is_retryable_status(status: int, *, idempotent: bool) -> bool:
    """Whether an answer with this status is worth another attempt.

    A request that may be repeated is retried after 408, 429 and every 5xx but 501 and 505, as
    dlt and the Airbyte CDK retry reads. One that may not (a POST that is not a read) only
    after 408 and 429, which say the server did not act on it.
    """
    if status in (408, 429):
        return True
    return idempotent and 500 <= status <= 599 and status not in NOT_RETRIED_5XX


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
        retry_bad_bodies: Whether a success status whose body is cut short or is not JSON (a
            proxy's HTML page) is retried, when the request may be repeated. Pulls do; a
            one-off call reports it at once, as it more often means a wrong base URL.
    """

    max_retries: int = 4
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    retry_after_cap: float = 60.0
    retry_bad_bodies: bool = False

    def for_pulls(self) -> RetryPolicy:
        """Return this policy with a pull's patience.

        A pull makes hundreds of requests, and one failure too many loses the run, so it
        retries twice as often as a one-off call (at least 8 times), waits up to twice as
        long, and retries bad 200 bodies too.

        Returns:
            A new policy.
        """
        return replace(
            self,
            max_retries=max(PULL_MIN_RETRIES, 2 * self.max_retries),
            backoff_cap=2 * self.backoff_cap,
            retry_after_cap=2 * self.retry_after_cap,
            retry_bad_bodies=True,
        )

    def backoff(self, retry_number: int, rng: random.Random) -> float:
        """Return the wait before retry ``retry_number`` (1-based): full jitter, capped."""
        return rng.uniform(0.0, self._ceiling(retry_number))

    def _ceiling(self, retry_number: int) -> float:
        return min(self.backoff_cap, self.backoff_base * 2 ** max(retry_number - 1, 0))

    def longest_backoff(self, first_retry: int) -> float:
        """Return the most seconds the backoff of retries ``first_retry`` to the last can wait.

        Returns:
            The sum of their backoff ceilings (0 when none is left): how long, at most, this
            policy keeps trying after a failure, besides the attempts themselves.
        """
        return sum(self._ceiling(n) for n in range(max(first_retry, 1), self.max_retries + 1))


@dataclass(frozen=True)
class Failure:
    """A transport failure: what to call it, whether the request may have reached the server.

    Attributes:
        reason: A few words for messages and logs (``"connection refused"``).
        maybe_sent: Whether the server may have received the request.
        timeout: Whether a timeout ran out.
        retryable: Whether another attempt may help at all.
        first_contact_attempts: When nothing answered at the address (refused, or a host name
            that does not resolve): the attempts worth making while the client has never
            reached its server, where the likelier cause is a wrong URL than a restart.
    """

    reason: str
    maybe_sent: bool
    timeout: bool
    retryable: bool = True
    first_contact_attempts: int | None = None


def _refused(error: NewConnectionError) -> bool:
    cause = error.__cause__ or error.__context__
    return isinstance(cause, ConnectionRefusedError) or "refused" in str(error).lower()


def classify(exc: requests.RequestException) -> Failure:
    """Name a transport failure and say whether it is worth another attempt.

    Returns:
        The :class:`Failure`.
    """
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return Failure("connect timeout", maybe_sent=False, timeout=True)
    if isinstance(exc, requests.exceptions.Timeout):
        return Failure("read timeout", maybe_sent=True, timeout=True)
    if isinstance(exc, requests.exceptions.SSLError):
        return Failure("TLS error", maybe_sent=False, timeout=False, retryable=False)
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return Failure("body cut short", maybe_sent=True, timeout=False)
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if isinstance(reason, NameResolutionError) or (
        isinstance(reason, NewConnectionError) and "resolve" in str(reason).lower()
    ):
        # The resolver has retried already; a name unknown now is unknown a second later.
        return Failure(
            "host name not resolved", maybe_sent=False, timeout=False, first_contact_attempts=1
        )
    if isinstance(reason, NewConnectionError):
        what = "connection refused" if _refused(reason) else "connection failed"
        return Failure(
            what, maybe_sent=False, timeout=False, first_contact_attempts=FIRST_CONTACT_ATTEMPTS
        )
    if isinstance(reason, ConnectTimeoutError):
        return Failure("connect timeout", maybe_sent=False, timeout=True)
    return Failure("connection dropped", maybe_sent=True, timeout=False)
