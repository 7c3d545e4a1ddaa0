"""`EvqaProcessor`: sampled frames + question (+ target) -> the tensors `EvqaForConditionalGeneration` takes.

One example is a Qwen2.5-VL chat: system turn, user turn = the video then the text, assistant turn = the
target. The single `<|video_pad|>` of the chat template is expanded to grid_t*grid_h*grid_w/merge² tokens
(one per merged vision patch) and marked 2 in `mm_token_type_ids`, which Qwen2.5-VL's `get_rope_index`
needs for its 3-D positions. `second_per_grid_ts` is the TRUE time one temporal patch spans, from the frame
timestamps (2 frames sampled at 1 fps -> 2.0 s), so temporal positions follow real seconds. A one-line hint
('The video frames span 0.0 to 7.0 seconds (8 frames at 1.0 fps).') precedes the question: positions start
at 0 whatever the first timestamp, and the hint tells the model where the clip sits in absolute time.

Spatial side: `sam2_pixel_values` are the frames as SAM2 sees them, and `mask_targets` are resized to the
same S×S square (S = `sam2_image_size`), so a mask predicted on a SAM2 frame compares to its target directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from evqa.errors import InputError
from evqa.io import read_json, write_json_atomic
from evqa.model.collate import collate_examples
from evqa.model.image_ops import check_frames, qwen_patches, resize_masks, sam2_pixels
from evqa.model.tokenizer import VIDEO_PAD, prepare_tokenizer, special_token_ids
from evqa.prompts import REF_TOKEN

PROCESSOR_CONFIG = "evqa_processor_config.json"
IGNORE_INDEX = -100
VIDEO_TOKEN_TYPE = 2  # Qwen2.5-VL's mm_token_type_ids: 0 text, 1 image, 2 video


class EvqaProcessor:
    """Frames and text -> Qwen2.5-VL model inputs (Qwen3-VL: `evqa.model.processing_qwen3`). Settings (pixels per frame, patch sizes, SAM2 side) are saved next
    to the tokenizer by `save_pretrained` and restored by `from_pretrained`.

    Args:
        tokenizer: a Qwen-style tokenizer; EVQA's special tokens and chat template are added if missing.
        min_pixels / max_pixels: bounds on the resized area of one frame (pixels) for the vision tower.
        patch_size / merge_size / temporal_patch_size: Qwen2.5-VL vision tower geometry.
        sam2_image_size: side S (pixels) of the square frames SAM2 encodes and of the mask targets.
        timestamp_hint: put the time span of the sampled frames in the prompt text.
        default_fps: frame rate assumed for a single frame, whose spacing the timestamps cannot give.
    """

    backbone = "qwen2_5_vl"  # saved with the settings: `from_pretrained` builds the backbone's processor

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        *,
        min_pixels: int = 128 * 28 * 28,
        max_pixels: int = 768 * 28 * 28,
        patch_size: int = 14,
        merge_size: int = 2,
        temporal_patch_size: int = 2,
        sam2_image_size: int = 1024,
        timestamp_hint: bool = True,
        default_fps: float = 1.0,
    ):
        self.tokenizer = prepare_tokenizer(tokenizer)
        self.min_pixels, self.max_pixels = int(min_pixels), int(max_pixels)
        self.patch_size, self.merge_size = int(patch_size), int(merge_size)
        self.temporal_patch_size = int(temporal_patch_size)
        self.sam2_image_size = int(sam2_image_size)
        self.timestamp_hint = bool(timestamp_hint)
        self.default_fps = float(default_fps)
        self.token_ids = special_token_ids(self.tokenizer)

    # ---- persistence -------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The processor settings (not the tokenizer) as JSON-serialisable values."""
        keys = ("min_pixels", "max_pixels", "patch_size", "merge_size", "temporal_patch_size")
        keys += ("sam2_image_size", "timestamp_hint", "default_fps", "backbone")
        return {key: getattr(self, key) for key in keys}

    def save_pretrained(self, directory: str | Path) -> None:
        """Write the tokenizer files and `evqa_processor_config.json` into `directory`."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save_pretrained(directory)
        write_json_atomic(directory / PROCESSOR_CONFIG, self.to_dict())

    @classmethod
    def from_pretrained(cls, directory: str | Path, **overrides) -> EvqaProcessor:
        """Load what `save_pretrained` wrote; keyword arguments override saved settings."""
        path = Path(directory) / PROCESSOR_CONFIG
        if not path.is_file():
            raise InputError(f"no {PROCESSOR_CONFIG}: not an EVQA checkpoint folder", path=str(directory))
        settings = {**read_json(path), **overrides}
        backbone = settings.pop("backbone", EvqaProcessor.backbone)  # folders saved before Qwen3-VL: 2.5
        if backbone not in PROCESSOR_CLASSES:
            raise InputError(f"unknown processor backbone {backbone!r} (known: {sorted(PROCESSOR_CLASSES)})",
                             path=str(path), field="backbone")  # fmt: skip
        return PROCESSOR_CLASSES[backbone](AutoTokenizer.from_pretrained(str(directory)), **settings)

    # ---- vision --------------------------------------------------------------------------------------
    def second_per_grid(self, timestamps: np.ndarray) -> float:
        """Seconds one temporal patch spans: temporal_patch_size x the mean frame spacing (seconds)."""
        if len(timestamps) < 2:
            return self.temporal_patch_size / self.default_fps
        spacing = float(timestamps[-1] - timestamps[0]) / (len(timestamps) - 1)
        if spacing <= 0:
            raise InputError(f"frame timestamps must increase, got {timestamps.tolist()}", field="timestamps")
        return self.temporal_patch_size * spacing

    def encode_video(
        self, frames: np.ndarray, timestamps: Sequence[float], sam2_frames: bool = True
    ) -> dict[str, torch.Tensor]:
        """uint8 frames [T, H, W, 3] + timestamps [T] (seconds) -> pixel_values_videos [N, 3*2*14*14]
        float32, video_grid_thw [1, 3] int64, second_per_grid_ts [1] float32 (seconds),
        frame_timestamps [T] float32 (seconds), sam2_pixel_values [T, 3, S, S] float32 (unless
        `sam2_frames` is False: a sample without masks to train does without)."""
        frames = check_frames(frames)
        times = np.asarray(timestamps, dtype=np.float64).reshape(-1)
        if len(times) != len(frames):
            raise InputError(f"{len(frames)} frames but {len(times)} timestamps", field="timestamps")
        patches, grid = qwen_patches(
            frames,
            patch_size=self.patch_size,
            merge_size=self.merge_size,
            temporal_patch_size=self.temporal_patch_size,
            min_pixels=self.min_pixels,
            max_pixels=self.max_pixels,
        )
        example = {
            "pixel_values_videos": torch.from_numpy(patches),
            "video_grid_thw": torch.tensor([grid], dtype=torch.long),
            "second_per_grid_ts": torch.tensor([self.second_per_grid(times)], dtype=torch.float32),
            "frame_timestamps": torch.from_numpy(times.astype(np.float32)),
        }
        if sam2_frames:
            example["sam2_pixel_values"] = torch.from_numpy(sam2_pixels(frames, self.sam2_image_size))
        return example

    def num_video_tokens(self, video_grid_thw: torch.Tensor) -> int:
        """LLM tokens for one video: grid_t * grid_h * grid_w / merge_size²."""
        return int(video_grid_thw.reshape(-1, 3)[0].prod()) // self.merge_size**2

    # ---- text ----------------------------------------------------------------------------------------
    def time_hint(self, timestamps: np.ndarray) -> str:
        """'The video frames span 0.0 to 7.0 seconds (8 frames at 1.0 fps).' ('' when disabled)."""
        if not self.timestamp_hint:
            return ""
        num = len(timestamps)
        fps = self.temporal_patch_size / self.second_per_grid(timestamps)
        return (
            f"The video frames span {timestamps[0]:.1f} to {timestamps[-1]:.1f} seconds "
            f"({num} frame{'s' if num != 1 else ''} at {fps:.1f} fps).\n"
        )

    def prompt_ids(self, prompt: str, timestamps: np.ndarray, num_video_tokens: int) -> list[int]:
        """Token ids of system + user turn (video, hint, prompt) + '<|im_start|>assistant\\n', with the
        video placeholder expanded to `num_video_tokens` `<|video_pad|>` tokens."""
        content = [{"type": "video"}, {"type": "text", "text": self.time_hint(timestamps) + prompt}]
        text = self.tokenizer.apply_chat_template(
            [{"role": "user", "content": content}], tokenize=False, add_generation_prompt=True
        )
        if text.count(VIDEO_PAD) != 1:
            raise InputError(f"the prompt must not contain {VIDEO_PAD} itself", field="prompt")
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        pad = ids.index(self.token_ids["video_pad"])
        return ids[:pad] + [self.token_ids["video_pad"]] * num_video_tokens + ids[pad + 1 :]

    def target_ids(self, target: str) -> list[int]:
        """Token ids of the assistant's answer followed by `<|im_end|>` (all of them are trained)."""
        return self.tokenizer(target, add_special_tokens=False)["input_ids"] + [self.token_ids["im_end"]]

    def _ref_tensors(self, prompt: str, ref_prompts) -> dict[str, torch.Tensor]:
        """`ref_prompts`: one {'time': s, 'box': [x1, y1, x2, y2]} or {'time': s, 'point': [x, y]} per
        `<|ref|>` in the prompt, coordinates normalised to [0, 1] of the frame -> ref_boxes [R, 4] float32
        (a point is a zero-size box), ref_times [R] float32 seconds."""
        ref_prompts = list(ref_prompts or [])
        if prompt.count(REF_TOKEN) != len(ref_prompts):
            raise InputError(
                f"prompt has {prompt.count(REF_TOKEN)} {REF_TOKEN} tokens but {len(ref_prompts)} ref prompts",
                field="ref_prompts",
            )
        boxes, times = [], []
        for index, ref in enumerate(ref_prompts):
            coords = ref.get("box") if "box" in ref else list(ref.get("point", [])) * 2
            if len(coords) != 4 or "time" not in ref:
                raise InputError(
                    f"ref prompt {index} needs 'time' and a 'box' or 'point'", field="ref_prompts"
                )
            boxes.append([float(v) for v in coords])
            times.append(float(ref["time"]))
        return {
            "ref_boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
            "ref_times": torch.tensor(times, dtype=torch.float32),
        }

    # ---- examples ------------------------------------------------------------------------------------
    def encode_generation_prompt(
        self, frames: np.ndarray, timestamps: Sequence[float], prompt: str, ref_prompts=None, sam2_frames=True
    ) -> dict[str, torch.Tensor]:
        """Inputs for generation: everything `encode_example` returns except labels and mask targets; the
        sequence ends with '<|im_start|>assistant\\n'. `sam2_frames`: see `encode_video`."""
        example = self.encode_video(frames, timestamps, sam2_frames)
        ids = self.prompt_ids(
            prompt,
            example["frame_timestamps"].double().numpy(),
            self.num_video_tokens(example["video_grid_thw"]),
        )
        input_ids = torch.tensor(ids, dtype=torch.long)
        example.update(self._ref_tensors(prompt, ref_prompts))
        example.update(
            input_ids=input_ids,
            attention_mask=torch.ones_like(input_ids),
            mm_token_type_ids=(input_ids == self.token_ids["video_pad"]).long() * VIDEO_TOKEN_TYPE,
        )
        return example

    def encode_example(
        self,
        frames: np.ndarray,
        timestamps: Sequence[float],
        prompt: str,
        target: str | None = None,
        mask_targets: np.ndarray | None = None,
        ref_prompts=None,
        mask_valid: np.ndarray | None = None,
        sam2_frames: bool = True,
    ) -> dict[str, torch.Tensor]:
        """One training example.

        Args:
            frames: uint8 [T, H, W, 3] RGB sampled frames; timestamps: [T] seconds of those frames.
            prompt: the user text (after the video); target: the assistant text, e.g. `format_target(...)`.
            mask_targets: bool [T, H, W] evidence mask per sampled frame (objects unioned), or None.
            mask_valid: bool [T], False where a frame has no annotation (its target is unknown, not empty).
            ref_prompts: see `_ref_tensors`. sam2_frames: False leaves out `sam2_pixel_values` (a sample
                without mask targets does not need them).
        Returns input_ids / attention_mask / labels / mm_token_type_ids [L] (labels -100 except the target
        and its `<|im_end|>`), the `encode_video` tensors, ref_boxes [R, 4], ref_times [R], and with masks
        mask_targets bool [T, S, S] and mask_valid bool [T].
        """
        example = self.encode_generation_prompt(frames, timestamps, prompt, ref_prompts, sam2_frames)
        prompt_len = len(example["input_ids"])
        target_ids = self.target_ids(target) if target is not None else []
        input_ids = torch.cat([example["input_ids"], torch.tensor(target_ids, dtype=torch.long)])
        labels = input_ids.clone()
        labels[:prompt_len] = IGNORE_INDEX
        example.update(
            input_ids=input_ids,
            labels=labels,
            attention_mask=torch.ones_like(input_ids),
            mm_token_type_ids=(input_ids == self.token_ids["video_pad"]).long() * VIDEO_TOKEN_TYPE,
        )
        if mask_targets is not None:
            example.update(self._mask_tensors(frames, mask_targets, mask_valid))
        return example

    def _mask_tensors(self, frames, mask_targets, mask_valid) -> dict[str, torch.Tensor]:
        masks = np.asarray(mask_targets)
        if masks.shape != np.asarray(frames).shape[:3]:
            raise InputError(
                f"mask targets shape {list(masks.shape)} must equal frames [T, H, W] {list(frames.shape[:3])}",
                field="mask_targets",
            )
        valid = np.ones(len(masks), dtype=bool) if mask_valid is None else np.asarray(mask_valid, dtype=bool)
        if valid.shape != (len(masks),):
            raise InputError(f"mask_valid must have shape [{len(masks)}]", field="mask_valid")
        return {
            "mask_targets": torch.from_numpy(resize_masks(masks, self.sam2_image_size)),
            "mask_valid": torch.from_numpy(valid),
        }

    def collate(self, examples: list[dict], padding_side: str = "right") -> dict:
        """Batch `encode_example` / `encode_generation_prompt` outputs; see `collate_examples`."""
        return collate_examples(examples, pad_token_id=self.token_ids["pad"], padding_side=padding_side)

    def decode(self, token_ids, skip_special_tokens: bool = False) -> str:
        """Token ids -> text (special tokens such as `<|seg|>` kept unless asked otherwise)."""
        return self.tokenizer.decode(token_ids, skip_special_tokens=skip_special_tokens)


# backbone name -> processor class (`evqa.model.processing_qwen3` adds "qwen3_vl")
PROCESSOR_CLASSES: dict[str, type[EvqaProcessor]] = {EvqaProcessor.backbone: EvqaProcessor}
