"""Synthetic EgoTextVQA and EgoTempo in their real on-disk formats (seconds to write, no download).

EgoTextVQA: a dark scene in which a light "sign" with a word fades in at a random second; the question,
asked at `timestamp` (after the word appeared), is what the sign says. With the real-time cut at
`timestamp + 1 s` the word is always visible. EgoTempo: a clip in which k squares appear one after the
other; the question asks how many appear. Videos are H.264 at 6 fps; equal seeds give equal annotation
files.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np

from evqa.benchmarks.egotextvqa import EGOTEMPO_TYPES, INDOOR_TYPES, OUTDOOR_TYPES, SUBSET_FOLDERS

FPS = 6.0
SIZE = (96, 128)  # H, W pixels
WORDS = ("exit", "coffee", "bakery", "pharmacy", "museum", "garage", "library", "market", "hotel", "bank",
         "station", "school", "cinema", "parking", "garden", "office")  # fmt: skip
NUMBER_WORDS = ("zero", "one", "two", "three", "four")


def _sign_clip(rng: np.random.Generator, word: str, appear_s: float, duration_s: float) -> np.ndarray:
    """uint8 [T, H, W, 3]: a noisy dark background; from `appear_s` on, a white box with `word` in black."""
    import cv2

    height, width = SIZE
    count = int(round(duration_s * FPS))
    base = rng.integers(10, 50, size=(height, width, 3), dtype=np.uint8)
    frames = np.repeat(base[None], count, axis=0)
    x0, y0 = int(rng.integers(4, 24)), int(rng.integers(20, 50))
    for i in range(count):
        if i / FPS >= appear_s:
            cv2.rectangle(frames[i], (x0, y0), (x0 + 96, y0 + 26), (235, 235, 235), thickness=-1)
            cv2.putText(frames[i], word, (x0 + 4, y0 + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    return frames


def _squares_clip(rng: np.random.Generator, k: int, duration_s: float) -> np.ndarray:
    """uint8 [T, H, W, 3]: k coloured squares appearing one by one at evenly spaced seconds."""
    height, width = SIZE
    count = int(round(duration_s * FPS))
    frames = np.full((count, height, width, 3), 20, dtype=np.uint8)
    for j in range(k):
        start = int((j + 0.5) * count / (k + 1))
        y, x = int(rng.integers(0, height - 16)), int(rng.integers(0, width - 16))
        color = rng.integers(80, 255, size=3, dtype=np.uint8)
        frames[start:, y : y + 16, x : x + 16] = color
    return frames


def _video_id(rng: np.random.Generator) -> str:
    return str(uuid.UUID(bytes=rng.bytes(16), version=4))


def write_egotextvqa(out_dir: Path, *, seed: int = 0, num_items: int = 12) -> None:
    """Write `egotextvqa_{indoor,outdoor}_annotation.jsonl` and `EgoTextVQA_fps6/<subset folder>/*.mp4`."""
    from evqa.data.video import write_video

    rng = np.random.default_rng(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    video_root = out_dir / "EgoTextVQA_fps6"
    lines: dict[str, list[str]] = {"indoor": [], "outdoor": []}
    for k in range(num_items):
        subset = "indoor" if k % 2 == 0 else "outdoor"
        types = INDOOR_TYPES if subset == "indoor" else OUTDOOR_TYPES
        video_id = _video_id(rng)
        word = WORDS[int(rng.integers(len(WORDS)))]
        duration = 4.0
        appear = float(rng.integers(1, 5)) * 0.5  # 0.5 .. 2.0 s
        timestamp = round(appear + float(rng.integers(0, 3)) * 0.5, 1)
        write_video(
            video_root / SUBSET_FOLDERS[subset] / f"{video_id}.mp4",
            _sign_clip(rng, word, appear, duration),
            FPS,
        )
        row = {
            "video_id": video_id,
            "question_id": "1",
            "question_type": types[k // 2 % len(types)],
            "question": "what word is written on the sign?",
            "correct_answer": word,
            "timestamp": timestamp,
            "video_url": f"{SUBSET_FOLDERS[subset]}/{video_id}.mp4",
        }
        lines[subset].append(json.dumps(row, ensure_ascii=False))
    for subset, rows in lines.items():
        path = out_dir / f"egotextvqa_{subset}_annotation.jsonl"
        path.write_text("".join(r + "\n" for r in rows), encoding="utf-8")


def write_egotempo(out_dir: Path, *, seed: int = 0, num_items: int = 10) -> None:
    """Write `egotempo_openQA.json` and `trimmed_clips/<clip_id>.mp4`."""
    from evqa.data.video import write_video

    rng = np.random.default_rng(seed + 1)
    out_dir.mkdir(parents=True, exist_ok=True)
    annotations = []
    for k in range(num_items):
        video = _video_id(rng)
        start = float(rng.integers(0, 500)) + 0.25
        clip_id = f"{video}_{start}_{start + 3.0}"
        count = int(rng.integers(1, 5))
        write_video(out_dir / "trimmed_clips" / f"{clip_id}.mp4", _squares_clip(rng, count, 3.0), FPS)
        annotations.append(
            {
                "question_id": f"{clip_id}_0",
                "clip_id": clip_id,
                "question_type": EGOTEMPO_TYPES[k % len(EGOTEMPO_TYPES)],
                "question": "How many squares appear in the video?",
                "answer": f"{NUMBER_WORDS[count].capitalize()} squares.",
            }
        )
    data = {"info": {"date": "synthetic", "version": "1.0"}, "annotations": annotations}
    (out_dir / "egotempo_openQA.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
