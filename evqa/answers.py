"""Answer and segment extraction — the ONE place any model's reply is turned into a letter and segments.

Every runner and scorer calls `extract_answer` (DESIGN.md §3), and `find_json` is the one JSON finder (the
runner's reply parsing uses it too, so both read the same JSON out of a reply). Precedence:
  1. a JSON field (`{"answer": "B"}`: the whole reply, a ```json fenced block, or an object in prose);
  2. an explicit marker: `Answer: B`, `the answer is (B)`, then `Option B` / `choice (B)`;
  3. a letter opening the reply: `B)`, `(B)`, `B.`, `B:`;
  4. a bare single letter (the whole reply, or exactly one distinct stand-alone capital A–F);
  5. the text of exactly one candidate: the whole reply, the words after an answer marker, or inside a
     short one-sentence reply (at most 12 words, e.g. "He is holding a pole.").
Two conflicting letters at the same level are *unparsable* — never a guess ("the answer is A or B" too). The upper-case article
"A" followed by a word ("A dog") and lower-case "a" in running text are never read as letters.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from evqa.prompts import LETTERS
from evqa.text import normalize_text

_ANSWER_KEYS = ("answer", "Answer", "ANSWER", "choice", "option", "prediction")
# A letter token: optionally bracketed; what may follow decides whether it is a letter or a word.
_LETTER = r"[\(\[\{\*]*\s*([A-Fa-f])\s*[\)\]\}\*]*"
_ANSWER_MARKER = re.compile(
    r"\b(?:final\s+answer|correct\s+answer|answer)(?:\s+(?:is|would\s+be|should\s+be))?\s*(?:[:=\-]|\bis\b)?\s*"
    r"(?:option|choice|letter)?\s*" + _LETTER,
    re.IGNORECASE,
)
_OPTION_MARKER = re.compile(r"\b(?:option|choice)\s*[:#]?\s*" + _LETTER, re.IGNORECASE)
_LEADING = re.compile(r"^\s*[\(\[\*]*\s*([A-Fa-f])\s*(?:[\)\]\.:,]|\*\*|$)")
_STANDALONE = re.compile(r"(?<![A-Za-z0-9'’_\-])([A-F])(?![A-Za-z0-9'’_\-])")
# "A is correct" names option A; "A dog" is an article. Words that make a following "A" a letter:
_LETTER_VERBS = frozenset({"is", "was", "seems", "appears", "and", "or", "would", "could", "might", "must",
                           "should", "matches", "fits", "describes", "best", "because"})  # fmt: skip
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
# "answer is A or B", "answer: A/B": a second letter joined to a marker's letter makes it a conflict
_JOINED_LETTER = re.compile(r"\s*(?:/|,|\bor\b|\band\b|,\s*or\b)\s*[\(\[\*]*\s*([A-F])(?![A-Za-z0-9])")
_MARKER_TEXT = re.compile(
    r"\b(?:final\s+answer|correct\s+answer|answer)(?:\s+(?:is|would\s+be|should\s+be))?\s*[:=\-]?\s*",
    re.IGNORECASE,
)
_SHORT_REPLY_WORDS = 12


@dataclass(frozen=True)
class AnswerParse:
    """The result of reading one reply: `letter` in 'A'..'F' or None, `status`, and the rule that fired."""

    letter: str | None
    status: Literal["ok", "unparsable", "empty"]
    method: str


def _allowed_letters(candidates: Sequence[str] | None, num_options: int | None) -> str:
    if num_options is not None:
        return LETTERS[: max(0, min(int(num_options), len(LETTERS)))]
    if candidates:
        return LETTERS[: min(len(candidates), len(LETTERS))]
    return LETTERS


def _letter_is_word(text: str, match: re.Match) -> bool:
    """True when the matched letter is really a word: an article 'A dog' or lower-case in running text."""
    letter, end = match.group(1), match.end(1)
    rest = text[end:]
    next_word = re.match(r"[ \t]+([A-Za-z]+)", rest)
    if letter == "A" and next_word and next_word.group(1).lower() not in _LETTER_VERBS:
        return True
    if letter.islower():
        # lower case counts only when nothing but punctuation or the end follows ("answer: b." / "b)")
        return re.match(r"\s*(?:[\)\]\}\.:,;!]|\*\*|$|\n)", rest) is None
    return False


def _letters_from(pattern: re.Pattern, text: str, *, joined: bool = False) -> list[str]:
    out = []
    for match in pattern.finditer(text):
        if not _letter_is_word(text, match):
            out.append(match.group(1).upper())
            if joined and (more := _JOINED_LETTER.match(text, match.end())):
                out.append(more.group(1))
    return out


def _decide(letters: list[str], allowed: str, method: str) -> AnswerParse | None:
    distinct = sorted(set(letters))
    if not distinct:
        return None
    if len(distinct) > 1:
        return AnswerParse(None, "unparsable", f"{method}:conflict")
    if distinct[0] not in allowed:
        return AnswerParse(None, "unparsable", f"{method}:out_of_range")
    return AnswerParse(distinct[0], "ok", method)


def find_json(text: str, opener: str = "{") -> Any | None:
    """The first JSON value of kind `opener` ('{' object, '[' list) in a reply: a fenced block first, then the
    reply itself, then the first one embedded in prose. None if there is none."""
    if not isinstance(text, str):
        return None
    kind = dict if opener == "{" else list
    decoder = json.JSONDecoder()
    blobs = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for blob in blobs:
        start = blob.find(opener)
        while start >= 0:
            try:
                value, _ = decoder.raw_decode(blob, start)
            except (json.JSONDecodeError, RecursionError):
                value = None
            if isinstance(value, kind):
                return value
            start = blob.find(opener, start + 1)
    return None


def _json_payload(text: str) -> tuple[dict | None, bool]:
    """(the reply's JSON object, whether that object is the whole reply or a fenced block)."""
    payload = find_json(text, "{")
    if payload is None:
        return None, False
    stripped = text.strip()
    whole = (stripped.startswith("{") and stripped.endswith("}")) or _FENCE.search(stripped) is not None
    return payload, whole


def _from_dict(obj: dict, candidates, num_options) -> AnswerParse:
    for key in _ANSWER_KEYS:
        if key in obj:
            value = obj[key]
            if value is None:
                return AnswerParse(None, "empty", "json")
            if not isinstance(value, str):
                return AnswerParse(None, "unparsable", "json:wrong_type")
            inner = _from_text(value, candidates, num_options)
            return AnswerParse(inner.letter, inner.status, f"json:{inner.method}")
    return AnswerParse(None, "unparsable", "json:no_answer_field")


def _from_candidates(text: str, candidates: Sequence[str] | None, allowed: str) -> AnswerParse | None:
    if not candidates:
        return None
    norm = normalize_text(text)
    texts = [normalize_text(c) for c in candidates]
    exact = [i for i, c in enumerate(texts) if c and c == norm]
    markers = list(_MARKER_TEXT.finditer(text))
    if len(exact) == 1:
        hits = exact
    elif markers:  # a long reply names a candidate only right after its answer marker
        after = normalize_text(text[markers[-1].end() :])
        found = [i for i, c in enumerate(texts) if c and re.match(rf"{re.escape(c)}(?!\w)", after)]
        hits = [i for i in found if not any(i != j and texts[i] in texts[j] for j in found)]
    elif len(norm.split()) > _SHORT_REPLY_WORDS or re.search(r"[.!?]\s+\S", text.strip()):
        return None
    else:
        found = [i for i, c in enumerate(texts) if c and re.search(rf"(?<!\w){re.escape(c)}(?!\w)", norm)]
        # "red car" inside "the red car on the left" should not also count "car"
        hits = [i for i in found if not any(i != j and texts[i] in texts[j] for j in found)]
    if len(hits) != 1:
        return AnswerParse(None, "unparsable", "candidate_text:ambiguous") if hits else None
    return AnswerParse(LETTERS[hits[0]], "ok", "candidate_text") if hits[0] < len(allowed) else None


def _from_text(text: str, candidates, num_options) -> AnswerParse:
    if not text.strip():
        return AnswerParse(None, "empty", "text")
    payload, whole = _json_payload(text)
    if payload is not None and (whole or any(key in payload for key in _ANSWER_KEYS)):
        return _from_dict(payload, candidates, num_options)
    allowed = _allowed_letters(candidates, num_options)
    for pattern, method in ((_ANSWER_MARKER, "answer_marker"), (_OPTION_MARKER, "option_marker")):
        found = _decide(_letters_from(pattern, text, joined=True), allowed, method)
        if found is not None:
            return found
    leading = _LEADING.match(text)
    if leading and not _letter_is_word(text, leading):
        return _decide([leading.group(1).upper()], allowed, "leading_letter")
    found = _decide(_letters_from(_STANDALONE, text), allowed, "single_letter")
    if found is not None and (found.status == "ok" or not candidates):
        return found
    by_text = _from_candidates(text, candidates, allowed)
    if by_text is not None:
        return by_text
    return found or AnswerParse(None, "unparsable", "no_match")


def extract_answer(
    text: str | dict | None, candidates: Sequence[str] | None = None, num_options: int | None = None
) -> AnswerParse:
    """Read the chosen option letter from a model reply.

    Args:
        text: the raw reply, a parsed JSON object with an ``answer`` field, or None.
        candidates: the option texts (A, B, ... in order); enables matching the reply to a candidate's text
            and limits the valid letters to ``len(candidates)``.
        num_options: the number of valid letters when ``candidates`` is not given (A .. LETTERS[n-1]).

    Returns:
        AnswerParse(letter, status, method): status 'empty' for None / blank replies, 'unparsable' when no
        rule applies or letters conflict (never a guess), 'ok' otherwise.
    """
    if text is None:
        return AnswerParse(None, "empty", "none")
    if isinstance(text, dict):
        return _from_dict(text, candidates, num_options)
    if not isinstance(text, str):
        return AnswerParse(None, "unparsable", "wrong_type")
    return _from_text(text, candidates, num_options)


_NUM = r"[-+]?\d+(?:\.\d+)?"
_PAIR_BRACKET = re.compile(
    rf"[\[\(]\s*({_NUM})\s*(?:s|sec|seconds)?\s*,\s*({_NUM})\s*(?:s|sec|seconds)?\s*[\]\)]"
)
_PAIR_RANGE = re.compile(
    rf"(?:from\s+)?({_NUM})\s*(?:s|sec|seconds)?\s*(?:-|–|—|to|until)\s*({_NUM})\s*(?:s\b|sec\b|seconds\b)?",
    re.IGNORECASE,
)
_TEMPORAL_SECTION = re.compile(
    r"temporal\s+evidence\s*:?(.*?)(?:spatial\s+evidence|$)", re.IGNORECASE | re.DOTALL
)


def extract_segments(text: str) -> list[tuple[float, float]]:
    """Time segments (seconds) from free text.

    Reads bracketed pairs ('[[2.0, 5.5], [7, 9]]', '(2.0s, 5.5s)') or ranges ('2.0-5.5s', 'from 2 to 5.5
    seconds'). When the text has a 'Temporal Evidence:' section only that section is read. Returns
    [(start, end), ...] in reading order; [] when none is found.
    """
    if not isinstance(text, str):
        return []
    section = _TEMPORAL_SECTION.search(text)
    body = section.group(1) if section else text
    pairs = _PAIR_BRACKET.findall(body) or _PAIR_RANGE.findall(body)
    return [(float(s), float(e)) for s, e in pairs]


def _number(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{what} is not a number: {value!r}")
    try:
        out = float(value)
    except ValueError:
        raise ValueError(f"{what} is not a number: {value!r}") from None
    if not math.isfinite(out):
        raise ValueError(f"{what} is not finite: {value!r}")
    return out


def _one_segment(item) -> tuple[float, float]:
    if isinstance(item, dict):
        for start_key, end_key in (("start", "end"), ("start_time", "end_time")):
            if start_key in item and end_key in item:
                return _number(item[start_key], start_key), _number(item[end_key], end_key)
        raise ValueError(f"segment object without start/end keys: {item!r}")
    if isinstance(item, (list, tuple)) and len(item) == 2:
        return _number(item[0], "start"), _number(item[1], "end")
    raise ValueError(f"a segment must be [start, end] or {{start, end}}, got {item!r}")


def normalize_segments(obj) -> list[tuple[float, float]]:
    """Turn any accepted JSON value into [(start, end), ...] seconds.

    Accepts [[s, e], ...], a flat [s1, e1, s2, e2, ...], [{"start", "end"}], [{"start_time", "end_time"}],
    a single such object, or a string holding one of these (read with `ast.literal_eval`, else
    `extract_segments`). None and [] give []. Raises ValueError on non-numeric or malformed content.
    """
    if obj is None:
        return []
    if isinstance(obj, str):
        if not obj.strip():
            return []
        try:
            return normalize_segments(ast.literal_eval(obj.strip()))
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            found = extract_segments(obj)
            if not found:
                raise ValueError(f"no segments in text {obj[:60]!r}") from None
            return found
    if isinstance(obj, dict):
        return [_one_segment(obj)]
    if not isinstance(obj, (list, tuple)):
        raise ValueError(f"segments must be a list, got {type(obj).__name__}")
    if obj and all(not isinstance(v, (list, tuple, dict)) for v in obj):
        if len(obj) % 2:
            raise ValueError(f"flat segment list has an odd length {len(obj)}")
        values = [_number(v, "segment bound") for v in obj]
        return list(zip(values[0::2], values[1::2], strict=True))
    return [_one_segment(item) for item in obj]
