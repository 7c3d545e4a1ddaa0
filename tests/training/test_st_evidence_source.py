"""ST-Evidence-Instruct sources: gen_mask (polygon / RLE masks, box-only entries skipped) and gen_qa."""

import random
from pathlib import Path

import numpy as np

from evqa.training.sources import build_source, load_example

ST = Path(__file__).parents[1] / "fixtures" / "training" / "st_evidence"


def _gen_mask():
    g = ST / "gen_mask"
    return build_source({"type": "st_evidence_mask", "csv": str(g / "st_evidence.csv"), "video_dir": str(g),
                         "mask_dir": str(g / "masks"), "frames_dir": str(g / "video_frames_6fps")})  # fmt: skip


def test_gen_mask_targets_and_box_only_entries_skipped():
    source = _gen_mask()
    assert [it.sample_id for it in source.items] == ["E1_1", "E2_1"] and source.skipped == 1
    e2 = source[1]
    assert e2.data_type == "mask"
    assert e2.target == "Answer: B. Temporal Evidence: [[0.0, 0.5], [1.0, 1.5]]. Spatial Evidence: <|seg|>."
    assert e2.prompt.startswith("Where is the backpack?\nA. On the floor\nB. On the bed\n")


def test_gen_mask_frames_span_the_video_and_only_annotated_frames_have_targets():
    item = _gen_mask()[0]  # polygon masks (5x5 squares) on frames 3 and 6 only
    picked = set()
    for seed in range(12):
        ex = load_example(item, 2, random.Random(seed))
        frames = np.round(ex.timestamps * 6).astype(int).tolist()
        picked |= set(frames)
        assert ex.frames.shape == (2, 6, 8, 3)
        assert ex.mask_valid.tolist() == [f in (3, 6) for f in frames]
        assert ex.mask_targets.sum(axis=(1, 2)).tolist() == [25 if f in (3, 6) else 0 for f in frames]
    # frames outside the evidence are drawn too: the sampled times must not give the temporal evidence away
    assert picked - {3, 6} and picked & {3, 6}


def test_gen_mask_rle_objects_are_unioned_and_unannotated_frames_invalid():
    ex = load_example(_gen_mask()[1], 3, random.Random(0))
    frames = np.round(ex.timestamps * 6).astype(int).tolist()
    assert 0 in frames and 8 in frames
    sums = dict(zip(frames, ex.mask_targets.sum(axis=(1, 2)).tolist(), strict=True))
    valid = dict(zip(frames, ex.mask_valid.tolist(), strict=True))
    assert sums[0] == 12 and sums[8] == 24  # the bed joins the backpack on frame 8
    assert [f for f in frames if not valid[f]] == [f for f in frames if f not in (0, 8)]


def test_gen_qa_text_target_without_seg_token():
    q = ST / "gen_qa"
    source = build_source({"type": "st_evidence_qa", "csv": str(q / "st_evidence_vicas.csv"),
                           "video_dir": str(q / "videos")})  # fmt: skip
    item = source[0]
    assert item.data_type == "text" and item.target == "Answer: D. Temporal Evidence: [[0.0, 1.5]]."
    # the prompt asks for what the target holds: no segmentation request without a <|seg|> target
    assert item.prompt.endswith("the time segments (in seconds) that support the answer.")
    assert "segment the evidence" in _gen_mask()[0].prompt
    ex = load_example(item, 8, random.Random(1))
    assert ex.frames.shape[0] == 8 and ex.mask_targets is None
    assert np.all(np.diff(ex.timestamps) > 0) and ex.timestamps.max() <= 11 / 6 + 1e-9
