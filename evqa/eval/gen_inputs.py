"""Shared by both generative protocols: GT and prediction loading, run metadata, and the mask pool run."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

from evqa.data.st_evidence import GenEntry, load_gen_benchmark
from evqa.errors import ConfigError, PredictionError
from evqa.eval.mask_scoring import MaskTask, score_masks
from evqa.eval.predictions import load_predictions


def load_inputs(gt_file, predictions) -> tuple[list[GenEntry], dict[str, dict]]:
    """(GT entries, {entry_id: record}) from paths, or passed through when already loaded.

    Raises PredictionError when predictions exist but none has an entry_id of the GT (a prediction file
    scored against the wrong benchmark would otherwise score 0 everywhere without a word).
    """
    entries = gt_file if isinstance(gt_file, list) else load_gen_benchmark(gt_file)
    preds = predictions if isinstance(predictions, dict) else load_predictions(predictions)
    if entries and preds and not any(e.entry_id in preds for e in entries):
        where = None if isinstance(predictions, dict) else predictions
        gt_name = "the GT entries" if isinstance(gt_file, list) else gt_file
        raise PredictionError(f"no prediction matches an entry_id of {gt_name}", path=where)
    return entries, preds


def run_metadata(gt_file, predictions, num_gt: int, num_pred: int) -> dict:
    """The `metadata` block of a results JSON (file names, counts, UTC timestamp)."""
    return {
        "gt_file": str(gt_file) if not isinstance(gt_file, list) else None,
        "pred_file": str(predictions) if not isinstance(predictions, dict) else None,
        "num_samples": num_gt,
        "num_predictions": num_pred,
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def resolve_pred_mask_dir(pred_file, pred_mask_dir, mask_mode: str = "concat") -> str | None:
    """Upstream default: `<pred_file without .json>/<concat|seperate>` when --pred_mask_dir is not given."""
    if pred_mask_dir is not None:
        return str(pred_mask_dir)
    if pred_file is None:
        return None
    sub = {"concat": "concat", "seperate": "seperate", "separate": "seperate"}.get(mask_mode)
    if sub is None:
        raise ConfigError(f"unknown mask mode {mask_mode!r} (concat or seperate)", field="--mask_mode")
    base = str(pred_file)
    for suffix in (".jsonl", ".json"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    return os.path.join(base, sub)


def record_mask_folder(record, protocol: str) -> str | None:
    """A record's own mask folder: `mask_folder` (both protocols, as the original) or the upstream README's
    top-level `mask_dir` (evqa protocol only; the original never reads it)."""
    if not isinstance(record, dict):
        return None
    keys = ("mask_folder",) if protocol == "upstream" else ("mask_folder", "mask_dir")
    folder = next((record[k] for k in keys if isinstance(record.get(k), str) and record[k]), None)
    return folder


def _mask_tasks(entries, predictions, gt_mask_dir, pred_mask_dir, protocol) -> list[MaskTask]:
    tasks = []
    for entry in entries:
        folder = record_mask_folder(predictions.get(entry.entry_id), protocol)
        tasks.append(MaskTask(entry.entry_id, str(gt_mask_dir), pred_mask_dir, protocol,
                              str(folder) if isinstance(folder, str) and folder else None))  # fmt: skip
    return tasks


def score_entry_masks(entries, preds, predictions, protocol, gt_mask_dir, pred_mask_dir, mask_mode, num_workers,
                      progress) -> tuple[list[dict], str | None]:  # fmt: skip
    """Score every GT entry's masks with the pool; returns (per-entry results, predicted-mask root used).

    Raises ConfigError when the GT mask folder is not given or does not exist, and when the predicted-mask
    folder does not exist and no record names a folder of its own.
    """
    if gt_mask_dir is None:
        raise ConfigError("--gt_mask_dir is required with --eval_masks", field="--gt_mask_dir")
    if not Path(gt_mask_dir).is_dir():
        raise ConfigError(f"GT mask folder not found: {gt_mask_dir}", field="--gt_mask_dir")
    pred_file = predictions if isinstance(predictions, (str, os.PathLike)) else None
    pred_root = resolve_pred_mask_dir(pred_file, pred_mask_dir, mask_mode)
    tasks = _mask_tasks(entries, preds, gt_mask_dir, pred_root, protocol)
    if not (pred_root is not None and Path(pred_root).is_dir()) and not any(t.pred_folder for t in tasks):
        what = "--pred_mask_dir" if pred_mask_dir is not None else "the default mask folder (--pred_mask_dir)"
        shown = pred_root if pred_root is not None else "(none: predictions are not a file)"
        raise ConfigError(f"predicted-mask folder not found: {shown} ({what})", field="--pred_mask_dir")
    return score_masks(tasks, num_workers=num_workers, progress=progress), pred_root
