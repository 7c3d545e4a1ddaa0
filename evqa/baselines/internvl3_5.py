"""InternVL3.5 in the transformers format (OpenGVLab/InternVL3_5-*-HF).

Frames go in as timestamped images through the checkpoint's own processor (`evqa.baselines.hf_frames`);
sizes and frame counts are flags (--max-size, --fps, --max-frames), not separate adapters.
"""

from __future__ import annotations

from evqa.baselines.hf_frames import HfFramesModel
from evqa.baselines.registry import AdapterFacts, register_model


@register_model(
    "internvl3_5",
    AdapterFacts("OpenGVLab/InternVL3_5-8B-HF", "internvl", model_keywords=("internvl",)),
)
class InternVL35Model(HfFramesModel):
    """InternVL3.5 in the transformers format (OpenGVLab/InternVL3_5-*-HF)."""
