"""VideoEspresso (`videoespresso`): reasoning MCQ over 14 tasks, with oracle evidence and core frames.

Test JSON: a list of items `{video_path, question, options: ["(A): ...", ...], correct_answer: "(A)",
evidence, task, core_frames_paths, core_frames_captions}`; `video_path` and core frame paths are relative
to the JSON's folder (or absolute).

- Prompt: the original's (`evqa.prompts.videoespresso_prompt`); `--with-evidence` (a real boolean flag)
  inserts "Your inference evidence is {evidence}.".
- Frames (`--frames`, also spelled `--frame-rule`): `evqa` = the run's sampling flags; `upstream` = the
  original's uniform `min(128, int(24 * duration) + 1)` frames; `core` = the item's annotated core frames.
- `--frame-selector NAME` (`evqa.baselines.frame_select`): a small model scores the frames the rule drew and
  keeps `--select-frames K` of them for the answering model; the record's `frame_selection` says which
  (video frame indices, every candidate's score) and `meta.frames` lists the frames fed.
- Scoring: `evqa` = EVQA's answer extraction (unparsable counted); `upstream` = the first capital A-D
  anywhere in the reply (so "Answer: (C)" reads as A). Accuracy x100 overall (micro), per task, and the
  mean over tasks; `--no-evidence-pred FILE` scores a second run without evidence and reports the gap.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from evqa.benchmarks.base import Benchmark, DataFile, Option, ReportColumn, Scores
from evqa.benchmarks.registry import register_benchmark
from evqa.benchmarks.task import BenchmarkTask, task_kwargs
from evqa.errors import ConfigError, DataError

TASKS = (
    "Narrative Analysis",
    "Event Dynamic",
    "Preparation Steps",
    "Causal Analysis",
    "Theme Analysis",
    "Contextual Analysis",
    "Influence Analysis",
    "Role Analysis",
    "Interaction Analysis",
    "Behavior Analysis",
    "Emotion Analysis",
    "Cooking Process",
    "Traffic Analysis",
    "Situation Analysis",
)
OPTION_LETTERS = "ABCD"
FRAME_RULES = ("evqa", "upstream", "core")
DEFAULT_SELECT_FRAMES = 4
_FIELDS = ("video_path", "question", "options", "correct_answer", "evidence", "task")
_OPTION = re.compile(r"^\(([A-D])\)\s*:?\s*(.*)$", re.DOTALL)
_UPSTREAM_LETTER = re.compile(r"[ABCD]")


@dataclass(frozen=True)
class EspressoItem:
    """One VideoEspresso test item; `answer` is the letter, `option_texts` the options without "(X): "."""

    entry_id: str
    video_path: str
    question: str
    options: tuple[str, ...]
    option_texts: tuple[str, ...]
    answer: str
    evidence: str
    task: str
    core_frames_paths: tuple[str, ...] = ()
    core_frames_captions: tuple[str, ...] = field(default=())

    @property
    def video_id(self) -> str:
        return Path(self.video_path).stem


def upstream_frame_count(duration_s: float) -> int:
    """Frames the original samples uniformly from a video of `duration_s` seconds: min(128, int(24 d) + 1)."""
    return min(128, int(24 * float(duration_s)) + 1)


def upstream_letter(reply: str | None) -> str | None:
    """The original's reading of a reply: its first capital A-D anywhere (None if there is none)."""
    match = _UPSTREAM_LETTER.search(reply or "")
    return match.group(0) if match else None


def _parse_item(raw, index: int, path: Path) -> EspressoItem:
    where = f"{path}: item {index}"
    if not isinstance(raw, dict):
        raise DataError(f"{where} is not an object", path=path)
    for key in _FIELDS:
        if key not in raw:
            raise DataError(f"{where} has no '{key}'", path=path, field=key)
    options = raw["options"]
    if not isinstance(options, list) or len(options) < 2:
        raise DataError(
            f"{where}: 'options' must be a list of '(A): ...' strings", path=path, field="options"
        )
    texts = []
    for k, option in enumerate(options):
        match = _OPTION.match(str(option).strip())
        if not match or match.group(1) != OPTION_LETTERS[k]:
            raise DataError(
                f"{where}: option {k} is not '({OPTION_LETTERS[k]}): ...'", path=path, field="options"
            )
        texts.append(match.group(2).strip())
    answer = str(raw["correct_answer"]).strip().strip("()").strip()
    if answer not in OPTION_LETTERS[: len(options)]:
        raise DataError(
            f"{where}: correct_answer {raw['correct_answer']!r} is not one of the options",
            path=path,
            field="correct_answer",
        )
    return EspressoItem(
        entry_id=str(raw.get("id", index)),
        video_path=str(raw["video_path"]),
        question=str(raw["question"]),
        options=tuple(str(o).strip() for o in options),
        option_texts=tuple(texts),
        answer=answer,
        evidence=str(raw["evidence"]),
        task=str(raw["task"]),
        core_frames_paths=tuple(str(p) for p in raw.get("core_frames_paths") or ()),
        core_frames_captions=tuple(str(c) for c in raw.get("core_frames_captions") or ()),
    )


def load_test_json(path: str | os.PathLike) -> list[EspressoItem]:
    """Typed items of a VideoEspresso test JSON (errors name the file, item and field)."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(f"cannot read the VideoEspresso test JSON: {err}", path=path) from err
    if not isinstance(raw, list):
        raise DataError("the VideoEspresso test JSON must be a list of items", path=path)
    items = [_parse_item(r, i, path) for i, r in enumerate(raw)]
    if len({i.entry_id for i in items}) != len(items):
        raise DataError("item ids are not unique", path=path, field="id")
    return items


class EspressoTask(BenchmarkTask):
    """One call per item: the original prompt (optionally with oracle evidence) on the chosen frames."""

    def __init__(
        self,
        records,
        *,
        root: Path,
        with_evidence: bool,
        frame_rule: str,
        selector=None,
        select_frames: int = DEFAULT_SELECT_FRAMES,
        **kw,
    ):
        super().__init__(records, **kw)
        if frame_rule not in FRAME_RULES:
            raise ConfigError(
                f"unknown frame rule '{frame_rule}' (known: {', '.join(FRAME_RULES)})", field="--frames"
            )
        if selector is not None and not self.needs_frames:
            raise ConfigError(
                "--frame-selector picks sampled frames; this model reads the video file itself",
                field="--frame-selector",
            )
        if select_frames < 1:
            raise ConfigError(
                f"--select-frames must be at least 1, got {select_frames}", field="--select-frames"
            )
        self.root, self.with_evidence, self.frame_rule = root, with_evidence, frame_rule
        self.selector, self.select_frames = selector, int(select_frames)
        self._selections: dict[str, dict] = {}

    def _path(self, relative: str) -> str:
        path = Path(relative)
        return str(path if path.is_absolute() else self.root / path)

    def video_of(self, record: EspressoItem) -> str:
        return self._path(record.video_path)

    def prompt(self, record: EspressoItem) -> str:
        from evqa.prompts import videoespresso_prompt

        evidence = record.evidence if self.with_evidence else None
        return videoespresso_prompt(record.task, record.question, record.options, evidence)

    def frames_of(self, record: EspressoItem, *, decode: bool = True):
        """The frames fed: the frame rule's, then (with a selector) the `select_frames` it keeps."""
        if self.selector is None:
            return self._rule_frames(record, decode=decode)
        return self._select(record, self._rule_frames(record, decode=True))

    def _select(self, record: EspressoItem, candidates):
        from evqa.baselines.frames import Frames

        choice = self.selector.select(candidates.frames, record.question, self.select_frames)
        kept = choice.kept
        self._selections[str(record.entry_id)] = {
            **self.selector.describe(),
            "k": self.select_frames,
            "candidates": candidates.indices.tolist(),
            "scores": [round(float(x), 6) for x in choice.scores],
            "chosen": candidates.indices[kept].tolist(),
            "chosen_positions": kept.tolist(),
        }
        return Frames(candidates.frames[kept], candidates.indices[kept], candidates.timestamps[kept],
                      candidates.video_fps, candidates.size)  # fmt: skip

    def plan(self, record: EspressoItem) -> dict:
        out = super().plan(record)
        if self.selector is not None:
            out["frame_selection"] = self._selections.pop(str(record.entry_id))
        return out

    def steps(self, record: EspressoItem):
        out = yield from super().steps(record)
        if self.selector is not None:
            out["frame_selection"] = self._selections.pop(str(record.entry_id))
        return out

    def _rule_frames(self, record: EspressoItem, *, decode: bool = True):
        from evqa.baselines.frames import Frames, resize_longest
        from evqa.data.video import read_frames, read_image, video_info

        decode = decode and self.needs_frames
        if self.frame_rule == "evqa":
            return super().frames_of(record, decode=decode)
        info = video_info(self.video_of(record))
        if self.frame_rule == "upstream":
            count = min(upstream_frame_count(info.num_frames / info.fps), info.num_frames)
            indices = np.linspace(0, info.num_frames - 1, count).round().astype(np.int64)
            frames = read_frames(self.video_of(record), indices) if decode else None
        else:
            if not record.core_frames_paths:
                raise DataError(f"item {record.entry_id} has no core_frames_paths", field="core_frames_paths")
            indices = np.arange(len(record.core_frames_paths), dtype=np.int64)
            frames = (
                np.stack([read_image(self._path(p)) for p in record.core_frames_paths]) if decode else None
            )
        if frames is not None:
            frames = resize_longest(frames, self.sampling.max_size)
        # core frames carry no time; their position in the list stands in for it
        times = indices / info.fps if self.frame_rule == "upstream" else indices.astype(np.float64)
        return Frames(frames, indices, times, info.fps, (info.height, info.width))

    def read_reply(self, record: EspressoItem, reply) -> dict:
        from evqa.eval.answers import extract_answer

        text = getattr(reply, "text", reply)
        parse = extract_answer(text, list(record.option_texts))
        return {
            "parsed_response": {"answer": parse.letter, "status": parse.status},
            "raw_response": text,
            "with_evidence": self.with_evidence,
            "frame_rule": self.frame_rule,
        }

    def record_fields(self, record: EspressoItem) -> dict:
        return {"video_id": record.video_id, "task": record.task}


def _score_letter(pred: Mapping | None, item: EspressoItem, protocol: str) -> tuple[str, str | None]:
    """(status, letter): status ok | unparsable | failed | missing."""
    if pred is None:
        return "missing", None
    if pred.get("error"):
        return "failed", None
    raw = pred.get("raw_response")
    if protocol == "upstream":
        return "ok", upstream_letter(raw if isinstance(raw, str) else None)
    from evqa.eval.answers import extract_answer

    parsed = pred.get("parsed_response") or {}
    letter = parsed.get("answer") if isinstance(parsed, dict) else None
    if letter is None:
        parse = extract_answer(raw, list(item.option_texts))
        letter = parse.letter
    return ("ok", letter) if letter else ("unparsable", None)


def score_espresso(items: Sequence[EspressoItem], predictions: Mapping[str, dict], protocol: str) -> Scores:
    """Accuracy x100 over every item (a missing, failed or unparsable prediction is wrong), per task and
    the mean of the per-task accuracies."""
    counts = {"n": len(items), "scored": 0, "unparsable": 0, "failed": 0, "missing": 0, "judge_error": 0}
    per_task: dict[str, list[int]] = {}
    per_item = {}
    for item in items:
        status, letter = _score_letter(predictions.get(item.entry_id), item, protocol)
        if status == "ok":
            counts["scored"] += 1
        else:
            counts[status] += 1
        correct = int(letter == item.answer)
        per_task.setdefault(item.task, []).append(correct)
        per_item[item.entry_id] = {
            "task": item.task,
            "pred": letter,
            "gt": item.answer,
            "correct": bool(correct),
        }
    by_task = {t: {"accuracy": 100.0 * float(np.mean(v)), "n": len(v)} for t, v in per_task.items()}
    total = [c for v in per_task.values() for c in v]
    metrics = {
        "accuracy": 100.0 * float(np.mean(total)) if total else float("nan"),
        "task_average": float(np.mean([v["accuracy"] for v in by_task.values()]))
        if by_task
        else float("nan"),
    }
    return Scores(metrics=metrics, breakdowns={"task": by_task}, counts=counts, per_item=per_item)


@register_benchmark("videoespresso")
class VideoEspresso(Benchmark):
    description = "VideoEspresso reasoning MCQ (14 tasks): oracle evidence, core frames, per-task accuracy"
    data_files = (
        DataFile(
            "test_file",
            ("--test-file", "--test_file"),
            ("videoespresso/test.json", "test.json"),
            "VideoEspresso test JSON (video_path, question, options, correct_answer, evidence, task, core frames)",
        ),
        DataFile(
            "no_evidence_pred",
            ("--no-evidence-pred", "--no_evidence_pred"),
            (),
            "a prediction file of the same model without --with-evidence, scored too: adds its accuracy and "
            "the evidence gap (default: none)",
            required=False,
        ),
    )
    options = (
        Option(
            "with_evidence",
            ("--with-evidence",),
            "insert the oracle evidence sentence into the prompt (off by default)",
        ),
        Option(
            "frame_rule",
            ("--frames", "--frame-rule"),
            "frames fed: evqa (the sampling flags), upstream (min(128, int(24*duration)+1) uniform), "
            "core (the annotated core frames); default evqa",
            type="str",
            default="evqa",
        ),
        Option(
            "frame_selector",
            ("--frame-selector", "--frame_selector"),
            "a frame selector model that keeps --select-frames of the frames --frames drew: scene_change, "
            "uniqueness (pixels only) or clip:CHECKPOINT (frame-question similarity) (default: none, all "
            "frames fed)",
            type="str",
            default=None,
        ),
        Option(
            "select_frames",
            ("--select-frames", "--select_frames"),
            f"frames the --frame-selector keeps (default: {DEFAULT_SELECT_FRAMES})",
            type="int",
            default=DEFAULT_SELECT_FRAMES,
        ),
    )
    columns = (
        ReportColumn("accuracy", "Acc"),
        ReportColumn("task_average", "Task avg"),
        ReportColumn("accuracy_no_evidence", "Acc (no ev.)"),
        ReportColumn("evidence_gap", "Ev. gap"),
    )
    breakdown_keys = ("task",)
    has_synthetic = True

    def load(self, files):
        return load_test_json(files["test_file"])

    def synthesize(self, out_dir, *, seed: int = 0, num_items: int | None = None) -> dict:
        from evqa.benchmarks.videoespresso_synth import write_synthetic

        return {"test_file": write_synthetic(Path(out_dir) / "videoespresso", seed=seed, num_items=num_items)}

    def build_task(self, records, files, *, sampling, options, adapter_cls, max_new_tokens=None):
        selector = None
        if options.get("frame_selector"):
            from evqa.baselines.frame_select import build_selector

            selector = build_selector(options["frame_selector"])
        return EspressoTask(
            records,
            root=Path(files["test_file"]).parent,
            with_evidence=bool(options.get("with_evidence")),
            frame_rule=options.get("frame_rule") or "evqa",
            selector=selector,
            select_frames=options.get("select_frames") or DEFAULT_SELECT_FRAMES,
            video_dir=None,
            **task_kwargs(adapter_cls, sampling, max_new_tokens),
        )

    def evaluate(self, files, pred_file, *, protocol="evqa", options=None):
        options = dict(options or {})
        options["no_evidence_pred"] = files.get("no_evidence_pred") or options.get("no_evidence_pred")
        return super().evaluate(files, pred_file, protocol=protocol, options=options)

    def score(self, records, predictions, *, protocol="evqa", options=None):
        self.check_protocol(protocol)
        scores = score_espresso(records, predictions, protocol)
        other = (options or {}).get("no_evidence_pred")
        if other:
            if not Path(other).is_file():
                raise DataError(
                    "the --no-evidence-pred file does not exist", path=other, field="--no-evidence-pred"
                )
            base = score_espresso(records, self.read_predictions(other), protocol)
            scores.metrics["accuracy_no_evidence"] = base.metrics["accuracy"]
            scores.metrics["evidence_gap"] = scores.metrics["accuracy"] - base.metrics["accuracy"]
        return scores
