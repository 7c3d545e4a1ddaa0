"""Temporal IoU / IoP between predicted and ground-truth segments (seconds), under both protocols.

`evqa` (correct): segments with end <= start are dropped, clipped to [0, duration] when the duration is
known, and each side is merged into a union of disjoint intervals; I = |P ∩ G|, IoU = I / |P ∪ G|,
IoP = I / |P|. An empty prediction scores 0; an empty ground truth is not scorable (None).

`upstream` (the published evaluator, kept for comparability with the paper): I = sum over all pairs of
overlaps without merging, IoU = I / (|G| + |P| - I), IoP = I / |P|, each duration a sum of max(0, e - s);
0 when either side is empty. Overlapping predicted segments are counted twice, so IoU and IoP can exceed 1.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

Segment = tuple[float, float]
THRESHOLDS = (0.3, 0.5)


def merge_segments(segments: Iterable[Sequence[float]], duration: float | None = None) -> list[Segment]:
    """Union of segments as sorted disjoint intervals; drops end <= start, clips to [0, duration]."""
    kept = []
    for start, end in segments:
        start, end = float(start), float(end)
        if duration is not None:
            start, end = max(0.0, start), min(float(duration), end)
        if end > start:
            kept.append((start, end))
    merged: list[Segment] = []
    for start, end in sorted(kept):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _length(intervals: list[Segment]) -> float:
    return sum(end - start for start, end in intervals)


def _intersection(a: list[Segment], b: list[Segment]) -> float:
    """Length of the intersection of two sorted disjoint interval lists (two-pointer sweep)."""
    total, i, j = 0.0, 0, 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if hi > lo:
            total += hi - lo
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def temporal_iou_iop(
    pred: Iterable[Sequence[float]], gt: Iterable[Sequence[float]], duration: float | None = None
) -> tuple[float, float] | None:
    """evqa protocol: (IoU, IoP) in [0, 1] of merged segments (seconds), or None when the GT is empty."""
    gt_union = merge_segments(gt, duration)
    if not gt_union:
        return None
    pred_union = merge_segments(pred, duration)
    if not pred_union:
        return 0.0, 0.0
    inter = _intersection(pred_union, gt_union)
    pred_len = _length(pred_union)
    union = pred_len + _length(gt_union) - inter
    return inter / union, inter / pred_len


def temporal_iou_iop_upstream(
    pred: Sequence[Sequence[float]], gt: Sequence[Sequence[float]]
) -> tuple[float, float]:
    """upstream protocol: (IoU, IoP) with pairwise overlap sums, exactly as the published evaluator
    (same summation order, so results agree bit for bit). Can exceed 1 for overlapping predictions."""
    if not pred or not gt:
        return 0.0, 0.0
    inter = 0
    for gs, ge in gt:
        for ps, pe in pred:
            lo, hi = max(gs, ps), min(ge, pe)
            if hi > lo:
                inter += hi - lo
    gt_len = sum(max(0, e - s) for s, e in gt)
    pred_len = sum(max(0, e - s) for s, e in pred)
    union = gt_len + pred_len - inter
    iou = inter / union if union > 0 else 0.0
    iop = inter / pred_len if pred_len > 0 else 0.0
    return iou, iop


def summarize_temporal(ious: Sequence[float], iops: Sequence[float]) -> dict[str, float]:
    """mIoU, mIoP, t_mean and TIoU/TIoP@{0.3,0.5} (fraction with score >= threshold), all x100.

    Sums run in list order with Python floats, as the upstream evaluator does. Empty input -> zeros.
    """
    n = len(ious)
    if n == 0:
        keys = ["mIoU", "mIoP", "t_mean"] + [f"{m}@{t}" for m in ("TIoU", "TIoP") for t in THRESHOLDS]
        return dict.fromkeys(keys, 0.0)
    out = {
        "mIoU": 100 * sum(ious) / n,
        "mIoP": 100 * sum(iops) / n,
        "t_mean": 100 * sum((a + b) / 2 for a, b in zip(ious, iops, strict=True)) / n,
    }
    for name, scores in (("TIoU", ious), ("TIoP", iops)):
        for tau in THRESHOLDS:
            out[f"{name}@{tau}"] = 100 * sum(1 for s in scores if s >= tau) / n
    return out
