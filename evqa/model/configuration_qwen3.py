"""`EvqaQwen3VLConfig`: a Qwen3-VL config plus the SAM2 sub-config and EVQA's fields (`EvqaOptions`).

The same checkpoint layout as `EvqaConfig` (one `config.json` with `sam2_config` inside), under its own
`model_type` ('evqa_qwen3_vl') so that `AutoConfig` / `AutoModelForImageTextToText` pick the Qwen3-VL model.
"""

from __future__ import annotations

from huggingface_hub.dataclasses import strict
from transformers import AutoConfig, Qwen3VLConfig, Sam2VideoConfig

from evqa.model.configuration import EvqaOptions

QWEN3_VL_MODEL_TYPE = "evqa_qwen3_vl"


@strict
class EvqaQwen3VLConfig(Qwen3VLConfig, EvqaOptions):
    """Qwen3-VL hyper-parameters (text_config, vision_config with DeepStack layers, vision token ids) and
    EVQA's additions (`EvqaOptions`; `mrope_text_positions` does not apply, see there)."""

    model_type = QWEN3_VL_MODEL_TYPE
    sub_configs_defaults = {**Qwen3VLConfig.sub_configs_defaults, "sam2_config": Sam2VideoConfig}


AutoConfig.register(QWEN3_VL_MODEL_TYPE, EvqaQwen3VLConfig, exist_ok=True)
