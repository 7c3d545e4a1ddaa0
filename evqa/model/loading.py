"""Saving and strictly loading EVQA checkpoint folders (config.json + safetensors + tokenizer + processor)."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from evqa.errors import ModelError
from evqa.model.configuration import EvqaConfig
from evqa.model.modeling import EvqaForConditionalGeneration
from evqa.model.presets import attention_implementation
from evqa.model.processing import PROCESSOR_CONFIG, EvqaProcessor

logger = logging.getLogger(__name__)


def save_model(model: EvqaForConditionalGeneration, processor: EvqaProcessor, out_dir: str | Path) -> Path:
    """Write `model` (safetensors) and `processor` (tokenizer + settings) into `out_dir`; returns it."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    processor.save_pretrained(out)
    return out


def _check_folder(path: Path) -> None:
    if not (path / "config.json").is_file():
        raise ModelError(f"{path}: not an EVQA checkpoint folder (no config.json)")
    config = EvqaConfig.from_pretrained(path)
    if config.model_type != "evqa":
        raise ModelError(f"{path}: config.json has model_type '{config.model_type}', expected 'evqa'")
    if not (path / PROCESSOR_CONFIG).is_file():
        raise ModelError(f"{path}: no {PROCESSOR_CONFIG} (save with evqa.model.save_model)")


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
    _check_folder(path)
    model, info = EvqaForConditionalGeneration.from_pretrained(
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
