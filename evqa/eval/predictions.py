"""Prediction files: reading them (upstream JSON or our JSONL) and interpreting one generative record.

A file-level problem (missing, not JSON, wrong top-level shape) raises PredictionError naming the file.
A record-level problem (answer of the wrong type, non-numeric segments, a record that is not an object)
never raises: `read_gen_record` reports it so the scorer counts it and lists the entry id.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from evqa.answers import extract_answer, extract_segments, normalize_segments
from evqa.errors import PredictionError
from evqa.io import read_json

log = logging.getLogger(__name__)


def _read_jsonl(path) -> dict[str, dict]:
    """entry_id -> record of a JSONL (the runner's reader, `evqa.run_files.read_jsonl`: torn lines anywhere
    are skipped and counted in a warning). The run header is not an entry: `evqa.run_files.read_jsonl`
    (or `evqa.benchmarks.summary.read_run_header`) returns it."""
    from evqa.run_files import read_jsonl

    _, records, torn = read_jsonl(path)
    if torn:
        log.warning("%s: skipped %d torn or unreadable line(s)", path, torn)
    return {str(r["entry_id"]): r for r in records}


def load_predictions(path: str | os.PathLike) -> dict[str, dict]:
    """Read predictions: a JSON object {entry_id: record} or JSONL (one record with `entry_id` per line, or
    one {entry_id: record} per line; later lines win, so a resumed run's file reads correctly).

    Raises PredictionError if the file is missing, not JSON/JSONL, or its top level is not an object.
    """
    if str(path).endswith(".jsonl"):
        return _read_jsonl(path)
    data = read_json(path, error=PredictionError)
    if not isinstance(data, dict):
        raise PredictionError(
            f"top level must be an object {{entry_id: record}}, got {type(data).__name__}", path=path
        )
    return {str(k): v for k, v in data.items()}


@dataclass
class GenRecord:
    """One prediction read under the evqa protocol.

    status: 'ok' (scorable), 'missing' (no record), 'failed' (`error` set or parsed_response null) or
    'bad_record' (not an object). `problems` lists format problems of a scorable record (for the counts).
    """

    status: str
    letter: str | None = None
    answer_status: str = "empty"
    segments: list[tuple[float, float]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _answer_of(parsed: dict, raw, candidates: Sequence[str], problems: list[str]):
    if "answer" in parsed:
        value = parsed["answer"]
        if value is not None and not isinstance(value, str):
            problems.append("answer_type")
            return None, "unparsable"
        answer = extract_answer(value, candidates)
    else:
        answer = extract_answer(raw if isinstance(raw, str) else None, candidates)
    if answer.status != "ok":
        problems.append("unparsable_answer" if answer.status == "unparsable" else "empty_answer")
    return answer.letter, answer.status


def _segments_of(parsed: dict, raw, problems: list[str]) -> list[tuple[float, float]]:
    if "segments" not in parsed:
        segments = extract_segments(raw) if isinstance(raw, str) else []
    else:
        try:
            segments = normalize_segments(parsed["segments"])
        except ValueError:
            problems.append("malformed_segments")
            return []
    if not segments:
        problems.append("empty_segments")
    return segments


def read_gen_record(record, candidates: Sequence[str]) -> GenRecord:
    """Interpret one generative prediction record (DESIGN.md §2.3) under the evqa protocol.

    The answer comes from `parsed_response.answer` through `extract_answer` (else from `raw_response`);
    segments from `parsed_response.segments` through `normalize_segments` (else from `raw_response` text).
    A record with `error` set or `parsed_response` null is 'failed' and never scored as an answer. A record
    shaped like the upstream README (top-level `answer`, `time_segments`, no `parsed_response`) is read too.
    """
    if record is None:
        return GenRecord("missing")
    if not isinstance(record, dict):
        return GenRecord("bad_record", problems=["bad_record"])
    parsed = record.get("parsed_response")
    if "parsed_response" not in record and any(k in record for k in ("answer", "time_segments")):
        # the upstream README's shape: answer / time_segments / mask_dir at the top level
        parsed = {"answer": record.get("answer"), "segments": record.get("time_segments", [])}
    if record.get("error") or parsed is None:
        return GenRecord("failed")
    if not isinstance(parsed, dict):
        return GenRecord("bad_record", problems=["bad_record"])
    problems: list[str] = []
    raw = record.get("raw_response")
    letter, answer_status = _answer_of(parsed, raw, candidates, problems)
    segments = _segments_of(parsed, raw, problems)
    return GenRecord("ok", letter, answer_status, segments, problems)


def upstream_segments(segments) -> tuple[list[list[float]], str | None]:
    """The published evaluator's segment parsing: (pairs, error kind or None).

    A flat all-number list is paired (an odd last number dropped); otherwise each [s, e, ...] list or
    {start, end} / {start_time, end_time} object is read and bad items are skipped ('malformed_segments');
    [] -> 'empty_segments'; a non-list -> 'parse_errors'.
    """
    if not isinstance(segments, list):
        return [], "parse_errors"
    if not segments:
        return [], "empty_segments"
    out, bad = [], False
    if all(isinstance(x, (int, float)) for x in segments):
        out = [[float(segments[i]), float(segments[i + 1])] for i in range(0, len(segments) - 1, 2)]
        return out, None
    for item in segments:
        try:
            if isinstance(item, list) and len(item) >= 2:
                out.append([float(item[0]), float(item[1])])
            elif isinstance(item, dict) and "start" in item and "end" in item:
                out.append([float(item["start"]), float(item["end"])])
            elif isinstance(item, dict) and "start_time" in item and "end_time" in item:
                out.append([float(item["start_time"]), float(item["end_time"])])
            else:
                bad = True
        except (ValueError, TypeError):
            bad = True
    return out, ("malformed_segments" if bad else None)
