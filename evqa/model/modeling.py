"""`EvqaForConditionalGeneration`: Qwen2.5-VL that answers, cites time segments, and segments its evidence.

What EVQA adds lives in `EvqaModelMixin`, shared by every backbone (Qwen3-VL: `evqa.model.modeling_qwen3`).

The LLM is Qwen2.5-VL unchanged (its `forward` is called through `super()`), with the video's true frame
times in its 3-D rope positions (`second_per_grid_ts`). On top of it:
- `sam2`: transformers' `Sam2VideoModel` (image encoder, prompt encoder, mask decoder, memory attention,
  memory encoder), driven by `evqa.model.sam2_tracking` so that training is differentiable;
- `seg_head`: UniPixel's RMSNorm-Linear-GELU-Linear on the final norm's *input* at the position before a
  `<|seg|>` (the state that predicts it) -> SAM2 sparse prompt embeddings;
- `ref_encoder`: UniPixel's `<|ref|>` embeddings from point/box prompts and their frame;
- `mem_proj`: UniPixel's `<|mem|>` embeddings from vision-merger features pooled under a region mask.

Config options (see `EvqaConfig`) choose between UniPixel's behaviour (the defaults, and what a converted
UniPixel checkpoint uses) and EVQA's original one (the tiny preset): rope positions of text after a video,
multimask decoding, the sparse-prompt layout, the prompted frame / tracking direction, the loss reduction
and what gates SAM2 memory in training.

Training: per sample, the objects are the `<|seg|>` tokens. With mask targets [T, O, H, W] every `<|seg|>`
of the input is one object (UniPixel: O must equal their count); with [T, H, W] the first target `<|seg|>`
is the object. SAM2 encodes every sampled frame once; with `track_mode='forward'` frame 0 is prompted and
the others tracked forward (UniPixel); with 'bidirectional' the prompted frame is `prompt_frames[b]`, else
the first frame whose target is non-empty, and tracking goes both ways.
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
from evqa.model.heads import MemProjector, PatchConv3d, RefEncoder, SegHead
from evqa.model.losses import mask_loss_terms, unipixel_loss_terms
from evqa.model.rope import install_rope_rule
from evqa.model.sam2_tracking import (
    FrameFeatures,
    TrackOptions,
    TrackOutput,
    TrackRequest,
    encode_frames,
    fit_memory_width,
    track_object,
    track_objects,
)


@dataclass
class EvqaOutput(ModelOutput):
    """Output of `EvqaForConditionalGeneration.forward`.

    loss: weighted LM + mask loss (scalar) when labels are given. lm_loss: token cross-entropy.
    mask_loss: weighted sum of the mask terms; mask_loss_terms: {"focal", "dice", "iou", "object_score"}
    (unweighted, averaged over the segmented samples). logits: [B, L, V].
    pred_masks: per sample, [T, S, S] (or [O, T, S, S] for [T, O, H, W] targets) chosen mask logits on the
    SAM2 frames (None for samples without a `<|seg|>`). prenorm_hidden: [B, L, D] the final norm's input
    (what the seg head reads).
    """

    loss: torch.Tensor | None = None
    lm_loss: torch.Tensor | None = None
    mask_loss: torch.Tensor | None = None
    mask_loss_terms: dict | None = None
    logits: torch.Tensor | None = None
    pred_masks: list | None = None
    prenorm_hidden: torch.Tensor | None = None
    past_key_values: object | None = None
    hidden_states: tuple | None = None
    attentions: tuple | None = None


def resize_masks(masks: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """bool/float masks [T, H, W] -> bool [T, h, w] (bilinear on 0/1, threshold 0.5)."""
    resized = F.interpolate(masks[:, None].float(), size=size, mode="bilinear", align_corners=False)
    return resized[:, 0] > 0.5


# SAM2 tracking and the heads run as units: `device_map="auto"` must not split them across devices
EVQA_NO_SPLIT_MODULES = ["Sam2VideoModel", "SegHead", "RefEncoder", "MemProjector"]


class EvqaModelMixin:
    """Everything EVQA adds to a Qwen-VL `...ForConditionalGeneration` (mixed in before it): SAM2, the heads,
    the `<|ref|>` / `<|mem|>` inputs, mask losses and tracking. A backbone class names the module whose input
    `<|mem|>` pools (`merger_input_module`, the vision merger's MLP input [N/merge², merge²*C]) and may
    change the rope positions (`_install_rope_rule`)."""

    merger_input_module = "model.visual.merger.mlp"
    takes_second_per_grid = True  # Qwen2.5-VL's seconds per temporal patch (rope positions in real time)

    def __init__(self, config):
        super().__init__(config)
        hidden = config.text_config.hidden_size
        sam2_hidden = config.sam2_config.vision_config.fpn_hidden_size
        self.sam2 = fit_memory_width(Sam2VideoModel(config.sam2_config))
        merger = config.vision_config.hidden_size * config.vision_config.spatial_merge_size**2
        self.seg_head = SegHead(hidden, sam2_hidden, config.num_seg_prompt_tokens)
        self.ref_encoder = RefEncoder(config.sam2_config, hidden)
        self.mem_proj = MemProjector(merger, hidden)
        config.validate_evqa_options()
        PatchConv3d.adopt(self.model.visual.patch_embed.proj)
        self.post_init()
        self._install_rope_rule(config)
        # the seg head and `<|mem|>` read inputs of two modules: keep them from each forward
        self.model.language_model.norm.register_forward_pre_hook(self._keep_final_norm_input)
        self.get_submodule(self.merger_input_module).register_forward_pre_hook(self._keep_merger_input)
        self._final_norm_input = self._merger_input = None
        self._final_norm_trace: list | None = None

    def _install_rope_rule(self, config) -> None:
        """Qwen2.5-VL: the rope rule of `config.mrope_text_positions` (see `evqa.model.rope`)."""
        install_rope_rule(self.model, config.mrope_text_positions)

    def _ids_with_embeds(self, input_ids, inputs_embeds, position_ids, **inputs):
        """(input_ids, position_ids) for the backbone's forward when `<|ref|>` / `<|mem|>` inputs gave
        `inputs_embeds`: Qwen2.5-VL takes both and computes its positions from the ids."""
        return input_ids, position_ids

    def _keep_final_norm_input(self, module, args):
        self._final_norm_input = args[0]
        if self._final_norm_trace is not None:  # generation: the prompt's states, then each step's
            state = args[0] if not self._final_norm_trace else args[0][:, -1:]
            self._final_norm_trace.append(state.detach())

    def _keep_merger_input(self, module, args):
        self._merger_input = args[0]

    @property
    def track_options(self) -> TrackOptions:
        """SAM2 decoding options from the config."""
        cfg = self.config
        return TrackOptions(cfg.multimask_output, cfg.sam2_prompt_layout, cfg.track_mode == "bidirectional")

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

    def ref_embeddings(self, ref_boxes, ref_times, frame_timestamps) -> torch.Tensor | None:
        """`<|ref|>` embeddings [N_ref, D] (row-major order) from per-sample boxes [R, 4] (x1, y1, x2, y2 in
        0..1; a point is (x, y, x, y)) and times [R] (s): the box becomes SAM2-pixel corner points (labels 2,
        3) or one positive point (label 1), the time the nearest sampled frame (`frame_timestamps`)."""
        if ref_boxes is None:
            return None
        boxes = list(ref_boxes) if isinstance(ref_boxes, (list, tuple)) else [ref_boxes]
        times = list(ref_times) if isinstance(ref_times, (list, tuple)) else [ref_times]
        stamps = frame_timestamps if isinstance(frame_timestamps, (list, tuple)) else [frame_timestamps]
        side, out = self.config.sam2_image_size, []
        for b, (box, time) in enumerate(zip(boxes, times, strict=True)):
            if box is None or box.numel() == 0:
                continue
            if stamps[b] is None:
                raise InputError("<|ref|> prompts need the sampled frame times", field="frame_timestamps")
            ts = torch.as_tensor(stamps[b], dtype=torch.float32)
            frames = torch.argmin((ts[None, :] - time.reshape(-1, 1).float().cpu()).abs(), dim=1)
            for row, frame in zip(box.reshape(-1, 4).float(), frames, strict=True):
                pts = row.reshape(2, 2) * side
                if bool((row[:2] == row[2:]).all()):
                    emb = self.ref_encoder(pts[None, :1], torch.ones(1, 1), frame[None], len(ts))
                else:
                    emb = self.ref_encoder(pts[None], torch.tensor([[2, 3]]), frame[None], len(ts))
                out.append(emb)
        return torch.cat(out) if out else None

    def region_features(self, refer_mask: list, video_grid_thw: torch.Tensor) -> torch.Tensor | None:
        """UniPixel's `<|mem|>` features: per video b, refer_mask[b] bool [grid_t, O, h, w] (merged-patch
        grid); for every object and temporal group where its mask is non-empty, the mean of the vision
        merger's MLP inputs under the mask -> [N_mem, M]. Needs the vision tower to have just run. As in
        UniPixel (whose weights were trained so) the merger inputs are taken in the tower's window order
        while the mask is in raster order; they agree when a frame fits one attention window."""
        feats, base, out = self._merger_input, 0, []
        for b, mask in enumerate(refer_mask):
            size = int(video_grid_thw[b].prod()) // 4
            step = int(video_grid_thw[b][1] * video_grid_thw[b][2]) // 4
            emb = feats[base : base + size]
            for obj in range(mask.shape[1]):
                flat = mask[:, obj].flatten().to(emb.device)
                if flat.shape[0] != size:
                    raise InputError(f"refer_mask of video {b} has {flat.shape[0]} cells, expected {size}",
                                     field="refer_mask")  # fmt: skip
                out += [emb[i : i + step][flat[i : i + step]].mean(0) for i in range(0, size, step)
                        if flat[i : i + step].any()]  # fmt: skip
            base += size
        return torch.stack(out) if out else None

    def embed_inputs(self, input_ids, ref_prompts=None, mem_features=None) -> torch.Tensor:
        """Token embeddings [B, L, D] with `<|ref|>` / `<|mem|>` positions (row-major order) replaced by
        ref_prompts [N_ref, D] (see `ref_embeddings`) and `mem_proj(mem_features)` [N_mem, M]."""
        embeds = self.get_input_embeddings()(input_ids)
        mems = None if mem_features is None else self.mem_proj(mem_features)
        embeds = self._scatter(
            embeds, input_ids, self.config.ref_token_id, ref_prompts, "<|ref|>", "ref_boxes"
        )
        return self._scatter(embeds, input_ids, self.config.mem_token_id, mems, "<|mem|>", "mem_features")

    # ----- masks -----
    def seg_prompts(self, prenorm_hidden: torch.Tensor) -> torch.Tensor:
        """Final-norm inputs [..., D] -> SAM2 prompt embeddings [..., N, C]."""
        return self.seg_head(prenorm_hidden.to(self.seg_head.mlp[0].weight.dtype))

    def segment(
        self,
        seg_hidden: torch.Tensor,
        frame_features: Callable[[int], FrameFeatures],
        num_frames: int,
        prompt_frame: int,
        present: torch.Tensor | None = None,
        known: torch.Tensor | None = None,
        progress: Callable | None = None,
        keep_candidates: bool = False,
        trace: dict | None = None,
    ) -> TrackOutput:
        """One object from its `<|seg|>` hidden state [D] (the final norm's input at the position before the
        `<|seg|>`): prompt `prompt_frame`, track all `num_frames` with the config's `track_options` (see
        `track_object` for `present` / `known`, the ground-truth presence gates)."""
        return track_object(
            self.sam2, frame_features, num_frames, self.seg_prompts(seg_hidden), prompt_frame, present, known,
            progress, self.track_options, keep_candidates, trace,
        )  # fmt: skip

    def seg_positions(
        self, input_ids: torch.Tensor, labels: torch.Tensor | None, b: int, every: bool
    ) -> list:
        """Positions (before each `<|seg|>`) whose hidden state prompts SAM2: every `<|seg|>` of sample b's
        input (`every`), else the first target `<|seg|>` only."""
        seg = input_ids[b] == self.config.seg_token_id
        if not every and labels is not None:
            seg = seg & (labels[b] == self.config.seg_token_id)
        idx = [int(i) - 1 for i in torch.nonzero(seg).flatten() if i > 0]
        return idx if every else idx[:1]

    def _batch_features(self, sam2_pixel_values, wanted: list[int]) -> dict[int, list[FrameFeatures]]:
        """SAM2 features of the frames of the `wanted` samples, one image-encoder call for all of them."""
        if not wanted:
            return {}
        pixels = [sam2_pixel_values[b].to(self.device, self.sam2.dtype) for b in wanted]
        feats = encode_frames(self.sam2, torch.cat(pixels))
        bounds = np.cumsum([0] + [len(p) for p in pixels])
        return {b: feats[bounds[i] : bounds[i + 1]] for i, b in enumerate(wanted)}

    def _prompt_frame(self, targets, valid, prompt_frame) -> int:
        """Frame 0 (track_mode 'forward'), else `prompt_frame`, else the first annotated non-empty frame."""
        if self.config.track_mode == "forward":
            return 0
        if prompt_frame is not None:
            return int(prompt_frame)
        present = targets.flatten(1).any(dim=1)
        visible = present if valid is None else present & valid
        return int(torch.nonzero(visible)[0]) if visible.any() else 0

    def _track_requests(self, hiddens: torch.Tensor, feats: list, targets, valid, prompt_frame) -> list:
        """One `TrackRequest` per object of a sample (targets bool [O, T, S, S])."""
        cfg = self.config
        start = self._prompt_frame(targets[0], valid, prompt_frame)
        requests = []
        for obj, hidden in enumerate(hiddens):
            present = known = None
            if cfg.memory_gate == "ground_truth":
                # the prompt names an object that is there: its frame writes the prompted mask to memory
                present = targets[obj].flatten(1).any(dim=1)
                present[start] = True
                known = None if valid is None else valid.clone()
                if known is not None:
                    known[start] = True
            requests.append(TrackRequest(feats.__getitem__, len(feats), self.seg_prompts(hidden), start, present,
                                         known))  # fmt: skip
        return requests

    def _sample_losses(self, tracks: list[TrackOutput], targets, valid):
        """Loss terms and per-object [O, T, S, S] mask logits of one sample's tracks."""
        side, cfg = self.config.sam2_image_size, self.config
        low = torch.stack([t.mask_logits for t in tracks])
        logits = F.interpolate(low.flatten(0, 1)[:, None], size=(side, side), mode="bilinear")[:, 0]
        logits = logits.view(len(tracks), -1, side, side)
        if cfg.mask_loss_style == "unipixel":
            terms = unipixel_loss_terms(
                torch.stack([t.candidate_logits for t in tracks]), torch.stack([t.candidate_ious for t in tracks]),
                torch.stack([t.object_score_logits for t in tracks]), targets,
                (cfg.focal_loss_weight, cfg.dice_loss_weight), valid,
            )  # fmt: skip
        else:
            per = [mask_loss_terms(logits[o], t.iou_scores, t.object_score_logits, targets[o], valid)
                   for o, t in enumerate(tracks)]  # fmt: skip
            terms = {k: torch.stack([p[k] for p in per]).mean() for k in per[0]}
        return terms, logits

    def _mask_losses(
        self, prenorm, input_ids, labels, sam2_pixel_values, mask_targets, mask_valid, prompt_frames
    ):
        """Weighted mask loss (averaged over segmented samples), its terms, and per-sample mask logits."""
        side, cfg = self.config.sam2_image_size, self.config
        objects = {}
        for b in range(input_ids.shape[0]):
            if mask_targets[b] is None:
                continue
            every = mask_targets[b].dim() == 4
            positions = self.seg_positions(input_ids, labels, b, every)
            count = mask_targets[b].shape[1] if every else 1
            if every and len(positions) != count:
                raise InputError(f"sample {b}: {len(positions)} <|seg|> tokens but {count} target objects",
                                 field="mask_targets")  # fmt: skip
            if positions:
                objects[b] = positions
        features = self._batch_features(sam2_pixel_values, sorted(objects))
        samples, requests = {}, []  # b -> (targets [O, T, S, S], valid, first request index)
        for b, positions in objects.items():
            target = mask_targets[b].to(self.device)
            target = target if target.dim() == 4 else target[:, None]  # [T, O, H, W]
            target = resize_masks(target.flatten(0, 1), (side, side)).view(*target.shape[:2], side, side)
            target = target.transpose(0, 1)
            valid = None if mask_valid is None or mask_valid[b] is None else mask_valid[b].to(self.device)
            prompt = None if prompt_frames is None else prompt_frames[b]
            samples[b] = (target, valid, len(requests))
            requests += self._track_requests(prenorm[b, positions], features[b], target, valid, prompt)
        # every object of every sample tracked together (one decoder / memory call per frame step)
        tracks = track_objects(self.sam2, requests, options=self.track_options, keep_candidates=True)
        terms, pred_masks = [], [None] * input_ids.shape[0]
        for b, (target, valid, first) in samples.items():
            sample_terms, logits = self._sample_losses(tracks[first : first + len(target)], target, valid)
            pred_masks[b] = logits if mask_targets[b].dim() == 4 else logits[0]
            terms.append(sample_terms)
        if not terms:
            return None, None, pred_masks
        mean = {k: torch.stack([t[k] for t in terms]).mean() for k in terms[0]}
        weights = {"focal": cfg.focal_loss_weight, "dice": cfg.dice_loss_weight, "iou": cfg.iou_loss_weight,
                   "object_score": cfg.object_score_loss_weight}  # fmt: skip
        if cfg.mask_loss_style == "unipixel":  # core loss / frames, per sample, then averaged
            per_sample = []
            for b, t in zip(objects, terms, strict=True):
                frames = (
                    len(features[b])
                    if mask_valid is None or mask_valid[b] is None
                    else int(mask_valid[b].sum())
                )
                per_sample.append(sum(weights[k] * v for k, v in t.items()) / max(frames, 1))
            return torch.stack(per_sample).mean(), mean, pred_masks
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
        refer_mask=None,
        frame_timestamps=None,
        **kwargs,
    ) -> EvqaOutput:
        """The backbone's inputs (input_ids [B,L], attention_mask, labels [B,L] with -100 outside targets,
        pixel_values_videos, video_grid_thw [V,3], mm_token_type_ids [B,L], Qwen2.5-VL's second_per_grid_ts
        [V] s, ...; other backbone-only inputs pass through `kwargs`) plus EVQA's
        (per-sample lists, as `EvqaProcessor.collate` makes them): sam2_pixel_values [T,3,S,S], mask_targets
        bool [T,H,W] (the first target `<|seg|>`) or [T,O,H,W] (every `<|seg|>` of the input) or None,
        mask_valid bool [T] (False: frame not annotated), ref_boxes [R,4] (0..1) and ref_times [R]
        (s) for the `<|ref|>` tokens with frame_timestamps [T] (s) of the sampled frames; prompt_frames
        (optional [B] frame indices, track_mode 'bidirectional'); `<|mem|>` inputs as mem_features
        [N_mem, M] or refer_mask (per video bool [grid_t, O, h, w], see `region_features`)."""
        refs = self.ref_embeddings(ref_boxes, ref_times, frame_timestamps)
        if refer_mask is not None and mem_features is None and pixel_values_videos is not None:
            self.model.get_video_features(pixel_values_videos, video_grid_thw)
            mem_features = self.region_features(refer_mask, video_grid_thw)
        if inputs_embeds is None and input_ids is not None and (refs is not None or mem_features is not None):
            inputs_embeds = self.embed_inputs(input_ids, refs, mem_features)
        want_masks = labels is not None and sam2_pixel_values is not None and mask_targets is not None
        if second_per_grid_ts is not None:  # explicit in the signature: `generate` checks inputs by name
            if not self.takes_second_per_grid:
                raise InputError("second_per_grid_ts is a Qwen2.5-VL input; this backbone reads frame times "
                                 "from the text", field="second_per_grid_ts")  # fmt: skip
            kwargs["second_per_grid_ts"] = second_per_grid_ts
        llm_ids = input_ids
        if inputs_embeds is not None and input_ids is not None:
            llm_ids, position_ids = self._ids_with_embeds(
                input_ids, inputs_embeds, position_ids, attention_mask=attention_mask,
                past_key_values=past_key_values, image_grid_thw=image_grid_thw, video_grid_thw=video_grid_thw,
                mm_token_type_ids=mm_token_type_ids,
            )  # fmt: skip
        out = super().forward(
            input_ids=llm_ids,
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
            logits_to_keep=logits_to_keep,
            **kwargs,
        )
        prenorm = self._final_norm_input
        self._final_norm_input = None  # do not keep the activation past this call
        mask_loss, terms, pred_masks = None, None, None
        if want_masks:
            mask_loss, terms, pred_masks = self._mask_losses(
                prenorm, input_ids, labels, sam2_pixel_values, mask_targets, mask_valid, prompt_frames
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
            prenorm_hidden=prenorm,
            past_key_values=out.past_key_values,
            hidden_states=out.hidden_states,
            attentions=out.attentions,
        )


class EvqaForConditionalGeneration(EvqaModelMixin, Qwen2_5_VLForConditionalGeneration):
    """The EVQA model on Qwen2.5-VL (see the module docstring)."""

    config_class = EvqaConfig
    config: EvqaConfig
    _no_split_modules = [*Qwen2_5_VLForConditionalGeneration._no_split_modules, *EVQA_NO_SPLIT_MODULES]


AutoModel.register(EvqaConfig, EvqaForConditionalGeneration, exist_ok=True)
AutoModelForImageTextToText.register(EvqaConfig, EvqaForConditionalGeneration, exist_ok=True)
