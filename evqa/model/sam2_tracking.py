"""Differentiable SAM2 video tracking over transformers' `Sam2VideoModel` parts.

transformers' `Sam2VideoModel.forward` is an inference-only, session-based API (`torch.inference_mode`), so
training cannot use it. This module drives the same sub-modules (`vision_encoder`, `prompt_encoder`,
`mask_decoder`, `memory_attention`, `memory_encoder`, `object_pointer_proj`) with SAM2's tracking rule and
keeps the autograd graph: one frame is prompted with sparse embeddings (from the LLM's `<|seg|>` state); the
others are decoded from memory-conditioned features, where the memory bank holds the prompted frame and the
`num_maskmem - 1` frames processed just before (memory encoder over each frame's predicted mask) plus object
pointers. Frames after the prompted one are tracked forward; with `backward=True` earlier frames are then
tracked backward from the prompted frame.

`TrackOptions` selects the behaviour. UniPixel's (the defaults): multimask output on every frame (the
candidate with the highest predicted IoU is kept, first on ties, and its output token becomes the object
pointer); the prompted frame's sparse prompt is [not-a-point, not-a-point, prompt tokens...] and tracked
frames get the two not-a-point rows; in inference a frame whose object score is <= 0 gets -1024 mask logits
and the no-object pointer; in training the predicted object score drives memory and pointers. EVQA's
original behaviour is available: single mask, prompt tokens alone, ground-truth presence gating.
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

    mask_logits: [T, S4, S4] low-resolution logits of the chosen mask (S4 = 4 * feature side).
    iou_scores: [T] predicted IoU of the chosen mask. object_score_logits: [T] object-presence logits.
    candidate_logits / candidate_ious: [T, M, S4, S4] / [T, M] every decoded candidate (M = 3 with multimask
        output, else 1), kept when `track_object(keep_candidates=True)` (training), else None.
    best_index: [T] int64 index of the chosen candidate.
    """

    mask_logits: torch.Tensor
    iou_scores: torch.Tensor
    object_score_logits: torch.Tensor
    candidate_logits: torch.Tensor | None = None
    candidate_ious: torch.Tensor | None = None
    best_index: torch.Tensor | None = None


@dataclass(frozen=True)
class TrackOptions:
    """How `track_object` decodes (see the module docstring); defaults are UniPixel's.

    multimask: 3 candidates per frame, best predicted IoU kept (False: SAM2's single mask).
    prompt_layout: 'unipixel' ([not-a-point x2, prompt tokens] / [not-a-point x2]) or 'evqa' (prompt tokens
        alone / one padding point from the prompt encoder).
    backward: after tracking forward from the prompted frame, track the earlier frames backward.
    """

    multimask: bool = True
    prompt_layout: str = "unipixel"
    backward: bool = False


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


def fit_memory_width(sam2: Sam2VideoModel) -> Sam2VideoModel:
    """Give memory attention's cross-attention keys/values the memory width of the config.

    transformers builds `cross_attn_image.k_proj / v_proj` with 64 inputs whatever
    `memory_encoder_output_channels` is (64 in every released SAM2); a SAM2 with another memory width
    (e.g. UniPixel's tiny test configs) needs them `memory_encoder_output_channels` wide."""
    width = sam2.config.memory_encoder_output_channels
    for layer in sam2.memory_attention.layers:
        attn = layer.cross_attn_image
        for name in ("k_proj", "v_proj"):
            proj = getattr(attn, name)
            if proj.in_features != width:
                setattr(attn, name, torch.nn.Linear(width, proj.out_features, dtype=proj.weight.dtype))
        attn.kv_in_dim = width
    return sam2


def _not_a_point_rows(sam2: Sam2VideoModel, like: torch.Tensor) -> torch.Tensor:
    """[1, 1, 2, C]: the empty point SAM2 adds when there are no points plus its padding point, both
    `not_a_point_embed` (what Meta's prompt encoder gives for label -1)."""
    row = sam2.prompt_encoder.not_a_point_embed.weight.to(like.dtype)
    return row.reshape(1, 1, 1, -1).expand(1, 1, 2, -1)


def _decode(sam2: Sam2VideoModel, feats: FrameFeatures, pix_feat, sparse, image_pe, options: TrackOptions):
    """Mask decoder on one frame -> (candidate logits [1, M, S4, S4], ious [1, M], tokens [1, M, C], object
    score [1, 1]). sparse: [1, 1, N, C] prompt embeddings, or None for a tracked frame."""
    if options.prompt_layout == "unipixel":
        rows = _not_a_point_rows(sam2, pix_feat)
        sparse = rows if sparse is None else torch.cat([rows, sparse.to(pix_feat.dtype)], dim=2)
        dense = sam2.prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1)
        dense = dense.expand(1, -1, *pix_feat.shape[-2:])
    elif sparse is None:
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
        multimask_output=options.multimask,
        high_resolution_features=feats[0][:-1],
    )
    return masks[:, 0], iou[:, 0], tokens[:, 0], obj[:, 0]


def _memorise(
    sam2: Sam2VideoModel, feats: FrameFeatures, mask_logits: torch.Tensor, present: torch.Tensor, blank: bool
):
    """Memory-encoder features of one frame's prediction -> (memory [hw,1,Cm], position [hw,1,Cm]).

    mask_logits: [1, S4, S4] chosen low-res logits; present: bool [1, 1, 1]; blank: replace the logits of
    an absent object by SAM2's no-object score first."""
    side = sam2.prompt_encoder.mask_input_size[0] * 4
    gated = (
        torch.where(present, mask_logits, torch.full_like(mask_logits, NO_OBJ_SCORE))
        if blank
        else mask_logits
    )
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
    options: TrackOptions | None = None,
    keep_candidates: bool = False,
    trace: dict | None = None,
) -> TrackOutput:
    """Segment one object in every frame: prompt `prompt_frame`, propagate forward (then backward).

    Args:
        sam2: the SAM2 parts. frame_features: t -> FrameFeatures (a list's `__getitem__`, or a lazy encoder).
        num_frames: T. prompt_embeddings: [N, C] sparse prompt embeddings (C = SAM2 hidden size).
        prompt_frame: index in 0..T-1 of the prompted frame.
        present: optional bool [T]; when given it gates memory and object pointers instead of the predicted
            object score (EVQA's ground-truth gating). known: optional bool [T]; frames where it is False
            use the predicted object score after all.
        progress: optional wrapper for the frame iterator (e.g. tqdm).
        options: `TrackOptions` (UniPixel's by default). keep_candidates: also return every candidate.
        trace: optional dict that receives per-frame lists of intermediate tensors (`pix_feat_with_mem`,
            `sparse_prompt`, `raw_logits`, `obj_ptr`, `maskmem_features`, `maskmem_pos_enc`), keyed by
            frame, for parity checks.
    In inference (`sam2.training` False) the candidates of a frame whose object score is <= 0 become -1024
    before the choice, as in SAM2's video predictor; training keeps the decoder's logits.
    """
    options = options or TrackOptions()
    order = list(range(prompt_frame, num_frames))
    if options.backward:
        order += list(range(prompt_frame - 1, -1, -1))
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
            sparse = prompt_embeddings[None, None]
        else:
            bank, pointers = _memory_of(sam2, cond, recent, abs(t - prompt_frame), max_ptrs)
            pix = _condition_on_memory(sam2, feats, bank, pointers, max_ptrs)
            sparse = None
        raw, ious, tokens, obj = _decode(sam2, feats, pix, sparse, image_pe, options)
        candidates = raw
        if not sam2.training and present is None:
            candidates = torch.where(obj[:, :, None, None] > 0, raw, torch.full_like(raw, NO_OBJ_SCORE))
        best = torch.argmax(ious, dim=-1)  # [1]; first index on ties
        masks = candidates[0, best]  # [1, S4, S4]
        token = tokens[0, best] if tokens.shape[1] > 1 else tokens[:, 0]
        use_truth = present is not None and (known is None or bool(known[t]))
        is_present = present[t].reshape(1) if use_truth else obj[:, 0] > 0
        gate = is_present.to(token.dtype)[:, None]
        pointer = gate * sam2.object_pointer_proj(token) + (1 - gate) * sam2.no_object_pointer
        memory, pos = _memorise(sam2, feats, masks, is_present[:, None, None], blank=use_truth)
        if t == prompt_frame:
            cond = {"memory": memory, "pos": pos, "pointer": pointer}
        else:
            recent = [*recent[-(keep - 1) :], (memory, pos, pointer)] if keep > 1 else []
        results[t] = (masks[0], ious[0, best[0]], obj[0, 0], candidates[0], ious[0], best[0])
        if trace is not None:
            for key, value in (("pix_feat_with_mem", pix[0]), ("sparse_prompt", None), ("raw_logits", raw[0]),
                               ("obj_ptr", pointer[0]), ("maskmem_features", memory), ("maskmem_pos_enc", pos)):  # fmt: skip
                if key == "sparse_prompt":
                    value = _decoder_sparse(sam2, pix, sparse, options)
                trace.setdefault(key, {})[t] = value.detach()
    stack = [torch.stack([results[t][i] for t in range(num_frames)]) for i in range(6)]
    if not keep_candidates:
        stack[3] = stack[4] = None
    return TrackOutput(*stack)


def _decoder_sparse(sam2: Sam2VideoModel, pix: torch.Tensor, sparse, options: TrackOptions) -> torch.Tensor:
    """The sparse prompt rows [N, C] the decoder got on a frame (for traces)."""
    if options.prompt_layout == "unipixel":
        rows = _not_a_point_rows(sam2, pix)
        return (rows if sparse is None else torch.cat([rows, sparse.to(pix.dtype)], dim=2))[0, 0]
    if sparse is None:
        points = pix.new_zeros(1, 1, 1, 2)
        labels = -torch.ones(1, 1, 1, dtype=torch.int32, device=pix.device)
        return sam2.prompt_encoder(points, labels, None, None)[0][0, 0]
    return sparse[0, 0]
