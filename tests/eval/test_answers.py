"""Answer extraction: one function, many phrasings; unparsable is counted, never guessed."""

import pytest

from evqa.eval.answers import extract_answer, extract_segments, normalize_segments, normalize_text

CANDS = ["A desk", "A book", "A chair", "A pole"]

# (reply, expected letter or None, expected status)
PHRASINGS = [
    ("B", "B", "ok"),
    ("b", "B", "ok"),
    ("(C)", "C", "ok"),
    ("[D]", "D", "ok"),
    ("B.", "B", "ok"),
    ("B) A book", "B", "ok"),
    ("C: the chair", "C", "ok"),
    ("Answer: B", "B", "ok"),
    ("Answer: b.", "B", "ok"),
    ("answer - d", "D", "ok"),
    ("The answer is (C).", "C", "ok"),
    ("The answer is C because the man sits on it.", "C", "ok"),
    ("Final answer: **D**", "D", "ok"),
    ("The correct answer is option B.", "B", "ok"),
    ("Option C", "C", "ok"),
    ("I would pick choice (D).", "D", "ok"),
    ("**A**", "A", "ok"),
    ("A. A desk", "A", "ok"),
    ("Answer: A. Temporal Evidence: [[2.0, 5.5]]. Spatial Evidence: <|seg|>.", "A", "ok"),
    ("Answer: B. Option C is wrong because the pole is held.", "B", "ok"),
    ('{"answer": "C", "segments": [[1, 2]]}', "C", "ok"),
    ('```json\n{"answer": "D"}\n```', "D", "ok"),
    ('{"answer": "A pole"}', "D", "ok"),
    ("A pole", "D", "ok"),
    ("a pole.", "D", "ok"),
    ("He is holding a pole.", "D", "ok"),
    ("It is B, clearly.", "B", "ok"),
    ("A chair", "C", "ok"),
    # articles: "a"/"A" in running text are words, never letters
    ("The answer is a pole.", "D", "ok"),
    ("A man is holding something.", None, "unparsable"),
    ("A is correct.", "A", "ok"),
    ("B is correct because A is wrong", None, "unparsable"),  # two letters, no marker: never a guess
    # conflicts and nonsense
    ("B or C", None, "unparsable"),
    ("Answer: B. Answer: C.", None, "unparsable"),
    ("I am not sure.", None, "unparsable"),
    ("Answer: F", None, "unparsable"),  # out of range for four candidates
    ("A desk or a book", None, "unparsable"),
    ("", None, "empty"),
    ("   ", None, "empty"),
]


@pytest.mark.parametrize(("reply", "letter", "status"), PHRASINGS)
def test_phrasings(reply, letter, status):
    parsed = extract_answer(reply, CANDS)
    assert (parsed.letter, parsed.status) == (letter, status), parsed


def test_at_least_thirty_phrasings():
    assert len(PHRASINGS) >= 30


def test_none_and_dicts():
    assert extract_answer(None).status == "empty"
    assert extract_answer({"answer": "C"}).letter == "C"
    assert extract_answer({"answer": None}).status == "empty"
    wrong = extract_answer({"answer": 3})
    assert (wrong.status, wrong.method) == ("unparsable", "json:wrong_type")
    assert extract_answer({"segments": []}).status == "unparsable"
    assert extract_answer(42).status == "unparsable"


def test_num_options_limits_letters():
    assert extract_answer("E", num_options=5).letter == "E"
    assert extract_answer("E", num_options=4).status == "unparsable"
    assert extract_answer("(E)").letter == "E"  # no limit given: A-F


def test_method_is_reported():
    assert extract_answer("Answer: C").method == "answer_marker"
    assert extract_answer("C) chair").method == "leading_letter"
    assert extract_answer("it is a pole", CANDS).method == "candidate_text"
    assert extract_answer("B or C").method == "single_letter:conflict"


def test_normalize_text():
    assert normalize_text("  A\u00a0Pole. ") == "a pole"
    assert normalize_text("ＡＢＣ") == "abc"


def test_extract_segments_free_text():
    assert extract_segments("Temporal Evidence: [[2.0, 5.5]]. Spatial Evidence: <|seg|>.") == [(2.0, 5.5)]
    assert extract_segments("[[0, 1.5], [3, 4]]") == [(0.0, 1.5), (3.0, 4.0)]
    assert extract_segments("between 2.0-5.5s") == [(2.0, 5.5)]
    assert extract_segments("from 2 to 5.5 seconds") == [(2.0, 5.5)]
    assert extract_segments("(1.0s, 2.5s)") == [(1.0, 2.5)]
    assert extract_segments("Answer: B. Temporal Evidence: []. Spatial Evidence: [[9, 10]]") == []
    assert extract_segments("no times here") == []


def test_normalize_segments_layouts():
    assert normalize_segments([[2, 5.5]]) == [(2.0, 5.5)]
    assert normalize_segments([1, 2, 3, 4]) == [(1.0, 2.0), (3.0, 4.0)]
    assert normalize_segments([{"start": 1, "end": 2}]) == [(1.0, 2.0)]
    assert normalize_segments({"start_time": 1, "end_time": 2}) == [(1.0, 2.0)]
    assert normalize_segments("[[1.0, 2.0]]") == [(1.0, 2.0)]
    assert normalize_segments(["1.5", "2"]) == [(1.5, 2.0)]
    assert normalize_segments(None) == [] and normalize_segments([]) == []


@pytest.mark.parametrize(
    "bad", [[["a", 2]], [1, 2, 3], [{"begin": 1}], [[1, 2, 3]], 5, [[True, 2]], [[float("nan"), 1]], "words"]
)
def test_normalize_segments_rejects(bad):
    with pytest.raises(ValueError):
        normalize_segments(bad)


# issue 12 §1: replies that real models write
@pytest.mark.parametrize(
    ("reply", "letter", "status"),
    [
        ("I think the answer is A or B", None, "unparsable"),
        ("The answer is C or D.", None, "unparsable"),
        ("Answer: B/C", None, "unparsable"),
        ('I think the best is C. {"answer": "A pole"}', "D", "ok"),
        ('Here you go: {"answer": "B", "segments": [[1, 2]]} done', "B", "ok"),
        # a candidate's text deep inside a long reply is not an answer ...
        (
            "The man first walks past a desk in the hallway and then he sits down and reads for a while. "
            "Later he stands up.",
            None,
            "unparsable",
        ),  # fmt: skip
        # ... unless it follows an answer marker
        ("The man walks past the shelves for a while and looks around. The answer is a book.", "B", "ok"),
    ],
)
def test_real_replies(reply, letter, status):
    parsed = extract_answer(reply, CANDS)
    assert (parsed.letter, parsed.status) == (letter, status), parsed


def test_scorer_and_runner_read_the_same_json():
    from evqa.baselines.parsing import parse_gen_reply

    reply = 'I think the best is C. {"answer": "A pole"}'
    parsed, meta = parse_gen_reply(reply, CANDS)
    assert parsed["answer"] == extract_answer(reply, CANDS).letter == "D"
    assert meta["answer_status"] == "ok"


def test_find_json_skips_braces_in_prose():
    from evqa.answers import find_json

    assert find_json('set {a} then {"answer": "B"} and {"x": 1}') == {"answer": "B"}
    assert find_json('```json\n{"answer": "C"}\n```') == {"answer": "C"}
    assert find_json("[" * 100000) is None


def test_normalisation_sits_below_metrics_data_and_model():
    """metrics.qa, data.st_evidence and model.predictor must not import evqa.eval."""
    import ast
    import subprocess
    import sys
    from pathlib import Path

    import evqa

    root = Path(evqa.__file__).parent
    for rel in ("metrics/qa.py", "data/st_evidence.py", "model/predictor.py", "answers.py", "text.py"):
        tree = ast.parse((root / rel).read_text())
        names = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
        names += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        assert not [n for n in names if n.startswith("evqa.eval")], rel
    code = ("import sys, evqa.metrics.qa, evqa.data.st_evidence, evqa.answers; "
            "sys.exit(any(m.startswith('evqa.eval') for m in sys.modules))")  # fmt: skip
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
