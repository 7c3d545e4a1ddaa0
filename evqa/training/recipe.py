"""What a training run starts from and what trains: base checkpoint, SAM2 size, LoRA targets, trainable parts.

Upstream EVQA fine-tunes a converted UniPixel checkpoint (`model.base_model`), LoRA r128/α256 on the
q/k/v/o projections of the LLM and the vision tower's attention (UniPixel's `qkvo_all`), with the token
embeddings, the LM head, the seg/ref/mem heads and every SAM2 weight trainable, SAM2 at 768 pixels. The
`ModelArguments` knobs select between that and EVQA's own setup (`evqa.model.apply_lora`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from evqa.errors import ConfigError

log = logging.getLogger(__name__)

LORA_TARGETS = ("evqa", "unipixel")
SAM2_TRAINABLE = ("decoder", "all")
# UniPixel's `qkvo_all`: q/k/v/o of every LLM attention layer (the vision attention is lora.VISION_TARGETS)
UNIPIXEL_LLM_TARGETS = r"model\.language_model\.layers\.\d+\.self_attn\.(q|k|v|o)_proj"
EMBEDDING_NAMES = ("embed_tokens.", "lm_head.")


def conversion_hint(base_model: str) -> str:
    """The command that writes a converted UniPixel checkpoint to `base_model`."""
    name = Path(base_model).name
    size = "7b" if "7b" in name.lower() else "3b"
    source = Path(base_model).with_name(f"UniPixel-{size.upper()}")
    return f"evqa convert-unipixel {source} {base_model} --base-preset {size} --sam2 base"


def check_model_args(model_args) -> None:
    """Typed errors for recipe settings that cannot work (before anything heavy is loaded)."""
    if model_args.lora_targets not in LORA_TARGETS:
        raise ConfigError(f"lora_targets must be one of {LORA_TARGETS}, got {model_args.lora_targets!r}",
                          field="model.lora_targets")  # fmt: skip
    if model_args.sam2_trainable not in SAM2_TRAINABLE:
        raise ConfigError(f"sam2_trainable must be one of {SAM2_TRAINABLE}, got {model_args.sam2_trainable!r}",
                          field="model.sam2_trainable")  # fmt: skip
    if model_args.sam2_image_size is not None and (
        model_args.sam2_image_size % 16 or model_args.sam2_image_size <= 0
    ):
        raise ConfigError(f"sam2_image_size must be a positive multiple of 16, got {model_args.sam2_image_size}",
                          field="model.sam2_image_size")  # fmt: skip
    base = model_args.base_model
    if base and not (Path(base) / "config.json").is_file():
        raise ConfigError(
            f"base checkpoint not found (no config.json); convert UniPixel first: {conversion_hint(base)}",
            path=base,
            field="model.base_model",
        )


def _side(size) -> int:
    return int(size[0] if isinstance(size, (list, tuple)) else size)


def _same_image_encoder(a, b) -> bool:
    """Whether two SAM2 configs have the same Hiera image encoder (so the same weights fit)."""
    ha, hb = a.vision_config.backbone_config, b.vision_config.backbone_config
    keys = ("hidden_size", "blocks_per_stage", "embed_dim_per_stage", "num_attention_heads_per_stage")
    return all(getattr(ha, k) == getattr(hb, k) for k in keys)


def resize_sam2_config(sam2_config, side: int):
    """The same SAM2 config at image side `side` (every size that follows from it rescaled in place)."""
    sizes = [[side // 4, side // 4], [side // 8, side // 8], [side // 16, side // 16]]
    sam2_config.image_size = side
    sam2_config.prompt_encoder_config.image_size = side
    sam2_config.vision_config.backbone_config.image_size = [side, side]
    sam2_config.vision_config.backbone_feature_sizes = sizes
    sam2_config.memory_attention_rope_feat_sizes = sizes[-1]
    return sam2_config


def load_base_checkpoint(model_args, dtype: torch.dtype | None):
    """(model, processor) of `model_args.base_model` with the SAM2 the run asks for.

    A `sam2_image_size` other than the checkpoint's rebuilds SAM2 at that side (same weights: Hiera's
    positional embeddings are interpolated); a `sam2` whose image encoder differs from the checkpoint's
    loads SAM2.1 `sam2` from `sam2_pretrained` in its place (the heads fit every SAM2.1 size)."""
    from evqa.model import EvqaConfig, EvqaForConditionalGeneration, EvqaProcessor, load_model
    from evqa.model.loading import attention_implementation
    from evqa.model.presets import load_sam2_weights, sam2_config

    check_model_args(model_args)
    base = model_args.base_model
    config = EvqaConfig.from_pretrained(base)
    side = model_args.sam2_image_size or config.sam2_image_size
    wanted = sam2_config(model_args.sam2, side) if model_args.sam2 in ("tiny", "base", "large") else None
    swap = wanted is not None and not _same_image_encoder(config.sam2_config, wanted)
    if swap and not model_args.sam2_pretrained:
        raise ConfigError(
            f"the checkpoint's SAM2 is not SAM2.1 '{model_args.sam2}'; set model.sam2_pretrained to a local "
            f"SAM2.1 '{model_args.sam2}' folder to train with it",
            path=base,
            field="model.sam2_pretrained",
        )
    if not swap and side == config.sam2_image_size:
        model, processor = load_model(base, dtype=dtype)
        return model, processor
    config.sam2_config = wanted if swap else resize_sam2_config(config.sam2_config, side)
    model, info = EvqaForConditionalGeneration.from_pretrained(
        base, config=config, dtype=dtype or torch.float32, output_loading_info=True,
        ignore_mismatched_sizes=swap, attn_implementation=attention_implementation(None),
    )  # fmt: skip
    problems = [
        k for key in ("missing_keys", "unexpected_keys", "mismatched_keys") for k in info.get(key) or []
    ]
    problems = [k if isinstance(k, str) else k[0] for k in problems]
    if swap:
        problems = [k for k in problems if not k.startswith("sam2.")]
        load_sam2_weights(model, model_args.sam2_pretrained)
    if problems:
        raise ConfigError(f"checkpoint does not fit the rebuilt model: {problems[:8]}", path=base)
    processor = EvqaProcessor.from_pretrained(base)
    processor.sam2_image_size = side
    log.info("base %s: SAM2 %s at %d px", base, model_args.sam2 if swap else "of the checkpoint", side)
    return model, processor


def _strip(name: str) -> str:
    return name.removeprefix("base_model.model.")


def apply_recipe(model: torch.nn.Module, model_args) -> torch.nn.Module:
    """LoRA adapters and `requires_grad` as `model_args` says (see the module docstring); returns the
    (peft-wrapped) model."""
    from peft import LoraConfig, get_peft_model

    from evqa.model import apply_lora
    from evqa.model.lora import HEAD_PREFIXES, VISION_TARGETS
    from evqa.model.lora import SAM2_TRAINABLE as SAM2_DECODER

    check_model_args(model_args)
    if model_args.lora_targets == "evqa":
        model = apply_lora(model, r=model_args.lora_r, alpha=model_args.lora_alpha,
                           dropout=model_args.lora_dropout, vision=model_args.lora_vision)  # fmt: skip
    else:
        target = (
            f"({UNIPIXEL_LLM_TARGETS}|{VISION_TARGETS})" if model_args.lora_vision else UNIPIXEL_LLM_TARGETS
        )
        model.requires_grad_(False)
        config = LoraConfig(r=model_args.lora_r, lora_alpha=model_args.lora_alpha,
                            lora_dropout=model_args.lora_dropout, target_modules=target, bias="none")  # fmt: skip
        model = get_peft_model(model, config)
    for name, param in model.named_parameters():
        short = _strip(name)
        if short.startswith(HEAD_PREFIXES):
            param.requires_grad_(True)
        elif short.startswith("sam2."):
            param.requires_grad_(model_args.sam2_trainable == "all" or short.startswith(SAM2_DECODER))
        elif model_args.train_embeddings and any(key in short for key in EMBEDDING_NAMES):
            param.requires_grad_(True)
    return model
