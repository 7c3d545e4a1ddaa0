"""Build a plain transformers VLM for fine-tuning: load, (quantise), choose what trains, wrap with LoRA.

lora   peft LoRA on the language model's `lora_target_modules` (+ the projector's linear layers with
       `lora_projector`); every base weight frozen.
full   the language model (embeddings and lm_head included) and the projector train; the vision
       encoder trains only with `train_vision`.
qlora  lora on a base loaded in 4-bit (bitsandbytes NF4, double quantisation, bf16 compute; the vision
       encoder, projector and lm_head stay unquantised), prepared with peft's
       `prepare_model_for_kbit_training`. CUDA only.
"""

from __future__ import annotations

import importlib.util
import logging
import re
from collections import Counter

import torch

from evqa.baselines.hf_frames import attention_implementation, load_processor
from evqa.errors import BackendUnavailableError, ConfigError, ModelError
from evqa.training.hf_vlm.arguments import HfVlmModelArguments
from evqa.training.hf_vlm.families import Family, family_of, part_of

log = logging.getLogger(__name__)


def train_dtype(train_args) -> torch.dtype:
    """bf16 / fp16 weights when the run trains in that precision, else float32."""
    if train_args.bf16:
        return torch.bfloat16
    return torch.float16 if train_args.fp16 else torch.float32


def configure_processor(processor, family: Family, overrides: dict):
    """Apply the family's frame settings, then the config's `image_processor` overrides, in place."""
    image_processor = getattr(processor, "image_processor", None)
    for key, value in {**family.image_processor, **overrides}.items():
        if image_processor is None or not hasattr(image_processor, key):
            raise ConfigError(
                f"the image processor of this checkpoint has no setting {key!r}",
                field="model.image_processor",
            )
        setattr(image_processor, key, value)
    return processor


def quantization_config(model_args: HfVlmModelArguments, family: Family, compute_dtype: torch.dtype):
    """BitsAndBytesConfig of `finetune: qlora`; BackendUnavailableError without bitsandbytes or CUDA."""
    if importlib.util.find_spec("bitsandbytes") is None:
        raise BackendUnavailableError("finetune: qlora needs bitsandbytes (pip install 'evqa[qlora]')")
    if not torch.cuda.is_available():
        raise BackendUnavailableError("finetune: qlora needs a CUDA GPU (bitsandbytes 4-bit)")
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=model_args.bnb_4bit_quant_type,
        bnb_4bit_use_double_quant=model_args.bnb_4bit_double_quant,
        bnb_4bit_compute_dtype=compute_dtype,
        llm_int8_skip_modules=[re.escape(p) for p in (family.vision, *family.projector, "lm_head")],
    )


def lora_targets(model: torch.nn.Module, family: Family, model_args: HfVlmModelArguments) -> str:
    """A regex (peft matches it against whole module names) of the linear layers that get adapters."""
    leaves = set(model_args.lora_target_modules)
    names = []
    for name, module in model.named_modules():
        if not isinstance(module, torch.nn.Linear):
            continue
        part = part_of(name, family)
        if (part == "language_model" and name.rsplit(".", 1)[-1] in leaves) or (
            part == "projector" and model_args.lora_projector
        ):
            names.append(name)
    if not any(part_of(n, family) == "language_model" for n in names):
        raise ConfigError(
            f"no linear layer of the language model is named one of {sorted(leaves)}",
            field="model.lora_target_modules",
        )
    return "^(" + "|".join(re.escape(n) for n in names) + ")$"


def set_full_finetuning(model: torch.nn.Module, family: Family, train_vision: bool) -> None:
    """requires_grad on the language model, lm_head and projector (and the vision encoder if asked)."""
    for name, param in model.named_parameters():
        part = part_of(name, family)
        param.requires_grad_(
            part in ("language_model", "other", "projector") or (part == "vision" and train_vision)
        )


def trainable_summary(model: torch.nn.Module, family: Family) -> dict[str, int]:
    """Trainable parameter counts per part ('language_model', 'projector', 'vision', 'other', 'lora')."""
    counts: Counter = Counter()
    for name, param in model.named_parameters():
        if param.requires_grad:
            counts["lora" if "lora_" in name else part_of(name, family)] += param.numel()
    return dict(counts)


def build_vlm(model_args: HfVlmModelArguments, path: str, train_args):
    """(model ready to train, processor) from the checkpoint folder `path`."""
    from transformers import AutoConfig, AutoModelForImageTextToText

    try:
        family = family_of(AutoConfig.from_pretrained(path))
        processor = load_processor(path)
    except (OSError, ValueError, KeyError) as err:
        raise ModelError(f"cannot load the checkpoint '{path}': {err}") from None
    configure_processor(processor, family, model_args.image_processor)
    dtype = train_dtype(train_args)
    options = {}
    if model_args.finetune == "qlora":
        options["quantization_config"] = quantization_config(model_args, family, dtype)
        options["device_map"] = {"": train_args.device}
    attention = model_args.attn_implementation
    try:
        model = AutoModelForImageTextToText.from_pretrained(
            path,
            dtype=dtype,
            attn_implementation=attention_implementation() if attention == "auto" else attention,
            **options,
        )
    except (OSError, ValueError, KeyError) as err:
        raise ModelError(f"cannot load the checkpoint '{path}': {err}") from None
    model.config.use_cache = False
    if model_args.finetune == "full":
        set_full_finetuning(model, family, model_args.train_vision)
    else:
        from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

        if model_args.finetune == "qlora":
            model = prepare_model_for_kbit_training(
                model, use_gradient_checkpointing=bool(train_args.activation_checkpointing)
            )
        config = LoraConfig(
            r=model_args.lora_r,
            lora_alpha=model_args.lora_alpha,
            lora_dropout=model_args.lora_dropout,
            target_modules=lora_targets(model, family, model_args),
            bias="none",
            task_type="CAUSAL_LM",
        )
        model = get_peft_model(model, config)
    log.info(
        "%s (%s): trainable parameters %s", family.name, model_args.finetune, trainable_summary(model, family)
    )
    return model, processor
