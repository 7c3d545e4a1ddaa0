"""Every training source reads its tiny fixture (real on-disk format) into the typed records."""

import random
from pathlib import Path

import numpy as np
import pytest

from evqa.errors import ConfigError, DataError
from evqa.prompts import SEG_TARGET
from evqa.training.sources import build_source, load_example
from evqa.training.sources.base import choose_frames

FIX = Path(__file__).parents[1] / "fixtures" / "training"


def _example(source, index=0, num_frames=8, seed=0):
    return load_example(source[index], num_frames, random.Random(seed))


@pytest.mark.parametrize("kind", ["mevis", "revos"])
def test_rle_ref_vos_unions_objects_and_treats_absent_as_empty(kind):
    source = build_source({"type": kind, "root": str(FIX / kind)})
    assert [it.sample_id for it in source.items] == ["vid_a/0", "vid_a/1"]
    assert source[0].prompt == "Please segment the the cat on the left in this video."
    assert source[0].target == SEG_TARGET == "It is <|seg|>."
    one, both = _example(source, 0), _example(source, 1)
    assert one.frames.shape == (4, 6, 8, 3) and one.frames.dtype == np.uint8
    np.testing.assert_allclose(one.timestamps, [0, 1 / 6, 2 / 6, 3 / 6])
    assert one.mask_targets.sum(axis=(1, 2)).tolist() == [18, 18, 0, 18]  # absent on frame 2 -> empty
    assert one.mask_valid.all()
    assert both.mask_targets.sum(axis=(1, 2)).tolist() == [36, 36, 18, 36]


@pytest.mark.parametrize(
    ("kind", "split", "stamps"),
    [("ref_youtube_vos", "train", [0, 5 / 30, 10 / 30]), ("ref_davis17", "valid", [0, 1 / 24, 2 / 24])],
)
def test_palette_ref_vos_selects_object_id(kind, split, stamps):
    source = build_source({"type": kind, "root": str(FIX / kind), "split": split})
    assert len(source) == 2
    person, dog = _example(source, 0), _example(source, 1)
    np.testing.assert_allclose(person.timestamps, stamps)
    assert person.mask_targets.sum(axis=(1, 2)).tolist() == [12, 0, 12]
    assert dog.mask_targets[:, :, 6:].all() and not dog.mask_targets[:, :, :6].any()


def test_lvvis_groups_instances_by_category():
    source = build_source({"type": "lvvis", "root": str(FIX / "lvvis")})
    by_id = {it.sample_id: it for it in source.items}
    assert set(by_id) == {"1/7", "1/9"}
    assert by_id["1/7"].prompt == "Please segment the traffic light in this video."
    light = load_example(by_id["1/7"], 8, random.Random(0))
    assert light.mask_targets.sum(axis=(1, 2)).tolist() == [12, 6, 12]


def test_ref_sav_reads_sav_masklets_every_fourth_frame():
    source = build_source({"type": "ref_sav", "root": str(FIX / "ref_sav")})
    assert source[0].masks.frames() == [0, 4, 8]
    ex = _example(source, 0, num_frames=3)
    np.testing.assert_allclose(ex.timestamps, [0, 4 / 24, 8 / 24], atol=1e-6)
    assert ex.mask_targets.sum(axis=(1, 2)).tolist() == [128, 160, 192]
    both = _example(source, 1, num_frames=3)
    assert both.mask_targets.sum(axis=(1, 2)).tolist() == [256, 288, 320]
    assert both.mask_valid.all()


def test_ref_sav_unannotated_frames_are_marked_invalid():
    ex = _example(build_source({"type": "ref_sav", "root": str(FIX / "ref_sav")}), 0, num_frames=5)
    assert ex.frames.shape[0] == 5 and ex.mask_valid.sum() == 3


def test_groundmore_question_target_names_the_object():
    source = build_source({"type": "groundmore", "root": str(FIX / "groundmore")})
    item = source[0]
    assert item.target == "the boy in blue: <|seg|>."
    assert item.prompt.startswith("Who is throwing the ball?")
    ex = _example(source)
    np.testing.assert_allclose(ex.timestamps, [0.0, 0.5])
    assert ex.mask_targets[:, :3].all() and not ex.mask_targets[:, 3:].any()


def test_vicas_referral_tracks():
    source = build_source({"type": "vicas", "root": str(FIX / "vicas"), "split_file": "splits/train.json"})
    assert [it.prompt for it in source.items][1] == "Please segment the the man and his dog in this video."
    man, pair = _example(source, 0), _example(source, 1)
    assert man.mask_targets.sum(axis=(1, 2)).tolist() == [12, 0, 18]
    assert pair.mask_targets.sum(axis=(1, 2)).tolist() == [24, 12, 18]


def test_llava_instruct_first_exchange_image():
    source = build_source({"type": "llava_instruct", "root": str(FIX / "llava_instruct")})
    item = source[0]
    assert item.data_type == "text" and item.prompt == "What are the colors of the bus in the image?"
    assert item.target == "The bus in the image is white and red."
    ex = _example(source)
    assert ex.frames.shape == (1, 6, 8, 3) and ex.mask_targets is None and ex.timestamps.tolist() == [0.0]


def test_videogpt_plus_samples_random_frames_with_true_timestamps():
    source = build_source({"type": "videogpt_plus", "root": str(FIX / "videogpt_plus")})
    ex = _example(source, num_frames=4, seed=3)
    assert ex.frames.shape == (4, 32, 32, 3)
    assert np.all(np.diff(ex.timestamps) > 0) and ex.timestamps.max() <= 11 / 6
    # the fixture's frame k has brightness 20 k: the pixels match the timestamps
    np.testing.assert_allclose(ex.frames[:, 8, 8, 0], ex.timestamps * 6 * 20, atol=3)
    assert ex.target == "The screen brightens steadily."


def test_choose_frames_prefers_annotated_frames():
    rng = random.Random(0)
    assert choose_frames(5, 8, rng) == [0, 1, 2, 3, 4]
    assert set(choose_frames(100, 3, rng, preferred=[10, 20, 30, 40])) <= {10, 20, 30, 40}
    picks = choose_frames(100, 4, rng, preferred=[7, 9])
    assert {7, 9} <= set(picks) and len(picks) == 4 and picks == sorted(picks)


def test_unknown_source_type_and_bad_records_are_clear():
    with pytest.raises(ConfigError, match="unknown source type 'nope'"):
        build_source({"type": "nope"})
    with pytest.raises(ConfigError, match="bad arguments for source 'mevis'"):
        build_source({"type": "mevis", "rooot": "x"})
    with pytest.raises(DataError, match="file not found"):
        build_source({"type": "lvvis", "root": str(FIX / "missing")})
