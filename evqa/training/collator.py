"""Training collator: decoded `TrainExample`s -> `EvqaProcessor.encode_example` -> `EvqaProcessor.collate`.

Encoding runs in the data-loader workers (the collator is called there), so pixels are resized and
tokenised in parallel with the training step.
"""

from __future__ import annotations

from collections.abc import Sequence

from evqa.errors import ConfigError
from evqa.training.sources import TrainExample

RESOLUTIONS = ("processor", "upstream")
PATCH_AREA = 28 * 28  # one merged 2x2 patch of 14-pixel Qwen2.5-VL patches


def upstream_pixels(example: TrainExample, num_frames: int = 8) -> tuple[int, int]:
    """(min_pixels, max_pixels) of one frame as upstream EVQA sizes it.

    Images (LLaVA): 128-2048 patches. Conversation videos (VideoGPT+): 128-256 patches. Segmentation and
    ST-Evidence videos: 128 to 256 x max(1, min(num_frames // T, num_frames)) patches for T sampled
    frames, so a short clip gets more pixels per frame.
    """
    frames = len(example.frames)
    if example.pixel_rule == "conversation":
        upper = 2048 if frames == 1 else 256
        return 128 * PATCH_AREA, upper * PATCH_AREA
    factor = max(1, min(num_frames // max(frames, 1), num_frames))
    return 128 * PATCH_AREA, 256 * PATCH_AREA * factor


class EvqaTrainCollator:
    """Callable batch builder for the HF Trainer's data loader.

    Args:
        processor: an `EvqaProcessor` (tokenizer + frame preprocessing of the model being trained).
        resolution: "processor" (its pixel bounds for every frame) or "upstream" (`upstream_pixels` per
            sample). num_frames: `data.num_frames` (the upstream rule's frame budget).
    Returns (per call) the padded batch dict that `EvqaForConditionalGeneration.forward(**batch)` takes:
    input_ids / labels / attention_mask / mm_token_type_ids [B, L], pixel_values_videos, video_grid_thw,
    second_per_grid_ts, and per-sample SAM2 frames and mask targets (None for text samples, which skip the
    SAM2 frames' preprocessing; a batch of text samples has no sam2_pixel_values).
    """

    def __init__(self, processor, resolution: str = "processor", num_frames: int = 8):
        if resolution not in RESOLUTIONS:
            raise ConfigError(f"resolution must be one of {RESOLUTIONS}, got {resolution!r}",
                              field="data.resolution")  # fmt: skip
        self.processor = processor
        self.resolution = resolution
        self.num_frames = num_frames

    def encode(self, example: TrainExample) -> dict:
        """One example -> the processor's per-sample tensors."""
        if self.resolution == "processor":
            return self._encode(example)
        saved = self.processor.min_pixels, self.processor.max_pixels
        self.processor.min_pixels, self.processor.max_pixels = upstream_pixels(example, self.num_frames)
        try:
            return self._encode(example)
        finally:
            self.processor.min_pixels, self.processor.max_pixels = saved

    def _encode(self, example: TrainExample) -> dict:
        return self.processor.encode_example(
            example.frames,
            example.timestamps,
            example.prompt,
            target=example.target,
            mask_targets=example.mask_targets,
            mask_valid=example.mask_valid,
            sam2_frames=example.mask_targets is not None,
        )

    def __call__(self, examples: Sequence[TrainExample]) -> dict:
        return self.processor.collate([self.encode(ex) for ex in examples])
