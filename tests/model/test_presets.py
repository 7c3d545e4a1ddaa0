"""Preset hyper-parameters give the published model sizes (built on the meta device: no memory, no weights)."""

from __future__ import annotations

import pytest
import torch

from evqa.errors import ModelError
from evqa.model.modeling import EvqaForConditionalGeneration
from evqa.model.presets import attention_implementation, evqa_config, sam2_config


def _count(module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(
    "preset, sam2, llm_vision, sam2_params",
    [("3b", "tiny", 3.75e9, 38.9e6), ("7b", "base", 8.29e9, 80.8e6)],  # published sizes (3 digits)
)
def test_presets_match_released_sizes(preset, sam2, llm_vision, sam2_params):
    config = evqa_config(preset, sam2)
    with torch.device("meta"):
        model = EvqaForConditionalGeneration(config)
    heads = _count(model.seg_head) + _count(model.ref_encoder) + _count(model.mem_proj)
    assert _count(model) - _count(model.sam2) - heads == pytest.approx(llm_vision, rel=2e-3)  # Qwen2.5-VL
    assert _count(model.sam2) == pytest.approx(sam2_params, rel=2e-3)  # SAM2.1 Hiera-T / Hiera-B+
    assert config.sam2_image_size == 1024


def test_sam2_configs_and_errors():
    large = sam2_config("large")
    assert large.vision_config.backbone_channel_list == [1152, 576, 288, 144]
    assert large.vision_config.backbone_config.blocks_per_stage == [2, 6, 36, 4]
    with pytest.raises(ModelError, match="unknown SAM2 preset 'huge'"):
        sam2_config("huge")
    with pytest.raises(ModelError, match="unknown model preset '13b'"):
        evqa_config("13b")


def test_attention_is_sdpa_on_cpu():
    impl = attention_implementation("cpu")
    assert impl == {"": "sdpa", "text_config": "sdpa", "vision_config": "sdpa", "sam2_config": "sdpa"}


@pytest.mark.parametrize("preset", ["tiny", "3b"])
def test_vision_token_ids_come_from_the_tokenizer(preset):
    from evqa.model.tokenizer import build_tiny_tokenizer, special_token_ids

    ids = special_token_ids(build_tiny_tokenizer())
    config = evqa_config(preset, "tiny")
    assert (config.video_token_id, config.image_token_id) == (ids["video_pad"], ids["image_pad"])
    assert (config.vision_start_token_id, config.vision_end_token_id) == (
        ids["vision_start"],
        ids["vision_end"],
    )


def test_tiny_preset_initialises_at_the_fan_in_scale():
    """Qwen's 0.02 suits widths of thousands; the tiny towers (128 / 64 wide) start at 1/sqrt(width)."""
    config = evqa_config("tiny")
    assert config.text_config.initializer_range == pytest.approx(128**-0.5, abs=1e-4)
    assert config.vision_config.initializer_range == pytest.approx(64**-0.5, abs=1e-4)
    assert evqa_config("3b").text_config.initializer_range == 0.02  # released widths keep Qwen's value
    torch.manual_seed(0)
    model = EvqaForConditionalGeneration._from_config(config)
    q_proj = model.model.language_model.layers[0].self_attn.q_proj.weight
    qkv = model.model.visual.blocks[0].attn.qkv.weight
    assert q_proj.std().item() == pytest.approx(128**-0.5, rel=0.05)
    assert qkv.std().item() == pytest.approx(64**-0.5, rel=0.05)
