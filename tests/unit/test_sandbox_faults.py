"""Fault plans, injections and the rate limit's token bucket."""

from __future__ import annotations

import pytest

from alloy_data.sandbox.faults import FAULT_KINDS, FaultPlan, Injections, TokenBucket


def sequence(plan: FaultPlan, n: int = 500) -> list[str | None]:
    return [fault.kind if (fault := plan.draw()) else None for _ in range(n)]


def test_the_same_seed_gives_the_same_fault_sequence():
    assert sequence(FaultPlan(3, 0.3)) == sequence(FaultPlan(3, 0.3))


def test_another_seed_gives_another_sequence():
    assert sequence(FaultPlan(3, 0.3)) != sequence(FaultPlan(4, 0.3))


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.5, 1.0], ids=lambda r: f"rate-{r}")
def test_the_share_of_faults_follows_the_rate(rate):
    drawn = sequence(FaultPlan(0, rate), 2000)
    share = sum(kind is not None for kind in drawn) / len(drawn)
    assert abs(share - rate) < 0.05


def test_every_kind_is_drawn_and_faults_limits_the_kinds():
    assert set(sequence(FaultPlan(0, 1.0))) == set(FAULT_KINDS)
    assert set(sequence(FaultPlan(0, 1.0, ["429", "drop"]))) == {"429", "drop"}


@pytest.mark.parametrize(
    ("rate", "kinds"), [(1.5, None), (-0.1, None), (0.5, ["404"]), (0.5, [])],
    ids=["rate-above-one", "negative-rate", "unknown-kind", "no-kinds"],
)  # fmt: skip
def test_bad_fault_options_are_refused(rate, kinds):
    with pytest.raises(ValueError):
        FaultPlan(0, rate, kinds)


def test_injections_fail_exactly_count_matching_requests():
    injections = Injections()
    injections.add("503", count=2, path_contains="/execute", retry_after=7)
    assert injections.take("/connectors") is None
    first = injections.take("/connectors/a/actions/b/execute")
    assert first is not None and first.kind == "503" and first.retry_after == 7
    assert injections.take("/x/execute") is not None
    assert injections.take("/x/execute") is None


def test_injections_apply_in_the_order_they_were_added():
    injections = Injections()
    injections.add("429")
    injections.add("drop")
    assert [injections.take("/").kind, injections.take("/").kind] == ["429", "drop"]  # type: ignore[union-attr]


def test_token_bucket_allows_the_rate_then_asks_to_wait():
    bucket = TokenBucket(2, clock=lambda: 0.0)
    assert [bucket.take(now=0.0), bucket.take(now=0.0)] == [0, 0]
    assert bucket.take(now=0.0) >= 1
    assert bucket.take(now=0.6) == 0  # refilled 1.2 tokens
    assert bucket.take(now=0.6) >= 1
