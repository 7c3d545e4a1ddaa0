"""Temporal IoU/IoP (both protocols) and QA correctness, hand-computed."""

import pytest

from evqa.metrics.qa import accuracy, answer_text, qa_correct, qa_correct_upstream
from evqa.metrics.temporal import (
    merge_segments,
    summarize_temporal,
    temporal_iou_iop,
    temporal_iou_iop_upstream,
)


def test_merge_drops_clips_and_merges():
    assert merge_segments([[3, 5], [1, 2], [4, 6], [7, 7], [9, 8]]) == [(1.0, 2.0), (3.0, 6.0)]
    assert merge_segments([[-1, 2], [9, 12]], duration=10) == [(0.0, 2.0), (9.0, 10.0)]
    assert merge_segments([[1, 2], [2, 3]]) == [(1.0, 3.0)]


def test_evqa_iou_iop_hand_computed():
    # P = [0,4], G = [2,6]: I = 2, U = 6
    assert temporal_iou_iop([[0, 4]], [[2, 6]]) == pytest.approx((2 / 6, 2 / 4))
    # overlapping predictions are merged: P = [0,4] once
    assert temporal_iou_iop([[0, 4], [0, 4], [1, 3]], [[2, 6]]) == pytest.approx((2 / 6, 2 / 4))
    assert temporal_iou_iop([], [[2, 6]]) == (0.0, 0.0)
    assert temporal_iou_iop([[5, 1]], [[2, 6]]) == (0.0, 0.0)
    assert temporal_iou_iop([[1, 2]], []) is None
    assert temporal_iou_iop([[0, 20]], [[2, 6]], duration=8) == pytest.approx((4 / 8, 4 / 8))


def test_upstream_overlap_quirk_exceeds_one():
    # P = [0,4] twice, G = [0,4]: I = 8, |P| = 8, |G| = 4, U = 4 + 8 - 8 = 4 -> IoU = 2, IoP = 1
    assert temporal_iou_iop_upstream([[0, 4], [0, 4]], [[0, 4]]) == (2.0, 1.0)
    # three copies: I = 12, |P| = 12, U = 4 -> IoU 3
    assert temporal_iou_iop_upstream([[0, 4]] * 3, [[0, 4]])[0] == 3.0
    # G overlapping itself also double counts: G = [0,4],[2,6]; P = [2,4]: I = 4, |G| = 8, |P| = 2
    assert temporal_iou_iop_upstream([[2, 4]], [[0, 4], [2, 6]]) == (4 / (8 + 2 - 4), 2.0)
    # reversed segments contribute 0 length but no error
    assert temporal_iou_iop_upstream([[4, 0]], [[0, 4]]) == (0.0, 0.0)
    assert temporal_iou_iop_upstream([], [[0, 4]]) == (0.0, 0.0)


def test_summarize_temporal():
    out = summarize_temporal([1.0, 0.4, 0.0, 0.3], [1.0, 0.6, 0.2, 0.29])
    assert out["mIoU"] == pytest.approx(42.5)
    assert out["mIoP"] == pytest.approx(52.25)
    assert out["t_mean"] == pytest.approx((42.5 + 52.25) / 2)
    assert out["TIoU@0.3"] == 75.0 and out["TIoU@0.5"] == 25.0
    assert out["TIoP@0.3"] == 50.0 and out["TIoP@0.5"] == 50.0
    assert summarize_temporal([], [])["mIoU"] == 0.0


def test_qa_protocols():
    cands = ["A desk", "A pole", "a Pole!"]
    assert answer_text("B", cands) == "A pole" and answer_text("D", cands) is None
    assert qa_correct("B", "a pole", cands)
    assert qa_correct("C", "A pole", cands)  # normalised match
    assert not qa_correct(None, "A pole", cands)
    assert qa_correct_upstream("B", "A pole", cands)
    assert qa_correct_upstream(" B ", "A pole", cands)
    assert not qa_correct_upstream("b", "A pole", cands)  # lower case never maps upstream
    assert not qa_correct_upstream("C", "A pole", cands)  # exact compare
    assert qa_correct_upstream("A pole", "A pole", cands)  # raw text compare
    assert not qa_correct_upstream("D", "A pole", cands)
    assert qa_correct_upstream("D", "D", cands)  # out-of-range letter compared as text
    assert not qa_correct_upstream(None, "A pole", cands)
    assert accuracy([True, False, True, True]) == 75.0 and accuracy([]) == 0.0
