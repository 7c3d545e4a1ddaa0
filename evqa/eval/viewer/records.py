"""What every builder reads from a prediction file and its results JSON, whatever the benchmark.

Prediction records follow DESIGN.md §2.3–2.4: `raw_response`, `error`, `meta` (the runner writes the model
identity and sampling into every record's meta) and, for judged benchmarks, `judge`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from evqa.errors import ConfigError
from evqa.eval.viewer.model import JudgeView, MetricTable, RunHeader, RunView, ViewReport
from evqa.io import write_json_atomic
from evqa.prompts import LETTERS

RUN_NAMES = "ABCDEFGH"
HEADER_EXTRA = ("adapter", "prompt_version", "device", "dtype", "endpoint")


def run_header(records: dict) -> RunHeader:
    """Model, checkpoint and sampling of a run, from its first record that has a `meta`."""
    meta = next((r["meta"] for r in records.values() if isinstance(r, dict) and isinstance(r.get("meta"), dict)),
                {})  # fmt: skip
    sampling = [f"{meta['fps']:g} fps" if isinstance(meta.get("fps"), (int, float)) else None,
                f"{len(meta['frames'])} frames" if isinstance(meta.get("frames"), list) else None]  # fmt: skip
    return RunHeader(
        model=str(meta["model"]) if meta.get("model") else None,
        checkpoint=str(meta.get("checkpoint") or meta.get("model_path") or "") or None,
        sampling=", ".join(s for s in sampling if s) or None,
        extra={k: str(meta[k]) for k in HEADER_EXTRA if meta.get(k) is not None},
    )


def answer_text(letter: str | None, options: list[str]) -> str | None:
    """'B. A pole' for letter 'B' of `options`; the letter alone when it names no option; None for None."""
    if letter is None:
        return None
    index = LETTERS.find(letter)
    return f"{letter}. {options[index]}" if 0 <= index < len(options) else letter


def raw_reply(record) -> str | None:
    """The model's reply as text (a structured reply as indented JSON), None when there is none."""
    if not isinstance(record, dict) or record.get("raw_response") is None:
        return None
    raw = record["raw_response"]
    return raw if isinstance(raw, str) else json.dumps(raw, indent=1, ensure_ascii=False)


def record_error(record) -> str | None:
    """The record's `error`, as text, when set."""
    return str(record["error"]) if isinstance(record, dict) and record.get("error") else None


def judge_of(record) -> JudgeView | None:
    """A judge's decision stored with the record (`judge: {pred|verdict, score, raw_response|raw}`), if any."""
    judge = record.get("judge") if isinstance(record, dict) else None
    if not isinstance(judge, dict):
        return None
    score = judge.get("score")
    raw = judge.get("raw_response", judge.get("raw"))
    return JudgeView(verdict=judge.get("pred", judge.get("verdict")),
                     score=float(score) if isinstance(score, (int, float)) else None,
                     raw=raw if isinstance(raw, str) or raw is None else json.dumps(raw))  # fmt: skip


def check_runs(pred_files: list, flag: str = "--pred_file") -> None:
    """At least one and at most len(RUN_NAMES) prediction files."""
    if not pred_files:
        raise ConfigError("give at least one prediction file", field=flag)
    if len(pred_files) > len(RUN_NAMES):
        raise ConfigError(f"at most {len(RUN_NAMES)} prediction files", field=flag)


def check_dir(path, flag: str) -> None:
    """A folder that was given must exist (never substituted by another)."""
    if path is not None and not Path(path).is_dir():
        raise ConfigError(f"folder not found: {path}", field=flag)


def run_view(k: int, pred_file, records: dict, results: dict, out: str | os.PathLike, notes=()) -> RunView:
    """The k-th run: its name ('A', 'B', ...), header, and its results JSON written into the report folder."""
    name = RUN_NAMES[k]
    results_file = f"results/run_{name}.json"
    write_json_atomic(Path(out) / results_file, results)
    return RunView(name=name, pred_file=str(pred_file), header=run_header(records), results_file=results_file,
                   notes=list(notes))  # fmt: skip


def title_of(benchmark: str, pred_files: list) -> str:
    """'<benchmark>: a vs b' from the file stems (with their folder when two stems are the same)."""
    paths = [Path(p) for p in pred_files]
    names = [p.stem for p in paths]
    if len(set(names)) < len(names):
        names = [f"{p.parent.name}/{p.stem}" for p in paths]
    return f"{benchmark}: " + " vs ".join(names)


def failure_table(report: ViewReport) -> MetricTable:
    """Entries per failure type, one row per run."""
    table = MetricTable("Failure types", list(report.failure_types), unit="entries")
    for k, (run, counts) in enumerate(zip(report.runs, report.failure_counts(), strict=True)):
        table.add_row(run.name, counts, run=k)
    return table
