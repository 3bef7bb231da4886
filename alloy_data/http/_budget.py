"""Pacing requests to the API's rate limits: one budget per limit, shared by every request of
the process that spends it.

A budget knows what the answers told (``X-RateLimit-*``, the IETF fields: requests left and
when the window resets) or learns it from refusals when they tell nothing: the requests a
window took before the first 429, and the window's length from when ``Retry-After`` says it
ends. Requests then go out in a burst as the window opens and wait for the next one when the
budget is spent, instead of being refused and waiting out a ``Retry-After`` each.

Why not a rate-limiter library (pyrate-limiter, limits, aiolimiter): they enforce a rate the
caller sets, on the caller's clock. Here the rate is the server's, unknown at first, told or
learned answer by answer, and the windows are the server's: a budget follows its resets.

The budgets live in one registry per process (:data:`PROCESS_BUDGETS`), keyed by the server,
a hash of the API key and the credential: two clients made in two notebook cells spend the
same credential's limit at the same server, so they must share its budget.
"""

from __future__ import annotations

import hashlib
import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from alloy_data._tuning import LIMIT_JITTER, LIMIT_MARGIN, LIMIT_POLL, LIMIT_PROBE_POLL
from alloy_data.http._limits import Quota, read_quotas

__all__ = ["PROCESS_BUDGETS", "Budget", "BudgetFigures", "Budgets", "Tickets"]

OnLimitWait = Callable[[float], None]
"""Called before a request waits for a rate limit, with the seconds it waits."""


@dataclass(frozen=True)
class BudgetFigures:
    """What a budget knows and did.

    Attributes:
        limit: Requests a window allows (told or learned), or None while unknown.
        window: The window in seconds (told or learned), or None while unknown.
        source: ``"headers"`` (the answers told), ``"refusals"`` (learned from 429s) or None.
        waits: Requests that waited for the limit.
        seconds_waited: Seconds they waited.
        refusals: Answers 429.
    """

    limit: int | None
    window: float | None
    source: str | None
    waits: int
    seconds_waited: float
    refusals: int

    @property
    def rate(self) -> float | None:
        """Requests a second the budget settled on, when both numbers are known."""
        if self.limit is None or not self.window:
            return None
        return self.limit / self.window

    def __str__(self) -> str:
        if self.limit is None:
            return "no limit seen"
        how = "told by the answers" if self.source == "headers" else "learned from refusals"
        per = f"{self.window:.1f} s" if self.window else "window"
        return f"{self.limit} requests per {per} ({how})"


class Budget:
    """The budget of one rate limit; thread-safe.

    Args:
        clock: Monotonic seconds (replaceable in tests).
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._source: str | None = None
        self._limit: int | None = None
        self._window: float | None = None
        self._remaining: int | None = None
        self._reset_at: float | None = None
        self._blocked_until = -math.inf
        # Whether the latest reset told is trusted rather than the earliest (see told()).
        self._latest_reset = False
        self._spent_at: float | None = None
        # The ticket of a learned window's first request while its answer is awaited.
        self._probe: int | None = None
        self._probe_at = -math.inf
        self._probe_next = False
        self._issued = 0
        self._in_flight: set[int] = set()
        self._lowest_told: int | None = None
        # Learning from refusals: the current window's start and what it accepted.
        self._window_start: float | None = None
        self._window_first_seq = 0
        self._accepted = 0
        self._window_safe = math.inf
        # The tickets of the window last learned (answers to them may still come).
        self._learned_from = self._learned_to = 0
        self._waits = 0
        self._seconds_waited = 0.0
        self._refusals = 0

    def figures(self) -> BudgetFigures:
        """What the budget knows and did so far."""
        with self._lock:
            return BudgetFigures(
                self._limit,
                self._window,
                self._source,
                self._waits,
                self._seconds_waited,
                self._refusals,
            )

    def reserve(self, now: float) -> tuple[int | None, float]:
        """Take a request from the budget at ``now``.

        Returns:
            ``(ticket, 0)`` when the request may go, else ``(None, seconds to wait)``.
        """
        with self._lock:
            if now < self._blocked_until:
                return None, self._blocked_until - now
            if self._reset_at is not None and now >= self._reset_at:
                self._open_window(now)
            if self._remaining is not None and self._remaining <= 0 and self._reset_at is None:
                # Spent, and the answers in flight will say until when; if none does (they
                # failed), a window's time (or a second) later a new one is taken to be open.
                if self._spent_at is None:
                    self._spent_at = now
                if now - self._spent_at < max(self._window or 0.0, 1.0):
                    return None, LIMIT_POLL
                self._open_window(now)
            self._spent_at = None
            if self._probe is not None and now - self._probe_at < max(self._window or 0.0, 1.0):
                return None, LIMIT_PROBE_POLL  # the window's first request tells if it is open
            self._probe = None
            if self._remaining is not None and self._remaining <= 0:
                assert self._reset_at is not None
                return None, self._reset_at - now
            if self._remaining is not None:
                self._remaining -= 1
            if self._window_start is None:
                self._window_start = now
            ticket = self._issued
            self._issued += 1
            self._in_flight.add(ticket)
            if self._probe_next:
                self._probe, self._probe_at, self._probe_next = ticket, now, False
            return ticket, 0.0

    def _open_window(self, now: float) -> None:
        """The window known so far is over: a new one opens with this request."""
        self._remaining = self._limit
        self._window_first_seq = self._issued
        self._lowest_told = None
        if self._source == "headers":
            # The answers to this window's requests tell when it ends (a window's length
            # told in whole seconds is too rough to count on).
            self._reset_at = None
        else:
            self._reset_at = now + self._window if self._window and self._limit else None
            self._window_start = now
            self._accepted = 0
            # A learned window may be a little off: its first request goes alone, so that a
            # window not yet open costs one refusal, not a whole burst.
            self._probe_next = self._limit is not None

    def count_wait(self, seconds: float) -> None:
        """Count a wait for this budget."""
        with self._lock:
            self._waits += 1
            self._seconds_waited += seconds

    def told(self, ticket: int | None, quota: Quota, received_at: float) -> None:
        """Take in what an answer's headers told about this limit."""
        with self._lock:
            self._source = "headers"
            if quota.limit is not None:
                self._limit = quota.limit
            if quota.window is not None:
                self._window = quota.window
            elif quota.limit is not None and quota.remaining == quota.limit - 1:
                # The first request of a window: the reset is the window's length.
                self._window = self._window or quota.reset
            if ticket is None:  # a limit this request did not know it spent: as the latest
                ticket = max(self._issued - 1, self._window_first_seq)
            if ticket < self._window_first_seq:
                return  # counted in a window that is over
            # Counts only go down in a window, so the lowest told is the server's latest (the
            # server may take requests in another order than they left). What it does not
            # count yet are, at most, the other requests still out.
            if self._lowest_told is None or quota.remaining < self._lowest_told:
                self._lowest_told = quota.remaining
            out = len(self._in_flight) - (ticket in self._in_flight)
            self._remaining = max(0, self._lowest_told - out)
            # A reset told in whole seconds is rounded up, so each one told in a window is at
            # or after the true one, and the earliest is the closest. A bucket's reset (when
            # it is full again) moves later as it empties: once a refusal shows the earliest
            # came too soon, the latest is trusted instead.
            reset_at = received_at + quota.reset
            if self._reset_at is None:
                self._reset_at = reset_at
            elif self._latest_reset:
                self._reset_at = max(self._reset_at, reset_at)
            else:
                self._reset_at = min(self._reset_at, reset_at)

    def answered(self, ticket: int | None, status: int | None) -> None:
        """Settle a request: answered with ``status``, or None when no answer came.

        An answer that was not refused counts towards what a window accepts (learning).
        """
        if ticket is None:
            return
        with self._lock:
            self._in_flight.discard(ticket)
            if ticket == self._probe:
                self._probe = None
            if status is None or status == 429:
                return
            if ticket >= self._window_first_seq:
                self._accepted += 1
            elif self._learned_from <= ticket < self._learned_to and self._limit:
                self._limit += 1  # accepted in the window just learned, answered after its 429

    def refused(self, until: float, received_at: float) -> None:
        """Take in a 429: nothing goes out before ``until`` (the answer's ``Retry-After``)."""
        with self._lock:
            self._refusals += 1
            self._probe = None
            echo = received_at < self._blocked_until  # sent before the first refusal came
            self._blocked_until = max(self._blocked_until, until)
            self._remaining = 0
            self._reset_at = max(self._reset_at or until, until)
            if echo:
                return
            if self._source == "headers":
                self._latest_reset = True  # (a fixed window's first refusal costs this too)
                return
            self._learn(until, received_at, whole_seconds=(until - received_at).is_integer())

    def _learn(self, until: float, received_at: float, *, whole_seconds: bool) -> None:
        accepted, start = self._accepted, self._window_start
        # Fewer than half the last count: the server's window began before ours, so neither
        # the count nor the length is this window's; the next one is aligned on the refusal.
        if accepted > 0 and (self._limit is None or 2 * accepted >= self._limit):
            self._limit = accepted
            self._learned_from, self._learned_to = self._window_first_seq, self._issued
            if start is not None:
                self._window = self._window_safe = until - start
                whole = math.floor(self._window)
                # Retry-After counts whole seconds, rounded up, so a window of whole seconds
                # measures longer by the part of a second its requests took: try the whole
                # seconds (a refusal at the next window's start goes back to the measure).
                if whole_seconds and whole >= 1 and self._window - whole <= received_at - start:
                    self._window = whole + LIMIT_MARGIN
            self._source = "refusals"
        elif self._window is not None and self._window < self._window_safe:
            self._window = self._window_safe
        # The next window opens when the refusal says; refusals before then are echoes.
        self._reset_at = until
        self._window_start = until
        self._window_first_seq = self._issued
        self._accepted = 0


@dataclass(frozen=True)
class Tickets:
    """The budgets one attempt spent, with its ticket in each."""

    owner: str
    scope: str | None
    held: tuple[tuple[Budget, int | None], ...]


class Budgets:
    """Every budget of the process, by server, API key, credential and the answers' policies.

    Args:
        clock: Monotonic seconds.
        wall_clock: Epoch seconds, to read a reset told as an epoch time.
        rng: Random numbers for the jitter.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self._clock = clock
        self._wall_clock = wall_clock
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._budgets: dict[tuple[str, str | None, str | None], Budget] = {}
        # Partitions (IETF pk) that the answers of a scope named: the scope spends them too.
        self._partitions: dict[tuple[str, str | None], set[str]] = {}

    @staticmethod
    def owner(base_url: str, api_key: str) -> str:
        """The key of a server and API key, without the key."""
        digest = hashlib.sha256(api_key.encode()).hexdigest()[:16]
        return f"{base_url}#{digest}"

    def _budget(self, owner: str, scope: str | None, policy: str | None) -> Budget:
        key = (owner, scope, policy)
        with self._lock:
            budget = self._budgets.get(key)
            if budget is None:
                budget = self._budgets[key] = Budget(clock=self._clock)
            return budget

    def for_scope(self, owner: str, scope: str | None) -> list[Budget]:
        """The budgets a request of ``scope`` (a credential, or None) spends."""
        with self._lock:
            partitions = sorted(self._partitions.get((owner, scope), ()))
        return [self._budget(owner, scope, None)] + [
            self._budget(owner, None, f"pk:{partition}") for partition in partitions
        ]

    def acquire(
        self,
        owner: str,
        scope: str | None,
        *,
        sleep: Callable[[float], object],
        waited_until: float = -math.inf,
        on_wait: OnLimitWait | None = None,
    ) -> Tickets:
        """Wait until every budget of ``scope`` allows one more request, and take it.

        Args:
            owner: :meth:`owner` of the server and key.
            scope: The credential, or None.
            sleep: How to wait.
            waited_until: The moment a wait the caller made runs to (after a 429 the retry's
                own wait), which counts as time passed.
            on_wait: Told before each wait for the limit.

        Returns:
            The tickets to hand to :meth:`answered`.
        """
        held: list[tuple[Budget, int | None]] = []
        try:
            for budget in self.for_scope(owner, scope):
                held.append((budget, self._take(budget, sleep, waited_until, on_wait)))
        except BaseException:
            self.unanswered(Tickets(owner, scope, tuple(held)))  # interrupted while waiting
            raise
        return Tickets(owner, scope, tuple(held))

    def _take(
        self,
        budget: Budget,
        sleep: Callable[[float], object],
        waited_until: float,
        on_wait: OnLimitWait | None,
    ) -> int:
        now = max(self._clock(), waited_until)
        waited = 0.0
        while True:
            ticket, wait = budget.reserve(now)
            if ticket is not None:
                if waited:
                    budget.count_wait(waited)
                return ticket
            if wait >= LIMIT_POLL:
                # A small jitter, so that the requests that waited do not all start at once.
                wait += self._rng.uniform(0.0, LIMIT_JITTER)
                if on_wait is not None:
                    on_wait(wait)
            sleep(wait)
            waited += wait
            now = max(self._clock(), now + wait)

    def answered(
        self,
        tickets: Tickets,
        status: int,
        headers: Mapping[str, str],
        *,
        refused_for: float | None = None,
    ) -> None:
        """Take in an answer: what its headers tell, and a refusal.

        Args:
            tickets: What :meth:`acquire` returned for the attempt.
            status: The answer's status.
            headers: Its headers.
            refused_for: For a 429: the seconds the caller waits before retrying.
        """
        received_at = self._clock()
        quotas = read_quotas(headers, now_epoch=self._wall_clock())
        held = dict(tickets.held)
        own = self._budget(tickets.owner, tickets.scope, None)
        for quota in quotas:
            if quota.partition is None:
                budget = own
            else:
                with self._lock:
                    self._partitions.setdefault((tickets.owner, tickets.scope), set()).add(
                        quota.partition
                    )
                budget = self._budget(tickets.owner, None, f"pk:{quota.partition}")
            budget.told(held.get(budget), quota, received_at)
        if status == 429:
            until = received_at + (refused_for or 0.0)
            # A refusal is charged to the scope's own budget, the one learning without headers
            # (a policy that told its figures was already told it is spent); before the
            # ticket is settled, so that no request slips out in between.
            own.refused(until, received_at)
        for budget, ticket in tickets.held:
            budget.answered(ticket, status)

    def unanswered(self, tickets: Tickets) -> None:
        """Settle an attempt that got no answer (the connection failed)."""
        for budget, ticket in tickets.held:
            budget.answered(ticket, None)

    def figures(self, owner: str, scope: str | None) -> list[BudgetFigures]:
        """The figures of every budget a request of ``scope`` spends that saw a limit."""
        found = [budget.figures() for budget in self.for_scope(owner, scope)]
        return [figures for figures in found if figures.limit is not None or figures.refusals]


#: The budgets of this process (see the module's docstring for why one registry).
PROCESS_BUDGETS = Budgets()
