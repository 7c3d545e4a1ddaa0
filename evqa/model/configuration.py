"""`EvqaConfig`: a Qwen2.5-VL config plus a SAM2 (video) sub-config, EVQA's special-token ids and loss weights.

The SAM2 part is transformers' `Sam2VideoConfig` (image encoder + prompt encoder + mask decoder + memory
attention + memory encoder), so the checkpoint folder is one `config.json` that `AutoConfig` reads back.
"""

from __future__ import annotations

from huggingface_hub.dataclasses import strict
from transformers import AutoConfig, Qwen2_5_VLConfig, Sam2VideoConfig
from transformers.configuration_utils import PreTrainedConfig


@strict
class EvqaConfig(Qwen2_5_VLConfig):
    """Qwen2.5-VL hyper-parameters (text_config, vision_config, vision token ids) and EVQA's additions.

    Args:
        sam2_config: a `Sam2VideoConfig` (or its dict); its `image_size` is the square side, in pixels, of
            the frames SAM2 sees.
        seg_token_id / ref_token_id / mem_token_id: ids of `<|seg|>`, `<|ref|>`, `<|mem|>` in the tokenizer.
        num_seg_prompt_tokens: sparse prompt embeddings that one `<|seg|>` hidden state becomes in SAM2.
        lm_loss_weight, focal_loss_weight, dice_loss_weight, iou_loss_weight, object_score_loss_weight:
            weights of the loss terms (SAM2.1's training weights 20 / 1 / 1 / 1 for the mask terms).
        ref_time_scale: seconds that map to one period of the slowest time feature of `<|ref|>` prompts.
    """

    model_type = "evqa"
    sub_configs_defaults = {**Qwen2_5_VLConfig.sub_configs_defaults, "sam2_config": Sam2VideoConfig}

    sam2_config: dict | PreTrainedConfig | None = None
    seg_token_id: int = -1
    ref_token_id: int = -1
    mem_token_id: int = -1
    num_seg_prompt_tokens: int = 2
    lm_loss_weight: float = 1.0
    focal_loss_weight: float = 20.0
    dice_loss_weight: float = 1.0
    iou_loss_weight: float = 1.0
    object_score_loss_weight: float = 1.0
    ref_time_scale: float = 600.0

    @property
    def sam2_image_size(self) -> int:
        """Side, in pixels, of the square frames SAM2 encodes."""
        size = self.sam2_config.image_size
        return int(size[0] if isinstance(size, (list, tuple)) else size)


AutoConfig.register("evqa", EvqaConfig, exist_ok=True)
