"""MCQ scoring: ground truth from the data files only; letters parsed by extract_answer; CLI flag forms."""

import csv
import json

import pytest

from evqa.cli.main import main
from evqa.errors import DataError
from evqa.eval.mcq import evaluate_mcq


@pytest.fixture
def mcq_files(tmp_path):
    with open(tmp_path / "mcq.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["entry_id", "video", "question", "options", "answer"])
        w.writerow(["m1", "v1.mp4", "q1", "['a', 'b', 'c', 'd', 'e']", "B"])
        w.writerow(["m2", "v2.mp4", "q2", "['a', 'b', 'c', 'd', 'e']", "e"])  # answer given as option text
        w.writerow(["m3", "v3.mp4", "q3", "['a', 'b', 'c', 'd', 'e']", "A"])
    temp = {
        "m1": {"time_evidence_options": [[[0, 1]], [[1, 2]], [[2, 3]], [[3, 4]]], "correct_answer": "C"},
        "m2": {"time_evidence_options": [[0, 1], [1, 2], [2, 3], [3, 4]], "correct_answer": "A"},
    }
    masks = {"m1": {"options": ["o1.png", "o2.png", "o3.png", "o4.png"], "answer": 3},
             "m3": {"mcq_options": ["o1.png", "o2.png", "o3.png", "o4.png"], "correct_answer": "B"}}  # fmt: skip
    (tmp_path / "temp.json").write_text(json.dumps(temp))
    (tmp_path / "masks.json").write_text(json.dumps(masks))
    return {"data_file": tmp_path / "mcq.csv", "distractors_file": tmp_path / "temp.json",
            "mask_file": tmp_path / "masks.json"}  # fmt: skip


PREDS = {
    "m1": {"answer": "B", "evidence_t": "(C)", "evidence_s": "Answer: D", "gt_answer": "A"},
    "m2": {"answer": "E", "evidence_t": "B or C", "evidence_s": "A", "error": None},
    "m3": {"answer": "A", "evidence_t": "A", "evidence_s": "B", "error": "quota exceeded"},
}


def test_scores_against_data_files(mcq_files):
    res = evaluate_mcq(PREDS, **mcq_files)
    assert res["qa"] == {**res["qa"], "correct": 2, "total": 3, "valid": 2}  # m3 failed (error set)
    assert res["temporal"]["correct"] == 1 and res["temporal"]["total"] == 2  # m3 has no temporal GT
    assert res["temporal"]["unparsable"] == ["m2"] and res["temporal"]["coverage"] == 50.0
    assert res["spatial"]["correct"] == 1 and res["spatial"]["total"] == 2  # index 3 -> D
    assert res["overall_accuracy"] == pytest.approx(100 * 4 / 7)


def test_malformed_gt_names_the_entry(mcq_files, tmp_path):
    (tmp_path / "temp.json").write_text(json.dumps({"m1": {"time_evidence_options": [[0, 1]] * 4}}))
    with pytest.raises(DataError, match="entry m1: field 'correct_answer'"):
        evaluate_mcq(PREDS, **mcq_files)


def test_bad_csv_answer_names_the_entry(mcq_files, tmp_path):
    text = (tmp_path / "mcq.csv").read_text().replace(",A\n", ",Z\n")
    (tmp_path / "mcq.csv").write_text(text)
    with pytest.raises(DataError, match="entry m3: field 'answer'"):
        evaluate_mcq(PREDS, **mcq_files)


@pytest.mark.parametrize("form", ["positional", "flag"])
def test_cli_accepts_both_forms(mcq_files, tmp_path, capsys, form):
    pred = tmp_path / "preds.json"
    pred.write_text(json.dumps(PREDS))
    args = [str(pred)] if form == "positional" else ["--pred_file", str(pred)]
    files = ["--data_file", str(mcq_files["data_file"]), "--distractors_file", str(mcq_files["distractors_file"]),
             "--mask_file", str(mcq_files["mask_file"]), "--save-metrics", str(tmp_path / "m.json")]  # fmt: skip
    assert main(["eval-mcq", *args, *files]) == 0
    assert "overall" in capsys.readouterr().out
    assert json.loads((tmp_path / "m.json").read_text())["qa"]["correct"] == 2


def test_cli_unrelated_prediction_file(mcq_files, tmp_path, capsys):
    pred = tmp_path / "other.json"
    pred.write_text(json.dumps({"zz": {"answer": "A"}}))
    assert main(["eval-mcq", str(pred), "--data_file", str(mcq_files["data_file"])]) == 2
    assert "no prediction matches" in capsys.readouterr().err


def test_results_extras_evidence_backed_and_ci(mcq_files):
    from evqa.eval.results_extras import add_mcq_extras

    res = evaluate_mcq(PREDS, **{k: str(v) for k, v in mcq_files.items()})
    assert res["qa"]["correct_entries"] == ["m1", "m2"] and res["temporal"]["correct_entries"] == ["m1"]
    add_mcq_extras(res, mcq_files["data_file"], mcq_files["distractors_file"], mcq_files["mask_file"], PREDS)
    # m1: qa, time and spatial right; m2: qa right, time unparsable; m3: failed -> 1 of 3
    assert res["evidence_backed"]["correct"] == 1 and res["evidence_backed"]["total"] == 3
    assert res["evidence_backed"]["accuracy"] == pytest.approx(100 / 3, abs=1e-4)
    assert res["overall_accuracy"] == pytest.approx(100 * 4 / 7)  # the scorer's own number is unchanged
    for key in ("qa", "time_evidence", "spatial_evidence", "overall", "evidence_backed"):
        lo, hi = res["ci"][key]
        assert 0.0 <= lo <= hi <= 100.0
    assert res["units"]["overall_accuracy"] == "percent"
