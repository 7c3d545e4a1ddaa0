"""The Qwen3-VL presets equal the released Qwen3-VL-{2B,4B,8B}-Instruct configs and build models of the
published sizes on the meta device (no memory, no weights)."""

from __future__ import annotations

import pytest
import torch
from transformers import Qwen3VLConfig

from evqa.errors import ModelError
from evqa.model import EvqaQwen3VLConfig, EvqaQwen3VLForConditionalGeneration
from evqa.model.presets import build_processor, evqa_config

# the released config.json files (text_config / vision_config / tie_word_embeddings), as written there
_TEXT = {"attention_bias": False, "attention_dropout": 0.0, "head_dim": 128, "hidden_act": "silu",
         "initializer_range": 0.02, "max_position_embeddings": 262144, "rms_norm_eps": 1e-06,
         "rope_scaling": {"mrope_interleaved": True, "mrope_section": [24, 20, 20], "rope_type": "default"},
         "rope_theta": 5000000, "use_cache": True, "vocab_size": 151936}  # fmt: skip
_VISION = {"hidden_act": "gelu_pytorch_tanh", "in_channels": 3, "initializer_range": 0.02, "num_heads": 16,
           "num_position_embeddings": 2304, "patch_size": 16, "spatial_merge_size": 2, "temporal_patch_size": 2}  # fmt: skip
RELEASED = {
    "qwen3vl-2b": {"text_config": {**_TEXT, "hidden_size": 2048, "intermediate_size": 6144, "num_attention_heads": 16,
                                   "num_hidden_layers": 28, "num_key_value_heads": 8},
                   "vision_config": {**_VISION, "deepstack_visual_indexes": [5, 11, 17], "depth": 24, "hidden_size": 1024,
                                     "intermediate_size": 4096, "out_hidden_size": 2048},
                   "tie_word_embeddings": True},
    "qwen3vl-4b": {"text_config": {**_TEXT, "hidden_size": 2560, "intermediate_size": 9728, "num_attention_heads": 32,
                                   "num_hidden_layers": 36, "num_key_value_heads": 8},
                   "vision_config": {**_VISION, "deepstack_visual_indexes": [5, 11, 17], "depth": 24, "hidden_size": 1024,
                                     "intermediate_size": 4096, "out_hidden_size": 2560},
                   "tie_word_embeddings": True},
    "qwen3vl-8b": {"text_config": {**_TEXT, "hidden_size": 4096, "intermediate_size": 12288, "num_attention_heads": 32,
                                   "num_hidden_layers": 36, "num_key_value_heads": 8},
                   "vision_config": {**_VISION, "deepstack_visual_indexes": [8, 16, 24], "depth": 27, "hidden_size": 1152,
                                     "intermediate_size": 4304, "out_hidden_size": 4096},
                   "tie_word_embeddings": False},
}  # fmt: skip
# special-token ids come from the tokenizer in use (the tiny one here), not from the preset
TOKEN_KEYS = {"bos_token_id", "eos_token_id", "pad_token_id", "dtype"}


@pytest.mark.parametrize("preset", sorted(RELEASED))
def test_preset_configs_equal_the_released_ones(preset):
    released, ours = Qwen3VLConfig(**RELEASED[preset]), evqa_config(preset)
    assert isinstance(ours, EvqaQwen3VLConfig)
    for part in ("text_config", "vision_config"):
        want, got = getattr(released, part).to_dict(), getattr(ours, part).to_dict()
        keys = (set(want) | set(got)) - TOKEN_KEYS - {"tie_word_embeddings"}  # top-level in the model config
        assert {k: got.get(k) for k in keys} == {k: want.get(k) for k in keys}, part
    assert ours.tie_word_embeddings == released.tie_word_embeddings
    assert ours.sam2_image_size == 1024 and ours.track_mode == "forward"  # UniPixel's options, not the tiny's


@pytest.mark.parametrize(
    ("preset", "llm_vision"), [("qwen3vl-2b", 2.13e9), ("qwen3vl-4b", 4.44e9), ("qwen3vl-8b", 8.77e9)]
)  # published sizes (3 digits)
def test_presets_build_the_released_sizes_on_meta(preset, llm_vision):
    config = evqa_config(preset, "tiny")
    with torch.device("meta"):
        model = EvqaQwen3VLForConditionalGeneration(config)
    own = ("sam2.", "seg_head.", "ref_encoder.", "mem_proj.")
    count = sum(p.numel() for n, p in model.named_parameters() if not n.startswith(own))
    assert count == pytest.approx(llm_vision, rel=2e-3)
    tied = model.lm_head.weight is model.model.language_model.embed_tokens.weight
    assert tied == RELEASED[preset]["tie_word_embeddings"]
    assert len(model.model.visual.deepstack_merger_list) == 3
    assert model.mem_proj is not None and model.seg_head.mlp[0].in_features == config.text_config.hidden_size


def test_processor_and_errors():
    processor = build_processor("qwen3vl-4b")
    assert processor.to_dict()["backbone"] == "qwen3_vl" and processor.patch_size == 16
    assert processor.sam2_image_size == 1024 and not processor.cap_pixels_per_frame
    tiny = build_processor("qwen3vl-tiny")
    assert tiny.frame_size(8, 112, 112) == (128, 128) and tiny.sam2_image_size == 128
    with pytest.raises(ModelError, match="unknown model preset 'qwen3vl-32b'"):
        evqa_config("qwen3vl-32b")
