"""Shared pieces of the hf_vlm tests: tiny checkpoints built once per test run, a toy video-QA data set."""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import yaml

from evqa.data.video import write_video
from evqa.training.hf_vlm.tiny import build_tiny_checkpoint

_ROOT = Path(tempfile.mkdtemp(prefix="evqa-hf-vlm-tests-"))
atexit.register(shutil.rmtree, _ROOT, ignore_errors=True)

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 220), "yellow": (230, 220, 30)}


@functools.cache
def tiny_checkpoint(family: str) -> str:
    """The tiny random checkpoint of `family`, built on first use and shared by every test."""
    return build_tiny_checkpoint(family, _ROOT / "checkpoints" / family)


def write_toy_videos(root: Path, *, frames: int = 12, fps: float = 6.0) -> dict[str, Path]:
    """One short H.264 clip per colour (every frame that colour, 40x56 px) -> {colour: path}."""
    root.mkdir(parents=True, exist_ok=True)
    paths = {}
    for i, (name, rgb) in enumerate(COLOURS.items()):
        pixels = np.zeros((frames, 40, 56, 3), np.uint8)
        pixels[:] = rgb
        pixels[:, :4] = 255 - i * 40  # a stripe that changes per video, so no two clips are alike
        paths[name] = root / f"clip_{i}.mp4"
        write_video(paths[name], pixels, fps=fps)
    return paths


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def toy_records(videos: dict[str, Path]) -> list[dict]:
    """An open question, a multiple-choice one and a rationale item per clip."""
    options = list(COLOURS)
    records = []
    for i, (colour, path) in enumerate(videos.items()):
        video = path.name
        records += [
            {"id": f"open-{i}", "video": video, "question": "What colour is the clip?", "answer": colour},
            {
                "id": f"mcq-{i}",
                "video": video,
                "question": "Which colour?",
                "options": options,
                "answer": colour,
            },
            {
                "id": f"why-{i}",
                "video": video,
                "question": "What colour is it?",
                "answer": colour,
                "rationale": f"Every frame is {colour}.",
                "source": "toy-rationale",
            },
        ]
    return records


@functools.cache
def toy_jsonl() -> Path:
    """The toy data set (12 items over 4 clips), written once per test run."""
    root = _ROOT / "toy"
    return write_jsonl(root / "qa.jsonl", toy_records(write_toy_videos(root)))


def write_config(path: Path, *, model: dict, data: dict, training: dict) -> Path:
    """An hf_vlm experiment YAML with test-friendly training defaults (overridable)."""
    defaults = {
        "max_steps": 6,
        "per_device_train_batch_size": 2,
        "learning_rate": 1e-2,
        "warmup_steps": 0,
        "lr_scheduler_type": "constant",
        "logging_steps": 1,
        "save_steps": 1000,
        "dataloader_num_workers": 0,
        "disable_tqdm": True,
        "seed": 0,
    }
    cfg = {"model": {"kind": "hf_vlm", **model}, "data": data, "training": {**defaults, **training}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg))
    return path


def logged_losses(output_dir: Path) -> dict[int, float]:
    history = json.loads((Path(output_dir) / "trainer_state.json").read_text())["log_history"]
    return {h["step"]: h["loss"] for h in history if "loss" in h}
