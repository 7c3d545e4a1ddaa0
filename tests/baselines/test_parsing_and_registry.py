"""Reply parsing (JSON, prose, multi-turn pieces), the registry's lazy imports and --model resolution."""

import subprocess
import sys

import pytest

from evqa.baselines.parsing import (
    find_json,
    parse_gen_reply,
    parse_referring_expressions,
    parse_segments_reply,
)
from evqa.baselines.registry import available_models, get_model_class, resolve_adapter
from evqa.errors import ConfigError

CANDIDATES = ["A desk", "A pole", "A book"]


def test_reply_json_inside_prose_with_other_field_names():
    text = 'My answer: {"answer": "C", "segments": [{"start": 1, "end": 2.5}], "objects": [{"expression": "red book"}]} done'
    parsed, meta = parse_gen_reply(text, CANDIDATES)
    assert parsed == {"answer": "C", "segments": [[1.0, 2.5]], "referring_expressions": ["red book"]}
    assert (
        meta == {"answer_status": "ok", "answer_method": "json:leading_letter"}
        or meta["answer_status"] == "ok"
    )


def test_reply_without_json_falls_back_to_text_markers():
    parsed, meta = parse_gen_reply("Answer: B. Temporal Evidence: [[2.0, 5.5], [7, 9]].", CANDIDATES)
    assert parsed["answer"] == "B" and parsed["segments"] == [[2.0, 5.5], [7.0, 9.0]]
    assert parsed["referring_expressions"] == []


def test_malformed_segments_are_noted_not_fatal():
    parsed, meta = parse_gen_reply('{"answer": "A", "temporal_evidence": [["soon", 3]]}', CANDIDATES)
    assert parsed["answer"] == "A" and parsed["segments"] == []
    assert "not a number" in meta["segment_error"]


def test_conflicting_letters_stay_unparsable():
    parsed, meta = parse_gen_reply("It is A or maybe B.", CANDIDATES)
    assert parsed["answer"] is None and meta["answer_status"] == "unparsable"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('["the red car", "the dog"]', ["the red car", "the dog"]),
        ("- the red car\n- the dog on the left\n", ["the red car", "the dog on the left"]),
        ('1. "the red car"\n2) the dog', ["the red car", "the dog"]),
        ("", []),
    ],
)
def test_referring_expressions_from_lists_and_lines(text, expected):
    assert parse_referring_expressions(text) == expected


def test_segments_reply_and_find_json():
    assert parse_segments_reply("Evidence at [[0.5, 2.0]].") == ([[0.5, 2.0]], None)
    assert parse_segments_reply("from 3 to 4.5 seconds") == ([[3.0, 4.5]], None)
    assert find_json("no json here") is None
    assert find_json("```json\n[1, 2]\n```", "[") == [1, 2]


def test_model_resolution():
    assert resolve_adapter("o3") == ("gpt", "o3")
    assert resolve_adapter("gemini-2.5-pro") == ("gemini", "gemini-2.5-pro")
    assert resolve_adapter("Qwen/Qwen3-VL-4B-Instruct") == ("qwen3_vl", "Qwen/Qwen3-VL-4B-Instruct")
    assert resolve_adapter("qwen2_5_vl") == ("qwen2_5_vl", "Qwen/Qwen2.5-VL-7B-Instruct")
    assert resolve_adapter(None, "internvl3_5") == ("internvl3_5", "OpenGVLab/InternVL3_5-8B-HF")
    assert resolve_adapter("/ckpt/x", "ours") == ("ours", "/ckpt/x")
    with pytest.raises(ConfigError, match="cannot tell which adapter runs 'mystery-model'"):
        resolve_adapter("mystery-model")
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        get_model_class("nope")


def test_every_registered_name_resolves_to_its_class():
    for name in available_models():
        assert get_model_class(name).name == name


def test_api_adapters_do_not_import_torch():
    code = "import sys; from evqa.baselines.registry import get_model_class; get_model_class('gpt'); get_model_class('gemini'); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr
