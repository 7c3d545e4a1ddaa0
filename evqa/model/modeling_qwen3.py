"""`EvqaQwen3VLForConditionalGeneration`: the EVQA model on Qwen3-VL.

The LLM is transformers' `Qwen3VLForConditionalGeneration` unchanged (DeepStack vision features, interleaved
3-D rope); everything EVQA adds (SAM2, seg head, `<|ref|>` / `<|mem|>`, mask losses, tracking) is
`EvqaModelMixin`, shared with the Qwen2.5-VL model. Qwen3-VL gives frame times as text: each temporal
patch of the video is its own vision block after a `<t seconds>` timestamp (see
`evqa.model.processing_qwen3`), so the rope positions need no seconds input and no rule of EVQA's.
`<|mem|>` pools the input of the merger's first linear layer (LayerNorm-ed patches grouped merge² at a
time, [N/4, 4*C]), as the Qwen2.5-VL model pools its merger MLP's input.
"""

from __future__ import annotations

from transformers import AutoModel, AutoModelForImageTextToText, Qwen3VLForConditionalGeneration

from evqa.model.configuration_qwen3 import EvqaQwen3VLConfig
from evqa.model.modeling import EVQA_NO_SPLIT_MODULES, EvqaModelMixin


class EvqaQwen3VLForConditionalGeneration(EvqaModelMixin, Qwen3VLForConditionalGeneration):
    """Qwen3-VL that answers, cites time segments and segments its evidence (see `EvqaModelMixin`)."""

    config_class = EvqaQwen3VLConfig
    config: EvqaQwen3VLConfig
    merger_input_module = "model.visual.merger.linear_fc1"
    takes_second_per_grid = False
    _no_split_modules = [*Qwen3VLForConditionalGeneration._no_split_modules, *EVQA_NO_SPLIT_MODULES]

    def _ids_with_embeds(self, input_ids, inputs_embeds, position_ids, **inputs):
        """Qwen3-VL takes input_ids or inputs_embeds, not both: the 3-D positions are computed here from the
        ids (as its forward would), then only the embeddings go in; vision placeholders are found by their
        (unchanged) token embedding."""
        if position_ids is None:
            position_ids = self.model.compute_3d_position_ids(input_ids=input_ids, inputs_embeds=inputs_embeds,
                                                              **inputs)  # fmt: skip
        return None, position_ids

    def _install_rope_rule(self, config) -> None:
        """Qwen3-VL's own positions: its vision blocks are single temporal patches, for which transformers
        4.53's and 5's rules for the text after a block agree (see `EvqaOptions.mrope_text_positions`)."""


AutoModel.register(EvqaQwen3VLConfig, EvqaQwen3VLForConditionalGeneration, exist_ok=True)
AutoModelForImageTextToText.register(EvqaQwen3VLConfig, EvqaQwen3VLForConditionalGeneration, exist_ok=True)
