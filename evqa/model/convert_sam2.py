"""Meta SAM2 parameter names -> transformers `Sam2VideoModel` parameter names.

Meta's `SAM2Base` (facebookresearch/sam2, also vendored inside UniPixel) and transformers' `Sam2VideoModel`
hold the same tensors under different module paths. Every Meta key must match exactly one rule below;
a key no rule knows is an error, never silently dropped. Two tensors change shape:
- the prompt encoder's four point embeddings [1, C] each become one `point_embed.weight` [4, C];
- the prompt encoder's random Fourier matrix is also the model-level `shared_image_embedding`;
- Meta's memory encoder skips its output projection when memory and model widths are equal (an
  `Identity`); transformers always has one, so it becomes an identity 1x1 convolution.
Multi-layer perceptrons are renumbered: Meta's `layers.0 .. layers.{L-1}` become `proj_in`,
`layers.0 .. layers.{L-3}`, `proj_out`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch

from evqa.errors import ModelError

# (Meta pattern anchored at the start of the key, transformers replacement); the first match wins.
_RULES: list[tuple[str, str]] = [
    (r"maskmem_tpos_enc$", "memory_temporal_positional_encoding"),
    (r"no_mem_embed$", "no_memory_embedding"),
    (r"no_mem_pos_enc$", "no_memory_positional_encoding"),
    (r"no_obj_ptr$", "no_object_pointer"),
    (r"no_obj_embed_spatial$", "occlusion_spatial_embedding_parameter"),
    (r"mask_downsample\.", "mask_downsample."),
    (r"obj_ptr_proj\.", "object_pointer_proj."),
    (r"obj_ptr_tpos_proj\.", "temporal_positional_encoding_projection_layer."),
    # image encoder: Hiera trunk + FPN neck
    (r"image_encoder\.trunk\.patch_embed\.proj\.", "vision_encoder.backbone.patch_embed.projection."),
    (r"image_encoder\.trunk\.blocks\.(\d+)\.norm(\d)\.", r"vision_encoder.backbone.blocks.\1.layer_norm\2."),
    (r"image_encoder\.trunk\.", "vision_encoder.backbone."),
    (r"image_encoder\.neck\.convs\.(\d+)\.conv\.", r"vision_encoder.neck.convs.\1."),
    # prompt encoder
    (r"sam_prompt_encoder\.pe_layer\.positional_encoding_gaussian_matrix$",
     "prompt_encoder.shared_embedding.positional_embedding"),
    (r"sam_prompt_encoder\.mask_downscaling\.0\.", "prompt_encoder.mask_embed.conv1."),
    (r"sam_prompt_encoder\.mask_downscaling\.1\.", "prompt_encoder.mask_embed.layer_norm1."),
    (r"sam_prompt_encoder\.mask_downscaling\.3\.", "prompt_encoder.mask_embed.conv2."),
    (r"sam_prompt_encoder\.mask_downscaling\.4\.", "prompt_encoder.mask_embed.layer_norm2."),
    (r"sam_prompt_encoder\.mask_downscaling\.6\.", "prompt_encoder.mask_embed.conv3."),
    (r"sam_prompt_encoder\.(point_embeddings\.\d+|not_a_point_embed|no_mask_embed)\.", r"prompt_encoder.\1."),
    # mask decoder
    (r"sam_mask_decoder\.transformer\.norm_final_attn\.", "mask_decoder.transformer.layer_norm_final_attn."),
    (r"sam_mask_decoder\.transformer\.layers\.(\d+)\.norm(\d)\.", r"mask_decoder.transformer.layers.\1.layer_norm\2."),
    (r"sam_mask_decoder\.(transformer\..*)\.out_proj\.", r"mask_decoder.\1.o_proj."),
    (r"sam_mask_decoder\.output_upscaling\.0\.", "mask_decoder.upscale_conv1."),
    (r"sam_mask_decoder\.output_upscaling\.1\.", "mask_decoder.upscale_layer_norm."),
    (r"sam_mask_decoder\.output_upscaling\.3\.", "mask_decoder.upscale_conv2."),
    (r"sam_mask_decoder\.", "mask_decoder."),
    # memory attention
    (r"memory_attention\.layers\.(\d+)\.norm(\d)\.", r"memory_attention.layers.\1.layer_norm\2."),
    (r"memory_attention\.norm\.", "memory_attention.layer_norm."),
    (r"memory_attention\.(layers\.\d+\.\w+)\.out_proj\.", r"memory_attention.\1.o_proj."),
    (r"memory_attention\.", "memory_attention."),
    # memory encoder (UniPixel stores the layer scale `gamma` as `weight`, see _fuser_scale)
    (r"memory_encoder\.pix_feat_proj\.", "memory_encoder.feature_projection."),
    (r"memory_encoder\.out_proj\.", "memory_encoder.projection."),
    (r"memory_encoder\.fuser\.layers\.(\d+)\.dwconv\.", r"memory_encoder.memory_fuser.layers.\1.depthwise_conv."),
    (r"memory_encoder\.fuser\.layers\.(\d+)\.norm\.", r"memory_encoder.memory_fuser.layers.\1.layer_norm."),
    (r"memory_encoder\.fuser\.layers\.(\d+)\.pwconv(\d)\.", r"memory_encoder.memory_fuser.layers.\1.pointwise_conv\2."),
    (r"memory_encoder\.fuser\.layers\.(\d+)\.(gamma|weight)$", r"memory_encoder.memory_fuser.layers.\1.scale"),
    (r"memory_encoder\.mask_downsampler\.encoder\.(\d+)\.", "<downsampler>"),
]  # fmt: skip
_COMPILED = [(re.compile(pattern), repl) for pattern, repl in _RULES]

# Meta MLP modules (their `layers.i` are renumbered) — transformers names, after the rules above.
_MLP = re.compile(
    r"^(object_pointer_proj|vision_encoder\.backbone\.blocks\.\d+\.mlp|mask_decoder\.transformer\.layers\.\d+\.mlp"
    r"|mask_decoder\.output_hypernetworks_mlps\.\d+|mask_decoder\.iou_prediction_head"
    r"|mask_decoder\.pred_obj_score_head)\.layers\.(\d+)\.(weight|bias)$"
)
_DOWNSAMPLER = re.compile(r"^memory_encoder\.mask_downsampler\.encoder\.(\d+)\.(weight|bias)$")


def _rename(key: str) -> str:
    for pattern, repl in _COMPILED:
        match = pattern.match(key)
        if match:
            return key if repl == "<downsampler>" else pattern.sub(repl, key, count=1)
    raise ModelError(f"unknown Meta SAM2 parameter '{key}' (no conversion rule)")


def _renumber_mlps(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    depth: dict[str, int] = {}
    for key in state:
        if match := _MLP.match(key):
            depth[match[1]] = max(depth.get(match[1], 0), int(match[2]) + 1)
    out = {}
    for key, value in state.items():
        match = _MLP.match(key)
        if match:
            index, last = int(match[2]), depth[match[1]] - 1
            name = "proj_in" if index == 0 else "proj_out" if index == last else f"layers.{index - 1}"
            key = f"{match[1]}.{name}.{match[3]}"
        out[key] = value
    return out


def _renumber_downsampler(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Meta's Sequential (conv, norm, act) x N + final conv -> layers.i.conv / layers.i.layer_norm / final_conv."""
    indices = [int(m[1]) for key in state if (m := _DOWNSAMPLER.match(key))]
    if not indices:
        return state
    final = max(indices)
    out = {}
    for key, value in state.items():
        match = _DOWNSAMPLER.match(key)
        if match:
            index, kind = int(match[1]), match[2]
            if index == final:
                name = "final_conv"
            elif index % 3 == 0:
                name = f"layers.{index // 3}.conv"
            elif index % 3 == 1:
                name = f"layers.{index // 3}.layer_norm"
            else:
                raise ModelError(f"unexpected parameter '{key}' in the mask downsampler")
            key = f"memory_encoder.mask_downsampler.{name}.{kind}"
        out[key] = value
    return out


def _merge_point_embeddings(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    parts = sorted(
        (int(m[1]), key)
        for key in state
        if (m := re.match(r"prompt_encoder\.point_embeddings\.(\d+)\.weight$", key))
    )
    if parts:
        if [index for index, _ in parts] != list(range(len(parts))):
            raise ModelError(f"point embeddings are not numbered 0..{len(parts) - 1}")
        state["prompt_encoder.point_embed.weight"] = torch.cat([state.pop(key) for _, key in parts], dim=0)
    return state


def _add_identity_projection(state: dict[str, torch.Tensor]) -> None:
    feature = state.get("memory_encoder.feature_projection.weight")
    if feature is None or "memory_encoder.projection.weight" in state:
        return
    channels = feature.shape[0]
    eye = torch.eye(channels, dtype=feature.dtype).reshape(channels, channels, 1, 1)
    state["memory_encoder.projection.weight"] = eye
    state["memory_encoder.projection.bias"] = torch.zeros(channels, dtype=feature.dtype)


def meta_sam2_to_hf(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Meta SAM2 (`SAM2Base.state_dict()`, no prefix) -> `Sam2VideoModel.state_dict()` keys and shapes.

    Raises ModelError naming the first key without a rule. Tensors are not copied.
    """
    renamed: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        new = _rename(key)
        if new in renamed:
            raise ModelError(f"two Meta SAM2 parameters map to '{new}'")
        renamed[new] = value
    renamed = _merge_point_embeddings(_renumber_downsampler(_renumber_mlps(renamed)))
    _add_identity_projection(renamed)
    fourier = "prompt_encoder.shared_embedding.positional_embedding"
    if fourier in renamed:
        renamed["shared_image_embedding.positional_embedding"] = renamed[fourier].clone()
    return renamed
