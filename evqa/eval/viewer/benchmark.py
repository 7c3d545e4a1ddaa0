"""Any registered benchmark as a view model: its records, prediction files and the scorer's `Scores`.

One builder serves every entry of `evqa.benchmarks.registry` (TVQA, Q-Bench-Video, VideoEspresso, ReasonVQA,
VQA², EgoTextVQA, EgoTempo, ...): nothing here names a benchmark. What it reads:

- the scores of each prediction file: the benchmark's own scorer (`Benchmark.evaluate`), or a results JSON
  `evqa eval --benchmark NAME` wrote (`--results_file`; by default, for benchmarks scored by an LLM judge,
  `<prediction stem><results_suffix>.json` beside the predictions, since the judge is not asked again
  here). The headline table is `Scores.metrics` in the benchmark's `columns` (labels, digits, units), the
  per-group tables its `breakdowns`, the counts table its `counts`: the numbers `evqa eval` prints;
- per entry: the record's `question` (else the benchmark's prompt), its options (`option_texts`, `options`
  or `candidates`), its GT (`answer_idx`, `answer` — a letter among the options or an open answer — or
  `mos`), category / source (the values of its first two `breakdown_keys`), and each run's prediction
  record (`raw_response`, `error`, `parsed_response`, `meta.frames`) and `Scores.per_item[entry_id]`;
- frames: where a run's record says which video frames the model was fed (`meta.frames`) and the
  benchmark's task can name the video (`video_of`), a spread of those frames as thumbnails.

Failure types (`evqa.eval.viewer.model`): a call that failed or an entry missing from the file is
`failed_call`; for benchmarks with right / wrong answers (`correct` in `per_item`) no readable answer is
`unparsable`, else `correct` / `wrong_answer`; for judged benchmarks the judge's verdict decides (`yes` is
correct) and no verdict is `judge_error`; for benchmarks without right / wrong answers (text similarity,
quality scores) a scored entry is `scored` with its per-entry numbers, an unscored one `unparsable`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from evqa.benchmarks.base import Scores
from evqa.errors import ConfigError, DataError, InputError
from evqa.eval.viewer.frames import even_frames, spread
from evqa.eval.viewer.images import ReportImages
from evqa.eval.viewer.model import (
    EntryView,
    FrameView,
    JudgeView,
    MetricTable,
    RunEntryView,
    RunView,
    ViewReport,
)
from evqa.eval.viewer.records import (
    answer_text,
    check_runs,
    failure_table,
    raw_reply,
    record_error,
    run_view,
    title_of,
)
from evqa.eval.viewer.render import prepare_report_dir
from evqa.prompts import LETTERS

OPTION_FIELDS = ("option_texts", "options", "candidates")
VIDEO_FIELDS = ("video_path", "video", "vid_name", "videos", "video_id")
UNIT_NAMES = {"percent": "x100", "fraction": "0-1", "score": "score", "count": "count"}
# per_item keys that are not per-entry scores to show
NOT_SCORES = ("correct", "gt", "pred", "answer", "status", "raw_reply")


@dataclass
class BenchmarkRun:
    """One prediction file and, optionally, the results JSON of `evqa eval` it was scored into."""

    pred_file: str
    results_file: str | None = None


class _ViewerAdapter:
    """What a benchmark's `build_task` asks of an adapter class, for a task that only names videos and
    prompts here (no model is loaded or called)."""

    name = "viewer"
    needs_frames = False
    needs_video = False
    prompt_style = "baseline"


def _finite(value):
    """A number as JSON can hold it: NaN / infinity (a metric with nothing to average) -> None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def default_results_file(bench, pred_file: str | os.PathLike) -> Path:
    """`<prediction stem><results_suffix>.json` beside the predictions (where `evqa eval` writes it)."""
    pred = Path(pred_file)
    return pred.with_name(f"{pred.stem}{bench.results_suffix}.json")


def scores_from_results(bench, results: Mapping[str, Any], path: str) -> Scores:
    """The `Scores` stored in a results JSON of `evqa eval --benchmark NAME` (metrics, breakdowns, counts,
    per_item); InputError when it is another benchmark's or has no per-entry scores."""
    if not isinstance(results, Mapping) or not isinstance(results.get("metrics"), Mapping):
        raise InputError("not a results JSON of `evqa eval --benchmark` (no 'metrics')", path=path)
    if results.get("benchmark") not in (None, bench.name):
        raise InputError(f"results of benchmark {results['benchmark']}, not {bench.name}", path=path)
    if not isinstance(results.get("per_item"), Mapping):
        raise InputError("no per-entry scores ('per_item') in the results JSON", path=path)
    return Scores(metrics=dict(results["metrics"]), breakdowns=dict(results.get("breakdowns") or {}),
                  counts=dict(results.get("counts") or {}), per_item=dict(results["per_item"]))  # fmt: skip


def score_run(bench, files, run: BenchmarkRun, *, protocol: str, options: Mapping[str, Any]):
    """(Scores, predictions, results JSON, note) of one prediction file (module doc: where they come from)."""
    from evqa.benchmarks.run import results_json
    from evqa.io import read_json

    predictions = bench.read_predictions(run.pred_file)
    path = run.results_file
    if path is None and bench.needs_judge:
        default = default_results_file(bench, run.pred_file)
        if not default.is_file():
            raise ConfigError(
                f"{bench.name} is scored by an LLM judge, which the viewer does not ask: run `evqa eval "
                f"--benchmark {bench.name} --pred_file {run.pred_file} --judge MODEL` first (it writes "
                f"{default.name}), or give its results JSON with --results_file",
                field="--results_file",
            )
        path = str(default)
    if path is not None:
        if not Path(path).is_file():
            raise ConfigError(f"file not found: {path}", field="--results_file")
        results = read_json(path, error=InputError)
        scores = scores_from_results(bench, results, path)
        return scores, predictions, dict(results), f"scores from {path}"
    scores, predictions = bench.evaluate(files, run.pred_file, protocol=protocol, options=options)
    return scores, predictions, results_json(bench, scores, protocol, run.pred_file), None


def _option_list(record) -> list[str]:
    for name in OPTION_FIELDS:
        value = getattr(record, name, None)
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
            return list(value)
    return []


def gt_of(record, options: list[str]) -> tuple[str, int | None]:
    """(GT answer as shown, its position among the options or None)."""
    index = getattr(record, "answer_idx", None)
    if isinstance(index, int) and 0 <= index < len(options):
        return answer_text(LETTERS[index], options), index
    answer = getattr(record, "answer", None)
    if isinstance(answer, str):
        if options and len(answer) == 1 and 0 <= LETTERS.find(answer) < len(options):
            return answer_text(answer, options), LETTERS.find(answer)
        return answer, None
    mos = getattr(record, "mos", None)
    if isinstance(mos, (int, float)):
        return f"MOS {mos:g}", None
    return "", None


def _group(record, item: Mapping, key: str | None) -> str | None:
    if key is None:
        return None
    value = getattr(record, key, None)
    if value is None:
        value = item.get(key)
    return None if value is None else str(value)


def _video_name(record) -> str | None:
    for name in VIDEO_FIELDS:
        value = getattr(record, name, None)
        if isinstance(value, (list, tuple)):
            value = " + ".join(str(v) for v in value) if value else None
        if value:
            return str(value)
    return None


def run_entry(bench, record, pred, item: Mapping | None, gt: str, options: list[str],
              protocol: str = "evqa") -> RunEntryView:  # fmt: skip
    """One run's view of one record: its prediction record and the scorer's `per_item` entry."""
    item = dict(item or {})
    status = (
        "missing" if pred is None else ("failed" if not isinstance(pred, dict) or pred.get("error") else "ok")
    )
    error = record_error(pred)
    parsed = pred.get("parsed_response") if isinstance(pred, dict) else None
    parsed = parsed if isinstance(parsed, dict) else {}
    judge = None
    letter = None
    if bench.needs_judge:
        answer = parsed.get("answer") if isinstance(parsed.get("answer"), str) else None
        verdict = item.get("pred")
        correct = verdict == "yes"
        if status == "ok":
            judge = JudgeView(verdict=verdict, score=_finite(item.get("score")), raw=item.get("raw_reply"))
        if status != "ok":
            failure = "failed_call"
        elif item.get("status") == "judge_error":
            failure = "judge_error"
        else:
            failure = "correct" if correct else "wrong_answer"
    elif "correct" in item:
        letter = item.get("pred", item.get("answer"))
        letter = letter if isinstance(letter, str) and letter else None
        answer = answer_text(letter, options) if options else letter
        correct = bool(item["correct"])
        if status != "ok":
            failure = "failed_call"
        elif letter is None:
            failure = "unparsable"
        else:
            failure = "correct" if correct else "wrong_answer"
    else:
        value = parsed.get("answer", parsed.get("score"))
        answer = None if value is None else (f"{value:.4g}" if isinstance(value, float) else str(value))
        correct = False
        failure = "failed_call" if status != "ok" else ("scored" if item else "unparsable")
    detail = {
        "failed_call": f"call failed: {error}" if error else "no prediction for this entry in the file",
        "unparsable": "no answer could be read from the reply" if "correct" in item or bench.needs_judge
        else "the scorer could not score the reply",
        "wrong_answer": f"answered {answer}, the GT is {gt}" if not bench.needs_judge
        else f"the judge says no (score {item.get('score')})",
        "judge_error": "the judge gave no verdict: " + ("scored as no, 0" if protocol == "upstream"
                                                        else "counted, left out of the metrics"),
        "correct": "", "scored": "",
    }[failure]  # fmt: skip
    scores = {k: float(v) for k, v in item.items() if k not in NOT_SCORES and _finite(v) is not None}
    if bench.needs_judge:
        scores.pop("score", None)  # shown as the judge's score
    return RunEntryView(failure=failure, correct=correct, answer=answer, letter=letter, detail=detail,
                        raw_reply=raw_reply(pred), error=error, judge=judge, scores=scores)  # fmt: skip


def failure_types_of(bench, per_items: Sequence[Mapping]) -> tuple[str, ...]:
    """The failure types this benchmark's entries can have (the filter's choices)."""
    if bench.needs_judge:
        return ("correct", "wrong_answer", "unparsable", "failed_call", "judge_error")
    if any("correct" in item for items in per_items for item in items.values()):
        return ("correct", "wrong_answer", "unparsable", "failed_call")
    return ("scored", "unparsable", "failed_call")


def _unit(columns) -> str:
    units = sorted({UNIT_NAMES.get(c.unit, c.unit) for c in columns})
    return (
        units[0]
        if len(units) == 1
        else ", ".join(f"{c.label}: {UNIT_NAMES.get(c.unit, c.unit)}" for c in columns)
    )


def metric_tables(bench, runs: list[RunView], scores: list[Scores]) -> list[MetricTable]:
    """The headline table (the benchmark's columns, one row per run), one table per breakdown key (its
    groups' runs side by side) and the scorer's counts: values as `Scores` holds them."""
    columns = [c for c in bench.columns if any(_finite(s.metrics.get(c.key)) is not None for s in scores)]
    columns = columns or list(bench.columns)
    digits = {c.label: c.digits for c in columns}
    main = MetricTable("Metrics", [c.label for c in columns], unit=_unit(columns), digits=digits)
    for k, (run, s) in enumerate(zip(runs, scores, strict=True)):
        main.add_row(run.name, {c.label: _finite(s.metrics.get(c.key)) for c in columns}, run=k)
    tables = [main]
    for key in dict.fromkeys(k for s in scores for k in s.breakdowns):
        groups = sorted({g for s in scores for g in (s.breakdowns.get(key) or {})})
        cols = [c for c in columns if any(c.key in (s.breakdowns.get(key) or {}).get(g, {}) for s in scores
                                          for g in groups)]  # fmt: skip
        table = MetricTable(f"By {key}", [c.label for c in cols] + ["n"], unit=_unit(cols) if cols else "x100",
                            digits={**{c.label: c.digits for c in cols}, "n": 0})  # fmt: skip
        for group in groups:
            for k, (run, s) in enumerate(zip(runs, scores, strict=True)):
                values = (s.breakdowns.get(key) or {}).get(group)
                if values is not None:
                    row = {c.label: _finite(values.get(c.key)) for c in cols} | {
                        "n": _finite(values.get("n"))
                    }
                    table.add_row(f"{group} · {run.name}", row, run=k)
        if table.rows:
            tables.append(table)
    counted = list(dict.fromkeys(k for s in scores for k in s.counts))
    if counted:
        counts = MetricTable("Counts of the scorer", counted, unit="entries")
        for k, (run, s) in enumerate(zip(runs, scores, strict=True)):
            counts.add_row(run.name, {c: s.counts.get(c) for c in counted}, run=k)
        tables.append(counts)
    return tables


class _Frames:
    """Writes the thumbnails of the frames a model was fed (`meta.frames` of a run's record)."""

    def __init__(self, bench, records, files, options, images: ReportImages, max_frames: int):
        self.images, self.max_frames = images, max_frames
        self.task = None
        self.error = None
        try:
            self.task = bench.build_task(records, files, sampling=_default_sampling(bench), options=options,
                                         adapter_cls=_ViewerAdapter)  # fmt: skip
        except (ConfigError, DataError, KeyError, TypeError) as err:
            self.error = f"frames not shown: {err}"

    def __call__(self, view: EntryView, record, preds: list, key: str) -> None:
        fed = sorted({int(i) for p in preds for i in _meta_frames(p)})
        if self.task is None or not fed:
            return
        from evqa.data.video import read_frames, video_info

        try:
            path = self.task.video_of(record)
            info = video_info(
                path, folder_fps=getattr(getattr(self.task, "sampling", None), "folder_fps", None)
            )
            indices = [i for i in spread(fed, self.max_frames) if 0 <= i < info.num_frames]
            indices = indices or even_frames(info.num_frames, self.max_frames)
            pixels = read_frames(path, indices)
        except (DataError, NotImplementedError, OSError, ValueError) as err:
            view.notes.append(f"frames not shown: {err}")
            return
        view.duration = info.duration
        for k, index in enumerate(indices):
            image, (view.height, view.width) = self.images.write_frame(key, index, pixels[k])
            view.frames.append(FrameView(index=int(index), time=round(index / info.fps, 4), image=image))


def _default_sampling(bench):
    from evqa.baselines.frames import Sampling

    return Sampling(fps=bench.default_fps or 1.0)


def _meta_frames(record) -> list[int]:
    meta = record.get("meta") if isinstance(record, dict) else None
    frames = meta.get("frames") if isinstance(meta, dict) else None
    return [i for i in frames if isinstance(i, int)] if isinstance(frames, list) else []


def build_report(out_dir: str | os.PathLike, bench, files: Mapping[str, Any], runs: list[BenchmarkRun], *,
                 protocol: str = "evqa", options: Mapping[str, Any] | None = None, limit: int | None = None,
                 max_frames: int = 8, thumb_width: int = 320, progress: bool = True,
                 title: str | None = None) -> ViewReport:  # fmt: skip
    """Score (or read the scores of) each run and build the report's view model, writing its thumbnails and
    results JSONs into `out_dir`; render it with `evqa.eval.viewer.render_report`.

    bench: a registry benchmark instance; files: its located data files (`Benchmark.locate`); runs: one or
    more prediction files; options: the benchmark's options as `evqa eval` passes them; limit: only the
    first N entries are listed (the numbers are of the whole file); max_frames: frames shown per entry.
    """
    check_runs(runs)
    if max_frames < 1:
        raise ConfigError(f"max_frames must be at least 1, got {max_frames}", field="--max_frames")
    if limit is not None and limit < 1:
        raise ConfigError(f"limit must be at least 1, got {limit}", field="--limit")
    options = dict(options or {})
    bench.check_protocol(protocol)
    records = bench.load(files)
    selected = getattr(bench, "selected", None)  # a benchmark scoring a split of its records says which
    records = list(selected(records, options) if callable(selected) else records)
    out = prepare_report_dir(out_dir)
    images = ReportImages(out, max_width=thumb_width)
    run_views, scores, predictions = [], [], []
    for k, run in enumerate(runs):
        s, preds, results, note = score_run(bench, files, run, protocol=protocol, options=options)
        run_views.append(run_view(k, run.pred_file, preds, results, out, notes=[note] if note else []))
        scores.append(s)
        predictions.append(preds)
    report = ViewReport(title=title or title_of(bench.name, [r.pred_file for r in runs]), benchmark=bench.name,
                        runs=run_views, failure_types=failure_types_of(bench, [s.per_item for s in scores]))  # fmt: skip
    shown = records[:limit] if limit is not None else records
    if limit is not None:
        report.notes.append(
            f"the first {len(shown)} of {len(records)} entries are listed; the numbers are of all"
        )
    frames = _Frames(bench, records, files, options, images, max_frames)
    if frames.error:
        report.notes.append(frames.error)
    keys = bench.breakdown_keys
    for position, record in enumerate(tqdm(shown, desc="Viewer entries", unit="entry", disable=not progress)):
        entry_id = str(record.entry_id)
        options_ = _option_list(record)
        gt, gt_index = gt_of(record, options_)
        items = [s.per_item.get(entry_id) or s.per_item.get(record.entry_id) or {} for s in scores]
        question = getattr(record, "question", None)
        if not isinstance(question, str) and frames.task is not None:
            question = frames.task.prompt(record)
        view = EntryView(entry_id=entry_id, question=question or "", gt_answer=gt, options=options_,
                         gt_index=gt_index, category=_group(record, items[0], keys[0] if keys else None),
                         source=_group(record, items[0], keys[1] if len(keys) > 1 else None),
                         video=_video_name(record))  # fmt: skip
        preds = [p.get(entry_id) for p in predictions]
        view.runs = [run_entry(bench, record, p, item, gt, options_, protocol)
                     for p, item in zip(preds, items, strict=True)]  # fmt: skip
        frames(view, record, preds, f"e{position:05d}")
        report.entries.append(view)
    report.tables = [*metric_tables(bench, run_views, scores), failure_table(report)]
    report.validate()
    return report
