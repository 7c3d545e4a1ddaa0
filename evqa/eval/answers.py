"""Kept importable for existing callers: answer extraction lives in `evqa.answers`, text normalisation in
`evqa.text` (both below `evqa.metrics` and `evqa.data`, which must not import `evqa.eval`)."""

from evqa.answers import (
    AnswerParse,
    extract_answer,
    extract_segments,
    find_json,
    normalize_segments,
)
from evqa.text import normalize_text

__all__ = [
    "AnswerParse",
    "extract_answer",
    "extract_segments",
    "find_json",
    "normalize_segments",
    "normalize_text",
]
