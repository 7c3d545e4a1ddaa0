"""The A/B fixture of the viewer tests: the bundled sample's predictions (run A) and a second file (run B).

Run B is written so that every failure type occurs (expected types per entry below), with predicted masks
for three entries. The tests here pin what the scorer says about it, so the viewer tests can rely on it.
"""

import json
import shutil
from pathlib import Path

import pytest

from evqa.eval.st_evidence import evaluate_gen

SAMPLE = Path(__file__).resolve().parents[2] / "benchmark" / "st_evidence_gen" / "sample"
GT_CSV = SAMPLE / "st_evidence_gen.csv"
GT_MASKS = SAMPLE / "gt_masks"
PRED_A = SAMPLE / "predictions.json"


def _record(answer, segments, raw):
    return {"parsed_response": {"answer": answer, "segments": segments}, "raw_response": raw, "error": None,
            "meta": {"model": "model-b", "fps": 1.0, "frames": [0, 6, 12]}}  # fmt: skip


PRED_B = {
    "s1": _record("B", [[10.0, 12.0]], "B, at [[10, 12]]"),  # right answer, IoP 0 -> bad evidence
    "s2": _record("I cannot tell", [[0.0, 4.0]], "I cannot tell <b>which</b>"),  # unparsable
    "s3": {"parsed_response": None, "raw_response": None, "error": "HTTP 500 after 3 retries"},  # failed
    "s4": _record("C", [[1.0, 3.0], [5.0, 6.0]], "C"),  # correct (no GT masks)
    "s5": _record("B", [[3.0, 7.0]], "B"),  # wrong
    "s6": _record("C", [[0.5, 2.5]], "C"),  # correct, its GT mask copied as the prediction
    # s7 missing -> failed call
}
# run B's predicted masks: (entry, frame) copied from the GT
B_MASKS = (("s1", 0), ("s6", 3))

EXPECTED_A = {"s1": "correct", "s2": "correct", "s3": "failed_call", "s4": "correct", "s5": "wrong_answer",
              "s6": "failed_call", "s7": "correct"}  # fmt: skip
EXPECTED_B = {"s1": "right_answer_bad_evidence", "s2": "unparsable", "s3": "failed_call", "s4": "correct",
              "s5": "wrong_answer", "s6": "correct", "s7": "failed_call"}  # fmt: skip
DIFFER = ["s1", "s2", "s6", "s7"]  # entries whose failure types differ, in benchmark order


def write_run_b(root: Path) -> Path:
    """Write run B's prediction file and its masks (upstream default folder `<stem>/concat`) under root."""
    root.mkdir(parents=True, exist_ok=True)
    pred = root / "run_b.json"
    pred.write_text(json.dumps(PRED_B, indent=1))
    for entry, frame in B_MASKS:
        target = root / "run_b" / "concat" / entry / "masks" / f"{frame:05d}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(GT_MASKS / entry / f"{frame:05d}.png", target)
    return pred


def test_run_b_scores_as_intended(tmp_path):
    pred = write_run_b(tmp_path)
    res = evaluate_gen(GT_CSV, pred, eval_masks=True, gt_mask_dir=GT_MASKS, progress=False)
    per = res["per_sample_scores"]
    assert res["qa_metrics"] == {"accuracy": round(100 * 3 / 7, 4), "correct": 3, "total": 7}  # s1 s4 s6
    assert [per[i]["prediction_status"] for i in sorted(per)] == [
        "ok",
        "ok",
        "failed",
        "ok",
        "ok",
        "ok",
        "missing",
    ]
    assert per["s2"]["answer_status"] == "unparsable"
    assert per["s1"]["temporal_iop"] == 0.0 and per["s6"]["temporal_iop"] == 1.0
    # s1: the GT frames are 0, 6, 12 and only frame 0 is predicted (a copy of the GT) -> J = 1/3
    assert per["s1"]["spatial_j"] == pytest.approx(1 / 3) and per["s6"]["spatial_j"] == 1.0
