"""Per-entry J / F scoring of predicted masks against GT masks, in a process pool.

Each task scores one entry and returns a plain dict, so a worker needs only the two mask roots. Mask IO
goes through `evqa.data.masks.MaskStore` (RLE JSON, upstream PNG and GT PNG layouts).

evqa:     frames = the entry's annotated GT frames; a frame without a predicted mask is an empty
          prediction; predicted-only frames are ignored; entries without GT masks are excluded.
          A per-entry error (unreadable file, size mismatch) scores that entry 0 and is reported.
upstream: the published evaluator's discovery and pairing: predictions are every `*.png` in
          `<pred root>/<id>/masks/` (or in the record's `mask_folder`, relative to the working directory),
          each paired with the GT file of the same name (a missing or unreadable GT file is an empty GT);
          entries without a GT folder are dropped; no prediction folder or PNGs -> J = F = 0; an unreadable
          predicted PNG is skipped (an entry whose PNGs are all unreadable drops out, status 'dropped');
          a size mismatch where both masks are non-empty is status 'abort' (upstream loses every mask
          metric then). Masks that only EVQA's lenient layouts would find are reported in `note`.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from evqa.data.masks import MaskStore, read_mask_png
from evqa.errors import DataError, EvqaError
from evqa.metrics.masks import jaccard_and_boundary_f, jaccard_and_boundary_f_upstream
from evqa.paths import child_path


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


def _lenient_only(task: MaskTask) -> str | None:
    """Why EVQA's lenient layouts would find predicted masks here that the published evaluator cannot."""
    if task.pred_folder or task.pred_root is None:
        return None
    if child_path(task.pred_root, f"{task.entry_id}.json").is_file():
        return "rle_json"
    folder = child_path(task.pred_root, task.entry_id)
    if folder.is_dir() and any(folder.glob("*.png")):
        return "png_without_masks_folder"
    return None


def _upstream_gt(gt: MaskStore, entry_id: str, name: str, like: np.ndarray) -> np.ndarray:
    """The GT mask paired with predicted file `name`: the GT file of the same name (an RLE GT file's frame
    of that number); missing or unreadable -> an empty mask of the prediction's shape."""
    found = gt.png_frames(entry_id)
    if found is not None:
        path = found[0] / name
        try:
            return read_mask_png(path) if path.is_file() else np.zeros_like(like)
        except DataError:
            return np.zeros_like(like)
    stem = name[:-4]
    mask = gt.load(entry_id, int(stem)) if stem.isdigit() else None
    return mask if mask is not None else np.zeros_like(like)


def _score_upstream(task: MaskTask) -> dict:
    gt = _store(task.gt_root)
    if not gt.has(task.entry_id):
        return {"entry_id": task.entry_id, "status": "no_gt"}
    if task.pred_folder:
        folder = Path(task.pred_folder)
    elif task.pred_root is not None:
        folder = child_path(task.pred_root, task.entry_id, "masks")
    else:
        folder = None
    files = sorted(folder.glob("*.png")) if folder is not None and folder.exists() else []
    if not files:
        out = {"entry_id": task.entry_id, "status": "ok", "J": 0.0, "F": 0.0, "frames": 0}
        note = _lenient_only(task)
        return {**out, "note": note} if note else out
    js, fs, unreadable = [], [], 0
    for path in files:
        try:
            pred_mask = read_mask_png(path)
        except DataError:
            unreadable += 1
            continue
        gt_mask = _upstream_gt(gt, task.entry_id, path.name, pred_mask)
        if pred_mask.shape != gt_mask.shape and pred_mask.any() and gt_mask.any():
            return {"entry_id": task.entry_id, "status": "abort",
                    "error": f"{path.name}: predicted mask {pred_mask.shape} vs GT {gt_mask.shape}"}  # fmt: skip
        j, f = jaccard_and_boundary_f_upstream(pred_mask, gt_mask)
        js.append(j)
        fs.append(f)
    if not js:
        return {"entry_id": task.entry_id, "status": "dropped", "unreadable": unreadable}
    out = {"entry_id": task.entry_id, "status": "ok", "J": float(np.mean(js)), "F": float(np.mean(fs)),
           "frames": len(js)}  # fmt: skip
    return {**out, "unreadable": unreadable} if unreadable else out


def score_entry(task: MaskTask) -> dict:
    """Score one entry. Returns {entry_id, status: 'ok'|'no_gt'|'error', J, F (0..1), frames, error?}."""
    try:
        return _score_upstream(task) if task.protocol == "upstream" else _score_evqa(task)
    except (EvqaError, ValueError, OSError) as err:  # upstream: only an id that escapes its folder
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
        if task.protocol != "upstream":
            store, key = _pred_source(task)
            if store is not None:
                store.forget(key)


def _one_thread() -> None:
    """Pool workers are the parallelism: OpenCV's own threads would only oversubscribe the cores."""
    import cv2

    cv2.setNumThreads(1)


def _score_chunk(chunk: list[MaskTask]) -> list[dict]:
    return [score_entry(t) for t in chunk]


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


def start_pool_server(num_workers: int) -> None:
    """Start the pool's process server now, without waiting for it, when `num_workers` > 1: it imports this
    module (~0.3 s) while the caller does other work, and `score_masks` later forks its workers from it."""
    if num_workers <= 1 or _pool_context().get_start_method() != "forkserver":
        return
    from multiprocessing import forkserver

    forkserver.ensure_running()


def score_masks(tasks: list[MaskTask], *, num_workers: int = 1, progress: bool = True) -> list[dict]:
    """Score every task (in order), with `num_workers` processes when > 1; shows a progress bar.

    With N workers this process is one of them: it scores chunks of tasks itself while N - 1 pool processes
    start and take chunks as they free up (each holds at most two chunks ahead), so no core idles during the
    pool's start-up. Pool results equal the serial ones: `score_entry` and the `MaskTask`s are module-level
    and picklable, and a process keeps only a small per-root `MaskStore` cache between tasks."""
    bar = dict(total=len(tasks), desc="Scoring masks", unit="entry", disable=not progress)
    workers = min(num_workers, len(tasks), os.cpu_count() or 1)
    if workers <= 1:
        return [score_entry(t) for t in tqdm(tasks, **bar)]
    size = max(1, len(tasks) // (workers * 8))
    chunks = deque((i, tasks[i : i + size]) for i in range(0, len(tasks), size))
    results: list[dict | None] = [None] * len(tasks)
    pending: deque = deque()

    def keep(start: int, scored: list[dict]) -> None:
        results[start : start + len(scored)] = scored
        bar_.update(len(scored))

    import cv2

    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)  # this process is one worker too
    try:
        with _pool_context().Pool(workers - 1, initializer=_one_thread) as pool, tqdm(**bar) as bar_:
            while chunks or pending:
                while chunks and len(pending) < 2 * (workers - 1):
                    start, chunk = chunks.popleft()
                    pending.append((start, pool.apply_async(_score_chunk, (chunk,))))
                while pending and pending[0][1].ready():
                    start, done = pending.popleft()
                    keep(start, done.get())
                if chunks:  # this process takes from the far end, the pool from the near one
                    start, chunk = chunks.pop()
                    keep(start, _score_chunk(chunk))
                elif pending:
                    start, done = pending.popleft()
                    keep(start, done.get())
    finally:
        cv2.setNumThreads(threads)
    return results  # type: ignore[return-value]
