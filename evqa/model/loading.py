"""Saving and strictly loading EVQA checkpoint folders (config.json + safetensors + tokenizer + processor)."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from transformers import AutoConfig

from evqa.errors import ModelError
from evqa.model.configuration_qwen3 import QWEN3_VL_MODEL_TYPE
from evqa.model.modeling import EvqaForConditionalGeneration
from evqa.model.modeling_qwen3 import EvqaQwen3VLForConditionalGeneration
from evqa.model.presets import attention_implementation
from evqa.model.processing import PROCESSOR_CONFIG, EvqaProcessor

logger = logging.getLogger(__name__)
# config.json model_type -> the EVQA model class of that backbone
MODEL_CLASSES = {
    "evqa": EvqaForConditionalGeneration,
    QWEN3_VL_MODEL_TYPE: EvqaQwen3VLForConditionalGeneration,
}


def save_model(model: EvqaForConditionalGeneration, processor: EvqaProcessor, out_dir: str | Path) -> Path:
    """Write `model` (safetensors) and `processor` (tokenizer + settings) into `out_dir`; returns it."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    processor.save_pretrained(out)
    return out


def _check_folder(path: Path) -> type[EvqaForConditionalGeneration]:
    """The model class of an EVQA checkpoint folder (ModelError when it is not one)."""
    if not (path / "config.json").is_file():
        raise ModelError(f"{path}: not an EVQA checkpoint folder (no config.json)")
    try:
        model_type = AutoConfig.from_pretrained(path).model_type
    except (ValueError, KeyError) as err:
        raise ModelError(f"{path}: config.json is not a model config ({err})") from None
    if model_type not in MODEL_CLASSES:
        expected = " or ".join(f"'{t}'" for t in MODEL_CLASSES)
        raise ModelError(f"{path}: config.json has model_type '{model_type}', expected {expected}")
    if not (path / PROCESSOR_CONFIG).is_file():
        raise ModelError(f"{path}: no {PROCESSOR_CONFIG} (save with evqa.model.save_model)")
    return MODEL_CLASSES[model_type]


def load_model(
    path: str | Path,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
    *,
    allow_missing: bool = False,
) -> tuple[EvqaForConditionalGeneration, EvqaProcessor]:
    """Load (model, processor) from an EVQA checkpoint folder, in eval mode.

    Strict like SAM2's `build_sam`: a weight the model expects but the checkpoint lacks, or a checkpoint
    weight the model has no place for, raises `ModelError` naming the keys, unless `allow_missing=True`
    (then they are logged and missing weights keep their random init).
    """
    path = Path(path)
    model_class = _check_folder(path)
    model, info = model_class.from_pretrained(
        path,
        dtype=dtype or torch.float32,
        output_loading_info=True,
        attn_implementation=attention_implementation(device),
    )
    problems = {k: sorted(info.get(k) or []) for k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    if any(problems.values()):
        message = "; ".join(f"{k.replace('_', ' ')}: {v[:8]}{' ...' if len(v) > 8 else ''}"
                            for k, v in problems.items() if v)  # fmt: skip
        if not allow_missing:
            raise ModelError(f"{path}: checkpoint does not match the model ({message})")
        logger.warning("%s: loaded with %s", path, message)
    if device is not None:
        model = model.to(device)
    return model.eval(), EvqaProcessor.from_pretrained(path)
