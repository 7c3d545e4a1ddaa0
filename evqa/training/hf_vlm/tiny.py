"""Tiny random checkpoints (a few MB, seconds on CPU) of the VLM families `model.kind: hf_vlm` trains.

Each builder writes a checkpoint folder the way a released one looks — config, weights, tokenizer and an
image-only processor (`evqa.baselines.hf_frames.image_only_processor`) — so training, `evqa infer` and
the tests load it exactly as they load Qwen/Qwen2.5-VL-7B-Instruct. `model.tiny: <family>` in an
experiment YAML builds one (CPU smoke runs); the baseline tests use the same builders.
"""

from __future__ import annotations

from pathlib import Path

import torch

from evqa.baselines.hf_frames import image_only_processor
from evqa.errors import ConfigError
from evqa.model.tokenizer import CHAT_TEMPLATE, build_tiny_tokenizer

# initialised at the fan-in scale 1 / sqrt(width): at Qwen's 0.02 the frozen lm_head of a 32-wide model
# caps every logit near 0.6, so LoRA on the LLM could barely move the answer's probability
TEXT = dict(
    initializer_range=32**-0.5,
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=4096,
)


def tokenizer(out=None, **named_tokens):
    """The tiny BPE tokenizer; `named_tokens` (e.g. start_image_token='<img>') become named special tokens
    the way model-specific tokenizers declare them (attributes `<name>` and `<name>_id`)."""
    from transformers import AutoTokenizer

    tok = build_tiny_tokenizer()
    if not named_tokens:
        return tok
    tok.save_pretrained(f"{out}/tokenizer_base")
    return AutoTokenizer.from_pretrained(f"{out}/tokenizer_base", extra_special_tokens=named_tokens)


def token_ids(tok, *tokens):
    return [tok.convert_tokens_to_ids(t) for t in tokens]


def save(model, processor, out) -> str:
    """Save model + processor to `out` with the tokenizer's pad/eos in the generation config."""
    model.generation_config.pad_token_id = processor.tokenizer.pad_token_id
    model.generation_config.eos_token_id = processor.tokenizer.eos_token_id
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return str(out)


def template(image_placeholder: str) -> str:
    """The tiny tokenizer's chat template with another image placeholder (InternVL / LLaVA style)."""
    return CHAT_TEMPLATE.replace("<|vision_start|><|image_pad|><|vision_end|>", image_placeholder)


def qwen2_5_vl(out) -> str:
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessorPil,
    )

    tok = tokenizer()
    image, video, start, end = token_ids(
        tok, "<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>"
    )
    config = Qwen2_5_VLConfig(
        text_config={
            **TEXT,
            "vocab_size": len(tok),
            "rope_scaling": {"type": "mrope", "mrope_section": [1, 1, 2]},
            "eos_token_id": tok.eos_token_id,
            "pad_token_id": tok.pad_token_id,
        },
        vision_config=dict(
            depth=1,
            hidden_size=32,
            intermediate_size=64,
            num_heads=2,
            out_hidden_size=32,
            fullatt_block_indexes=[0],
            window_size=112,
        ),
        image_token_id=image,
        video_token_id=video,
        vision_start_token_id=start,
        vision_end_token_id=end,
    )
    torch.manual_seed(0)
    processor = image_only_processor(Qwen2_5_VLProcessor)(
        image_processor=Qwen2VLImageProcessorPil(min_pixels=56 * 56, max_pixels=112 * 112),
        tokenizer=tok,
        chat_template=tok.chat_template,
    )
    return save(Qwen2_5_VLForConditionalGeneration(config), processor, out)


def qwen3_vl(out) -> str:
    from transformers import (
        Qwen2VLImageProcessorPil,
        Qwen3VLConfig,
        Qwen3VLForConditionalGeneration,
        Qwen3VLProcessor,
    )

    tok = tokenizer()
    image, video, start, end = token_ids(
        tok, "<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>"
    )
    config = Qwen3VLConfig(
        text_config={
            **TEXT,
            "vocab_size": len(tok),
            "head_dim": 8,
            "rope_scaling": {"rope_type": "default", "mrope_section": [1, 1, 2], "mrope_interleaved": True},
            "eos_token_id": tok.eos_token_id,
            "pad_token_id": tok.pad_token_id,
        },
        vision_config=dict(
            depth=2,
            hidden_size=32,
            intermediate_size=64,
            num_heads=2,
            out_hidden_size=32,
            patch_size=16,
            num_position_embeddings=64,
            deepstack_visual_indexes=[1],
        ),
        image_token_id=image,
        video_token_id=video,
        vision_start_token_id=start,
        vision_end_token_id=end,
    )
    torch.manual_seed(0)
    processor = image_only_processor(Qwen3VLProcessor)(
        image_processor=Qwen2VLImageProcessorPil(patch_size=16, min_pixels=64 * 64, max_pixels=128 * 128),
        tokenizer=tok,
        chat_template=tok.chat_template,
    )
    return save(Qwen3VLForConditionalGeneration(config), processor, out)


def llava_onevision(out) -> str:
    from transformers import (
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        LlavaOnevisionImageProcessorPil,
        LlavaOnevisionProcessor,
    )

    tok = tokenizer(out, image_token="<image>", video_token="<video>")
    config = LlavaOnevisionConfig(
        vision_config={
            "model_type": "siglip_vision_model",
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 28,
            "patch_size": 14,
        },
        text_config={
            "model_type": "qwen2",
            **TEXT,
            "vocab_size": len(tok),
            "eos_token_id": tok.eos_token_id,
            "pad_token_id": tok.pad_token_id,
        },
        image_token_index=tok.image_token_id,
        video_token_index=tok.video_token_id,
        image_grid_pinpoints=[[28, 28]],
        vision_feature_layer=-1,
    )
    torch.manual_seed(0)
    image_processor = LlavaOnevisionImageProcessorPil(
        size={"height": 28, "width": 28}, image_grid_pinpoints=[[28, 28]]
    )
    processor = image_only_processor(LlavaOnevisionProcessor)(
        image_processor=image_processor,
        tokenizer=tok,
        num_image_tokens=4,
        vision_feature_select_strategy="full",
        chat_template=template("<image>"),
    )
    return save(LlavaOnevisionForConditionalGeneration(config), processor, out)


def smolvlm(out) -> str:
    """SmolVLM2 (`smolvlm` architecture: SigLIP encoder, pixel-shuffle connector, Llama LLM) with the
    released chat template ("User: ...<end_of_utterance>\\nAssistant:") and its image tokens."""
    from transformers import SmolVLMConfig, SmolVLMForConditionalGeneration, SmolVLMImageProcessorPil
    from transformers.models.smolvlm.processing_smolvlm import DEFAULT_CHAT_TEMPLATE, SmolVLMProcessor

    tok = tokenizer(
        out,
        image_token="<image>",
        fake_image_token="<fake_token_around_image>",
        global_image_token="<global-img>",
        end_of_utterance_token="<end_of_utterance>",
    )
    tok.add_special_tokens({"eos_token": "<end_of_utterance>"})
    config = SmolVLMConfig(
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
        },
        text_config={
            "model_type": "llama",
            **TEXT,
            "vocab_size": len(tok),
            "eos_token_id": tok.eos_token_id,
            "pad_token_id": tok.pad_token_id,
        },
        scale_factor=2,
        image_token_id=tok.image_token_id,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(0)
    # (32 / 8)^2 patches / scale_factor^2 = 4 tokens per image; frames are not split into tiles
    image_processor = SmolVLMImageProcessorPil(
        size={"longest_edge": 32}, max_image_size={"longest_edge": 32}, do_image_splitting=False
    )
    processor = image_only_processor(SmolVLMProcessor)(
        image_processor=image_processor,
        tokenizer=tok,
        image_seq_len=4,
        chat_template=DEFAULT_CHAT_TEMPLATE,
    )
    return save(SmolVLMForConditionalGeneration(config), processor, out)


TINY_BUILDERS = {
    "qwen2_5_vl": qwen2_5_vl,
    "qwen3_vl": qwen3_vl,
    "smolvlm": smolvlm,
    "llava_onevision": llava_onevision,
}


def build_tiny_checkpoint(family: str, out: str | Path) -> str:
    """Write the tiny random checkpoint of `family` (a key of `TINY_BUILDERS`) to `out`; returns `out`.

    Same weights on every call (seeded), so a resumed run rebuilds the model it started from."""
    if family not in TINY_BUILDERS:
        raise ConfigError(
            f"no tiny checkpoint for {family!r}; known: {', '.join(TINY_BUILDERS)}", field="model.tiny"
        )
    return TINY_BUILDERS[family](Path(out))
