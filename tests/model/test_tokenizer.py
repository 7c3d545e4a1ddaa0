"""The tiny self-contained tokenizer and the EVQA special-token setup."""

import pytest
from transformers import AutoTokenizer

from evqa.model.tokenizer import (
    CHAT_TEMPLATE,
    EVQA_TOKENS,
    QWEN_SPECIAL_TOKENS,
    build_tiny_tokenizer,
    prepare_tokenizer,
    special_token_ids,
)
from evqa.prompts import format_target


@pytest.fixture(scope="module")
def tokenizer():
    return build_tiny_tokenizer()


def test_deterministic(tokenizer):
    assert build_tiny_tokenizer().get_vocab() == tokenizer.get_vocab()
    assert 300 < len(tokenizer) < 4096


@pytest.mark.parametrize("text", ["日本語 ñ 🎉", "\x00\t tabs\n", "ZZZ-unseen_word!!", "<|seg|>x<|im_end|>"])
def test_any_string_round_trips_without_unknown(tokenizer, text):
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.unk_token_id is None or tokenizer.unk_token_id not in ids
    assert tokenizer.decode(ids) == text


def test_special_tokens_are_single_distinct_ids(tokenizer):
    ids = special_token_ids(tokenizer)
    assert len(set(ids.values())) == len(ids)
    for token in (*QWEN_SPECIAL_TOKENS, *EVQA_TOKENS):
        assert len(tokenizer(token, add_special_tokens=False)["input_ids"]) == 1
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token == "<|endoftext|>"
    assert max(ids.values()) == len(tokenizer) - 1  # specials come last; a model needs len(tokenizer) rows


def test_numbers_and_target_are_compact(tokenizer):
    tokens = tokenizer.tokenize("2.0")
    assert [t.lstrip("Ġ") for t in tokens] == ["2", ".", "0"]
    assert len(tokenizer.tokenize("[[12.5, 105.0]]")) <= 14
    assert len(tokenizer(format_target("C", [[2.0, 5.5]]))["input_ids"]) <= 30
    assert len(tokenizer.tokenize(" Answer")) == 1 and len(tokenizer.tokenize(" Evidence")) == 1


def test_synthetic_benchmark_words_are_single_tokens(tokenizer):
    """The ST-Evidence-Synth questions (colour / shape of a moving object) cost one token per word."""
    for text in [
        "What colour is the diamond that appears in the video?",
        "What shape is the cyan object in the video?",
    ]:
        words = len(text[:-1].split()) + 1  # + '?'
        assert len(tokenizer.tokenize(text)) == words, tokenizer.tokenize(text)


def test_chat_template(tokenizer):
    messages = [
        {"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "Q?"}]},
        {"role": "assistant", "content": "A."},
    ]
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    assert text == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\n<|vision_start|><|video_pad|><|vision_end|>Q?<|im_end|>\n"
        "<|im_start|>assistant\nA.<|im_end|>\n"
    )
    prompt = tokenizer.apply_chat_template(messages[:1], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|im_end|>\n<|im_start|>assistant\n")


def test_save_load_round_trip(tokenizer, tmp_path):
    tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert loaded.get_vocab() == tokenizer.get_vocab()
    assert loaded.chat_template == CHAT_TEMPLATE
    assert special_token_ids(loaded) == special_token_ids(tokenizer)
    text = "Answer: B. <|seg|> 3.5"
    assert loaded(text)["input_ids"] == tokenizer(text)["input_ids"]


def test_prepare_tokenizer_keeps_existing_ids(tokenizer):
    before = dict(tokenizer.get_vocab())
    prepare_tokenizer(tokenizer)
    assert tokenizer.get_vocab() == before


def test_special_token_ids_names_missing_tokens():
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    bare = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel({"a": 0}, unk_token="a")))
    with pytest.raises(KeyError, match="<\\|seg\\|>"):
        special_token_ids(bare)
    assert special_token_ids(prepare_tokenizer(bare))["seg"] > 0
