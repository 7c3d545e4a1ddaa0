"""Ground-truth loaders of the ST-Evidence benchmark: the generative CSV and the three MCQ files.

Formats: DESIGN.md §2.1–2.2. List-valued CSV cells (`candidates`, `segment` / `temporal_evidence`, MCQ
`options`) are Python literals read with `ast.literal_eval`. Anything malformed raises `DataError` naming the
file, the entry and the field — ground truth is never defaulted or guessed.
"""

from __future__ import annotations

import ast
import csv
import os
from dataclasses import dataclass, field

from evqa.answers import normalize_segments
from evqa.errors import DataError, InputError
from evqa.io import read_json
from evqa.paths import validate_entry_id
from evqa.prompts import LETTERS
from evqa.text import normalize_text

GEN_REQUIRED = ("entry_id", "answer", "candidates")
SEGMENT_COLUMNS = ("segment", "temporal_evidence")
MCQ_REQUIRED = ("entry_id", "question", "options", "answer")


@dataclass
class GenEntry:
    """One generative ST-Evidence question. `segments` are (start, end) in seconds; `answer_index` is the
    position of `answer` in `candidates` (-1 if the answer text is not among them)."""

    entry_id: str
    video_id: str
    video_path: str
    question: str
    answer: str
    candidates: list[str]
    answer_index: int
    segments: list[tuple[float, float]]
    source: str | None = None
    category: str | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class McqEntry:
    """One MCQ entry with the three tasks' options and correct letters (None when that task has no GT)."""

    entry_id: str
    video: str
    question: str
    options: list[str]
    answer: str
    time_options: list[list[tuple[float, float]]] | None = None
    time_answer: str | None = None
    mask_options: list[str] | None = None
    mask_answer: str | None = None


def _literal(text: str, *, path, entry, column):
    try:
        return ast.literal_eval(text.strip()) if text and text.strip() else []
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise DataError(
            f"not a Python literal list: {text[:60]!r}", path=path, entry=entry, field=column
        ) from None


def _read_csv(path, required: tuple[str, ...]) -> tuple[list[dict], list[str]]:
    if not os.path.isfile(path):
        raise DataError("file not found", path=path)
    try:
        # utf-8-sig: spreadsheets save CSVs with a byte-order mark, which must not stick to the first column
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            rows, columns = list(reader), list(reader.fieldnames or [])
    except (UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"not a readable CSV ({err})", path=path) from None
    for column in required:
        if column not in columns:
            raise DataError(f"missing column (has: {', '.join(columns) or 'none'})", path=path, field=column)
    if not rows:
        raise DataError("has a header but no entries", path=path)
    return rows, columns


def _entry_id(row: dict, path) -> str:
    """The row's entry id, validated: it names files, so it must stay inside its folder."""
    entry_id = (row.get("entry_id") or "").strip()
    try:
        return validate_entry_id(entry_id)
    except InputError as err:
        raise DataError(err.message, path=path, field="entry_id") from None


def _gen_entry(row: dict, path, segment_column: str) -> GenEntry:
    entry_id = _entry_id(row, path)
    candidates = _literal(row["candidates"], path=path, entry=entry_id, column="candidates")
    if not isinstance(candidates, list):
        raise DataError("candidates must be a list", path=path, entry=entry_id, field="candidates")
    raw_segments = _literal(row.get(segment_column) or "", path=path, entry=entry_id, column=segment_column)
    try:
        segments = normalize_segments(raw_segments)
    except ValueError as err:
        raise DataError(str(err), path=path, entry=entry_id, field=segment_column) from None
    answer = row["answer"]
    norm = [normalize_text(str(c)) for c in candidates]
    index = norm.index(normalize_text(answer)) if normalize_text(answer) in norm else -1
    known = {"entry_id", "video_id", "video_path", "question", "answer", "candidates", "source", "category"}
    return GenEntry(
        entry_id=entry_id,
        video_id=row.get("video_id") or "",
        video_path=row.get("video_path") or "",
        question=row.get("question") or "",
        answer=answer,
        candidates=[str(c) for c in candidates],
        answer_index=index,
        segments=segments,
        source=row.get("source") or None,
        category=row.get("category") or None,
        extra={k: v for k, v in row.items() if k not in known and k not in SEGMENT_COLUMNS and k is not None},
    )


def load_gen_benchmark(csv_path: str | os.PathLike) -> list[GenEntry]:
    """Read `st_evidence_gen.csv` (or an instruct CSV with `temporal_evidence`) into GenEntry objects.

    Required columns: entry_id, answer, candidates, and `segment` or `temporal_evidence`. Raises DataError
    for a missing file/column, a duplicate entry_id or an unparsable list cell.
    """
    rows, columns = _read_csv(csv_path, GEN_REQUIRED)
    segment_column = next((c for c in SEGMENT_COLUMNS if c in columns), None)
    if segment_column is None:
        raise DataError(
            "missing column (need 'segment' or 'temporal_evidence')", path=csv_path, field="segment"
        )
    entries, seen = [], set()
    for row in rows:
        entry = _gen_entry(row, csv_path, segment_column)
        if entry.entry_id in seen:
            raise DataError("duplicate entry_id", path=csv_path, entry=entry.entry_id, field="entry_id")
        seen.add(entry.entry_id)
        entries.append(entry)
    return entries


def _letter(value, num_options: int, *, path, entry, column) -> str:
    """A GT answer as a letter: 'B', 1 (index) or '1' all give 'B'; anything else is a DataError."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and 0 <= value < min(num_options, len(LETTERS)):
        return LETTERS[value]
    if isinstance(value, str) and value.strip().upper() in LETTERS[:num_options] and len(value.strip()) == 1:
        return value.strip().upper()
    raise DataError(
        f"invalid correct answer {value!r} for {num_options} options", path=path, entry=entry, field=column
    )


def _mcq_answer(row: dict, options: list[str], path) -> str:
    entry_id, answer = row["entry_id"].strip(), row["answer"].strip()
    if len(answer) == 1 and answer.upper() in LETTERS[: len(options)]:
        return answer.upper()
    norm = [normalize_text(o) for o in options]
    if normalize_text(answer) in norm:
        return LETTERS[norm.index(normalize_text(answer))]
    raise DataError(
        f"answer {answer[:40]!r} is neither a letter nor an option", path=path, entry=entry_id, field="answer"
    )


def _time_gt(record, path, entry_id):
    if not isinstance(record, dict):
        raise DataError("must be an object", path=path, entry=entry_id)
    options = record.get("time_evidence_options")
    if not isinstance(options, list) or not options:
        raise DataError("missing or empty", path=path, entry=entry_id, field="time_evidence_options")
    try:
        parsed = [normalize_segments(o) for o in options]
    except ValueError as err:
        raise DataError(str(err), path=path, entry=entry_id, field="time_evidence_options") from None
    answer = _letter(
        record.get("correct_answer"), len(options), path=path, entry=entry_id, column="correct_answer"
    )
    return parsed, answer


def _mask_gt(record, path, entry_id):
    if not isinstance(record, dict):
        raise DataError("must be an object", path=path, entry=entry_id)
    options = record.get("mcq_options") or record.get("options")
    if not isinstance(options, list) or not options:
        raise DataError("missing or empty", path=path, entry=entry_id, field="options|mcq_options")
    # `options` may name keys of the record ("gt", "d1", ...) that hold the image paths
    options = [record[o] if isinstance(o, str) and isinstance(record.get(o), str) else o for o in options]
    key = "answer" if "answer" in record else "correct_answer"
    return [str(o) for o in options], _letter(
        record.get(key), len(options), path=path, entry=entry_id, column=key
    )


def _json_object(path) -> dict:
    data = read_json(path, error=DataError)
    if not isinstance(data, dict):
        raise DataError("top level must be an object {entry_id: ...}", path=path)
    return data


def load_mcq_benchmark(data_file, distractors_file=None, mask_file=None) -> list[McqEntry]:
    """Read the MCQ CSV, `temp_options.json` and `mask_options.json` into McqEntry objects.

    An entry absent from a JSON file has no GT for that task (its fields stay None); a present but malformed
    record raises DataError naming the file, entry and field.
    """
    rows, _ = _read_csv(data_file, MCQ_REQUIRED)
    temporal = _json_object(distractors_file) if distractors_file else {}
    spatial = _json_object(mask_file) if mask_file else {}
    entries = []
    for row in rows:
        entry_id = _entry_id(row, data_file)
        options = _literal(row["options"], path=data_file, entry=entry_id, column="options")
        if not isinstance(options, list) or not options:
            raise DataError(
                "options must be a non-empty list", path=data_file, entry=entry_id, field="options"
            )
        options = [str(o) for o in options]
        entry = McqEntry(
            entry_id, row.get("video") or "", row["question"], options, _mcq_answer(row, options, data_file)
        )
        if entry_id in temporal:
            entry.time_options, entry.time_answer = _time_gt(temporal[entry_id], distractors_file, entry_id)
        if entry_id in spatial:
            entry.mask_options, entry.mask_answer = _mask_gt(spatial[entry_id], mask_file, entry_id)
        entries.append(entry)
    return entries
