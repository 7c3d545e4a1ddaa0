"""Synthetic Q-Bench-Video-style items on clips with a known degradation (`evqa.benchmarks.vqa2_synth`):
yes/no ("Is this video blurry?"), what/how ("What is the main distortion?", A-D) and two-video comparisons
("Which video has the better quality?"), in the real JSON layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np

NAMES = {"blur": "blur", "noise": "noise", "blockiness": "blockiness", "frame_drops": "frame drops"}


def write_synthetic(root: Path, *, seed: int = 0, num_items: int | None = None) -> Path:
    """Write `root/qbench_video.json` and `root/videos/` with `num_items` items (default 12) -> the JSON."""
    from evqa.benchmarks.vqa2_synth import DEGRADATIONS, FPS, clean_clip, degrade
    from evqa.data.video import write_video
    from evqa.io import write_json_atomic

    rng = np.random.default_rng(seed)
    root = Path(root)
    (root / "videos").mkdir(parents=True, exist_ok=True)
    n = 12 if num_items is None else int(num_items)

    def clip(name: str, kind: str, level: int) -> str:
        write_video(root / f"videos/{name}.mp4", degrade(clean_clip(rng), kind, level, rng), FPS, crf=4)
        return f"videos/{name}.mp4"

    items = []
    for i in range(n):
        kind = DEGRADATIONS[i % len(DEGRADATIONS)]
        if i % 3 == 0:
            blurry = bool(rng.integers(2))
            video = clip(
                f"q{i:03d}", "blur" if blurry else kind if kind != "blur" else "noise", 4 if blurry else 0
            )
            row = {
                "video_path": video,
                "question": "Is this video blurry?",
                "candidates": ["Yes", "No"],
                "correct_ans": "Yes" if blurry else "No",
                "question_type": "yes-no",
                "concern": "blur",
            }
        elif i % 3 == 1:
            video = clip(f"q{i:03d}", kind, 4)
            order = [NAMES[k] for k in rng.permutation(list(DEGRADATIONS))]
            row = {
                "video_path": video,
                "question": "What is the main distortion of this video?",
                "candidates": order,
                "correct_ans": NAMES[kind],
                "question_type": "what-how",
                "concern": kind,
            }
        else:
            first_better = bool(rng.integers(2))
            a = clip(f"q{i:03d}_a", kind, 0 if first_better else 4)
            b = clip(f"q{i:03d}_b", kind, 4 if first_better else 0)
            row = {
                "video_path": [a, b],
                "question": "Which video has the better quality?",
                "candidates": ["The first video", "The second video"],
                "correct_ans": "The first video" if first_better else "The second video",
                "question_type": "what-how",
                "concern": kind,
            }
        items.append({"id": f"qb_{i:03d}", **row})
    path = root / "qbench_video.json"
    write_json_atomic(path, items)
    return path
