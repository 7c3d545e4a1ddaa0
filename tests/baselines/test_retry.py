"""Backoff, Retry-After, deadlines and the shared rate gate, on a fake clock (no real sleeping)."""

import random

import pytest

from evqa.baselines.retry import RateGate, RetryableApiError, RetryPolicy, call_with_retry, parse_retry_after
from evqa.errors import ApiError


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def failing(errors, result="ok"):
    """fn that raises the given errors in turn, then returns `result`; records the time budget it got."""
    budgets = []

    def fn(budget):
        budgets.append(budget)
        if errors:
            raise errors.pop(0)
        return result

    fn.budgets = budgets
    return fn


def test_retry_after_is_honoured_and_counted():
    clock = FakeClock()
    fn = failing([RetryableApiError("slow down", status=429, retry_after=3.0)])
    result, retries = call_with_retry(fn, RetryPolicy(), sleep=clock.sleep, clock=clock)
    assert (result, retries) == ("ok", 1)
    assert clock.sleeps == [3.0]


def test_exponential_backoff_with_full_jitter_stays_in_bounds():
    clock = FakeClock()
    errors = [RetryableApiError("boom", status=500) for _ in range(4)]
    policy = RetryPolicy(max_retries=5, base_delay=1.0, max_delay=5.0, timeout=None)
    call_with_retry(failing(errors), policy, sleep=clock.sleep, clock=clock, rng=random.Random(0))
    caps = [1.0, 2.0, 4.0, 5.0]
    assert len(clock.sleeps) == 4
    assert all(0.0 <= s <= cap for s, cap in zip(clock.sleeps, caps, strict=True))
    # full jitter: not the deterministic cap every time
    assert clock.sleeps != caps


def test_gives_up_after_max_retries_with_the_last_status():
    clock = FakeClock()
    errors = [RetryableApiError("down", status=503) for _ in range(10)]
    with pytest.raises(ApiError, match="gave up after 3 attempts") as info:
        call_with_retry(failing(errors), RetryPolicy(max_retries=2), sleep=clock.sleep, clock=clock)
    assert info.value.status == 503
    assert len(errors) == 7


def test_non_retryable_errors_propagate_at_once():
    clock = FakeClock()
    fn = failing([ApiError("bad request", status=400)])
    with pytest.raises(ApiError, match="bad request"):
        call_with_retry(fn, RetryPolicy(), sleep=clock.sleep, clock=clock)
    assert clock.sleeps == []


def test_deadline_limits_attempt_budget_and_stops_retrying():
    clock = FakeClock()
    errors = [RetryableApiError("wait", status=429, retry_after=4.0) for _ in range(5)]
    policy = RetryPolicy(max_retries=10, timeout=10.0, attempt_timeout=6.0)
    fn = failing(errors)
    with pytest.raises(ApiError, match="timed out after 10 s"):
        call_with_retry(fn, policy, sleep=clock.sleep, clock=clock)
    assert fn.budgets == [6.0, 6.0, 2.0]  # capped per attempt, then by what is left of the item's 10 s
    assert clock.sleeps == [4.0, 4.0]


def test_rate_gate_pauses_other_workers_after_a_429():
    clock = FakeClock()
    gate = RateGate(clock=clock, sleep=clock.sleep)
    gate.pause(2.5)
    gate.pause(1.0)  # a shorter pause never shortens the longer one
    gate.wait()
    assert clock.now == pytest.approx(2.5)
    fn = failing([RetryableApiError("limited", status=429, retry_after=1.5)])
    call_with_retry(fn, RetryPolicy(), gate=gate, sleep=clock.sleep, clock=clock)
    assert clock.now == pytest.approx(2.5 + 1.5)


@pytest.mark.parametrize(
    ("value", "expected"), [("2", 2.0), ("0.5", 0.5), ("-3", 0.0), ("soon", None), (None, None)]
)
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value) == expected


def test_a_429_without_retry_after_still_pauses_the_pool():
    clock = FakeClock()
    gate = RateGate(clock=clock, sleep=clock.sleep)
    policy = RetryPolicy(base_delay=2.0, timeout=None)
    call_with_retry(
        failing([RetryableApiError("limited", status=429)]),
        policy,
        gate=gate,
        sleep=lambda s: None,
        clock=clock,
        rng=random.Random(3),
    )
    expected = random.Random(3).uniform(0.0, 2.0)
    assert gate._open_at == pytest.approx(expected)  # other workers wait as long as this one backs off
