"""The ST-Evidence multiple-choice task for the runner: `qa` (A-E), `time_evidence` (A-D), `spatial_evidence`
(A-D, option images shown after the video), or `all` three; one record per entry (DESIGN.md §2.4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from evqa import prompts
from evqa.baselines.base import Response
from evqa.baselines.tasks import TaskBase, add_usage
from evqa.data.video import read_image
from evqa.errors import ConfigError

MCQ_TASKS = ("qa", "time_evidence", "spatial_evidence")
# record field of each task's letter (upstream names)
MCQ_FIELDS = {"qa": "answer", "time_evidence": "evidence_t", "spatial_evidence": "evidence_s"}


def expand_mcq_task(task: str) -> tuple[str, ...]:
    """'all' -> the three tasks; a single task name -> itself."""
    if task == "all":
        return MCQ_TASKS
    if task not in MCQ_TASKS:
        raise ConfigError(
            f"unknown MCQ task '{task}', expected one of {', '.join(MCQ_TASKS)}, all", field="--task"
        )
    return (task,)


class McqTask(TaskBase):
    """MCQ over `McqEntry` objects; `mask_file` locates the spatial option images (paths relative to it)."""

    def __init__(self, entries, *, tasks: tuple[str, ...] = MCQ_TASKS, mask_file=None, **kw: Any):
        super().__init__(entries, **kw)
        self.tasks = tasks
        self.mask_root = Path(mask_file).parent if mask_file else Path(".")

    def video_of(self, entry) -> str:
        """The entry's video: `<video_dir>/<video>` or, when `video` is an id, `<video_dir>/<video>.mp4`."""
        path = Path(self.video_path(entry.video))
        if not path.exists() and not path.suffix and path.with_suffix(".mp4").exists():
            path = path.with_suffix(".mp4")
        return str(path)

    def option_images(self, entry) -> tuple[tuple[str, np.ndarray], ...]:
        """(letter, image) for each spatial option (the loader resolves options to image paths)."""
        options = entry.mask_options or []
        return tuple(
            (prompts.letter_of(i), read_image(self.mask_root / path)) for i, path in enumerate(options)
        )

    def prompt(self, entry, task: str) -> str | None:
        """The prompt of one task for `entry`, or None when the entry has no options for it."""
        if task == "qa":
            return prompts.mcq_qa_prompt(entry.question, entry.options)
        answer = (
            entry.options[prompts.LETTERS.index(entry.answer)]
            if entry.answer in prompts.LETTERS
            else entry.answer
        )
        if task == "time_evidence":
            if not entry.time_options:
                return None
            return prompts.mcq_time_evidence_prompt(entry.question, answer, entry.time_options)
        if not entry.mask_options:
            return None
        return prompts.mcq_spatial_evidence_prompt(entry.question, answer, len(entry.mask_options))

    def plan(self, entry) -> dict[str, Any]:
        """Prompts and frame times of `entry` without decoding frames or calling a model (dry run)."""
        from evqa.baselines.frames import load_frames

        frames = load_frames(self.video_of(entry), self.sampling, decode=False)
        tasks = {task: self.prompt(entry, task) for task in self.tasks}
        return {
            "entry_id": str(entry.entry_id),
            "video": self.video_of(entry),
            "timestamps": frames.timestamps.round(3).tolist(),
            "prompts": tasks,
        }

    def steps(self, entry):
        """Yield one request per task; return {answer, evidence_t, evidence_s, raw_response, error, meta}."""
        from evqa.eval.answers import extract_answer

        video = self.video_of(entry)
        frames = self.frames(video)
        record: dict[str, Any] = {"raw_response": {}, "error": None}
        statuses: dict[str, str] = {}
        responses: list[Response] = []
        usage: dict[str, int] = {}
        for task in self.tasks:
            prompt = self.prompt(entry, task)
            if prompt is None:
                statuses[task] = "no_options"
                continue
            images = self.option_images(entry) if task == "spatial_evidence" else ()
            response = yield self.request(str(entry.entry_id), prompt, frames, video, images=images)
            responses.append(response)
            add_usage(usage, response.usage)
            candidates = entry.options if task == "qa" else None
            parse = extract_answer(
                response.text, candidates=candidates, num_options=option_count(entry, task)
            )
            record[MCQ_FIELDS[task]] = parse.letter
            record["raw_response"][task] = response.text
            statuses[task] = parse.status
        record["meta"] = self.meta(frames, usage, responses, tasks=list(self.tasks), answer_status=statuses)
        return record


def option_count(entry, task: str) -> int:
    """How many options (letters) `task` has for `entry`."""
    options = {
        "qa": entry.options,
        "time_evidence": entry.time_options,
        "spatial_evidence": entry.mask_options,
    }
    return len(options[task] or [])
