"""Benchmark tasks as seen by the runner: which requests to send for one entry and how to record the reply.

`GenTask` (generative ST-Evidence, single-turn / multi-turn) and `McqTask` (qa / time_evidence /
spatial_evidence) both expose `items()` for the runner, `plan(entry)` (prompts and frame times, for
`--dry-run`) and `process(entry) -> record`. Prompts come from `evqa.prompts`, letters and segments from
`evqa.eval.answers`, frames from `evqa.data.video` — nothing here is model specific.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evqa import prompts
from evqa.baselines.base import BaselineModel, Request, Response
from evqa.baselines.parsing import parse_gen_reply, parse_referring_expressions, parse_segments_reply
from evqa.baselines.retry import RateGate, RetryPolicy, call_with_retry
from evqa.errors import ConfigError

GEN_MODES = ("single-turn", "multi-turn")


@dataclass(frozen=True)
class Sampling:
    """How frames are drawn: `fps` frames per second (or `num_frames` evenly), at most `max_frames`,
    longest side resized to `max_size` pixels (None = original)."""

    fps: float | None = 1.0
    num_frames: int | None = None
    max_frames: int | None = None
    max_size: int | None = None


@dataclass
class Frames:
    """Sampled frames: uint8 [T, H, W, 3], int64 [T] indices, float64 [T] seconds; `video_fps`, `size` (H, W)."""

    frames: np.ndarray | None
    indices: np.ndarray
    timestamps: np.ndarray
    video_fps: float
    size: tuple[int, int]


def resize_longest(frames: np.ndarray, max_size: int | None) -> np.ndarray:
    """Downscale uint8 [T, H, W, 3] so that max(H, W) <= max_size (aspect kept, area interpolation)."""
    import cv2

    height, width = frames.shape[1:3]
    if not max_size or max(height, width) <= max_size:
        return frames
    scale = max_size / max(height, width)
    new = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.stack([cv2.resize(f, new, interpolation=cv2.INTER_AREA) for f in frames])


def load_frames(video_path: str | os.PathLike, sampling: Sampling, *, decode: bool = True) -> Frames:
    """Sample a video the way `sampling` says; `decode=False` only computes indices and times."""
    from evqa.data.video import read_frames, sample_frame_indices, video_info

    info = video_info(video_path)
    indices = sample_frame_indices(info.num_frames, info.fps, fps=sampling.fps, num_frames_out=sampling.num_frames,
                                   max_frames=sampling.max_frames)  # fmt: skip
    frames = resize_longest(read_frames(video_path, indices), sampling.max_size) if decode else None
    return Frames(frames, indices, indices / info.fps, info.fps, (info.height, info.width))


class ModelCaller:
    """`model.generate` with the runner's retry policy, shared rate gate and per-item deadline."""

    def __init__(self, model: BaselineModel, policy: RetryPolicy | None = None, gate: RateGate | None = None):
        self.model = model
        self.policy = policy or RetryPolicy()
        self.gate = gate or RateGate()

    def __call__(self, request: Request) -> tuple[Response, int]:
        """Returns (response, retries used); raises ApiError after the retries / deadline are spent."""
        return call_with_retry(lambda remaining: self.model.generate(dataclasses.replace(request, timeout=remaining)),
                               self.policy, gate=self.gate)  # fmt: skip


def add_usage(total: dict[str, int], usage: dict[str, int]) -> dict[str, int]:
    """Sum token counts of several turns."""
    for key, value in usage.items():
        if isinstance(value, int):
            total[key] = total.get(key, 0) + value
    return total


class TaskBase:
    """What both tasks share: video lookup, frame sampling, request building and meta recording."""

    def __init__(self, entries, *, video_dir: str | os.PathLike | None, sampling: Sampling,
                 prompt_style: str = "baseline", needs_frames: bool = True):  # fmt: skip
        self.entries = list(entries)
        self.video_dir = Path(video_dir) if video_dir else None
        self.sampling = sampling
        self.prompt_style = prompt_style
        self.needs_frames = needs_frames
        self.caller: ModelCaller | None = None
        self.model_meta: dict[str, Any] = {}

    def bind(self, caller: ModelCaller) -> None:
        """Attach the model (through its retrying caller) that `process` will use."""
        self.caller = caller
        self.model_meta = caller.model.describe()

    def items(self) -> list[tuple[str, Any]]:
        """(entry_id, entry) pairs in benchmark order, for `run_items`."""
        return [(str(e.entry_id), e) for e in self.entries]

    def video_path(self, relative: str) -> str:
        path = Path(relative)
        if not path.is_absolute() and self.video_dir is not None:
            path = self.video_dir / path
        return str(path)

    def frames(self, relative: str, *, decode: bool = True) -> Frames:
        return load_frames(self.video_path(relative), self.sampling, decode=decode and self.needs_frames)

    def request(self, entry_id: str, prompt: str, frames: Frames, video: str, **extra: Any) -> Request:
        return Request(entry_id=entry_id, prompt=prompt, frames=frames.frames, timestamps=frames.timestamps,
                       frame_indices=frames.indices, video_path=video, fps=self.sampling.fps, **extra)  # fmt: skip

    def meta(self, frames: Frames, usage: dict[str, int], retries: int, **extra: Any) -> dict[str, Any]:
        return {**self.model_meta, "fps": self.sampling.fps, "frames": frames.indices.tolist(),
                "timestamps": [round(float(t), 3) for t in frames.timestamps], "usage": usage,
                "retries": retries, **extra}  # fmt: skip


class GenTask(TaskBase):
    """Generative ST-Evidence: answer letter, temporal segments (s), referring expressions, optional masks."""

    def __init__(
        self, entries, *, mode: str = "single-turn", mask_dir: str | os.PathLike | None = None, **kw: Any
    ):
        super().__init__(entries, **kw)
        if mode not in GEN_MODES:
            raise ConfigError(
                f"unknown mode '{mode}', expected one of {', '.join(GEN_MODES)}", field="--mode"
            )
        self.mode = mode
        self.mask_dir = Path(mask_dir) if mask_dir else None

    def prompts(self, entry) -> list[str]:
        """The user turns sent for `entry` (one for single-turn or the EVQA prompt, three for multi-turn)."""
        if self.prompt_style == "evqa":
            return [prompts.evqa_question_prompt(entry.question, entry.candidates)]
        if self.mode == "multi-turn":
            return prompts.gen_multi_turn_prompts(entry.question, entry.candidates)
        return [prompts.gen_single_turn_prompt(entry.question, entry.candidates)]

    def plan(self, entry) -> dict[str, Any]:
        """Prompts and frame times of `entry` without decoding frames or calling a model (dry run)."""
        frames = self.frames(entry.video_path, decode=False)
        return {"entry_id": entry.entry_id, "video": self.video_path(entry.video_path),
                "timestamps": frames.timestamps.round(3).tolist(), "prompts": self.prompts(entry)}  # fmt: skip

    def process(self, entry) -> dict[str, Any]:
        """Run the model on one entry; returns the prediction record (DESIGN.md §2.3)."""
        video = self.video_path(entry.video_path)
        frames = self.frames(entry.video_path)
        turns = self.prompts(entry)
        history: list[tuple[str, str]] = []
        usage: dict[str, int] = {}
        retries = 0
        response = None
        for prompt in turns:
            request = self.request(str(entry.entry_id), prompt, frames, video, history=tuple(history),
                                   question=entry.question, candidates=tuple(entry.candidates))  # fmt: skip
            response, used = self.caller(request)
            retries += used
            add_usage(usage, response.usage)
            history.append((prompt, response.text))
        replies = [text for _, text in history]
        parsed, parse_meta = self._parse(replies, entry.candidates)
        if response is not None and response.masks is not None:
            parsed["mask_path"] = self._save_masks(str(entry.entry_id), response, frames)
        meta = {**self.meta(frames, usage, retries, mode=self.mode), **parse_meta, **response.meta}
        raw = replies[0] if len(replies) == 1 else replies
        return {"video_id": str(entry.video_id), "parsed_response": parsed, "raw_response": raw, "error": None,
                "meta": meta}  # fmt: skip

    def _parse(self, replies: list[str], candidates) -> tuple[dict[str, Any], dict[str, Any]]:
        if len(replies) == 1:
            return parse_gen_reply(replies[0], candidates)
        from evqa.eval.answers import extract_answer

        parse = extract_answer(replies[0], candidates=candidates)
        segments, seg_error = parse_segments_reply(replies[1])
        parsed = {"answer": parse.letter, "segments": segments,
                  "referring_expressions": parse_referring_expressions(replies[2])}  # fmt: skip
        meta = {"answer_status": parse.status, "answer_method": parse.method}
        if seg_error:
            meta["segment_error"] = seg_error
        return parsed, meta

    def _save_masks(self, entry_id: str, response: Response, frames: Frames) -> str:
        """Write a grounded model's masks (bool [N, H, W] on the video's frame timeline) as RLE JSON."""
        from evqa.data.masks import write_rle_json

        if self.mask_dir is None:
            raise ConfigError("this model predicts masks; give a mask directory", field="--pred_mask_dir")
        indices = response.mask_frames if response.mask_frames is not None else np.arange(len(response.masks))
        path = self.mask_dir / f"{entry_id}.json"
        write_rle_json(path, entry_id, {int(i): m for i, m in zip(indices, response.masks, strict=True)},
                       size=frames.size, fps=frames.video_fps)  # fmt: skip
        return str(path)
