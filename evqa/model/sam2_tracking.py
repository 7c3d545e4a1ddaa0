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
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from transformers import Sam2VideoModel
from transformers.models.sam2_video.modeling_sam2_video import (
    NO_OBJ_SCORE,
    apply_rotary_pos_emb_2d,
    get_1d_sine_pe,
)

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
    # `split`, not `lvl[t : t + 1]`: the backward of T slices zero-fills T full-size gradients, split's is
    # one concatenation
    frames = zip(*(lvl.split(1) for lvl in levels), strict=True)
    return [(list(lvls), p) for lvls, p in zip(frames, pos.split(1), strict=True)]


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


def _expand(tensor: torch.Tensor, batch: int) -> torch.Tensor:
    """A [1, ...] tensor as [batch, ...] (a view)."""
    return tensor.expand(batch, *tensor.shape[1:])


def _decode(sam2: Sam2VideoModel, high_res: list, pix_feat, sparse, image_pe, options: TrackOptions):
    """Mask decoder on B frames -> (candidate logits [B, M, S4, S4], ious [B, M], tokens [B, M, C], object
    score [B, 1]). high_res: the two high-resolution levels [B, C_l, H_l, W_l]; sparse: [B, 1, N, C] prompt
    embeddings, or None for tracked frames."""
    num = pix_feat.shape[0]
    if options.prompt_layout == "unipixel":
        rows = _expand(_not_a_point_rows(sam2, pix_feat), num)
        sparse = rows if sparse is None else torch.cat([rows, sparse.to(pix_feat.dtype)], dim=2)
        dense = sam2.prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1)
        dense = dense.expand(num, -1, *pix_feat.shape[-2:])
    elif sparse is None:
        points = pix_feat.new_zeros(num, 1, 1, 2)
        labels = -torch.ones(num, 1, 1, dtype=torch.int32, device=pix_feat.device)
        sparse, dense = sam2.prompt_encoder(points, labels, None, None)
    else:
        _, dense = sam2.prompt_encoder(None, None, None, None)
        dense = _expand(dense, num)
    masks, iou, tokens, obj = sam2.mask_decoder(
        image_embeddings=pix_feat,
        image_positional_embeddings=_expand(image_pe, num),
        sparse_prompt_embeddings=sparse.to(pix_feat.dtype),
        dense_prompt_embeddings=dense.to(pix_feat.dtype),
        multimask_output=options.multimask,
        high_resolution_features=high_res,
    )
    return masks[:, 0], iou[:, 0], tokens[:, 0], obj[:, 0]


def _memorise(sam2: Sam2VideoModel, top: torch.Tensor, mask_logits: torch.Tensor, present: torch.Tensor,
              blank: torch.Tensor):  # fmt: skip
    """Memory-encoder features of B frames' predictions -> (memory [hw,B,Cm], position [hw,B,Cm]).

    top: [B, C, h, w] top-level features; mask_logits: [B, S4, S4] chosen low-res logits; present: bool
    [B, 1, 1]; blank: bool [B, 1, 1], replace the logits of an absent object by SAM2's no-object score
    first."""
    side = sam2.prompt_encoder.mask_input_size[0] * 4
    gated = torch.where(blank & ~present, torch.full_like(mask_logits, NO_OBJ_SCORE), mask_logits)
    masks = F.interpolate(gated[:, None].float(), size=(side, side), mode="bilinear", align_corners=False)
    masks = torch.sigmoid(masks.to(mask_logits.dtype)) * sam2.config.sigmoid_scale_for_mem_enc
    masks = masks + sam2.config.sigmoid_bias_for_mem_enc
    memory, pos = sam2.memory_encoder(top, masks)
    if sam2.occlusion_spatial_embedding_parameter is not None:
        absent = 1.0 - present.to(memory.dtype)[:, :, :, None]
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


def _memory_tokens(sam2: Sam2VideoModel, bank: list, pointers: list, max_ptrs: int):
    """One track's memory bank and pointers -> (spatial memory [S*hw,1,Cm] and its positions, pointer
    tokens [P,1,Cm] and their positions)."""
    # slot `offset - 1` of the temporal encoding; offset 0 (the prompted frame) takes the last slot
    positions = [p + sam2.memory_temporal_positional_encoding[off - 1] for _, p, off in bank]
    ptr_tokens, ptr_pos = _pointer_tokens(sam2, pointers, max_ptrs)
    return torch.cat([m for m, _, _ in bank]), torch.cat(positions), ptr_tokens, ptr_pos


def _pad_rows(parts: list[torch.Tensor], length: int) -> torch.Tensor:
    """[N_b, 1, C] tensors -> [length, B, C], zero rows after each part's own."""
    return torch.cat([F.pad(p, (0, 0, 0, 0, 0, length - p.shape[0])) for p in parts], dim=1)


def _masked_memory_attention(attention, current, memory, memory_pos, num_pointer_tokens, keep):
    """transformers' `Sam2VideoMemoryAttention.forward` (same sub-modules, same order) over memories
    padded to one length: `keep` bool [B, N] marks each track's real memory rows; padded rows take no
    attention. current / memory / positions are sequence-first ([hw,B,C], [N,B,Cm])."""
    output = current.transpose(0, 1)
    memory = memory.transpose(0, 1).unsqueeze(1)
    memory_pos = memory_pos.transpose(0, 1).unsqueeze(1)
    rope = attention.rotary_emb(output, attention.position_ids)
    mask = keep[:, None, None, :]  # [B, heads, queries, keys] broadcast
    for layer in attention.layers:
        queries = output.unsqueeze(1) if output.ndim == 3 else output
        query = layer.layer_norm1(queries)
        query, _ = layer.self_attn(query=query, key=query, value=query, position_embeddings=rope)
        queries = queries + layer.dropout1(query)
        query = _masked_rope_attention(layer.cross_attn_image, layer.layer_norm2(queries), memory + memory_pos,
                                       memory, rope, num_pointer_tokens, mask)  # fmt: skip
        queries = queries + layer.dropout2(query)
        query = layer.layer_norm3(queries)
        query = layer.linear2(layer.dropout(layer.activation(layer.linear1(query))))
        output = queries + layer.dropout3(query)
    return attention.layer_norm(output).transpose(0, 1)


def _masked_rope_attention(attn, query, key, value, rope, num_k_exclude_rope, mask):
    """transformers' `Sam2VideoRoPEAttention.forward` with a key mask (bool, True: attend)."""
    batch, point_batch = query.shape[:2]
    shape = (batch * point_batch, -1, attn.num_attention_heads, attn.head_dim)
    query = attn.q_proj(query).view(*shape).transpose(1, 2)
    key = attn.k_proj(key).view(*shape).transpose(1, 2)
    value = attn.v_proj(value).view(*shape).transpose(1, 2)
    query, key = apply_rotary_pos_emb_2d(query, key, *rope, repeat_freqs_k=attn.rope_k_repeat,
                                         num_k_exclude_rope=num_k_exclude_rope)  # fmt: skip
    out = F.scaled_dot_product_attention(query, key, value, attn_mask=mask, scale=attn.scaling,
                                         dropout_p=attn.dropout_p if attn.training else 0.0)  # fmt: skip
    out = out.transpose(1, 2).reshape(batch, point_batch, -1, attn.num_attention_heads * attn.head_dim)
    return attn.o_proj(out)


def _condition_on_memory(sam2: Sam2VideoModel, top, top_pos, memories: list):
    """Top-level features of B frames [B, C, h, w] (positions alike) attended over each one's memory ->
    [B, C, h, w]. memories: per frame, `_memory_tokens`' four tensors."""
    num, channels, (height, width) = top.shape[0], top.shape[1], top.shape[-2:]
    current = top.flatten(2).permute(2, 0, 1)
    current_pos = top_pos.flatten(2).permute(2, 0, 1)
    spatial, pointer = [m[0].shape[0] for m in memories], [m[2].shape[0] for m in memories]
    if len(set(spatial)) == 1 and len(set(pointer)) == 1:  # one length: transformers' module as it is
        memory = torch.cat([torch.cat([m[0], m[2]]) for m in memories], dim=1)
        memory_pos = torch.cat([torch.cat([m[1], m[3]]) for m in memories], dim=1)
        fused = sam2.memory_attention(
            current_vision_features=current,
            current_vision_position_embeddings=current_pos,
            memory=memory.to(top.dtype),
            memory_posision_embeddings=memory_pos.to(top.dtype),
            num_object_pointer_tokens=pointer[0],
        )
    else:  # spatial rows padded to the longest bank, pointer rows to the most pointers; padding masked
        most_spatial, most_pointers = max(spatial), max(pointer)
        memory = torch.cat([_pad_rows([m[0] for m in memories], most_spatial),
                            _pad_rows([m[2] for m in memories], most_pointers)])  # fmt: skip
        memory_pos = torch.cat([_pad_rows([m[1] for m in memories], most_spatial),
                                _pad_rows([m[3] for m in memories], most_pointers)])  # fmt: skip
        rows = torch.arange(most_spatial + most_pointers, device=top.device)
        keep = torch.stack([(rows < s) | ((rows >= most_spatial) & (rows < most_spatial + p))
                            for s, p in zip(spatial, pointer, strict=True)])  # fmt: skip
        fused = _masked_memory_attention(sam2.memory_attention, current + 0.1 * current_pos,
                                         memory.to(top.dtype), memory_pos.to(top.dtype), most_pointers, keep)  # fmt: skip
    # [1, B, hw, C] (the module's batch-first layers, transposed back)
    return fused.reshape(num, height * width, channels).transpose(1, 2).reshape(num, channels, height, width)


def _memory_of(sam2: Sam2VideoModel, cond: dict, recent: list, distance: int, max_ptrs: int):
    """Memory bank [(memory, pos, temporal slot)] and object pointers [(distance, pointer)] of a frame
    `distance` frames from the prompted one; `recent` holds the frames processed before it, newest last."""
    bank = [(cond["memory"], cond["pos"], 0)]
    bank += [(m, p, k + 1) for k, (m, p, _) in enumerate(reversed(recent[-(sam2.num_maskmem - 1) :]))]
    pointers = [(distance, cond["pointer"])]
    pointers += [(k + 1, ptr) for k, (_, _, ptr) in enumerate(reversed(recent[-(max_ptrs - 1) :]))]
    return bank, pointers


@dataclass
class TrackRequest:
    """One object to track (see `track_objects`).

    frame_features: t -> FrameFeatures (a list's `__getitem__`, or a lazy encoder). num_frames: T.
    prompt_embeddings: [N, C] sparse prompt embeddings (C = SAM2 hidden size). prompt_frame: 0..T-1.
    present: optional bool [T]; when given it gates memory and object pointers instead of the predicted
        object score (EVQA's ground-truth gating). known: optional bool [T]; frames where it is False use
        the predicted object score after all.
    """

    frame_features: Callable[[int], FrameFeatures]
    num_frames: int
    prompt_embeddings: torch.Tensor
    prompt_frame: int
    present: torch.Tensor | None = None
    known: torch.Tensor | None = None


@dataclass
class _TrackState:
    """What `track_objects` carries for one track between frames."""

    order: list[int]
    max_ptrs: int
    cond: dict = field(default_factory=dict)
    recent: list = field(default_factory=list)  # (memory, pos, pointer), current direction, newest last
    results: dict = field(default_factory=dict)


def _frame_order(request: TrackRequest, options: TrackOptions) -> list[int]:
    """Frames in processing order: the prompted one, those after it, then (backward) those before it."""
    order = list(range(request.prompt_frame, request.num_frames))
    if options.backward:
        order += list(range(request.prompt_frame - 1, -1, -1))
    return order


def track_objects(
    sam2: Sam2VideoModel,
    requests: list[TrackRequest],
    progress: Callable | None = None,
    options: TrackOptions | None = None,
    keep_candidates: bool = False,
    trace: dict | None = None,
) -> list[TrackOutput]:
    """Segment several objects (of one video or of several), each in every frame of its own video: prompt
    its `prompt_frame`, propagate forward (then backward). The tracks advance together, one frame each per
    step, and each step runs the memory attention, mask decoder and memory encoder once over every track
    still going; each track's result equals tracking it alone (`track_object`). When tracks' memory banks
    differ in length at a step (other prompted frames, or lengths), the shorter ones are padded and the
    padding masked out of the attention.

    progress: optional wrapper for the step iterator (e.g. tqdm). options: `TrackOptions` (UniPixel's by
    default). keep_candidates: also return every candidate. trace (one request only): a dict that receives
    per-frame lists of intermediate tensors (`pix_feat_with_mem`, `sparse_prompt`, `raw_logits`, `obj_ptr`,
    `maskmem_features`, `maskmem_pos_enc`), keyed by frame, for parity checks.
    In inference (`sam2.training` False) the candidates of a frame whose object score is <= 0 become -1024
    before the choice (for tracks without `present`), as in SAM2's video predictor; training keeps the
    decoder's logits.
    """
    options = options or TrackOptions()
    if trace is not None and len(requests) != 1:
        raise ValueError("track_objects: a trace records one track")
    limit = sam2.config.max_object_pointers_in_encoder
    states = [_TrackState(_frame_order(r, options), min(r.num_frames, limit)) for r in requests]
    image_pe = sam2.get_image_wide_positional_embeddings()
    steps = range(max((len(s.order) for s in states), default=0))
    for step in progress(steps) if progress else steps:
        live = [i for i, s in enumerate(states) if step < len(s.order)]
        frames = [states[i].order[step] for i in live]
        feats = [requests[i].frame_features(t) for i, t in zip(live, frames, strict=True)]
        levels = [torch.cat([f[0][level] for f in feats]) for level in range(len(feats[0][0]))]
        if step == 0:  # every track starts on its prompted frame
            pix = levels[-1] + sam2.no_memory_embedding.permute(0, 2, 1).unsqueeze(-1)
            sparse = torch.stack([requests[i].prompt_embeddings for i in live])[:, None]
        else:
            memories = []
            for i, t in zip(live, frames, strict=True):
                state, request = states[i], requests[i]
                if t == request.prompt_frame - 1:
                    state.recent = []  # the backward pass starts from the prompted frame only
                bank, pointers = _memory_of(sam2, state.cond, state.recent, abs(t - request.prompt_frame),
                                            state.max_ptrs)  # fmt: skip
                memories.append(_memory_tokens(sam2, bank, pointers, state.max_ptrs))
            pix = _condition_on_memory(sam2, levels[-1], torch.cat([f[1] for f in feats]), memories)
            sparse = None
        raw, ious, tokens, obj = _decode(sam2, levels[:-1], pix, sparse, image_pe, options)
        num = len(live)
        use_truth, truth = [], []
        for i, t in zip(live, frames, strict=True):
            request = requests[i]
            use_truth.append(
                request.present is not None and (request.known is None or bool(request.known[t]))
            )
            truth.append(
                request.present[t].reshape(()) if use_truth[-1] else obj.new_zeros((), dtype=torch.bool)
            )
        use_truth_t = torch.tensor(use_truth, device=obj.device)
        predicted = [requests[i].present is None for i in live]
        candidates = raw
        if not sam2.training and any(predicted):
            scored = (obj[:, :, None, None] > 0) | ~torch.tensor(predicted, device=obj.device)[
                :, None, None, None
            ]
            candidates = torch.where(scored, raw, torch.full_like(raw, NO_OBJ_SCORE))
        best = torch.argmax(ious, dim=-1)  # [B]; first index on ties
        rows = torch.arange(num, device=raw.device)
        masks = candidates[rows, best]  # [B, S4, S4]
        token = tokens[rows, best] if tokens.shape[1] > 1 else tokens[:, 0]
        is_present = torch.where(use_truth_t, torch.stack(truth).to(obj.device), obj[:, 0] > 0)
        gate = is_present.to(token.dtype)[:, None]
        pointer = gate * sam2.object_pointer_proj(token) + (1 - gate) * sam2.no_object_pointer
        memory, pos = _memorise(
            sam2, levels[-1], masks, is_present[:, None, None], use_truth_t[:, None, None]
        )
        # split / unbind per track: their backward is one concatenation, not a zero-filled full-size
        # gradient per slice
        entries = zip(memory.split(1, dim=1), pos.split(1, dim=1), pointer.split(1), strict=True)
        chosen = zip(masks, ious[rows, best], obj[:, 0], candidates, ious, best, strict=True)
        for i, t, entry, result in zip(live, frames, entries, chosen, strict=True):
            state = states[i]
            if step == 0:
                state.cond = dict(zip(("memory", "pos", "pointer"), entry, strict=True))
            else:
                keep = max(sam2.num_maskmem, state.max_ptrs)
                state.recent = [*state.recent[-(keep - 1) :], entry] if keep > 1 else []
            state.results[t] = result
        if trace is not None:
            t = frames[0]
            for key, value in (("pix_feat_with_mem", pix[0]), ("raw_logits", raw[0]), ("obj_ptr", pointer[0]),
                               ("maskmem_features", memory), ("maskmem_pos_enc", pos)):  # fmt: skip
                trace.setdefault(key, {})[t] = value.detach()
            trace.setdefault("sparse_prompt", {})[t] = _decoder_sparse(sam2, pix, sparse, options).detach()
    outputs = []
    for state in states:
        stack = [torch.stack([state.results[t][k] for t in range(len(state.order))]) for k in range(6)]
        if not keep_candidates:
            stack[3] = stack[4] = None
        outputs.append(TrackOutput(*stack))
    return outputs


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
    """Segment one object in every frame: prompt `prompt_frame`, propagate forward (then backward); the
    arguments are `TrackRequest`'s and `track_objects`' (progress wraps the frame iterator)."""
    request = TrackRequest(frame_features, num_frames, prompt_embeddings, prompt_frame, present, known)
    return track_objects(sam2, [request], progress, options, keep_candidates, trace)[0]


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
