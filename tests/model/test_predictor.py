"""Acceptance 4: predict() -> a letter or unparsable, segments in seconds, a mask for every frame at the
original size; masks follow the `<|seg|>` hidden state."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from evqa.errors import InputError
from evqa.model import EvqaPredictor
from evqa.prompts import LETTERS
from tests.model.conftest import CANDIDATES, QUESTION, synthetic_clip


@pytest.fixture(scope="module")
def clip():
    """A 24-frame, 6-fps clip (4 s) of 90x120 pixels."""
    frames, _, masks = synthetic_clip(num_frames=24, size=(90, 120), start=3, fps=6.0)
    return frames, masks


def test_predict_returns_letter_segments_and_all_masks(tiny, clip):
    model, processor = tiny
    frames, _ = clip
    predictor = EvqaPredictor(model, processor, fps=1.0, max_new_tokens=12, progress=False)
    pred = predictor.predict(frames, QUESTION, CANDIDATES, video_fps=6.0)
    assert pred.letter is None or pred.letter in LETTERS[: len(CANDIDATES)]
    assert pred.meta["answer_status"] in ("ok", "unparsable", "empty")
    assert all(isinstance(s, float) and isinstance(e, float) for s, e in pred.segments)
    assert pred.masks.shape == (24, 90, 120) and pred.masks.dtype == bool
    assert pred.frame_indices.tolist() == [0, 6, 12, 18]
    assert pred.meta["timestamps"] == [0.0, 1.0, 2.0, 3.0]


def test_assemble_parses_text_and_prompts_segment_start(tiny, clip):
    model, processor = tiny
    frames, _ = clip
    predictor = EvqaPredictor(model, processor, progress=False)
    text = "Answer: B. Temporal Evidence: [[1.5, 3.0]]. Spatial Evidence: <|seg|>."
    hidden = torch.randn(model.config.text_config.hidden_size, generator=torch.Generator().manual_seed(1))
    pred = predictor.assemble(frames, np.array([0, 6, 12, 18]), text, CANDIDATES, hidden, video_fps=6.0)
    assert pred.letter == "B" and pred.segments == [(1.5, 3.0)]
    assert pred.meta["prompt_frame"] == 9  # 1.5 s at 6 fps
    assert pred.masks.shape == (24, 90, 120)
    expected = predictor.segment_video(frames, hidden, 9, video_fps=6.0)
    assert np.array_equal(pred.masks, expected)


def test_masks_change_with_the_seg_hidden_state(tiny, clip):
    model, processor = tiny
    frames, _ = clip
    predictor = EvqaPredictor(model, processor, progress=False, chunk_frames=5)
    gen = torch.Generator().manual_seed(0)
    h1 = torch.randn(model.config.text_config.hidden_size, generator=gen)
    h2 = torch.randn(model.config.text_config.hidden_size, generator=gen)
    m1 = predictor.segment_video(frames, h1, 2, video_fps=6.0)
    m1_again = predictor.segment_video(frames, h1, 2, video_fps=6.0)
    m2 = predictor.segment_video(frames, h2 * 4, 2, video_fps=6.0)
    assert np.array_equal(m1, m1_again)
    assert (m1 != m2).mean() > 0.001


def test_predict_batch_handles_videos_of_different_sizes(tiny):
    model, processor = tiny
    a, _, _ = synthetic_clip(num_frames=12, size=(64, 80), fps=6.0)
    b, _, _ = synthetic_clip(num_frames=18, size=(96, 128), fps=6.0)
    predictor = EvqaPredictor(model, processor, max_new_tokens=4, progress=False)
    preds = predictor.predict_batch(
        [(a, QUESTION, CANDIDATES), (b, "What is red?", CANDIDATES)], video_fps=6.0
    )
    assert [p.masks.shape for p in preds] == [(12, 64, 80), (18, 96, 128)]
    assert [p.frame_indices.tolist() for p in preds] == [[0, 6], [0, 6, 12]]


def test_bad_inputs_are_typed_errors(tiny, clip):
    model, processor = tiny
    frames, _ = clip
    predictor = EvqaPredictor(model, processor, progress=False)
    with pytest.raises(InputError, match="video_fps"):
        predictor.predict(frames, QUESTION, CANDIDATES)
    with pytest.raises(InputError, match="uint8"):
        predictor.predict(frames.astype(np.float32), QUESTION, CANDIDATES, video_fps=6.0)
    with pytest.raises(InputError, match="prompt frame 30 outside 0..23"):
        predictor.segment_video(frames, torch.zeros(model.config.text_config.hidden_size), 30, video_fps=6.0)


def test_frames_scored_absent_get_empty_masks(fresh_tiny, clip):
    model, processor = fresh_tiny
    frames, _ = clip
    predictor = EvqaPredictor(model.eval(), processor, progress=False)
    hidden = torch.randn(model.config.text_config.hidden_size, generator=torch.Generator().manual_seed(3))
    head = model.sam2.mask_decoder.pred_obj_score_head.proj_out
    with torch.no_grad():
        head.weight.zero_()
        head.bias.fill_(50.0)  # every frame scored "present": the decoder's masks pass through
        shown = predictor.segment_video(frames, hidden, 0, video_fps=6.0)
        head.bias.fill_(-50.0)  # every frame scored "absent"
        hidden_masks = predictor.segment_video(frames, hidden, 0, video_fps=6.0)
    assert shown.any(axis=(1, 2)).all()
    assert not hidden_masks.any()
