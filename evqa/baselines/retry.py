"""Retries for remote model calls: exponential backoff with full jitter on 429 / 5xx / timeouts, honouring
`Retry-After`, within a per-item deadline; a shared `RateGate` pauses every worker after a 429 so that N
threads do not hammer a rate-limited endpoint together."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from evqa.errors import ApiError

T = TypeVar("T")

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class RetryableApiError(ApiError):
    """An API failure worth retrying; `retry_after` (seconds) is the server's hint, if any."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(message, status=status, retryable=True)
        self.retry_after = retry_after


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` / `retry-after-ms` header value (delta seconds); None if absent/invalid."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """max_retries: attempts after the first; base_delay / max_delay in seconds; timeout: per-item deadline
    in seconds covering all attempts (None = none); attempt_timeout: the limit of one attempt in seconds."""

    max_retries: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0
    timeout: float | None = 600.0
    attempt_timeout: float | None = 120.0

    def backoff(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Delay in seconds before retry number `attempt` (0-based): the server's Retry-After when given,
        else full jitter over base * 2**attempt, capped at max_delay."""
        if retry_after is not None:
            return min(retry_after, self.max_delay)
        return rng.uniform(0.0, min(self.max_delay, self.base_delay * (2**attempt)))


class RateGate:
    """Shared across workers: after a 429, nobody starts a request until the Retry-After pause is over."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
    ):
        self._lock = threading.Lock()
        self._open_at = 0.0
        self._clock = clock
        self._sleep = sleep

    def pause(self, seconds: float) -> None:
        """Keep the gate closed for `seconds` from now (extends, never shortens, an existing pause)."""
        with self._lock:
            self._open_at = max(self._open_at, self._clock() + seconds)

    def wait(self) -> None:
        """Block until the gate is open."""
        while True:
            with self._lock:
                remaining = self._open_at - self._clock()
            if remaining <= 0:
                return
            self._sleep(min(remaining, 1.0))


def call_with_retry(
    fn: Callable[[float | None], T],
    policy: RetryPolicy,
    *,
    gate: RateGate | None = None,
    rng: random.Random | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[T, int]:
    """Call `fn(seconds_allowed)` until it succeeds; returns (result, retries used).

    `fn` raises RetryableApiError for transient failures; anything else propagates at once. Gives up with
    ApiError (`retryable=True`: a later run may succeed) once `policy.max_retries` retries are spent or the
    per-item deadline would pass.
    """
    rng = rng or random.Random()
    deadline = None if policy.timeout is None else clock() + policy.timeout
    attempt = 0
    while True:
        if gate is not None:
            gate.wait()
        remaining = None if deadline is None else max(0.01, deadline - clock())
        if policy.attempt_timeout is not None:
            remaining = (
                policy.attempt_timeout if remaining is None else min(remaining, policy.attempt_timeout)
            )
        try:
            return fn(remaining), attempt
        except RetryableApiError as err:
            delay = policy.backoff(attempt, err.retry_after, rng)
            if err.status == 429 and gate is not None:
                gate.pause(delay)  # the whole pool slows down, not just this worker
            if attempt >= policy.max_retries:
                raise ApiError(
                    f"gave up after {attempt + 1} attempts: {err}", status=err.status, retryable=True
                ) from None
            if deadline is not None and clock() + delay >= deadline:
                raise ApiError(
                    f"timed out after {policy.timeout:g} s ({attempt + 1} attempts): {err}",
                    status=err.status,
                    retryable=True,
                ) from None
            sleep(delay)
            attempt += 1
