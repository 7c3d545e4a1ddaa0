"""Differentiable SAM2 video tracking over transformers' `Sam2VideoModel` parts.

transformers' `Sam2VideoModel.forward` is an inference-only, session-based API (`torch.inference_mode`), so
training cannot use it. This module drives the same sub-modules (`vision_encoder`, `prompt_encoder`,
`mask_decoder`, `memory_attention`, `memory_encoder`, `object_pointer_proj`) with SAM2's tracking rule and
keeps the autograd graph: one frame is prompted with sparse embeddings (from the LLM's `<|seg|>` state); the
others are decoded from memory-conditioned features, where the memory bank holds the prompted frame and the
`num_maskmem - 1` frames processed just before (memory encoder over each frame's predicted mask) plus object
pointers. Frames after the prompted one are tracked forward, earlier frames backward, as in SAM2.

Single-mask output (no multimask selection) is used everywhere: the prompt is an embedding, not a click, so
the click ambiguity multimask resolves does not arise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import Sam2VideoModel
from transformers.models.sam2_video.modeling_sam2_video import NO_OBJ_SCORE, get_1d_sine_pe

# (level features [1,C_l,H_l,W_l] x3 after conv_s0/conv_s1, top-level position encoding [1,C,h,w])
FrameFeatures = tuple[list[torch.Tensor], torch.Tensor]


@dataclass
class TrackOutput:
    """Per-frame SAM2 outputs of one object, frames in video order.

    mask_logits: [T, S4, S4] low-resolution mask logits (S4 = 4 * feature side, 1/4 of the SAM2 image side).
    iou_scores: [T] predicted IoU of each mask. object_score_logits: [T] object-presence logits.
    """

    mask_logits: torch.Tensor
    iou_scores: torch.Tensor
    object_score_logits: torch.Tensor


def encode_frames(sam2: Sam2VideoModel, pixel_values: torch.Tensor) -> list[FrameFeatures]:
    """Run SAM2's image encoder on frames [T, 3, S, S] (SAM2-normalised) -> one FrameFeatures per frame."""
    out = sam2.get_image_features(pixel_values, return_dict=True)
    sizes = sam2.backbone_feature_sizes
    num = pixel_values.shape[0]
    # fpn_hidden_states are flattened (HW, T, C); back to (T, C, H, W)
    levels = [
        f.permute(1, 2, 0).reshape(num, -1, *s) for f, s in zip(out.fpn_hidden_states, sizes, strict=True)
    ]
    pos = out.fpn_position_encoding[-1].permute(1, 2, 0).reshape(num, -1, *sizes[-1])
    return [([lvl[t : t + 1] for lvl in levels], pos[t : t + 1]) for t in range(num)]


def _decode(
    sam2: Sam2VideoModel, feats: FrameFeatures, pix_feat: torch.Tensor, sparse: torch.Tensor | None, image_pe
):
    """Mask decoder on one frame; sparse [1,1,N,C] prompt embeddings, or None for an unprompted frame;
    image_pe: SAM2's image-wide positional embeddings [1, C, h, w]."""
    if sparse is None:
        points = pix_feat.new_zeros(1, 1, 1, 2)
        labels = -torch.ones(1, 1, 1, dtype=torch.int32, device=pix_feat.device)
        sparse, dense = sam2.prompt_encoder(points, labels, None, None)
    else:
        _, dense = sam2.prompt_encoder(None, None, None, None)
    masks, iou, tokens, obj = sam2.mask_decoder(
        image_embeddings=pix_feat,
        image_positional_embeddings=image_pe,
        sparse_prompt_embeddings=sparse.to(pix_feat.dtype),
        dense_prompt_embeddings=dense.to(pix_feat.dtype),
        multimask_output=False,
        high_resolution_features=feats[0][:-1],
    )
    return masks[:, 0, 0], iou[:, 0, 0], tokens[:, 0, 0], obj[:, 0, 0]


def _memorise(sam2: Sam2VideoModel, feats: FrameFeatures, mask_logits: torch.Tensor, present: torch.Tensor):
    """Memory-encoder features of one frame's prediction -> (memory [hw,1,Cm], position [hw,1,Cm])."""
    side = sam2.prompt_encoder.mask_input_size[0] * 4
    gated = torch.where(present, mask_logits, torch.full_like(mask_logits, NO_OBJ_SCORE))
    masks = F.interpolate(gated[None].float(), size=(side, side), mode="bilinear", align_corners=False)
    masks = torch.sigmoid(masks.to(mask_logits.dtype)) * sam2.config.sigmoid_scale_for_mem_enc
    masks = masks + sam2.config.sigmoid_bias_for_mem_enc
    memory, pos = sam2.memory_encoder(feats[0][-1], masks)
    if sam2.occlusion_spatial_embedding_parameter is not None:
        absent = 1.0 - present.to(memory.dtype)
        memory = memory + absent * sam2.occlusion_spatial_embedding_parameter[..., None, None]
    return memory.flatten(2).permute(2, 0, 1), pos.flatten(2).permute(2, 0, 1)


def _pointer_tokens(sam2: Sam2VideoModel, pointers: list[tuple[int, torch.Tensor]], max_ptrs: int):
    """Object pointers [(temporal distance, [1,C])] -> (tokens [P,1,Cm], positions [P,1,Cm])."""
    tokens = torch.stack([p for _, p in pointers], dim=0)
    num_channels = tokens.shape[-1]
    if sam2.config.enable_temporal_pos_encoding_for_object_pointers:
        dist = torch.tensor([d for d, _ in pointers], dtype=torch.float32, device=tokens.device)
        sine = get_1d_sine_pe(dist / max(max_ptrs - 1, 1), dim=num_channels).to(tokens.dtype)
        pos = sam2.temporal_positional_encoding_projection_layer(sine).unsqueeze(1)
    else:
        pos = tokens.new_zeros(len(pointers), 1, sam2.mem_dim)
    if sam2.mem_dim < num_channels:
        splits = num_channels // sam2.mem_dim
        tokens = tokens.reshape(-1, 1, splits, sam2.mem_dim).permute(0, 2, 1, 3).flatten(0, 1)
        pos = pos.repeat_interleave(splits, dim=0)
    return tokens, pos


def _condition_on_memory(
    sam2: Sam2VideoModel, feats: FrameFeatures, bank: list, pointers: list, max_ptrs: int
):
    """Top-level features of a frame attended over the memory bank -> [1, C, h, w]."""
    top, top_pos = feats[0][-1], feats[1]
    channels, (height, width) = top.shape[1], top.shape[-2:]
    memories = [m for m, _, _ in bank]
    # slot `offset - 1` of the temporal encoding; offset 0 (the prompted frame) takes the last slot
    positions = [p + sam2.memory_temporal_positional_encoding[off - 1] for _, p, off in bank]
    ptr_tokens, ptr_pos = _pointer_tokens(sam2, pointers, max_ptrs)
    fused = sam2.memory_attention(
        current_vision_features=top.flatten(2).permute(2, 0, 1),
        current_vision_position_embeddings=top_pos.flatten(2).permute(2, 0, 1),
        memory=torch.cat([*memories, ptr_tokens], dim=0).to(top.dtype),
        memory_posision_embeddings=torch.cat([*positions, ptr_pos], dim=0).to(top.dtype),
        num_object_pointer_tokens=ptr_tokens.shape[0],
    )
    return fused.reshape(1, height * width, channels).transpose(1, 2).reshape(1, channels, height, width)


def _memory_of(sam2: Sam2VideoModel, cond: dict, recent: list, distance: int, max_ptrs: int):
    """Memory bank [(memory, pos, temporal slot)] and object pointers [(distance, pointer)] of a frame
    `distance` frames from the prompted one; `recent` holds the frames processed before it, newest last."""
    bank = [(cond["memory"], cond["pos"], 0)]
    bank += [(m, p, k + 1) for k, (m, p, _) in enumerate(reversed(recent[-(sam2.num_maskmem - 1) :]))]
    pointers = [(distance, cond["pointer"])]
    pointers += [(k + 1, ptr) for k, (_, _, ptr) in enumerate(reversed(recent[-(max_ptrs - 1) :]))]
    return bank, pointers


def track_object(
    sam2: Sam2VideoModel,
    frame_features: Callable[[int], FrameFeatures],
    num_frames: int,
    prompt_embeddings: torch.Tensor,
    prompt_frame: int,
    present: torch.Tensor | None = None,
    known: torch.Tensor | None = None,
    progress: Callable | None = None,
) -> TrackOutput:
    """Segment one object in every frame: prompt `prompt_frame`, then propagate forward and backward.

    Args:
        sam2: the SAM2 parts. frame_features: t -> FrameFeatures (a list's `__getitem__`, or a lazy encoder).
        num_frames: T. prompt_embeddings: [N, C] sparse prompt embeddings (C = SAM2 hidden size).
        prompt_frame: index in 0..T-1 of the prompted frame.
        present: optional bool [T]; when given (training) it gates memory and object pointers instead of the
            predicted object score, so the memory path carries the prompted mask from the first step on.
        known: optional bool [T]; frames where it is False use the predicted object score after all.
        progress: optional wrapper for the frame iterator (e.g. tqdm).
    """
    order = list(range(prompt_frame, num_frames)) + list(range(prompt_frame - 1, -1, -1))
    results: dict[int, tuple] = {}
    cond: dict = {}
    recent: list = []  # (memory, pos, pointer) of frames processed in the current direction, newest last
    max_ptrs = min(num_frames, sam2.config.max_object_pointers_in_encoder)
    keep = max(sam2.num_maskmem, max_ptrs)
    image_pe = sam2.get_image_wide_positional_embeddings()
    for t in progress(order) if progress else order:
        feats = frame_features(t)
        if t == prompt_frame - 1:
            recent = []  # the backward pass starts from the prompted frame only
        if t == prompt_frame:
            pix = feats[0][-1] + sam2.no_memory_embedding.permute(0, 2, 1).unsqueeze(-1)
            out = _decode(sam2, feats, pix, prompt_embeddings[None, None], image_pe)
        else:
            bank, pointers = _memory_of(sam2, cond, recent, abs(t - prompt_frame), max_ptrs)
            pix = _condition_on_memory(sam2, feats, bank, pointers, max_ptrs)
            out = _decode(sam2, feats, pix, None, image_pe)
        masks, iou, token, obj = out
        use_truth = present is not None and (known is None or bool(known[t]))
        is_present = present[t].reshape(1) if use_truth else obj > 0
        gate = is_present.to(token.dtype)[:, None]
        pointer = gate * sam2.object_pointer_proj(token) + (1 - gate) * sam2.no_object_pointer
        memory, pos = _memorise(sam2, feats, masks, is_present[:, None, None])
        if t == prompt_frame:
            cond = {"memory": memory, "pos": pos, "pointer": pointer}
        else:
            recent = [*recent[-(keep - 1) :], (memory, pos, pointer)] if keep > 1 else []
        results[t] = (masks[0], iou[0], obj[0])
    return TrackOutput(*(torch.stack([results[t][i] for t in range(num_frames)]) for i in range(3)))
