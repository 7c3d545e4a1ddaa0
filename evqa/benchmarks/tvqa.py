"""TVQA (as POVQA evaluates it): 5-option multiple choice about TV clips with subtitles; accuracy.

Files under `--data-dir`, TVQA's release layout: `tvqa_qa_release/tvqa_val.jsonl` (or a subset made by
`evqa data subset --by show_name --n 5000 --seed 42`, given with `--qa-file`), one object per question:
    {"qid": 7, "q": "...", "a0": "...", ..., "a4": "...", "answer_idx": 2, "vid_name": "friends_s01e01_seg02_clip_00",
     "show_name": "Friends", "ts": "3.2-9.7"}
`frames_hq/<vid_name>/` (a frame folder at 3 fps, as TVQA releases them, or a video file per clip; another
folder rate with `--frames-fps`) and `tvqa_subtitles/<vid_name>.srt`.
The prompt gives the options and the subtitles of the clip; the reply is read by `evqa.eval.answers`
(letters A-E, or an option's text); accuracy x100, overall and per show, unparsable replies counted wrong.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evqa import prompts
from evqa.benchmarks.base import Benchmark, DataFile, Option, ReportColumn, Scores
from evqa.benchmarks.povqa_common import (
    CONTEXT_OPTIONS,
    PovqaTask,
    field,
    read_rows,
    write_frame_folder,
    write_srt,
)
from evqa.benchmarks.registry import register_benchmark
from evqa.benchmarks.task import task_kwargs
from evqa.errors import ConfigError, DataError

NUM_OPTIONS = 5
FRAMES_FPS = 3.0  # TVQA's frames_hq: frames extracted at 3 fps


@dataclass(frozen=True)
class TvqaItem:
    entry_id: str
    question: str
    options: tuple[str, ...]
    answer_idx: int
    vid_name: str
    show_name: str
    ts: tuple[float, float] | None


def _ts(value, path, where) -> tuple[float, float] | None:
    if value in (None, "", "NaN"):
        return None
    try:
        a, b = (float(x) for x in str(value).split("-"))
    except ValueError:
        raise DataError(f"not 'start-end' seconds: {value!r}", path=path, entry=where, field="ts") from None
    return a, b


@register_benchmark("tvqa")
class Tvqa(Benchmark):
    description = "TVQA (POVQA's 5k val subset): 5-option MCQ on TV clips with subtitles; accuracy"
    data_files = (
        DataFile(
            "qa_file",
            ("--qa-file", "--qa_file"),
            ("tvqa_qa_release/tvqa_val.jsonl", "tvqa_val.jsonl"),
            "the TVQA QA file (JSONL: q, a0-a4, answer_idx, vid_name, show_name)",
        ),  # fmt: skip
        DataFile(
            "frames_dir",
            ("--frames-dir", "--frames_dir"),
            ("frames_hq", "videos"),
            "the folder of clips (frame folders or videos) named by vid_name",
            kind="dir",
        ),  # fmt: skip
        DataFile(
            "subtitle_dir",
            ("--subtitle-dir", "--subtitle_dir"),
            ("tvqa_subtitles",),
            "the folder of <vid_name>.srt subtitles",
            kind="dir",
            required=False,
        ),  # fmt: skip
    )
    options = (
        *CONTEXT_OPTIONS,
        Option(
            "frames_fps",
            ("--frames-fps", "--frames_fps"),
            f"frames per second of the frame folders in --frames-dir (default: {FRAMES_FPS:g}, TVQA's "
            "frames_hq); video files use their own rate",
            type="float",
            default=FRAMES_FPS,
        ),
    )
    columns = (ReportColumn("accuracy", "Acc", digits=2, unit="percent"),)
    breakdown_keys = ("show_name",)
    has_synthetic = True
    protocols = ("evqa",)

    def load(self, files: Mapping[str, Path | None]) -> list[TvqaItem]:
        path = files["qa_file"]
        items, seen = [], set()
        for i, row in enumerate(read_rows(path)):
            where = f"row {i + 1}"
            qid = field(row, "qid", path, where)
            if qid in seen:
                raise DataError("duplicate qid", path=path, entry=where, field="qid")
            seen.add(qid)
            answer = field(row, "answer_idx", path, where, kind=int)
            if not 0 <= answer < NUM_OPTIONS:
                raise DataError(
                    f"answer_idx {answer} is not in 0..4", path=path, entry=where, field="answer_idx"
                )
            items.append(
                TvqaItem(
                    entry_id=qid,
                    question=field(row, "q", path, where),
                    options=tuple(field(row, f"a{k}", path, where) for k in range(NUM_OPTIONS)),
                    answer_idx=answer,
                    vid_name=field(row, "vid_name", path, where),
                    show_name=field(row, "show_name", path, where),
                    ts=_ts(row.get("ts"), path, where),
                )
            )
        return items

    def synthesize(self, out_dir: str | os.PathLike, *, seed: int = 0, num_items: int | None = None) -> dict:
        import json

        rng = np.random.default_rng(seed)
        root = Path(out_dir)
        shows = ["The Big Bang Theory", "Friends", "House M.D.", "Castle"]
        colours = ["red", "green", "blue", "yellow", "white"]
        rows, qid = [], 0
        for s, show in enumerate(shows):
            for c in range(3):
                vid = f"{show.split()[0].lower()}_s01e0{c + 1}_seg02_clip_0{c}"
                write_frame_folder(root / "frames_hq" / vid, int(2 * FRAMES_FPS), rng)  # 2 s
                colour = colours[(s + c) % 5]
                write_srt(root / "tvqa_subtitles" / f"{vid}.srt",
                          [(0.0, 0.9, f"(Sheldon:) The box is {colour}."), (1.0, 1.9, "(Penny:) Really?")])  # fmt: skip
                for q in range(2):
                    answer = int(rng.integers(0, NUM_OPTIONS))
                    opts = [c2 for c2 in colours if c2 != colour][:4]
                    opts.insert(answer, colour)
                    rows.append({"qid": qid, "q": f"What colour is the box{'?' if q == 0 else ' Sheldon mentions?'}",
                                 **{f"a{k}": o for k, o in enumerate(opts)}, "answer_idx": answer, "vid_name": vid,
                                 "show_name": show, "ts": "0.0-1.9"})  # fmt: skip
                    qid += 1
        rows = rows[:num_items] if num_items else rows
        qa = root / "tvqa_qa_release" / "tvqa_val.jsonl"
        qa.parent.mkdir(parents=True, exist_ok=True)
        qa.write_text("".join(json.dumps(r) + "\n" for r in rows))
        return {"qa_file": qa, "frames_dir": root / "frames_hq", "subtitle_dir": root / "tvqa_subtitles"}

    def build_task(self, records, files, *, sampling, options, adapter_cls, max_new_tokens=None):
        import dataclasses

        folder_fps = float(options.get("frames_fps") or FRAMES_FPS)
        if folder_fps <= 0:
            raise ConfigError(f"--frames-fps must be positive, got {folder_fps:g}", field="--frames-fps")
        sampling = dataclasses.replace(sampling, folder_fps=folder_fps)
        return TvqaTask(records, files=files, options=options, video_dir=files["frames_dir"],
                        interleaves_frame_texts=getattr(adapter_cls, "interleaves_frame_texts", False),
                        **task_kwargs(adapter_cls, sampling, max_new_tokens, prompt_style=False))  # fmt: skip

    def score(self, records, predictions, *, protocol="evqa", options=None) -> Scores:
        return score_mcq(records, predictions)


def score_mcq(records, predictions) -> Scores:
    """Accuracy x100 over every item (missing, failed and unparsable replies count as wrong), per show."""
    from evqa.metrics.qa import accuracy

    correct: dict[str, list[int]] = {}
    counts = {"n": len(records), "scored": 0, "unparsable": 0, "failed": 0}
    per_item = {}
    for item in records:
        pred = predictions.get(item.entry_id)
        letter = None
        if pred is None or pred.get("error"):
            counts["failed"] += 1
        else:
            letter = (pred.get("parsed_response") or {}).get("answer")
            if letter is None:
                counts["unparsable"] += 1
            else:
                counts["scored"] += 1
        hit = int(letter == prompts.letter_of(item.answer_idx))
        correct.setdefault(item.show_name, []).append(hit)
        per_item[item.entry_id] = {"correct": hit, "answer": letter}
    every = [h for hits in correct.values() for h in hits]
    metrics = {"accuracy": accuracy(every) if every else float("nan")}
    shows = {s: {"accuracy": accuracy(h), "n": len(h)} for s, h in sorted(correct.items())}
    return Scores(metrics=metrics, breakdowns={"show_name": shows}, counts=counts, per_item=per_item)


class TvqaTask(PovqaTask):
    video_field = subtitle_field = "vid_name"

    def base_prompt(self, record) -> str:
        return prompts.mcq_qa_prompt(record.question, record.options)

    def item_keyframe(self, record):
        return record.ts[0] if record.ts else None

    def record_fields(self, record) -> dict[str, Any]:
        return {"video_id": record.vid_name, "show_name": record.show_name}

    def read_reply(self, record, reply) -> dict[str, Any]:
        from evqa.eval.answers import extract_answer

        parse = extract_answer(reply.text, candidates=record.options)
        return {"parsed_response": {"answer": parse.letter}, "raw_response": reply.text,
                "answer_status": parse.status}  # fmt: skip
