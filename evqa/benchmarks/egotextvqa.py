"""EgoTextVQA (open-ended scene-text QA on egocentric video) and EgoTempo (same schema, whole clips), both
scored by an LLM judge (BENCHMARKS.md §1).

Files, as released:
    EgoTextVQA  egotextvqa_indoor_annotation.jsonl / egotextvqa_outdoor_annotation.jsonl (one QA per line:
                video_id, question_id, question_type, question, correct_answer, timestamp [s]) or one QA
                metadata table (--qa-file: JSONL / JSON / CSV with video_id, question_id, question, answer,
                question_type, timestamp, subset); videos <video-dir>/EgoTextVQA-{Indoor,Outdoor}/<id>.mp4
                (6 fps; `EgoTextVQA_fps6/` or `EgoTextVQA_fps6_lowres/` under --data-dir).
    EgoTempo    egotempo_openQA.json ({"info": ..., "annotations": [{question_id, clip_id, question_type,
                question, answer}]}); clips <video-dir>/<clip_id>.mp4 (`trimmed_clips/`).

The model is asked the question alone (no system prompt, as the original fine-tuning repo); with
`--realtime` it sees only the video up to `timestamp + 1 s` (EgoTextVQA's real-time protocol).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evqa import prompts
from evqa.benchmarks.base import Benchmark, DataFile, Option, ReportColumn, Scores
from evqa.benchmarks.registry import register_benchmark
from evqa.benchmarks.task import BenchmarkTask, task_kwargs
from evqa.errors import ConfigError, DataError
from evqa.io import read_json

SUBSET_FOLDERS = {"indoor": "EgoTextVQA-Indoor", "outdoor": "EgoTextVQA-Outdoor"}
INDOOR_TYPES = ("hands-on", "kitchen", "shopping", "gameplay", "book-related", "others")
OUTDOOR_TYPES = ("location", "direction", "description", "intention reasoning", "others")
EGOTEMPO_TYPES = (
    "action sequence", "action-specific object", "counting actions", "counting objects",
    "future action prediction", "locating object", "object sequence", "object-specific action",
    "spatial relationship", "temporal event ordering",
)  # fmt: skip
REALTIME_OFFSET_S = 1.0
_BAD_ID = re.compile(r"[/\\\x00-\x1f]|\.\.")


@dataclass(frozen=True)
class OpenQaRecord:
    """One open-ended question. `timestamp` is the second the question is asked (None: whole clip);
    `video` is the clip path relative to the video folder; `subset` is indoor / outdoor / egotempo."""

    entry_id: str
    dataset: str
    subset: str
    video_id: str
    question_id: str
    question: str
    answer: str
    question_type: str
    timestamp: float | None
    video: str


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL, JSON (a list, or {"annotations": [...]}) or CSV file, in file order."""
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        rows = []
        with open(path, encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise DataError(f"not valid JSON ({err})", path=path, entry=f"line {number}") from None
        return rows
    if suffix == ".csv":
        with open(path, encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh))
    if suffix == ".json":
        data = read_json(path, error=DataError)
        rows = data.get("annotations") if isinstance(data, dict) else data
        if not isinstance(rows, list):
            raise DataError("expected a list of QA rows or {'annotations': [...]}", path=path)
        return rows
    raise DataError(f"unsupported QA file type '{suffix}' (use .jsonl, .json or .csv)", path=path)


def _text(row: Mapping, key: str, path: Path, where: str, *, alias: str | None = None) -> str:
    value = row.get(key, row.get(alias) if alias else None)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise DataError("missing or empty", path=path, entry=where, field=key)
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise DataError(f"must be text, got {type(value).__name__}", path=path, entry=where, field=key)
    return str(value).strip()


def _timestamp(row: Mapping, path: Path, where: str) -> float:
    value = row.get("timestamp")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise DataError(f"must be seconds (a number), got {value!r}", path=path, entry=where,
                        field="timestamp") from None  # fmt: skip
    if not seconds >= 0:
        raise DataError(f"must be >= 0 s, got {seconds}", path=path, entry=where, field="timestamp")
    return seconds


def normalize_subset(value: str, path: Path, where: str) -> str:
    """'EgoTextVQA-Indoor' / 'indoor' -> 'indoor' (and outdoor); anything else is an error."""
    lowered = str(value).strip().lower()
    for subset in SUBSET_FOLDERS:
        if lowered in (subset, SUBSET_FOLDERS[subset].lower()):
            return subset
    raise DataError(f"unknown subset {value!r} (indoor or outdoor)", path=path, entry=where, field="subset")


def _entry_id(*parts: str, path: Path, where: str) -> str:
    entry_id = "__".join(parts)
    if _BAD_ID.search(entry_id):
        raise DataError(f"ids must not contain '/', '\\\\', '..' or control characters: {entry_id!r}",
                        path=path, entry=where, field="video_id")  # fmt: skip
    return entry_id


def egotextvqa_records(path: Path, subset: str | None = None) -> list[OpenQaRecord]:
    """Records of an annotation JSONL (`subset` given: indoor / outdoor) or a QA table (`subset` per row)."""
    records = []
    for number, row in enumerate(read_rows(path), 1):
        where = f"row {number}"
        if not isinstance(row, dict):
            raise DataError("a QA row must be an object", path=path, entry=where)
        row_subset = subset or normalize_subset(_text(row, "subset", path, where), path, where)
        video_id = _text(row, "video_id", path, where)
        question_id = _text(row, "question_id", path, where)
        video = row.get("local_video_path") or f"{SUBSET_FOLDERS[row_subset]}/{video_id}.mp4"
        records.append(
            OpenQaRecord(
                entry_id=_entry_id(row_subset, video_id, question_id, path=path, where=where),
                dataset="egotextvqa",
                subset=row_subset,
                video_id=video_id,
                question_id=question_id,
                question=_text(row, "question", path, where),
                answer=_text(row, "answer", path, where, alias="correct_answer"),
                question_type=_text(row, "question_type", path, where).lower(),
                timestamp=_timestamp(row, path, where),
                video=str(video),
            )
        )
    return records


def egotempo_records(path: Path) -> list[OpenQaRecord]:
    """Records of `egotempo_openQA.json` (clip = video, no real-time cut)."""
    records = []
    for number, row in enumerate(read_rows(path), 1):
        where = f"annotation {number}"
        if not isinstance(row, dict):
            raise DataError("an annotation must be an object", path=path, entry=where)
        clip = _text(row, "clip_id", path, where)
        clip = clip[:-4] if clip.endswith(".mp4") else clip
        question_id = _text(row, "question_id", path, where)
        records.append(
            OpenQaRecord(
                entry_id=_entry_id(question_id, path=path, where=where),
                dataset="egotempo",
                subset="egotempo",
                video_id=clip,
                question_id=question_id,
                question=_text(row, "question", path, where),
                answer=_text(row, "answer", path, where),
                question_type=_text(row, "question_type", path, where).lower(),
                timestamp=None,
                video=f"{clip}.mp4",
            )
        )
    return records


def check_unique(records: Sequence[OpenQaRecord], path) -> list[OpenQaRecord]:
    seen: dict[str, int] = {}
    for i, record in enumerate(records):
        if record.entry_id in seen:
            raise DataError("duplicate (subset, video_id, question_id)", path=path, entry=record.entry_id)
        seen[record.entry_id] = i
    return list(records)


_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)


def answer_from_reply(text: str) -> str:
    """The open answer in a reply: the text without a reasoning model's <think>...</think> block."""
    return _THINK.sub("", text or "").strip()


class OpenQaTask(BenchmarkTask):
    """Ask the question alone about the clip (cut at timestamp + offset with --realtime)."""

    def __init__(self, records, *, video_dir: Path, realtime: bool, offset_s: float, **kw: Any):
        super().__init__(records, video_dir=video_dir, **kw)
        self.realtime = realtime
        self.offset_s = offset_s

    def video_of(self, record: OpenQaRecord) -> str:
        path = Path(self.video_path(record.video))
        if not path.exists() and (path.parent.parent / path.name).exists():
            path = path.parent.parent / path.name  # videos straight under the video folder
        return str(path)

    def prompt(self, record: OpenQaRecord) -> str:
        return prompts.video_qa_prompt(record.question)

    def frame_end(self, record: OpenQaRecord) -> float | None:
        if not self.realtime or record.timestamp is None:
            return None
        return record.timestamp + self.offset_s

    def record_fields(self, record: OpenQaRecord) -> dict[str, Any]:
        return {"video_id": record.video_id, "question_id": record.question_id, "subset": record.subset,
                "dataset": record.dataset, "question_type": record.question_type}  # fmt: skip

    def read_reply(self, record: OpenQaRecord, reply) -> dict[str, Any]:
        return {"parsed_response": {"answer": answer_from_reply(reply.text)}, "raw_response": reply.text}


JUDGE_COLUMNS = (
    ReportColumn("accuracy", "Acc", digits=4, unit="fraction"),
    ReportColumn("score", "Score", digits=4, unit="score"),
)


class JudgedOpenQa(Benchmark):
    """What EgoTextVQA and EgoTempo share: the task, the judge, the metrics."""

    columns = JUDGE_COLUMNS
    breakdown_keys = ("question_type", "subset")
    has_synthetic = True
    needs_judge = True

    def ci_samples(self, scores: Scores) -> dict[str, list[tuple[float, float]]]:
        """accuracy = #yes / (#yes + #no): (is yes, has a verdict) per item; score: the default (items
        with a score)."""
        out = super().ci_samples(scores)
        preds = [i.get("pred") for i in scores.per_item.values()]
        if preds:
            out["accuracy"] = [(float(p == "yes"), float(p in ("yes", "no"))) for p in preds]
        return out

    def build_task(self, records, files, *, sampling, options, adapter_cls, max_new_tokens=None):
        if options.get("realtime") and getattr(adapter_cls, "needs_video", False):
            raise ConfigError(
                f"--realtime needs a model fed sampled frames; the {adapter_cls.name} adapter sends the whole "
                "video file, which would show it the future",
                field="--realtime",
            )
        return OpenQaTask(
            records,
            video_dir=files["video_dir"],
            realtime=bool(options.get("realtime")),
            offset_s=float(options.get("realtime_offset") or REALTIME_OFFSET_S),
            prompt_style="baseline",
            **task_kwargs(adapter_cls, sampling, max_new_tokens, prompt_style=False),
        )

    def score(self, records, predictions, *, protocol="evqa", options=None) -> Scores:
        """Metrics from the judge's verdicts (`options["judgements"]`: entry id -> judged item, made by
        `evqa.eval.judge.judge_predictions`)."""
        from evqa.eval.judge import score_judgements

        self.check_protocol(protocol)
        judgements = (options or {}).get("judgements")
        if judgements is None:
            raise ConfigError(f"{self.name} is scored by an LLM judge: give --judge MODEL", field="--judge")
        return score_judgements(records, judgements, protocol=protocol, breakdown_keys=self.breakdown_keys)

    def evaluate(self, files, pred_file, *, protocol="evqa", options=None):
        from evqa.eval.judge import judge_predictions

        options = dict(options or {})
        self.check_protocol(protocol)
        records = self.load(files)
        predictions = self.read_predictions(pred_file)
        judge = options.get("judge")
        if judge is None:
            raise ConfigError(f"{self.name} is scored by an LLM judge: give --judge MODEL", field="--judge")
        options["judgements"] = judge_predictions(records, predictions, judge, pred_file=pred_file)
        return self.score(records, predictions, protocol=protocol, options=options), predictions


@register_benchmark("egotextvqa")
class EgoTextVqa(JudgedOpenQa):
    description = "EgoTextVQA: open scene-text QA on egocentric video (indoor/outdoor), LLM judge"
    data_files = (
        DataFile(
            "qa_file",
            ("--qa-file", "--qa_file"),
            ("egotextvqa_qa.jsonl", "egotextvqa_qa.json", "egotextvqa_qa.csv"),
            "the QA metadata table (video_id, question_id, question, answer, "
            "question_type, timestamp, subset)",
            required=False,
        ),  # fmt: skip
        DataFile(
            "indoor_file",
            ("--indoor-file", "--indoor_file"),
            ("egotextvqa_indoor_annotation.jsonl", "data/egotextvqa_indoor_annotation.jsonl"),
            "the indoor annotation JSONL",
            required=False,
        ),  # fmt: skip
        DataFile(
            "outdoor_file",
            ("--outdoor-file", "--outdoor_file"),
            ("egotextvqa_outdoor_annotation.jsonl", "data/egotextvqa_outdoor_annotation.jsonl"),
            "the outdoor annotation JSONL",
            required=False,
        ),  # fmt: skip
        DataFile(
            "video_dir",
            ("--video_dir", "--video-dir"),
            (
                "EgoTextVQA_fps6_lowres",
                "EgoTextVQA_fps6",
                "data/EgoTextVQA_fps6_lowres",
                "data/EgoTextVQA_fps6",
                "videos",
            ),
            "the 6-fps video folder (EgoTextVQA-Indoor/, EgoTextVQA-Outdoor/)",
            kind="dir",
        ),  # fmt: skip
    )
    options = (
        Option(
            "realtime",
            ("--realtime",),
            "real-time protocol: frames only up to the question's "
            "timestamp + --realtime-offset seconds (default: the whole video)",
        ),  # fmt: skip
        Option(
            "realtime_offset",
            ("--realtime-offset",),
            "seconds after the timestamp the model may see with --realtime (default 1.0)",
            type="float",
            default=REALTIME_OFFSET_S,
        ),  # fmt: skip
    )

    def load(self, files):
        if files.get("qa_file") is not None:
            return check_unique(egotextvqa_records(files["qa_file"]), files["qa_file"])
        records = []
        for subset in ("indoor", "outdoor"):
            if files.get(f"{subset}_file") is not None:
                records += egotextvqa_records(files[f"{subset}_file"], subset)
        if not records and not any(files.get(k) for k in ("indoor_file", "outdoor_file")):
            raise DataError("no EgoTextVQA annotations found: give --data-dir with egotextvqa_*_annotation.jsonl, "
                            "--indoor-file / --outdoor-file, or --qa-file", field="--data-dir")  # fmt: skip
        return check_unique(records, files.get("indoor_file") or files.get("outdoor_file"))

    def synthesize(self, out_dir, *, seed: int = 0, num_items: int | None = None) -> dict:
        from evqa.benchmarks.open_qa_synth import write_egotextvqa

        write_egotextvqa(Path(out_dir), seed=seed, num_items=num_items or 12)
        return self.locate(out_dir)


@register_benchmark("egotempo")
class EgoTempo(JudgedOpenQa):
    description = "EgoTempo: open temporal QA on egocentric clips (10 question types), LLM judge"
    breakdown_keys = ("question_type",)
    data_files = (
        DataFile(
            "qa_file",
            ("--qa-file", "--qa_file"),
            ("egotempo_openQA.json", "data/egotempo_openQA.json"),
            "the EgoTempo annotations (egotempo_openQA.json)",
        ),  # fmt: skip
        DataFile(
            "video_dir",
            ("--video_dir", "--video-dir"),
            ("trimmed_clips", "data/trimmed_clips", "videos"),
            "the clip folder (<clip_id>.mp4)",
            kind="dir",
        ),  # fmt: skip
    )

    def load(self, files):
        return check_unique(egotempo_records(files["qa_file"]), files["qa_file"])

    def synthesize(self, out_dir, *, seed: int = 0, num_items: int | None = None) -> dict:
        from evqa.benchmarks.open_qa_synth import write_egotempo

        write_egotempo(Path(out_dir), seed=seed, num_items=num_items or 10)
        return self.locate(out_dir)
