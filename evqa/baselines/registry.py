"""Model registry: `@register_model("gpt")` on an adapter class; modules are imported only when asked for,
so `evqa infer --model gpt` never imports torch and `--model qwen2_5_vl` never imports openai."""

from __future__ import annotations

import importlib
import os
from typing import Any

from evqa.errors import ConfigError

# registry name -> module defining it (imported lazily by get_model_class)
MODEL_MODULES: dict[str, str] = {
    "gpt": "evqa.baselines.gpt",
    "gemini": "evqa.baselines.gemini",
    "qwen2_5_vl": "evqa.baselines.qwen2_5_vl",
    "qwen3_vl": "evqa.baselines.qwen3_vl",
    "internvl3_5": "evqa.baselines.internvl3_5",
    "llava_ov_1_5": "evqa.baselines.llava_ov_1_5",
    "videollama3": "evqa.baselines.videollama3",
    "smolvlm": "evqa.baselines.smolvlm",
    "sa2va": "evqa.baselines.sa2va",
    "ours": "evqa.baselines.ours",
    "unipixel": "evqa.baselines.ours",
}

# default checkpoint / API model per adapter (what upstream scripts use when --model is omitted)
DEFAULT_MODEL_IDS: dict[str, str] = {
    "gpt": "gpt-4o",
    "gemini": "gemini-2.5-flash",
    "qwen2_5_vl": "Qwen/Qwen2.5-VL-7B-Instruct",
    "qwen3_vl": "Qwen/Qwen3-VL-4B-Instruct",
    "internvl3_5": "OpenGVLab/InternVL3_5-8B-HF",
    "llava_ov_1_5": "lmms-lab/LLaVA-OneVision-1.5-8B-Instruct",
    "videollama3": "DAMO-NLP-SG/VideoLLaMA3-7B",
    "smolvlm": "HuggingFaceTB/SmolVLM2-500M-Video-Instruct",
    "sa2va": "ByteDance/Sa2VA-4B",
    "ours": "model_zoo/evqa-3b",
    "unipixel": "PolyU-ChenLab/UniPixel-3B",
}

_REGISTRY: dict[str, type] = {}


def register_model(name: str):
    """Class decorator: make the adapter available as `get_model_class(name)`; sets `cls.name`."""

    def wrap(cls: type) -> type:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(
                f"model name '{name}' registered twice ({_REGISTRY[name].__name__}, {cls.__name__})"
            )
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return wrap


def available_models() -> list[str]:
    """Every registry name, whether or not its optional dependencies are installed."""
    return sorted(MODEL_MODULES)


def get_model_class(name: str) -> type:
    """The adapter class registered as `name`, importing its module on first use.

    Raises ConfigError for an unknown name (listing the known ones).
    """
    if name not in _REGISTRY:
        module = MODEL_MODULES.get(name)
        if module is None:
            raise ConfigError(
                f"unknown model '{name}'; known: {', '.join(available_models())}", field="--model"
            )
        importlib.import_module(module)
    if name not in _REGISTRY:
        raise ConfigError(f"module {MODEL_MODULES[name]} does not register '{name}'", field="--model")
    return _REGISTRY[name]


def resolve_adapter(model: str, adapter: str | None = None) -> tuple[str, str]:
    """Map a `--model` value to (adapter name, model id).

    `--model gpt` -> ('gpt', 'gpt-4o'); `--model o3` with adapter 'gpt' -> ('gpt', 'o3');
    `--model some/local/dir` with no adapter -> ('ours', that dir).
    """
    if not model and adapter is None:
        raise ConfigError("name a model or an adapter", field="--model")
    if adapter is not None:
        if model in MODEL_MODULES and model != adapter:
            raise ConfigError(f"--model {model} names another adapter than '{adapter}'", field="--model")
        return adapter, DEFAULT_MODEL_IDS[adapter] if model in (None, "", adapter) else model
    if model in MODEL_MODULES:
        return model, DEFAULT_MODEL_IDS[model]
    lowered = model.lower()
    for prefix, name in (("gpt", "gpt"), ("o1", "gpt"), ("o3", "gpt"), ("o4", "gpt"), ("gemini", "gemini")):
        if lowered.startswith(prefix):
            return name, model
    if os.path.isdir(model):
        return "ours", model
    for key, name in (
        ("qwen3-vl", "qwen3_vl"),
        ("qwen2.5-vl", "qwen2_5_vl"),
        ("internvl", "internvl3_5"),
        ("videollama3", "videollama3"),
        ("llava-onevision", "llava_ov_1_5"),
        ("smolvlm", "smolvlm"),
        ("sa2va", "sa2va"),
        ("unipixel", "unipixel"),
    ):
        if key in lowered:
            return name, model
    raise ConfigError(f"cannot tell which adapter runs '{model}'; pass --adapter", field="--model")


def build_model(name: str, model_id: str | None = None, **kwargs: Any):
    """Instantiate adapter `name` for checkpoint / API model `model_id` (default: DEFAULT_MODEL_IDS)."""
    cls = get_model_class(name)
    return cls(model=model_id or DEFAULT_MODEL_IDS.get(name), **kwargs)
