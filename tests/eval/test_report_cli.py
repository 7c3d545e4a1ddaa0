"""`evqa report`: golden tables from fixed JSONs (md, LaTeX, CSV; bold maxima; delta; per-category)."""

import csv
import io
import json
from pathlib import Path

import pytest

from evqa.cli.main import main
from evqa.cli.report import build_report, run_name

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "report"
GEN = [str(FIX / "base_eval.json"), str(FIX / "sft_eval.json")]
SUMMARIES = [str(FIX / "gpt.summary.json"), str(FIX / "qwen.summary.json")]


@pytest.mark.parametrize("fmt", ["md", "latex", "csv"])
def test_golden_tables(fmt):
    assert build_report(GEN, fmt) == (FIX / f"expected_gen.{fmt}").read_text()


def test_bold_marks_the_best_of_each_column():
    lines = build_report(GEN, "md").splitlines()
    base, sft = lines[2], lines[3]
    # Acc 40 vs 60: sft; mIoU 30.25 vs 28: base; J 50.0 vs 50.04 are equal at one decimal: both bold
    assert "**60.0**" in sft and "**60.0**" not in base and "40.0" in base
    assert "**30.2**" in base and "**28.0**" not in sft
    assert base.count("**50.0**") == 1 and sft.count("**50.0**") == 1
    latex = build_report(GEN, "latex")
    assert r"\textbf{60.0}" in latex and r"max\_frames" in latex and r"J\&F" in latex
    rows = list(csv.reader(io.StringIO(build_report(GEN, "csv"))))
    assert rows[0][:3] == ["Run", "Acc", "EB-Acc"] and rows[2][1] == "60.0" and "*" not in "".join(rows[2])


def test_delta_and_per_category_golden():
    text = build_report(GEN, "md", delta="base_eval", by="category")
    assert text == (FIX / "expected_delta_by_category.md").read_text()
    assert " **+20.0** |" in text  # 60 - 40
    assert "-7.0" in text  # object mIoU 30 - 37
    latex = build_report(GEN, "latex", by="category")
    assert latex == (FIX / "expected_by_category.latex").read_text()
    assert r"\multicolumn{3}{l}{\textit{action}}" in latex


def test_summaries_of_any_benchmark_with_ci_and_cost():
    text = build_report(SUMMARIES, "md", ci=True)
    assert text == (FIX / "expected_summary_ci.md").read_text()
    assert "41.20 [31.50, 50.75]" in text and " **43.50** |" in text  # the second summary has no CI
    assert "Frames" in text and "**8**" not in text  # cost columns are never ranked


def test_run_names():
    assert run_name({"model": "m", "checkpoint": "c", "sampling": {"fps": 2}}, "x.json") == "m / c / fps=2"
    assert run_name({}, "out/run_eval.json") == "run" and run_name(None, "a.summary.json") == "a"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--delta", "nope"], "--delta 'nope' is none of the runs"),
        (["--columns", "Acc,zzz"], "unknown column(s) zzz"),
        (["--ci", "--delta", "base_eval"], "--ci and --delta do not combine"),
        (["--by", "source"], "no source breakdown"),
    ],
)
def test_user_errors(argv, message, capsys):
    assert main(["report", *GEN, *argv]) == 2
    assert message in capsys.readouterr().err


def test_mixed_benchmarks_and_missing_files(capsys, tmp_path):
    assert main(["report", GEN[0], SUMMARIES[0]]) == 2
    assert "different benchmarks" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "none.json")]) == 2
    assert "file not found" in capsys.readouterr().err


def test_cli_prints_and_writes(tmp_path, capsys):
    out = tmp_path / "t.tex"
    assert main(["report", *GEN, "--format", "latex", "--output", str(out)]) == 0
    assert capsys.readouterr().out == out.read_text() == (FIX / "expected_gen.latex").read_text()


def test_mcq_results_from_eval_mcq(tmp_path, capsys):
    # an MCQ metrics JSON of `evqa eval-mcq` (with its added keys) reads as a report row
    (tmp_path / "mcq.csv").write_text(
        "entry_id,video,question,options,answer\n"
        "m1,v1.mp4,q1,\"['a', 'b', 'c', 'd', 'e']\",B\nm2,v2.mp4,q2,\"['a', 'b', 'c', 'd', 'e']\",A\n"
    )
    temp = {m: {"time_evidence_options": [[[0, 1]], [[1, 2]], [[2, 3]], [[3, 4]]], "correct_answer": "A"}
            for m in ("m1", "m2")}  # fmt: skip
    (tmp_path / "temp.json").write_text(json.dumps(temp))
    pred = tmp_path / "mcq_pred.json"
    pred.write_text(
        json.dumps({"m1": {"answer": "B", "evidence_t": "A"}, "m2": {"answer": "C", "evidence_t": "A"}})
    )
    out = tmp_path / "mcq_metrics.json"
    argv = ["eval-mcq", str(pred), "--data_file", str(tmp_path / "mcq.csv"), "--distractors_file",
            str(tmp_path / "temp.json"), "--save-metrics", str(out)]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()
    text = build_report([str(out)], "csv", ci=True)
    header, row = list(csv.reader(io.StringIO(text)))
    assert header[:4] == ["Run", "QA", "QA low", "QA high"] and "EB-Acc" in header
    assert row[0] == "mcq" and row[1] == "50.0" and row[header.index("Time")] == "100.0"
    assert row[header.index("EB-Acc")] == "50.0"  # m1: qa and time right; m2: qa wrong
