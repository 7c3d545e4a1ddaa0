"""Quality scoring without generation (VQA²): the token of each level word and the score of one forward pass.

The reply is opened with `evqa.prompts.QUALITY_ANSWER_PREFIX`; the next-token logits of the five level words
(`evqa.metrics.quality.LEVELS`, best first) give p = softmax over those five and score = sum p_k w_k.

Token rule (recorded in every reply's meta as `level_tokens`): a word's tokens are the ones the tokenizer
gives it right after the answer prefix (`prefix + " " + word`, minus the prefix's own tokens) — where the
model reads it. Each level takes the first of its accepted words that is one such token ("single"); when
none is, the first token of one of its words ("first_token"), never a token an earlier level already took
(so a level whose first word shares its first token with an earlier level's falls to its next word).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from evqa.baselines.base import Response
from evqa.errors import ModelError
from evqa.metrics.quality import (
    LEVEL_WEIGHTS,
    LEVELS,
    gather_level_logits,
    level_probabilities,
    quality_score,
)

TOP_LOGPROBS = 20  # the most first-token alternatives the OpenAI API returns


def _continuation(tokenizer, word: str) -> list[int]:
    """The token ids of `word` as it follows the answer prefix; a tokenizer whose encoding of the prefix
    is not a prefix of that of prefix + word gets the word's own encoding with its leading space."""
    from evqa.prompts import QUALITY_ANSWER_PREFIX

    head = tokenizer.encode(QUALITY_ANSWER_PREFIX, add_special_tokens=False)
    full = tokenizer.encode(f"{QUALITY_ANSWER_PREFIX} {word}", add_special_tokens=False)
    if len(full) > len(head) and full[: len(head)] == head:
        return list(full[len(head) :])
    return list(tokenizer.encode(" " + word, add_special_tokens=False))


def level_token_ids(tokenizer) -> dict[str, Any]:
    """{"ids": [5 ints], "words": [5 str], "rule": [5 x "single"|"first_token"]} for `tokenizer`.

    Per level, in order (module doc): an accepted word that is one token after the answer prefix, else the
    first token of an accepted word's continuation that no earlier level took ("first_token")."""
    ids, words, rules = [], [], []
    for level in LEVELS:
        encoded = [(w, _continuation(tokenizer, w)) for w in level]
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


def api_level_prompt(prompt: str) -> str:
    """The quality question for an API model, whose reply cannot be opened with the answer prefix: asked to
    complete the prefix with one of the level words."""
    from evqa.prompts import QUALITY_ANSWER_PREFIX

    words = ", ".join(level[0] for level in LEVELS[:-1]) + f" or {LEVELS[-1][0]}"
    return f'{prompt}\nAnswer with one word ({words}) that completes: "{QUALITY_ANSWER_PREFIX} ..."'


def level_of_token(token: str) -> int | None:
    """The level (0 = best) whose accepted word `token` spells (case and surrounding spaces ignored)."""
    word = token.strip().lower()
    for k, level in enumerate(LEVELS):
        if word in level:
            return k
    return None


def api_level_response(top_logprobs: Sequence[tuple[str, float]], usage: dict[str, int]) -> Response:
    """A Response from the first reply token's top log-probabilities [(token, log p), ...] of an API model.

    Every alternative that spells a level word ("Good", " good", "excellent", ...) adds its probability to
    that level; p = those five sums renormalised, score = sum p_k w_k — the same score as the softmax over
    the five words' logits, since log p differs from the logit by one constant per position. A level with
    no spelling among the returned alternatives gets p = 0 and is listed in `level_tokens.absent` (its
    true share is below the least likely alternative returned); none at all is a ModelError, never a guess.
    """
    mass = np.zeros(len(LEVELS))
    matched: list[list[str]] = [[] for _ in LEVELS]
    for token, logprob in top_logprobs:
        k = level_of_token(token)
        if k is not None and math.isfinite(logprob):
            mass[k] += math.exp(logprob)
            matched[k].append(token)
    if mass.sum() <= 0:
        shown = ", ".join(repr(t) for t, _ in top_logprobs[:5])
        raise ModelError(
            f"no quality level word among the reply's {len(top_logprobs)} most likely first tokens ({shown}, ...)"
        )
    probs = mass / mass.sum()
    return Response(
        text=LEVELS[int(probs.argmax())][0],
        usage=usage,
        meta={
            "quality_score": float(probs @ LEVEL_WEIGHTS),
            "level_probs": [round(float(p), 6) for p in probs],
            "level_tokens": {
                "rule": "top_logprobs",
                "tokens": matched,
                "absent": [LEVELS[k][0] for k in range(len(LEVELS)) if not matched[k]],
                "top_logprobs": len(top_logprobs),
            },
        },
    )
