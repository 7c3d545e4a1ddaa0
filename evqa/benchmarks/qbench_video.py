"""Q-Bench-Video-style quality-understanding MCQ (`qbench_video`): yes/no and what/how (A-D) questions, on
one video or comparing two.

Data JSON: a list of `{"id", "video_path": path | [path, path], "question", "candidates": [...],
"correct_ans": text, "question_type": "yes-no" | "what-how", "concern"?}`; paths relative to the JSON.
Two-video items show the first video's frames, then the second's (as labelled images after the first).
Scoring: `evqa` = EVQA's answer extraction (letter or candidate text; unparsable counted); `upstream` =
the reply's first character equals the correct letter. Accuracy x100 overall, per question type and per
single / pair.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evqa.benchmarks.base import Benchmark, DataFile, ReportColumn, Scores
from evqa.benchmarks.registry import register_benchmark
from evqa.benchmarks.task import BenchmarkTask, task_kwargs
from evqa.errors import DataError
from evqa.prompts import LETTERS

QUESTION_TYPES = ("yes-no", "what-how")


@dataclass(frozen=True)
class QBenchItem:
    entry_id: str
    videos: tuple[str, ...]
    question: str
    candidates: tuple[str, ...]
    answer: str  # the correct letter
    question_type: str
    concern: str = ""

    @property
    def video_id(self) -> str:
        return "+".join(Path(v).stem for v in self.videos)

    @property
    def pairing(self) -> str:
        return "pair" if len(self.videos) == 2 else "single"


def load_qbench(path: str | Path) -> list[QBenchItem]:
    """Typed items of a Q-Bench-Video-style JSON (errors name the file, item and field)."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(f"cannot read the Q-Bench-Video JSON: {err}", path=path) from err
    if not isinstance(raw, list):
        raise DataError("the Q-Bench-Video JSON must be a list of items", path=path)
    items = []
    for i, row in enumerate(raw):
        for key in ("video_path", "question", "candidates", "correct_ans"):
            if not isinstance(row, dict) or key not in row:
                raise DataError(f"item {i} has no '{key}'", path=path, field=key)
        videos = row["video_path"] if isinstance(row["video_path"], list) else [row["video_path"]]
        candidates = [str(c) for c in row["candidates"]]
        if len(videos) not in (1, 2):
            raise DataError(f"item {i}: one or two videos, got {len(videos)}", path=path, field="video_path")
        if str(row["correct_ans"]) not in candidates or len(candidates) > len(LETTERS):
            raise DataError(
                f"item {i}: correct_ans is not one of the candidates", path=path, field="correct_ans"
            )
        items.append(
            QBenchItem(
                entry_id=str(row.get("id", i)),
                videos=tuple(str(v) for v in videos),
                question=str(row["question"]),
                candidates=tuple(candidates),
                answer=LETTERS[candidates.index(str(row["correct_ans"]))],
                question_type=str(
                    row.get("question_type") or ("yes-no" if len(candidates) == 2 else "what-how")
                ),
                concern=str(row.get("concern") or ""),
            )
        )
    return items


class QBenchTask(BenchmarkTask):
    def __init__(self, records, *, root: Path, **kw):
        super().__init__(records, **kw)
        self.root = root

    def _path(self, video: str) -> str:
        return str(Path(video) if Path(video).is_absolute() else self.root / video)

    def video_of(self, record: QBenchItem) -> str:
        return self._path(record.videos[0])

    def prompt(self, record: QBenchItem) -> str:
        from evqa.prompts import qbench_prompt

        return qbench_prompt(record.question, record.candidates, two_videos=record.pairing == "pair")

    def steps(self, record: QBenchItem):
        from evqa.baselines.frames import load_frames
        from evqa.baselines.tasks import add_usage

        frames = self.frames_of(record)
        images = ()
        if record.pairing == "pair":
            second = load_frames(self._path(record.videos[1]), self.sampling, decode=self.needs_frames)
            if second.frames is not None:
                images = tuple(
                    (f"Video 2, {t:.1f}s", frame)
                    for t, frame in zip(second.timestamps, second.frames, strict=True)
                )
        response = yield self.request(
            str(record.entry_id), self.prompt(record), frames, self.video_of(record), images=images
        )
        usage = add_usage({}, getattr(response, "usage", {}) or {})
        out = {**self.record_fields(record), **self.read_reply(record, response), "error": None}
        out["meta"] = self.meta(frames, usage, [response], videos=list(record.videos))
        return out

    def read_reply(self, record: QBenchItem, reply) -> dict:
        from evqa.eval.answers import extract_answer

        text = getattr(reply, "text", reply)
        parse = extract_answer(text, list(record.candidates))
        return {"parsed_response": {"answer": parse.letter, "status": parse.status}, "raw_response": text}

    def record_fields(self, record: QBenchItem) -> dict:
        return {"video_id": record.video_id, "question_type": record.question_type, "pairing": record.pairing}


def score_qbench(items: Sequence[QBenchItem], predictions: Mapping[str, dict], protocol: str) -> Scores:
    """Accuracy x100 (missing, failed and unparsable predictions are wrong) overall, by type and pairing."""
    counts = {"n": len(items), "scored": 0, "unparsable": 0, "failed": 0, "missing": 0, "judge_error": 0}
    groups: dict[str, dict[str, list[int]]] = {"question_type": {}, "pairing": {}}
    per_item, total = {}, []
    for item in items:
        pred = predictions.get(item.entry_id)
        letter = None
        if pred is None:
            counts["missing"] += 1
        elif pred.get("error"):
            counts["failed"] += 1
        elif protocol == "upstream":
            raw = pred.get("raw_response")
            letter = raw[0] if isinstance(raw, str) and raw else None
            counts["scored"] += 1
        else:
            letter = (pred.get("parsed_response") or {}).get("answer")
            counts["scored" if letter else "unparsable"] += 1
        correct = int(letter == item.answer)
        total.append(correct)
        groups["question_type"].setdefault(item.question_type, []).append(correct)
        groups["pairing"].setdefault(item.pairing, []).append(correct)
        per_item[item.entry_id] = {"pred": letter, "gt": item.answer, "correct": bool(correct)}
    breakdowns = {
        key: {g: {"accuracy": 100.0 * float(np.mean(v)), "n": len(v)} for g, v in by.items()}
        for key, by in groups.items()
    }
    metrics = {"accuracy": 100.0 * float(np.mean(total)) if total else float("nan")}
    return Scores(metrics=metrics, breakdowns=breakdowns, counts=counts, per_item=per_item)


@register_benchmark("qbench_video")
class QBenchVideo(Benchmark):
    description = "Q-Bench-Video-style quality MCQ (yes/no, A-D; single and two-video items)"
    data_files = (
        DataFile(
            "qa_file",
            ("--qa-file", "--qa_file"),
            ("qbench_video/qbench_video.json", "qbench_video.json"),
            "Q-Bench-Video-style JSON (video_path, question, candidates, correct_ans, question_type)",
        ),
    )
    columns = (ReportColumn("accuracy", "Acc"),)
    breakdown_keys = ("question_type", "pairing")
    has_synthetic = True

    def load(self, files):
        return load_qbench(files["qa_file"])

    def synthesize(self, out_dir, *, seed: int = 0, num_items: int | None = None) -> dict:
        from evqa.benchmarks.qbench_video_synth import write_synthetic

        return {"qa_file": write_synthetic(Path(out_dir) / "qbench_video", seed=seed, num_items=num_items)}

    def build_task(self, records, files, *, sampling, options, adapter_cls, max_new_tokens=None):
        return QBenchTask(
            records,
            root=Path(files["qa_file"]).parent,
            video_dir=None,
            **task_kwargs(adapter_cls, sampling, max_new_tokens),
        )

    def score(self, records, predictions, *, protocol="evqa", options=None):
        self.check_protocol(protocol)
        return score_qbench(records, predictions, protocol)
