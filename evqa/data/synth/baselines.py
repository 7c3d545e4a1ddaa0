"""Trivial-baseline prediction files for a benchmark, in the prediction format of DESIGN.md §2.3.

A baseline is a choice per evidence kind:
  answer   "random" (a letter drawn with a fixed seed) | "gt"
  segments "whole"  (the whole video)                 | "gt"
  masks    "full"   (every pixel of every frame)      | "empty" | "gt"
Predicted masks are written as one RLE JSON per entry (`evqa.data.masks` layout). The ground truth
itself ("oracle") must score 100 on every metric; the trivial ones must not.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from evqa.data.masks import MaskStore, write_rle_json
from evqa.data.synth.writers import BenchmarkItem
from evqa.io import write_json_atomic
from evqa.prompts import format_target, letter_of

# name -> (answer, segments, masks)
TRIVIAL_BASELINES: dict[str, tuple[str, str, str]] = {
    "oracle (GT)": ("gt", "gt", "gt"),
    "random + whole video + full frame": ("random", "whole", "full"),
    "random + whole video + empty mask": ("random", "whole", "empty"),
}


def slug(name: str) -> str:
    """A folder name for a baseline name ('random + whole video' -> 'random_whole_video')."""
    return "_".join("".join(c if c.isalnum() else " " for c in name.lower()).split())


def build_predictions(
    items: list[BenchmarkItem],
    *,
    answer: str = "random",
    segments: str = "whole",
    seed: int = 0,
    model: str = "baseline",
) -> dict[str, dict]:
    """{entry_id: prediction record} (DESIGN §2.3) with the chosen answer and segment rule."""
    rng = np.random.default_rng(seed)
    preds = {}
    for item in items:
        index = int(rng.integers(item.num_candidates)) if answer == "random" else item.answer_index
        segs = [[0.0, round(item.duration, 3)]] if segments == "whole" else [list(s) for s in item.segments]
        letter = letter_of(index)
        preds[item.entry_id] = {
            "video_id": item.video_id,
            "parsed_response": {
                "answer": letter,
                "segments": segs,
                "referring_expressions": [],
                "mask_path": f"masks/{item.entry_id}.json",
            },
            "raw_response": format_target(letter, segs, with_seg=False),
            "error": None,
            "meta": {"model": model, "fps": item.fps, "frames": list(range(item.num_frames))},
        }
    return preds


def build_masks(item: BenchmarkItem, kind: str, gt_store: MaskStore | None = None) -> dict[int, np.ndarray]:
    """{frame: bool [H, W]} for one entry: "full"/"empty" on every frame, or "gt" read from `gt_store`."""
    shape = (item.height, item.width)
    if kind == "full":
        return {f: np.ones(shape, dtype=bool) for f in range(item.num_frames)}
    if kind == "empty":
        return {f: np.zeros(shape, dtype=bool) for f in range(item.num_frames)}
    if kind == "gt":
        if gt_store is None:
            raise ValueError("gt masks need gt_store")
        return {f: gt_store.load(item.entry_id, f) for f in gt_store.frames(item.entry_id)}
    raise ValueError(f"unknown mask baseline '{kind}'")


def write_baseline(
    out_dir: str | os.PathLike,
    items: list[BenchmarkItem],
    rule: tuple[str, str, str],
    *,
    seed: int = 0,
    gt_mask_dir: str | os.PathLike | None = None,
    model: str = "baseline",
):
    """Write `<out_dir>/predictions.json` and `<out_dir>/masks/<entry_id>.json` for one rule.

    Returns (prediction file, mask folder).
    """
    answer, segments, masks = rule
    out_dir = Path(out_dir)
    store = MaskStore(gt_mask_dir) if gt_mask_dir is not None else None
    for item in items:
        write_rle_json(
            out_dir / "masks" / f"{item.entry_id}.json",
            item.entry_id,
            build_masks(item, masks, store),
            size=(item.height, item.width),
            fps=item.fps,
        )
    pred_file = out_dir / "predictions.json"
    write_json_atomic(
        pred_file, build_predictions(items, answer=answer, segments=segments, seed=seed, model=model)
    )
    return pred_file, out_dir / "masks"


def items_from_benchmark(
    gt_file: str | os.PathLike, video_dir: str | os.PathLike, gt_mask_dir: str | os.PathLike
) -> list[BenchmarkItem]:
    """BenchmarkItems of any generative benchmark on disk (CSV + videos + GT masks in either layout)."""
    from evqa.data.st_evidence import load_gen_benchmark
    from evqa.data.video import video_info

    store = MaskStore(gt_mask_dir)
    items = []
    for entry in load_gen_benchmark(gt_file):
        info = video_info(Path(video_dir) / entry.video_path)
        items.append(
            BenchmarkItem(
                entry.entry_id,
                entry.video_id,
                len(entry.candidates),
                entry.answer_index,
                [list(s) for s in entry.segments],
                info.num_frames,
                info.fps,
                info.height,
                info.width,
                tuple(store.frames(entry.entry_id)),
            )
        )
    return items


def write_trivial_baselines(
    baselines_dir: str | os.PathLike,
    items: list[BenchmarkItem],
    *,
    gt_mask_dir: str | os.PathLike,
    seed: int = 0,
) -> dict[str, tuple[Path, Path]]:
    """Write every rule of TRIVIAL_BASELINES under `baselines_dir/<slug>/`; {name: (pred file, mask dir)}."""
    return {
        name: write_baseline(
            Path(baselines_dir) / slug(name),
            items,
            rule,
            seed=seed,
            gt_mask_dir=gt_mask_dir,
            model=slug(name),
        )
        for name, rule in TRIVIAL_BASELINES.items()
    }
