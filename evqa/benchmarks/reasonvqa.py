"""ReasonVQA (POVQA): open answers with a rationale about movie clips, scored with text metrics.

Files under `--data-dir`: `annotations/reasonvqa.jsonl` (or `.json`, a list), one object per question:
    {"qid": "m03_q1", "movie": "m03", "question": "...", "answer": "...", "reasoning": "...",
     "keyframe_time": 4.5, "video": "m03"}     (qid, reasoning, keyframe_time, video optional)
and `videos/<video or movie>` (a video file or a frame folder), `subtitles/<movie>.srt` (optional).
Split by movie (`evqa.training.splits.assign_splits`, 0.9 / 0.1, seed 42): `--split val` (default) scores
the held-out movies, as POVQA mirrors its training split at evaluation; `--split all` every item.
The model is asked for its reasoning then the answer (`prompts.video_qa_prompt(rationale=True)`); the
answer's metrics are EM, F1, BLEU1, BLEU4_BP, ROUGE_L, EmbedCos, the rationale's the same with the suffix
`_Reasoning` (`evqa.metrics.text`), fractions in [0, 1].
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
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
from evqa.metrics.text import OVERLAP_METRICS, REASONING_SUFFIX, TEXT_METRICS

SPLIT_SEED = 42
VAL_FRACTION = 0.1
_FINAL = re.compile(r"final\s*answer\s*[:：]\s*", re.IGNORECASE)
_REASON = re.compile(r"^\s*(reasoning|rationale)\s*[:：]\s*", re.IGNORECASE)


@dataclass(frozen=True)
class ReasonVqaItem:
    entry_id: str
    movie: str
    question: str
    answer: str
    reasoning: str | None
    keyframe_time: float | None
    video: str
    split: str


def split_reply(text: str) -> tuple[str | None, str]:
    """(rationale, answer) of a 'Reasoning: ...\\nFinal Answer: ...' reply; without 'Final Answer:' the
    whole reply is the answer and there is no rationale."""
    text = (text or "").strip()
    parts = _FINAL.split(text)
    if len(parts) < 2:
        return None, text
    rationale = _REASON.sub("", parts[0]).strip()
    return (rationale or None), parts[-1].strip()


@register_benchmark("reasonvqa")
class ReasonVqa(Benchmark):
    description = "POVQA's ReasonVQA: open answers + rationale on movie clips; EM/F1/BLEU/ROUGE-L/EmbedCos"
    data_files = (
        DataFile(
            "annotations",
            ("--annotations",),
            ("annotations/reasonvqa.jsonl", "annotations/reasonvqa.json", "reasonvqa.jsonl"),
            "the ReasonVQA annotations (JSONL or JSON list)",
        ),  # fmt: skip
        DataFile(
            "video_dir",
            ("--video-dir", "--video_dir"),
            ("videos", "out_preprocessed"),
            "the folder of clips (files or frame folders) named by movie",
            kind="dir",
        ),  # fmt: skip
        DataFile(
            "subtitle_dir",
            ("--subtitle-dir", "--subtitle_dir"),
            ("subtitles",),
            "the folder of <movie>.srt subtitles",
            kind="dir",
            required=False,
        ),  # fmt: skip
    )
    options = CONTEXT_OPTIONS
    # scoring options, on `evqa eval` as well as `evqa infer` (--split also chooses the items asked)
    score_options = (
        Option(
            "split",
            ("--split",),
            "ReasonVQA items: val (the held-out 10%% of movies, seed 42), train or all (default: val)",
            type="str",
            default="val",
        ),  # fmt: skip
        Option(
            "embedding_model",
            ("--embedding-model", "--embedding_model"),
            "a local sentence-transformers folder for EmbedCos (default: the packaged all-MiniLM-L6-v2)",
            type="str",
        ),  # fmt: skip
        Option(
            "no_embedding", ("--no-embedding", "--no_embedding"), "leave EmbedCos out (default: computed)"
        ),
    )
    columns = tuple(ReportColumn(k, k, digits=3, unit="fraction") for k in TEXT_METRICS) + tuple(
        ReportColumn(k + REASONING_SUFFIX, k + REASONING_SUFFIX, digits=3, unit="fraction")
        for k in TEXT_METRICS
    )
    breakdown_keys = ("movie",)
    has_synthetic = True
    protocols = ("evqa",)

    def load(self, files: Mapping[str, Path | None]) -> list[ReasonVqaItem]:
        from evqa.training.splits import assign_splits

        path = files["annotations"]
        rows = read_rows(path)
        raw = []
        for i, row in enumerate(rows):
            where = f"row {i + 1}"
            movie = field(row, "movie", path, where)
            qid = field(row, "qid", path, where, required=False) or f"{movie}_{i}"
            raw.append((qid, movie, row, where))
        seen: dict[str, str] = {}
        for qid, _, _, where in raw:
            if qid in seen:
                raise DataError(f"duplicate qid (also {seen[qid]})", path=path, entry=where, field="qid")
            seen[qid] = where
        splits = assign_splits([m for _, m, _, _ in raw], val_fraction=VAL_FRACTION, seed=SPLIT_SEED)
        split_of = {m: name for name, movies in splits.items() for m in movies}
        return [
            ReasonVqaItem(
                entry_id=qid,
                movie=movie,
                question=field(row, "question", path, where),
                answer=field(row, "answer", path, where),
                reasoning=field(row, "reasoning", path, where, required=False),
                keyframe_time=field(row, "keyframe_time", path, where, kind=float, required=False),
                video=field(row, "video", path, where, required=False) or movie,
                split=split_of[movie],
            )
            for qid, movie, row, where in raw
        ]

    def selected(self, records: Sequence[ReasonVqaItem], options: Mapping[str, Any]) -> list[ReasonVqaItem]:
        split = (options or {}).get("split") or "val"
        if split not in ("train", "val", "all"):
            raise ConfigError(f"unknown split '{split}' (train, val or all)", field="--split")
        return [r for r in records if split == "all" or r.split == split]

    def synthesize(self, out_dir: str | os.PathLike, *, seed: int = 0, num_items: int | None = None) -> dict:
        import json

        rng = np.random.default_rng(seed)
        root = Path(out_dir)
        colours = ["red", "green", "blue", "yellow", "white"]
        movies = [f"movie{k:02d}" for k in range(10)]
        rows = []
        for m, movie in enumerate(movies):
            write_frame_folder(root / "videos" / movie, 18, rng)
            write_srt(
                root / "subtitles" / f"{movie}.srt",
                [(0.0, 1.2, f"{movie} opens."), (1.5, 2.9, "Look at the square.")],
            )
            for q in range(4):
                colour = colours[(m + q) % len(colours)]
                rows.append({
                    "qid": f"{movie}_q{q}", "movie": movie, "video": movie,
                    "question": f"What colour is the sign in scene {q + 1}?",
                    "answer": f"The sign is {colour}.",
                    "reasoning": f"In scene {q + 1} the camera stops on a {colour} sign.",
                    "keyframe_time": round(0.5 * q, 2),
                })  # fmt: skip
        rows = rows[:num_items] if num_items else rows
        ann = root / "annotations" / "reasonvqa.jsonl"
        ann.parent.mkdir(parents=True, exist_ok=True)
        ann.write_text("".join(json.dumps(r) + "\n" for r in rows))
        return {"annotations": ann, "video_dir": root / "videos", "subtitle_dir": root / "subtitles"}

    def build_task(self, records, files, *, sampling, options, adapter_cls, max_new_tokens=None):
        return ReasonVqaTask(
            self.selected(records, options),
            files=files,
            options=options,
            video_dir=files["video_dir"],
            interleaves_frame_texts=getattr(adapter_cls, "interleaves_frame_texts", False),
            **task_kwargs(adapter_cls, sampling, max_new_tokens, prompt_style=False),
        )

    def score(self, records, predictions, *, protocol="evqa", options=None) -> Scores:
        from evqa.metrics.text import summarize_text_scores, text_scores

        options = options or {}
        items = self.selected(records, options)
        embed = not options.get("no_embedding")
        model_dir = options.get("embedding_model")
        scored, failed = [], 0
        for item in items:
            pred = predictions.get(item.entry_id)
            if pred is None or pred.get("error") or not isinstance(pred.get("parsed_response"), dict):
                failed += 1
                continue
            scored.append((item, pred["parsed_response"]))
        answers = text_scores([str(p.get("answer") or "") for _, p in scored], [i.answer for i, _ in scored],
                              embedding=embed, model_dir=model_dir)  # fmt: skip
        with_r = [(i, p) for i, p in scored if i.reasoning]
        reasons = text_scores([str(p.get("rationale") or "") for _, p in with_r], [i.reasoning for i, _ in with_r],
                              embedding=embed, model_dir=model_dir)  # fmt: skip
        metrics = {**summarize_text_scores(answers), **summarize_text_scores(reasons, REASONING_SUFFIX)}
        breakdown: dict[str, dict[str, float]] = {}
        for movie in sorted({i.movie for i, _ in scored}):
            rows = [k for k, (i, _) in enumerate(scored) if i.movie == movie]
            breakdown[movie] = {**{k: float(np.mean(v[rows])) for k, v in answers.items()}, "n": len(rows)}
        per_item = {
            i.entry_id: {k: float(v[n]) for k, v in answers.items()} for n, (i, _) in enumerate(scored)
        }
        no_rationale = sum(1 for i, p in with_r if not p.get("rationale"))
        counts = {"n": len(items), "scored": len(scored), "failed": failed, "unparsable": no_rationale,
                  "with_reasoning": len(with_r)}  # fmt: skip
        return Scores(metrics=metrics, breakdowns={"movie": breakdown}, counts=counts, per_item=per_item)


class ReasonVqaTask(PovqaTask):
    video_field, subtitle_field = "video", "movie"

    def base_prompt(self, record) -> str:
        return prompts.video_qa_prompt(record.question, rationale=True)

    def item_keyframe(self, record):
        return record.keyframe_time

    def record_fields(self, record) -> dict[str, Any]:
        return {"video_id": record.video, "movie": record.movie, "split": record.split}

    def read_reply(self, record, reply) -> dict[str, Any]:
        rationale, answer = split_reply(reply.text)
        return {"parsed_response": {"answer": answer, "rationale": rationale}, "raw_response": reply.text}


__all__ = ["OVERLAP_METRICS", "ReasonVqa", "ReasonVqaItem", "split_reply"]
