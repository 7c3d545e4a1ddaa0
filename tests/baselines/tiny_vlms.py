"""Tiny random checkpoints (a few MB, seconds on CPU) of the video-LLM architectures transformers ships, saved
with their processors the way `evqa.baselines.hf_frames` loads them."""

from __future__ import annotations

import torch

from evqa.baselines.hf_frames import image_only_processor
from evqa.model.tokenizer import build_tiny_tokenizer

TEXT = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=4096,
)


def _tokenizer(out=None, **named_tokens):
    """The tiny BPE tokenizer; `named_tokens` (e.g. start_image_token='<img>') become named special tokens
    the way model-specific tokenizers declare them (attributes `<name>` and `<name>_id`)."""
    from transformers import AutoTokenizer

    tok = build_tiny_tokenizer()
    if not named_tokens:
        return tok
    tok.save_pretrained(f"{out}/tokenizer_base")
    return AutoTokenizer.from_pretrained(f"{out}/tokenizer_base", extra_special_tokens=named_tokens)


def _ids(tok, *tokens):
    return [tok.convert_tokens_to_ids(t) for t in tokens]


def _save(model, processor, out):
    model.generation_config.pad_token_id = processor.tokenizer.pad_token_id
    model.generation_config.eos_token_id = processor.tokenizer.eos_token_id
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return str(out)


def qwen2_5_vl(out):
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessorPil,
    )

    tok = _tokenizer()
    image, video, start, end = _ids(
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
    return _save(Qwen2_5_VLForConditionalGeneration(config), processor, out)


def qwen3_vl(out):
    from transformers import (
        Qwen2VLImageProcessorPil,
        Qwen3VLConfig,
        Qwen3VLForConditionalGeneration,
        Qwen3VLProcessor,
    )

    tok = _tokenizer()
    image, video, start, end = _ids(
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
    return _save(Qwen3VLForConditionalGeneration(config), processor, out)


def _template(image_placeholder: str) -> str:
    """The tiny tokenizer's chat template with another image placeholder (InternVL / LLaVA style)."""
    from evqa.model.tokenizer import CHAT_TEMPLATE

    return CHAT_TEMPLATE.replace("<|vision_start|><|image_pad|><|vision_end|>", image_placeholder)


def internvl(out):
    from transformers import (
        GotOcr2ImageProcessorPil,
        InternVLConfig,
        InternVLForConditionalGeneration,
        InternVLProcessor,
    )

    tok = _tokenizer(
        out,
        start_image_token="<img>",
        end_image_token="</img>",
        context_image_token="<IMG_CONTEXT>",
        video_token="<video>",
    )
    config = InternVLConfig(
        vision_config=dict(
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
            image_size=[56, 56],
            patch_size=[14, 14],
        ),
        text_config={
            "model_type": "qwen2",
            **TEXT,
            "vocab_size": len(tok),
            "eos_token_id": tok.eos_token_id,
            "pad_token_id": tok.pad_token_id,
        },
        image_token_id=tok.context_image_token_id,
        image_seq_length=4,
    )
    torch.manual_seed(0)
    image_processor = GotOcr2ImageProcessorPil(size={"height": 56, "width": 56}, crop_to_patches=False)
    processor = image_only_processor(InternVLProcessor)(
        image_processor=image_processor,
        tokenizer=tok,
        image_seq_length=4,
        chat_template=_template("<IMG_CONTEXT>"),
    )
    return _save(InternVLForConditionalGeneration(config), processor, out)


def llava_onevision(out):
    from transformers import (
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        LlavaOnevisionImageProcessorPil,
        LlavaOnevisionProcessor,
    )

    tok = _tokenizer(out, image_token="<image>", video_token="<video>")
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
        chat_template=_template("<image>"),
    )
    return _save(LlavaOnevisionForConditionalGeneration(config), processor, out)


def videollama3(out):
    from transformers import (
        VideoLlama3Config,
        VideoLlama3ForConditionalGeneration,
        VideoLlama3ImageProcessorPil,
        VideoLlama3Processor,
    )

    tok = _tokenizer()
    image, video = _ids(tok, "<|image_pad|>", "<|video_pad|>")
    config = VideoLlama3Config(
        vision_config=dict(
            hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, patch_size=14
        ),
        text_config={
            "model_type": "qwen2",
            **TEXT,
            "vocab_size": len(tok),
            "eos_token_id": tok.eos_token_id,
            "pad_token_id": tok.pad_token_id,
        },
        image_token_id=image,
        video_token_id=video,
    )
    torch.manual_seed(0)
    image_processor = VideoLlama3ImageProcessorPil(patch_size=14, min_pixels=28 * 28, max_pixels=56 * 56)
    processor = image_only_processor(VideoLlama3Processor)(
        image_processor=image_processor, tokenizer=tok, chat_template=_template("<|image_pad|>")
    )
    return _save(VideoLlama3ForConditionalGeneration(config), processor, out)
