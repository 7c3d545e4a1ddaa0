"""LoRA fine-tuning setup (peft): what trains, what is frozen, and the parameter groups for learning rates.

- LoRA adapters on the LLM's attention + MLP linear layers and (optionally) the vision tower's attention;
- fully trainable: `seg_head`, `ref_encoder`, `mem_proj`, SAM2's mask decoder, memory attention, memory
  encoder and the small tracking parameters (object-pointer projection, memory embeddings);
- frozen: everything else, SAM2's image encoder included.
"""

from __future__ import annotations

import torch
from peft import LoraConfig, PeftModel, get_peft_model

from evqa.errors import ModelError

LLM_TARGETS = r"model\.language_model\.layers\.\d+\.(self_attn\.(q|k|v|o)_proj|mlp\.(gate|up|down)_proj)"
VISION_TARGETS = r"model\.visual\.blocks\.\d+\.attn\.(qkv|proj)"
HEAD_PREFIXES = ("seg_head.", "ref_encoder.", "mem_proj.")
SAM2_TRAINABLE = (
    "sam2.mask_decoder.",
    "sam2.memory_attention.",
    "sam2.memory_encoder.",
    "sam2.object_pointer_proj.",
    "sam2.temporal_positional_encoding_projection_layer.",
    "sam2.no_memory_embedding",
    "sam2.memory_temporal_positional_encoding",
    "sam2.no_object_pointer",
    "sam2.occlusion_spatial_embedding_parameter",
    "sam2.prompt_encoder.point_embed.",
    "sam2.prompt_encoder.not_a_point_embed.",
    "sam2.prompt_encoder.no_mask_embed.",
)


def _strip(name: str) -> str:
    """Parameter name relative to the EVQA model, whether or not it is wrapped by peft."""
    for prefix in ("base_model.model.",):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    return name


def apply_lora(
    model: torch.nn.Module, r: int = 128, alpha: int = 256, dropout: float = 0.1, vision: bool = True
) -> PeftModel:
    """Wrap `model` with LoRA adapters and set `requires_grad` as described in the module docstring.

    Returns the peft model; `parameter_groups(model)` names its trainable parameters by group.
    """
    if isinstance(model, PeftModel):
        raise ModelError("the model already has LoRA adapters")
    target = f"({LLM_TARGETS}|{VISION_TARGETS})" if vision else LLM_TARGETS
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=target, bias="none")
    peft_model = get_peft_model(model, config)
    for name, param in peft_model.named_parameters():
        short = _strip(name)
        if short.startswith(HEAD_PREFIXES) or short.startswith(SAM2_TRAINABLE):
            param.requires_grad_(True)
    return peft_model


def parameter_groups(model: torch.nn.Module) -> dict[str, list[torch.nn.Parameter]]:
    """Trainable parameters by group: {"lora": adapters, "heads": seg/ref/mem heads, "sam2": SAM2 parts}.

    Every trainable parameter is in exactly one group (a trainable parameter outside them raises)."""
    groups: dict[str, list[torch.nn.Parameter]] = {"lora": [], "heads": [], "sam2": []}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        short = _strip(name)
        if "lora_" in short:
            groups["lora"].append(param)
        elif short.startswith(HEAD_PREFIXES):
            groups["heads"].append(param)
        elif short.startswith("sam2."):
            groups["sam2"].append(param)
        else:
            raise ModelError(f"trainable parameter '{name}' belongs to no parameter group")
    return groups


def merge_lora(model: torch.nn.Module) -> torch.nn.Module:
    """Fold the LoRA adapters into the base weights and return the plain EVQA model (for release)."""
    if not isinstance(model, PeftModel):
        raise ModelError("the model has no LoRA adapters to merge")
    return model.merge_and_unload()
