"""Tiny random checkpoints (a few MB, seconds on CPU) of the video-LLM architectures transformers ships, saved
with their processors the way `evqa.baselines.hf_frames` loads them. The families `model.kind: hf_vlm`
trains are built by `evqa.training.hf_vlm.tiny` (re-exported here); InternVL and VideoLLaMA3 live here."""

from __future__ import annotations

import torch

from evqa.baselines.hf_frames import image_only_processor
from evqa.training.hf_vlm.tiny import TEXT, llava_onevision, qwen2_5_vl, qwen3_vl, smolvlm
from evqa.training.hf_vlm.tiny import save as _save
from evqa.training.hf_vlm.tiny import template as _template
from evqa.training.hf_vlm.tiny import token_ids as _ids
from evqa.training.hf_vlm.tiny import tokenizer as _tokenizer

__all__ = ["internvl", "llava_onevision", "qwen2_5_vl", "qwen3_vl", "smolvlm", "videollama3"]


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
