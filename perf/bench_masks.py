"""J+F speed: evqa.metrics.masks against DAVIS-style reference formulas on the same 480p masks.

    python perf/bench_masks.py [--frames 60] [--repeats 3] [--entries 48 --entry_frames 30]

Part 1 times one frame on one core (OpenCV limited to one thread) for
  * davis2017:  the DAVIS 2017 toolkit formula — full-frame seg2bmap, disk dilation by binary_dilation
                (scipy.ndimage, the routine skimage.morphology.binary_dilation wraps);
  * davis-cv2:  the later variant that the upstream ST-Evidence evaluator uses — the same but cv2.dilate;
  * evqa:       `jaccard_and_boundary_f` (bounding-box crop, exact disk, cv2).
It checks that all three give identical J and F (to 1e-12) and prints per-frame times and ratios.
Part 2 times the full mask scorer (RLE files on disk -> decode -> J/F -> means) with 1, 2, ... workers.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import cv2
import numpy as np
from scipy.ndimage import binary_dilation
from tqdm import tqdm

from evqa.data.masks import write_rle_json
from evqa.eval.mask_scoring import MaskTask, score_masks
from evqa.metrics.masks import jaccard_and_boundary_f

H, W = 480, 854


def reference_seg2bmap(seg: np.ndarray) -> np.ndarray:
    """The DAVIS formula, written as the toolkit does: three shifted full-frame copies."""
    seg = seg.astype(bool)
    e, s, se = np.zeros_like(seg), np.zeros_like(seg), np.zeros_like(seg)
    e[:, :-1], s[:-1, :], se[:-1, :-1] = seg[:, 1:], seg[1:, :], seg[1:, 1:]
    b = seg ^ e | seg ^ s | seg ^ se
    b[-1, :] = seg[-1, :] ^ e[-1, :]
    b[:, -1] = seg[:, -1] ^ s[:, -1]
    b[-1, -1] = 0
    return b


def reference_disk(radius: float) -> np.ndarray:
    grid = np.arange(-radius, radius + 1)
    x, y = np.meshgrid(grid, grid)
    return (x**2 + y**2 <= radius**2).astype(np.uint8)


def reference_jf(pred: np.ndarray, gt: np.ndarray, use_cv2: bool) -> tuple[float, float]:
    """J (db_eval_iou) and F (db_eval_boundary, bound_th=0.008) on the full frame."""
    pred, gt = pred.astype(bool), gt.astype(bool)
    union = np.sum(pred | gt)
    j = 1.0 if union == 0 else np.sum(pred & gt) / union
    bound_pix = np.ceil(0.008 * np.linalg.norm(pred.shape))
    fg, gb = reference_seg2bmap(pred), reference_seg2bmap(gt)
    kernel = reference_disk(bound_pix)
    if use_cv2:
        fg_dil, gt_dil = cv2.dilate(fg.astype(np.uint8), kernel), cv2.dilate(gb.astype(np.uint8), kernel)
    else:
        fg_dil, gt_dil = binary_dilation(fg, kernel.astype(bool)), binary_dilation(gb, kernel.astype(bool))
    n_fg, n_gt = np.sum(fg), np.sum(gb)
    if n_fg == 0 and n_gt > 0:
        precision, recall = 1, 0
    elif n_fg > 0 and n_gt == 0:
        precision, recall = 0, 1
    elif n_fg == 0 and n_gt == 0:
        precision, recall = 1, 1
    else:
        precision, recall = np.sum(fg * gt_dil) / float(n_fg), np.sum(gb * fg_dil) / float(n_gt)
    f = 0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return float(j), float(f)


def make_pair(rng: np.random.Generator, t: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A GT object (one or two ellipses) and a prediction that is off by a few px."""
    yy, xx = np.ogrid[:H, :W]
    gt = np.zeros((H, W), bool)
    pred = np.zeros((H, W), bool)
    for _ in range(rng.integers(1, 3)):
        cy, cx = rng.integers(60, H - 60), rng.integers(80, W - 80) + 20 * t
        a, b = rng.integers(25, 110, size=2)
        gt |= ((yy - cy) / a) ** 2 + ((xx - cx) / b) ** 2 <= 1
        dy, dx, da = rng.normal(0, 4, size=3)
        pred |= ((yy - cy - dy) / max(5, a + da)) ** 2 + ((xx - cx - dx) / b) ** 2 <= 1
    return pred, gt


def bench_frames(frames: int, repeats: int) -> None:
    cv2.setNumThreads(1)
    rng = np.random.default_rng(0)
    pairs = [make_pair(rng) for _ in range(frames)]
    methods = {
        "davis2017 (binary_dilation)": lambda p, g: reference_jf(p, g, use_cv2=False),
        "davis-cv2 (upstream)": lambda p, g: reference_jf(p, g, use_cv2=True),
        "evqa": jaccard_and_boundary_f,
    }
    values = {name: [fn(p, g) for p, g in pairs] for name, fn in methods.items()}
    worst = max(abs(a - b) for v in values.values() for x, y in zip(v, values["evqa"], strict=True)
                for a, b in zip(x, y, strict=True))  # fmt: skip
    best = dict.fromkeys(methods, float("inf"))
    for _ in tqdm(range(repeats), desc="timing J+F", unit="round"):
        for name, fn in methods.items():  # interleaved, best of `repeats`: robust to a busy machine
            start = time.perf_counter()
            for p, g in pairs:
                fn(p, g)
            best[name] = min(best[name], (time.perf_counter() - start) / frames)
    print(f"\nJ+F per {H}x{W} frame, one core, {frames} frames, best of {repeats}; "
          f"max |difference| to evqa = {worst:.1e}")  # fmt: skip
    print(f"{'method':<30}{'ms/frame':>10}{'evqa speed-up':>15}")
    for name, seconds in best.items():
        print(f"{name:<30}{1e3 * seconds:>10.3f}{seconds / best['evqa']:>14.1f}x")


def write_entries(root: str, entries: int, frames: int) -> list[str]:
    """GT and predicted RLE files for `entries` x `frames` 480p masks (one moving object per entry)."""
    rng = np.random.default_rng(1)
    ids = [f"e{i:04d}" for i in range(entries)]
    for entry_id in tqdm(ids, desc="writing RLE masks", unit="entry"):
        pairs = [make_pair(rng, t) for t in range(frames)]
        write_rle_json(
            os.path.join(root, "gt", f"{entry_id}.json"),
            entry_id,
            {6 * t: g for t, (_, g) in enumerate(pairs)},
        )
        write_rle_json(
            os.path.join(root, "pred", f"{entry_id}.json"),
            entry_id,
            {6 * t: p for t, (p, _) in enumerate(pairs)},
        )
    return ids


def bench_workers(entries: int, frames: int, max_workers: int) -> None:
    with tempfile.TemporaryDirectory() as root:
        ids = write_entries(root, entries, frames)
        tasks = [MaskTask(i, os.path.join(root, "gt"), os.path.join(root, "pred"), "evqa") for i in ids]
        print(f"\nfull mask scorer, {entries} entries x {frames} frames of {H}x{W} RLE masks")
        print(f"{'workers':<10}{'seconds':>10}{'frames/s':>10}{'speed-up':>10}")
        base = None
        for workers in range(1, max_workers + 1):
            start = time.perf_counter()
            score_masks(tasks, num_workers=workers, progress=False)
            seconds = time.perf_counter() - start
            base = base or seconds
            print(f"{workers:<10}{seconds:>10.2f}{entries * frames / seconds:>10.0f}{base / seconds:>9.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60, help="mask pairs timed per method (0: skip)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--entries", type=int, default=48, help="entries for the --num_workers scaling run (0: skip)"
    )
    parser.add_argument("--entry_frames", type=int, default=30)
    parser.add_argument("--max_workers", type=int, default=min(4, os.cpu_count() or 1))
    args = parser.parse_args()
    if args.frames > 0:
        bench_frames(args.frames, args.repeats)
    if args.entries > 0:
        bench_workers(args.entries, args.entry_frames, args.max_workers)


if __name__ == "__main__":
    main()
