"""`EvqaPredictor`: one call from a video and a question to an answer letter, time segments and masks.

The LLM sees frames sampled at `fps` (their true timestamps go into the rope positions) and generates with
its KV cache. Each `<|seg|>` is decoded on its own SAM2 state from the final norm's input at the position
that predicts it: with `config.decode_all_seg` (UniPixel) every `<|seg|>` of the prompt and of the answer,
else the first generated one. With `config.track_mode='forward'` (UniPixel) SAM2 prompts frame 0 and tracks
forward; with 'bidirectional' it prompts the frame at the start of the first predicted segment (frame 0
when there is none) and tracks forward, then backward. Every frame of the video is segmented, frames
encoded lazily in chunks; masks are resized bilinearly to the video's original size and thresholded at 0.
`EvqaPrediction.masks` is the union (OR) of the objects' masks, `object_masks` each object's.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from evqa.answers import extract_answer, extract_segments
from evqa.data.video import read_frames, sample_frame_indices, video_info
from evqa.errors import InputError
from evqa.model.image_ops import sam2_pixels
from evqa.model.modeling import EvqaForConditionalGeneration
from evqa.model.processing import EvqaProcessor
from evqa.model.sam2_tracking import FrameFeatures, encode_frames
from evqa.prompts import evqa_question_prompt

LLM_KEYS = ("input_ids", "attention_mask", "mm_token_type_ids", "pixel_values_videos", "video_grid_thw")
LLM_KEYS += ("second_per_grid_ts",)  # Qwen2.5-VL only: the Qwen3-VL processor writes times as text


def llm_inputs(model: EvqaForConditionalGeneration, processor: EvqaProcessor, examples: list[dict]) -> dict:
    """Left-padded `generate` inputs (input_ids, attention_mask, mm_token_type_ids [B, L], video patches,
    grid, and for Qwen2.5-VL seconds per temporal patch) of `encode_generation_prompt` examples, on the
    model's device/dtype."""
    batch = processor.collate(examples, padding_side="left")
    inputs = {k: batch[k].to(model.device) for k in LLM_KEYS if k in batch}
    inputs["pixel_values_videos"] = inputs["pixel_values_videos"].to(model.dtype)
    return inputs


@dataclass
class EvqaPrediction:
    """letter: 'A'.. or None (unparsable); segments: [(start s, end s)]; masks: bool [N, H, W] for every
    frame of the video at its original size; frame_indices: int64 [T] frames the LLM saw; raw_text: the
    generated text (special tokens kept); meta: fps, timestamps, prompt frame, answer-parse status;
    object_masks: bool [K, N, H, W], one per decoded `<|seg|>` (masks = their union)."""

    letter: str | None
    segments: list[tuple[float, float]]
    masks: np.ndarray
    frame_indices: np.ndarray
    raw_text: str
    meta: dict = field(default_factory=dict)
    object_masks: np.ndarray | None = None


class _Video:
    """A video file / frame folder, or in-memory frames uint8 [N, H, W, 3] at `fps`."""

    def __init__(self, video, fps: float | None):
        if isinstance(video, (str, os.PathLike)):
            info = video_info(video)
            self.path, self.frames = video, None
            self.fps, self.num_frames, self.size = info.fps, info.num_frames, (info.height, info.width)
        else:
            frames = np.asarray(video)
            if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
                raise InputError(
                    f"in-memory video must be uint8 [N, H, W, 3], got {frames.dtype} {frames.shape}"
                )
            if not fps or fps <= 0:
                raise InputError("an in-memory video needs its frame rate (video_fps > 0)", field="video_fps")
            self.path, self.frames = None, frames
            self.fps, self.num_frames, self.size = float(fps), len(frames), frames.shape[1:3]

    def read(self, indices: np.ndarray) -> np.ndarray:
        return self.frames[indices] if self.frames is not None else read_frames(self.path, indices)


class _LazyFeatures:
    """t -> SAM2 FrameFeatures of video frame t, encoding `chunk` frames at a time (one chunk kept)."""

    def __init__(self, model: EvqaForConditionalGeneration, video: _Video, side: int, chunk: int):
        self.model, self.video, self.side, self.chunk = model, video, side, chunk
        self.start, self.features = -1, []

    def __call__(self, t: int) -> FrameFeatures:
        start = t - t % self.chunk
        if start != self.start:
            idx = np.arange(start, min(start + self.chunk, self.video.num_frames))
            pixels = torch.from_numpy(sam2_pixels(self.video.read(idx), self.side))
            pixels = pixels.to(self.model.device, self.model.sam2.dtype)
            self.start, self.features = start, encode_frames(self.model.sam2, pixels)
        return self.features[t - start]


class EvqaPredictor:
    """Answer questions about videos with an EVQA model.

    Args:
        model, processor: from `build_model` / `load_model`.
        fps: LLM frame-sampling rate (frames per second). max_frames: cap on LLM frames (evenly spread).
        max_new_tokens: generation budget. chunk_frames: frames SAM2 encodes at once when propagating.
        progress: show a progress bar while propagating masks.
    """

    def __init__(
        self,
        model: EvqaForConditionalGeneration,
        processor: EvqaProcessor,
        fps: float = 1.0,
        max_frames: int | None = 64,
        max_new_tokens: int = 96,
        chunk_frames: int = 16,
        progress: bool = True,
    ):
        self.model, self.processor = model.eval(), processor
        self.fps, self.max_frames, self.max_new_tokens = fps, max_frames, max_new_tokens
        self.chunk_frames, self.progress = chunk_frames, progress

    def predict(self, video, question: str, candidates: Sequence[str], video_fps: float | None = None):
        """One question about one video (path, frame folder, or uint8 [N, H, W, 3] with `video_fps`)."""
        return self.predict_batch([(video, question, candidates)], video_fps=video_fps)[0]

    @torch.inference_mode()
    def predict_batch(self, items: Sequence[tuple], video_fps: float | None = None) -> list[EvqaPrediction]:
        """Several (video, question, candidates) at once: one batched `generate`, then masks per item."""
        videos = [_Video(video, video_fps) for video, _, _ in items]
        indices = [
            sample_frame_indices(v.num_frames, v.fps, fps=self.fps, max_frames=self.max_frames)
            for v in videos
        ]
        examples = [
            self.processor.encode_generation_prompt(v.read(idx), idx / v.fps, evqa_question_prompt(q, c))
            for v, idx, (_, q, c) in zip(videos, indices, items, strict=True)
        ]
        inputs = llm_inputs(self.model, self.processor, examples)
        self.model._final_norm_trace = []
        try:
            sequences = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
            states = torch.cat(self.model._final_norm_trace, dim=1)  # [B, L - 1, D] final-norm inputs
        finally:
            self.model._final_norm_trace = None
        prompt_len = inputs["input_ids"].shape[1]
        results = []
        for b, (video, idx, (_, _, candidates)) in enumerate(zip(videos, indices, items, strict=True)):
            tokens = sequences[b, prompt_len:].tolist()
            text = self._text(tokens)
            hidden = [states[b, p] for p in self.seg_positions(sequences[b].tolist(), prompt_len)]
            results.append(self.assemble(video, idx, text, candidates, hidden))
        return results

    def _text(self, tokens: list[int]) -> str:
        ids = self.processor.token_ids
        end = next((i for i, t in enumerate(tokens) if t in (ids["im_end"], ids["pad"])), len(tokens))
        return self.processor.decode(tokens[:end]).strip()

    def seg_positions(self, sequence: list[int], prompt_len: int) -> list[int]:
        """Positions whose state predicts a decoded `<|seg|>` in prompt + answer (up to the answer's end):
        every one (`config.decode_all_seg`), else the first generated one."""
        ids = self.processor.token_ids
        end = next((i for i in range(prompt_len, len(sequence)) if sequence[i] in (ids["im_end"], ids["pad"])),
                   len(sequence))  # fmt: skip
        positions = [i - 1 for i in range(1, end) if sequence[i] == ids["seg"]]
        if not self.model.config.decode_all_seg:
            positions = [p for p in positions if p + 1 >= prompt_len][:1]
        return positions

    def assemble(
        self, video, frame_indices: np.ndarray, text: str, candidates, seg_hidden, video_fps=None
    ) -> EvqaPrediction:
        """Generated `text` + the decoded `<|seg|>` states (a list of [D], one [D], or None) ->
        EvqaPrediction: the answer letter and segments parsed from the text, each object's masks from its
        own SAM2 run (see the module docstring) and their union."""
        video = video if isinstance(video, _Video) else _Video(video, video_fps)
        idx = np.asarray(frame_indices)
        parse = extract_answer(text, candidates)
        segments = extract_segments(text)
        hiddens = (
            [] if seg_hidden is None else [seg_hidden] if torch.is_tensor(seg_hidden) else list(seg_hidden)
        )
        prompt_frame = 0
        if segments and self.model.config.track_mode == "bidirectional":
            prompt_frame = int(
                np.clip(round(min(s for s, _ in segments) * video.fps), 0, video.num_frames - 1)
            )
        objects = np.stack([self.segment_video(video, h, prompt_frame) for h in hiddens]) if hiddens else \
            np.zeros((0, video.num_frames, *video.size), dtype=bool)  # fmt: skip
        masks = objects.any(axis=0)
        meta = {"fps": self.fps, "timestamps": (idx / video.fps).tolist(), "answer_status": parse.status,
                "prompt_frame": prompt_frame, "segmented": bool(hiddens), "objects": len(hiddens)}  # fmt: skip
        return EvqaPrediction(parse.letter, segments, masks, idx.astype(np.int64), text, meta, objects)

    def segment_video(
        self, video, seg_hidden: torch.Tensor, prompt_frame: int = 0, video_fps=None
    ) -> np.ndarray:
        """Masks bool [N, H, W] of the object whose `<|seg|>` state [D] (final-norm input) is given, on
        every frame (empty where SAM2's object score says the object is absent)."""
        video = video if isinstance(video, _Video) else _Video(video, video_fps)
        if not 0 <= prompt_frame < video.num_frames:
            raise InputError(
                f"prompt frame {prompt_frame} outside 0..{video.num_frames - 1}", field="prompt_frame"
            )
        feats = _LazyFeatures(self.model, video, self.model.config.sam2_image_size, self.chunk_frames)
        bar = (lambda it: tqdm(it, desc="masks", unit="frame", leave=False)) if self.progress else None
        with torch.inference_mode():
            track = self.model.segment(seg_hidden, feats, video.num_frames, prompt_frame, progress=bar)
        # as in SAM2, a frame whose object score says "absent" gets an empty mask (mask losses train only
        # frames where the object is present, so the decoder alone need not blank absent frames)
        visible = (track.object_score_logits > 0).cpu().numpy()
        masks = []
        for start in range(0, video.num_frames, self.chunk_frames):
            logits = track.mask_logits[start : start + self.chunk_frames, None].float()
            masks.append((F.interpolate(logits, size=video.size, mode="bilinear")[:, 0] > 0).cpu().numpy())
        return np.concatenate(masks) & visible[:, None, None]
