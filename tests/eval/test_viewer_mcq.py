"""The ST-Evidence MCQ view model on a three-entry synthetic MCQ benchmark and two hand-written runs."""

import json

import pytest

from evqa.cli.main import run_command
from evqa.data.st_evidence import load_mcq_benchmark
from evqa.eval.mcq import evaluate_mcq
from evqa.eval.viewer import write_st_evidence_mcq_viewer
from evqa.eval.viewer.st_evidence_mcq import McqData, build_report
from evqa.prompts import LETTERS


def _other(letter: str) -> str:
    return "B" if letter == "A" else "A"


@pytest.fixture(scope="module")
def mcq(tmp_path_factory):
    """(SynthPaths, entries, run A file, run B file) on a 3-clip synthetic benchmark."""
    from evqa.data.synth import generate
    from evqa.data.synth.paths import SynthPaths

    root = tmp_path_factory.mktemp("viewer_mcq")
    generate(root / "synth", num_train=0, num_test=3, score=False, progress=False)
    paths = SynthPaths(root / "synth")
    e0, e1, e2 = entries = load_mcq_benchmark(paths.mcq_csv, paths.temp_options, paths.mask_options)

    def answers(entry, qa, t, s):
        return {"answer": qa, "evidence_t": t, "evidence_s": s, "raw_response": {"qa": f"Answer: {qa}"},
                "error": None}  # fmt: skip

    run_a = {
        e0.entry_id: answers(e0, e0.answer, e0.time_answer, e0.mask_answer),  # all right
        e1.entry_id: answers(e1, e1.answer, _other(e1.time_answer), e1.mask_answer),  # qa right, time wrong
        e2.entry_id: {"answer": None, "error": "HTTP 429 after 5 retries"},  # failed
    }
    run_b = {
        e0.entry_id: answers(e0, "I cannot tell", e0.time_answer, _other(e0.mask_answer)),
        e2.entry_id: answers(e2, _other(e2.answer), e2.time_answer, e2.mask_answer),  # e1 missing
    }
    files = []
    for name, preds in (("mcq_a", run_a), ("mcq_b", run_b)):
        files.append(root / f"{name}.json")
        files[-1].write_text(json.dumps(preds))
    return paths, entries, files


def _report(mcq, out, **kw):
    paths, _, files = mcq
    data = McqData(str(paths.mcq_csv), str(paths.temp_options), str(paths.mask_options))
    return build_report(out, data, [str(f) for f in files], video_dir=paths.video_dir, progress=False, **kw)


def test_failure_types_per_task(mcq, tmp_path):
    _, (e0, e1, e2), _ = mcq
    report = _report(mcq, tmp_path / "r")
    got = {e.entry_id: [r.failure for r in e.runs] for e in report.entries}
    assert got == {
        f"{e0.entry_id}:qa": ["correct", "unparsable"],
        f"{e0.entry_id}:time_evidence": ["correct", "correct"],
        f"{e0.entry_id}:spatial_evidence": ["correct", "wrong_answer"],
        f"{e1.entry_id}:qa": ["right_answer_bad_evidence", "failed_call"],
        f"{e1.entry_id}:time_evidence": ["wrong_answer", "failed_call"],
        f"{e1.entry_id}:spatial_evidence": ["correct", "failed_call"],
        f"{e2.entry_id}:qa": ["failed_call", "wrong_answer"],
        f"{e2.entry_id}:time_evidence": ["failed_call", "correct"],
        f"{e2.entry_id}:spatial_evidence": ["failed_call", "correct"],
    }
    qa1 = report.entries[3].runs[0]
    assert qa1.detail == f"time evidence: {_other(e1.time_answer)} (GT {e1.time_answer})"
    assert report.entries[6].runs[0].detail == "call failed: HTTP 429 after 5 retries"
    assert report.entries[3].runs[1].detail == "no prediction for this entry in the file"
    assert report.entries[0].runs[0].raw_reply == json.dumps({"qa": f"Answer: {e0.answer}"}, indent=1)


def test_numbers_are_the_scorers(mcq, tmp_path):
    paths, _, files = mcq
    report = _report(mcq, tmp_path / "r")
    for k, pred in enumerate(files):
        expected = evaluate_mcq(pred, data_file=paths.mcq_csv, distractors_file=paths.temp_options,
                                mask_file=paths.mask_options)  # fmt: skip
        written = json.loads((tmp_path / "r" / report.runs[k].results_file).read_text())
        assert written == expected
        values = report.tables[0].rows[k]["values"]
        assert (
            values["overall"] == expected["overall_accuracy"]
            and values["time"] == expected["temporal"]["accuracy"]
        )
    a, b = (row["values"] for row in report.tables[0].rows)
    assert (
        a["qa"] == pytest.approx(200 / 3)
        and a["time"] == pytest.approx(100 / 3)
        and a["overall"] == pytest.approx(500 / 9)
    )
    assert (
        b["qa"] == 0.0
        and b["qa coverage"] == pytest.approx(100 / 3)
        and b["overall"] == pytest.approx(300 / 9)
    )


def test_time_options_on_the_timeline_and_option_images(mcq, tmp_path):
    _, (e0, e1, _), _ = mcq
    report = _report(mcq, tmp_path / "r")
    time1 = report.entries[4]
    assert time1.entry_id == f"{e1.entry_id}:time_evidence" and time1.duration > 0
    assert time1.gt_segments == e1.time_options[LETTERS.index(e1.time_answer)]
    assert time1.runs[0].segments == e1.time_options[LETTERS.index(_other(e1.time_answer))]
    t = time1.timeline()
    assert t["known"] and t["gt"][0]["left"] == round(
        100 * e1.time_options[LETTERS.index(e1.time_answer)][0][0] / t["length"], 4
    )
    spatial0 = report.entries[2]
    assert [f.label for f in spatial0.frames] == [
        f"option {c}" + (" (GT)" if c == e0.mask_answer else "") for c in "ABCD"
    ]
    assert all(f.time is None and (tmp_path / "r" / f.image).is_file() for f in spatial0.frames)
    assert (
        spatial0.runs[1].answer
        == f"{_other(e0.mask_answer)}. {spatial0.options[LETTERS.index(_other(e0.mask_answer))]}"
    )


def test_limit_lists_fewer_but_scores_all(mcq, tmp_path):
    report = _report(mcq, tmp_path / "r", limit=1)
    assert len(report.entries) == 3 and "numbers are of the whole file" in report.notes[0]
    assert report.tables[0].rows[0]["values"]["overall"] == pytest.approx(500 / 9)


def test_cli_and_library_function(mcq, tmp_path, capsys):
    paths, _, files = mcq
    out = tmp_path / "cli"
    argv = ["--benchmark", "st_evidence_mcq", "--pred_file", str(files[0]), "--data-dir", str(paths.benchmark_dir),
            "--video_dir", str(paths.video_dir), "--out", str(out), "--no_progress"]  # fmt: skip
    assert run_command("view", argv) == 0
    assert f"mask options: {paths.mask_options}" in capsys.readouterr().out
    text = (out / "data" / "report.js").read_text()
    data = json.loads(text[len("window.EVQA_REPORT = ") : -2])
    assert data["benchmark"] == "st_evidence_mcq" and len(data["index"]) == 9
    assert data["failure_counts"][0] == {"correct": 4, "wrong_answer": 1, "right_answer_bad_evidence": 1,
                                         "unparsable": 0, "failed_call": 3}  # fmt: skip
    index = write_st_evidence_mcq_viewer(tmp_path / "lib", paths.mcq_csv, files, distractors_file=paths.temp_options,
                                         mask_file=paths.mask_options, progress=False)  # fmt: skip
    assert index.is_file() and (index.parent / "results" / "run_B.json").is_file()
