"""`evqa eval` / `evqa eval-mcq` in-process: outputs, and one clear line + exit 2 for files that cannot be scored."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from evqa.cli.main import main
from evqa.data.masks import write_mask_png, write_rle_json

SAMPLE = Path(__file__).resolve().parents[2] / "benchmark" / "st_evidence_gen" / "sample"
GT = str(SAMPLE / "st_evidence_gen.csv")


def _eval(argv, capsys):
    code = main(["eval", *argv, "--no_progress"])
    out, err = capsys.readouterr()
    return code, out, err


def test_eval_writes_results_and_table(tmp_path, capsys):
    out_file = tmp_path / "res.json"
    code, out, _ = _eval(["--gt_file", GT, "--pred_file", str(SAMPLE / "predictions.json"),
                          "--output_file", str(out_file), "--protocol", "upstream"], capsys)  # fmt: skip
    assert code == 0
    assert "Acc" in out and "J&F" in out and "TIoU@0.3" in out and "28.6" in out
    assert json.loads(out_file.read_text())["protocol"] == "upstream"


def test_eval_positional_and_default_output(tmp_path, capsys):
    pred = tmp_path / "preds.json"
    pred.write_text((SAMPLE / "predictions.json").read_text())
    code, out, _ = _eval([str(pred), "--gt_file", GT], capsys)
    assert code == 0 and (tmp_path / "preds_eval.json").is_file()
    assert "57.1" in out  # evqa accuracy of the sample


def _bad_cases(tmp_path):
    not_json = tmp_path / "bad.json"
    not_json.write_text("{not json")
    a_list = tmp_path / "list.json"
    a_list.write_text("[1, 2, 3]")
    other = tmp_path / "other.json"
    other.write_text('{"zz_1": {"parsed_response": {"answer": "A"}}}')
    no_col = tmp_path / "gt.csv"
    no_col.write_text("entry_id,answer,segment\ns1,A pole,[[0, 1]]\n")
    good = str(SAMPLE / "predictions.json")
    return [
        (["--gt_file", GT, "--pred_file", str(tmp_path / "missing.json")], "missing.json: file not found"),
        (["--gt_file", GT, "--pred_file", str(not_json)], "bad.json: not valid JSON"),
        (["--gt_file", GT, "--pred_file", str(a_list)], "list.json: top level must be an object"),
        (["--gt_file", GT, "--pred_file", str(other)], "other.json: no prediction matches an entry_id of"),
        (["--gt_file", str(no_col), "--pred_file", good], "gt.csv: field 'candidates': missing column"),
        (["--gt_file", str(tmp_path / "nope.csv"), "--pred_file", good], "nope.csv: file not found"),
        (["--gt_file", GT, "--pred_file", good, "--eval_masks", "--gt_mask_dir", str(tmp_path / "x")],
         "GT mask folder not found"),
    ]  # fmt: skip


def test_unscorable_files_give_one_line(tmp_path, capsys):
    for argv, message in _bad_cases(tmp_path):
        code, _, err = _eval([*argv, "--output_file", str(tmp_path / "o.json")], capsys)
        assert code == 2, argv
        assert err.strip().startswith("error: ") and message in err, err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_bad_entry_content_is_counted_not_fatal(tmp_path, capsys):
    gt_masks = tmp_path / "gt"
    write_mask_png(gt_masks / "e1" / "00000.png", np.ones((8, 8), bool))
    write_mask_png(gt_masks / "e2" / "00000.png", np.ones((8, 8), bool))
    pred_masks = tmp_path / "pm"
    write_rle_json(pred_masks / "e1.json", "e1", {0: np.ones((4, 4), bool)})  # wrong size
    write_rle_json(pred_masks / "e2.json", "e2", {0: np.ones((8, 8), bool)})
    with open(tmp_path / "gt.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["entry_id", "answer", "candidates", "segment"])
        w.writerow(["e1", "x", "['x', 'y']", "[[0, 2]]"])
        w.writerow(["e2", "y", "['x', 'y']", "[[0, 2]]"])
    preds = {"e1": {"parsed_response": {"answer": 1, "segments": [["a", "b"]]}, "error": None},
             "e2": {"parsed_response": {"answer": "B", "segments": [[0, 1]]}, "error": None}}  # fmt: skip
    (tmp_path / "p.json").write_text(json.dumps(preds))
    out_file = tmp_path / "r.json"
    code, out, _ = _eval(["--gt_file", str(tmp_path / "gt.csv"), "--pred_file", str(tmp_path / "p.json"),
                          "--eval_masks", "--gt_mask_dir", str(gt_masks), "--pred_mask_dir", str(pred_masks),
                          "--output_file", str(out_file), "--num_workers", "1"], capsys)  # fmt: skip
    assert code == 0 and "mask errors: 1 (e1)" in out
    res = json.loads(out_file.read_text())
    assert res["format_errors"]["entries"]["answer_type"] == ["e1"]
    assert res["format_errors"]["entries"]["malformed_segments"] == ["e1"]
    assert res["qa_metrics"]["correct"] == 1
    assert res["per_sample_scores"]["e1"]["temporal_iou"] == 0.0
    assert res["per_sample_scores"]["e2"]["temporal_iou"] == 0.5
    assert res["mask_metrics"]["J"] == 50.0 and "4, 4" in res["mask_metrics"]["mask_errors"]["e1"]


def test_eval_needs_a_prediction_file(capsys):
    code, _, err = _eval(["--gt_file", GT], capsys)
    assert code == 2 and "prediction file is required" in err


def test_bad_protocol_is_rejected_by_argparse(capsys):
    with pytest.raises(SystemExit):
        main(["eval", "--protocol", "paper"])
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["eval", "eval-mcq"])
def test_two_different_prediction_files_are_rejected(command, capsys):
    code = main([command, "a.json", "--pred_file", "b.json"])
    assert code == 2 and "give the prediction file once" in capsys.readouterr().err


@pytest.mark.parametrize("spelling", ["--no-progress", "--no_progress"])
def test_eval_accepts_both_spellings(tmp_path, capsys, spelling):
    out_file = tmp_path / "res.json"
    code = main(["eval", "--gt_file", GT, "--pred-file" if spelling == "--no-progress" else "--pred_file",
                 str(SAMPLE / "predictions.json"), "--output-file", str(out_file), spelling])  # fmt: skip
    capsys.readouterr()
    assert code == 0 and out_file.is_file()


@pytest.mark.parametrize("command", ["eval", "eval-mcq"])
def test_every_help_text_names_its_default(command, capsys):
    from evqa.cli import eval_gen, eval_mcq

    parser = (eval_gen if command == "eval" else eval_mcq).build_parser(command)
    for action in parser._actions:
        if action.option_strings and action.dest not in ("help", "pred_file"):
            assert action.help and "default" in action.help, action.option_strings


def test_eval_mcq_save_metrics_both_spellings(tmp_path, capsys):
    from evqa.cli import eval_mcq

    parser = eval_mcq.build_parser("eval-mcq")
    assert parser.parse_args(["--save_metrics", "m.json"]).save_metrics == "m.json"
    assert parser.parse_args(["--save-metrics", "m.json", "--no_progress"]).save_metrics == "m.json"
