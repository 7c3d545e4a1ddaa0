"""Additions to an ST-Evidence results JSON: units, the run header, evidence-backed accuracy and bootstrap CIs.

`add_gen_extras(results, entries)` adds, without touching any key the scorer wrote (upstream's numbers stay
as they are):

- `units`: {"qa_metrics", "temporal_metrics", "mask_metrics", "evidence_backed", "ci": "percent" (x100
  totals), "per_sample_scores": "fraction" (0-1 per entry)};
- `run`: the run header of the prediction file (its records' `meta`: model, checkpoint, sampling) when known;
- `evidence_backed`: NExT-GQA's Acc@GQA (`evqa.metrics.evidence`): an entry counts only if its answer is
  correct and its temporal IoP >= `iop_threshold`; `accuracy_masks` also asks for mask J >= `j_threshold`
  when masks were scored. An entry whose GT has no segments (or no masks) has no evidence of that kind to
  check; every other missing score fails. Over all GT entries, x100;
- `ci`: {metric: [low, high]}, the 95 % percentile-bootstrap CI (`evqa.metrics.stats`, 1,000 resamples, seed
  0, the GT entries resampled) of every headline metric that can be rebuilt from `per_sample_scores`:
  accuracy, mIoU, mIoP, t_mean, TIoU@/TIoP@ thresholds, J, F, J&F and the evidence-backed accuracies; the
  settings in `ci_settings`. A metric over a subset (temporal: entries with GT segments; masks: entries with
  GT masks) is a ratio of sums over the resampled entries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from evqa.metrics.evidence import DEFAULT_IOP_THRESHOLD, DEFAULT_J_THRESHOLD, evidence_backed_accuracy
from evqa.metrics.stats import N_RESAMPLES, SEED, bootstrap_ci, mean_statistic, ratio_of_sums

GEN_UNITS = {
    "qa_metrics": "percent",
    "temporal_metrics": "percent",
    "mask_metrics": "percent",
    "evidence_backed": "percent",
    "ci": "percent",
    "per_sample_scores": "fraction",
}
THRESHOLDS = (0.3, 0.5)
RUN_KEYS = ("adapter", "model", "checkpoint", "checkpoint_fingerprint", "fps", "num_frames", "max_frames",
            "max_size", "prompt_version", "endpoint")  # fmt: skip


def run_from_predictions(predictions: Mapping[str, Any]) -> dict[str, Any]:
    """The run header of a prediction file: its `__run__` record, else the recorded `meta` of its records."""
    header = predictions.get("__run__")
    if isinstance(header, dict):
        return dict(header)
    for record in predictions.values():
        meta = record.get("meta") if isinstance(record, dict) else None
        if isinstance(meta, dict) and (meta.get("model") or meta.get("adapter")):
            return {k: meta[k] for k in RUN_KEYS if k in meta}
    return {}


def _per_entry(results: Mapping[str, Any], entry_ids: Sequence[str]) -> dict[str, np.ndarray]:
    """Per-entry arrays over the GT entries; an entry the scorer left out (upstream: unpredicted) scores 0."""
    samples = results.get("per_sample_scores") or {}

    def values(key: str) -> np.ndarray:
        out = [samples.get(i, {}).get(key) for i in entry_ids]
        return np.array([np.nan if v is None else float(v) for v in out], dtype=np.float64)

    return {
        "correct": np.array(
            [bool(samples.get(i, {}).get("qa_correct")) for i in entry_ids], dtype=np.float64
        ),
        "iou": values("temporal_iou"),
        "iop": values("temporal_iop"),
        "j": values("spatial_j"),
        "f": values("spatial_f"),
    }


def _ratio(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """[N, 2] of (value x weight, weight) for `ratio_of_sums`; NaN values carry weight 0."""
    weights = weights & ~np.isnan(values)
    return np.stack([np.where(weights, values, 0.0), weights.astype(np.float64)], axis=1)


def _ci(values: np.ndarray, statistic, n_resamples: int, seed: int) -> list[float]:
    res = bootstrap_ci(values, statistic, n_resamples=n_resamples, seed=seed)
    return [round(100 * res.low, 4), round(100 * res.high, 4)]


def gen_extras(results: Mapping[str, Any], entries: Sequence[Any], *, predictions: Mapping[str, Any] | None = None,
               iop_threshold: float = DEFAULT_IOP_THRESHOLD, j_threshold: float = DEFAULT_J_THRESHOLD,
               n_resamples: int = N_RESAMPLES, seed: int = SEED) -> dict[str, Any]:  # fmt: skip
    """The added keys (module doc) for a results dict of `evaluate_gen` (either protocol) on `entries`
    (the GT `GenEntry`s, in order); `predictions` ({entry_id: record}) gives the run header."""
    ids = [e.entry_id for e in entries]
    x = _per_entry(results, ids)
    has_t = np.array([bool(e.segments) for e in entries], dtype=bool)
    masks = bool(results.get("mask_metrics"))
    has_j = ~np.isnan(x["j"])
    upstream = results.get("protocol") == "upstream"
    iop = np.where(np.isnan(x["iop"]) & ~has_t, np.nan, np.nan_to_num(x["iop"]) if upstream else x["iop"])
    eba = evidence_backed_accuracy(
        x["correct"] > 0, iop.tolist(), iop_threshold=iop_threshold, has_gt_t=has_t
    )
    block: dict[str, Any] = {
        "accuracy": round(100 * eba.accuracy, 4) if ids else 0.0,
        "correct": int(eba.passed.sum()),
        "total": len(ids),
        "iop_threshold": iop_threshold,
    }
    passed_masks = None
    if masks:
        ebm = evidence_backed_accuracy(x["correct"] > 0, iop.tolist(), x["j"].tolist(), iop_threshold=iop_threshold,
                                       j_threshold=j_threshold, has_gt_t=has_t, has_gt_j=has_j)  # fmt: skip
        passed_masks = ebm.passed
        block.update(accuracy_masks=round(100 * ebm.accuracy, 4) if ids else 0.0,
                     correct_masks=int(ebm.passed.sum()), j_threshold=j_threshold)  # fmt: skip
    out: dict[str, Any] = {"units": dict(GEN_UNITS), "evidence_backed": block}
    run = run_from_predictions(predictions or {})
    if run:
        out["run"] = run
    if not ids:
        return out
    # the temporal means run over the entries the scorer averaged: evqa those with GT segments, upstream all
    timed = np.ones(len(ids), dtype=bool) if upstream else has_t
    iou = np.nan_to_num(x["iou"]) if upstream else x["iou"]
    iop_all = np.nan_to_num(x["iop"]) if upstream else x["iop"]
    ci = {"accuracy": _ci(x["correct"], mean_statistic, n_resamples, seed)}
    ci["mIoU"] = _ci(_ratio(iou, timed), ratio_of_sums, n_resamples, seed)
    ci["mIoP"] = _ci(_ratio(iop_all, timed), ratio_of_sums, n_resamples, seed)
    ci["t_mean"] = _ci(_ratio((iou + iop_all) / 2, timed), ratio_of_sums, n_resamples, seed)
    for tau in THRESHOLDS:
        ci[f"TIoU@{tau}"] = _ci(_ratio(np.where(np.isnan(iou), np.nan, iou >= tau), timed), ratio_of_sums,
                                n_resamples, seed)  # fmt: skip
        ci[f"TIoP@{tau}"] = _ci(_ratio(np.where(np.isnan(iop_all), np.nan, iop_all >= tau), timed),
                                ratio_of_sums, n_resamples, seed)  # fmt: skip
    # masks: the per-entry J / F of every entry the mask mean ran over (upstream leaves unpredicted ones out)
    if masks and int(has_j.sum()) == int(results["mask_metrics"].get("num_entries", -1)):
        ci["J"] = _ci(_ratio(x["j"], has_j), ratio_of_sums, n_resamples, seed)
        ci["F"] = _ci(_ratio(x["f"], has_j), ratio_of_sums, n_resamples, seed)
        ci["J&F"] = _ci(_ratio((x["j"] + x["f"]) / 2, has_j), ratio_of_sums, n_resamples, seed)
    ci["evidence_backed"] = _ci(eba.passed.astype(np.float64), mean_statistic, n_resamples, seed)
    if passed_masks is not None:
        ci["evidence_backed_masks"] = _ci(passed_masks.astype(np.float64), mean_statistic, n_resamples, seed)
    out["ci"] = ci
    out["ci_settings"] = {"confidence": 0.95, "n_resamples": n_resamples, "seed": seed, "method": "percentile",
                          "resampled": "GT entries"}  # fmt: skip
    return out


def add_gen_extras(results: dict, gt_file, predictions=None, **options) -> dict:
    """`results` with `gen_extras` added in place (GT from `gt_file`: a CSV path or GenEntry list;
    `predictions`: a prediction file path or {entry_id: record}). Returns `results`."""
    from evqa.eval.gen_inputs import load_inputs

    entries, preds = load_inputs(gt_file, predictions if predictions is not None else {})
    for key, value in gen_extras(results, entries, predictions=preds, **options).items():
        results.setdefault(key, value)
    return results


MCQ_TASKS = (("qa", "qa", "answer"), ("time_evidence", "temporal", "time_answer"),
             ("spatial_evidence", "spatial", "mask_answer"))  # fmt: skip
MCQ_UNITS = {"qa": "percent", "temporal": "percent", "spatial": "percent", "overall_accuracy": "percent",
             "evidence_backed": "percent", "ci": "percent"}  # fmt: skip


def mcq_extras(results: Mapping[str, Any], entries: Sequence[Any], *, predictions: Mapping[str, Any] | None = None,
               n_resamples: int = N_RESAMPLES, seed: int = SEED) -> dict[str, Any]:  # fmt: skip
    """Units, run header, evidence-backed accuracy and CIs for an `evaluate_mcq` results dict on `entries`
    (`McqEntry`s). Evidence-backed: the qa answer is right and so is every evidence task the entry has GT
    for (time_evidence, spatial_evidence), over the entries with a qa GT; CIs resample the entries."""
    has = np.array([[getattr(e, attr) is not None for _, _, attr in MCQ_TASKS] for e in entries], dtype=bool)
    right = [set(results[key].get("correct_entries", [])) for _, key, _ in MCQ_TASKS]
    ok = np.array([[e.entry_id in r for r in right] for e in entries], dtype=bool).reshape(-1, 3)
    has = has.reshape(-1, 3)
    eb = has[:, 0] & ok[:, 0] & (ok[:, 1] | ~has[:, 1]) & (ok[:, 2] | ~has[:, 2])
    n_qa = int(has[:, 0].sum())
    out: dict[str, Any] = {"units": dict(MCQ_UNITS), "evidence_backed": {
        "accuracy": round(100 * int(eb.sum()) / n_qa, 4) if n_qa else 0.0, "correct": int(eb.sum()), "total": n_qa,
        "rule": "qa right and every evidence task with GT right"}}  # fmt: skip
    run = run_from_predictions(predictions or {})
    if run:
        out["run"] = run
    if not len(entries):
        return out
    ci = {}
    for k, (task, _, _) in enumerate(MCQ_TASKS):
        if has[:, k].any():
            ci[task] = _ci(_ratio(ok[:, k].astype(np.float64), has[:, k]), ratio_of_sums, n_resamples, seed)
    ci["overall"] = _ci(np.stack([ok.sum(axis=1), has.sum(axis=1)], axis=1).astype(np.float64), ratio_of_sums,
                        n_resamples, seed)  # fmt: skip
    if n_qa:
        ci["evidence_backed"] = _ci(
            _ratio(eb.astype(np.float64), has[:, 0]), ratio_of_sums, n_resamples, seed
        )
    out["ci"] = ci
    out["ci_settings"] = {"confidence": 0.95, "n_resamples": n_resamples, "seed": seed, "method": "percentile",
                          "resampled": "GT entries"}  # fmt: skip
    return out


def add_mcq_extras(
    results: dict, data_file, distractors_file=None, mask_file=None, predictions=None, **options
):
    """`results` with `mcq_extras` added in place (GT from the MCQ data files). Returns `results`."""
    from evqa.data.st_evidence import load_mcq_benchmark
    from evqa.eval.predictions import load_predictions

    entries = load_mcq_benchmark(data_file, distractors_file, mask_file)
    preds = (
        predictions if isinstance(predictions, dict) or predictions is None else load_predictions(predictions)
    )
    for key, value in mcq_extras(results, entries, predictions=preds, **options).items():
        results.setdefault(key, value)
    return results
