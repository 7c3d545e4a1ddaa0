"""Prompt and target text — the one place EVQA words what it asks a model and what it expects back.

`format_target` is what the EVQA model is trained to emit; `evqa.eval.answers` parses any model's reply.
Baseline prompt templates (single-turn, multi-turn, MCQ) are added here too, never inline in an adapter.
"""

from __future__ import annotations

from collections.abc import Sequence

LETTERS = "ABCDEF"
SEG_TOKEN = "<|seg|>"
REF_TOKEN = "<|ref|>"
MEM_TOKEN = "<|mem|>"


def letter_of(index: int) -> str:
    """0 -> 'A', 1 -> 'B', ... (at most six options)."""
    if not 0 <= index < len(LETTERS):
        raise ValueError(f"option index {index} out of range 0..{len(LETTERS) - 1}")
    return LETTERS[index]


def format_options(candidates: Sequence[str]) -> str:
    """'A. first\\nB. second ...' — the options block shared by every prompt."""
    return "\n".join(f"{letter_of(i)}. {text}" for i, text in enumerate(candidates))


def format_segments(segments: Sequence[Sequence[float]]) -> str:
    """[[2.0, 5.5], ...] with one decimal (seconds)."""
    return "[" + ", ".join(f"[{float(s):.1f}, {float(e):.1f}]" for s, e in segments) + "]"


def evqa_question_prompt(question: str, candidates: Sequence[str]) -> str:
    """The user turn the EVQA model is trained and evaluated with (video precedes it in the chat)."""
    return (
        f"{question.strip()}\n{format_options(candidates)}\n"
        "Answer with the option's letter, the time segments (in seconds) that support the answer, "
        "and segment the evidence objects."
    )


def format_target(letter: str, segments: Sequence[Sequence[float]], *, with_seg: bool = True) -> str:
    """The assistant turn the EVQA model is trained to produce, e.g.
    'Answer: B. Temporal Evidence: [[2.0, 5.5]]. Spatial Evidence: <|seg|>.'"""
    text = f"Answer: {letter}. Temporal Evidence: {format_segments(segments)}."
    if with_seg:
        text += f" Spatial Evidence: {SEG_TOKEN}."
    return text
