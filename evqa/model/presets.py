"""Model presets: `tiny` (random init, CPU, seconds) and `3b` / `7b` (Qwen2.5-VL-3B/7B-Instruct), and on the
Qwen3-VL backbone `qwen3vl-tiny` / `qwen3vl-2b` / `qwen3vl-4b` / `qwen3vl-8b` (`evqa.model.presets_qwen3`), each
with a SAM2.1 image encoder `tiny` / `base` (Hiera-B+) / `large`. `build_model` is the one place a model is built.

The 3B/7B and SAM2.1 hyper-parameters are written here (from the released `config.json` / SAM2.1 YAMLs), so
a model of the right shape builds offline; weights come from `pretrained` folders when given, or from the
Hugging Face cache when the preset's model id is there (never downloaded here).
"""

from __future__ import annotations

import importlib.util
import logging

import torch
from huggingface_hub import snapshot_download
from huggingface_hub.errors import LocalEntryNotFoundError
from transformers import (
    AutoTokenizer,
    Qwen2_5_VLForConditionalGeneration,
    Qwen3VLForConditionalGeneration,
    Sam2VideoConfig,
    Sam2VideoModel,
)

from evqa.errors import ModelError
from evqa.model.configuration import EvqaConfig
from evqa.model.configuration_qwen3 import EvqaQwen3VLConfig
from evqa.model.modeling import EvqaForConditionalGeneration
from evqa.model.modeling_qwen3 import EvqaQwen3VLForConditionalGeneration
from evqa.model.presets_qwen3 import (
    QWEN3_PRESETS,
    QWEN3_SIZES,
    build_qwen3_processor,
    is_qwen3,
    qwen3_llm_config,
)
from evqa.model.processing import EvqaProcessor
from evqa.model.tokenizer import build_tiny_tokenizer, special_token_ids

logger = logging.getLogger(__name__)

QWEN_VISION = dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, patch_size=14,
                   spatial_merge_size=2, temporal_patch_size=2, tokens_per_second=2, window_size=112,
                   fullatt_block_indexes=[7, 15, 23, 31], hidden_act="silu")  # fmt: skip
LLM_PRESETS = {
    "3b": dict(hidden_size=2048, intermediate_size=11008, num_hidden_layers=36, num_attention_heads=16,
               num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True, hub_id="Qwen/Qwen2.5-VL-3B-Instruct"),
    "7b": dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
               num_key_value_heads=4, vocab_size=152064, tie_word_embeddings=False, hub_id="Qwen/Qwen2.5-VL-7B-Instruct"),
}  # fmt: skip
# SAM2.1 Hiera image encoders: (embed dim, blocks per stage, heads per stage, global blocks, windows, bkg)
SAM2_PRESETS = {
    "tiny": (96, [1, 2, 7, 2], [1, 2, 4, 8], [5, 7, 9], [8, 4, 14, 7], [7, 7]),
    "base": (112, [2, 3, 16, 3], [2, 4, 8, 16], [12, 16, 20], [8, 4, 14, 7], [14, 14]),
    "large": (144, [2, 6, 36, 4], [2, 4, 8, 16], [23, 33, 43], [8, 4, 16, 8], [7, 7]),
}
SAM2_HUB_IDS = {"tiny": "facebook/sam2.1-hiera-tiny", "base": "facebook/sam2.1-hiera-base-plus"}
SAM2_HUB_IDS["large"] = "facebook/sam2.1-hiera-large"
PRESETS = ("tiny", "3b", "7b", *QWEN3_PRESETS)
TINY_PRESETS = ("tiny", "qwen3vl-tiny")
# EVQA's original behaviour, kept by the tiny preset (trained from scratch by the CPU demo); 3b/7b and
# converted UniPixel checkpoints use `EvqaConfig`'s defaults, which are UniPixel's.
EVQA_ORIGINAL = dict(focal_loss_weight=20.0, dice_loss_weight=1.0, iou_loss_weight=1.0, object_score_loss_weight=1.0,
                     mask_loss_style="evqa", memory_gate="ground_truth", multimask_output=False,
                     sam2_prompt_layout="evqa", track_mode="bidirectional", decode_all_seg=False,
                     mrope_text_positions="transformers_5")  # fmt: skip
TINY_SAM2_SIZE = 128
TINY_FRAME_PIXELS = 112 * 112


def attention_implementation(device: str | torch.device | None = None) -> dict[str, str]:
    """Attention kernels per sub-model: 'flash_attention_2' for the LLM and vision tower when flash-attn is
    importable and `device` is CUDA (default: CUDA when available), else 'sdpa'; SAM2 always uses 'sdpa'."""
    on_cuda = torch.device(device).type == "cuda" if device is not None else torch.cuda.is_available()
    llm = "flash_attention_2" if on_cuda and importlib.util.find_spec("flash_attn") is not None else "sdpa"
    return {"": llm, "text_config": llm, "vision_config": llm, "sam2_config": "sdpa"}


def sam2_config(name: str, image_size: int = 1024) -> Sam2VideoConfig:
    """SAM2.1 video config `tiny` / `base` / `large` at `image_size` (1024 for released weights), or the
    4-stage micro Hiera of the tiny preset (`micro`, 64-channel neck, 1 memory-attention layer, no
    dropout: the tiny model must fit the synthetic task in minutes, not generalise)."""
    side = image_size
    sizes = [[side // 4, side // 4], [side // 8, side // 8], [side // 16, side // 16]]
    if name == "micro":
        dims, blocks, heads, glob, windows, bkg = 16, [1, 1, 2, 1], [1, 1, 2, 2], [3], [8, 4, 4, 4], [7, 7]
        neck, extra = 64, dict(memory_attention_num_layers=1, memory_attention_feed_forward_hidden_size=128,
                               memory_fuser_intermediate_dim=128, memory_fuser_num_layers=1,
                               memory_attention_dropout=0.0, memory_attention_rope_dropout=0.0)  # fmt: skip
        decoder = dict(mlp_dim=128, num_attention_heads=2, iou_head_hidden_dim=neck)
    elif name in SAM2_PRESETS:
        dims, blocks, heads, glob, windows, bkg = SAM2_PRESETS[name]
        neck, extra, decoder = 256, {}, {}
    else:
        raise ModelError(f"unknown SAM2 preset '{name}' (choose tiny, base or large)")
    embed = [dims * 2**i for i in range(4)]
    hiera = dict(model_type="sam2_hiera_det_model", hidden_size=dims, num_attention_heads=heads[0],
                 image_size=[side, side], blocks_per_stage=blocks, embed_dim_per_stage=embed,
                 num_attention_heads_per_stage=heads, global_attention_blocks=glob, window_size_per_stage=windows,
                 window_positional_embedding_background_size=bkg)  # fmt: skip
    vision = dict(model_type="sam2_vision_model", backbone_config=hiera, backbone_channel_list=embed[::-1],
                  backbone_feature_sizes=sizes, fpn_hidden_size=neck)  # fmt: skip
    return Sam2VideoConfig(
        vision_config=vision,
        prompt_encoder_config=dict(hidden_size=neck, image_size=side, patch_size=16),
        mask_decoder_config=dict(hidden_size=neck, **decoder),
        image_size=side,
        memory_attention_hidden_size=neck,
        memory_attention_rope_feat_sizes=sizes[-1],
        memory_encoder_hidden_size=neck,
        mask_downsampler_embed_dim=neck,
        memory_fuser_embed_dim=neck,
        **extra,
    )


def _llm_config(preset: str, vocab_size: int) -> dict:
    """Qwen2.5-VL text + vision hyper-parameters of a preset."""
    if preset == "tiny":
        text = dict(hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=2, vocab_size=-(-vocab_size // 64) * 64, max_position_embeddings=32768,
                    rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": [4, 6, 6]})  # fmt: skip
        vision = dict(QWEN_VISION, depth=2, hidden_size=64, intermediate_size=128, num_heads=2,
                      fullatt_block_indexes=[1], out_hidden_size=128)  # fmt: skip
        # Qwen's std 0.02 suits widths of 2-4k; at these widths it shrinks every layer's output ~4x and the
        # random model is slow to start reading the video: use the fan-in scale 1/sqrt(width) instead
        for part in (text, vision):
            part["initializer_range"] = round(part["hidden_size"] ** -0.5, 4)
        return dict(text_config=text, vision_config=vision, tie_word_embeddings=False)
    if preset not in LLM_PRESETS:
        raise ModelError(f"unknown model preset '{preset}' (choose one of {', '.join(PRESETS)})")
    text = {k: v for k, v in LLM_PRESETS[preset].items() if k not in ("hub_id", "tie_word_embeddings")}
    text.update(max_position_embeddings=128000, rms_norm_eps=1e-6,
                rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": [16, 24, 24]})  # fmt: skip
    vision = dict(QWEN_VISION, out_hidden_size=text["hidden_size"])
    return dict(
        text_config=text, vision_config=vision, tie_word_embeddings=LLM_PRESETS[preset]["tie_word_embeddings"]
    )


def evqa_config(preset: str, sam2: str | None = None, tokenizer=None) -> EvqaConfig | EvqaQwen3VLConfig:
    """The `EvqaConfig` (Qwen3-VL presets: `EvqaQwen3VLConfig`) of a preset; `sam2` defaults to `micro`
    (tiny presets) or `tiny` (the others).

    Special-token ids come from `tokenizer` (the tiny tokenizer when None)."""
    if preset not in PRESETS:
        raise ModelError(f"unknown model preset '{preset}' (choose one of {', '.join(PRESETS)})")
    tokenizer = tokenizer if tokenizer is not None else build_tiny_tokenizer()
    ids = special_token_ids(tokenizer)
    tiny = preset in TINY_PRESETS
    sam2 = sam2 or ("micro" if tiny else "tiny")
    image_size = TINY_SAM2_SIZE if tiny else 1024
    llm = (
        qwen3_llm_config(preset, len(tokenizer)) if is_qwen3(preset) else _llm_config(preset, len(tokenizer))
    )
    vocab = llm["text_config"]["vocab_size"]
    llm["text_config"].update(bos_token_id=ids["pad"], eos_token_id=ids["im_end"], pad_token_id=ids["pad"])
    if len(tokenizer) > vocab:
        raise ModelError(
            f"tokenizer has {len(tokenizer)} tokens but preset '{preset}' has {vocab} embeddings"
        )
    # Vision-token ids always come from the tokenizer in use: a real Qwen tokenizer gives its own
    # (151652-151656), the tiny one (also used by random-init 3b/7b runs) its ids.
    qwen_ids = {"image_token_id": ids["image_pad"], "video_token_id": ids["video_pad"]}
    qwen_ids.update(vision_start_token_id=ids["vision_start"], vision_end_token_id=ids["vision_end"])
    config_class = EvqaQwen3VLConfig if is_qwen3(preset) else EvqaConfig
    return config_class(
        **llm,
        **qwen_ids,
        sam2_config=sam2_config(sam2, image_size),
        seg_token_id=ids["seg"],
        ref_token_id=ids["ref"],
        mem_token_id=ids["mem"],
        num_seg_prompt_tokens=2,
        **(EVQA_ORIGINAL if tiny else {}),
    )


def build_processor(preset: str, tokenizer=None) -> EvqaProcessor:
    """The processor of a preset: tiny frames are ~112x112 pixels and SAM2 sees 128x128 squares."""
    tokenizer = tokenizer if tokenizer is not None else build_tiny_tokenizer()
    if is_qwen3(preset):
        return build_qwen3_processor(preset, tokenizer, TINY_SAM2_SIZE if preset in TINY_PRESETS else 1024)
    if preset == "tiny":
        return EvqaProcessor(
            tokenizer,
            min_pixels=TINY_FRAME_PIXELS,
            max_pixels=TINY_FRAME_PIXELS,
            sam2_image_size=TINY_SAM2_SIZE,
        )
    return EvqaProcessor(tokenizer, sam2_image_size=1024)


def build_model(
    preset: str = "tiny",
    sam2: str | None = None,
    *,
    torch_dtype: torch.dtype | None = None,
    device: str | torch.device | None = None,
    pretrained: str | bool | None = None,
    sam2_pretrained: str | bool | None = None,
    seed: int | None = 0,
) -> tuple[EvqaForConditionalGeneration | EvqaQwen3VLForConditionalGeneration, EvqaProcessor]:
    """Build (model, processor) for a preset.

    Args:
        preset: 'tiny', '3b', '7b' (Qwen2.5-VL) or 'qwen3vl-tiny', 'qwen3vl-2b', 'qwen3vl-4b', 'qwen3vl-8b'. sam2: SAM2.1 image encoder 'tiny' / 'base' / 'large' (or 'micro').
        torch_dtype: parameter dtype (float32 when None). device: where to build the model.
        pretrained: local Qwen2.5-VL-3B/7B- or Qwen3-VL-2B/4B/8B-Instruct folder: its tokenizer and LLM weights
            are loaded. None (released sizes): the preset's Hugging Face model id when it is in the local cache, else random weights.
            False: random weights.
        sam2_pretrained: local transformers SAM2.1 folder (e.g. a `facebook/sam2.1-hiera-*` download) whose
            weights replace the random SAM2 parts (strict); None / False as for `pretrained`.
        seed: random-init seed (None leaves the global RNG alone).
    Random weights are what the tiny preset, tests and GPU performance runs use.
    """
    if seed is not None:
        torch.manual_seed(seed)
    if preset in TINY_PRESETS and pretrained:
        raise ModelError(f"the {preset} preset has no pretrained weights; drop --pretrained")
    if preset not in TINY_PRESETS:
        hub_id = {**LLM_PRESETS, **QWEN3_SIZES}.get(preset, {}).get("hub_id")
        pretrained = _resolve(pretrained, hub_id)
        sam2_pretrained = _resolve(sam2_pretrained, SAM2_HUB_IDS.get(sam2 or "tiny"))
    tokenizer = None
    if pretrained:
        tokenizer = AutoTokenizer.from_pretrained(pretrained)
    processor = build_processor(preset, tokenizer)
    config = evqa_config(preset, sam2, processor.tokenizer)
    config._attn_implementation = attention_implementation(device)
    dtype = torch_dtype or torch.float32
    model_class = EvqaQwen3VLForConditionalGeneration if is_qwen3(preset) else EvqaForConditionalGeneration
    with torch.device(device or "cpu"):
        model = model_class._from_config(config, dtype=dtype)
    model.generation_config.eos_token_id = config.text_config.eos_token_id
    model.generation_config.pad_token_id = config.text_config.pad_token_id
    if pretrained:
        _load_llm_weights(model, pretrained)
    if sam2_pretrained:
        load_sam2_weights(model, sam2_pretrained)
    return model, processor


def _resolve(path: str | bool | None, hub_id: str | None) -> str | None:
    """A given folder; for None, the cached snapshot of `hub_id` if the local cache has it (no network)."""
    if path is False or (path is None and hub_id is None):
        return None
    if path is not None:
        return str(path)
    try:
        folder = snapshot_download(hub_id, local_files_only=True)
    except (LocalEntryNotFoundError, OSError):
        logger.info("%s is not in the local cache: random weights", hub_id)
        return None
    logger.info("using cached %s", hub_id)
    return folder


def load_sam2_weights(model: EvqaForConditionalGeneration, path: str) -> None:
    """Copy a transformers SAM2.1 (video) checkpoint's weights into `model.sam2`, strictly."""
    sam2_model = Sam2VideoModel.from_pretrained(path, dtype=model.dtype)
    try:
        model.sam2.load_state_dict(sam2_model.state_dict(), strict=True)
    except RuntimeError as err:
        raise ModelError(f"{path}: SAM2 weights do not fit the chosen --sam2 preset ({err})") from None
    logger.info("loaded SAM2 weights from %s", path)


def _load_llm_weights(model: EvqaForConditionalGeneration, path: str) -> None:
    """Copy a local Qwen2.5-VL / Qwen3-VL checkpoint's weights (the backbone of `model`) into `model` (every
    LLM/vision key must match)."""
    qwen3 = isinstance(model, EvqaQwen3VLForConditionalGeneration)
    backbone = Qwen3VLForConditionalGeneration if qwen3 else Qwen2_5_VLForConditionalGeneration
    name = "Qwen3-VL" if qwen3 else "Qwen2.5-VL"
    qwen = backbone.from_pretrained(path, dtype=model.dtype)
    result = model.load_state_dict(qwen.state_dict(), strict=False)
    own = ("sam2.", "seg_head.", "ref_encoder.", "mem_proj.")
    missing = [k for k in result.missing_keys if not k.startswith(own)]
    if missing or result.unexpected_keys:
        raise ModelError(f"{path}: {name} weights do not fit: missing {missing[:5]}, "
                         f"unexpected {result.unexpected_keys[:5]}")  # fmt: skip
    logger.info("loaded %s weights from %s", name, path)
