"""LLaVA-OneVision-1.5 (lmms-lab/LLaVA-OneVision-1.5-*-Instruct, remote code) and the LLaVA-OneVision
checkpoints transformers ships (llava-hf/llava-onevision-qwen2-*-ov-hf).

Remote-code checkpoints load with `trust_remote_code` through their published processor; the in-library
architecture gets the frames as timestamped images (`evqa.baselines.hf_frames`). Upstream's `--max-size`
is the longest frame side in pixels.
"""

from __future__ import annotations

from evqa.baselines.hf_frames import HfFramesModel
from evqa.baselines.registry import AdapterFacts, register_model


@register_model(
    "llava_ov_1_5",
    AdapterFacts("lmms-lab/LLaVA-OneVision-1.5-8B-Instruct", "llava_ov", model_keywords=("llava-onevision",)),
)
class LlavaOneVision15Model(HfFramesModel):
    """LLaVA-OneVision(-1.5) over timestamped frames."""

    trust_remote_code = True
    default_max_size = 512
