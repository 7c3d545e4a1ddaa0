"""Benchmark tasks as the runner sees them: the requests to send for one entry and the record to keep.

A task exposes `items()` (entry ids + entries in benchmark order), `plan(entry)` (prompts and frame times,
for `--dry-run`), `steps(entry)` (a generator yielding `Request`s and returning the record), and
`process` / `process_batch` for the runner. Prompts come from `evqa.prompts`, letters and segments from
`evqa.eval.answers`, frames from `evqa.baselines.frames` — nothing here depends on the model.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from evqa import prompts
from evqa.baselines.base import Request, Response
from evqa.baselines.calling import ModelCaller, drive, drive_batch
from evqa.baselines.frames import Frames, Sampling, load_frames
from evqa.baselines.parsing import parse_gen_reply, parse_referring_expressions, parse_segments_reply
from evqa.errors import ConfigError
from evqa.paths import child_path, validate_entry_id

GEN_MODES = ("single-turn", "multi-turn")


def add_usage(total: dict[str, int], usage: dict[str, int]) -> dict[str, int]:
    """Sum the token counts of several turns into `total`."""
    for key, value in usage.items():
        if isinstance(value, int):
            total[key] = total.get(key, 0) + value
    return total


class TaskBase:
    """What every task shares: video lookup, frame sampling, request building, meta, runner hooks."""

    def __init__(
        self,
        entries,
        *,
        video_dir: str | os.PathLike | None,
        sampling: Sampling,
        prompt_style: str = "baseline",
        needs_frames: bool = True,
        max_new_tokens: int | None = None,
    ):
        self.entries = list(entries)
        self.video_dir = Path(video_dir) if video_dir else None
        self.sampling = sampling
        self.prompt_style = prompt_style
        self.needs_frames = needs_frames
        self.max_new_tokens = max_new_tokens
        self.caller: ModelCaller | None = None
        self.model_meta: dict[str, Any] = {}

    def bind(self, caller: ModelCaller) -> None:
        """Attach the model (behind its retrying caller) that `process` uses."""
        self.caller = caller
        self.model_meta = caller.model.describe()

    def items(self) -> list[tuple[str, Any]]:
        """(entry_id, entry) pairs in benchmark order, for `run_items`."""
        return [(str(e.entry_id), e) for e in self.entries]

    def process(self, entry) -> dict[str, Any]:
        """One entry through the bound model; failures become a record with `error`."""
        return drive(lambda: self.steps(entry), self.caller)

    def process_batch(self, entries: list) -> list[dict[str, Any]]:
        """Several entries, one batched model call per conversation turn."""
        return drive_batch([lambda e=e: self.steps(e) for e in entries], self.caller)

    def video_path(self, relative: str) -> str:
        path = Path(relative)
        if not path.is_absolute() and self.video_dir is not None:
            path = self.video_dir / path
        return str(path)

    def frames(self, video: str, *, decode: bool = True) -> Frames:
        """Sample the (resolved) video; frames are decoded only for models that take frames."""
        return load_frames(video, self.sampling, decode=decode and self.needs_frames)

    def request(self, entry_id: str, prompt: str, frames: Frames, video: str, **extra: Any) -> Request:
        return Request(
            entry_id=entry_id,
            prompt=prompt,
            frames=frames.frames,
            timestamps=frames.timestamps,
            frame_indices=frames.indices,
            video_path=video,
            fps=self.sampling.fps,
            max_new_tokens=self.max_new_tokens,
            **extra,
        )

    def meta(self, frames: Frames, usage: dict[str, int], responses: list[Response], **extra: Any) -> dict:
        """The `meta` of a record: model identity, sampling, frames, token usage, retries, latency."""
        last = responses[-1].meta if responses else {}
        return {
            **self.model_meta,
            "fps": self.sampling.fps,
            "frames": frames.indices.tolist(),
            "timestamps": [round(float(t), 3) for t in frames.timestamps],
            "usage": usage,
            "retries": sum(int(r.meta.get("retries", 0)) for r in responses),
            "latency_s": round(sum(float(r.meta.get("latency_s", 0.0)) for r in responses), 4),
            **{k: v for k, v in last.items() if k not in ("retries", "latency_s")},
            **extra,
        }


class GenTask(TaskBase):
    """Generative ST-Evidence: answer letter, temporal segments (s), referring expressions, optional masks."""

    def __init__(
        self, entries, *, mode: str = "single-turn", mask_dir: str | os.PathLike | None = None, **kw
    ):
        super().__init__(entries, **kw)
        if mode not in GEN_MODES:
            raise ConfigError(
                f"unknown mode '{mode}', expected one of {', '.join(GEN_MODES)}", field="--mode"
            )
        self.mode = mode
        self.mask_dir = Path(mask_dir) if mask_dir else None

    def prompts(self, entry) -> list[str]:
        """The user turns sent for `entry`: one (single-turn, or the EVQA prompt) or three (multi-turn)."""
        if self.prompt_style == "evqa":
            return [prompts.evqa_question_prompt(entry.question, entry.candidates)]
        if self.mode == "multi-turn":
            return prompts.gen_multi_turn_prompts(entry.question, entry.candidates)
        return [prompts.gen_single_turn_prompt(entry.question, entry.candidates)]

    def plan(self, entry) -> dict[str, Any]:
        """Prompts and frame times of `entry` without decoding frames or calling a model (dry run)."""
        frames = load_frames(self.video_path(entry.video_path), self.sampling, decode=False)
        return {
            "entry_id": str(entry.entry_id),
            "video": self.video_path(entry.video_path),
            "timestamps": frames.timestamps.round(3).tolist(),
            "prompts": self.prompts(entry),
        }

    def steps(self, entry):
        """Yield each turn's request; return the prediction record (DESIGN.md §2.3)."""
        video = self.video_path(entry.video_path)
        frames = self.frames(video)
        history: list[tuple[str, str]] = []
        responses: list[Response] = []
        usage: dict[str, int] = {}
        for prompt in self.prompts(entry):
            request = self.request(
                str(entry.entry_id),
                prompt,
                frames,
                video,
                history=tuple(history),
                question=entry.question,
                candidates=tuple(entry.candidates),
            )
            response = yield request
            responses.append(response)
            add_usage(usage, response.usage)
            history.append((prompt, response.text))
        replies = [text for _, text in history]
        parsed, parse_meta = self.parse(replies, entry.candidates)
        if responses[-1].masks is not None:
            parsed["mask_path"] = self.save_masks(str(entry.entry_id), responses[-1], frames)
        return {
            "video_id": str(entry.video_id),
            "parsed_response": parsed,
            "raw_response": replies[0] if len(replies) == 1 else replies,
            "error": None,
            "meta": self.meta(frames, usage, responses, mode=self.mode, **parse_meta),
        }

    def parse(self, replies: list[str], candidates) -> tuple[dict[str, Any], dict[str, Any]]:
        """parsed_response and parse notes from the reply (single-turn) or the three replies (multi-turn)."""
        if len(replies) == 1:
            return parse_gen_reply(replies[0], candidates)
        from evqa.eval.answers import extract_answer

        parse = extract_answer(replies[0], candidates=candidates)
        segments, seg_error = parse_segments_reply(replies[1])
        refs = parse_referring_expressions(replies[2])
        parsed = {"answer": parse.letter, "segments": segments, "referring_expressions": refs}
        meta = {"answer_status": parse.status, "answer_method": parse.method}
        if seg_error:
            meta["segment_error"] = seg_error
        return parsed, meta

    def save_masks(self, entry_id: str, response: Response, frames: Frames) -> str:
        """Write a grounded model's masks (bool [N, H, W] on the video's frame timeline) as RLE JSON."""
        from evqa.data.masks import write_rle_json

        if self.mask_dir is None:
            raise ConfigError("this model predicts masks; give a mask directory", field="--pred_mask_dir")
        indices = response.mask_frames if response.mask_frames is not None else np.arange(len(response.masks))
        masks = {int(i): m for i, m in zip(indices, response.masks, strict=True)}
        path = child_path(self.mask_dir, f"{validate_entry_id(entry_id)}.json")
        write_rle_json(path, entry_id, masks, size=frames.size, fps=frames.video_fps)
        return str(path)
