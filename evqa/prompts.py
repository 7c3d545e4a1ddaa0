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


def evqa_question_prompt(question: str, candidates: Sequence[str], *, segment: bool = True) -> str:
    """The user turn the EVQA model is trained and evaluated with (video precedes it in the chat).

    `segment=False` (text-only training data such as gen_qa) leaves out the request to segment, so the
    prompt says which answer format is wanted: with it the target ends in `<|seg|>`, without it it does not."""
    ask = "Answer with the option's letter, the time segments (in seconds) that support the answer"
    ask += ", and segment the evidence objects." if segment else "."
    return f"{question.strip()}\n{format_options(candidates)}\n{ask}"


def format_target(letter: str, segments: Sequence[Sequence[float]], *, with_seg: bool = True) -> str:
    """The assistant turn the EVQA model is trained to produce, e.g.
    'Answer: B. Temporal Evidence: [[2.0, 5.5]]. Spatial Evidence: <|seg|>.'"""
    text = f"Answer: {letter}. Temporal Evidence: {format_segments(segments)}."
    if with_seg:
        text += f" Spatial Evidence: {SEG_TOKEN}."
    return text


# --- baseline prompts: what `evqa infer` asks general-purpose models (GPT, Gemini, Qwen, InternVL ...) ---

VIDEO_PREAMBLE = (
    "You are given a video as a sequence of frames; the time of each frame in seconds is written before it."
)
GEN_JSON_SCHEMA = (
    '{"answer": "<letter>", "temporal_evidence": [[start_seconds, end_seconds], ...], '
    '"referring_expressions": ["<short phrase naming one evidence object>", ...]}'
)


def format_seconds(seconds: float) -> str:
    """A time for a baseline prompt: one decimal, two when one would lose precision (2.0, 2.5, 6.25)."""
    value = float(seconds)
    return f"{value:.1f}" if abs(value - round(value, 1)) < 5e-3 else f"{value:.2f}"


def gen_single_turn_prompt(question: str, candidates: Sequence[str]) -> str:
    """Generative task, one turn: answer, temporal evidence (seconds) and referring expressions as JSON."""
    return (
        f"Question: {question.strip()}\nOptions:\n{format_options(candidates)}\n\n"
        "Answer the question, give the time segments of the video (in seconds) that show the evidence for "
        "your answer, and name each object that is evidence for it with a short referring expression that "
        "identifies it uniquely in the video.\n"
        f"Reply with JSON only, in this form: {GEN_JSON_SCHEMA}"
    )


def gen_multi_turn_prompts(question: str, candidates: Sequence[str]) -> list[str]:
    """Generative task, three turns: the answer letter, then the segments, then the referring expressions."""
    return [
        f"Question: {question.strip()}\nOptions:\n{format_options(candidates)}\n\n"
        "Answer with the option's letter only.",
        "Which time segments of the video (in seconds) show the evidence for your answer? "
        "Reply with a JSON list only, e.g. [[2.0, 5.5], [9.0, 11.0]].",
        "Name each object that is evidence for your answer with a short referring expression that "
        'identifies it uniquely in the video. Reply with a JSON list of strings only, e.g. ["the red car"].',
    ]


def mcq_qa_prompt(question: str, options: Sequence[str]) -> str:
    """MCQ task `qa`: pick the answer among the options (A-E)."""
    return (
        f"Question: {question.strip()}\nOptions:\n{format_options(options)}\n\n"
        "Answer with the option's letter only."
    )


def mcq_time_evidence_prompt(
    question: str, answer: str, segment_options: Sequence[Sequence[Sequence[float]]]
) -> str:
    """MCQ task `time_evidence`: which list of time segments (seconds) supports the given answer (A-D)."""
    options = [
        "[" + ", ".join(f"[{format_seconds(s)}, {format_seconds(e)}]" for s, e in segs) + "]"
        for segs in segment_options
    ]
    return (
        f"Question: {question.strip()}\nAnswer: {answer.strip()}\n\n"
        "Which option lists the time segments of the video (in seconds) that show the evidence for this "
        f"answer?\nOptions:\n{format_options(options)}\n\nAnswer with the option's letter only."
    )


def mcq_spatial_evidence_prompt(question: str, answer: str, num_options: int) -> str:
    """MCQ task `spatial_evidence`: which of the option images (shown after the video, labelled A-D)
    highlights the objects that support the given answer."""
    labels = ", ".join(letter_of(i) for i in range(num_options))
    return (
        f"Question: {question.strip()}\nAnswer: {answer.strip()}\n\n"
        f"After the video you are shown {num_options} images labelled {labels}; each highlights a region "
        "of one frame. Which image highlights the objects that are the evidence for this answer?\n"
        "Answer with the option's letter only."
    )


# --- plain-VLM video QA: what `model.kind: hf_vlm` fine-tunes ask and answer (the `video_qa` source) ---

RATIONALE_FORMAT = "Reasoning: <why, from what the frames show>\nFinal Answer: <answer>"


def video_qa_prompt(question: str, options: Sequence[str] = (), *, rationale: bool = False) -> str:
    """The user turn of a video-QA item: the question alone (as the EgoTextVQA fine-tune asks it), or
    `mcq_qa_prompt` when there are options; `rationale=True` asks for the reasoning first, then the answer,
    in `RATIONALE_FORMAT` (POVQA's two-line target)."""
    if not rationale:
        return mcq_qa_prompt(question, options) if options else question.strip()
    head = (
        f"Question: {question.strip()}\nOptions:\n{format_options(options)}" if options else question.strip()
    )
    answer = "the option's letter" if options else "your answer"
    return f"{head}\n\nGive your reasoning, then {answer}, in two lines:\n" + RATIONALE_FORMAT.replace(
        "<answer>", "<letter>" if options else "<answer>"
    )


def video_qa_target(answer: str, rationale: str | None = None) -> str:
    """The assistant turn of a video-QA item: the answer, or 'Reasoning: ...\nFinal Answer: ...'."""
    if not rationale:
        return answer.strip()
    return f"Reasoning: {rationale.strip()}\nFinal Answer: {answer.strip()}"


def frame_label(timestamp: float) -> str:
    """The text placed before a frame for frame-based models: 'Frame at 2.5 s:'."""
    return f"Frame at {format_seconds(timestamp)} s:"


def image_label(label: str) -> str:
    """The text placed before an extra option image: 'Image A:'."""
    return f"Image {label}:"


SEG_TARGET = f"It is {SEG_TOKEN}."


def segmentation_prompt(expression: str) -> str:
    """The user turn of a referring-segmentation sample (training sources and the masks step); its
    assistant turn is `SEG_TARGET`."""
    return f"Please segment the {expression.strip().rstrip('.')} in this video."


def grounded_question_prompt(question: str) -> str:
    """A question whose answer is an object (GroundMoRe): answer it and segment that object."""
    return f"{question.strip()} Answer the question and segment the object that answers it."


# --- LLM judge of open answers (EgoTextVQA / EgoTempo); bump the version with any change of wording ---

JUDGE_PROMPT_VERSION = "open_qa_judge/v1"
JUDGE_SYSTEM = (
    "You are an intelligent chatbot that evaluates the correctness of generated answers to video-based "
    "questions. Compare the predicted answer with the correct answer and decide whether they match in "
    "meaning.\n"
    "INSTRUCTIONS:\n"
    "- Judge the meaningful match between the predicted answer and the correct answer. Prepositional "
    'detail matters as well as noun phrases: "at the car wash on your right" is not the same as '
    '"car wash".\n'
    "- Synonyms and paraphrases count as matches.\n"
    "- The predicted answer must be of the same type as the correct answer (a phone number, e-mail "
    'address, URL, number or date must be given as one): "www.usps.com" and "visit their website" do '
    'not match, nor do "9849041316" and "the advertiser\'s contact number".\n'
    "- Evaluate the correctness of the prediction against the correct answer."
)


def judge_text(text: object) -> str:
    """An answer as the judge sees it: lower-cased, newlines removed (as the original evaluation)."""
    return str(text).replace("\r", "").replace("\n", "").lower()


def judge_user_prompt(question: str, answer: str, prediction: str) -> str:
    """The judge's user turn for one item (answer and prediction already passed through `judge_text`)."""
    return (
        "Please evaluate the following video-based question-answer pair:\n\n"
        f"Question: {question}\nCorrect Answer: {answer}\nPredicted Answer: {prediction}\n\n"
        "Give your verdict as yes/no and a score, an integer from 0 to 5 where 5 is the best meaningful "
        "match. Reply with a Python dictionary string only, with keys 'pred' (the string 'yes' or 'no') and "
        "'score' (an INTEGER, not a string), and no other text or explanation, for example "
        "{'pred': 'yes', 'score': 5} or {'pred': 'no', 'score': 1}."
    )


def videoespresso_prompt(
    task: str, question: str, options: Sequence[str], evidence: str | None = None
) -> str:
    """VideoEspresso's test prompt, worded as the original; `evidence` (the oracle evidence, `--with-evidence`)
    inserts "Your inference evidence is {evidence}." after the options. `options` are the item's
    "(A): ..." strings, joined by spaces as the original's list is formatted into the prompt."""
    text = (
        f"Please finish the {task} task. Question: {question}. "
        f"You have the following options: {' '.join(options)}."
    )
    if evidence is not None:
        text += f" Your inference evidence is {evidence}."
    return text + " Select the answer and only give the option letters."


QUALITY_QUESTION = "How would you rate the quality of this video?"
QUALITY_ANSWER_PREFIX = "The quality of this video is"


def quality_question_prompt() -> str:
    """VQA²'s scoring question; the reply is left open after `QUALITY_ANSWER_PREFIX` and the next token's
    level-word logits are read (`evqa.baselines.level_scoring`)."""
    return QUALITY_QUESTION


def qbench_prompt(question: str, candidates: Sequence[str], *, two_videos: bool = False) -> str:
    """Q-Bench-Video style MCQ: the question, lettered options, and the instruction to answer with the
    letter directly (the reply's first character is what the original scores)."""
    intro = "The first video's frames come first, then the second video's. " if two_videos else ""
    return (
        f"{intro}{question.strip()}\n{format_options(candidates)}\n"
        "Answer with the option's letter from the given choices directly."
    )


# --- POVQA context shaping: subtitles beside frames, the paused keyframe ---

KEYFRAME_LABEL = "keyframe"


def keyframe_hint(timestamp: float) -> str:
    """The one-line hint added when the paused frame is appended after the video."""
    return (
        f"The last image is the keyframe at {format_seconds(timestamp)} s, the moment the question is about."
    )


def frame_subtitle(text: str) -> str:
    """The text placed right after a frame when subtitles are interleaved: 'Subtitle: <line>'."""
    return f"Subtitle: {text}"


def subtitle_lines(pairs: Sequence[tuple[float, str]]) -> str:
    """Subtitle context for a prompt: one 'Frame at 2.5 s: <nearest subtitle line>' per frame, in order."""
    return "Subtitles nearest each frame:\n" + "\n".join(f"{frame_label(t)} {text}" for t, text in pairs)


# --- upstream EVQA training wording (`data.prompt_style: upstream`, what the released 3B/7B recipe trained) ---
# Each family is a list of templates; a training sample draws one at random every time it is loaded.

ST_EVIDENCE_PROMPTS = (
    "{} \nAnswer the question and provide evidence in the form of temporal ([[start1, end1], [start2, end2], "
    "...]) and spatial evidence (masks).",
    "{} \nAnswer the question and provide both temporal and spatial evidence. The temporal evidence should be "
    "in the form of [[start1, end1], [start2, end2], ...] and the spatial evidence should be in the form of "
    "masks.",
    "{} \nProvide your answer along with supporting evidence: temporal segments in the format [[start1, end1], "
    "[start2, end2], ...] and spatial masks.",
    "{} \nAnswer with evidence. Include time segments as [[start_sec, end_sec], ...] and highlight evidence "
    "objects with masks.",
    "{} \nPlease answer and identify when (temporal evidence: [[start, end], ...]) and where (spatial evidence: "
    "masks) the relevant information appears.",
)
SEG_SENTENCE_PROMPTS = (
    "{} Please provide the segmentation mask.",
    "{} Please respond with the segmentation mask.",
    "{} Output the segmentation mask.",
    "{} Give me the segmentation results directly.",
    "{} Segment the target directly.",
)
SEG_QUESTION_PROMPTS = (
    "{} Please answer the question and provide the segmentation mask.",
    "{} Please associate your answer with the segmentation mask.",
    "{} Answer the question and provide the corresponding segmentation mask.",
    "{} Give me the answer and segment the target.",
    "{} Provide a short answer while segmenting the relevant object.",
)
SEG_DESCRIPTION_PROMPTS = (
    "Please segment the object according to the description: {}",
    "Segment the target according to the description: {}",
    "Analyze the following sentences and provide the corresponding segmentation mask: {}",
    "Given the description: {} Where is the described object in this video?",
    "Find the object according to the description: {}",
)
SEG_VIDEO_QUERY_PROMPTS = (
    "Can you segment the {} in this video?",
    "Please segment the {} in this video.",
    "Can you find the {} in the video?",
    "Segment the {} in the video.",
    "Track the {} in this video.",
    "Where is the {} in this video? Please respond with the segmentation mask.",
    "What is the {}? Please output the segmentation mask.",
)
SEG_RESPONSES = (
    f"The target is {SEG_TOKEN}.",
    f"The segmentation result is {SEG_TOKEN}.",
    f"Sure, the segmentation mask is {SEG_TOKEN}.",
    f"Sure, it is {SEG_TOKEN}.",
    f"{SEG_TOKEN}.",
)
SEG_KINDS = ("query", "sentence", "question", "description")


def upstream_question_with_options(question: str, candidates: Sequence[str]) -> str:
    """'question\\nOptions:\\n(A) first\\n(B) second' — the options block of upstream's ST-Evidence data."""
    lines = [f"({letter_of(i)}) {text}" for i, text in enumerate(candidates)]
    return f"{question}\nOptions:\n" + "\n".join(lines)


def upstream_st_evidence_target(letter: str, segments: Sequence[Sequence[float]]) -> str:
    """'Answer: B. Temporal Evidence: [[2.0, 5.5]]. Spatial Evidence: <|seg|>.' (no temporal part when the
    entry has no segments, as upstream writes it)."""
    parts = [f"Answer: {letter}."]
    if segments:
        parts.append(f"Temporal Evidence: {format_segments(segments)}.")
    parts.append(f"Spatial Evidence: {SEG_TOKEN}.")
    return " ".join(parts)


def upstream_st_evidence_prompt(question: str, candidates: Sequence[str]) -> str:
    """The single-turn question upstream EVQA's evaluation asks a model trained in its wording (the first
    training template, joined with a space instead of ' \n')."""
    body = upstream_question_with_options(question, candidates)
    return f"{body} " + ST_EVIDENCE_PROMPTS[0].removeprefix("{} \n")


def upstream_st_evidence_turns(
    question: str, candidates: Sequence[str], letter: str, segments: Sequence[Sequence[float]]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(prompt choices, target choices) of one ST-Evidence sample in upstream's wording."""
    body = upstream_question_with_options(question, candidates)
    return tuple(t.format(body) for t in ST_EVIDENCE_PROMPTS), (
        upstream_st_evidence_target(letter, segments),
    )


def _upstream_query(text: str) -> str:
    """A referring phrase as upstream puts it into a query template: no final period, lower-case first
    letter, no leading article."""
    query = text.strip().strip(".")
    query = query[:1].lower() + query[1:]
    for article in ("the ", "an ", "a "):
        if query.startswith(article):
            return query[len(article) :]
    return query


def upstream_segmentation_turns(
    kind: str, text: str, answer: str | None = None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(prompt choices, target choices) of a referring-segmentation sample in upstream's wording.

    kind: 'query' (a phrase: MeViS, Ref-YouTube-VOS, Ref-DAVIS17, LV-VIS, ReVOS phrases), 'sentence' (ViCaS,
    ReVOS questions), 'description' (Ref-SAV), 'question' (GroundMoRe: `answer` precedes the `<|seg|>`)."""
    if kind == "query":
        return tuple(t.format(_upstream_query(text)) for t in SEG_VIDEO_QUERY_PROMPTS), SEG_RESPONSES
    if kind == "sentence":
        return tuple(t.format(text) for t in SEG_SENTENCE_PROMPTS), SEG_RESPONSES
    if kind == "description":
        return tuple(t.format(text) for t in SEG_DESCRIPTION_PROMPTS), SEG_RESPONSES
    if kind == "question":
        if answer is None:
            raise ValueError("a 'question' sample needs its answer")
        return tuple(t.format(text) for t in SEG_QUESTION_PROMPTS), (f"{answer} {SEG_TOKEN}.",)
    raise ValueError(f"unknown segmentation sample kind {kind!r}; expected one of {SEG_KINDS}")
