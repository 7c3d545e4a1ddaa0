"""Snapshot of every prompt EVQA sends: a change in wording changes what models are asked and must be a
deliberate edit of this file."""

import pytest

from evqa import prompts

QUESTION = "What is the man holding?"
CANDIDATES = ["A desk", "A pole", "A book"]

SINGLE_TURN = (
    "Question: What is the man holding?\nOptions:\nA. A desk\nB. A pole\nC. A book\n\n"
    "Answer the question, give the time segments of the video (in seconds) that show the evidence for your answer, "
    "and name each object that is evidence for it with a short referring expression that identifies it uniquely "
    "in the video.\nReply with JSON only, in this form: "
    '{"answer": "<letter>", "temporal_evidence": [[start_seconds, end_seconds], ...], '
    '"referring_expressions": ["<short phrase naming one evidence object>", ...]}'
)
MULTI_TURN = [
    "Question: What is the man holding?\nOptions:\nA. A desk\nB. A pole\nC. A book\n\n"
    "Answer with the option's letter only.",
    "Which time segments of the video (in seconds) show the evidence for your answer? "
    "Reply with a JSON list only, e.g. [[2.0, 5.5], [9.0, 11.0]].",
    "Name each object that is evidence for your answer with a short referring expression that identifies it "
    'uniquely in the video. Reply with a JSON list of strings only, e.g. ["the red car"].',
]
MCQ_QA = (
    "Question: What is the man holding?\nOptions:\nA. A desk\nB. A pole\nC. A book\nD. A cup\nE. A hat\n\n"
    "Answer with the option's letter only."
)
MCQ_TIME = (
    "Question: What is the man holding?\nAnswer: A pole\n\nWhich option lists the time segments of the video "
    "(in seconds) that show the evidence for this answer?\nOptions:\nA. [[0.0, 2.5]]\nB. [[3.0, 4.0], [5.0, 6.25]]"
    "\n\nAnswer with the option's letter only."
)
MCQ_SPATIAL = (
    "Question: What is the man holding?\nAnswer: A pole\n\nAfter the video you are shown 4 images labelled "
    "A, B, C, D; each highlights a region of one frame. Which image highlights the objects that are the evidence "
    "for this answer?\nAnswer with the option's letter only."
)
EVQA_QUESTION = (
    "What is the man holding?\nA. A desk\nB. A pole\nC. A book\nAnswer with the option's letter, the time "
    "segments (in seconds) that support the answer, and segment the evidence objects."
)


def test_generative_prompts():
    assert prompts.gen_single_turn_prompt(QUESTION, CANDIDATES) == SINGLE_TURN
    assert prompts.gen_multi_turn_prompts(QUESTION, CANDIDATES) == MULTI_TURN


def test_mcq_prompts():
    assert prompts.mcq_qa_prompt(QUESTION, [*CANDIDATES, "A cup", "A hat"]) == MCQ_QA
    assert prompts.mcq_time_evidence_prompt(QUESTION, "A pole", [[[0, 2.5]], [[3, 4], [5, 6.25]]]) == MCQ_TIME
    assert prompts.mcq_spatial_evidence_prompt(QUESTION, "A pole", 4) == MCQ_SPATIAL


def test_evqa_model_prompt_and_target():
    assert prompts.evqa_question_prompt(QUESTION, CANDIDATES) == EVQA_QUESTION
    no_seg = EVQA_QUESTION.replace(", and segment the evidence objects.", ".")
    assert prompts.evqa_question_prompt(QUESTION, CANDIDATES, segment=False) == no_seg != EVQA_QUESTION
    target = prompts.format_target("B", [(2.0, 5.5)])
    assert target == "Answer: B. Temporal Evidence: [[2.0, 5.5]]. Spatial Evidence: <|seg|>."


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "Frame at 0.0 s:"),
        (2.5, "Frame at 2.5 s:"),
        (2.25, "Frame at 2.25 s:"),
        (1 / 6, "Frame at 0.17 s:"),
    ],
)
def test_frame_labels_keep_the_time_precision(seconds, text):
    assert prompts.frame_label(seconds) == text
    assert prompts.image_label("C") == "Image C:"


def test_single_turn_reply_in_the_requested_form_parses():
    from evqa.baselines.parsing import parse_gen_reply

    reply = '{"answer": "B", "temporal_evidence": [[2.0, 5.5]], "referring_expressions": ["the man\'s pole"]}'
    parsed, meta = parse_gen_reply(f"Sure!\n```json\n{reply}\n```", CANDIDATES)
    assert parsed == {"answer": "B", "segments": [[2.0, 5.5]], "referring_expressions": ["the man's pole"]}
    assert meta["answer_status"] == "ok"
