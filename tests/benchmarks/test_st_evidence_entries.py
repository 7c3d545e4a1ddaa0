"""ST-Evidence on the registry: the evaluators' files are byte-for-byte those made before the move (golden
files written by the earlier code), old and new command lines agree, and every eval adds its summary."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest

from evqa.benchmarks import get_benchmark
from evqa.cli.main import run_command

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"
SAMPLE = "benchmark/st_evidence_gen/sample"
_STAMP = re.compile(rb'"timestamp": "[^"]*"')


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A copy of the bundled sample and the MCQ fixture at their relative paths, as the current directory."""
    shutil.copytree(REPO / SAMPLE, tmp_path / SAMPLE)
    shutil.copytree(GOLDEN / "mcq", tmp_path / "mcq")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def same_bytes(produced: Path, golden: Path) -> None:
    """Equal bytes except the run's own UTC timestamp."""
    assert _STAMP.sub(b"T", produced.read_bytes()) == _STAMP.sub(b"T", golden.read_bytes())


GEN_ARGS = ["--pred_file", f"{SAMPLE}/predictions.json", "--eval_masks", "--gt_mask_dir", f"{SAMPLE}/gt_masks",
            "--num_workers", "1", "--no_progress"]  # fmt: skip


@pytest.mark.parametrize("protocol", ["evqa", "upstream"])
def test_gen_eval_outputs_are_unchanged(workdir, protocol):
    old = ["--gt_file", f"{SAMPLE}/st_evidence_gen.csv", *GEN_ARGS, "--protocol", protocol]
    assert run_command("eval", [*old, "--output_file", "old.json"]) == 0
    same_bytes(workdir / "old.json", GOLDEN / f"gen_{protocol}.json")
    new = ["--benchmark", "st_evidence_gen", "--data-dir", SAMPLE, *GEN_ARGS, "--protocol", protocol]
    assert run_command("eval", [*new, "--output_file", "new.json"]) == 0
    same_bytes(workdir / "new.json", GOLDEN / f"gen_{protocol}.json")


MCQ_FILES = ["--data_file", "mcq/st_evidence_mcq.csv", "--distractors_file", "mcq/temp_options.json",
             "--mask_file", "mcq/mask_options.json"]  # fmt: skip


def test_mcq_eval_outputs_are_unchanged(workdir):
    assert run_command("eval-mcq", ["mcq/predictions.json", *MCQ_FILES, "-s", "old.json"]) == 0
    assert (workdir / "old.json").read_bytes() == (GOLDEN / "mcq_metrics.json").read_bytes()
    # eval-mcq writes the same summary as the registry's eval (CIs from its metrics file)
    old_summary = json.loads((workdir / "mcq/predictions.summary.json").read_text())
    assert old_summary["benchmark"] == "st_evidence_mcq" and old_summary["metrics"]["qa_accuracy"] == 50.0
    assert old_summary["ci"] == json.loads((workdir / "old.json").read_text())["ci"]
    assert set(old_summary["data_sha256"]) == {
        "st_evidence_mcq.csv",
        "temp_options.json",
        "mask_options.json",
    }
    new = ["--benchmark", "st_evidence_mcq", "--data-dir", "mcq", "--pred_file", "mcq/predictions.json"]
    assert run_command("eval", new) == 0
    # the default name is eval-mcq's: <pred stem>_metrics.json
    assert (workdir / "mcq/predictions_metrics.json").read_bytes() == (
        GOLDEN / "mcq_metrics.json"
    ).read_bytes()
    new_summary = json.loads((workdir / "mcq/predictions.summary.json").read_text())
    assert {k: v for k, v in new_summary.items() if k != "run"} == {
        k: v for k, v in old_summary.items() if k != "run"
    }


def test_gen_summary_describes_the_results(workdir):
    assert (
        run_command(
            "eval", ["--gt_file", f"{SAMPLE}/st_evidence_gen.csv", *GEN_ARGS, "--output_file", "r.json"]
        )
        == 0
    )
    results = json.loads((workdir / "r.json").read_text())
    summary = json.loads((workdir / SAMPLE / "predictions.summary.json").read_text())
    assert summary["benchmark"] == "st_evidence_gen" and summary["protocol"] == "evqa"
    assert (
        summary["metrics"]["accuracy"]
        == results["qa_metrics"]["accuracy"]
        == pytest.approx(100 * 4 / 7, abs=1e-4)
    )
    assert summary["metrics"]["mIoU"] == results["temporal_metrics"]["mIoU"]
    assert summary["metrics"]["J&F"] == results["mask_metrics"]["J&F"]
    # 7 GT entries: s3 failed, s6 missing (hand-checked in tests/eval/test_sample.py)
    assert summary["counts"] == {
        "n": 7,
        "scored": 5,
        "unparsable": 0,
        "failed": 1,
        "missing": 1,
        "judge_error": 0,
    }
    assert [c["key"] for c in summary["columns"]] == ["accuracy", "mIoU", "mIoP", "t_mean", "J", "F", "J&F"]
    assert summary["units"]["accuracy"] == "percent"
    assert set(summary["breakdowns"]) == {"source", "category"}
    assert summary["breakdowns"]["source"]["star"]["n"] == results["by_source"]["star"]["num_samples"]
    csv_sha = hashlib.sha256((workdir / SAMPLE / "st_evidence_gen.csv").read_bytes()).hexdigest()
    assert summary["data_sha256"] == {"st_evidence_gen.csv": csv_sha}


def test_mcq_summary_counts(workdir):
    assert (
        run_command("eval", ["--benchmark", "st_evidence_mcq", "--data-dir", "mcq", "mcq/predictions.json"])
        == 0
    )
    summary = json.loads((workdir / "mcq/predictions.summary.json").read_text())
    assert summary["metrics"]["overall_accuracy"] == pytest.approx(50.0)
    assert summary["metrics"]["qa_accuracy"] == pytest.approx(50.0)  # m1, m2 right of 4
    assert summary["counts"]["n"] == 4 and summary["counts"]["failed"] == 1  # m3
    assert summary["counts"]["missing"] == 1  # m4
    assert summary["breakdowns"]["task"]["time_evidence"]["n"] == 3


def test_data_dir_finds_the_synthetic_layout(tmp_path):
    from evqa.data.synth import generate

    generate(tmp_path / "s", seed=0, num_train=1, num_test=2, score=False, progress=False)
    gen = get_benchmark("st_evidence_gen").locate(tmp_path / "s")
    assert gen["gt_file"] == tmp_path / "s/benchmark/st_evidence_gen.csv"
    assert gen["video_dir"] == tmp_path / "s/benchmark/videos"
    assert gen["gt_mask_dir"] == tmp_path / "s/benchmark/masks_rle"
    mcq = get_benchmark("st_evidence_mcq").locate(tmp_path / "s")
    assert mcq["data_file"] == tmp_path / "s/benchmark/mcq/st_evidence_mcq.csv"
    assert mcq["mask_file"] == tmp_path / "s/benchmark/mcq/mask_options.json"
    assert len(get_benchmark("st_evidence_mcq").load(mcq)) == 2


def test_infer_with_data_dir_runs_the_st_evidence_path(tmp_path, api_env, monkeypatch):
    from evqa.data.synth import generate

    from .conftest import ScriptedJudgeOpenAI

    root = tmp_path / "s"
    generate(root, seed=0, num_train=1, num_test=2, score=False, progress=False)
    monkeypatch.chdir(tmp_path)
    with ScriptedJudgeOpenAI() as server:
        api_env(server)
        base = ["--model", "gpt-4o", "--no-progress"]
        assert (
            run_command(
                "infer",
                [*base, "--gt_file", str(root / "benchmark/st_evidence_gen.csv"), "--output", "a.json"],
            )
            == 0
        )
        new = [*base, "--benchmark", "st_evidence_gen", "--data-dir", str(root), "--output", "b.json"]
        assert run_command("infer", new) == 0
        mcq = [*base, "--benchmark", "st_evidence_mcq", "--data-dir", str(root), "--output", "m.json"]
        assert run_command("infer", mcq) == 0
    a, b = (json.loads((tmp_path / f).read_text()) for f in ("a.json", "b.json"))
    assert list(a) == list(b) and all(a[k]["parsed_response"] == b[k]["parsed_response"] for k in a)
    m = json.loads((tmp_path / "m.json").read_text())
    assert len(m) == 2 and {r["evidence_t"] for r in m.values()} == {"B"}  # the fake model's MCQ replies
    assert run_command("eval", ["--benchmark", "st_evidence_mcq", "--data-dir", str(root), "m.json"]) == 0
    entries = get_benchmark("st_evidence_mcq").load(get_benchmark("st_evidence_mcq").locate(root))
    expected = 100 * sum(e.time_answer == "B" for e in entries) / len(entries)
    summary = json.loads((tmp_path / "m.summary.json").read_text())
    assert summary["metrics"]["time_evidence_accuracy"] == pytest.approx(expected)
    run = summary["run"]  # the prediction JSONL's run header
    assert (run["adapter"], run["model"], run["task"]["name"]) == ("gpt", "gpt-4o", "mcq")
    assert set(run["data_sha256"]) == {"st_evidence_mcq.csv", "temp_options.json", "mask_options.json"}
