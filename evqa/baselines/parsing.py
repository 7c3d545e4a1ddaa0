"""Turning baseline replies into `parsed_response` fields. Letters, segments and the JSON inside a reply come
from the one answer extraction (`evqa.answers`, whose `find_json` is re-exported here); this module only
assembles them and reads referring expressions."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from evqa.answers import extract_answer, extract_segments, find_json, normalize_segments

__all__ = ["find_json", "parse_gen_reply", "parse_referring_expressions", "parse_segments_reply"]

_SEGMENT_KEYS = ("temporal_evidence", "segments", "time_segments", "temporal_segments", "evidence_segments")
_REF_KEYS = ("referring_expressions", "referring_expression", "objects", "spatial_evidence")


def parse_referring_expressions(value: Any) -> list[str]:
    """Referring expressions from a JSON value (list of strings / objects with 'expression') or free text
    (a JSON list in it, else one expression per non-empty line, bullets stripped)."""
    if value is None:
        return []
    if isinstance(value, str):
        found = find_json(value, "[")
        if found is None:
            lines = [
                re.sub(r"^\s*(?:[-*\u2022]|\d+[.)])\s*", "", line).strip() for line in value.splitlines()
            ]
            return [line.strip(" \"'") for line in lines if line.strip(" \"'")]
        value = found
    if isinstance(value, dict):
        value = [value]
    out = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, dict):
            item = item.get("expression") or item.get("ref_expression") or item.get("name")
        if isinstance(item, str) and item.strip():
            out.append(item.strip())
    return out


def parse_gen_reply(text: str, candidates: Sequence[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Parse a single-turn generative reply into (parsed_response, parse_meta).

    parsed_response = {"answer": letter | None, "segments": [[s, e], ...] seconds, "referring_expressions": [...]};
    parse_meta records how the answer was found and any segment problem.
    """
    payload = find_json(text, "{")
    parse = extract_answer(text, candidates=candidates)  # the scorer's reading of the same reply
    meta: dict[str, Any] = {"answer_status": parse.status, "answer_method": parse.method}
    segments: list[tuple[float, float]] = []
    refs: list[str] = []
    if payload is not None:
        seg_value = next((payload[k] for k in _SEGMENT_KEYS if k in payload), None)
        try:
            segments = normalize_segments(seg_value)
        except ValueError as err:
            meta["segment_error"] = str(err)
        refs = parse_referring_expressions(next((payload[k] for k in _REF_KEYS if k in payload), None))
    else:
        segments = extract_segments(text)
    parsed = {"answer": parse.letter, "segments": [list(s) for s in segments], "referring_expressions": refs}
    return parsed, meta


def parse_segments_reply(text: str) -> tuple[list[list[float]], str | None]:
    """Segments (seconds) from a multi-turn segment reply; returns (segments, error text or None)."""
    found = find_json(text, "[")
    try:
        segments = normalize_segments(found) if found is not None else extract_segments(text)
    except ValueError as err:
        return [list(s) for s in extract_segments(text)], str(err)
    return [list(s) for s in segments], None
