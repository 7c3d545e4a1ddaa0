"""Synthetic VQA² scoring data whose MOS is known by construction.

Every clip starts from the same kind of clean content (smooth random texture with a moving bright disc) and
receives one degradation at a graded level 0..4 (0 = pristine):
- blur: Gaussian blur, sigma = 0.9 * level pixels;
- noise: additive Gaussian noise, std = 14 * level grey levels;
- blockiness: each block of 2 ** level pixels replaced by its mean (level 0: untouched);
- frame drops: every (level + 1)-th frame held, the others dropped (the clip stutters).
MOS = 5 - level on a 1-5 scale (KoNViD-1k style) for `synth_konvid`, and 100 * (5 - level) / 5 on a
0-100 scale (LSVQ style) for `synth_lsvq`: the scales differ per dataset as the real ones do.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

DEGRADATIONS = ("blur", "noise", "blockiness", "frame_drops")
LEVELS = 5
SIZE, FPS, NUM_FRAMES = 64, 6.0, 12  # 64: decord mis-sizes some smaller widths
DATASETS = {"synth_konvid": lambda level: 5.0 - level, "synth_lsvq": lambda level: 100.0 * (5 - level) / 5}


def clean_clip(rng: np.random.Generator) -> np.ndarray:
    """uint8 [T, H, W, 3]: a smooth colour texture with a bright disc moving left to right."""
    import cv2

    coarse = rng.uniform(40, 200, (6, 6, 3)).astype(np.float32)
    base = cv2.resize(coarse, (SIZE, SIZE), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    frames = []
    for t in range(NUM_FRAMES):
        frame = base.copy()
        cx = 8 + t * (SIZE - 16) / max(NUM_FRAMES - 1, 1)
        frame[(yy - SIZE / 2) ** 2 + (xx - cx) ** 2 <= 36] = (250, 250, 250)
        stripes = ((xx // 4 + yy // 4) % 2 == 0)[..., None] * 40.0  # fine detail that blur and blocks remove
        frames.append(np.clip(frame + stripes - 20, 0, 255))
    return np.stack(frames).astype(np.uint8)


def degrade(clip: np.ndarray, kind: str, level: int, rng: np.random.Generator) -> np.ndarray:
    """`clip` uint8 [T, H, W, 3] with degradation `kind` at `level` (0..4) -> uint8 [T, H, W, 3]."""
    import cv2

    if kind not in DEGRADATIONS or not 0 <= level < LEVELS:
        raise ValueError(f"unknown degradation {kind!r} level {level}")
    if level == 0:
        return clip.copy()
    out = clip.astype(np.float32)
    if kind == "blur":
        out = np.stack([cv2.GaussianBlur(f, (0, 0), 0.9 * level) for f in out])
    elif kind == "noise":
        out = out + rng.normal(0, 14.0 * level, out.shape)
    elif kind == "blockiness":
        b = 2**level
        t, h, w, c = out.shape
        means = out.reshape(t, h // b, b, w // b, b, c).mean(axis=(2, 4), keepdims=True)
        out = np.broadcast_to(means, (t, h // b, b, w // b, b, c)).reshape(out.shape)
    else:
        keep = np.arange(len(out)) // (level + 1) * (level + 1)
        out = out[keep]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def write_synthetic(
    root: Path, *, seed: int = 0, num_items: int | None = None, degradations: tuple[str, ...] = DEGRADATIONS
) -> Path:
    """Write `root/labels/<dataset>.json` ([{"video", "mos", "degradation", "level"}], video paths relative
    to `root`) and the videos under `root/videos/<dataset>/`; `num_items` clips per dataset (default: every
    degradation at every level once), clip i degraded by `degradations[i % len]` at level
    `(i // len) % 5`. Returns the labels folder."""
    from evqa.data.video import write_video
    from evqa.io import write_json_atomic

    unknown = [d for d in degradations if d not in DEGRADATIONS]
    if unknown or not degradations:
        raise ValueError(f"degradations must be some of {', '.join(DEGRADATIONS)}, got {list(degradations)}")
    rng = np.random.default_rng(seed)
    n = LEVELS * len(degradations) if num_items is None else int(num_items)
    root = Path(root)
    (root / "labels").mkdir(parents=True, exist_ok=True)
    for dataset, mos_of in DATASETS.items():
        (root / "videos" / dataset).mkdir(parents=True, exist_ok=True)
        rows = []
        for i in range(n):
            kind, level = degradations[i % len(degradations)], (i // len(degradations)) % LEVELS
            clip = degrade(clean_clip(rng), kind, level, rng)
            video = f"videos/{dataset}/{dataset}_{i:04d}.mp4"
            write_video(root / video, clip, FPS, crf=4)
            rows.append({"video": video, "mos": mos_of(level), "degradation": kind, "level": level})
        write_json_atomic(root / "labels" / f"{dataset}.json", rows)
    return root / "labels"


def write_training_jsonl(labels_dir: Path, out: Path, *, words: Sequence[str] | None = None) -> Path:
    """A `video_qa` training JSONL (`evqa.training.sources.video_qa`; `evqa train`, `model.kind: hf_vlm`)
    of the synthetic clips under `labels_dir`: the quality question, answered with the answer prefix and
    the word of the clip's level — "The quality of this video is good" — the reply `score_levels` reads.

    `words`: the five level words, best first (default: each level's first accepted word); give the ones
    `evqa.baselines.level_scoring.level_token_ids(tokenizer)["words"]` picks so that the trained token is
    the scored one. Video paths are relative to the labels folder's parent (the `video_root` to give)."""
    import json

    from evqa.metrics.quality import LEVELS as LEVEL_WORDS
    from evqa.prompts import QUALITY_ANSWER_PREFIX, quality_question_prompt

    words = list(words or [level[0] for level in LEVEL_WORDS])
    if len(words) != LEVELS:
        raise ValueError(f"need {LEVELS} level words, got {words}")
    lines = []
    for labels in sorted(Path(labels_dir).glob("*.json")):
        for i, row in enumerate(json.loads(labels.read_text(encoding="utf-8"))):
            lines.append({"id": f"{labels.stem}:{i}", "video": row["video"], "question": quality_question_prompt(),
                          "answer": f"{QUALITY_ANSWER_PREFIX} {words[int(row['level'])]}",
                          "source": labels.stem})  # fmt: skip
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return out
