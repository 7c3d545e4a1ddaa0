"""How a task's requests reach a model: with retries (one at a time, for API models in parallel threads)
or in batches (local models), and how a task's step generator is driven.

A task describes one entry as a generator: it yields `Request`s, receives `Response`s and finally returns
the prediction record. `drive` runs one such generator; `drive_batch` runs many in lockstep so that a local
model sees a batch of requests per step (a multi-turn conversation is one step per turn).
"""

from __future__ import annotations

import dataclasses
import time
import traceback
from collections.abc import Callable, Generator
from typing import Any

from evqa.baselines.base import BaselineModel, Request, Response
from evqa.baselines.retry import RateGate, RetryPolicy, call_with_retry
from evqa.errors import ApiError, AuthenticationError, EvqaError

Steps = Generator[Request, Response, dict[str, Any]]


class ModelCaller:
    """`model.generate` behind the retry policy, the shared rate gate and the per-item deadline."""

    def __init__(self, model: BaselineModel, policy: RetryPolicy | None = None, gate: RateGate | None = None):
        self.model = model
        self.policy = policy or RetryPolicy()
        self.gate = gate or RateGate()
        self.retries = 0

    def __call__(self, request: Request) -> Response:
        """One request, retried on transient failures; the retries used go into the response meta."""
        response, used = call_with_retry(
            lambda budget: self.model.generate(dataclasses.replace(request, timeout=budget)),
            self.policy,
            gate=self.gate,
        )
        response.meta["retries"] = used
        return response

    def batch(self, requests: list[Request]) -> list[Response | Exception]:
        """Several requests in one model call when the model batches; a failed batch is retried one by one
        so a bad item only fails itself."""
        if self.model.supports_batching:
            try:
                return list(self.model.generate_batch(requests))
            except Exception:  # noqa: BLE001 - isolate the culprit below
                pass
        out: list[Response | Exception] = []
        for request in requests:
            try:
                out.append(self(request))
            except Exception as err:  # noqa: BLE001 - recorded against its own entry
                out.append(err)
        return out


def failure_record(err: BaseException, started: float) -> dict[str, Any]:
    """The record of an entry that could not be predicted: `error` names the exception (and, for an
    unexpected one, the line it came from); `meta.transient` tells whether running again may succeed
    (rate limits, timeouts, 5xx after every retry) or the cause must be fixed first."""
    if isinstance(err, AuthenticationError):
        raise err  # every entry would fail the same way: the runner stops the run
    message = f"{type(err).__name__}: {err}"
    if not isinstance(err, EvqaError):
        message += f" | {traceback.format_exception(err)[-2].strip()}"
    meta = {
        "elapsed_s": round(time.perf_counter() - started, 3),
        "transient": isinstance(err, ApiError) and err.retryable,
    }
    return {"parsed_response": None, "raw_response": None, "error": message, "meta": meta}


def _finish(record: dict[str, Any], started: float) -> dict[str, Any]:
    record.setdefault("error", None)
    record.setdefault("meta", {})["elapsed_s"] = round(time.perf_counter() - started, 3)
    return record


def drive(steps: Callable[[], Steps], call: Callable[[Request], Response]) -> dict[str, Any]:
    """Run one entry's step generator to its record; any exception becomes a failure record."""
    started = time.perf_counter()
    try:
        gen = steps()
        request = next(gen)
        while True:
            request = gen.send(call(request))
    except StopIteration as stop:
        return _finish(stop.value, started)
    except Exception as err:  # noqa: BLE001 - one entry's failure is recorded, the run goes on
        return failure_record(err, started)


def drive_batch(all_steps: list[Callable[[], Steps]], caller: ModelCaller) -> list[dict[str, Any]]:
    """Run several entries' step generators in lockstep, one batched model call per step."""
    started = time.perf_counter()
    records: list[dict[str, Any] | None] = [None] * len(all_steps)
    live: dict[int, tuple[Steps, Request]] = {}
    for i, steps in enumerate(all_steps):
        try:
            gen = steps()
            live[i] = (gen, next(gen))
        except Exception as err:  # noqa: BLE001
            records[i] = failure_record(err, started)
    while live:
        order = list(live)
        replies = caller.batch([live[i][1] for i in order])
        for i, reply in zip(order, replies, strict=True):
            gen = live.pop(i)[0]
            try:
                nxt = gen.throw(reply) if isinstance(reply, Exception) else gen.send(reply)
                live[i] = (gen, nxt)
            except StopIteration as stop:
                records[i] = _finish(stop.value, started)
            except Exception as err:  # noqa: BLE001
                records[i] = failure_record(err, started)
    return records
