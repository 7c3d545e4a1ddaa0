"""`EvqaConfig`: a Qwen2.5-VL config plus a SAM2 (video) sub-config, EVQA's special-token ids and loss weights.

The SAM2 part is transformers' `Sam2VideoConfig` (image encoder + prompt encoder + mask decoder + memory
attention + memory encoder), so the checkpoint folder is one `config.json` that `AutoConfig` reads back.
EVQA's fields live in `EvqaOptions`, which every backbone's config mixes in (the Qwen3-VL one is
`evqa.model.configuration_qwen3.EvqaQwen3VLConfig`).
"""

from __future__ import annotations

from dataclasses import dataclass

from huggingface_hub.dataclasses import strict
from transformers import AutoConfig, Qwen2_5_VLConfig, Sam2VideoConfig
from transformers.configuration_utils import PreTrainedConfig


@dataclass(eq=False, repr=False)
class EvqaOptions:
    """EVQA's additions to a backbone config (mixed into `EvqaConfig` and the other backbones' configs).

    Args:
        sam2_config: a `Sam2VideoConfig` (or its dict); its `image_size` is the square side, in pixels, of
            the frames SAM2 sees.
        seg_token_id / ref_token_id / mem_token_id: ids of `<|seg|>`, `<|ref|>`, `<|mem|>` in the tokenizer.
        num_seg_prompt_tokens: sparse prompt embeddings that one `<|seg|>` hidden state becomes in SAM2.
        lm_loss_weight, focal_loss_weight, dice_loss_weight, iou_loss_weight, object_score_loss_weight:
            weights of the loss terms; defaults are UniPixel's (1, 100, 5, 5, 5; SAM2.1's own are 20/1/1/1).
        mask_loss_style: 'unipixel' (each term summed over objects and frames and divided by the number of
            frames, mask/dice/IoU zero on frames with an empty target, object-score BCE on every frame, IoU
            L1 over all candidates, best candidate by 100*focal+5*dice) or 'evqa' (each term averaged over
            the frames it applies to, EVQA's original reduction).
        memory_gate: what decides "object present" for SAM2 memory and object pointers while training:
            'predicted' (the object score, as UniPixel's SAM2Train) or 'ground_truth' (EVQA's original:
            the target mask, so the prompted mask reaches memory from the first step).
        multimask_output: decode 3 candidate masks on every frame and keep the one with the highest
            predicted IoU (UniPixel/SAM2.1); False decodes SAM2's single mask (EVQA's original).
        sam2_prompt_layout: 'unipixel' (the prompted frame's sparse prompt is [not-a-point, not-a-point,
            seg tokens...], tracked frames get the two not-a-point rows) or 'evqa' (the seg tokens alone
            on the prompted frame, one padding point on tracked frames).
        track_mode: 'forward' (prompt frame 0, track forward; UniPixel) or 'bidirectional' (prompt the
            start of the first predicted segment, track forward then backward; EVQA's original). Used by
            `EvqaPredictor`.
        decode_all_seg: decode every `<|seg|>` of the prompt and every generated one, each on its own
            fresh SAM2 state (UniPixel); False decodes only the first generated one (EVQA's original).
        mrope_text_positions: rope positions of text that follows an image/video: 'transformers_4_53'
            (max position so far + 1, as transformers 4.53 that UniPixel pins) or 'transformers_5' (start +
            the vision block's spatial extent, transformers >= 5). Qwen2.5-VL only: Qwen3-VL's vision blocks
            are single frames, for which both rules give the same positions.
        ref_time_scale: unused by the UniPixel `<|ref|>` design (kept so older configs load).
    """

    sam2_config: dict | PreTrainedConfig | None = None
    seg_token_id: int = -1
    ref_token_id: int = -1
    mem_token_id: int = -1
    num_seg_prompt_tokens: int = 2
    lm_loss_weight: float = 1.0
    focal_loss_weight: float = 100.0
    dice_loss_weight: float = 5.0
    iou_loss_weight: float = 5.0
    object_score_loss_weight: float = 5.0
    mask_loss_style: str = "unipixel"
    memory_gate: str = "predicted"
    multimask_output: bool = True
    sam2_prompt_layout: str = "unipixel"
    track_mode: str = "forward"
    decode_all_seg: bool = True
    mrope_text_positions: str = "transformers_4_53"
    ref_time_scale: float = 600.0

    def validate_evqa_options(self):
        """Raise ValueError naming a field whose value is not one of its choices."""
        choices = {"mask_loss_style": ("unipixel", "evqa"), "memory_gate": ("predicted", "ground_truth"),
                   "sam2_prompt_layout": ("unipixel", "evqa"), "track_mode": ("forward", "bidirectional"),
                   "mrope_text_positions": ("transformers_4_53", "transformers_5")}  # fmt: skip
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"EvqaConfig.{name} must be one of {allowed}, got {getattr(self, name)!r}")

    @property
    def sam2_image_size(self) -> int:
        """Side, in pixels, of the square frames SAM2 encodes."""
        size = self.sam2_config.image_size
        return int(size[0] if isinstance(size, (list, tuple)) else size)


@strict
class EvqaConfig(Qwen2_5_VLConfig, EvqaOptions):
    """Qwen2.5-VL hyper-parameters (text_config, vision_config, vision token ids) and EVQA's additions
    (`EvqaOptions`)."""

    model_type = "evqa"
    sub_configs_defaults = {**Qwen2_5_VLConfig.sub_configs_defaults, "sam2_config": Sam2VideoConfig}


AutoConfig.register("evqa", EvqaConfig, exist_ok=True)
