"""The ST-Evidence multiple-choice benchmark as a view model: MCQ CSV + option files + prediction files.

Each MCQ entry asks three questions (qa, time_evidence, spatial_evidence); the viewer shows each one with
ground truth as its own entry, `<entry_id>:<task>`, whose category is the task. Numbers come from the
scorer, `evqa.eval.mcq.evaluate_mcq`, whose results JSON is written into the report folder: an entry is
wrong or unparsable when the scorer lists it so, and the letter shown is read by the scorer's own answer
extraction. A qa answer that is right while the same entry's time or spatial evidence answer is not
(where those have ground truth) has *bad evidence* — the MCQ form of evidence-backed accuracy.

The time-evidence options are drawn on the timeline (GT option vs each run's pick); the spatial-evidence
option images are shown as pictures. `limit` only shortens the list: the MCQ scorer scores whole files, so
the summary numbers stay those of every entry (the page says so).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from evqa.data.st_evidence import McqEntry, load_mcq_benchmark
from evqa.data.video import read_image
from evqa.errors import ConfigError, DataError
from evqa.eval.answers import extract_answer
from evqa.eval.mcq import TASKS, evaluate_mcq
from evqa.eval.predictions import load_predictions
from evqa.eval.viewer.frames import VideoFrames
from evqa.eval.viewer.images import ReportImages
from evqa.eval.viewer.model import (
    EntryView,
    FrameView,
    MetricTable,
    RunEntryView,
    ViewReport,
    classify_failure,
)
from evqa.eval.viewer.records import (
    answer_text,
    check_dir,
    check_runs,
    failure_table,
    judge_of,
    raw_reply,
    record_error,
    run_view,
    title_of,
)
from evqa.eval.viewer.render import prepare_report_dir
from evqa.prompts import LETTERS

BENCHMARK = "st_evidence_mcq"
RESULT_KEYS = {"qa": "qa", "time_evidence": "temporal", "spatial_evidence": "spatial"}
GT_OF = {task: gt_attr for task, (_, gt_attr, _) in TASKS.items()}
TIMELINE_FPS = 6.0


@dataclass
class McqData:
    """The MCQ ground truth files: CSV, temp_options.json, mask_options.json (None: that task has no GT)."""

    data_file: str
    distractors_file: str | None = None
    mask_file: str | None = None


def _options(entry: McqEntry, task: str) -> list[str]:
    if task == "qa":
        return list(entry.options)
    if task == "time_evidence":
        return [", ".join(f"{s:g}–{e:g} s" for s, e in option) or "(none)" for option in entry.time_options]
    return [f"image {LETTERS[k]}" for k in range(len(entry.mask_options))]  # file names may give the GT away


def _letter(record, entry: McqEntry, task: str) -> str | None:
    """The letter the scorer reads from this record for `task` (None when it reads none)."""
    if not isinstance(record, dict) or record.get("error"):
        return None
    options = len(_options(entry, task)) or TASKS[task][2]
    parsed = extract_answer(record.get(TASKS[task][0]), num_options=options)
    return parsed.letter if parsed.status == "ok" else None


def _verdict(record, entry: McqEntry, task: str, scores: dict) -> tuple[str, bool, str | None]:
    """(status for classify_failure, answer read, letter) of one task, from the scorer's lists."""
    if record is None:
        return "missing", False, None
    if not isinstance(record, dict):
        return "bad_record", False, None
    if record.get("error"):
        return "failed", False, None
    letter = _letter(record, entry, task)
    if entry.entry_id in scores["unparsable"]:
        return "ok", False, None
    return "ok", letter is not None, letter


def _evidence_problems(record, entry: McqEntry, results: dict) -> list[str]:
    """For a qa answer: the evidence tasks of the same entry that the scorer counts as not correct."""
    problems = []
    for task in ("time_evidence", "spatial_evidence"):
        gt = getattr(entry, GT_OF[task])
        if gt is None:
            continue
        letter = _letter(record, entry, task)
        if letter != gt:
            problems.append(f"{task.replace('_', ' ')}: {letter or 'no answer'} (GT {gt})")
    return problems


def run_entry_view(entry: McqEntry, task: str, record, results: dict) -> RunEntryView:
    """One run's view of one task of one entry."""
    scores = results[RESULT_KEYS[task]]
    status, read, letter = _verdict(record, entry, task, scores)
    gt = getattr(entry, GT_OF[task])
    correct = read and letter == gt and entry.entry_id not in scores["incorrect"]
    bad = _evidence_problems(record, entry, results) if task == "qa" and correct else []
    failure = classify_failure("ok" if status == "ok" else status, read, correct, not bad)
    error = record_error(record)
    detail = {
        "failed_call": f"call failed: {error}" if error else "no prediction for this entry in the file",
        "unparsable": "the record is not an object" if status == "bad_record" else "no answer could be read",
        "wrong_answer": f"answered {letter}, the GT is {gt}",
        "right_answer_bad_evidence": "; ".join(bad),
        "correct": "",
    }[failure]
    segments = []
    if task in ("qa", "time_evidence") and entry.time_options:
        pick = _letter(record, entry, "time_evidence")
        if pick is not None and LETTERS.index(pick) < len(entry.time_options):
            segments = list(entry.time_options[LETTERS.index(pick)])
    return RunEntryView(failure=failure, correct=bool(correct), answer=answer_text(letter, _options(entry, task)),
                        letter=letter, detail=detail, raw_reply=raw_reply(record), error=error,
                        segments=segments, judge=judge_of(record))  # fmt: skip


def metric_table(runs, results: list[dict]) -> MetricTable:
    """Accuracy and coverage per task (x100) and the overall micro average, one row per run."""
    columns = ["overall", "qa", "qa coverage", "time", "time coverage", "spatial", "spatial coverage"]
    table = MetricTable("Metrics", columns)
    for k, (run, res) in enumerate(zip(runs, results, strict=True)):
        values = {"overall": res["overall_accuracy"]}
        for name, key in (("qa", "qa"), ("time", "temporal"), ("spatial", "spatial")):
            if res[key]["total"]:
                values[name], values[f"{name} coverage"] = res[key]["accuracy"], res[key]["coverage"]
        table.add_row(run.name, values, run=k)
    table.columns = [c for c in columns if any(row["values"][c] is not None for row in table.rows)]
    for row in table.rows:
        row["values"] = {c: row["values"][c] for c in table.columns}
    return table


def _option_frames(images: ReportImages, key: str, entry: McqEntry, base: Path, view: EntryView) -> None:
    """The spatial-evidence option images as thumbnails (`view.frames`); a note for each unreadable one."""
    frames, notes = view.frames, view.notes
    for k, path in enumerate(entry.mask_options):
        path = Path(path) if Path(path).is_absolute() else base / path
        label = f"option {LETTERS[k]}" + (" (GT)" if LETTERS[k] == entry.mask_answer else "")
        try:
            image, (view.height, view.width) = images.write_frame(key, k, read_image(path))
        except DataError as err:
            image, label = None, f"{label}: cannot read"
            notes.append(str(err))
        frames.append(FrameView(index=k, time=None, image=image, label=label))


def _duration(entry: McqEntry, video_dir) -> float | None:
    if not video_dir or not entry.video:
        return None
    for name in (entry.video, f"{entry.video}.mp4"):
        if (Path(video_dir) / name).exists():
            return VideoFrames(Path(video_dir) / name, TIMELINE_FPS).duration
    return None


def build_report(out_dir: str | os.PathLike, data: McqData, pred_files: list, *, video_dir=None,
                 limit: int | None = None, thumb_width: int = 320, progress: bool = True,
                 title: str | None = None) -> ViewReport:  # fmt: skip
    """Score each MCQ prediction file and build the report's view model, writing its option thumbnails and
    results JSONs into `out_dir`. video_dir: where the videos are (only their durations are used)."""
    check_runs(pred_files)
    check_dir(video_dir, "--video_dir")
    if limit is not None and limit < 1:
        raise ConfigError(f"limit must be at least 1, got {limit}", field="--limit")
    entries = load_mcq_benchmark(data.data_file, data.distractors_file, data.mask_file)[:limit]
    out = prepare_report_dir(out_dir)
    images = ReportImages(out, max_width=thumb_width)
    records, results, runs = [], [], []
    for k, pred in enumerate(pred_files):
        records.append(load_predictions(pred))
        results.append(evaluate_mcq(pred, data_file=data.data_file, distractors_file=data.distractors_file,
                                    mask_file=data.mask_file))  # fmt: skip
        runs.append(run_view(k, pred, records[-1], results[-1], out))
    report = ViewReport(
        title=title or title_of("ST-Evidence MCQ", pred_files), benchmark=BENCHMARK, runs=runs
    )
    if limit is not None:
        report.notes.append(f"the first {len(entries)} entries are listed; the numbers are of the whole file")
    base = Path(data.mask_file).parent if data.mask_file else Path(".")
    for position, entry in enumerate(
        tqdm(entries, desc="Viewer entries", unit="entry", disable=not progress)
    ):
        duration = _duration(entry, video_dir)
        for task in TASKS:
            gt = getattr(entry, GT_OF[task])
            if gt is None:
                continue
            view = EntryView(entry_id=f"{entry.entry_id}:{task}", question=entry.question,
                             gt_answer=answer_text(gt, _options(entry, task)) or gt, options=_options(entry, task),
                             gt_index=LETTERS.index(gt), category=task, duration=duration,
                             video=entry.video or None)  # fmt: skip
            if task in ("qa", "time_evidence") and entry.time_options and entry.time_answer:
                view.gt_segments = list(entry.time_options[LETTERS.index(entry.time_answer)])
            if task == "spatial_evidence":
                _option_frames(images, f"e{position:05d}", entry, base, view)
            view.runs = [run_entry_view(entry, task, recs.get(entry.entry_id), res)
                         for recs, res in zip(records, results, strict=True)]  # fmt: skip
            report.entries.append(view)
    report.tables = [metric_table(runs, results), failure_table(report)]
    report.validate()
    return report
