"""Training collator: decoded `TrainExample`s -> `EvqaProcessor.encode_example` -> `EvqaProcessor.collate`.

Encoding runs in the data-loader workers (the collator is called there), so pixels are resized and
tokenised in parallel with the training step.
"""

from __future__ import annotations

from collections.abc import Sequence

from evqa.training.sources import TrainExample


class EvqaTrainCollator:
    """Callable batch builder for the HF Trainer's data loader.

    Args:
        processor: an `EvqaProcessor` (tokenizer + frame preprocessing of the model being trained).
    Returns (per call) the padded batch dict that `EvqaForConditionalGeneration.forward(**batch)` takes:
    input_ids / labels / attention_mask / mm_token_type_ids [B, L], pixel_values_videos, video_grid_thw,
    second_per_grid_ts, and per-sample SAM2 frames and mask targets (None for text samples).
    """

    def __init__(self, processor):
        self.processor = processor

    def encode(self, example: TrainExample) -> dict:
        """One example -> the processor's per-sample tensors."""
        return self.processor.encode_example(
            example.frames,
            example.timestamps,
            example.prompt,
            target=example.target,
            mask_targets=example.mask_targets,
            mask_valid=example.mask_valid,
        )

    def __call__(self, examples: Sequence[TrainExample]) -> dict:
        return self.processor.collate([self.encode(ex) for ex in examples])
