"""Rate limits on execute requests, as apps put them: per credential or per API key, in fixed
windows or token buckets, told in headers (``X-RateLimit-*``, the IETF ``RateLimit`` fields)
or not at all (a bare 429 with ``Retry-After``).

As awkward as real apps: the numbers in the headers are whole seconds (rounded up), a refused
request's ``Retry-After`` too, and a fixed window starts with the first request after the last
one ended, so a client cannot compute the windows from the clock.
"""

from __future__ import annotations

import base64
import hashlib
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = ["LIMIT_HEADERS", "LIMIT_KINDS", "LIMIT_SCOPES", "Limits", "RateLimitRule"]

LIMIT_SCOPES = ("credential", "key")
LIMIT_KINDS = ("fixed_window", "token_bucket")
#: "x-ratelimit": X-RateLimit-Limit/-Remaining/-Reset, Reset in seconds;
#: "x-ratelimit-epoch": the same, Reset as an epoch time; "ietf": RateLimit and
#: RateLimit-Policy (draft-ietf-httpapi-ratelimit-headers); "none": a bare 429.
LIMIT_HEADERS = ("none", "x-ratelimit", "x-ratelimit-epoch", "ietf")


@dataclass(frozen=True)
class RateLimitRule:
    """One limit: ``requests`` per ``seconds``.

    Attributes:
        requests: Requests allowed in a window (a bucket's capacity).
        seconds: The window's length (a bucket refills ``requests`` in this long).
        scope: ``"credential"`` (each credential its own budget) or ``"key"`` (one budget for
            the API key, whatever the credential).
        kind: ``"fixed_window"`` or ``"token_bucket"``.
        headers: How answers tell the limit (see :data:`LIMIT_HEADERS`).
    """

    requests: int
    seconds: float
    scope: str = "credential"
    kind: str = "fixed_window"
    headers: str = "x-ratelimit"

    def __post_init__(self) -> None:
        if isinstance(self.requests, bool) or not isinstance(self.requests, int):
            raise TypeError(f"requests must be an int, got {self.requests!r}")
        if self.requests < 1:
            raise ValueError(f"requests must be at least 1, got {self.requests}")
        if not self.seconds > 0:
            raise ValueError(f"seconds must be above 0, got {self.seconds}")
        for name, value, allowed in (
            ("scope", self.scope, LIMIT_SCOPES),
            ("kind", self.kind, LIMIT_KINDS),
            ("headers", self.headers, LIMIT_HEADERS),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")

    @classmethod
    def parse(cls, text: str) -> RateLimitRule:
        """Read ``"20/2s"`` with optional ``:scope:kind:headers`` parts in any order, such as
        ``"20/2s:key:token_bucket:ietf"``.

        Raises:
            ValueError: For text that is not such a rule.
        """
        head, *parts = text.strip().split(":")
        count, slash, period = head.partition("/")
        if not slash or not period.endswith("s"):
            raise ValueError(f"a limit reads like 20/2s (20 requests per 2 seconds), got {text!r}")
        try:
            requests, seconds = int(count), float(period[:-1])
        except ValueError:
            raise ValueError(f"a limit reads like 20/2s, got {text!r}") from None
        chosen: dict[str, str] = {}
        for part in parts:
            for name, allowed in (
                ("scope", LIMIT_SCOPES),
                ("kind", LIMIT_KINDS),
                ("headers", LIMIT_HEADERS),
            ):
                if part in allowed:
                    chosen[name] = part
                    break
            else:
                every = ", ".join(LIMIT_SCOPES + LIMIT_KINDS + LIMIT_HEADERS)
                raise ValueError(f"{part!r} in {text!r} is none of: {every}")
        return cls(requests, seconds, **chosen)

    @property
    def name(self) -> str:
        """The policy's name in the IETF fields."""
        return f"per-{self.scope}"


class _Window:
    """A fixed window that opens with the first request after the last one closed."""

    def __init__(self, rule: RateLimitRule) -> None:
        self._rule = rule
        self._ends = -math.inf
        self._used = 0

    def take(self, now: float) -> tuple[bool, int, float, float]:
        """Count a request: (allowed, remaining, seconds until reset, seconds to retry)."""
        if now >= self._ends:
            self._ends, self._used = now + self._rule.seconds, 0
        left = self._ends - now
        if self._used >= self._rule.requests:
            return False, 0, left, left
        self._used += 1
        return True, self._rule.requests - self._used, left, 0.0


class _Bucket:
    """A token bucket of ``requests`` tokens refilled over ``seconds``."""

    def __init__(self, rule: RateLimitRule) -> None:
        self._capacity = float(rule.requests)
        self._rate = rule.requests / rule.seconds
        self._tokens = self._capacity
        self._last: float | None = None

    def take(self, now: float) -> tuple[bool, int, float, float]:
        """Count a request: (allowed, remaining, seconds until full, seconds to retry)."""
        if self._last is not None:
            self._tokens = min(self._capacity, self._tokens + (now - self._last) * self._rate)
        self._last = now
        allowed = self._tokens >= 1.0
        if allowed:
            self._tokens -= 1.0
        retry = 0.0 if allowed else (1.0 - self._tokens) / self._rate
        until_full = (self._capacity - self._tokens) / self._rate
        return allowed, int(self._tokens), until_full, retry


@dataclass(frozen=True)
class _Count:
    rule: RateLimitRule
    partition: str
    allowed: bool
    remaining: int
    reset: float
    retry: float


class Limits:
    """The limits of one sandbox, each kept per credential or per key.

    Args:
        rules: The limits; a request must pass every one.
        clock: Monotonic seconds (replaceable in tests).
        wall_clock: Epoch seconds, for resets told as an epoch time.
    """

    def __init__(
        self,
        rules: Iterable[RateLimitRule],
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.rules = tuple(rules)
        self._clock = clock
        self._wall_clock = wall_clock
        self._meters: dict[tuple[int, str], _Window | _Bucket] = {}
        self._lock = threading.Lock()
        #: Requests refused with 429 so far (tests count them from the server's side).
        self.refused = 0

    def take(self, *, credential_id: str, api_key: str) -> tuple[bool, float, dict[str, str]]:
        """Count an execute request against every rule.

        Returns:
            Whether it may go on, the ``Retry-After`` seconds when not, and the headers the
            answer carries (whichever it is).
        """
        counts: list[_Count] = []
        with self._lock:
            now = self._clock()
            for index, rule in enumerate(self.rules):
                who = credential_id if rule.scope == "credential" else api_key
                # The partition names the budget without showing a key or an id.
                partition = hashlib.sha256(f"{rule.scope}:{who}".encode()).hexdigest()[:16]
                meter = self._meters.get((index, partition))
                if meter is None:
                    kind = _Window if rule.kind == "fixed_window" else _Bucket
                    meter = self._meters[(index, partition)] = kind(rule)
                counts.append(_Count(rule, partition, *meter.take(now)))
                if not counts[-1].allowed:
                    break  # the rules after it are not charged for a refused request
        refused = [count for count in counts if not count.allowed]
        headers = self._headers(counts)
        if refused:
            with self._lock:
                self.refused += 1
            wait = max(1, math.ceil(refused[0].retry))
            headers["Retry-After"] = str(wait)
            return False, float(wait), headers
        return True, 0.0, headers

    def _headers(self, counts: list[_Count]) -> dict[str, str]:
        headers: dict[str, str] = {}
        x_style = [c for c in counts if c.rule.headers.startswith("x-ratelimit")]
        if x_style:
            # One set of X-RateLimit headers, as apps send: the tightest limit's.
            tightest = min(x_style, key=lambda count: count.remaining)
            reset = math.ceil(tightest.reset)
            if tightest.rule.headers == "x-ratelimit-epoch":
                reset = math.ceil(self._wall_clock() + tightest.reset)
            headers["X-RateLimit-Limit"] = str(tightest.rule.requests)
            headers["X-RateLimit-Remaining"] = str(tightest.remaining)
            headers["X-RateLimit-Reset"] = str(reset)
        ietf = [c for c in counts if c.rule.headers == "ietf"]
        if ietf:
            headers["RateLimit-Policy"] = ", ".join(
                f'"{c.rule.name}";q={c.rule.requests};w={math.ceil(c.rule.seconds)};'
                f"pk=:{_base64(c.partition)}:"
                for c in ietf
            )
            headers["RateLimit"] = ", ".join(
                f'"{c.rule.name}";r={c.remaining};t={math.ceil(c.reset)}' for c in ietf
            )
        return headers


def _base64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
