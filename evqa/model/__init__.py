"""The EVQA model: Qwen2.5-VL + SAM2 (transformers modules), its processor, presets, LoRA and predictor.

Importing this package registers `EvqaConfig` / `EvqaForConditionalGeneration` with transformers' Auto
classes, so `AutoModelForImageTextToText.from_pretrained(<evqa checkpoint>)` works.
"""

from evqa.model.configuration import EvqaConfig
from evqa.model.loading import load_model, save_model
from evqa.model.lora import apply_lora, merge_lora, parameter_groups
from evqa.model.modeling import EvqaForConditionalGeneration, EvqaOutput
from evqa.model.predictor import EvqaPrediction, EvqaPredictor
from evqa.model.presets import build_model
from evqa.model.processing import EvqaProcessor

__all__ = [
    "EvqaConfig",
    "EvqaForConditionalGeneration",
    "EvqaOutput",
    "EvqaPrediction",
    "EvqaPredictor",
    "EvqaProcessor",
    "apply_lora",
    "build_model",
    "load_model",
    "merge_lora",
    "parameter_groups",
    "save_model",
]
