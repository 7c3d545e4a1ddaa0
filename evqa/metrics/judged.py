"""Metrics of LLM-judged open answers (EgoTextVQA / EgoTempo): accuracy = #yes / (#yes + #no) and
average score = sum of scores / N, overall and per group.

Each item carries `pred` ("yes", "no" or None) and `score` (int 0..5 or None); None means the item has no
verdict (a judge error) and is left out of both numbers — the caller decides what a judge error is
(`evqa` protocol: excluded and counted; `upstream`: passed in as "no", 0).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence


def judged_metrics(preds: Sequence[str | None], scores: Sequence[int | None]) -> dict[str, float]:
    """{"accuracy" (fraction 0-1), "score" (mean 0..5), "yes", "no", "judged" (items with a score), "n"
    (all items)}; accuracy and score are over the items with a verdict.

    Accuracy is 0.0 when no item is yes or no; the average score is 0.0 when no item has a score.
    """
    if len(preds) != len(scores):
        raise ValueError(f"{len(preds)} verdicts but {len(scores)} scores")
    yes = sum(p == "yes" for p in preds)
    no = sum(p == "no" for p in preds)
    scored = [int(s) for s in scores if s is not None]
    return {
        "accuracy": yes / (yes + no) if yes + no else 0.0,
        "score": sum(scored) / len(scored) if scored else 0.0,
        "yes": yes,
        "no": no,
        "judged": len(scored),
        "n": len(preds),
    }


def judged_breakdown(
    groups: Sequence[str], preds: Sequence[str | None], scores: Sequence[int | None]
) -> dict[str, dict[str, float]]:
    """`judged_metrics` per group value (groups[i] is item i's group), groups in sorted order."""
    members: dict[str, list[int]] = defaultdict(list)
    for i, group in enumerate(groups):
        members[group].append(i)
    return {
        group: judged_metrics([preds[i] for i in idx], [scores[i] for i in idx])
        for group, idx in sorted(members.items())
    }
