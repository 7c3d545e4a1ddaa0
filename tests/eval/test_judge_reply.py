"""Judge reply parsing: the accepted spellings, and every malformed reply raising its typed reason."""

import pytest

from evqa.errors import EvqaError
from evqa.eval.judge_reply import JudgeReplyError, JudgeVerdict, parse_judge_reply

GOOD = [
    ("{'pred': 'yes', 'score': 4}", ("yes", 4)),  # the original judge's exact format
    ('{"pred": "no", "score": 0}', ("no", 0)),
    ('```json\n{"pred": "yes", "score": 5}\n```', ("yes", 5)),
    ("```\n{'pred': 'no', 'score': 1}\n```", ("no", 1)),
    ("Sure! Here is my evaluation: {'pred': 'yes', 'score': 3}. Hope it helps.", ("yes", 3)),
    ('{"pred": "yes", "score": "4"}', ("yes", 4)),
    ("{'pred': 'Yes', 'score': ' 2 '}", ("yes", 2)),
    ('{"Pred": " NO ", "Score": 1}', ("no", 1)),
    ('{"pred": "yes", "score": 4.0}', ("yes", 4)),
    ('{"pred": "yes", "score": "5.0"}', ("yes", 5)),
    ('{"pred": "no", "score": 2, "reason": "the {number} differs"}', ("no", 2)),  # braces inside a string
    ('{"verdict": {"pred": "yes", "score": 5}, "note": "ok"}', ("yes", 5)),  # nested
    ("{'pred': 'yes', 'score': 4}\n\nAgain: {\"pred\": \"yes\", \"score\": 4}", ("yes", 4)),  # agreeing
    ("I can't be sure {or can I} but {'pred': 'no', 'score': 1}", ("no", 1)),  # stray braces in prose
    ('{"pred": "yes", "score": 3, "explanation": "a synonym"}', ("yes", 3)),  # extra keys
    ('{\n  "pred": "yes",\n  "score": 4,\n}', ("yes", 4)),  # trailing comma: not JSON, a Python literal
]


@pytest.mark.parametrize(("reply", "expected"), GOOD)
def test_accepted_replies(reply, expected):
    assert parse_judge_reply(reply) == JudgeVerdict(*expected)


BAD = [
    ("", "empty"),
    ("   \n\t", "empty"),
    (None, "empty"),
    ("yes", "no_verdict"),
    ("pred: yes, score: 4", "no_verdict"),
    ("The answer is correct. Score 5/5.", "no_verdict"),
    ("{'pred': 'yes'}", "no_verdict"),  # score missing
    ("{'score': 3}", "no_verdict"),  # pred missing
    ("{'pred': 'yes', 'score': 4", "no_verdict"),  # unclosed
    ("{pred: yes, score: 4}", "no_verdict"),  # neither JSON nor a Python literal
    ("['yes', 4]", "no_verdict"),  # a list, not a dict
    ("{'pred': __import__('os').system('true'), 'score': 1}", "no_verdict"),  # never evaluated
    ("{'pred': 'maybe', 'score': 3}", "bad_pred"),
    ("{'pred': True, 'score': 3}", "bad_pred"),
    ("{'pred': '', 'score': 3}", "bad_pred"),
    ("{'pred': 'yes', 'score': 6}", "bad_score"),
    ("{'pred': 'yes', 'score': -1}", "bad_score"),
    ("{'pred': 'yes', 'score': 3.5}", "bad_score"),
    ("{'pred': 'yes', 'score': '4/5'}", "bad_score"),
    ("{'pred': 'yes', 'score': 'four'}", "bad_score"),
    ("{'pred': 'yes', 'score': None}", "bad_score"),
    ("{'pred': 'yes', 'score': True}", "bad_score"),  # a bool is not a score
    ("{'pred': 'yes', 'score': [4]}", "bad_score"),
    ("{'pred': 'yes', 'score': 4} or maybe {'pred': 'no', 'score': 1}", "conflict"),
    ('```json\n{"pred": "yes", "score": 2}\n```\n{"pred": "yes", "score": 3}', "conflict"),
]


@pytest.mark.parametrize(("reply", "reason"), BAD)
def test_malformed_replies_raise_typed_errors(reply, reason):
    with pytest.raises(JudgeReplyError) as info:
        parse_judge_reply(reply)
    assert info.value.reason == reason
    assert isinstance(info.value, EvqaError)
    assert info.value.reply == ("" if reply is None else reply)
    assert f"unusable judge reply ({reason})" in str(info.value)


def test_error_messages_name_the_problem_and_truncate_long_replies():
    with pytest.raises(JudgeReplyError, match=r"score must be an integer 0\.\.5, got 9"):
        parse_judge_reply("{'pred': 'no', 'score': 9}")
    with pytest.raises(JudgeReplyError, match=r"different verdicts: \(yes, 4\), \(no, 1\)"):
        parse_judge_reply("{'pred': 'yes', 'score': 4} {'pred': 'no', 'score': 1}")
    long_reply = "x" * 1000
    with pytest.raises(JudgeReplyError) as info:
        parse_judge_reply(long_reply)
    assert info.value.reply == long_reply and len(str(info.value)) < 400
