"""Frame preprocessing equals transformers' Qwen2-VL PIL image processor and has Qwen2.5-VL's patch layout."""

import numpy as np
import pytest
import torch
from transformers import Qwen2_5_VLConfig
from transformers.image_utils import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD
from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VisionTransformerPretrainedModel
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil
from transformers.vision_utils import get_vision_position_ids

from evqa.errors import InputError
from evqa.model.image_ops import normalize, qwen_patches, resize_masks, sam2_pixels, smart_resize


@pytest.mark.parametrize(
    ("height", "width", "min_pixels", "max_pixels"),
    [
        (64, 64, 56 * 56, 28 * 28 * 1280),  # already a multiple of 28 after rounding
        (37, 91, 56 * 56, 28 * 28 * 1280),  # odd size, rounded
        (480, 640, 56 * 56, 28 * 28 * 1280),  # typical video frame
        (1000, 30, 56 * 56, 28 * 28 * 1280),  # extreme aspect ratio
        (20, 20, 56 * 56, 28 * 28 * 1280),  # below min_pixels: upscaled
        (360, 640, 56 * 56, 128 * 28 * 28),  # above max_pixels: downscaled
    ],
)
def test_image_pixels_equal_transformers_pil_processor(height, width, min_pixels, max_pixels):
    image = np.random.default_rng(height * width).integers(0, 256, (height, width, 3), dtype=np.uint8)
    reference = Qwen2VLImageProcessorPil(min_pixels=min_pixels, max_pixels=max_pixels)(
        images=[image], return_tensors="np"
    )
    patches, grid = qwen_patches(image[None], min_pixels=min_pixels, max_pixels=max_pixels)
    assert list(grid) == reference["image_grid_thw"][0].tolist()
    assert patches.dtype == np.float32
    np.testing.assert_array_equal(patches, reference["pixel_values"])


def test_smart_resize_bounds_and_errors():
    assert smart_resize(480, 640, 28, 56 * 56, 28 * 28 * 1280) == (476, 644)
    height, width = smart_resize(1080, 1920, 28, 56 * 56, 128 * 28 * 28)
    assert height % 28 == 0 and width % 28 == 0 and height * width <= 128 * 28 * 28
    with pytest.raises(InputError, match="aspect ratio"):
        smart_resize(10, 2500, 28, 56 * 56, 28 * 28 * 1280)


def test_video_rows_follow_the_vision_tower_position_layout():
    """Row r of the patches holds the pixels at the (t, h, w) the vision tower's own position ids assign
    to row r; frames already at a multiple of 28 are not resampled, so the pixels can be compared."""
    frames = np.random.default_rng(0).integers(0, 256, (4, 56, 84, 3), dtype=np.uint8)
    patches, grid = qwen_patches(frames, min_pixels=56 * 56, max_pixels=56 * 84)
    assert grid == (2, 4, 6)
    pixels = normalize(frames, OPENAI_CLIP_MEAN, OPENAI_CLIP_STD)
    positions = get_vision_position_ids(torch.tensor([grid]), 2, include_temporal=True)
    assert len(positions) == len(patches)
    for row, (t, h, w) in enumerate(positions.tolist()):
        block = pixels[2 * t : 2 * t + 2, 14 * h : 14 * h + 14, 14 * w : 14 * w + 14]  # [tp, py, px, C]
        np.testing.assert_array_equal(patches[row], block.transpose(3, 0, 1, 2).reshape(-1))


def test_odd_frame_count_repeats_last_frame():
    frames = np.random.default_rng(1).integers(0, 256, (3, 56, 56, 3), dtype=np.uint8)
    odd, grid = qwen_patches(frames)
    padded, grid_padded = qwen_patches(np.concatenate([frames, frames[-1:]]))
    assert grid == grid_padded == (2, 4, 4)
    np.testing.assert_array_equal(odd, padded)


def test_video_patches_run_through_the_vision_tower():
    """The model's own vision tower accepts the patches and returns grid_t*grid_h*grid_w/merge² tokens."""
    config = Qwen2_5_VLConfig(
        vision_config={
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "out_hidden_size": 24,
            "fullatt_block_indexes": [1],
            "window_size": 56,
        }
    ).vision_config
    tower = Qwen2_5_VisionTransformerPretrainedModel(config).eval()
    frames = np.random.default_rng(2).integers(0, 256, (5, 70, 100, 3), dtype=np.uint8)
    patches, grid = qwen_patches(frames, min_pixels=56 * 56, max_pixels=112 * 112)
    with torch.no_grad():
        out = tower(torch.from_numpy(patches), grid_thw=torch.tensor([grid])).pooler_output
    assert grid[0] == 3
    assert out.shape == (grid[0] * grid[1] * grid[2] // 4, 24)
    assert torch.isfinite(out).all()


def test_sam2_pixels_and_mask_resize():
    frames = np.full((2, 30, 40, 3), 255, dtype=np.uint8)
    pixels = sam2_pixels(frames, 32)
    assert pixels.shape == (2, 3, 32, 32) and pixels.dtype == np.float32
    np.testing.assert_allclose(
        pixels[0, :, 0, 0], (1 - np.array([0.485, 0.456, 0.406])) / [0.229, 0.224, 0.225], rtol=1e-6
    )
    masks = np.zeros((1, 40, 40), dtype=bool)
    masks[0, :20, :] = True  # top half
    small = resize_masks(masks, 8)
    assert small.shape == (1, 8, 8) and small.dtype == bool
    assert small[0, :4].all() and not small[0, 4:].any()


def test_bad_frames_raise_input_error():
    with pytest.raises(InputError, match="uint8"):
        qwen_patches(np.zeros((1, 28, 28, 3), dtype=np.float32))
    with pytest.raises(InputError, match=r"\[T, H, W, 3\]"):
        qwen_patches(np.zeros((28, 28, 3), dtype=np.uint8))
