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

from evqa.eval.gen_inputs import load_inputs, run_metadata, score_entry_masks
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


def _score_entries(
    entries, answers: dict, segments: dict
) -> tuple[list[bool], list[float], list[float], dict]:
    """QA flags, IoU and IoP over every GT entry (in CSV order), and per-sample scores of predicted ones."""
    flags, ious, iops, per_sample = [], [], [], {}
    for entry in entries:
        eid = entry.entry_id
        correct = eid in answers and qa_correct_upstream(answers[eid], entry.answer, entry.candidates)
        iou, iop = temporal_iou_iop_upstream(segments.get(eid, []), [list(s) for s in entry.segments])
        flags.append(correct)
        ious.append(iou)
        iops.append(iop)
        if eid in answers:
            per_sample[eid] = {"qa_correct": correct, "temporal_iou": iou, "temporal_iop": iop,
                               "temporal_avg": (iou + iop) / 2.0}  # fmt: skip
    return flags, ious, iops, per_sample


def evaluate_gen_upstream(gt_file, predictions, *, eval_masks=False, gt_mask_dir=None, pred_mask_dir=None,
                          num_workers=1, progress=True, mask_mode="concat") -> dict:  # fmt: skip
    """The results dict of the published evaluator for the same inputs (values rounded to 2 decimals as
    it does), plus `protocol`, `skipped` and per-entry `mask_errors`. Arguments as `evaluate_gen`."""
    entries, preds = load_inputs(gt_file, predictions)
    answers, segments, errors = _read_predictions(preds)
    flags, ious, iops, per_sample = _score_entries(entries, answers, segments)
    total = len(entries)
    results = {
        "protocol": "upstream",
        "metadata": run_metadata(gt_file, predictions, total, len(preds)),
        "qa_metrics": {"accuracy": round(100 * sum(flags) / total if total else 0, 2), "correct": sum(flags),
                       "total": total},
        "temporal_metrics": {"num_samples": total, **{k: round(v, 2) for k, v in summarize_temporal(ious, iops).items()}},
        "format_errors": {"total": sum(errors.values()), **errors},
        "skipped": {
            "missing_predictions": sum(e.entry_id not in answers for e in entries),
            "none_responses": errors["none_responses"],
            "extra_predictions": len(set(preds) - {e.entry_id for e in entries}),
        },
    }  # fmt: skip
    if eval_masks:
        mask_results, pred_root = score_entry_masks(entries, preds, predictions, "upstream", gt_mask_dir,
                                                    pred_mask_dir, mask_mode, num_workers, progress)  # fmt: skip
        results["mask_metrics"] = _mask_metrics(mask_results, per_sample, pred_root)
        results["skipped"]["no_gt_masks"] = sum(r["status"] == "no_gt" for r in mask_results)
    results["per_sample_scores"] = per_sample
    return results


def _mask_metrics(mask_results: list[dict], per_sample: dict, pred_root: str | None) -> dict:
    """J, F, J&F (x100, 2 decimals) as means over the entries that have GT masks; per-sample scores of
    predicted entries get spatial_j / spatial_f / spatial_jf."""
    scored = [r for r in mask_results if r["status"] in ("ok", "error")]
    for r in scored:
        if r["entry_id"] in per_sample:
            per_sample[r["entry_id"]].update(
                spatial_j=r["J"], spatial_f=r["F"], spatial_jf=(r["J"] + r["F"]) / 2
            )
    n = len(scored)

    def mean(values) -> float:
        return round(100 * sum(values) / n, 2) if n else 0.0

    return {
        "J": mean(r["J"] for r in scored),
        "F": mean(r["F"] for r in scored),
        "J&F": mean((r["J"] + r["F"]) / 2 for r in scored),
        "num_entries": n,
        "total_masks": sum(r["frames"] for r in scored),
        "mask_errors": {r["entry_id"]: r["error"] for r in mask_results if r["status"] == "error"},
        "pred_mask_dir": pred_root,
    }
