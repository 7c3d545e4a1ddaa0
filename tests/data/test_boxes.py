"""Box prompts -> masks through a tiny random transformers Sam2Model (shapes and format, not quality)."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from evqa.data.boxes import boxes_to_masks, sam2_image_size, segment_boxes  # noqa: E402
from evqa.data.instruct import load_mask_annotation  # noqa: E402
from evqa.data.synth import generate  # noqa: E402
from evqa.errors import DataError  # noqa: E402


@pytest.fixture(scope="module")
def tiny_sam2():
    from evqa.model.presets import sam2_config

    video = sam2_config("micro", image_size=128)
    config = transformers.Sam2Config(
        vision_config=video.vision_config.to_dict(),
        prompt_encoder_config=video.prompt_encoder_config.to_dict(),
        mask_decoder_config=video.mask_decoder_config.to_dict(),
    )
    torch.manual_seed(0)
    return transformers.Sam2Model(config).eval()


def test_segment_boxes_shapes(tiny_sam2):
    assert sam2_image_size(tiny_sam2) == 128
    frame = np.random.default_rng(0).integers(0, 255, (48, 80, 3), dtype=np.uint8)
    masks = segment_boxes(tiny_sam2, frame, np.array([[5, 5, 40, 30], [50, 10, 79, 47]], dtype=float))
    assert masks.shape == (2, 48, 80) and masks.dtype == bool


def _prompt_only(src, dst):
    """Copy mask JSONs, keeping only the box prompts (as in the released ST-Evidence-Instruct files)."""
    dst.mkdir()
    for path in sorted(src.glob("*.json")):
        payload = json.loads(path.read_text())
        for obj in payload["evidence_objects"]:
            obj.pop("masks")
        (dst / path.name).write_text(json.dumps(payload))


def test_boxes_to_masks_writes_rle_masks(tiny_sam2, tmp_path):
    summary = generate(
        tmp_path / "s", seed=5, num_train=2, num_test=1, size=(48, 64), score=False, progress=False
    )
    paths = summary.paths
    prompts = tmp_path / "prompts"
    _prompt_only(paths.instruct_mask_dir, prompts)
    counts = boxes_to_masks(tiny_sam2, prompts, tmp_path / "out", frames_dir=paths.frames_dir, progress=False)
    assert counts == {"files": 2, "masks_made": 2, "unchanged": 0}
    for path in sorted((tmp_path / "out").glob("*.json")):
        raw = json.loads(path.read_text())["evidence_objects"][0]
        assert "rle" in raw["masks"][0] and raw["prompts"]
        ann = load_mask_annotation(path)
        obj = ann.objects[0]
        assert sorted(obj.masks) == [obj.prompts[0].frame]
        assert obj.masks[obj.prompts[0].frame].shape == (48, 64)
    # from videos instead of frame folders, and entries that already have masks stay unchanged
    counts = boxes_to_masks(
        tiny_sam2, tmp_path / "out", tmp_path / "again", video_dir=paths.instruct_video_dir, progress=False
    )
    assert counts == {"files": 2, "masks_made": 0, "unchanged": 2}
    counts = boxes_to_masks(
        tiny_sam2, prompts, tmp_path / "v", video_dir=paths.instruct_video_dir, progress=False
    )
    assert counts["masks_made"] == 2
    with pytest.raises(DataError, match="no frame folder or video"):
        boxes_to_masks(tiny_sam2, prompts, tmp_path / "none", frames_dir=tmp_path, progress=False)
