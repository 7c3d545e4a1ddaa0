"""Convert a released UniPixel checkpoint into an EVQA checkpoint folder.

A UniPixel checkpoint (`PixelQwen2_5_VLForConditionalGeneration`) is a Qwen2.5-VL checkpoint plus UniPixel's
modules; every tensor converts (none is dropped, none left at initialisation):
- `sam2.*`: Meta SAM2 parameters -> our `sam2.*` (transformers `Sam2VideoModel`, see `convert_sam2`);
- `seg_head.{0,1,3}` (RMSNorm, Linear, GELU, Linear on the final norm's input) -> `seg_head.norm`,
  `seg_head.mlp.{0,2}` (the same design);
- `<|ref|>`: `ref_encoder.*` (a Meta SAM2 prompt encoder) -> `ref_encoder.prompt.*` (transformers' prompt
  encoder, same renaming as SAM2's), `ref_proj_single` / `ref_proj_double` / `ref_proj` ->
  `ref_encoder.point_proj` / `.box_proj` / `.proj`, `tem_pe` / `tem_emb` / `tem_proj` -> `ref_encoder.time_pe` /
  `.time_embed` / `.time_proj`;
- `<|mem|>`: `msk_proj.*` -> `mem_proj.mlp.*`.
The written config selects UniPixel's behaviour (`EvqaConfig`'s defaults: transformers 4.53 rope positions,
multimask decoding, UniPixel's sparse prompt, frame-0 forward tracking, UniPixel's loss) and the processor
writes no time-hint line. An unknown UniPixel key or a missing EVQA key raises `ModelError`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import AutoTokenizer, Qwen2_5_VLConfig

from evqa.errors import InputError, ModelError
from evqa.io import write_json_atomic
from evqa.model.convert_sam2 import meta_sam2_to_hf
from evqa.model.processing import EvqaProcessor
from evqa.model.tokenizer import prepare_tokenizer, special_token_ids

logger = logging.getLogger(__name__)

# UniPixel module prefix -> EVQA prefix (plain renames; `ref_encoder.` goes through the SAM2 rules)
HEAD_RENAMES = {
    "seg_head.0.": "seg_head.norm.",
    "seg_head.1.": "seg_head.mlp.0.",
    "seg_head.3.": "seg_head.mlp.2.",
    "ref_proj_single.": "ref_encoder.point_proj.",
    "ref_proj_double.": "ref_encoder.box_proj.",
    "ref_proj.": "ref_encoder.proj.",
    "tem_emb.": "ref_encoder.time_embed.",
    "tem_proj.": "ref_encoder.time_proj.",
    "msk_proj.": "mem_proj.mlp.",
}
TIME_PE = "tem_pe.positional_encoding_gaussian_matrix"
SAM2_NAMES = {"t": "tiny", "s": "small", "b+": "base", "l": "large"}
HIDDEN_SIZES = {"3b": 2048, "7b": 3584}


@dataclass
class ConversionReport:
    """What `convert_unipixel` did: counts of converted tensors per part, UniPixel keys not converted, and
    EVQA parameters that kept their initialisation."""

    source: str
    sam2: str
    sam2_image_size: int
    converted: dict[str, int] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)
    initialised: list[str] = field(default_factory=list)


def load_state_dict(src: Path) -> dict[str, torch.Tensor]:
    """All tensors of a checkpoint folder: model.safetensors, sharded safetensors (index json) or
    pytorch_model.bin. A LoRA adapter folder is refused (merge it into its base model first)."""
    if (src / "adapter_model.safetensors").is_file() or (src / "adapter_config.json").is_file():
        raise ModelError(f"{src} holds a LoRA adapter; merge it into its base model before converting")
    index = src / "model.safetensors.index.json"
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        state: dict[str, torch.Tensor] = {}
        for shard in shards:
            state.update(load_file(str(src / shard)))
        return state
    if (src / "model.safetensors").is_file():
        return load_file(str(src / "model.safetensors"))
    if (src / "pytorch_model.bin").is_file():
        return torch.load(src / "pytorch_model.bin", map_location="cpu", weights_only=True)
    raise InputError("no model.safetensors(.index.json) or pytorch_model.bin", path=str(src))


def qwen_key(key: str) -> str:
    """Qwen2.5-VL key in either layout (legacy `visual.*` / `model.layers.*` or current `model.visual.*` /
    `model.language_model.*`) -> the current layout."""
    if key.startswith("visual."):
        return "model." + key
    if key.startswith("model.") and not key.startswith(("model.visual.", "model.language_model.")):
        return "model.language_model." + key[len("model.") :]
    return key


def convert_heads(heads: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """UniPixel's seg head, `<|ref|>` and `<|mem|>` tensors -> EVQA keys (see the module docstring)."""
    out, prompt = {}, {}
    for key, value in heads.items():
        if key.startswith("ref_encoder."):
            prompt["sam_prompt_encoder." + key[len("ref_encoder.") :]] = value
        elif key == TIME_PE:
            out["ref_encoder.time_pe"] = value
        else:
            prefix = next(p for p in HEAD_RENAMES if key.startswith(p))
            out[HEAD_RENAMES[prefix] + key[len(prefix) :]] = value
    for key, value in meta_sam2_to_hf(prompt).items():
        if key.startswith("prompt_encoder."):
            out["ref_encoder.prompt." + key[len("prompt_encoder.") :]] = value
    return out


def split_unipixel(state: dict[str, torch.Tensor]) -> tuple[dict, dict, dict]:
    """UniPixel tensors -> (qwen, meta_sam2 without prefix, heads: seg_head / ref / mem tensors)."""
    qwen, sam2, heads = {}, {}, {}
    for key, value in state.items():
        if key.startswith("sam2."):
            sam2[key[len("sam2.") :]] = value
        elif key.startswith((*HEAD_RENAMES, "ref_encoder.")) or key == TIME_PE:
            heads[key] = value
        elif key.startswith(("model.", "visual.", "lm_head.")):
            qwen[qwen_key(key)] = value
        else:
            raise ModelError(f"unknown UniPixel parameter '{key}'")
    if not sam2:
        raise ModelError("no 'sam2.*' parameters: not a UniPixel checkpoint")
    if not {"seg_head.0.weight", "seg_head.1.weight", "seg_head.3.weight"} <= set(heads):
        raise ModelError(
            f"seg_head must be RMSNorm, Linear, GELU, Linear; found {sorted(k for k in heads if k.startswith('seg_head.'))}"
        )
    return qwen, sam2, heads


def sam2_name(src_config: dict, override: str | None) -> str:
    """'tiny' / 'base' / 'large' from --sam2 or UniPixel's `sam2_config` (e.g. 'sam2.1_hiera_b+')."""
    if override:
        return override
    match = re.search(r"hiera_(b\+|t|s|l)(?![a-z])", str(src_config.get("sam2_config") or ""))
    if not match:
        raise ModelError(
            "cannot tell the SAM2 size from config.json 'sam2_config'; pass --sam2 tiny|base|large"
        )
    return SAM2_NAMES[match[1]]


def sam2_config_from_unipixel(model: dict):
    """A `Sam2VideoConfig` from UniPixel's resolved hydra SAM2 config (the `model:` node, as a dict).

    Sizes come from the config; what UniPixel's SAM2 fixes in code is fixed here too (mask decoder:
    two-way transformer of depth 2, MLP 2048, 8 heads, IoU head 256; prompt encoder mask channels 16;
    Hiera head and width doubling per stage, window spec (8, 4, 14, 7) unless given). transformers'
    stability-based dynamic multimask is off: UniPixel's decoder has none."""
    from transformers import Sam2VideoConfig

    trunk, neck = model["image_encoder"]["trunk"], model["image_encoder"]["neck"]
    attention, encoder = model["memory_attention"], model["memory_encoder"]
    side = int(model.get("image_size", 1024))
    stages = list(trunk["stages"])
    embed = [int(trunk["embed_dim"]) * 2**i for i in range(len(stages))]
    heads = [int(trunk["num_heads"]) * 2**i for i in range(len(stages))]
    scalp = int(model["image_encoder"].get("scalp", 0))
    levels = len(embed) - scalp
    sizes = [[side // 2 ** (2 + i), side // 2 ** (2 + i)] for i in range(levels)]
    width, mem_dim = int(neck["d_model"]), int(encoder["out_dim"])
    hiera = dict(model_type="sam2_hiera_det_model", hidden_size=embed[0], num_attention_heads=heads[0],
                 image_size=[side, side], blocks_per_stage=stages, embed_dim_per_stage=embed,
                 num_attention_heads_per_stage=heads, global_attention_blocks=list(trunk["global_att_blocks"]),
                 window_size_per_stage=list(trunk.get("window_spec", (8, 4, 14, 7))),
                 window_positional_embedding_background_size=list(trunk["window_pos_embed_bkg_spatial_size"]))  # fmt: skip
    vision = dict(model_type="sam2_vision_model", backbone_config=hiera,
                  backbone_channel_list=list(neck["backbone_channel_list"]), backbone_feature_sizes=sizes,
                  fpn_hidden_size=width, fpn_top_down_levels=list(neck["fpn_top_down_levels"]),
                  num_feature_levels=levels)  # fmt: skip
    layer = attention["layer"]
    fuser = encoder["fuser"]["layer"]
    return Sam2VideoConfig(
        vision_config=vision,
        prompt_encoder_config=dict(hidden_size=width, image_size=side, patch_size=16),
        mask_decoder_config=dict(hidden_size=width, dynamic_multimask_via_stability=False),
        image_size=side,
        num_maskmem=int(model["num_maskmem"]),
        sigmoid_scale_for_mem_enc=float(model["sigmoid_scale_for_mem_enc"]),
        sigmoid_bias_for_mem_enc=float(model["sigmoid_bias_for_mem_enc"]),
        enable_occlusion_spatial_embedding=bool(model.get("no_obj_embed_spatial", False)),
        multimask_output_in_sam=bool(model.get("multimask_output_in_sam", False)),
        multimask_min_pt_num=int(model.get("multimask_min_pt_num", 1)),
        multimask_max_pt_num=int(model.get("multimask_max_pt_num", 1)),
        multimask_output_for_tracking=bool(model.get("multimask_output_for_tracking", False)),
        max_object_pointers_in_encoder=int(model.get("max_obj_ptrs_in_encoder", 16)),
        memory_attention_hidden_size=int(attention["d_model"]),
        memory_attention_num_layers=int(attention["num_layers"]),
        memory_attention_num_attention_heads=int(layer["self_attention"]["num_heads"]),
        memory_attention_feed_forward_hidden_size=int(layer["dim_feedforward"]),
        memory_attention_feed_forward_hidden_act=str(layer["activation"]),
        memory_attention_dropout=float(layer["dropout"]),
        memory_attention_rope_dropout=float(layer["self_attention"]["dropout"]),
        memory_attention_rope_feat_sizes=list(layer["self_attention"]["feat_sizes"]),
        rope_parameters={"rope_theta": float(layer["self_attention"]["rope_theta"]), "rope_type": "axial"},
        memory_encoder_hidden_size=int(encoder["in_dim"]),
        memory_encoder_output_channels=mem_dim,
        mask_downsampler_embed_dim=int(encoder["mask_downsampler"].get("embed_dim", 256)),
        mask_downsampler_kernel_size=int(encoder["mask_downsampler"]["kernel_size"]),
        mask_downsampler_stride=int(encoder["mask_downsampler"]["stride"]),
        mask_downsampler_padding=int(encoder["mask_downsampler"]["padding"]),
        memory_fuser_num_layers=int(encoder["fuser"]["num_layers"]),
        memory_fuser_embed_dim=int(fuser["dim"]),
        memory_fuser_intermediate_dim=4 * int(fuser["dim"]),
        memory_fuser_kernel_size=int(fuser["kernel_size"]),
        memory_fuser_padding=int(fuser["padding"]),
        memory_fuser_layer_scale_init_value=float(fuser["layer_scale_init_value"]),
    )


@contextlib.contextmanager
def default_dtype(dtype: torch.dtype):
    """Create parameters in `dtype` inside the block (halves the memory of a bf16 conversion)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def evqa_config_from(src_config: dict, tokenizer, sam2_config, num_seg_tokens: int):
    """`EvqaConfig` with UniPixel's Qwen2.5-VL hyper-parameters (flat legacy or nested config.json),
    the given SAM2 `Sam2VideoConfig` and EVQA's token ids from `tokenizer`."""
    from evqa.model.configuration import EvqaConfig

    qwen = Qwen2_5_VLConfig(
        **{k: v for k, v in src_config.items() if k not in ("architectures", "model_type")}
    )
    ids = special_token_ids(tokenizer)
    return EvqaConfig(
        text_config=qwen.text_config.to_dict(),
        vision_config=qwen.vision_config.to_dict(),
        image_token_id=qwen.image_token_id,
        video_token_id=qwen.video_token_id,
        vision_start_token_id=qwen.vision_start_token_id,
        vision_end_token_id=qwen.vision_end_token_id,
        tie_word_embeddings=bool(getattr(qwen, "tie_word_embeddings", False)),
        sam2_config=sam2_config,
        seg_token_id=ids["seg"],
        ref_token_id=ids["ref"],
        mem_token_id=ids["mem"],
        num_seg_prompt_tokens=num_seg_tokens,
    )


def _load_into(model, converted: dict[str, torch.Tensor]) -> list[str]:
    """Strictly load `converted`: every EVQA key present, none unknown (returns [], the keys left at init)."""
    try:
        result = model.load_state_dict(converted, strict=False, assign=True)
    except RuntimeError as err:  # shape mismatches
        raise ModelError(f"converted weights do not fit the EVQA model: {err}") from err
    missing = list(result.missing_keys)
    if missing or result.unexpected_keys:
        raise ModelError(
            f"conversion mismatch: missing {missing[:8]}, unexpected {result.unexpected_keys[:8]}"
        )
    if model.config.tie_word_embeddings:
        model.tie_weights()
    return sorted(result.missing_keys)


def convert_unipixel(
    src: str | Path,
    dst: str | Path,
    *,
    sam2: str | None = None,
    base_preset: str | None = None,
    dtype: torch.dtype | None = None,
    sam2_config=None,
) -> ConversionReport:
    """Convert the UniPixel checkpoint folder `src` (config.json, tokenizer, weights) into an EVQA
    checkpoint folder `dst` that `load_model(dst)` reads; writes `dst/conversion_report.json`.

    Args:
        sam2: 'tiny' | 'base' | 'large'; default from config.json `sam2_config`.
        base_preset: '3b' | '7b'; when given, the checkpoint's LLM width must match it.
        dtype: parameter dtype of the written checkpoint; default config.json `torch_dtype`, else float32.
        sam2_config: an explicit `Sam2VideoConfig` instead of a named preset (used for tiny test models).
    Needs about twice the checkpoint's size in RAM (the source tensors + the model).
    """
    from evqa.model.loading import save_model
    from evqa.model.modeling import EvqaForConditionalGeneration
    from evqa.model.presets import sam2_config as preset_sam2_config

    src, dst = Path(src), Path(dst)
    if not (src / "config.json").is_file():
        raise InputError("no config.json: not a checkpoint folder", path=str(src))
    src_config = json.loads((src / "config.json").read_text())
    qwen, meta_sam2, unipixel_heads = split_unipixel(load_state_dict(src))
    image_size = int(src_config.get("sam2_image_size") or 1024)
    name = "custom" if sam2_config is not None else sam2_name(src_config, sam2)
    sam2_config = sam2_config if sam2_config is not None else preset_sam2_config(name, image_size)
    tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(str(src)))
    sam2_hidden = sam2_config.vision_config.fpn_hidden_size
    config = evqa_config_from(
        src_config, tokenizer, sam2_config, unipixel_heads["seg_head.3.weight"].shape[0] // sam2_hidden
    )
    if base_preset and HIDDEN_SIZES[base_preset] != config.text_config.hidden_size:
        raise ModelError(f"--base-preset {base_preset} expects LLM width {HIDDEN_SIZES[base_preset]}, "
                         f"the checkpoint has {config.text_config.hidden_size}")  # fmt: skip
    if len(tokenizer) > config.text_config.vocab_size:
        raise ModelError(
            f"tokenizer has {len(tokenizer)} tokens but the checkpoint {config.text_config.vocab_size}"
        )
    if config.tie_word_embeddings and "lm_head.weight" not in qwen:
        qwen["lm_head.weight"] = qwen["model.language_model.embed_tokens.weight"]
    sam2_state = {f"sam2.{k}": v for k, v in meta_sam2_to_hf(meta_sam2).items()}
    heads = convert_heads(unipixel_heads)
    dtype = dtype or getattr(
        torch, str(src_config.get("torch_dtype") or src_config.get("dtype") or "float32")
    )
    with default_dtype(dtype):
        model = EvqaForConditionalGeneration(config)
    initialised = _load_into(model, {**qwen, **sam2_state, **heads})
    save_model(
        model.to(dtype), EvqaProcessor(tokenizer, sam2_image_size=image_size, timestamp_hint=False), dst
    )
    report = ConversionReport(str(src), name, image_size, initialised=initialised)
    parts = {"seg_head": ("seg_head.",), "ref": tuple(k for k in HEAD_RENAMES if "ref" in k or "tem" in k)}
    parts["ref"] += ("ref_encoder.", TIME_PE)
    parts["mem"] = ("msk_proj.",)
    report.converted = {"qwen": len(qwen), "sam2": len(meta_sam2)}
    report.converted |= {p: sum(k.startswith(v) for k in unipixel_heads) for p, v in parts.items()}
    write_json_atomic(dst / "conversion_report.json", asdict(report))
    logger.info("converted %s -> %s (%s)", src, dst, report.converted)
    return report
