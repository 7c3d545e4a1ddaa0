"""The generative ST-Evidence scorer: QA accuracy, temporal IoU/IoP and (optionally) J / F / J&F.

`evaluate_gen(..., protocol="evqa")` is the documented, bounded protocol; `protocol="upstream"` reproduces
the published evaluator's numbers (see `evqa.eval.upstream`). Both return the results JSON of DESIGN.md §3:
the upstream keys (metadata, qa_metrics, temporal_metrics, format_errors, mask_metrics, per_sample_scores)
plus `protocol`, `skipped` counts and `by_source` / `by_category` breakdowns.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from evqa.data.st_evidence import GenEntry
from evqa.errors import ConfigError
from evqa.eval.gen_inputs import load_inputs, run_metadata, score_entry_masks
from evqa.eval.predictions import read_gen_record
from evqa.metrics.qa import accuracy, qa_correct
from evqa.metrics.temporal import summarize_temporal, temporal_iou_iop

PROTOCOLS = ("evqa", "upstream")
FORMAT_KEYS = ("failed", "bad_record", "unparsable_answer", "empty_answer", "answer_type",
               "empty_segments", "malformed_segments")  # fmt: skip


def _duration(entry: GenEntry) -> float | None:
    try:
        value = float(entry.extra.get("duration") or "nan")
    except ValueError:
        return None
    return value if value > 0 else None


def _score_entry(entry: GenEntry, record) -> dict:
    """Per-sample scores of one GT entry under the evqa protocol (temporal None = excluded)."""
    pred = read_gen_record(record, entry.candidates)
    correct = pred.status == "ok" and qa_correct(pred.letter, entry.answer, entry.candidates)
    scores = temporal_iou_iop(pred.segments if pred.status == "ok" else [], entry.segments, _duration(entry))
    iou, iop = scores if scores is not None else (None, None)
    return {
        "qa_correct": correct,
        "pred_letter": pred.letter,
        "prediction_status": pred.status,
        "answer_status": pred.answer_status,
        "problems": pred.problems,
        "temporal_iou": iou,
        "temporal_iop": iop,
        "temporal_avg": None if iou is None else (iou + iop) / 2,
    }


def _group_metrics(entries: list[GenEntry], per_sample: dict, attr: str) -> dict:
    groups: dict[str, list[str]] = defaultdict(list)
    for entry in entries:
        value = getattr(entry, attr)
        if value:
            groups[value].append(entry.entry_id)
    return {name: _summary([per_sample[i] for i in ids]) for name, ids in sorted(groups.items())}


def _summary(samples: list[dict]) -> dict:
    timed = [s for s in samples if s["temporal_iou"] is not None]
    out = {"num_samples": len(samples), "accuracy": accuracy([s["qa_correct"] for s in samples])}
    out.update(summarize_temporal([s["temporal_iou"] for s in timed], [s["temporal_iop"] for s in timed]))
    masked = [s for s in samples if s.get("spatial_j") is not None]
    if masked:
        out["J"] = 100 * sum(s["spatial_j"] for s in masked) / len(masked)
        out["F"] = 100 * sum(s["spatial_f"] for s in masked) / len(masked)
        out["J&F"] = (out["J"] + out["F"]) / 2
    return out


def _format_errors(per_sample: dict) -> dict:
    counts, listed = Counter(), defaultdict(list)
    for entry_id, sample in per_sample.items():
        kinds = list(sample["problems"])
        if sample["prediction_status"] in ("failed", "bad_record"):
            kinds.append(sample["prediction_status"])
        for kind in dict.fromkeys(kinds):
            counts[kind] += 1
            listed[kind].append(entry_id)
    out = {key: counts.get(key, 0) for key in FORMAT_KEYS}
    out["total"] = len({i for ids in listed.values() for i in ids})
    out["entries"] = dict(listed)
    return out


def _skip_counts(samples: list[dict], extra_predictions: int) -> dict:
    return {
        "missing_predictions": sum(s["prediction_status"] == "missing" for s in samples),
        "failed_predictions": sum(s["prediction_status"] == "failed" for s in samples),
        "unparsable_answers": sum(s["answer_status"] == "unparsable" for s in samples),
        "no_gt_segments": sum(s["temporal_iou"] is None for s in samples),
        "extra_predictions": extra_predictions,
    }


def _round(metrics: dict, ndigits: int = 4) -> dict:
    return {k: round(v, ndigits) if isinstance(v, float) else v for k, v in metrics.items()}


def _mask_metrics(results: list[dict], per_sample: dict) -> dict:
    scored = [r for r in results if r["status"] in ("ok", "error")]
    for r in scored:
        sample = per_sample[r["entry_id"]]
        sample["spatial_j"], sample["spatial_f"] = r["J"], r["F"]
        sample["spatial_jf"] = (r["J"] + r["F"]) / 2
    n = len(scored)
    j = 100 * sum(r["J"] for r in scored) / n if n else 0.0
    f = 100 * sum(r["F"] for r in scored) / n if n else 0.0
    return {
        "J": j, "F": f, "J&F": (j + f) / 2, "num_entries": n,
        "total_masks": sum(r["frames"] for r in scored),
        "no_gt_masks": sum(r["status"] == "no_gt" for r in results),
        "mask_errors": {r["entry_id"]: r["error"] for r in results if r["status"] == "error"},
    }  # fmt: skip


def evaluate_gen(gt_file, predictions, *, protocol: str = "evqa", eval_masks: bool = False, gt_mask_dir=None,
                 pred_mask_dir=None, num_workers: int = 1, progress: bool = True,
                 mask_mode: str = "concat") -> dict:  # fmt: skip
    """Score generative predictions against `st_evidence_gen.csv`.

    Args:
        gt_file: the GT CSV path (or an already loaded list of GenEntry).
        predictions: a prediction file path (JSON / JSONL) or an in-memory {entry_id: record} dict.
        protocol: 'evqa' (default; every score in [0, 1]) or 'upstream' (the published evaluator's numbers).
        eval_masks: also score J / F / J&F from `gt_mask_dir` vs `pred_mask_dir` (default: the upstream
            `<pred_file>/<mask_mode>` folder).
        num_workers: processes for mask scoring.
    Returns:
        The results dict (percentages x100); see the module docstring.
    """
    if protocol not in PROTOCOLS:
        raise ConfigError(
            f"unknown protocol {protocol!r} (choose {' or '.join(PROTOCOLS)})", field="--protocol"
        )
    if eval_masks:  # the pool's process server imports while the answers and segments are scored
        from evqa.eval.mask_scoring import start_pool_server

        start_pool_server(num_workers)
    if protocol == "upstream":
        from evqa.eval.upstream import evaluate_gen_upstream

        return evaluate_gen_upstream(gt_file, predictions, eval_masks=eval_masks, gt_mask_dir=gt_mask_dir,
                                     pred_mask_dir=pred_mask_dir, num_workers=num_workers, progress=progress,
                                     mask_mode=mask_mode)  # fmt: skip
    entries, preds = load_inputs(gt_file, predictions)
    per_sample = {e.entry_id: _score_entry(e, preds.get(e.entry_id)) for e in entries}
    overall = _summary(list(per_sample.values()))
    samples = list(per_sample.values())
    results = {
        "protocol": "evqa",
        "metadata": run_metadata(gt_file, predictions, len(entries), len(preds)),
        "qa_metrics": _round({"accuracy": overall["accuracy"], "correct": sum(s["qa_correct"] for s in samples),
                              "total": len(entries)}),
        "temporal_metrics": _round({k: overall[k] for k in overall if k not in ("num_samples", "accuracy")}),
        "format_errors": _format_errors(per_sample),
        "skipped": _skip_counts(samples, len(set(preds) - {e.entry_id for e in entries})),
    }  # fmt: skip
    results["temporal_metrics"]["num_samples"] = len(entries) - results["skipped"]["no_gt_segments"]
    if eval_masks:
        results["mask_metrics"] = _run_masks(entries, preds, predictions, per_sample, gt_mask_dir, pred_mask_dir,
                                             mask_mode, num_workers, progress)  # fmt: skip
        results["skipped"]["no_gt_masks"] = results["mask_metrics"]["no_gt_masks"]
    for attr, key in (("source", "by_source"), ("category", "by_category")):
        if any(getattr(e, attr) for e in entries):
            results[key] = {k: _round(v) for k, v in _group_metrics(entries, per_sample, attr).items()}
    results["per_sample_scores"] = per_sample
    return results


def _run_masks(entries, preds, predictions, per_sample, gt_mask_dir, pred_mask_dir, mask_mode, num_workers,
               progress) -> dict:  # fmt: skip
    results, pred_root = score_entry_masks(entries, preds, predictions, "evqa", gt_mask_dir, pred_mask_dir,
                                           mask_mode, num_workers, progress)  # fmt: skip
    metrics = _mask_metrics(results, per_sample)
    metrics["pred_mask_dir"] = pred_root
    return _round(metrics)
