"""The Qwen3-VL processor gives frame times as transformers' `Qwen3VLProcessor` does (its own code builds the
expected text), sizes frames by `Qwen3VLVideoProcessor`'s rule and normalises as Qwen3-VL's image processor."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import Qwen3VLProcessor
from transformers.image_utils import IMAGENET_STANDARD_MEAN, IMAGENET_STANDARD_STD
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil
from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor, smart_resize
from transformers.video_utils import VideoMetadata

from evqa.errors import InputError
from evqa.model import EvqaProcessor, EvqaQwen3VLProcessor
from evqa.model.processing_qwen3 import patch_timestamps
from evqa.model.tokenizer import VIDEO_PAD, VISION_END, VISION_START, build_tiny_tokenizer
from tests.model.conftest import synthetic_clip


@pytest.fixture(scope="module")
def processor():
    return EvqaQwen3VLProcessor(build_tiny_tokenizer(), sam2_image_size=128)


def transformers_text(tokenizer, text: str, grid_thw, frame_indices, video_fps: float) -> str:
    """`text` with its `<|video_pad|>` expanded by transformers' own Qwen3-VL processor code (the text half
    of `Qwen3VLProcessor.__call__`; its video half needs torchvision, so the grid is given)."""
    proc = object.__new__(Qwen3VLProcessor)  # __init__ checks sub-processor classes through torchvision
    proc.tokenizer, proc.video_processor = tokenizer, Qwen3VLVideoProcessor()
    proc.image_token, proc.video_token = "<|image_pad|>", VIDEO_PAD
    proc.vision_start_token, proc.vision_end_token = VISION_START, VISION_END
    metadata = VideoMetadata(total_num_frames=int(max(frame_indices)) + 1, fps=video_fps,
                             frames_indices=list(frame_indices))  # fmt: skip
    inputs = {"video_grid_thw": torch.tensor([grid_thw]), "video_metadata": [metadata]}
    replacement = proc.replace_video_token(inputs, 0)
    return proc.get_text_with_replacements([text], videos_replacements=[replacement])[0][0]


@pytest.mark.parametrize("indices", [[0, 3, 6, 9, 12, 15, 18, 21], [0, 4, 9, 13, 17], [2]])
def test_prompt_equals_transformers_qwen3_vl_processor(processor, indices):
    idx = np.asarray(indices)
    frames, _, _ = synthetic_clip(num_frames=len(idx), size=(96, 128))
    example = processor.encode_generation_prompt(frames, idx / 6.0, "Which object moves?")
    grid = example["video_grid_thw"][0].tolist()
    template = processor.tokenizer.apply_chat_template(
        [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "Which object moves?"}]}],
        tokenize=False,
        add_generation_prompt=True,
    )
    expected = transformers_text(processor.tokenizer, template, grid, idx, 6.0)
    assert processor.decode(example["input_ids"]) == expected
    assert (
        example["input_ids"].tolist() == processor.tokenizer(expected, add_special_tokens=False)["input_ids"]
    )
    # only the video pads are vision tokens (type 2), as transformers' create_mm_token_type_ids marks them
    pads = example["input_ids"] == processor.token_ids["video_pad"]
    assert torch.equal(example["mm_token_type_ids"], pads.long() * 2)
    assert int(pads.sum()) == grid[0] * grid[1] * grid[2] // 4
    assert "second_per_grid_ts" not in example


def test_timestamps_are_patch_means_to_one_decimal(processor):
    # frames at 0, 0.5, ..., 3.5 s: patches (0, 0.5) -> 0.25 -> '0.2' (round half to even), (1, 1.5) -> '1.2'
    assert patch_timestamps([0.0, 0.5, 1.0, 1.5, 2.0]) == [0.25, 1.25, 2.0]
    frames, _, _ = synthetic_clip(num_frames=8, size=(96, 128))
    text = processor.decode(processor.encode_generation_prompt(frames, np.arange(8) / 2, "Q?")["input_ids"])
    stamps = [part.split(" seconds>")[0] for part in text.split("<")[1:] if " seconds>" in part]
    assert stamps == ["0.2", "1.2", "2.2", "3.2"]
    with pytest.raises(InputError, match="timestamps must increase"):
        processor.encode_video(frames, np.zeros(8))


@pytest.mark.parametrize(("num_frames", "height", "width"), [(8, 112, 112), (5, 90, 120), (16, 480, 640)])
def test_frame_size_follows_qwen3_video_processor(num_frames, height, width):
    tokenizer = build_tiny_tokenizer()
    default = EvqaQwen3VLProcessor(tokenizer)
    size = Qwen3VLVideoProcessor.size
    expected = smart_resize(num_frames, height, width, factor=32, min_pixels=size["shortest_edge"],
                            max_pixels=size["longest_edge"])  # fmt: skip
    assert default.frame_size(num_frames, height, width) == expected
    # the per-frame cap (qwen-vl-utils' rule): 16 merged patches of 32 px = 128 x 128 for a square frame
    capped = EvqaQwen3VLProcessor(tokenizer, min_pixels=4096, cap_pixels_per_frame=True, max_video_tokens=16)
    h, w = capped.frame_size(num_frames, height, width)
    assert h % 32 == 0 and w % 32 == 0 and h * w <= 16 * 32 * 32
    if height == width:
        assert (h, w) == (128, 128)


def test_pixels_equal_qwen3_vl_image_normalisation_and_patch_layout():
    """One frame already at a multiple of 32 px: the patches equal the Qwen2-VL image processor's with
    Qwen3-VL's geometry and mean/std (what Qwen3-VL's image processor is)."""
    frame = np.random.default_rng(0).integers(0, 256, (1, 64, 96, 3), dtype=np.uint8)
    reference = Qwen2VLImageProcessorPil(patch_size=16, merge_size=2, temporal_patch_size=2,
                                         image_mean=IMAGENET_STANDARD_MEAN, image_std=IMAGENET_STANDARD_STD,
                                         min_pixels=64 * 96, max_pixels=64 * 96)  # fmt: skip
    expected = reference(images=[frame[0]], return_tensors="np")
    # Qwen3-VL's video bounds count t_bar * h * w pixels: one frame is sized as a pair
    processor = EvqaQwen3VLProcessor(build_tiny_tokenizer(), min_pixels=2 * 64 * 96, max_pixels=2 * 64 * 96)
    out = processor.encode_video(frame, [0.0])
    assert out["video_grid_thw"][0].tolist() == expected["image_grid_thw"][0].tolist() == [1, 4, 6]
    np.testing.assert_array_equal(out["pixel_values_videos"].numpy(), expected["pixel_values"])


def test_settings_round_trip_to_the_backbone_class(processor, tmp_path):
    processor.save_pretrained(tmp_path)
    loaded = EvqaProcessor.from_pretrained(tmp_path)
    assert type(loaded) is EvqaQwen3VLProcessor and loaded.to_dict() == processor.to_dict()
    assert loaded.to_dict()["backbone"] == "qwen3_vl" and loaded.patch_size == 16
