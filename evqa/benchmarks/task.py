"""How a registered benchmark asks a model: a runner task over its records, and the caller that sends each
request to the adapter method the benchmark names (`Benchmark.ask_method`).

`BenchmarkTask` is the `evqa.baselines.tasks.TaskBase` of the registry: it supplies `items`, `plan`,
`steps`, `process` and `process_batch` to `evqa.baselines.runner.run_items`, so resume, retries, shards,
concurrency and JSONL are the runner's. A benchmark subclasses it and implements `video_of`, `prompt`
and `read_reply`; an entry with more than one model call (two videos, several turns) overrides `steps`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from evqa.baselines.base import Request
from evqa.baselines.calling import ModelCaller
from evqa.baselines.frames import Frames, load_frames, resize_longest
from evqa.baselines.retry import RateGate, RetryPolicy, call_with_retry
from evqa.baselines.tasks import TaskBase, add_usage
from evqa.errors import ConfigError


class AdapterCaller(ModelCaller):
    """`ModelCaller` for any adapter method: `generate` (text) or another one a benchmark needs (e.g.
    `score_levels`), behind the same retry policy, rate gate and per-item deadline."""

    def __init__(
        self, model, method: str = "generate", policy: RetryPolicy | None = None, gate: RateGate | None = None
    ):
        super().__init__(model, policy, gate)
        if not callable(getattr(model, method, None)):
            raise ConfigError(
                f"the {getattr(model, 'name', type(model).__name__)} adapter cannot be asked this benchmark: "
                f"it has no '{method}' method",
                field="--model",
            )
        self.method = method

    def __call__(self, request: Request):
        if self.method == "generate":
            return super().__call__(request)
        call = getattr(self.model, self.method)
        reply, used = call_with_retry(
            lambda budget: call(dataclasses.replace(request, timeout=budget)), self.policy, gate=self.gate
        )
        if hasattr(reply, "meta"):
            reply.meta["retries"] = used
        return reply

    def batch(self, requests: list[Request]) -> list:
        if self.method == "generate":
            return super().batch(requests)
        batched = getattr(self.model, f"{self.method}_batch", None)
        if self.model.supports_batching and callable(batched):
            try:
                return list(batched(requests))
            except Exception:  # noqa: BLE001 - isolate the culprit below
                pass
        out: list = []
        for request in requests:
            try:
                out.append(self(request))
            except Exception as err:  # noqa: BLE001 - recorded against its own entry
                out.append(err)
        return out


def task_kwargs(
    adapter_cls, sampling, max_new_tokens: int | None, *, prompt_style: bool = True
) -> dict[str, Any]:
    """What every benchmark task takes from the adapter class and the run: the sampling, whether frames
    are decoded (`needs_frames`), the token budget and, with `prompt_style`, the adapter's prompt style
    (models trained on their own prompt, e.g. `ours`; others get the baseline prompt)."""
    out: dict[str, Any] = {"sampling": sampling, "needs_frames": adapter_cls.needs_frames,
                           "max_new_tokens": max_new_tokens}  # fmt: skip
    if prompt_style:
        out["prompt_style"] = getattr(adapter_cls, "prompt_style", "baseline")
    return out


def load_frames_until(video: str, sampling, end_s: float | None, *, decode: bool = True) -> Frames:
    """Sample `video` as `sampling` says, but only from the part before `end_s` seconds (None: the whole
    video) — the real-time protocol's cut. Timestamps are seconds on the video's own timeline."""
    if end_s is None:
        return load_frames(video, sampling, decode=decode)
    from evqa.data.video import read_frames, sample_frame_indices, video_info

    info = video_info(video, folder_fps=sampling.folder_fps)
    # frames with index / fps <= end_s: the visible prefix of the video
    visible = int(min(info.num_frames, max(1, np.floor(end_s * info.fps + 1e-9) + 1)))
    indices = sample_frame_indices(
        visible,
        info.fps,
        fps=sampling.fps,
        num_frames_out=sampling.num_frames,
        max_frames=sampling.max_frames,
    )
    frames = resize_longest(read_frames(video, indices), sampling.max_size) if decode else None
    return Frames(frames, indices, indices / info.fps, info.fps, (info.height, info.width))


class BenchmarkTask(TaskBase):
    """One model call per record: frames of `video_of(record)` (cut at `frame_end(record)`), the prompt
    `prompt(record)`, and the record `read_reply(record, reply)` makes of the reply.

    Records need `entry_id`; `record_fields(record)` adds identity fields to every prediction record.
    """

    def __init__(self, records: Sequence[Any], **kw: Any):
        super().__init__(records, **kw)

    # --- what a benchmark implements ---
    def video_of(self, record) -> str:
        raise NotImplementedError

    def prompt(self, record) -> str:
        raise NotImplementedError

    def read_reply(self, record, reply) -> dict[str, Any]:
        """{"parsed_response": ..., "raw_response": ...} (plus anything else the scorer needs)."""
        raise NotImplementedError

    def frame_end(self, record) -> float | None:
        """Last visible second (None = whole video)."""
        return None

    def record_fields(self, record) -> dict[str, Any]:
        return {"video_id": str(getattr(record, "video_id", ""))}

    # --- shared ---
    def frames_of(self, record, *, decode: bool = True) -> Frames:
        return load_frames_until(
            self.video_of(record), self.sampling, self.frame_end(record), decode=decode and self.needs_frames
        )

    def plan(self, record) -> dict[str, Any]:
        """Prompt and frame times of `record` without decoding frames or calling a model (dry run)."""
        frames = self.frames_of(record, decode=False)
        return {
            "entry_id": str(record.entry_id),
            "video": self.video_of(record),
            "timestamps": frames.timestamps.round(3).tolist(),
            "prompts": [self.prompt(record)],
        }

    def steps(self, record):
        """Yield the one request; return the prediction record."""
        video = self.video_of(record)
        frames = self.frames_of(record)
        prompt = self.prompt(record)
        response = yield self.request(
            str(record.entry_id), prompt, frames, video, question=getattr(record, "question", None)
        )
        usage = add_usage({}, getattr(response, "usage", {}) or {})
        out = {**self.record_fields(record), **self.read_reply(record, response), "error": None}
        responses = [response] if hasattr(response, "meta") else []
        meta_extra = {"frame_end_s": self.frame_end(record)} if self.frame_end(record) is not None else {}
        out["meta"] = self.meta(frames, usage, responses, **meta_extra)
        return out
