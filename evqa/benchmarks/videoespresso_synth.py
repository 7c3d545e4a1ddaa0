"""Synthetic VideoEspresso test set in the real on-disk format: a `test.json` list, small H.264 videos and
JPEG core frames. Each clip is filled with one colour and shows a square of a second colour; the question
asks for the square's colour, the oracle evidence names it (with the original's object/box tags), so a model
given the evidence can answer from text alone. Items cycle through all 14 task names.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 180, 60),
    "blue": (40, 60, 220),
    "yellow": (230, 210, 40),
    "purple": (140, 50, 170),
    "orange": (240, 140, 20),
}
SIZE, FPS, NUM_FRAMES = 64, 6.0, 18  # 3-second clips: the upstream rule asks for 73 frames, capped at 18


def write_synthetic(root: Path, *, seed: int = 0, num_items: int | None = None) -> Path:
    """Write `root/test.json` (+ `videos/`, `core_frames/`) with `num_items` items (default 28) -> the JSON."""
    from evqa.benchmarks.videoespresso import OPTION_LETTERS, TASKS
    from evqa.data.video import write_video
    from evqa.io import write_json_atomic

    rng = np.random.default_rng(seed)
    n = 2 * len(TASKS) if num_items is None else int(num_items)
    root = Path(root)
    (root / "videos").mkdir(parents=True, exist_ok=True)
    names = list(COLOURS)
    items = []
    for i in range(n):
        back, square, *distract = rng.permutation(names)[:5]
        frames = np.empty((NUM_FRAMES, SIZE, SIZE, 3), np.uint8)
        frames[:] = COLOURS[back]
        x0 = int(rng.integers(4, SIZE - 28))
        for t in range(NUM_FRAMES):
            x = min(x0 + t, SIZE - 20)
            frames[t, 20:40, x : x + 20] = COLOURS[square]
        video = f"videos/clip_{i:03d}.mp4"
        write_video(root / video, frames, FPS)
        core_dir = root / "core_frames" / f"clip_{i:03d}"
        core_dir.mkdir(parents=True, exist_ok=True)
        core = []
        for t in (0, NUM_FRAMES - 1):
            Image.fromarray(frames[t]).save(core_dir / f"{t:04d}.jpg", quality=95)
            core.append(f"core_frames/clip_{i:03d}/{t:04d}.jpg")
        choices = [square, *distract[:3]]
        order = rng.permutation(4)
        answer = OPTION_LETTERS[int(np.where(order == 0)[0][0])]
        box = [int(x0 / SIZE * 1000), 312, int((x0 + 20) / SIZE * 1000), 625]
        items.append(
            {
                "id": f"ve_{i:03d}",
                "video_path": video,
                "question": "What colour is the moving square",
                "options": [f"({OPTION_LETTERS[k]}): {choices[j]}" for k, j in enumerate(order)],
                "correct_answer": f"({answer})",
                "evidence": f"The <obj_start>square<obj_end><box_start>{box}<box_end> moving across the "
                f"{back} background is {square}",
                "task": TASKS[i % len(TASKS)],
                "core_frames_paths": core,
                "core_frames_captions": [
                    f"a {square} square on {back}",
                    f"the {square} square has moved right",
                ],
            }
        )
    path = root / "test.json"
    write_json_atomic(path, items)
    return path
