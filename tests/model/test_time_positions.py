"""The LLM sees the true times of its frames: Qwen2.5-VL's temporal rope positions of the video tokens
advance by tokens_per_second x (true seconds per temporal patch)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from evqa.prompts import evqa_question_prompt
from tests.model.conftest import CANDIDATES, QUESTION, synthetic_clip


@pytest.mark.parametrize("fps, step", [(1.0, 4), (0.5, 8), (2.0, 2)])
def test_video_token_time_positions_follow_seconds(tiny, fps, step):
    model, processor = tiny
    frames, _, _ = synthetic_clip(num_frames=8)
    times = np.arange(8) / fps
    example = processor.encode_generation_prompt(frames, times, evqa_question_prompt(QUESTION, CANDIDATES))
    batch = processor.collate([example])
    assert batch["second_per_grid_ts"].tolist() == [2.0 / fps]
    positions, _ = model.model.get_rope_index(
        batch["input_ids"],
        mm_token_type_ids=batch["mm_token_type_ids"],
        video_grid_thw=batch["video_grid_thw"],
        second_per_grid_ts=batch["second_per_grid_ts"],
        attention_mask=batch["attention_mask"],
    )
    video = batch["mm_token_type_ids"][0] == 2
    temporal = positions[0, 0, video]
    grid_t, grid_h, grid_w = batch["video_grid_thw"][0].tolist()
    per_patch = grid_h * grid_w // 4
    starts = temporal.reshape(grid_t, per_patch)[:, 0]
    assert model.config.vision_config.tokens_per_second == 2
    assert torch.equal(starts - starts[0], torch.arange(grid_t) * step)
    assert bool((temporal.reshape(grid_t, per_patch) == starts[:, None]).all())
