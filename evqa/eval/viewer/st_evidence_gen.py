"""The ST-Evidence generative benchmark as a view model: GT CSV + videos + GT masks + prediction files.

Numbers come from the scorer: each prediction file is scored by `evqa.eval.st_evidence.evaluate_gen`
(evqa protocol), its results JSON is written into the report folder, and every per-entry number shown
(correct, IoU, IoP, J, F) is that JSON's `per_sample_scores` entry. The predicted segments shown are the
ones the scorer read (`evqa.eval.predictions.read_gen_record`). Nothing is re-computed here.

Failure types (`evqa.eval.viewer.model`): a right answer has *bad evidence* when its temporal IoP is below
`iop_threshold` or, where masks were scored, its J is below `j_threshold` (0.5 each: the rule of
evidence-backed accuracy); an entry without GT segments / masks is not judged on that evidence.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from evqa.data.masks import MaskStore
from evqa.data.st_evidence import GenEntry, load_gen_benchmark
from evqa.errors import ConfigError, DataError
from evqa.eval.gen_inputs import resolve_pred_mask_dir
from evqa.eval.predictions import load_predictions, read_gen_record
from evqa.eval.results_extras import add_gen_extras
from evqa.eval.st_evidence import evaluate_gen
from evqa.eval.viewer.frames import VideoFrames, choose_frames, even_frames, write_entry_frames
from evqa.eval.viewer.images import ReportImages
from evqa.eval.viewer.model import (
    EntryView,
    MetricTable,
    RunEntryView,
    RunView,
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

BENCHMARK = "st_evidence_gen"
TIMELINE_FPS = 6.0  # GT / predicted mask files are numbered on the 6-fps timeline (DESIGN.md §2.1)
# (column, results section, key); the by_source / by_category breakdowns use the keys of `_summary`
COLUMNS = (
    ("Acc", "qa_metrics", "accuracy"),
    ("EB-Acc", "evidence_backed", "accuracy"),
    ("EB-Acc+J", "evidence_backed", "accuracy_masks"),
    ("mIoU", "temporal_metrics", "mIoU"),
    ("mIoP", "temporal_metrics", "mIoP"),
    ("t-mean", "temporal_metrics", "t_mean"),
    ("TIoU@0.3", "temporal_metrics", "TIoU@0.3"),
    ("TIoU@0.5", "temporal_metrics", "TIoU@0.5"),
    ("TIoP@0.3", "temporal_metrics", "TIoP@0.3"),
    ("TIoP@0.5", "temporal_metrics", "TIoP@0.5"),
    ("J", "mask_metrics", "J"),
    ("F", "mask_metrics", "F"),
    ("J&F", "mask_metrics", "J&F"),
)
GROUP_KEYS = {"Acc": "accuracy", "t-mean": "t_mean"}


@dataclass
class EvidenceThresholds:
    """A right answer has good evidence when temporal IoP >= iop and (where masks are scored) J >= j."""

    iop: float = 0.5
    j: float = 0.5


@dataclass
class GenRun:
    """One prediction file as given: its path and, optionally, where its predicted masks are."""

    pred_file: str
    pred_mask_dir: str | None = None


def _duration(entry: GenEntry) -> float | None:
    try:
        value = float(entry.extra.get("duration") or "nan")
    except ValueError:
        return None
    return value if value > 0 else None


def _evidence_problems(sample: dict, thresholds: EvidenceThresholds) -> list[str]:
    problems = []
    iop, j = sample.get("temporal_iop"), sample.get("spatial_j")
    if iop is not None and iop < thresholds.iop:
        problems.append(f"temporal IoP {iop:.2f} < {thresholds.iop:g}")
    if j is not None and j < thresholds.j:
        problems.append(f"mask J {j:.2f} < {thresholds.j:g}")
    return problems


def run_entry_view(entry: GenEntry, record, sample: dict, thresholds: EvidenceThresholds,
                   mask_error: str | None = None) -> RunEntryView:  # fmt: skip
    """One run's view of one entry from its record and its `per_sample_scores` entry (evqa protocol)."""
    status = sample["prediction_status"]
    answer_read = sample["answer_status"] == "ok"
    bad_evidence = _evidence_problems(sample, thresholds)
    failure = classify_failure("ok" if status == "ok" else status, answer_read, sample["qa_correct"],
                               not bad_evidence)  # fmt: skip
    error = record_error(record)
    letter = sample.get("pred_letter")
    gt_letter = LETTERS[entry.answer_index] if 0 <= entry.answer_index < len(LETTERS) else None
    detail = {
        "failed_call": f"call failed: {error}" if error else
        ("no prediction for this entry in the file" if status == "missing" else "no parsed response"),
        "unparsable": "the record is not an object" if status == "bad_record" else
        ("no answer in the reply" if sample["answer_status"] == "empty" else "no answer could be read from the reply"),
        "wrong_answer": f"answered {letter}, the GT is {gt_letter or repr(entry.answer)}",
        "right_answer_bad_evidence": "; ".join(bad_evidence),
        "correct": "",
    }[failure]  # fmt: skip
    said = ("unparsable_answer", "empty_answer") if failure == "unparsable" else ()  # the detail says so
    extras = [f"format: {p}" for p in sample.get("problems", []) if p not in said]
    extras += [f"mask error: {mask_error}"] if mask_error else []
    segments = read_gen_record(record, entry.candidates).segments if status == "ok" else []
    return RunEntryView(
        failure=failure, correct=bool(sample["qa_correct"]), answer=answer_text(letter, entry.candidates),
        letter=letter, detail="; ".join(x for x in [detail, *extras] if x), raw_reply=raw_reply(record),
        error=error, segments=[(round(s, 4), round(e, 4)) for s, e in segments],
        iou=sample.get("temporal_iou"), iop=sample.get("temporal_iop"),
        j=sample.get("spatial_j"), f=sample.get("spatial_f"), judge=judge_of(record),
    )  # fmt: skip


def _value(results: dict, section: str, key: str):
    value = (results.get(section) or {}).get(key)
    return value if isinstance(value, (int, float)) else None


def metric_tables(runs: list[RunView], results: list[dict]) -> list[MetricTable]:
    """The headline table (one row per run) and the per-source / per-category tables, values as in the
    results JSONs; columns without any value (e.g. J without masks) are left out."""
    names = [c for c, _, _ in COLUMNS]
    main = MetricTable("Metrics", names)
    for k, (run, res) in enumerate(zip(runs, results, strict=True)):
        main.add_row(run.name, {c: _value(res, s, key) for c, s, key in COLUMNS}, run=k)
    tables = [main]
    for group, title in (("by_source", "By source"), ("by_category", "By category")):
        table = MetricTable(title, names)
        for name in sorted({name for res in results for name in (res.get(group) or {})}):
            for k, (run, res) in enumerate(zip(runs, results, strict=True)):  # a group's runs side by side
                values = (res.get(group) or {}).get(name)
                if values is not None:
                    row = {c: values.get(GROUP_KEYS.get(c, c)) for c in names}
                    table.add_row(f"{name} · {run.name}", row, run=k)
        if table.rows:
            tables.append(table)
    for table in tables:
        used = [c for c in table.columns if any(row["values"][c] is not None for row in table.rows)]
        table.columns = used
        for row in table.rows:
            row["values"] = {c: row["values"][c] for c in used}
    return tables


def skip_table(runs: list[RunView], results: list[dict]) -> MetricTable:
    """The scorer's skip counts (`skipped` of each results JSON), one row per run."""
    table = MetricTable("Skipped by the scorer", sorted({k for r in results for k in (r.get("skipped") or {})}),
                        unit="entries")  # fmt: skip
    for k, (run, res) in enumerate(zip(runs, results, strict=True)):
        table.add_row(run.name, res.get("skipped") or {}, run=k)
    return table


def _mask_source(store: MaskStore | None, key: str, notes: list[str]):
    """frame -> bool (H, W) mask or None; an unreadable mask file is not shown, and a note says why (the
    scorer lists it as a mask error)."""

    def load(frame: int):
        try:
            return store.load(key, frame) if store is not None else None
        except DataError as err:
            notes.append(f"mask not shown: {err}")
            return None

    return load


def _mask_frames(store: MaskStore | None, key: str, notes: list[str]) -> list[int]:
    try:
        return store.frames(key) if store is not None else []
    except DataError as err:
        notes.append(f"masks not shown: {err}")
        return []


def _pred_store(record, root: str | None) -> tuple[MaskStore | None, str | None]:
    """(store, key) of a record's predicted masks: its `mask_folder` (a folder of PNGs) if set, else the
    run's mask root, as the scorer reads them."""
    folder = record.get("mask_folder") if isinstance(record, dict) else None
    if isinstance(folder, str) and folder:
        return MaskStore(Path(folder).parent), Path(folder).name
    return (MaskStore(root), None) if root is not None and Path(root).is_dir() else (None, None)


class _FrameWriter:
    """Chooses and writes the frames of each entry (videos, GT masks, each run's predicted masks)."""

    def __init__(self, images: ReportImages, video_dir, gt_store, pred_roots, max_frames: int):
        self.images, self.video_dir, self.gt_store = images, video_dir, gt_store
        self.pred_roots, self.max_frames = pred_roots, max_frames

    def __call__(self, view: EntryView, entry: GenEntry, key: str, records: list) -> None:
        video = VideoFrames(Path(self.video_dir) / entry.video_path if self.video_dir and entry.video_path else None,
                            TIMELINE_FPS)  # fmt: skip
        if view.duration is None:
            view.duration = video.duration
        gt_frames = _mask_frames(self.gt_store, entry.entry_id, view.notes)
        stores = [_pred_store(r, root) for r, root in zip(records, self.pred_roots, strict=True)]
        sources = [_mask_source(s, k or entry.entry_id, view.notes) for s, k in stores]
        if video.info is not None:
            sampled = sorted(
                {round(i / video.info.fps * TIMELINE_FPS) for r in records for i in _meta_frames(r)}
            )
            if not sampled:
                sampled = even_frames(int(video.info.duration * TIMELINE_FPS), self.max_frames)
        else:  # no picture to show: only frames where some mask exists
            sampled = sorted({f for s, k in stores for f in _mask_frames(s, k or entry.entry_id, view.notes)})
            view.notes.append(f"{video.error}: masks are drawn on a blank frame")
        indices = choose_frames(gt_frames, sampled, self.max_frames)
        gt_source = _mask_source(self.gt_store, entry.entry_id, view.notes)
        view.frames, size = write_entry_frames(
            self.images, key, indices, TIMELINE_FPS, video, gt_source, sources
        )
        if not view.frames:
            view.notes.append("no frames: neither the video nor any mask could be read")
        if size is not None:
            view.height, view.width = size
        if video.error and video.info is not None:
            view.notes.append(video.error)


def _meta_frames(record) -> list[int]:
    meta = record.get("meta") if isinstance(record, dict) else None
    frames = meta.get("frames") if isinstance(meta, dict) else None
    return [int(i) for i in frames if isinstance(i, int)] if isinstance(frames, list) else []


def build_report(out_dir: str | os.PathLike, gt_file: str | os.PathLike, runs: list[GenRun], *,
                 video_dir=None, gt_mask_dir=None, mask_mode: str = "concat", limit: int | None = None,
                 max_frames: int = 8, thumb_width: int = 320, thresholds: EvidenceThresholds | None = None,
                 num_workers: int = 1, progress: bool = True, title: str | None = None) -> ViewReport:  # fmt: skip
    """Score each run and build the view model of the report, writing its images and results JSONs into
    `out_dir` (prepared with `prepare_report_dir`); render it with `evqa.eval.viewer.render_report`.

    gt_file: st_evidence_gen.csv; runs: one or more prediction files (with their predicted-mask folders;
    None = the scorer's default `<pred_file stem>/<mask_mode>`); video_dir: the folder the CSV's
    video_path is relative to (None: no frames, masks on a blank frame); gt_mask_dir: GT masks (None: no
    masks); limit: only the first N entries (they are also what is scored); max_frames: frames shown per
    entry; thumb_width: thumbnail width (pixels).
    Raises ConfigError / DataError / PredictionError for a missing or malformed input, naming it.
    """
    check_runs(runs)
    if max_frames < 1:
        raise ConfigError(f"max_frames must be at least 1, got {max_frames}", field="--max_frames")
    check_dir(video_dir, "--video_dir")
    check_dir(gt_mask_dir, "--gt_mask_dir")
    for run in runs:
        check_dir(run.pred_mask_dir, "--pred_mask_dir")
    thresholds = thresholds or EvidenceThresholds()
    entries = load_gen_benchmark(gt_file)
    if limit is not None:
        if limit < 1:
            raise ConfigError(f"limit must be at least 1, got {limit}", field="--limit")
        entries = entries[:limit]
    out = prepare_report_dir(out_dir)
    images = ReportImages(out, max_width=thumb_width)
    run_views, results, records, pred_roots = [], [], [], []
    for k, run in enumerate(runs):
        view, res, recs, root = _score_run(k, run, entries, gt_file if limit is None else entries, gt_mask_dir,
                                           mask_mode, num_workers, progress, out, thresholds)  # fmt: skip
        run_views.append(view), results.append(res), records.append(recs), pred_roots.append(root)
    report = ViewReport(
        title=title or title_of("ST-Evidence gen", [r.pred_file for r in runs]),
        benchmark=BENCHMARK,
        runs=run_views,
    )
    if limit is not None:
        report.notes.append(
            f"first {len(entries)} entries of {gt_file} (--limit {limit}); the numbers are theirs"
        )
    writer = _FrameWriter(images, video_dir, MaskStore(gt_mask_dir) if gt_mask_dir else None, pred_roots,
                          max_frames)  # fmt: skip
    for position, entry in enumerate(tqdm(entries, desc="Viewer frames", unit="entry", disable=not progress)):
        report.entries.append(_entry_view(entry, position, records, results, thresholds, writer))
    report.tables = [
        *metric_tables(run_views, results),
        failure_table(report),
        skip_table(run_views, results),
    ]
    report.validate()
    return report


def _score_run(k, run: GenRun, entries, gt, gt_mask_dir, mask_mode, num_workers, progress, out, thresholds):
    """Score one prediction file; returns (RunView, results, {entry_id: record}, predicted-mask root)."""
    records = load_predictions(run.pred_file)
    root = resolve_pred_mask_dir(run.pred_file, run.pred_mask_dir, mask_mode)
    notes = []
    masks = gt_mask_dir is not None and (Path(root).is_dir() or _has_mask_folders(records))
    if gt_mask_dir is not None and not masks:
        notes.append(f"no predicted masks at {root}: masks not scored")
    res = evaluate_gen(gt, run.pred_file, eval_masks=masks, gt_mask_dir=gt_mask_dir, pred_mask_dir=root,
                       num_workers=num_workers, progress=progress, mask_mode=mask_mode)  # fmt: skip
    add_gen_extras(res, entries, records, iop_threshold=thresholds.iop, j_threshold=thresholds.j)
    shown = root if Path(root).is_dir() else None  # predicted masks are shown even where none are scored
    return run_view(k, run.pred_file, records, res, out, notes), res, records, shown


def _has_mask_folders(records: dict) -> bool:
    return any(isinstance(r, dict) and isinstance(r.get("mask_folder"), str) for r in records.values())


def _entry_view(
    entry: GenEntry, position: int, records, results, thresholds, writer: _FrameWriter
) -> EntryView:
    view = EntryView(
        entry_id=entry.entry_id, question=entry.question, gt_answer=entry.answer, options=list(entry.candidates),
        gt_index=entry.answer_index if entry.answer_index >= 0 else None, category=entry.category,
        source=entry.source, duration=_duration(entry), gt_segments=[(float(s), float(e)) for s, e in entry.segments],
        video=entry.video_path or None,
    )  # fmt: skip
    entry_records = [recs.get(entry.entry_id) for recs in records]
    for record, res in zip(entry_records, results, strict=True):
        mask_error = ((res.get("mask_metrics") or {}).get("mask_errors") or {}).get(entry.entry_id)
        view.runs.append(run_entry_view(entry, record, res["per_sample_scores"][entry.entry_id], thresholds,
                                        mask_error))  # fmt: skip
    writer(view, entry, f"e{position:05d}", entry_records)
    return view
