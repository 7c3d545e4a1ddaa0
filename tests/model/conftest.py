"""Fixtures for the model tests: the tiny preset and a synthetic clip (a red square sliding right)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from evqa.model import build_model
from evqa.prompts import evqa_question_prompt, format_target

CANDIDATES = ["a red circle", "a red square", "a green star", "a blue ring"]
QUESTION = "Which object moves?"


def synthetic_clip(num_frames: int = 8, size=(96, 128), start: int = 2, fps: float = 1.0):
    """frames uint8 [T, H, W, 3], timestamps [T] s, masks bool [T, H, W]; the square appears at `start`."""
    frames = np.full((num_frames, *size, 3), 30, dtype=np.uint8)
    masks = np.zeros((num_frames, *size), dtype=bool)
    for t in range(start, num_frames):
        y, x = 20 + 2 * t, 6 + 6 * t
        masks[t, y : y + 24, x : x + 24] = True
    frames[masks] = (230, 40, 40)
    return frames, np.arange(num_frames) / fps, masks


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models are dominated by many small ops: on a shared CPU, OpenMP threads that wait on each other
    make a training step 10-20x slower than one thread does. Restored after each test."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def tiny():
    """(model, processor) of the tiny preset, random init with seed 0, eval mode."""
    model, processor = build_model("tiny", seed=0)
    return model.eval(), processor


@pytest.fixture
def fresh_tiny():
    """A new tiny model the test may modify (train, wrap with LoRA, step)."""
    return build_model("tiny", seed=0)


def training_batch(processor, starts=(2, 3), prompt_suffix="", ref_prompts=None, mask_valid=None):
    """A collated 2-sample batch: 8 frames each, a `<|seg|>` target and evidence masks per sample."""
    examples = []
    for i, start in enumerate(starts):
        frames, times, masks = synthetic_clip(start=start)
        prompt = evqa_question_prompt(QUESTION, CANDIDATES) + prompt_suffix
        examples.append(
            processor.encode_example(
                frames,
                times,
                prompt,
                format_target("B", [[float(start), 7.0]]),
                mask_targets=masks,
                ref_prompts=(ref_prompts or [None] * len(starts))[i],
                mask_valid=None if mask_valid is None else mask_valid[i],
            )
        )
    return processor.collate(examples)


@pytest.fixture
def seed():
    torch.manual_seed(0)
    np.random.seed(0)
