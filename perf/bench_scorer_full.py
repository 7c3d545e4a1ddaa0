"""The full generative scorer at benchmark size: ~1,300 entries x 180 frames of 480p masks, 2 workers.

    python perf/bench_scorer_full.py [--entries 1300 --frames 180 --workers 2]

Synthesises, under a temporary folder, a GT CSV, upstream-format predictions and GT / predicted masks in
the RLE JSON layout (each entry one moving object; the prediction is off by a few pixels), then times
`evaluate_gen(..., eval_masks=True, num_workers=N)` end to end (reading, decoding, J/F, aggregation).
To keep synthesis short the per-frame masks come from a pool of pre-encoded trajectories; scoring still
decodes and scores every frame of every entry.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import tempfile
import time

import numpy as np
from tqdm import tqdm

from evqa.data.masks import rle_encode
from evqa.eval.report import format_table
from evqa.eval.st_evidence import evaluate_gen

H, W = 480, 854


def trajectory(rng: np.random.Generator, frames: int) -> tuple[list[dict], list[dict]]:
    """RLEs of one object moving across `frames` frames (GT) and a slightly wrong prediction of it."""
    yy, xx = np.ogrid[:H, :W]
    cy, cx = rng.uniform(120, H - 120), rng.uniform(150, 400)
    a, b = rng.uniform(30, 90, size=2)
    vx, vy = rng.uniform(0.5, 2.0), rng.uniform(-0.5, 0.5)
    gt, pred = [], []
    for t in range(frames):
        y, x = cy + vy * t, cx + vx * t
        gt.append(rle_encode(((yy - y) / a) ** 2 + ((xx - x) / b) ** 2 <= 1))
        dy, dx = rng.normal(0, 3, size=2)
        pred.append(rle_encode(((yy - y - dy) / (a * 0.95)) ** 2 + ((xx - x - dx) / b) ** 2 <= 1))
    return gt, pred


def _write_rle(path: str, entry_id: str, rles: list[dict]) -> None:
    frames = {str(6 * t): rle for t, rle in enumerate(rles)}
    with open(path, "w") as fh:
        json.dump({"entry_id": entry_id, "fps": 6.0, "size": [H, W], "frames": frames}, fh)


def synthesise(root: str, entries: int, frames: int, pool: int, seed: int = 0) -> tuple[str, str]:
    rng = np.random.default_rng(seed)
    pooled = [trajectory(rng, frames) for _ in tqdm(range(pool), desc="encoding trajectories")]
    os.makedirs(os.path.join(root, "gt"))
    os.makedirs(os.path.join(root, "pred"))
    csv_path, pred_path, preds = os.path.join(root, "gt.csv"), os.path.join(root, "pred.json"), {}
    with open(csv_path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["entry_id", "video_id", "video_path", "question", "answer", "candidates", "segment"])
        for i in tqdm(range(entries), desc="writing entries"):
            entry_id = f"e{i:05d}"
            gt, pred = pooled[i % pool]
            _write_rle(os.path.join(root, "gt", f"{entry_id}.json"), entry_id, gt)
            _write_rle(os.path.join(root, "pred", f"{entry_id}.json"), entry_id, pred)
            writer.writerow(
                [
                    entry_id,
                    f"v{i}",
                    f"v{i}.mp4",
                    "What moves?",
                    "A ball",
                    "['A ball', 'A cup']",
                    "[[1.0, 9.0]]",
                ]
            )
            preds[entry_id] = {
                "parsed_response": {"answer": "AB"[i % 2], "segments": [[2.0, 10.0]]},
                "error": None,
            }
    with open(pred_path, "w") as fh:
        json.dump(preds, fh)
    return csv_path, pred_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1300)
    parser.add_argument("--frames", type=int, default=180)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pool", type=int, default=24, help="distinct trajectories to reuse")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        start = time.perf_counter()
        csv_path, pred_path = synthesise(root, args.entries, args.frames, args.pool)
        print(
            f"synthesised {args.entries} entries x {args.frames} frames in {time.perf_counter() - start:.1f} s"
        )
        start = time.perf_counter()
        results = evaluate_gen(csv_path, pred_path, eval_masks=True, gt_mask_dir=os.path.join(root, "gt"),
                               pred_mask_dir=os.path.join(root, "pred"), num_workers=args.workers)  # fmt: skip
        seconds = time.perf_counter() - start
    print(format_table(results))
    frames = results["mask_metrics"]["total_masks"]
    print(f"\nscored {args.entries} entries / {frames} mask frames ({H}x{W}) with {args.workers} workers "
          f"in {seconds:.1f} s ({frames / seconds:.0f} frames/s)")  # fmt: skip


if __name__ == "__main__":
    main()
