"""The EVQA model: Qwen2.5-VL or Qwen3-VL + SAM2 (transformers modules), its processor, presets, LoRA and
predictor.

Importing this package registers `EvqaConfig` / `EvqaForConditionalGeneration` and `EvqaQwen3VLConfig` /
`EvqaQwen3VLForConditionalGeneration` with transformers' Auto classes, so
`AutoModelForImageTextToText.from_pretrained(<evqa checkpoint>)` works for both backbones.
"""

from evqa.model.configuration import EvqaConfig
from evqa.model.configuration_qwen3 import EvqaQwen3VLConfig
from evqa.model.loading import load_model, save_model
from evqa.model.lora import apply_lora, merge_lora, parameter_groups
from evqa.model.modeling import EvqaForConditionalGeneration, EvqaOutput
from evqa.model.modeling_qwen3 import EvqaQwen3VLForConditionalGeneration
from evqa.model.predictor import EvqaPrediction, EvqaPredictor
from evqa.model.presets import build_model
from evqa.model.processing import EvqaProcessor
from evqa.model.processing_qwen3 import EvqaQwen3VLProcessor

__all__ = [
    "EvqaConfig",
    "EvqaForConditionalGeneration",
    "EvqaOutput",
    "EvqaPrediction",
    "EvqaPredictor",
    "EvqaProcessor",
    "EvqaQwen3VLConfig",
    "EvqaQwen3VLForConditionalGeneration",
    "EvqaQwen3VLProcessor",
    "apply_lora",
    "build_model",
    "load_model",
    "merge_lora",
    "parameter_groups",
    "save_model",
]
