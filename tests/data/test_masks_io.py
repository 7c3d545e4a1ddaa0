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


def test_rle_json_bytes_are_deterministic_and_written_atomically(tmp_path):
    import json
    import os
    import stat

    old = os.umask(0o022)
    try:
        write_rle_json(tmp_path / "e.json", "e", {6: _mask(2), 0: _mask(1)}, fps=3)
    finally:
        os.umask(old)
    raw = (tmp_path / "e.json").read_text()
    assert raw == json.dumps(json.loads(raw), sort_keys=True)  # one line, keys sorted
    assert list(json.loads(raw)["frames"]) == ["0", "6"] and json.loads(raw)["fps"] == 3.0
    assert stat.S_IMODE((tmp_path / "e.json").stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["e.json"]


def test_png_foreground_is_luminance_in_every_mode(tmp_path):
    """One reader for every PNG mode: luminance > 0 (PIL "L", alpha ignored), as the published evaluator."""
    shape = np.zeros((6, 8), bool)
    shape[1:4, 2:6] = True
    rgb = np.zeros((6, 8, 3), np.uint8)
    rgb[shape] = (200, 30, 30)
    rgba = np.dstack([rgb, np.full((6, 8), 255, np.uint8)])  # matplotlib's imsave: opaque black background
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    Image.fromarray(shape.astype(np.uint8) * 255).save(tmp_path / "l.png")
    Image.fromarray(shape).save(tmp_path / "one_bit.png")
    Image.fromarray(shape.astype(np.uint8) * 3).convert("P").save(tmp_path / "p.png")
    Image.fromarray(shape.astype(np.uint16) * 1000).save(tmp_path / "sixteen.png")
    for name in ("rgba", "rgb", "l", "one_bit", "p", "sixteen"):
        assert np.array_equal(read_mask_png(tmp_path / f"{name}.png"), shape), name
    dark = np.zeros((4, 4, 3), np.uint8)
    dark[1, 2, 2] = 1  # luminance round(0.114) = 0: background, exactly as upstream's convert('L') > 0
    Image.fromarray(dark).save(tmp_path / "dark.png")
    assert read_mask_png(tmp_path / "dark.png").sum() == 0
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="cannot read mask PNG"):
        read_mask_png(tmp_path / "broken.png")


def test_unpadded_png_names_are_frames(tmp_path):
    m = np.zeros((4, 4), bool)
    m[1, 1] = True
    write_mask_png(tmp_path / "e" / "0.png", m)
    write_mask_png(tmp_path / "e" / "6.png", ~m)
    store = MaskStore(tmp_path)
    assert store.frames("e") == [0, 6]
    assert np.array_equal(store.load("e", 0), m) and np.array_equal(store.load("e", 6), ~m)
    write_mask_png(tmp_path / "e" / "00006.png", m)
    with pytest.raises(DataError, match="both frame 6"):
        MaskStore(tmp_path).frames("e")


def test_entry_ids_cannot_leave_the_mask_folder(tmp_path):
    from evqa.errors import InputError

    (tmp_path / "root").mkdir()
    write_mask_png(tmp_path / "outside" / "00000.png", np.ones((2, 2), bool))
    store = MaskStore(tmp_path / "root")
    for bad in ("../outside", str(tmp_path / "outside"), "a\x00b"):
        with pytest.raises(InputError):
            store.frames(bad)


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
