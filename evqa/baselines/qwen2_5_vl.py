"""Qwen2.5-VL (Qwen/Qwen2.5-VL-3B/7B/32B/72B-Instruct).

Frames go in as timestamped images through the checkpoint's own processor (`evqa.baselines.hf_frames`);
sizes and frame counts are flags (--max-size, --fps, --max-frames), not separate adapters.
"""

from __future__ import annotations

from evqa.baselines.hf_frames import HfFramesModel
from evqa.baselines.registry import AdapterFacts, register_model


@register_model(
    "qwen2_5_vl",
    AdapterFacts("Qwen/Qwen2.5-VL-7B-Instruct", "qwen2_5vl", model_keywords=("qwen2.5-vl",)),
)
class Qwen25VLModel(HfFramesModel):
    """Qwen2.5-VL (Qwen/Qwen2.5-VL-3B/7B/32B/72B-Instruct)."""
