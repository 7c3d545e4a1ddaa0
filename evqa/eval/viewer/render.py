"""Writes a `ViewReport` as a static, self-contained report folder that opens from disk.

    <out>/index.html            the page (summary, filters, entry list, one entry at a time)
    <out>/viewer.css, viewer.js  plain CSS and JavaScript, no CDN, no network
    <out>/data/report.js        window.EVQA_REPORT = {title, runs, tables, counts, index of every entry}
    <out>/data/entries_NNN.js   the full entries, `chunk_size` per file, loaded when one is opened
    <out>/frames/<key>/...      thumbnails and overlays (written by the builder, `ReportImages`)
    <out>/results/run_X.json    the results JSON of each run (written by the builder)

Browsers refuse fetch() of local files opened as file://, so the data are JavaScript files loaded with
`<script src>`; a 1,300-entry report only reads its small index at first, and thumbnails load lazily.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from importlib import resources
from pathlib import Path

from evqa.errors import ConfigError
from evqa.eval.viewer.model import FAILURE_LABELS, ViewReport, to_plain

MARKER = ".evqa-report"  # marks a folder this renderer wrote, so a re-run may replace it
STATIC_FILES = ("index.html", "viewer.css", "viewer.js")
OWNED = (*STATIC_FILES, "data", "frames", "results", MARKER)
QUESTION_PREVIEW = 160  # characters of the question kept in the index


def prepare_report_dir(out_dir: str | os.PathLike) -> Path:
    """Create `out_dir`, or empty a previous report in it; returns its path.

    A folder that exists, is not empty and holds no previous report is refused (ConfigError): the report
    is never written into (or replaces the files of) an unrelated folder.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} exists and is not a folder", field="--out")
    if out.is_dir() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            raise ConfigError(
                f"{out} is not empty and holds no EVQA report: choose a new folder", field="--out"
            )
        for name in OWNED:
            path = out / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by evqa view\n")
    return out


def _json(payload) -> str:
    """Compact ASCII JSON (valid JavaScript as it is); NaN or infinity would not be, and raise."""
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":"), allow_nan=False)


def _index_row(position: int, entry, chunk_size: int) -> dict:
    question = (
        entry.question if len(entry.question) <= QUESTION_PREVIEW else entry.question[:QUESTION_PREVIEW] + "…"
    )
    return {
        "i": position, "id": entry.entry_id, "chunk": position // chunk_size, "question": question,
        "category": entry.category, "source": entry.source, "gt": entry.gt_answer, "differs": entry.differs(),
        "runs": [{"failure": r.failure, "correct": r.correct, "answer": r.answer} for r in entry.runs],
    }  # fmt: skip


def comparison(report: ViewReport) -> dict | None:
    """A/B counts of the first two runs: answer correct in both / only A / only B / neither, and the
    number of entries whose failure types differ; None with one run."""
    if len(report.runs) < 2:
        return None
    out = {"both": 0, "only_a": 0, "only_b": 0, "neither": 0, "differ": 0}
    for entry in report.entries:
        a, b = entry.runs[0], entry.runs[1]
        key = ("both" if b.correct else "only_a") if a.correct else ("only_b" if b.correct else "neither")
        out[key] += 1
        out["differ"] += a.failure != b.failure
    return out


def entry_payload(entry) -> dict:
    """One entry as the page reads it: its fields plus where its timeline draws each segment."""
    return {**to_plain(entry), "timeline": entry.timeline()}


def report_payload(report: ViewReport, chunk_size: int) -> dict:
    """What data/report.js holds: everything but the full entries."""
    return {
        "title": report.title,
        "benchmark": report.benchmark,
        "runs": [to_plain(r) for r in report.runs],
        "tables": [to_plain(t) for t in report.tables],
        "failure_types": list(report.failure_types),
        "failure_labels": FAILURE_LABELS,
        "failure_counts": report.failure_counts(),
        "comparison": comparison(report),
        "notes": report.notes,
        "chunk_size": chunk_size,
        "num_chunks": math.ceil(len(report.entries) / chunk_size),
        "index": [_index_row(k, e, chunk_size) for k, e in enumerate(report.entries)],
    }


def render_report(report: ViewReport, out_dir: str | os.PathLike, *, chunk_size: int = 100) -> Path:
    """Write the page, its assets and the data files of `report` into `out_dir`; returns index.html.

    The images and results JSONs the report names must already be there (the builder writes them);
    index.html is written last, so an interrupted run leaves no page that looks complete.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    report.validate()
    out = Path(out_dir)
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    (data / "report.js").write_text(f"window.EVQA_REPORT = {_json(report_payload(report, chunk_size))};\n")
    for chunk in range(math.ceil(len(report.entries) / chunk_size)):
        entries = report.entries[chunk * chunk_size : (chunk + 1) * chunk_size]
        payload = {"chunk": chunk, "entries": [entry_payload(e) for e in entries]}
        (data / f"entries_{chunk:03d}.js").write_text(f"evqaChunk({_json(payload)});\n")
    static = resources.files("evqa.eval.viewer") / "static"
    for name in ("viewer.css", "viewer.js", "index.html"):
        (out / name).write_text((static / name).read_text(encoding="utf-8"), encoding="utf-8")
    return out / "index.html"
