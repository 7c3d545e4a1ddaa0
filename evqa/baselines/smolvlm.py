"""SmolVLM2 (HuggingFaceTB/SmolVLM2-256M/500M-Video-Instruct, SmolVLM2-2.2B-Instruct) and Idefics3.

Frames go in as timestamped images through the checkpoint's own processor (`evqa.baselines.hf_frames`);
`evqa train` with `model.kind: hf_vlm` saves the processor it trained with (frames not split into tiles),
which `--adapter-path` or the merged checkpoint brings back here.
"""

from __future__ import annotations

from evqa.baselines.hf_frames import HfFramesModel
from evqa.baselines.registry import AdapterFacts, register_model


@register_model(
    "smolvlm",
    AdapterFacts("HuggingFaceTB/SmolVLM2-500M-Video-Instruct", "smolvlm", model_keywords=("smolvlm",)),
)
class SmolVLMModel(HfFramesModel):
    """SmolVLM2 / Idefics3 over timestamped frames."""
