"""`--protocol upstream`: the published ST-Evidence evaluator's definitions, quirks included.

What it does differently from the evqa protocol (kept so numbers stay comparable with the paper):
  * QA: the raw `parsed_response.answer`; only an upper-case letter maps to a candidate; exact compare.
    `error` is not looked at — only a null `parsed_response` counts as a failed item.
  * temporal: pairwise overlap sums without merging (IoU can exceed 1); an empty GT scores 0 and stays
    in the denominator; format-error counts run over every prediction entry, in or out of the GT.
  * masks: frames = the predicted frames; a missing GT frame is an empty GT; entries without GT masks
    are dropped from J / F.
Deliberate deviations, because the original cannot finish or scores silently wrong there: a size mismatch
or unreadable mask scores that entry 0 and is listed (the original aborts all mask metrics), and PNGs are
read with "any non-zero channel" (the original converts to grey first, which maps a few dark colours to 0).
"""

from __future__ import annotations

from evqa.eval.predictions import upstream_segments
from evqa.metrics.qa import qa_correct_upstream
from evqa.metrics.temporal import summarize_temporal, temporal_iou_iop_upstream

ERROR_KEYS = ("none_responses", "empty_segments", "malformed_segments", "parse_errors")


def _read_predictions(preds: dict) -> tuple[dict, dict, dict]:
    answers, segments, errors = {}, {}, dict.fromkeys(ERROR_KEYS, 0)
    for entry_id, record in preds.items():
        parsed = record.get("parsed_response") if isinstance(record, dict) else None
        if not isinstance(parsed, dict):
            answers[entry_id], segments[entry_id] = None, []
            errors["none_responses"] += 1
            continue
        answers[entry_id] = parsed.get("answer")
        segments[entry_id], kind = upstream_segments(parsed.get("segments", []))
        if kind is not None:
            errors[kind] += 1
    return answers, segments, errors


def evaluate_gen_upstream(gt_file, predictions, *, eval_masks=False, gt_mask_dir=None, pred_mask_dir=None,
                          num_workers=1, progress=True, mask_mode="concat") -> dict:  # fmt: skip
    """The results dict of the published evaluator for the same inputs (values rounded to 2 decimals as
    it does), plus `protocol`, `skipped` and per-entry `mask_errors`. Arguments as `evaluate_gen`."""
    from evqa.eval.st_evidence import _inputs, _metadata, _run_masks

    entries, preds = _inputs(gt_file, predictions)
    answers, segments, errors = _read_predictions(preds)
    correct_flags, ious, iops, per_sample = [], [], [], {}
    for entry in entries:
        eid = entry.entry_id
        correct = eid in answers and qa_correct_upstream(answers[eid], entry.answer, entry.candidates)
        iou, iop = temporal_iou_iop_upstream(segments.get(eid, []), [list(s) for s in entry.segments])
        correct_flags.append(correct)
        ious.append(iou)
        iops.append(iop)
        if eid in answers:
            per_sample[eid] = {"qa_correct": correct, "temporal_iou": iou, "temporal_iop": iop,
                               "temporal_avg": (iou + iop) / 2.0}  # fmt: skip
    total = len(entries)
    acc = 100 * sum(correct_flags) / total if total else 0
    temporal = {k: round(v, 2) for k, v in summarize_temporal(ious, iops).items()}
    results = {
        "protocol": "upstream",
        "metadata": _metadata(gt_file, predictions, total, len(preds)),
        "qa_metrics": {"accuracy": round(acc, 2), "correct": sum(correct_flags), "total": total},
        "temporal_metrics": {"num_samples": total, **temporal},
        "format_errors": {"total": sum(errors.values()), **errors},
        "skipped": {
            "missing_predictions": sum(e.entry_id not in answers for e in entries),
            "none_responses": errors["none_responses"],
            "extra_predictions": len(set(preds) - {e.entry_id for e in entries}),
        },
    }
    if eval_masks:
        masks = _run_masks(entries, preds, predictions, per_sample_all := {e.entry_id: {} for e in entries},
                           "upstream", gt_mask_dir, pred_mask_dir, mask_mode, num_workers, progress)  # fmt: skip
        results["mask_metrics"] = _upstream_mask_metrics(masks, per_sample_all)
        results["skipped"]["no_gt_masks"] = masks["no_gt_masks"]
        for eid, sample in per_sample.items():
            sample.update(per_sample_all[eid])
    results["per_sample_scores"] = per_sample
    return results


def _upstream_mask_metrics(masks: dict, per_entry: dict) -> dict:
    scored = [s for s in per_entry.values() if "spatial_j" in s]
    n = len(scored)
    mean = (lambda key: 100 * sum(s[key] for s in scored) / n) if n else (lambda key: 0.0)
    return {
        "J": round(mean("spatial_j"), 2),
        "F": round(mean("spatial_f"), 2),
        "J&F": round(mean("spatial_jf"), 2),
        "num_entries": n,
        "total_masks": masks["total_masks"],
        "mask_errors": masks["mask_errors"],
        "pred_mask_dir": masks["pred_mask_dir"],
    }
