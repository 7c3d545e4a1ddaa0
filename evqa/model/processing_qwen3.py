"""`EvqaQwen3VLProcessor`: sampled frames + question (+ target) -> the tensors `EvqaQwen3VLForConditionalGeneration`
takes, laid out as transformers' Qwen3-VL processor lays them out.

Frame times are text, as `Qwen3VLProcessor.replace_video_token` writes them: the chat template's single
`<|video_pad|>` becomes, for each temporal patch (2 frames), `<t seconds>` + `<|vision_start|>` +
grid_h*grid_w/merge² `<|video_pad|>` + `<|vision_end|>`, where t (one decimal) is the mean time of the
patch's first and last frame and an odd last frame is paired with itself (`_calculate_timestamps`). As in
transformers 5 (whose processor replaces the pad token alone), the template's own `<|vision_start|>` /
`<|vision_end|>` stay around the whole block; transformers 4.57 replaced the three tokens together.
Only `<|video_pad|>` tokens are type 2 in `mm_token_type_ids`, so the timestamps are text positions and
each temporal patch is its own vision block in Qwen3-VL's rope positions; no `second_per_grid_ts`.

Pixels follow `Qwen3VLVideoProcessor`: one size for all frames from its `smart_resize` (factor
patch*merge = 32, the pixel bounds counting every frame: t*h*w), optionally with its per-frame cap
(`cap_pixels_per_frame`, `max_video_tokens`), x/255 and mean = std = 0.5, patches in Qwen2.5-VL's layout.
The resize is PIL bicubic (transformers resizes with torchvision, which these machines cannot import).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image
from transformers import PreTrainedTokenizerBase
from transformers.image_utils import IMAGENET_STANDARD_MEAN, IMAGENET_STANDARD_STD
from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor
from transformers.models.qwen3_vl.video_processing_qwen3_vl import smart_resize as qwen3_smart_resize

from evqa.errors import InputError
from evqa.model.image_ops import check_frames, normalize, patchify, resize_frames, sam2_pixels
from evqa.model.processing import PROCESSOR_CLASSES, EvqaProcessor
from evqa.model.tokenizer import VIDEO_PAD, VISION_END, VISION_START

QWEN3_MIN_PIXELS = int(Qwen3VLVideoProcessor.size["shortest_edge"])  # 128 * 32 * 32, all frames together
QWEN3_MAX_PIXELS = int(Qwen3VLVideoProcessor.size["longest_edge"])  # 768 * 32 * 32, all frames together


def patch_timestamps(timestamps: Sequence[float], temporal_patch_size: int = 2) -> list[float]:
    """Seconds [T] of the sampled frames -> seconds [ceil(T / temporal)] of their temporal patches: the mean
    of each patch's first and last frame, the last frame repeated to fill the last patch (Qwen3-VL's
    `_calculate_timestamps`, which takes frame indices / fps)."""
    times = [float(t) for t in timestamps]
    if not times:
        raise InputError("a video needs at least one frame", field="timestamps")
    times += [times[-1]] * (-len(times) % temporal_patch_size)
    return [
        (times[i] + times[i + temporal_patch_size - 1]) / 2 for i in range(0, len(times), temporal_patch_size)
    ]


def video_placeholder(patch_times: Sequence[float], tokens_per_patch: int) -> str:
    """What Qwen3-VL's processor puts in place of `<|video_pad|>`: per temporal patch, '<t seconds>' (t to
    one decimal) and that patch's vision tokens between `<|vision_start|>` and `<|vision_end|>`."""
    return "".join(
        f"<{t:.1f} seconds>{VISION_START}{VIDEO_PAD * tokens_per_patch}{VISION_END}" for t in patch_times
    )


class EvqaQwen3VLProcessor(EvqaProcessor):
    """Frames and text -> Qwen3-VL model inputs (see the module docstring); otherwise as `EvqaProcessor`.

    Args (those that differ from `EvqaProcessor`):
        min_pixels / max_pixels: Qwen3-VL's `size` (`shortest_edge` / `longest_edge`): bounds on the pixels
            of ALL sampled frames together (t * h * w) after resizing; defaults are transformers'.
        patch_size: 16 (Qwen3-VL's vision tower).
        cap_pixels_per_frame / max_video_tokens: transformers' per-frame cap (qwen-vl-utils' rule): each frame
            gets at most `max_video_tokens` merged patches (and at most max_pixels / T pixels).
        timestamp_hint: off by default, the timestamps are in the text already.
    """

    backbone = "qwen3_vl"

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        *,
        min_pixels: int = QWEN3_MIN_PIXELS,
        max_pixels: int = QWEN3_MAX_PIXELS,
        patch_size: int = 16,
        merge_size: int = 2,
        temporal_patch_size: int = 2,
        sam2_image_size: int = 1024,
        timestamp_hint: bool = False,
        default_fps: float = 1.0,
        cap_pixels_per_frame: bool = False,
        max_video_tokens: int = int(Qwen3VLVideoProcessor.max_video_tokens),
    ):
        super().__init__(
            tokenizer,
            min_pixels=min_pixels,
            max_pixels=max_pixels,
            patch_size=patch_size,
            merge_size=merge_size,
            temporal_patch_size=temporal_patch_size,
            sam2_image_size=sam2_image_size,
            timestamp_hint=timestamp_hint,
            default_fps=default_fps,
        )
        self.cap_pixels_per_frame = bool(cap_pixels_per_frame)
        self.max_video_tokens = int(max_video_tokens)

    def to_dict(self) -> dict:
        return {**super().to_dict(), "cap_pixels_per_frame": self.cap_pixels_per_frame,
                "max_video_tokens": self.max_video_tokens}  # fmt: skip

    # ---- vision --------------------------------------------------------------------------------------
    def frame_size(self, num_frames: int, height: int, width: int) -> tuple[int, int]:
        """(height, width) in pixels every one of `num_frames` frames of height x width is resized to, as
        `Qwen3VLVideoProcessor.resize` computes it (a single frame is sized as a pair, which transformers
        refuses)."""
        factor = self.patch_size * self.merge_size
        max_pixels = self.max_pixels
        if self.cap_pixels_per_frame:
            frame_cap = self.max_video_tokens * factor * factor
            per_frame = max(min(frame_cap, self.max_pixels // num_frames), int(self.min_pixels * 1.05))
            max_pixels = per_frame * num_frames
        try:
            return qwen3_smart_resize(max(num_frames, self.temporal_patch_size), height, width,
                                      temporal_factor=self.temporal_patch_size, factor=factor,
                                      min_pixels=self.min_pixels, max_pixels=max_pixels)  # fmt: skip
        except ValueError as err:
            raise InputError(f"frames of {height}x{width}: {err}", field="frames") from None

    def encode_video(
        self, frames: np.ndarray, timestamps: Sequence[float], sam2_frames: bool = True
    ) -> dict[str, torch.Tensor]:
        """uint8 frames [T, H, W, 3] + timestamps [T] (seconds) -> pixel_values_videos [N, 3*2*16*16]
        float32, video_grid_thw [1, 3] int64, frame_timestamps [T] float32 (seconds), sam2_pixel_values
        [T, 3, S, S] float32 (unless `sam2_frames` is False: a sample without masks to train does without)."""
        frames = check_frames(frames)
        times = np.asarray(timestamps, dtype=np.float64).reshape(-1)
        if len(times) != len(frames):
            raise InputError(f"{len(frames)} frames but {len(times)} timestamps", field="timestamps")
        if len(times) > 1 and np.any(np.diff(times) <= 0):
            raise InputError(f"frame timestamps must increase, got {times.tolist()}", field="timestamps")
        height, width = self.frame_size(len(frames), frames.shape[1], frames.shape[2])
        resized = resize_frames(frames, height, width, Image.Resampling.BICUBIC)
        pixels = normalize(resized, IMAGENET_STANDARD_MEAN, IMAGENET_STANDARD_STD)
        patches, grid = patchify(pixels, self.patch_size, self.merge_size, self.temporal_patch_size)
        example = {
            "pixel_values_videos": torch.from_numpy(patches),
            "video_grid_thw": torch.tensor([grid], dtype=torch.long),
            "frame_timestamps": torch.from_numpy(times.astype(np.float32)),
        }
        if sam2_frames:
            example["sam2_pixel_values"] = torch.from_numpy(sam2_pixels(frames, self.sam2_image_size))
        return example

    # ---- text ----------------------------------------------------------------------------------------
    def prompt_ids(self, prompt: str, timestamps: np.ndarray, num_video_tokens: int) -> list[int]:
        """Token ids of system + user turn (video with its timestamps, hint, prompt) +
        '<|im_start|>assistant\\n': the template's `<|video_pad|>` replaced by `video_placeholder`."""
        content = [{"type": "video"}, {"type": "text", "text": self.time_hint(timestamps) + prompt}]
        text = self.tokenizer.apply_chat_template(
            [{"role": "user", "content": content}], tokenize=False, add_generation_prompt=True
        )
        if text.count(VIDEO_PAD) != 1:
            raise InputError(f"the prompt must not contain {VIDEO_PAD} itself", field="prompt")
        patch_times = patch_timestamps(timestamps, self.temporal_patch_size)
        per_patch, rest = divmod(num_video_tokens, len(patch_times))
        if rest:
            raise InputError(f"{num_video_tokens} video tokens do not split over {len(patch_times)} "
                             "temporal patches", field="timestamps")  # fmt: skip
        text = text.replace(VIDEO_PAD, video_placeholder(patch_times, per_patch), 1)
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]


PROCESSOR_CLASSES[EvqaQwen3VLProcessor.backbone] = EvqaQwen3VLProcessor
