"""Quality scoring without generation (VQA²): the token of each level word and the score of one forward pass.

The reply is opened with `evqa.prompts.QUALITY_ANSWER_PREFIX`; the next-token logits of the five level words
(`evqa.metrics.quality.LEVELS`, best first) give p = softmax over those five and score = sum p_k w_k.

Token rule (recorded in every reply's meta as `level_tokens`): each level takes the first of its accepted
words that the tokenizer encodes as one token ("single"); when none is, the first token of one of its
words is used ("first_token"), never a token an earlier level already took.
"""

from __future__ import annotations

from typing import Any

from evqa.baselines.base import Response
from evqa.errors import ModelError
from evqa.metrics.quality import LEVELS, gather_level_logits, level_probabilities, quality_score


def _spellings(word: str) -> tuple[str, str]:
    return (" " + word, word)  # after the answer prefix the word follows a space; some vocabularies lack that


def level_token_ids(tokenizer) -> dict[str, Any]:
    """{"ids": [5 ints], "words": [5 str], "rule": [5 x "single"|"first_token"]} for `tokenizer`.

    Per level, in order: an accepted word that is one token (with its leading space, then without); else the
    first token of an accepted word's spelling that no earlier level took ("first_token")."""
    ids, words, rules = [], [], []
    for level in LEVELS:
        encoded = [(w, tokenizer.encode(s, add_special_tokens=False)) for w in level for s in _spellings(w)]
        single = [(t[0], w, "single") for w, t in encoded if len(t) == 1 and t[0] not in ids]
        first = [(t[0], w, "first_token") for w, t in encoded if t and t[0] not in ids]
        if not (single or first):
            raise ModelError(f"no token of the tokenizer stands for the quality level '{level[0]}' alone")
        token, word, rule = (single or first)[0]
        ids.append(int(token))
        words.append(word)
        rules.append(rule)
    return {"ids": ids, "words": words, "rule": rules}


def level_response(next_token_logits, tokens: dict[str, Any], usage: dict[str, int]) -> Response:
    """A Response for one request from its next-token logits [V]: text = the most likely level word,
    meta = {"quality_score", "level_probs", "level_tokens"}."""
    level = gather_level_logits(next_token_logits, tokens["ids"])
    probs = level_probabilities(level)
    return Response(
        text=tokens["words"][int(probs.argmax())],
        usage=usage,
        meta={
            "quality_score": float(quality_score(level)),
            "level_probs": [round(float(p), 6) for p in probs],
            "level_tokens": tokens,
        },
    )
