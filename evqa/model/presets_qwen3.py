"""Qwen3-VL presets: `qwen3vl-tiny` (random init, CPU) and `qwen3vl-2b` / `qwen3vl-4b` / `qwen3vl-8b`, whose
LLM and vision hyper-parameters are those of the released Qwen/Qwen3-VL-{2B,4B,8B}-Instruct `config.json`
(`rope_scaling` there is `rope_parameters` in transformers 5). `evqa.model.presets.build_model` builds them.
"""

from __future__ import annotations

from evqa.model.processing_qwen3 import EvqaQwen3VLProcessor

QWEN3_PREFIX = "qwen3vl-"
# shared by the three released sizes
QWEN3_TEXT = dict(vocab_size=151936, head_dim=128, hidden_act="silu", max_position_embeddings=262144,
                  rms_norm_eps=1e-6, attention_bias=False, attention_dropout=0.0,
                  rope_parameters={"rope_type": "default", "rope_theta": 5000000.0, "mrope_section": [24, 20, 20],
                                   "mrope_interleaved": True})  # fmt: skip
QWEN3_VISION = dict(hidden_act="gelu_pytorch_tanh", num_heads=16, in_channels=3, patch_size=16, spatial_merge_size=2,
                    temporal_patch_size=2, num_position_embeddings=2304)  # fmt: skip
QWEN3_SIZES = {
    "qwen3vl-2b": dict(text=dict(hidden_size=2048, intermediate_size=6144, num_hidden_layers=28, num_attention_heads=16,
                                 num_key_value_heads=8),
                       vision=dict(depth=24, hidden_size=1024, intermediate_size=4096, out_hidden_size=2048,
                                   deepstack_visual_indexes=[5, 11, 17]),
                       tie_word_embeddings=True, hub_id="Qwen/Qwen3-VL-2B-Instruct"),
    "qwen3vl-4b": dict(text=dict(hidden_size=2560, intermediate_size=9728, num_hidden_layers=36, num_attention_heads=32,
                                 num_key_value_heads=8),
                       vision=dict(depth=24, hidden_size=1024, intermediate_size=4096, out_hidden_size=2560,
                                   deepstack_visual_indexes=[5, 11, 17]),
                       tie_word_embeddings=True, hub_id="Qwen/Qwen3-VL-4B-Instruct"),
    "qwen3vl-8b": dict(text=dict(hidden_size=4096, intermediate_size=12288, num_hidden_layers=36, num_attention_heads=32,
                                 num_key_value_heads=8),
                       vision=dict(depth=27, hidden_size=1152, intermediate_size=4304, out_hidden_size=4096,
                                   deepstack_visual_indexes=[8, 16, 24]),
                       tie_word_embeddings=False, hub_id="Qwen/Qwen3-VL-8B-Instruct"),
}  # fmt: skip
QWEN3_PRESETS = ("qwen3vl-tiny", *QWEN3_SIZES)
# the tiny preset's frames: 128 x 128 pixels (4 x 4 merged patches of 32 px) whatever the frame count
TINY_TOKENS_PER_FRAME = 16
TINY_MIN_PIXELS = 64 * 64


def is_qwen3(preset: str) -> bool:
    """True for the Qwen3-VL presets (names starting with 'qwen3vl-')."""
    return preset.startswith(QWEN3_PREFIX)


def qwen3_llm_config(preset: str, vocab_size: int) -> dict:
    """Qwen3-VL text + vision hyper-parameters of a preset (`preset` in `QWEN3_PRESETS`)."""
    if preset == "qwen3vl-tiny":
        text = dict(hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=2, head_dim=32, vocab_size=-(-vocab_size // 64) * 64,
                    max_position_embeddings=32768,
                    rope_parameters={"rope_type": "default", "rope_theta": 5000000.0, "mrope_section": [6, 5, 5],
                                     "mrope_interleaved": True})  # fmt: skip
        vision = dict(QWEN3_VISION, depth=2, hidden_size=64, intermediate_size=128, num_heads=2, out_hidden_size=128,
                      num_position_embeddings=64, deepstack_visual_indexes=[0])  # fmt: skip
        # as the Qwen2.5-VL tiny preset: the fan-in scale 1/sqrt(width), not Qwen's 0.02, at these widths
        for part in (text, vision):
            part["initializer_range"] = round(part["hidden_size"] ** -0.5, 4)
        return dict(text_config=text, vision_config=vision, tie_word_embeddings=False)
    size = QWEN3_SIZES[preset]
    return dict(text_config={**QWEN3_TEXT, **size["text"]}, vision_config={**QWEN3_VISION, **size["vision"]},
                tie_word_embeddings=size["tie_word_embeddings"])  # fmt: skip


def build_qwen3_processor(preset: str, tokenizer, sam2_image_size: int) -> EvqaQwen3VLProcessor:
    """The processor of a Qwen3-VL preset: tiny frames are 128 x 128 pixels (per-frame cap of 16 merged
    patches), the released sizes use transformers' Qwen3-VL video defaults."""
    if preset == "qwen3vl-tiny":
        return EvqaQwen3VLProcessor(tokenizer, min_pixels=TINY_MIN_PIXELS, cap_pixels_per_frame=True,
                                    max_video_tokens=TINY_TOKENS_PER_FRAME, sam2_image_size=sam2_image_size)  # fmt: skip
    return EvqaQwen3VLProcessor(tokenizer, sam2_image_size=sam2_image_size)
