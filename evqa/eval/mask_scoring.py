"""Per-entry J / F scoring of predicted masks against GT masks, in a process pool.

Each task scores one entry and returns a plain dict, so a worker needs only the two mask roots. Mask IO
goes through `evqa.data.masks.MaskStore` (RLE JSON, upstream PNG and GT PNG layouts).

evqa:     frames = the entry's annotated GT frames; a frame without a predicted mask is an empty
          prediction; predicted-only frames are ignored; entries without GT masks are excluded.
upstream: frames = the predicted frames; a missing GT frame is an empty GT; entries without GT masks are
          dropped; no predicted masks -> J = F = 0; the frame rule of `jaccard_and_boundary_f_upstream`.
Either way a per-entry error (unreadable file, size mismatch) scores that entry 0 and is reported.
"""

from __future__ import annotations

import multiprocessing
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from evqa.data.masks import MaskStore
from evqa.errors import EvqaError
from evqa.metrics.masks import jaccard_and_boundary_f, jaccard_and_boundary_f_upstream


@dataclass(frozen=True)
class MaskTask:
    """What one worker needs to score one entry. `pred_folder` overrides the pred root (upstream
    `mask_folder`): a folder of `<frame:05d>.png`."""

    entry_id: str
    gt_root: str
    pred_root: str | None
    protocol: str
    pred_folder: str | None = None


_STORES: dict[str, MaskStore] = {}


def _store(root: str) -> MaskStore:
    if root not in _STORES:
        _STORES[root] = MaskStore(root)
    return _STORES[root]


def _pred_source(task: MaskTask) -> tuple[MaskStore | None, str]:
    """(store, key) of the predicted masks: a `mask_folder` is read as a PNG folder of its own."""
    if task.pred_folder:
        folder = Path(task.pred_folder)
        return _store(str(folder.parent)), folder.name
    if task.pred_root is None:
        return None, task.entry_id
    return _store(task.pred_root), task.entry_id


def _frames_scores(pairs) -> tuple[float, float, int]:
    js, fs = [], []
    for j, f in pairs:
        js.append(j)
        fs.append(f)
    if not js:
        return 0.0, 0.0, 0
    return float(np.mean(js)), float(np.mean(fs)), len(js)


def _score_evqa(task: MaskTask) -> dict:
    gt = _store(task.gt_root)
    frames = gt.frames(task.entry_id)
    if not frames:
        return {"entry_id": task.entry_id, "status": "no_gt"}
    pred, key = _pred_source(task)

    def pairs():
        for frame in frames:
            gt_mask = gt.load(task.entry_id, frame)
            pred_mask = pred.load(key, frame) if pred is not None else None
            if pred_mask is None:
                pred_mask = np.zeros_like(gt_mask)
            if pred_mask.shape != gt_mask.shape:
                raise ValueError(f"frame {frame}: predicted mask {pred_mask.shape} vs GT {gt_mask.shape}")
            yield jaccard_and_boundary_f(pred_mask, gt_mask)

    j, f, count = _frames_scores(pairs())
    return {"entry_id": task.entry_id, "status": "ok", "J": j, "F": f, "frames": count}


def _score_upstream(task: MaskTask) -> dict:
    gt = _store(task.gt_root)
    if not gt.has(task.entry_id):
        return {"entry_id": task.entry_id, "status": "no_gt"}
    pred, key = _pred_source(task)
    frames = pred.frames(key) if pred is not None else []
    if not frames:
        return {"entry_id": task.entry_id, "status": "ok", "J": 0.0, "F": 0.0, "frames": 0}

    def pairs():
        for frame in frames:
            pred_mask = pred.load(key, frame)
            gt_mask = gt.load(task.entry_id, frame)
            if gt_mask is None:
                gt_mask = np.zeros_like(pred_mask)
            if pred_mask.shape != gt_mask.shape:
                raise ValueError(f"frame {frame}: predicted mask {pred_mask.shape} vs GT {gt_mask.shape}")
            yield jaccard_and_boundary_f_upstream(pred_mask, gt_mask)

    j, f, count = _frames_scores(pairs())
    return {"entry_id": task.entry_id, "status": "ok", "J": j, "F": f, "frames": count}


def score_entry(task: MaskTask) -> dict:
    """Score one entry. Returns {entry_id, status: 'ok'|'no_gt'|'error', J, F (0..1), frames, error?}."""
    try:
        return _score_upstream(task) if task.protocol == "upstream" else _score_evqa(task)
    except (EvqaError, ValueError, OSError) as err:
        return {
            "entry_id": task.entry_id,
            "status": "error",
            "J": 0.0,
            "F": 0.0,
            "frames": 0,
            "error": str(err),
        }
    finally:  # each entry is read once: keep worker memory flat over a 1,300-entry run
        _store(task.gt_root).forget(task.entry_id)
        store, key = _pred_source(task)
        if store is not None:
            store.forget(key)


def _one_thread() -> None:
    """Pool workers are the parallelism: OpenCV's own threads would only oversubscribe the cores."""
    import cv2

    cv2.setNumThreads(1)


def _pool_context():
    """A multiprocessing context whose workers never inherit a parent's locked mutexes.

    `fork` copies the parent mid-flight: once OpenCV (or BLAS, tqdm's monitor, ...) has run threads in the
    parent, a child can inherit a lock that no thread will ever release and hang at 0 % CPU. `forkserver`
    forks workers from a fresh single-threaded server that has only imported this module (preloaded once,
    so a worker starts without re-importing NumPy / OpenCV); `spawn` where there is no fork at all."""
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" not in methods:
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([__name__])
    return ctx


def score_masks(tasks: list[MaskTask], *, num_workers: int = 1, progress: bool = True) -> list[dict]:
    """Score every task (in order), with `num_workers` processes when > 1; shows a progress bar.

    Pool results equal the serial ones: `score_entry` and the `MaskTask`s are module-level and picklable,
    and a worker keeps only a small per-root `MaskStore` cache between tasks."""
    bar = dict(total=len(tasks), desc="Scoring masks", unit="entry", disable=not progress)
    if num_workers <= 1 or len(tasks) < 2:
        return [score_entry(t) for t in tqdm(tasks, **bar)]
    workers = min(num_workers, len(tasks), os.cpu_count() or 1)
    chunksize = max(1, len(tasks) // (workers * 8))
    with _pool_context().Pool(workers, initializer=_one_thread) as pool:
        return list(tqdm(pool.imap(score_entry, tasks, chunksize=chunksize), **bar))
