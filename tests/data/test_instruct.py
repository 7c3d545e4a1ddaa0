"""Instruct mask JSON: polygon/RLE/box-prompt round trips and clear errors for corrupted files."""

import json

import numpy as np
import pytest

from evqa.data.instruct import (
    BoxPrompt,
    EvidenceObject,
    MaskAnnotation,
    bbox_norm_of,
    load_mask_annotation,
    mask_to_polygons,
    polygons_to_mask,
    write_mask_annotation,
)
from evqa.data.synth import generate
from evqa.data.synth.scenes import SHAPES, shape_mask
from evqa.errors import DataError


def _ring_mask():
    mask = np.zeros((40, 50), dtype=bool)
    mask[5:35, 5:30] = True
    mask[12:25, 12:20] = False  # a hole
    mask[10:14, 38:46] = True  # a second piece
    return mask


@pytest.mark.parametrize("shape", SHAPES)
def test_polygon_round_trip_is_exact_for_every_shape(shape):
    mask = shape_mask(shape, (40, 30), 17, 64, 80)
    polygons = mask_to_polygons(mask)
    assert len(polygons) == 1 and polygons[0]["holes"] == []
    np.testing.assert_array_equal(polygons_to_mask(polygons, 64, 80), mask)


def test_polygon_round_trip_with_hole_and_two_pieces():
    mask = _ring_mask()
    polygons = mask_to_polygons(mask)
    assert len(polygons) == 2 and sum(len(p["holes"]) for p in polygons) == 1
    np.testing.assert_array_equal(polygons_to_mask(polygons, 40, 50), mask)


def test_bbox_norm_and_pixels():
    mask = np.zeros((50, 200), dtype=bool)
    mask[10:20, 40:100] = True
    box = bbox_norm_of(mask)
    assert box == [200.0, 200.0, 500.0, 400.0]
    prompt = BoxPrompt(frame=0, timestamp=0.0, bbox_norm=tuple(box))
    assert prompt.to_pixels(200, 50) == (40.0, 10.0, 100.0, 20.0)


@pytest.mark.parametrize("mask_format", ["polygon", "rle"])
def test_annotation_round_trip(tmp_path, mask_format):
    masks = {3: _ring_mask(), 4: np.roll(_ring_mask(), 2, axis=1)}
    prompt = BoxPrompt(frame=3, timestamp=0.5, bbox_norm=(100.0, 125.0, 600.0, 875.0), confidence=0.9)
    ann = MaskAnnotation(
        "e1", "v.mp4", 6.0, 50, 40, [EvidenceObject("red ring", masks=masks, prompts=[prompt])]
    )
    path = tmp_path / "e1.json"
    write_mask_annotation(path, ann, mask_format=mask_format)
    back = load_mask_annotation(path)
    assert (back.entry_id, back.video_path, back.fps, back.width, back.height) == ("e1", "v.mp4", 6.0, 50, 40)
    obj = back.objects[0]
    assert obj.ref_expression == "red ring" and obj.prompts == [prompt]
    assert sorted(obj.masks) == [3, 4]
    for frame in masks:
        np.testing.assert_array_equal(obj.masks[frame], masks[frame])


def test_generated_annotations_load_back(tmp_path):
    paths = generate(
        tmp_path / "s", seed=1, num_train=3, num_test=1, size=(64, 64), score=False, progress=False
    )
    files = sorted((paths.root / "instruct/gen_mask/masks").glob("*.json"))
    assert len(files) == 3
    ann = load_mask_annotation(files[0])
    obj = ann.objects[0]
    raw = json.loads(files[0].read_text())["evidence_objects"][0]
    assert "mask" in raw["masks"][0] and "bbox_norm" in raw["prompts"][0]  # both polygons and prompts
    first = min(obj.masks)
    assert obj.prompts[0].frame == first
    assert obj.prompts[0].bbox_norm == tuple(bbox_norm_of(obj.masks[first]))
    assert all(m.shape == (64, 64) and m.any() for m in obj.masks.values())


def _write(tmp_path, obj, name="bad.json"):
    path = tmp_path / name
    path.write_text(
        json.dumps(
            {
                "entry_id": "e9",
                "video_path": "v.mp4",
                "fps": 6.0,
                "width": 10,
                "height": 8,
                "evidence_objects": [obj],
            }
        )
    )
    return path


def test_truncated_json_is_reported(tmp_path):
    path = tmp_path / "cut.json"
    path.write_text('{"entry_id": "e1", "evidence_objects": [')
    with pytest.raises(DataError, match=r"cut\.json: not valid JSON"):
        load_mask_annotation(path)


def test_polygon_with_two_points_is_rejected(tmp_path):
    path = _write(
        tmp_path, {"ref_expression": "x", "masks": [{"frame": 0, "mask": {"exterior": [[1, 1], [5, 5]]}}]}
    )
    with pytest.raises(DataError) as err:
        load_mask_annotation(path)
    text = str(err.value)
    assert "bad.json" in text and "entry e9" in text and "evidence_objects[0]" in text
    assert "2 points, at least 3" in text and "masks[0].mask" in text


def test_rle_of_the_wrong_size_is_rejected(tmp_path):
    rle = {"size": [4, 4], "counts": [16]}
    path = _write(tmp_path, {"ref_expression": "x", "masks": [{"frame": 0, "rle": rle}]})
    with pytest.raises(DataError, match=r"entry e9.*RLE size \(4, 4\) differs from the expected \(8, 10\)"):
        load_mask_annotation(path)


def test_missing_fields_and_bad_prompts(tmp_path):
    path = tmp_path / "nofields.json"
    path.write_text(json.dumps({"entry_id": "e2", "evidence_objects": []}))
    with pytest.raises(DataError, match="field 'width'"):
        load_mask_annotation(path)
    path = _write(tmp_path, {"ref_expression": "x", "prompts": [{"timestamp": 1.0, "bbox_norm": [1, 2, 3]}]})
    with pytest.raises(DataError, match=r"bad box prompt .*prompts\[0\]"):
        load_mask_annotation(path)
    path = _write(
        tmp_path, {"ref_expression": "x", "prompts": [{"timestamp": 1.0, "bbox_norm": [1, 2, 3, 4]}]}
    )
    assert load_mask_annotation(path).objects[0].prompts[0].frame == 6  # round(1.0 s * 6 fps)
