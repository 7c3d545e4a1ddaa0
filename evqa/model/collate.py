"""Batching of `EvqaProcessor` examples: pad token sequences, concatenate vision patches, keep ragged items.

The batch layout is what `EvqaForConditionalGeneration.forward(**batch)` takes:
- padded [B, L]: input_ids (pad id), attention_mask (0), labels (-100), mm_token_type_ids (0);
- concatenated along dim 0, in example order: pixel_values_videos [sum N_i, D], video_grid_thw [B, 3],
  second_per_grid_ts [B] (Qwen2.5-VL consumes videos in this order);
- lists of length B (frame counts and prompt counts differ per example): frame_timestamps, sam2_pixel_values,
  ref_boxes, ref_times, mask_targets, mask_valid — an example without masks contributes None.
"""

from __future__ import annotations

import torch

from evqa.errors import InputError

PAD_VALUES = {"input_ids": None, "attention_mask": 0, "labels": -100, "mm_token_type_ids": 0}
CONCAT_KEYS = ("pixel_values_videos", "video_grid_thw", "second_per_grid_ts")


def pad_sequences(seqs: list[torch.Tensor], value: int, side: str) -> torch.Tensor:
    """1-D tensors of lengths L_i -> [B, max L_i] filled with `value` on the `side` ('right' or 'left')."""
    if side not in ("right", "left"):
        raise ValueError(f"padding side must be 'right' or 'left', got {side!r}")
    out = torch.full((len(seqs), max(len(s) for s in seqs)), value, dtype=seqs[0].dtype)
    for row, seq in enumerate(seqs):
        if side == "right":
            out[row, : len(seq)] = seq
        else:
            out[row, out.shape[1] - len(seq) :] = seq
    return out


def collate_examples(examples: list[dict], *, pad_token_id: int, padding_side: str = "right") -> dict:
    """Batch one-example dicts (see module docstring). Right padding for training, left for generation."""
    if not examples:
        raise InputError("cannot collate an empty list of examples")
    batch: dict = {}
    for key, value in PAD_VALUES.items():
        present = [key in ex for ex in examples]
        if all(present):
            fill = pad_token_id if value is None else value
            batch[key] = pad_sequences([ex[key] for ex in examples], fill, padding_side)
        elif any(present):
            raise InputError(f"'{key}' is present in some examples but not all", field=key)
    for key in CONCAT_KEYS:
        if key in examples[0]:
            batch[key] = torch.cat([ex[key] for ex in examples], dim=0)
    ragged = {k for ex in examples for k in ex} - set(PAD_VALUES) - set(CONCAT_KEYS)
    for key in sorted(ragged):
        batch[key] = [ex.get(key) for ex in examples]
    return batch
