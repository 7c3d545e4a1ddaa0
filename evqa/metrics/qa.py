"""QA correctness of one prediction against the ground-truth answer text, under both protocols.

`evqa`: a letter maps to candidates[index]; the prediction may also be the candidate text; correct iff the
normalised texts match (NFKC, casefold, collapsed whitespace, surrounding punctuation stripped).
`upstream`: only an upper-case letter A-F (after strip) maps to a candidate; exact string compare after
strip, case-sensitive — as the published evaluator.
"""

from __future__ import annotations

from collections.abc import Sequence

from evqa.prompts import LETTERS
from evqa.text import normalize_text

_UPSTREAM_LETTERS = {letter: i for i, letter in enumerate("ABCDEF")}


def answer_text(letter: str | None, candidates: Sequence[str]) -> str | None:
    """The candidate text a letter names ('B' -> candidates[1]); None if absent or out of range."""
    if letter is None or len(letter) != 1 or letter not in LETTERS:
        return None
    index = LETTERS.index(letter)
    return candidates[index] if index < len(candidates) else None


def qa_correct(letter: str | None, gt_answer: str, candidates: Sequence[str]) -> bool:
    """evqa protocol: the letter's candidate text equals the GT answer text after `normalize_text`."""
    text = answer_text(letter, candidates)
    return text is not None and normalize_text(text) == normalize_text(gt_answer)


def qa_correct_upstream(pred_answer, gt_answer: str, candidates: Sequence[str]) -> bool:
    """upstream protocol on the raw `parsed_response.answer` value (any type, None = wrong)."""
    if pred_answer is None:
        return False
    pred = str(pred_answer).strip()
    if pred in _UPSTREAM_LETTERS and 0 <= _UPSTREAM_LETTERS[pred] < len(candidates):
        pred = str(candidates[_UPSTREAM_LETTERS[pred]]).strip()
    return pred == str(gt_answer).strip()


def accuracy(flags: Sequence[bool]) -> float:
    """Percentage of True in `flags` (0.0 for an empty list)."""
    return 100 * sum(bool(f) for f in flags) / len(flags) if flags else 0.0
