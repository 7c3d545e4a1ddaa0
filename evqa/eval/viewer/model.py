"""The viewer's data: a benchmark-neutral view model of one error report.

A benchmark's builder turns its ground truth, prediction files and results JSONs into a `ViewReport`; the
renderer (`evqa.eval.viewer.render`) writes it as a static HTML folder and knows nothing of any benchmark.
Units: times and segments in seconds; IoU / IoP / J / F per entry in [0, 1]; table values as the results
JSON states them (x100 totals). Images are files the builder wrote inside the report folder
(`ReportImages`), named here by their path relative to that folder.

A report compares one or more *runs* (prediction files) on the same entries. Every entry has one
`RunEntryView` per run, in the order of `ViewReport.runs`, and each of them one failure type:

    correct                    the answer is right and so is the evidence (where the benchmark has any)
    wrong_answer               a readable answer that is wrong
    right_answer_bad_evidence  the answer is right, the evidence is not (e.g. temporal IoP or J below a threshold)
    unparsable                 the reply was received but no answer could be read from it
    failed_call                no reply: the call failed (`error` set) or the entry is missing from the file
    judge_error                (judged benchmarks) the answer was read but the LLM judge gave no verdict
    scored                     (benchmarks with no right / wrong answer: text similarity, quality scores)
                               the reply was read and scored; its numbers are in `RunEntryView.scores`

A report lists the types that can occur for its benchmark (`ViewReport.failure_types`; ST-Evidence: the
first five).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

FAILURE_TYPES = ("correct", "wrong_answer", "right_answer_bad_evidence", "unparsable", "failed_call")
ALL_FAILURE_TYPES = (*FAILURE_TYPES, "judge_error", "scored")
FAILURE_LABELS = {
    "correct": "correct",
    "wrong_answer": "wrong answer",
    "right_answer_bad_evidence": "right answer, bad evidence",
    "unparsable": "unparsable",
    "failed_call": "failed call",
    "judge_error": "judge error",
    "scored": "scored",
}

Segment = tuple[float, float]


def classify_failure(status: str, answer_read: bool, correct: bool, evidence_ok: bool = True) -> str:
    """The failure type of one prediction (see the module docstring).

    status: 'ok' (a reply was received), 'failed' or 'missing' (no reply); answer_read: an answer could be
    read from the reply; correct: that answer is right; evidence_ok: the evidence passes the benchmark's
    thresholds (True where the benchmark asks for none).
    """
    if status in ("failed", "missing"):
        return "failed_call"
    if status != "ok" or not answer_read:
        return "unparsable"
    if not correct:
        return "wrong_answer"
    return "correct" if evidence_ok else "right_answer_bad_evidence"


@dataclass
class RunHeader:
    """Who produced a prediction file: model id, checkpoint, frame sampling, and any other recorded fields."""

    model: str | None = None
    checkpoint: str | None = None
    sampling: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunView:
    """One prediction file of the report. `name` is its short label ('A', 'B'); `results_file` the path
    (relative to the report folder) of the results JSON its numbers come from."""

    name: str
    pred_file: str
    header: RunHeader
    results_file: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class MetricTable:
    """A table of numbers: `rows` of (row label, run index or None, {column: value or None}).

    The values are copied from the results JSON unchanged; `unit` says what they are ('x100'); `digits`
    the decimals shown per column (2 where a column has none)."""

    title: str
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    unit: str = "x100"
    digits: dict[str, int] = field(default_factory=dict)

    def add_row(self, label: str, values: dict[str, float | None], run: int | None = None) -> None:
        """Append a row; missing columns are None (shown as '-')."""
        self.rows.append({"label": label, "run": run, "values": {c: values.get(c) for c in self.columns}})


@dataclass
class JudgeView:
    """An LLM judge's decision on one answer: verdict ('yes' / 'no' / ...), score, its raw reply."""

    verdict: str | None = None
    score: float | None = None
    raw: str | None = None


@dataclass
class RunEntryView:
    """One run's prediction of one entry.

    answer: the predicted answer as shown (e.g. 'B. A pole'); letter: the option letter, if any;
    segments: predicted time segments (s) as the scorer read them; iou / iop: temporal scores in [0, 1]
    (None where not scored); j / f: mask scores in [0, 1] (None where not scored); detail: why the entry
    has its failure type, in words; raw_reply: the model's reply text; scores: other per-entry numbers
    of the benchmark's scorer ({"BLEU": 0.41, "score": 3.2, ...}), as it wrote them.
    """

    failure: str
    correct: bool
    answer: str | None = None
    letter: str | None = None
    detail: str = ""
    raw_reply: str | None = None
    error: str | None = None
    segments: list[Segment] = field(default_factory=list)
    iou: float | None = None
    iop: float | None = None
    j: float | None = None
    f: float | None = None
    judge: JudgeView | None = None
    scores: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.failure not in ALL_FAILURE_TYPES:
            raise ValueError(f"unknown failure type {self.failure!r} (one of {', '.join(ALL_FAILURE_TYPES)})")


@dataclass
class FrameView:
    """One shown picture: a frame (its index on the annotation timeline and its time in s) or another
    image (an option image: time None, `label` says what it is); the thumbnail JPEG (None when the video
    could not be read), the GT mask outline PNG and one predicted-mask fill PNG per run (None where that
    mask does not exist). Areas are mask fractions of the frame in [0, 1]."""

    index: int
    time: float | None
    image: str | None = None
    label: str | None = None
    gt_overlay: str | None = None
    gt_area: float | None = None
    pred_overlays: list[str | None] = field(default_factory=list)
    pred_areas: list[float | None] = field(default_factory=list)


@dataclass
class EntryView:
    """One benchmark entry with its ground truth, its runs' predictions and the frames to show.

    options: the candidate answers in order (letters A, B, ... by position); gt_index: the position of the
    GT answer among them (None if not among them); duration: the video length (s), None if unknown;
    width / height: the frame size of the thumbnails (pixels)."""

    entry_id: str
    question: str
    gt_answer: str
    options: list[str] = field(default_factory=list)
    gt_index: int | None = None
    category: str | None = None
    source: str | None = None
    duration: float | None = None
    gt_segments: list[Segment] = field(default_factory=list)
    runs: list[RunEntryView] = field(default_factory=list)
    frames: list[FrameView] = field(default_factory=list)
    width: int | None = None
    height: int | None = None
    video: str | None = None
    notes: list[str] = field(default_factory=list)

    def timeline(self) -> dict[str, Any]:
        """Where the timeline bar draws each segment, in percent of its length.

        Returns {"length": s, "known": whether length is the video duration (else the last segment end or
        frame time), "gt": [bar], "runs": [[bar] per run], "frames": [left % of each shown frame, None if it has no time]}, where
        a bar is {"start", "end" (s), "left", "width" (% of length)}, clipped to [0, length]; a segment with
        nothing left after clipping is not drawn.
        """
        known = self.duration is not None and self.duration > 0
        if known:
            length = float(self.duration)
        else:
            ends = [e for _, e in self.gt_segments] + [e for r in self.runs for _, e in r.segments]
            length = max([*ends, *(f.time for f in self.frames if f.time is not None), 0.0]) or 1.0
        return {
            "length": length,
            "known": known,
            "gt": timeline_bars(self.gt_segments, length),
            "runs": [timeline_bars(r.segments, length) for r in self.runs],
            "frames": [
                None if f.time is None else round(100 * min(max(f.time, 0.0), length) / length, 4)
                for f in self.frames
            ],  # fmt: skip
        }

    def differs(self) -> bool:
        """True when the runs disagree on the failure type, or all were scored without a right / wrong
        answer and their scores differ (the A/B comparison lists these first)."""
        if len({r.failure for r in self.runs}) > 1:
            return True
        return (
            all(r.failure == "scored" for r in self.runs)
            and len({tuple(sorted(r.scores.items())) for r in self.runs}) > 1
        )


def timeline_bars(segments: list[Segment], length: float) -> list[dict[str, float]]:
    """{start, end (s), left, width (% of `length`)} of each segment clipped to [0, length]; empty ones dropped."""
    bars = []
    for start, end in segments:
        lo, hi = min(max(float(start), 0.0), length), min(max(float(end), 0.0), length)
        if hi > lo:
            bars.append({"start": float(start), "end": float(end), "left": round(100 * lo / length, 4),
                         "width": round(100 * (hi - lo) / length, 4)})  # fmt: skip
    return bars


@dataclass
class ViewReport:
    """A whole report: title, benchmark name, runs, metric tables, entries, free-text notes and the failure
    types its entries can have (the filter's choices, in order)."""

    title: str
    benchmark: str
    runs: list[RunView]
    tables: list[MetricTable] = field(default_factory=list)
    entries: list[EntryView] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failure_types: tuple[str, ...] = FAILURE_TYPES

    def failure_counts(self) -> list[dict[str, int]]:
        """Per run, {failure type: number of entries} (every type of `failure_types`, zeros included)."""
        counts = [dict.fromkeys(self.failure_types, 0) for _ in self.runs]
        for entry in self.entries:
            for k, run in enumerate(entry.runs):
                counts[k][run.failure] += 1
        return counts

    def validate(self) -> None:
        """Raise ValueError if an entry's runs do not match the report's runs (one per run, in order)."""
        seen = set()
        unknown = set(self.failure_types) - set(ALL_FAILURE_TYPES)
        if unknown:
            raise ValueError(f"unknown failure type(s) {sorted(unknown)} in the report's failure_types")
        for entry in self.entries:
            for run in entry.runs:
                if run.failure not in self.failure_types:
                    raise ValueError(f"entry {entry.entry_id}: failure type {run.failure!r} is not one of the "
                                     f"report's ({', '.join(self.failure_types)})")  # fmt: skip
            if len(entry.runs) != len(self.runs):
                raise ValueError(
                    f"entry {entry.entry_id}: {len(entry.runs)} run(s), the report has {len(self.runs)}"
                )
            for frame in entry.frames:
                if len(frame.pred_overlays) not in (0, len(self.runs)):
                    raise ValueError(
                        f"entry {entry.entry_id} frame {frame.index}: one overlay per run expected"
                    )
            if entry.entry_id in seen:
                raise ValueError(f"entry {entry.entry_id} appears twice")
            seen.add(entry.entry_id)


def to_plain(obj) -> Any:
    """A view-model object as plain JSON-able data (dataclasses -> dicts, tuples -> lists)."""
    return asdict(obj)
