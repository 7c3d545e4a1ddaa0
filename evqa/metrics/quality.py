"""VQA²'s probability-weighted quality score from the next-token logits of five level words.

One forward pass on "How would you rate the quality of this video?" leaves the reply open; the logits that
the model gives the five level words at the answer position, in the order of `LEVELS`
(best to worst), are turned into p = softmax over those five only, and

    score = sum_k p_k * w_k,   w = LEVEL_WEIGHTS = [1.0, 0.8, 0.6, 0.4, 0.2]

so the score lies in [0.2, 1.0]. Which vocabulary token stands for each level (e.g. "excellent" or
"high") is the adapter's choice and is recorded by it; this module only does the arithmetic.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Each level's accepted words, best first (VQA²: high/excellent, good, fair, poor, low/bad).
LEVELS: tuple[tuple[str, ...], ...] = (("high", "excellent"), ("good",), ("fair",), ("poor",), ("low", "bad"))
LEVEL_WEIGHTS = np.array([1.0, 0.8, 0.6, 0.4, 0.2])


def _level_logits(level_logits) -> np.ndarray:
    x = np.asarray(level_logits, dtype=np.float64)
    if x.ndim == 0 or x.shape[-1] != len(LEVEL_WEIGHTS):
        raise ValueError(
            f"level logits must have {len(LEVEL_WEIGHTS)} values on the last axis, got {x.shape}"
        )
    if not np.all(np.isfinite(x)):
        raise ValueError("level logits must be finite")
    return x


def level_probabilities(level_logits) -> np.ndarray:
    """Softmax over the five level logits [..., 5] -> probabilities [..., 5] (float64, rows sum to 1)."""
    x = _level_logits(level_logits)
    x = x - x.max(axis=-1, keepdims=True)  # stable: exp of non-positive numbers only
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def quality_score(level_logits) -> np.ndarray | float:
    """Probability-weighted score in [0.2, 1.0] from level logits [..., 5] (e.g. [B, 5] for a batch ->
    [B]); a single row [5] gives a float."""
    score = level_probabilities(level_logits) @ LEVEL_WEIGHTS
    return float(score) if np.ndim(score) == 0 else score


def gather_level_logits(vocab_logits, level_token_ids: Sequence[int]) -> np.ndarray:
    """The five level words' logits [..., 5] from full next-token logits [..., V], given each level's token
    id in `LEVELS` order (ids must be distinct and inside the vocabulary)."""
    ids = np.asarray(level_token_ids, dtype=np.int64)
    logits = np.asarray(vocab_logits, dtype=np.float64)
    if ids.shape != (len(LEVEL_WEIGHTS),):
        raise ValueError(f"need {len(LEVEL_WEIGHTS)} level token ids, got {ids.shape}")
    if len(set(ids.tolist())) != ids.size:
        raise ValueError(f"level token ids must be distinct, got {ids.tolist()}")
    if ids.min() < 0 or ids.max() >= logits.shape[-1]:
        raise ValueError(f"level token ids {ids.tolist()} outside a vocabulary of {logits.shape[-1]}")
    return logits[..., ids]
