"""Qwen3-VL (Qwen/Qwen3-VL-2B/4B/8B/30B-A3B/235B-A22B-Instruct).

Frames go in as timestamped images through the checkpoint's own processor (`evqa.baselines.hf_frames`);
sizes and frame counts are flags (--max-size, --fps, --max-frames), not separate adapters.
"""

from __future__ import annotations

from evqa.baselines.hf_frames import HfFramesModel
from evqa.baselines.registry import AdapterFacts, register_model


@register_model(
    "qwen3_vl",
    AdapterFacts("Qwen/Qwen3-VL-4B-Instruct", "qwen3vl", model_keywords=("qwen3-vl",)),
)
class Qwen3VLModel(HfFramesModel):
    """Qwen3-VL (Qwen/Qwen3-VL-2B/4B/8B/30B-A3B/235B-A22B-Instruct)."""
