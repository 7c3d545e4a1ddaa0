"""Read an LLM judge's reply — `{'pred': 'yes'|'no', 'score': 0..5}` (EgoTextVQA's judge format) — safely.

Accepted: a JSON object or a Python-literal dict (`ast.literal_eval`, never `eval`), alone or inside a code
fence or surrounding prose, with single or double quotes, key case and surrounding whitespace ignored;
`pred` is "yes"/"no" in any case; `score` an integer 0..5, also written as a string ("4") or an integral
float (4.0). Several dicts in one reply are fine only if they agree.

Anything else raises `JudgeReplyError` with a machine-readable `reason` — the reply is never turned into a
default verdict (the original scored an unparsable reply as "no, 0", so an outage looked like a real 0):
    empty        the reply is blank
    no_verdict   no dict with both `pred` and `score` in it
    bad_pred     `pred` is not yes / no
    bad_score    `score` is not an integer in 0..5
    conflict     two verdict dicts disagree
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from typing import Literal

from evqa.errors import EvqaError

SCORE_RANGE = (0, 5)
_FENCE = re.compile(r"```[A-Za-z0-9_-]*")
_REASONS = ("empty", "no_verdict", "bad_pred", "bad_score", "conflict")


class JudgeReplyError(EvqaError):
    """A judge reply that holds no usable verdict. `reason` is one of the codes in the module doc; `reply`
    is the raw text (kept whole on the exception; the message shows its first 200 characters)."""

    def __init__(self, reason: str, detail: str, reply: str):
        if reason not in _REASONS:
            raise ValueError(f"unknown judge reply error reason {reason!r}")
        self.reason = reason
        self.detail = detail
        self.reply = reply
        shown = reply if len(reply) <= 200 else reply[:200] + "..."
        super().__init__(f"unusable judge reply ({reason}): {detail}; reply: {shown!r}")


@dataclass(frozen=True)
class JudgeVerdict:
    """pred: "yes" | "no"; score: int in 0..5."""

    pred: Literal["yes", "no"]
    score: int


def _brace_spans(text: str) -> list[str]:
    """Every balanced {...} substring (quotes respected, so a '}' inside a string does not close)."""
    spans = []
    for start, ch in enumerate(text):
        if ch != "{":
            continue
        depth, quote, escaped = 0, None, False
        for end in range(start, len(text)):
            c = text[end]
            if quote:
                if escaped:
                    escaped = False
                elif c == "\\":
                    escaped = True
                elif c == quote:
                    quote = None
            elif c in "\"'":
                quote = c
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    spans.append(text[start : end + 1])
                    break
    return spans


def _as_dict(span: str) -> dict | None:
    for parse in (json.loads, ast.literal_eval):
        try:
            value = parse(span)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        if isinstance(value, dict):
            return value
    return None


def _pred(value, reply: str) -> str:
    if isinstance(value, str) and value.strip().lower() in ("yes", "no"):
        return value.strip().lower()
    raise JudgeReplyError("bad_pred", f"pred must be 'yes' or 'no', got {value!r}", reply)


def _score(value, reply: str) -> int:
    lo, hi = SCORE_RANGE
    number = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+(\.0*)?\s*", value):
        number = int(float(value))
    if number is None or not lo <= number <= hi:
        raise JudgeReplyError("bad_score", f"score must be an integer {lo}..{hi}, got {value!r}", reply)
    return number


def parse_judge_reply(reply: str) -> JudgeVerdict:
    """The verdict in a judge's reply, or `JudgeReplyError` (module doc)."""
    text = "" if reply is None else str(reply)
    if not text.strip():
        raise JudgeReplyError("empty", "the reply is blank", text)
    unfenced = _FENCE.sub(" ", text)
    verdicts: list[JudgeVerdict] = []
    for span in _brace_spans(unfenced):
        found = _as_dict(span)
        if found is None:
            continue
        keys = {str(k).strip().lower(): v for k, v in found.items()}
        if "pred" not in keys or "score" not in keys:
            continue
        verdicts.append(JudgeVerdict(_pred(keys["pred"], text), _score(keys["score"], text)))
    if not verdicts:
        raise JudgeReplyError("no_verdict", "no dict with both 'pred' and 'score'", text)
    if any(v != verdicts[0] for v in verdicts[1:]):
        seen = ", ".join(f"({v.pred}, {v.score})" for v in verdicts)
        raise JudgeReplyError("conflict", f"the reply holds different verdicts: {seen}", text)
    return verdicts[0]
