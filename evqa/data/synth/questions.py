"""Questions about a synthetic clip, and the distractor options of the multiple-choice variant.

One question family, answerable only by finding the evidence object in the video:
  "What colour is the <shape> that appears in the video?"  -> candidates are the five answer colours.
The candidates are always the five colours in one fixed order, so an answer letter stands for one visual
property, and the distractor is grey (never a candidate): a tiny model learns the answer, the time when
the evidence is visible and its masks from pixels in minutes, with no need to learn to read and match
option texts or to recognise shapes first. The MCQ variant shuffles the same five options.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evqa.data.synth.scenes import COLOURS, SHAPES, ClipSpec, ObjectTrack, shape_mask

NUM_MCQ_OPTIONS = 5  # MCQ qa task (A-E), as upstream


@dataclass(frozen=True)
class Question:
    """A question with its candidates (answer texts), the index of the right one and its family."""

    question: str
    candidates: list[str]
    answer_index: int
    category: str
    ref_expression: str

    @property
    def answer(self) -> str:
        return self.candidates[self.answer_index]


def _candidates(evidence: ObjectTrack) -> tuple[list[str], int]:
    """The five answer colours in their fixed order, and the index of the evidence object's colour."""
    pool = list(COLOURS)
    return [colour.capitalize() for colour in pool], pool.index(evidence.colour)


def make_question(spec: ClipSpec) -> Question:
    """The question about the evidence object of `spec`."""
    evidence = spec.evidence
    text = f"What colour is the {evidence.shape} that appears in the video?"
    candidates, index = _candidates(evidence)
    return Question(text, candidates, index, "colour", evidence.name)


def mcq_options(rng: np.random.Generator, question: Question, spec: ClipSpec) -> list[str]:
    """The MCQ qa options (A-E): the question's five candidates in a random order."""
    return [question.candidates[i] for i in rng.permutation(len(question.candidates))][:NUM_MCQ_OPTIONS]


def _iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    return inter / (max(a[1], b[1]) - min(a[0], b[0]))


def temporal_options(rng: np.random.Generator, spec: ClipSpec) -> tuple[list[list[list[float]]], int]:
    """Four segment options (seconds), one of them the evidence interval; returns (options, right index).

    Wrong options overlap the evidence by IoU <= 1/3: the distractor's interval when there is one, then
    intervals of the evidence's length elsewhere, then the whole clip.
    """
    unit = max(1, int(round(spec.fps / 2)))
    right = (spec.evidence.start, spec.evidence.end)
    wrong: list[tuple[int, int]] = []
    if spec.distractor is not None:
        wrong.append((spec.distractor.start, spec.distractor.end))
    length = right[1] - right[0]
    shifted = [(s, s + length) for s in range(0, spec.num_frames - length + 1, unit)]
    for i in rng.permutation(len(shifted)):
        if len(wrong) == 3:
            break
        cand = shifted[i]
        if _iou(cand, right) <= 1 / 3 and all(_iou(cand, w) < 1 for w in wrong):
            wrong.append(cand)
    for filler in ((0, spec.num_frames), (0, unit), (spec.num_frames - unit, spec.num_frames)):
        if len(wrong) < 3 and filler != right and filler not in wrong:
            wrong.append(filler)
    intervals = [right] + wrong[:3]
    order = rng.permutation(4)
    options = [[[round(intervals[i][0] / spec.fps, 3), round(intervals[i][1] / spec.fps, 3)]] for i in order]
    return options, int(np.flatnonzero(order == 0)[0])


def mask_option_masks(rng: np.random.Generator, spec: ClipSpec) -> dict[str, tuple[int, np.ndarray]]:
    """Candidate regions of the spatial-evidence MCQ: {"gt"|"d1"|"d2"|"d3": (frame, bool [H, W])}.

    gt = the evidence object at the middle of its interval; d1 = the distractor object (or, without one,
    the evidence shape at another place); d2 = a box elsewhere on the same frame; d3 = a different shape
    of the evidence's size at another place.
    """
    ev, h, w = spec.evidence, spec.height, spec.width
    frame = (ev.start + ev.end - 1) // 2
    gt = shape_mask(ev.shape, ev.centre(frame, h, w), ev.radius, h, w)
    if spec.distractor is not None:
        d = spec.distractor
        d_frame = (d.start + d.end - 1) // 2
        d1 = (d_frame, shape_mask(d.shape, d.centre(d_frame, h, w), d.radius, h, w))
    else:
        d1 = (frame, _elsewhere(rng, gt, ev.shape, ev.radius, h, w))
    other_shape = str(rng.choice([s for s in SHAPES if s != ev.shape]))
    return {
        "gt": (frame, gt),
        "d1": d1,
        "d2": (frame, _elsewhere(rng, gt, "square", ev.radius, h, w)),
        "d3": (frame, _elsewhere(rng, gt, other_shape, ev.radius, h, w)),
    }


def _elsewhere(
    rng: np.random.Generator, avoid: np.ndarray, shape: str, radius: int, h: int, w: int
) -> np.ndarray:
    """A shape placed where it overlaps `avoid` as little as possible (best of 20 random tries)."""
    best, best_overlap = None, None
    for _ in range(20):
        centre = (int(rng.integers(radius, w - radius)), int(rng.integers(radius, h - radius)))
        mask = shape_mask(shape, centre, radius, h, w)
        overlap = int((mask & avoid).sum())
        if best is None or overlap < best_overlap:
            best, best_overlap = mask, overlap
        if overlap == 0:
            break
    return best
