"""VideoLLaMA3 (DAMO-NLP-SG/VideoLLaMA3-2B/7B, remote code; or the transformers-format checkpoints of the
`video_llama_3` architecture), fed timestamped frames (`evqa.baselines.hf_frames`)."""

from __future__ import annotations

from evqa.baselines.hf_frames import HfFramesModel
from evqa.baselines.registry import AdapterFacts, register_model


@register_model(
    "videollama3",
    AdapterFacts("DAMO-NLP-SG/VideoLLaMA3-7B", "videollama3", model_keywords=("videollama3",)),
)
class VideoLlama3Model(HfFramesModel):
    """VideoLLaMA3 over timestamped frames; upstream's --max-frames caps the frame count."""

    trust_remote_code = True
