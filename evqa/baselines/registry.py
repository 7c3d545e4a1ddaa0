"""Model registry: `@register_model("gpt", AdapterFacts(...))` on an adapter class records everything EVQA
knows about the adapter in one place, on the class: its default model, which `--model` values it runs and
its results folder. The adapter modules import no heavy library at module level (torch, transformers,
openai and google-genai are imported when a model is built), so `evqa infer --model gpt` never imports
torch and `--model qwen2_5_vl` never imports openai, although every adapter module is imported to read the
facts.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Any

from evqa.errors import ConfigError

# the modules that define adapters (each registers its classes when imported)
ADAPTER_MODULES: tuple[str, ...] = (
    "evqa.baselines.gpt",
    "evqa.baselines.gemini",
    "evqa.baselines.qwen2_5_vl",
    "evqa.baselines.qwen3_vl",
    "evqa.baselines.internvl3_5",
    "evqa.baselines.llava_ov_1_5",
    "evqa.baselines.videollama3",
    "evqa.baselines.smolvlm",
    "evqa.baselines.sa2va",
    "evqa.baselines.ours",
)


@dataclass(frozen=True)
class AdapterFacts:
    """What the registry knows about one adapter.

    Attributes:
        default_model: the checkpoint / API model used when `--model` names only the adapter.
        result_folder: the folder under results/ of its default output path (upstream's folder names).
        model_prefixes: lower-case prefixes of model ids this adapter runs ('o3' -> gpt).
        model_keywords: lower-case substrings of model ids / hub names this adapter runs ('qwen3-vl').
        api: a remote API model (no local device, weights or GPUs).
    """

    default_model: str
    result_folder: str
    model_prefixes: tuple[str, ...] = ()
    model_keywords: tuple[str, ...] = ()
    api: bool = False


_REGISTRY: dict[str, type] = {}
_LOADED = False


def register_model(name: str, facts: AdapterFacts):
    """Class decorator: make the adapter available as `get_model_class(name)`; sets `cls.name` and
    `cls.facts`."""

    def wrap(cls: type) -> type:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(
                f"model name '{name}' registered twice ({_REGISTRY[name].__name__}, {cls.__name__})"
            )
        cls.name = name
        cls.facts = facts
        _REGISTRY[name] = cls
        return cls

    return wrap


def _load_all() -> dict[str, type]:
    global _LOADED
    if not _LOADED:
        for module in ADAPTER_MODULES:
            importlib.import_module(module)
        _LOADED = True
    return _REGISTRY


def available_models() -> list[str]:
    """Every registry name, whether or not its optional dependencies are installed."""
    return sorted(_load_all())


def get_model_class(name: str) -> type:
    """The adapter class registered as `name`. Raises ConfigError for an unknown name (listing the known
    ones)."""
    registry = _load_all()
    if name not in registry:
        raise ConfigError(f"unknown model '{name}'; known: {', '.join(available_models())}", field="--model")
    return registry[name]


def adapter_facts(name: str) -> AdapterFacts:
    """The facts record of adapter `name`."""
    return get_model_class(name).facts


def default_model(name: str) -> str:
    """The model adapter `name` runs when `--model` names only the adapter."""
    return adapter_facts(name).default_model


def resolve_adapter(model: str | None, adapter: str | None = None) -> tuple[str, str]:
    """Map a `--model` value to (adapter name, model id).

    `--model gpt` -> ('gpt', 'gpt-4o'); `--model o3` with adapter 'gpt' -> ('gpt', 'o3');
    `--model some/local/dir` with no adapter -> ('ours', that dir).
    """
    registry = _load_all()
    if not model and adapter is None:
        raise ConfigError("name a model or an adapter", field="--model")
    if adapter is not None:
        get_model_class(adapter)
        if model in registry and model != adapter:
            raise ConfigError(f"--model {model} names another adapter than '{adapter}'", field="--model")
        return adapter, default_model(adapter) if model in (None, "", adapter) else model
    if model in registry:
        return model, default_model(model)
    lowered = model.lower()
    for name, cls in registry.items():
        if lowered.startswith(cls.facts.model_prefixes) and cls.facts.model_prefixes:
            return name, model
    if os.path.isdir(model):
        return "ours", model
    for name, cls in registry.items():
        if any(key in lowered for key in cls.facts.model_keywords):
            return name, model
    raise ConfigError(f"cannot tell which adapter runs '{model}'; pass --adapter", field="--model")


def build_model(name: str, model_id: str | None = None, **kwargs: Any):
    """Instantiate adapter `name` for checkpoint / API model `model_id` (default: its default model)."""
    cls = get_model_class(name)
    return cls(model=model_id or cls.facts.default_model, **kwargs)
