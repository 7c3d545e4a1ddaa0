"""`--protocol upstream`: the published ST-Evidence evaluator's definitions, quirks included.

What it does differently from the evqa protocol (kept so numbers stay comparable with the paper):
  * QA: the raw `parsed_response.answer`; only an upper-case letter maps to a candidate; exact compare.
    `error` is not looked at — only a null `parsed_response` counts as a failed item.
  * temporal: pairwise overlap sums without merging (IoU can exceed 1); an empty GT scores 0 and stays
    in the denominator; format-error counts run over every prediction entry, in or out of the GT.
  * masks (`evqa.eval.mask_scoring`): the original's file discovery (`<pred dir>/<id>/masks/*.png`, a
    record's `mask_folder` first, every `*.png` a frame, paired with the GT file of the same name); PNGs
    read by luminance > 0; entries without GT masks dropped from J / F. An unreadable PNG is skipped
    silently by the original (an entry whose PNGs are all unreadable drops out of J / F), and a size
    mismatch where both masks are non-empty makes the original lose every mask metric (it prints the
    error and still exits 0): both are reproduced, and each adds a line to `warnings`.
Every case where the original scores a file differently from `--protocol evqa` (masks only EVQA's lenient
layouts find, README-shaped records) adds a line to `warnings` that says why and how to fix the file.
Remaining deliberate differences: GT masks may also be RLE JSON (the original reads PNG folders only), and
a missing prediction-mask folder is an error rather than J = F = 0.
"""

from __future__ import annotations

import ast
import csv

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


def upstream_gt_segments(gt_file, entries, warnings: list[str]) -> dict[str, list[list[float]]]:
    """GT segments as the original reads them: only the `segment` column, `ast.literal_eval`, and only a
    list whose items are lists of >= 2 numbers (tuples, flat lists or a `temporal_evidence` column give an
    empty GT, which scores 0). Entries already loaded in memory keep their segments."""
    if isinstance(gt_file, list):
        return {e.entry_id: [list(s) for s in e.segments] for e in entries}
    with open(gt_file, encoding="utf-8-sig", newline="") as fh:
        rows = {(r.get("entry_id") or "").strip(): r.get("segment") for r in csv.DictReader(fh)}
    out, lost = {}, []
    for entry in entries:
        try:
            value = ast.literal_eval(rows.get(entry.entry_id) or "")
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            value = None
        pairs = []
        for seg in value if isinstance(value, list) else []:
            if isinstance(seg, list) and len(seg) >= 2:
                try:
                    pairs.append([float(seg[0]), float(seg[1])])
                except (TypeError, ValueError):
                    pairs = []
                    break
        out[entry.entry_id] = pairs
        if entry.segments and not pairs:
            lost.append(entry.entry_id)
    if lost:
        warnings.append(f"{len(lost)} GT entr(ies) (e.g. {lost[0]}) have segments the published evaluator "
                        "cannot read (it needs a 'segment' column holding [[start, end], ...]): their "
                        "temporal scores are 0 here; --protocol evqa reads them")  # fmt: skip
    return out


def _score_entries(
    entries, answers: dict, segments: dict, gt_segments: dict
) -> tuple[list[bool], list[float], list[float], dict]:
    """QA flags, IoU and IoP over every GT entry (in CSV order), and per-sample scores of predicted ones."""
    flags, ious, iops, per_sample = [], [], [], {}
    for entry in entries:
        eid = entry.entry_id
        correct = eid in answers and qa_correct_upstream(answers[eid], entry.answer, entry.candidates)
        iou, iop = temporal_iou_iop_upstream(segments.get(eid, []), gt_segments[eid])
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
    warnings = _shape_warnings(preds)
    gt_segments = upstream_gt_segments(gt_file, entries, warnings)
    flags, ious, iops, per_sample = _score_entries(entries, answers, segments, gt_segments)
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
        metrics = _mask_metrics(mask_results, per_sample, pred_root, warnings)
        if metrics is not None:
            results["mask_metrics"] = metrics
        results["skipped"]["no_gt_masks"] = sum(r["status"] == "no_gt" for r in mask_results)
    results["per_sample_scores"] = per_sample
    if warnings:
        results["warnings"] = warnings
    return results


def _shape_warnings(preds: dict) -> list[str]:
    readme = [i for i, r in preds.items() if isinstance(r, dict) and "parsed_response" not in r
              and any(k in r for k in ("answer", "time_segments", "mask_dir"))]  # fmt: skip
    if not readme:
        return []
    return [f"{len(readme)} record(s) (e.g. {readme[0]}) have top-level answer/time_segments/mask_dir and no "
            "parsed_response: the published evaluator scores them as failed (none_responses); --protocol evqa "
            "reads that shape, or move the fields into parsed_response {answer, segments} and mask_folder"]  # fmt: skip


def _ids(results: list[dict], status: str | None = None, key: str | None = None) -> list[str]:
    return [
        r["entry_id"]
        for r in results
        if (status is None or r["status"] == status) and (key is None or r.get(key))
    ]


def _mask_metrics(mask_results: list[dict], per_sample: dict, pred_root: str | None,
                  warnings: list[str]) -> dict | None:  # fmt: skip
    """J, F, J&F (x100, 2 decimals) as means over the entries that have GT masks and a readable predicted
    PNG; per-sample scores of predicted entries get spatial_j / spatial_f / spatial_jf. None (no mask
    metrics, as the original) after a size mismatch or when no entry was scored."""
    aborted = [r for r in mask_results if r["status"] == "abort"]
    if aborted:
        warnings.append(f"mask metrics dropped, as the published evaluator does: {aborted[0]['entry_id']} "
                        f"{aborted[0]['error']} (sizes must match; --protocol evqa lists such entries instead)")  # fmt: skip
        return None
    for status, what in (("dropped", "every predicted PNG is unreadable: left out of J / F"),):
        if ids := _ids(mask_results, status):
            warnings.append(f"{len(ids)} entr(ies) (e.g. {ids[0]}): {what}")
    if ids := _ids(mask_results, "ok", "unreadable"):
        warnings.append(f"{len(ids)} entr(ies) (e.g. {ids[0]}) have unreadable predicted PNGs: skipped")
    for note, how in (("rle_json", "RLE JSON masks <dir>/<id>.json, which the published evaluator cannot read: "
                       "write PNGs to <dir>/<id>/masks/<frame:05d>.png or score with --protocol evqa"),
                      ("png_without_masks_folder", "PNGs directly in <dir>/<id>/, where the published "
                       "evaluator looks in <dir>/<id>/masks/: move them there or score with --protocol evqa")):  # fmt: skip
        if ids := [r["entry_id"] for r in mask_results if r.get("note") == note]:
            warnings.append(f"{len(ids)} entr(ies) (e.g. {ids[0]}) scored J = F = 0: their masks are {how}")
    scored = [r for r in mask_results if r["status"] == "ok"]
    if not scored:
        warnings.append("no entry has scorable masks: the published evaluator reports no mask metrics")
        return None
    for r in scored:
        if r["entry_id"] in per_sample:
            per_sample[r["entry_id"]].update(
                spatial_j=r["J"], spatial_f=r["F"], spatial_jf=(r["J"] + r["F"]) / 2
            )
    n = len(scored)

    def mean(values) -> float:
        return round(100 * sum(values) / n, 2)

    return {
        "J": mean(r["J"] for r in scored),
        "F": mean(r["F"] for r in scored),
        "J&F": mean((r["J"] + r["F"]) / 2 for r in scored),
        "num_entries": n,
        "total_masks": sum(r["frames"] for r in scored),
        "mask_errors": {r["entry_id"]: r["error"] for r in mask_results if r["status"] == "error"},
        "pred_mask_dir": pred_root,
    }
