"""Qwen2.5-VL's 3-D rope positions under transformers 4.53's rule for text that follows an image/video.

transformers >= 5 starts the text after a vision block at (block start + the block's spatial extent in
merged patches); 4.53 (the version UniPixel pins, and so the positions its weights were trained with)
starts every block, text or vision, at (the largest position so far + 1), so text after a video continues
after the video's last *temporal* position. With `EvqaConfig.mrope_text_positions='transformers_4_53'`,
`install_rope_rule` makes the model's `get_rope_index` follow 4.53; vision positions inside a block are
transformers' own (`get_vision_position_ids`).
"""

from __future__ import annotations

import itertools
import types

import torch

RULES = ("transformers_4_53", "transformers_5")


def rope_index_4_53(
    model,
    input_ids: torch.LongTensor,
    mm_token_type_ids: torch.IntTensor,
    image_grid_thw: torch.LongTensor | None = None,
    video_grid_thw: torch.LongTensor | None = None,
    second_per_grid_ts: torch.Tensor | None = None,
    attention_mask: torch.Tensor | None = None,
    **kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`Qwen2_5_VLModel.get_rope_index` with 4.53's block starts: (position_ids [3, B, L], deltas [B, 1])."""
    merge = model.config.vision_config.spatial_merge_size
    tokens_per_second = model.config.vision_config.tokens_per_second
    position_ids = torch.zeros(3, *input_ids.shape, dtype=input_ids.dtype, device=input_ids.device)
    grids = {1: iter(image_grid_thw) if image_grid_thw is not None else None,
             2: iter(video_grid_thw) if video_grid_thw is not None else None}  # fmt: skip
    seconds = iter(second_per_grid_ts) if second_per_grid_ts is not None else itertools.repeat(1.0)
    deltas = []
    for b in range(input_ids.shape[0]):
        types_b = mm_token_type_ids[b]
        keep = (
            attention_mask[b].bool()
            if attention_mask is not None
            else torch.ones_like(types_b, dtype=torch.bool)
        )
        types_b = types_b[keep]
        parts, start = [], 0
        for kind, group in itertools.groupby(types_b.tolist()):
            length = len(list(group))
            if kind == 0:
                pos = torch.arange(length, device=input_ids.device).view(1, -1).expand(3, -1) + start
            else:
                interval = tokens_per_second * next(seconds) if kind == 2 else 1
                pos = model.get_vision_position_ids(
                    start, next(grids[kind]), 1, merge, interval, input_ids.device
                )
            parts.append(pos)
            start = int(pos.max()) + 1
        positions = torch.cat(parts, dim=1)
        position_ids[:, b, keep] = positions.to(position_ids.dtype)
        deltas.append(int(positions.max()) + 1 - int(keep.sum()))
    return position_ids, torch.tensor(deltas, device=input_ids.device).unsqueeze(1)


def install_rope_rule(qwen_model, rule: str) -> None:
    """Make `qwen_model` (a `Qwen2_5_VLModel`) compute rope positions by `rule` (one of RULES)."""
    if rule not in RULES:
        raise ValueError(f"mrope_text_positions must be one of {RULES}, got {rule!r}")
    if rule == "transformers_4_53":
        qwen_model.get_rope_index = types.MethodType(rope_index_4_53, qwen_model)
