"""`EvqaForConditionalGeneration`: Qwen2.5-VL that answers, cites time segments, and segments its evidence.

The LLM is Qwen2.5-VL unchanged (its `forward` is called through `super()`), with the video's true frame
times in its 3-D rope positions (`second_per_grid_ts`). On top of it:
- `sam2`: transformers' `Sam2VideoModel` (image encoder, prompt encoder, mask decoder, memory attention,
  memory encoder), driven by `evqa.model.sam2_tracking` so that training is differentiable;
- `seg_head`: the last-layer hidden state that predicts `<|seg|>` -> SAM2 sparse prompt embeddings;
- `ref_encoder`: `<|ref|>` input embeddings from box/point prompts with their frame time;
- `mem_proj`: `<|mem|>` input embeddings from mask-pooled SAM2 object features.

Training: one object per sample (the first `<|seg|>` of the target). SAM2 encodes every sampled frame; the
prompted frame is `prompt_frames[b]` when given, else the first frame whose ground-truth mask is non-empty
(the start of the evidence), else frame 0; the others are tracked through SAM2 memory, so a mask loss on a
later frame reaches `seg_head` through the memory encoder and the object pointers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from transformers import (
    AutoModel,
    AutoModelForImageTextToText,
    Qwen2_5_VLForConditionalGeneration,
    Sam2VideoModel,
)
from transformers.utils import ModelOutput

from evqa.errors import InputError
from evqa.model.configuration import EvqaConfig
from evqa.model.heads import MemProjector, RefEncoder, SegHead
from evqa.model.losses import mask_loss_terms
from evqa.model.sam2_tracking import FrameFeatures, TrackOutput, encode_frames, track_object


@dataclass
class EvqaOutput(ModelOutput):
    """Output of `EvqaForConditionalGeneration.forward`.

    loss: weighted LM + mask loss (scalar) when labels are given. lm_loss: token cross-entropy.
    mask_loss: weighted sum of the mask terms; mask_loss_terms: {"focal", "dice", "iou", "object_score"}
    (unweighted, averaged over the segmented samples). logits: [B, L, V].
    pred_masks: per sample, [T, S, S] mask logits on the SAM2 frames (None for samples without a `<|seg|>`).
    """

    loss: torch.Tensor | None = None
    lm_loss: torch.Tensor | None = None
    mask_loss: torch.Tensor | None = None
    mask_loss_terms: dict | None = None
    logits: torch.Tensor | None = None
    pred_masks: list | None = None
    past_key_values: object | None = None
    hidden_states: tuple | None = None
    attentions: tuple | None = None


def resize_masks(masks: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """bool/float masks [T, H, W] -> bool [T, h, w] (bilinear on 0/1, threshold 0.5)."""
    resized = F.interpolate(masks[:, None].float(), size=size, mode="bilinear", align_corners=False)
    return resized[:, 0] > 0.5


def _ref_prompts(ref_boxes, ref_times) -> torch.Tensor | None:
    """Per-sample ref_boxes [R,4] / ref_times [R] (lists or tensors) -> [N_ref, 5] in row-major order."""
    if ref_boxes is None:
        return None
    boxes = list(ref_boxes) if isinstance(ref_boxes, (list, tuple)) else [ref_boxes]
    times = list(ref_times) if isinstance(ref_times, (list, tuple)) else [ref_times]
    rows = [
        torch.cat([b.reshape(-1, 4), t.reshape(-1, 1).to(b.dtype)], dim=1)
        for b, t in zip(boxes, times, strict=True)
    ]
    rows = torch.cat(rows) if rows else None
    return rows if rows is not None and rows.shape[0] else None


class EvqaForConditionalGeneration(Qwen2_5_VLForConditionalGeneration):
    config_class = EvqaConfig
    config: EvqaConfig
    # SAM2 tracking and the heads run as units: `device_map="auto"` must not split them across devices
    _no_split_modules = [
        *Qwen2_5_VLForConditionalGeneration._no_split_modules,
        "Sam2VideoModel",
        "SegHead",
        "RefEncoder",
        "MemProjector",
    ]

    def __init__(self, config: EvqaConfig):
        super().__init__(config)
        hidden = config.text_config.hidden_size
        sam2_hidden = config.sam2_config.vision_config.fpn_hidden_size
        self.sam2 = Sam2VideoModel(config.sam2_config)
        self.seg_head = SegHead(hidden, sam2_hidden, config.num_seg_prompt_tokens)
        self.ref_encoder = RefEncoder(hidden, time_scale=config.ref_time_scale)
        self.mem_proj = MemProjector(sam2_hidden, hidden)
        self.post_init()

    # ----- LLM inputs -----
    def _scatter(self, embeds, input_ids, token_id: int, values, name: str, field: str) -> torch.Tensor:
        positions = input_ids == token_id
        count = int(positions.sum())
        if values is None or count == 0:
            return embeds  # decoding steps after the prompt hold no such token
        if count != values.shape[0]:
            raise InputError(
                f"{count} {name} tokens in input_ids but {values.shape[0]} {name} inputs", field=field
            )
        return embeds.masked_scatter(positions[..., None], values.to(embeds.dtype))

    def embed_inputs(self, input_ids, ref_prompts=None, mem_features=None) -> torch.Tensor:
        """Token embeddings [B, L, D] with `<|ref|>` / `<|mem|>` positions (row-major order) replaced.

        ref_prompts: [N_ref, 5] (x1, y1, x2, y2 in 0..1, time s). mem_features: [N_mem, C_sam2] (see
        `object_features`)."""
        embeds = self.get_input_embeddings()(input_ids)
        refs = None if ref_prompts is None else self.ref_encoder(ref_prompts)
        mems = None if mem_features is None else self.mem_proj(mem_features)
        embeds = self._scatter(embeds, input_ids, self.config.ref_token_id, refs, "<|ref|>", "ref_boxes")
        return self._scatter(embeds, input_ids, self.config.mem_token_id, mems, "<|mem|>", "mem_features")

    def object_features(self, sam2_pixel_values: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """Mask-pooled SAM2 features of one object: frames [T,3,S,S], masks [T,H,W] -> [C_sam2]."""
        top = torch.cat([feats[0][-1] for feats in encode_frames(self.sam2, sam2_pixel_values)])
        weights = F.interpolate(masks[:, None].float(), size=top.shape[-2:], mode="area").to(top.dtype)
        return (top * weights).sum(dim=(0, 2, 3)) / weights.sum().clamp(min=1e-6)

    # ----- masks -----
    def segment(
        self,
        seg_hidden: torch.Tensor,
        frame_features: Callable[[int], FrameFeatures],
        num_frames: int,
        prompt_frame: int,
        present: torch.Tensor | None = None,
        known: torch.Tensor | None = None,
        progress: Callable | None = None,
    ) -> TrackOutput:
        """One object from its `<|seg|>` hidden state [D]: prompt `prompt_frame`, track all `num_frames`
        (see `track_object` for `present` / `known`, the teacher-forced object-presence gates)."""
        prompt = self.seg_head(seg_hidden.to(self.seg_head.mlp[0].weight.dtype))
        return track_object(
            self.sam2, frame_features, num_frames, prompt, prompt_frame, present, known, progress
        )

    def _seg_hidden(self, hidden: torch.Tensor, input_ids: torch.Tensor, labels: torch.Tensor) -> list:
        """Per sample, the hidden state [D] that predicts the first target `<|seg|>` (None if there is none)."""
        found = []
        seg = (input_ids == self.config.seg_token_id) & (labels == self.config.seg_token_id)
        for b in range(input_ids.shape[0]):
            idx = torch.nonzero(seg[b]).flatten()
            found.append(hidden[b, idx[0] - 1] if len(idx) and idx[0] > 0 else None)
        return found

    def _batch_features(self, sam2_pixel_values, wanted: list[int]) -> dict[int, list[FrameFeatures]]:
        """SAM2 features of the frames of the `wanted` samples, one image-encoder call for all of them."""
        if not wanted:
            return {}
        pixels = [sam2_pixel_values[b].to(self.device, self.sam2.dtype) for b in wanted]
        feats = encode_frames(self.sam2, torch.cat(pixels))
        bounds = np.cumsum([0] + [len(p) for p in pixels])
        return {b: feats[bounds[i] : bounds[i + 1]] for i, b in enumerate(wanted)}

    def _track_sample(self, hidden, feats: list, targets, valid, prompt_frame) -> tuple[dict, torch.Tensor]:
        """Loss terms and [T, S, S] mask logits of one sample's object (targets bool [T, S, S])."""
        side = self.config.sam2_image_size
        present = targets.flatten(1).any(dim=1)
        visible = present if valid is None else present & valid
        start = int(torch.nonzero(visible)[0]) if visible.any() else 0
        start = int(prompt_frame) if prompt_frame is not None else start
        # the prompt names an object that is there: its frame always writes the prompted mask to memory
        gate, known = present.clone(), None if valid is None else valid.clone()
        gate[start] = True
        if known is not None:
            known[start] = True
        track = self.segment(hidden, feats.__getitem__, len(feats), start, present=gate, known=known)
        logits = F.interpolate(track.mask_logits[:, None], size=(side, side), mode="bilinear")[:, 0]
        return mask_loss_terms(logits, track.iou_scores, track.object_score_logits, targets, valid), logits

    def _mask_losses(self, seg_hidden: list, sam2_pixel_values, mask_targets, mask_valid, prompt_frames):
        side = self.config.sam2_image_size
        wanted = [b for b, h in enumerate(seg_hidden) if h is not None and mask_targets[b] is not None]
        features = self._batch_features(sam2_pixel_values, wanted)
        terms, pred_masks = [], [None] * len(seg_hidden)
        for b in wanted:
            targets = resize_masks(mask_targets[b].to(self.device), (side, side))
            valid = None if mask_valid is None or mask_valid[b] is None else mask_valid[b].to(self.device)
            prompt = None if prompt_frames is None else prompt_frames[b]
            sample_terms, pred_masks[b] = self._track_sample(
                seg_hidden[b], features[b], targets, valid, prompt
            )
            terms.append(sample_terms)
        if not terms:
            return None, None, pred_masks
        mean = {k: torch.stack([t[k] for t in terms]).mean() for k in terms[0]}
        cfg = self.config
        weights = {"focal": cfg.focal_loss_weight, "dice": cfg.dice_loss_weight, "iou": cfg.iou_loss_weight}
        weights["object_score"] = cfg.object_score_loss_weight
        return sum(weights[k] * v for k, v in mean.items()), mean, pred_masks

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        past_key_values=None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        pixel_values: torch.Tensor | None = None,
        pixel_values_videos: torch.Tensor | None = None,
        image_grid_thw: torch.LongTensor | None = None,
        video_grid_thw: torch.LongTensor | None = None,
        mm_token_type_ids: torch.IntTensor | None = None,
        second_per_grid_ts: torch.Tensor | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        sam2_pixel_values=None,
        mask_targets=None,
        mask_valid=None,
        prompt_frames=None,
        ref_boxes=None,
        ref_times=None,
        mem_features: torch.Tensor | None = None,
        frame_timestamps=None,
        **kwargs,
    ) -> EvqaOutput:
        """Qwen2.5-VL inputs (input_ids [B,L], attention_mask, labels [B,L] with -100 outside targets,
        pixel_values_videos, video_grid_thw [V,3], second_per_grid_ts [V] s, mm_token_type_ids [B,L], ...)
        plus EVQA's (per-sample lists, as `EvqaProcessor.collate` makes them): sam2_pixel_values [T,3,S,S],
        mask_targets bool [T,H,W] or None, mask_valid bool [T] (False: frame not annotated), ref_boxes [R,4]
        (0..1) and ref_times [R] (s) for the `<|ref|>` tokens; prompt_frames (optional [B] frame indices);
        mem_features [N_mem, C] for the `<|mem|>` tokens. `frame_timestamps` (s) is accepted and unused:
        time enters through `second_per_grid_ts`."""
        del frame_timestamps
        ref_prompts = _ref_prompts(ref_boxes, ref_times)
        if (
            inputs_embeds is None
            and input_ids is not None
            and (ref_prompts is not None or mem_features is not None)
        ):
            inputs_embeds = self.embed_inputs(input_ids, ref_prompts, mem_features)
        want_masks = labels is not None and sam2_pixel_values is not None and mask_targets is not None
        if want_masks:
            kwargs["output_hidden_states"] = True
        out = super().forward(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            inputs_embeds=inputs_embeds,
            labels=labels,
            use_cache=use_cache,
            pixel_values=pixel_values,
            pixel_values_videos=pixel_values_videos,
            image_grid_thw=image_grid_thw,
            video_grid_thw=video_grid_thw,
            mm_token_type_ids=mm_token_type_ids,
            second_per_grid_ts=second_per_grid_ts,
            logits_to_keep=logits_to_keep,
            **kwargs,
        )
        mask_loss, terms, pred_masks = None, None, None
        if want_masks:
            seg_hidden = self._seg_hidden(out.hidden_states[-1], input_ids, labels)
            mask_loss, terms, pred_masks = self._mask_losses(
                seg_hidden, sam2_pixel_values, mask_targets, mask_valid, prompt_frames
            )
        loss = None
        if out.loss is not None:
            loss = self.config.lm_loss_weight * out.loss + (mask_loss if mask_loss is not None else 0.0)
        return EvqaOutput(
            loss=loss,
            lm_loss=out.loss,
            mask_loss=mask_loss,
            mask_loss_terms=terms,
            logits=out.logits,
            pred_masks=pred_masks,
            past_key_values=out.past_key_values,
            hidden_states=out.hidden_states,
            attentions=out.attentions,
        )


AutoModel.register(EvqaConfig, EvqaForConditionalGeneration, exist_ok=True)
AutoModelForImageTextToText.register(EvqaConfig, EvqaForConditionalGeneration, exist_ok=True)
