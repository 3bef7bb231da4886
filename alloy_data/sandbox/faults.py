"""Faults on demand: a seeded random share of requests, exact injections, a rate limit."""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

#: Every kind of transient failure a pull meets in the field, as a gateway or proxy in front of
#: an app produces them.
FAULT_KINDS = (
    "408",  # the gateway timed out waiting for the request
    "429",  # rate limited, with Retry-After
    "500",  # an app error with a JSON body
    "500_html",  # a proxy's HTML error page
    "502",  # bad gateway (HTML, as proxies send it)
    "503",  # unavailable, with Retry-After
    "504",  # gateway timeout (HTML)
    "drop",  # the connection closes without an answer
    "reset",  # the connection is reset (TCP RST) without an answer
    "truncated",  # a 200 whose body stops short of its Content-Length
    "html_200",  # a 200 whose body is a proxy's HTML page, not JSON
    "latency",  # the normal answer, held back
)

#: How long a "latency" fault holds its answer.
SLOW_ANSWER_MS = 1000


@dataclass(frozen=True)
class Fault:
    """One fault to apply to one request."""

    kind: str
    retry_after: int = 1
    delay_ms: int = SLOW_ANSWER_MS


def check_kinds(kinds: Iterable[str]) -> tuple[str, ...]:
    """Return ``kinds`` as a tuple after checking each is a known fault kind.

    Raises:
        ValueError: For an unknown kind.
    """
    checked = tuple(str(kind) for kind in kinds)
    for kind in checked:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; choose from {', '.join(FAULT_KINDS)}")
    return checked


class FaultPlan:
    """Turns a share ``rate`` of requests into faults, the same sequence for the same seed."""

    def __init__(
        self,
        seed: int,
        rate: float,
        kinds: Iterable[str] | None = None,
        *,
        delay_ms: int = SLOW_ANSWER_MS,
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault_rate must be between 0 and 1, got {rate}")
        self.rate = rate
        self.kinds = check_kinds(FAULT_KINDS if kinds is None else kinds)
        if rate > 0 and not self.kinds:
            raise ValueError("faults is empty but fault_rate is above 0")
        self.delay_ms = delay_ms
        self._rng = random.Random(f"faults:{seed}")
        self._lock = threading.Lock()

    def draw(self) -> Fault | None:
        """Return the fault for the next request, or None for a normal answer."""
        if self.rate <= 0:
            return None
        with self._lock:
            # Two draws per request whatever the outcome, so the sequence depends on nothing else.
            roll = self._rng.random()
            pick = self._rng.randrange(len(self.kinds))
        return Fault(self.kinds[pick], delay_ms=self.delay_ms) if roll < self.rate else None


@dataclass
class _Injection:
    fault: Fault
    remaining: int
    path_contains: str | None


class Injections:
    """Faults a test asked for: the next ``count`` matching requests fail that way."""

    def __init__(self) -> None:
        self._pending: list[_Injection] = []
        self._lock = threading.Lock()

    def add(
        self,
        kind: str,
        *,
        count: int = 1,
        path_contains: str | None = None,
        retry_after: int = 1,
        delay_ms: int | None = None,
    ) -> None:
        """Queue ``count`` faults of ``kind`` for requests whose path contains ``path_contains``."""
        check_kinds([kind])
        if count < 1:
            raise ValueError("count must be at least 1")
        fault = Fault(kind, retry_after, SLOW_ANSWER_MS if delay_ms is None else delay_ms)
        with self._lock:
            self._pending.append(_Injection(fault, count, path_contains))

    def take(self, path: str) -> Fault | None:
        """Return the first queued fault matching ``path`` (using it up), or None."""
        if not self._pending:
            return None
        with self._lock:
            for injection in self._pending:
                if injection.path_contains is None or injection.path_contains in path:
                    injection.remaining -= 1
                    if injection.remaining == 0:
                        self._pending.remove(injection)
                    return injection.fault
        return None


class TokenBucket:
    """A rate limit of ``rate`` requests per second with bursts up to ``rate`` (at least 1)."""

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError(f"rate_limit must be above 0, got {rate}")
        self.rate = rate
        self.capacity = max(1.0, rate)
        self._tokens = self.capacity
        self._clock = clock
        self._last: float | None = None
        self._lock = threading.Lock()

    def take(self, now: float | None = None) -> int:
        """Take a token; return 0 when allowed, else the seconds to wait (at least 1)."""
        with self._lock:
            if now is None:
                now = self._clock()
            if self._last is not None:
                self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return 0
            return max(1, math.ceil((1.0 - self._tokens) / self.rate))
