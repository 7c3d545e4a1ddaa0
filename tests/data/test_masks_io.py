"""Mask IO: PNG and RLE layouts through MaskStore, and size checks."""

import numpy as np
import pytest
from PIL import Image

from evqa.data.masks import MaskStore, read_mask_png, rle_decode, rle_encode, write_mask_png, write_rle_json
from evqa.errors import DataError


def _mask(seed, shape=(24, 32)):
    return np.random.default_rng(seed).random(shape) > 0.6


def test_rle_round_trip_and_size_check():
    m = _mask(0)
    rle = rle_encode(m)
    assert np.array_equal(rle_decode(rle), m)
    with pytest.raises(DataError, match="differs from the expected"):
        rle_decode(rle, expected_size=(10, 10))
    with pytest.raises(DataError, match="malformed RLE"):
        rle_decode({"size": [2, 2], "counts": [1, 1]})


def test_store_reads_all_layouts(tmp_path):
    m0, m6 = _mask(1), _mask(2)
    write_rle_json(tmp_path / "rle_entry.json", "rle_entry", {0: m0, 6: m6})
    write_mask_png(tmp_path / "pred_entry" / "masks" / "00006.png", m6)
    write_mask_png(tmp_path / "gt_entry" / "00000.png", m0)
    store = MaskStore(tmp_path)
    assert store.frames("rle_entry") == [0, 6] and np.array_equal(store.load("rle_entry", 6), m6)
    assert store.frames("pred_entry") == [6] and np.array_equal(store.load("pred_entry", 6), m6)
    assert store.frames("gt_entry") == [0] and store.load("gt_entry", 3) is None
    assert not store.has("absent") and store.frames("absent") == []


def test_png_any_channel_is_foreground(tmp_path):
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[1, 2, 2] = 1  # a very dark blue pixel still counts
    Image.fromarray(rgb).save(tmp_path / "m.png")
    assert read_mask_png(tmp_path / "m.png").sum() == 1
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="cannot read mask PNG"):
        read_mask_png(tmp_path / "broken.png")


def test_numpy_rle_decoder_matches_pycocotools():
    from pycocotools import mask as mask_utils

    rng = np.random.default_rng(3)
    for i in range(200):
        h, w = (int(v) for v in rng.integers(1, 70, size=2))
        if i % 2:
            yy, xx = np.ogrid[:h, :w]
            m = (yy - h / 2) ** 2 + (xx - w / 3) ** 2 < rng.integers(1, 1500)
        else:
            m = rng.random((h, w)) > rng.random()
        rle = rle_encode(m)
        coco = mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode()}).astype(bool)
        assert np.array_equal(rle_decode(rle), coco) and np.array_equal(coco, m)


def test_rle_counts_that_do_not_add_up_are_rejected():
    rle = rle_encode(np.ones((4, 4), bool))
    with pytest.raises(DataError, match="malformed RLE"):
        rle_decode({"size": [5, 4], "counts": rle["counts"]})
    with pytest.raises(DataError, match="malformed RLE"):
        rle_decode({"size": [4, 4], "counts": "0`"})  # last group has its continuation bit set


def test_store_forget_drops_the_cached_file(tmp_path):
    write_rle_json(tmp_path / "e.json", "e", {0: _mask(4)})
    store = MaskStore(tmp_path)
    assert store.frames("e") == [0]
    write_rle_json(tmp_path / "e.json", "e", {0: _mask(4), 6: _mask(5)})
    assert store.frames("e") == [0]  # cached
    store.forget("e")
    assert store.frames("e") == [0, 6]
