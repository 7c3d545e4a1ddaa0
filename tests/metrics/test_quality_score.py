"""VQA² level-word score on fixed logits, computed by hand."""

import math

import numpy as np
import pytest

from evqa.metrics.quality import (
    LEVEL_WEIGHTS,
    LEVELS,
    gather_level_logits,
    level_probabilities,
    quality_score,
)


def test_weights_and_levels():
    assert LEVEL_WEIGHTS.tolist() == [1.0, 0.8, 0.6, 0.4, 0.2]
    assert [words[0] for words in LEVELS] == ["high", "good", "fair", "poor", "low"]


def test_hand_computed_scores():
    # equal logits -> p = 1/5 each -> 0.2 * (1 + .8 + .6 + .4 + .2) = 0.6
    assert quality_score([0.0, 0.0, 0.0, 0.0, 0.0]) == pytest.approx(0.6)
    # logits log([4, 2, 1, 1, 2]) -> p = [.4, .2, .1, .1, .2] -> .4 + .16 + .06 + .04 + .04 = 0.70
    logits = np.log([4.0, 2.0, 1.0, 1.0, 2.0])
    np.testing.assert_allclose(level_probabilities(logits), [0.4, 0.2, 0.1, 0.1, 0.2])
    assert quality_score(logits) == pytest.approx(0.70)
    # two levels at logit 0, three far below: p = [0, .5, .5, 0, 0] -> 0.7
    assert quality_score([-50.0, 0.0, 0.0, -50.0, -50.0]) == pytest.approx(0.7, abs=1e-12)
    # one dominant level -> its weight
    assert quality_score([0.0, 0.0, 0.0, 0.0, 60.0]) == pytest.approx(0.2, abs=1e-12)


def test_batch_and_shift_invariance():
    batch = np.array([[0.0] * 5, np.log([4.0, 2.0, 1.0, 1.0, 2.0]), [1000.0, 1000.0, 1000.0, 1000.0, 1000.0]])
    scores = quality_score(batch)
    assert scores.shape == (3,)
    np.testing.assert_allclose(scores, [0.6, 0.7, 0.6])  # +1000 on every logit changes nothing
    # leading axes are kept: [2, 3, 5] -> [2, 3]
    assert quality_score(np.zeros((2, 3, 5))).shape == (2, 3)
    p = level_probabilities(np.random.default_rng(0).normal(size=(4, 5)) * 30)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0)
    assert np.all((quality_score(p) >= 0.2) & (quality_score(p) <= 1.0))


def test_gather_from_vocabulary_logits():
    vocab = np.arange(20.0).reshape(2, 10)
    ids = [7, 3, 5, 1, 9]
    np.testing.assert_array_equal(gather_level_logits(vocab, ids), [[7, 3, 5, 1, 9], [17, 13, 15, 11, 19]])
    # row 0 logits [7, 3, 5, 1, 9]: p_k = e^(l_k) / sum
    e = np.exp(np.array([7.0, 3, 5, 1, 9]))
    expected = float(e @ LEVEL_WEIGHTS / e.sum())
    assert quality_score(gather_level_logits(vocab, ids))[0] == pytest.approx(expected)
    assert math.isclose(expected, 0.2 + 0.8 * e[0] / e.sum() + 0.6 * e[1] / e.sum()
                        + 0.4 * e[2] / e.sum() + 0.2 * e[3] / e.sum())  # fmt: skip


def test_errors():
    with pytest.raises(ValueError, match="5 values on the last axis"):
        quality_score([0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="finite"):
        quality_score([0.0, float("nan"), 0, 0, 0])
    with pytest.raises(ValueError, match="distinct"):
        gather_level_logits(np.zeros(10), [1, 1, 2, 3, 4])
    with pytest.raises(ValueError, match="outside a vocabulary of 10"):
        gather_level_logits(np.zeros(10), [1, 2, 3, 4, 10])
