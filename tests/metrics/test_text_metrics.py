"""Open-answer text metrics against hand-computed values, SQuAD's reference (torchmetrics' copy of the official
script), and the packaged embedding model loaded with the network off."""

import importlib
import math
import socket

import numpy as np
import pytest

from evqa.errors import ConfigError
from evqa.metrics import text as tm


def test_normalize_answer_squad_rules_plus_unicode_punctuation():
    assert tm.normalize_answer("The  Cat’s hat — a RED one!") == "cats hat red one"
    assert tm.normalize_answer("An apple, the pear.") == "apple pear"
    # articles only as whole words
    assert tm.normalize_answer("Theatre anna another") == "theatre anna another"
    assert tm.normalize_answer("  \n ") == ""
    assert tm.answer_tokens("It's 3:45 p.m.") == ["its", "345", "pm"]


ASCII_PAIRS = [
    ("The red car is fast", "a red car"),
    ("Paris!", "paris"),
    ("the the the", "the"),
    ("", "nothing"),
    ("", ""),
    ("He said: 'no', twice.", "he said no twice"),
    ("a b c", "c b a"),
    ("New York City", "new  york"),
]


@pytest.mark.parametrize(("pred", "ref"), ASCII_PAIRS)
def test_em_f1_equal_squad_reference_on_ascii(pred, ref):
    # the module (its package re-exports a function of the same name)
    ref_squad = importlib.import_module("torchmetrics.functional.text.squad")

    assert tm.normalize_answer(pred) == ref_squad._normalize_text(pred)
    assert tm.exact_match(pred, ref) == float(ref_squad._compute_exact_match_score(pred, ref))
    assert tm.token_f1(pred, ref) == pytest.approx(float(ref_squad._compute_f1_score(pred, ref)), abs=1e-7)


def test_f1_hand_computed():
    # tokens [red, car, is, fast] vs [red, car]: overlap 2, P = 2/4, R = 2/2 -> F1 = 2*(1/2)*1 / (3/2) = 2/3
    assert tm.token_f1("The red car is fast", "a red car") == pytest.approx(2 / 3)
    # multiset overlap: [x, x, y] vs [x, y, y]: overlap x1 + y1 = 2, P = R = 2/3
    assert tm.token_f1("x x y", "x y y") == pytest.approx(2 / 3)
    assert tm.token_f1("", "") == 1.0
    assert tm.token_f1("the", "") == 1.0  # both empty after normalisation
    assert tm.token_f1("", "cat") == 0.0
    assert tm.token_f1("dog", "cat") == 0.0


def test_bleu_hand_computed_exp_smoothing_and_effective_order():
    # pred [b, c, d, e] ("a" is an article), ref [b, c, d]; c = 4 > r = 3 -> BP = 1
    # p1 = 3/4, p2 = 2/3, p3 = 1/2, p4: 0 of 1 -> exp smoothing 1 / (2 * 1) = 1/2
    assert tm.bleu("a b c d e", "a b c d", max_order=1) == pytest.approx(3 / 4)
    assert tm.bleu("a b c d e", "a b c d", max_order=4) == pytest.approx(
        (3 / 4 * 2 / 3 * 1 / 2 * 1 / 2) ** 0.25
    )
    # reversed words: p1 = 3/3; p2 = 0 of 2 -> 1/(2*2); p3 = 0 of 1 -> 1/(4*1); no 4-grams -> order 3
    assert tm.bleu("blue green red", "red green blue") == pytest.approx((1 * 1 / 4 * 1 / 4) ** (1 / 3))
    # brevity penalty: c = 2, r = 4 -> BP = exp(1 - 4/2) = e^-1; p1 = p2 = 1, effective order 2
    assert tm.bleu("red car", "red car parked outside", max_order=1) == pytest.approx(math.exp(-1))
    assert tm.bleu("red car", "red car parked outside", max_order=4) == pytest.approx(math.exp(-1))
    # a correct short answer is 1, not 0 (effective order), and never above 1
    assert tm.bleu("two words", "two words") == 1.0
    assert tm.bleu("yes", "no") == 0.0
    assert tm.bleu("", "") == 1.0 and tm.bleu("", "x") == 0.0


def test_rouge_l_hand_computed():
    # LCS(x y z w, x z w q) = x z w = 3 -> P = R = 3/4
    assert tm.rouge_l("x y z w", "x z w q") == pytest.approx(3 / 4)
    # LCS(one two three four five, five one three two four) = 3 (one two four) -> P = R = 3/5
    assert tm.rouge_l("one two three four five", "five one three two four") == pytest.approx(3 / 5)
    # P = 1/3 (1 of 3 pred tokens), R = 1 -> F = 2 * (1/3) / (4/3) = 1/2; case and punctuation ignored
    assert tm.rouge_l("Car, red, fast", "CAR") == pytest.approx(1 / 2)
    # non-ASCII words are kept (rouge-score's default tokenizer would drop them)
    assert tm.rouge_l("café au lait", "café noir") == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))
    assert tm.rouge_l("", "") == 1.0 and tm.rouge_l("x", "") == 0.0


def test_overlap_scores_and_mean_without_embedding():
    preds = ["a red car", "the cat sat", ""]
    refs = ["red car", "dog sat", "anything"]
    scores = tm.text_scores(preds, refs, embedding=False)
    assert set(scores) == set(tm.OVERLAP_METRICS)
    np.testing.assert_allclose(scores["EM"], [1, 0, 0])
    # item 2: [cat, sat] vs [dog, sat] -> F1 = 1/2; BLEU1 = 1/2; BLEU4: p1 = 1/2, p2 = 0 of 1 -> 1/2 -> 1/2
    np.testing.assert_allclose(scores["F1"], [1, 0.5, 0])
    np.testing.assert_allclose(scores["BLEU1"], [1, 0.5, 0])
    np.testing.assert_allclose(scores["BLEU4_BP"], [1, 0.5, 0])
    np.testing.assert_allclose(scores["ROUGE_L"], [1, 0.5, 0])
    summary = tm.summarize_text_scores(scores, suffix=tm.REASONING_SUFFIX)
    assert summary == pytest.approx(
        {"EM_Reasoning": 1 / 3, "F1_Reasoning": 0.5, "BLEU1_Reasoning": 0.5, "BLEU4_BP_Reasoning": 0.5,
         "ROUGE_L_Reasoning": 0.5}
    )  # fmt: skip
    assert math.isnan(tm.summarize_text_scores({"EM": np.array([])})["EM"])
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        tm.text_scores(["a", "b"], ["a"], embedding=False)


@pytest.fixture(scope="session")
def offline_model():
    """The default embedding model, loaded with HF offline flags set and every socket connect refused."""
    attempts = []

    def refuse(self, address):
        attempts.append(address)
        raise OSError("network disabled in this test")

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket.socket, "connect_ex", refuse)
        tm._load_sentence_model.cache_clear()
        model = tm.load_embedding_model()
        cos = tm.embedding_cosine(["A man is riding a horse."], ["A man is riding a horse."])
    return model, cos, attempts


def test_embedding_model_loads_offline(offline_model):
    model, cos, attempts = offline_model
    assert attempts == []
    assert model.get_embedding_dimension() == 384  # all-MiniLM-L6-v2
    assert cos[0] == pytest.approx(1.0, abs=1e-9)
    # cached: the same object for the default and for its folder named explicitly
    assert tm.load_embedding_model(tm.default_embedding_model_dir()) is model


def test_embedding_cosine_orders_similarity(offline_model):
    preds = ["A man is riding a horse.", "A man is riding a horse.", "A man is riding a horse.", "", ""]
    refs = ["A man is riding a horse.", "Someone rides a horse.", "The stock market fell sharply.", "", "x"]
    cos = tm.embedding_cosine(preds, refs)
    assert cos.shape == (5,) and cos.dtype == np.float64
    assert cos[0] == pytest.approx(1.0, abs=1e-9)
    assert cos[2] < cos[1] < cos[0]
    assert cos[2] < 0.3 < 0.6 < cos[1]
    assert list(cos[3:]) == [1.0, 0.0]
    scores = tm.text_scores(preds[:3], refs[:3])
    assert scores["EmbedCos"] == pytest.approx(cos[:3])
    assert tm.mean_text_scores(preds[:3], refs[:3])["EmbedCos"] == pytest.approx(cos[:3].mean())


def test_embedding_model_folder_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        tm.load_embedding_model(tmp_path / "missing")
    with pytest.raises(ConfigError, match="no modules.json"):
        tm.load_embedding_model(tmp_path)
