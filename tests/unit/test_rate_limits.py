"""Reading rate limits from headers, and the budgets that pace requests to them (no sockets)."""

from __future__ import annotations

import io
import math
import random

import pytest
from requests.structures import CaseInsensitiveDict

from alloy_data._tuning import LIMIT_JITTER
from alloy_data.http import Budgets
from alloy_data.http._limits import read_quotas
from alloy_data.progress import ProgressUpdate, combined_update, make_reporter
from alloy_data.pull import PullStats
from alloy_data.sandbox import RateLimitRule
from alloy_data.sandbox.limits import Limits

NOW = 1_800_000_000.0


def headers(**fields: str) -> CaseInsensitiveDict[str]:
    return CaseInsensitiveDict({name.replace("_", "-"): value for name, value in fields.items()})


@pytest.mark.parametrize(
    ("reset", "seconds"),
    [("7", 7.0), (str(int(NOW) + 12), 12.0), (str(int(NOW * 1000) + 3000), 3.0), ("0.5", 0.5)],
    ids=["seconds", "epoch", "epoch-ms", "fraction"],
)
def test_x_ratelimit_reset_is_read_as_seconds_or_an_epoch_time(reset: str, seconds: float) -> None:
    told = headers(X_RateLimit_Limit="20", X_RateLimit_Remaining="4", X_RateLimit_Reset=reset)
    [quota] = read_quotas(told, now_epoch=NOW)
    assert (quota.limit, quota.remaining) == (20, 4)
    assert quota.reset == pytest.approx(seconds)
    assert quota.partition is None


def test_ietf_fields_give_each_policy_with_its_window_and_partition() -> None:
    told = headers(
        RateLimit='"per-key";r=3;t=2, "day";r=900;t=3600',
        RateLimit_Policy='"per-key";q=10;w=2;pk=:YWJj:, "day";q=1000;w=86400',
    )
    key, day = read_quotas(told, now_epoch=NOW)
    assert (key.name, key.limit, key.remaining, key.reset, key.window) == ("per-key", 10, 3, 2, 2)
    assert key.partition is not None and "abc" not in key.partition
    assert (day.name, day.limit, day.window, day.partition) == ("day", 1000, 86400, None)


def test_earlier_drafts_are_read_too() -> None:
    dictionary = read_quotas(headers(RateLimit="limit=10, remaining=5, reset=3"), now_epoch=NOW)
    assert [(q.limit, q.remaining, q.reset) for q in dictionary] == [(10, 5, 3)]
    fields = headers(RateLimit_Limit="100, 100;w=60", RateLimit_Remaining="9", RateLimit_Reset="4")
    assert [(q.limit, q.remaining, q.reset) for q in read_quotas(fields, now_epoch=NOW)] == [
        (100, 9, 4)
    ]


@pytest.mark.parametrize(
    "told",
    [
        {},
        {"X-RateLimit-Remaining": "many", "X-RateLimit-Reset": "soon"},
        {"X-RateLimit-Remaining": "5"},
        {"RateLimit": "{{not a field"},
        {"RateLimit": '"p";t=3'},
    ],
    ids=["none", "words", "no-reset", "garbage", "no-remaining"],
)
def test_answers_that_tell_nothing_readable_give_no_quota(told: dict[str, str]) -> None:
    assert (
        read_quotas(headers(**{k.replace("-", "_"): v for k, v in told.items()}), now_epoch=NOW)
        == []
    )


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def budgets(clock: Clock) -> Budgets:
    return Budgets(clock=clock, wall_clock=lambda: NOW, rng=random.Random(1))


def test_a_told_budget_waits_for_the_reset_and_no_longer_than_it_plus_the_jitter() -> None:
    clock = Clock()
    shared = budgets(clock)
    tickets = shared.acquire("o", "cred", sleep=clock.sleep)
    told = headers(X_RateLimit_Limit="3", X_RateLimit_Remaining="2", X_RateLimit_Reset="2")
    shared.answered(tickets, 200, told)
    for _ in range(2):
        shared.acquire("o", "cred", sleep=clock.sleep)
    assert clock.sleeps == []  # two were left
    shared.acquire("o", "cred", sleep=clock.sleep)
    [wait] = clock.sleeps
    assert 2.0 <= wait <= 2.0 + LIMIT_JITTER
    [figures] = shared.figures("o", "cred")
    assert (figures.limit, figures.source, figures.waits) == (3, "headers", 1)


def test_requests_sent_after_an_answer_are_taken_off_what_it_told() -> None:
    clock = Clock()
    shared = budgets(clock)
    first = shared.acquire("o", "cred", sleep=clock.sleep)
    for _ in range(2):  # two more go out before the first answer comes
        shared.acquire("o", "cred", sleep=clock.sleep)
    told = headers(X_RateLimit_Limit="5", X_RateLimit_Remaining="3", X_RateLimit_Reset="1")
    shared.answered(first, 200, told)
    shared.acquire("o", "cred", sleep=clock.sleep)  # 3 told - 2 sent since = 1 left
    assert clock.sleeps == []
    shared.acquire("o", "cred", sleep=clock.sleep)
    assert len(clock.sleeps) == 1


def test_without_headers_the_window_is_learned_from_the_first_refusal() -> None:
    clock = Clock()
    shared = budgets(clock)
    for _ in range(5):  # a window of 5 requests, 2 s long, opened now
        tickets = shared.acquire("o", "cred", sleep=clock.sleep)
        clock.now += 0.01
        shared.answered(tickets, 200, headers())
    refused = shared.acquire("o", "cred", sleep=clock.sleep)
    shared.answered(refused, 429, headers(Retry_After="2"), refused_for=2.0)
    [figures] = shared.figures("o", "cred")
    assert (figures.limit, figures.source, figures.refusals) == (5, "refusals", 1)
    assert figures.window == pytest.approx(2.05)
    # The retry's own wait ran out: the next window's first request goes alone; once it is
    # answered the other four go at once, and the sixth waits for the next window.
    clock.now += 2.0
    probe = shared.acquire("o", "cred", sleep=clock.sleep, waited_until=clock.now)
    shared.answered(probe, 200, headers())
    for _ in range(4):
        shared.acquire("o", "cred", sleep=clock.sleep)
    assert clock.sleeps == []
    shared.acquire("o", "cred", sleep=clock.sleep)
    [wait] = clock.sleeps
    assert wait <= figures.window + LIMIT_JITTER


def test_refusals_of_requests_already_in_flight_teach_nothing_more() -> None:
    clock = Clock()
    shared = budgets(clock)
    held = [shared.acquire("o", "cred", sleep=clock.sleep) for _ in range(4)]
    shared.answered(held[0], 200, headers())
    shared.answered(held[1], 200, headers())
    shared.answered(held[2], 429, headers(), refused_for=1.0)
    shared.answered(held[3], 429, headers(), refused_for=1.0)
    [figures] = shared.figures("o", "cred")
    assert (figures.limit, figures.refusals) == (2, 2)


def test_a_partition_named_by_the_answers_is_shared_across_credentials() -> None:
    clock = Clock()
    shared = budgets(clock)
    told = headers(RateLimit='"key";r=0;t=3', RateLimit_Policy='"key";q=10;w=3;pk=:YWJj:')
    shared.answered(shared.acquire("o", "one", sleep=clock.sleep), 200, told)
    shared.answered(shared.acquire("o", "two", sleep=clock.sleep), 200, told)
    clock.sleeps.clear()
    shared.acquire("o", "two", sleep=clock.sleep)
    [wait] = clock.sleeps
    assert 3.0 <= wait <= 3.0 + LIMIT_JITTER
    assert math.isclose(shared.figures("o", "one")[-1].rate or 0, 10 / 3)


def test_the_bar_says_when_it_waits_for_the_rate_limit() -> None:
    out = io.StringIO()
    reporter = make_reporter("terminal", description="pull", file=out)
    update = ProgressUpdate(pages=3, records=150, records_per_second=10.0, retries=0,
                            seconds_waited=0.0, elapsed=1.0, waiting_for_limit=1.4)  # fmt: skip
    reporter.update(update)
    reporter.close()
    assert "rate limit=waiting 1.4 s" in out.getvalue()


def test_stats_show_refusals_waits_and_the_settled_rate() -> None:
    stats = PullStats(refused=1, limit_waits=4, seconds_limited=3.5, settled_rate=10.0,
                      rate_limits=["20 requests per 2.0 s (told by the answers)"])  # fmt: skip
    assert "1 refused (429), 4 waits for the rate limit (3.5 s)" in str(stats)
    shown = stats._repr_html_()
    assert "20 requests per 2.0 s" in shown and "10.00 requests/s" in shown


@pytest.mark.parametrize(
    "text", ["20", "20/2", "x/2s", "20/2s:hourly", "0/1s"], ids=lambda text: text
)
def test_a_sandbox_limit_that_is_not_one_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        RateLimitRule.parse(text)


def test_sandbox_fixed_window_refuses_past_its_count_and_tells_it() -> None:
    now = [0.0]
    limits = Limits([RateLimitRule.parse("2/1s:ietf")], clock=lambda: now[0])
    first = limits.take(credential_id="c", api_key="k")
    second = limits.take(credential_id="c", api_key="k")
    third = limits.take(credential_id="c", api_key="k")
    other = limits.take(credential_id="d", api_key="k")
    assert [first[0], second[0], third[0], other[0]] == [True, True, False, True]
    assert third[2]["Retry-After"] == "1" and "r=0;t=1" in third[2]["RateLimit"]
    now[0] = 1.0
    assert limits.take(credential_id="c", api_key="k")[0]


def test_sandbox_token_bucket_per_key_is_shared_by_credentials_and_tells_nothing() -> None:
    now = [0.0]
    limits = Limits([RateLimitRule.parse("2/1s:key:token_bucket:none")], clock=lambda: now[0])
    assert limits.take(credential_id="c", api_key="k")[0]
    assert limits.take(credential_id="d", api_key="k")[0]
    allowed, retry, told = limits.take(credential_id="e", api_key="k")
    assert not allowed and told == {"Retry-After": "1"} and retry == 1
    now[0] = 0.5  # a token back
    assert limits.take(credential_id="e", api_key="k")[0]


def test_a_spent_window_whose_answers_never_came_opens_again() -> None:
    clock = Clock()
    shared = budgets(clock)
    told = headers(X_RateLimit_Limit="2", X_RateLimit_Remaining="1", X_RateLimit_Reset="1")
    shared.answered(shared.acquire("o", "cred", sleep=clock.sleep), 200, told)
    shared.acquire("o", "cred", sleep=clock.sleep)  # the last one; its answer never comes
    clock.now += 1.5  # the told window is over: a new one opens and is spent unanswered
    shared.acquire("o", "cred", sleep=clock.sleep)
    shared.acquire("o", "cred", sleep=clock.sleep)
    clock.sleeps.clear()
    shared.acquire("o", "cred", sleep=clock.sleep)
    # It polls for the answers, then takes a new window to be open after a second.
    assert 1.0 <= sum(clock.sleeps) <= 1.0 + 0.1 + len(clock.sleeps) * LIMIT_JITTER


def test_a_window_that_began_before_ours_keeps_the_learned_figures() -> None:
    clock = Clock()
    shared = budgets(clock)
    for _ in range(4):
        tickets = shared.acquire("o", "cred", sleep=clock.sleep)
        shared.answered(tickets, 200, headers())
    clock.now += 0.5
    refused = shared.acquire("o", "cred", sleep=clock.sleep)
    shared.answered(refused, 429, headers(), refused_for=1.5)
    [learned] = shared.figures("o", "cred")
    assert (learned.limit, learned.window) == (4, 2.0)
    clock.now += 1.5  # a new window: one request goes, and the server says its window is on
    tickets = shared.acquire("o", "cred", sleep=clock.sleep, waited_until=clock.now)
    shared.answered(tickets, 200, headers())
    refused = shared.acquire("o", "cred", sleep=clock.sleep)
    shared.answered(refused, 429, headers(), refused_for=1.0)
    [kept] = shared.figures("o", "cred")
    assert (kept.limit, kept.window, kept.refusals) == (4, 2.0, 2)


def test_a_learned_windows_first_request_goes_alone() -> None:
    clock = Clock()
    shared = budgets(clock)
    for _ in range(3):
        shared.answered(shared.acquire("o", "cred", sleep=clock.sleep), 200, headers())
    refused = shared.acquire("o", "cred", sleep=clock.sleep)
    shared.answered(refused, 429, headers(), refused_for=1.0)
    clock.now += 1.0
    shared.acquire("o", "cred", sleep=clock.sleep, waited_until=clock.now)  # the probe
    assert clock.sleeps == []
    # No answer comes to it: the next request waits for it, a window's time at most.
    shared.acquire("o", "cred", sleep=clock.sleep)
    [learned] = shared.figures("o", "cred")
    assert learned.window is not None
    assert 1.0 <= sum(clock.sleeps) <= learned.window + 0.01


def test_a_job_of_many_pulls_shows_their_waits_added_and_the_longest_under_way() -> None:
    def update(records: int, waits: int, limited: float, waiting: float | None) -> ProgressUpdate:
        return ProgressUpdate(
            pages=records // 10,
            records=records,
            records_per_second=0.0,
            retries=1,
            seconds_waited=0.5,
            elapsed=1.0,
            limit_waits=waits,
            seconds_limited=limited,
            waiting_for_limit=waiting,
        )

    job = combined_update(
        [update(100, 2, 1.5, None), update(300, 3, 2.0, 0.7), update(50, 0, 0.0, 1.2)],
        elapsed=2.0,
        done=False,
        credentials_done=1,
        credentials_failed=0,
        credentials_total=3,
    )
    assert (job.records, job.pages, job.records_per_second) == (450, 45, 225.0)
    assert (job.retries, job.seconds_waited) == (3, 1.5)
    assert (job.limit_waits, job.seconds_limited, job.waiting_for_limit) == (5, 3.5, 1.2)
    assert (job.credentials_done, job.credentials_total) == (1, 3)
