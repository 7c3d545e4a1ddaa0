"""The one viewer builder for every registered benchmark: its synthetic data, prediction files written here
(right, wrong, unparsable, failed and missing entries), the benchmark's own scorer (or, for judged
benchmarks, the results JSON `evqa eval` writes), and the report's numbers, failure types and entries."""

import json
import math
from pathlib import Path

import pytest

from evqa.benchmarks.registry import get_benchmark, list_benchmarks
from evqa.benchmarks.run import results_json
from evqa.cli.main import main
from evqa.errors import ConfigError
from evqa.eval.viewer import render_report, write_benchmark_viewer
from evqa.eval.viewer.benchmark import BenchmarkRun, build_report

REGISTRY = [n for n in list_benchmarks() if not n.startswith("st_evidence")]
LETTERS = "ABCDE"


def _report_data(out: Path) -> dict:
    text = (out / "data" / "report.js").read_text()
    return json.loads(text[len("window.EVQA_REPORT = ") : -2])


def _table(report, title: str) -> dict:
    table = next(t for t in report.tables if t.title == title)
    return {(row["label"], c): row["values"][c] for row in table.rows for c in table.columns}


def generic_predictions(bench, records, shift: int = 0) -> dict:
    """One prediction record per entry, whatever the benchmark: every 4th failed, the next one missing,
    the others a reply that every scorer reads (letter 'A', open answer 'A', a score, a rationale)."""
    out = {}
    for k, r in enumerate(records):
        kind = (k + shift) % 4
        if kind == 1:
            continue  # missing from the file
        if kind == 0:
            out[str(r.entry_id)] = {
                "error": "timeout after 3 attempts",
                "raw_response": None,
                "parsed_response": None,
            }
            continue
        out[str(r.entry_id)] = {"parsed_response": {"answer": "A", "score": 1.0 + k % 5, "rationale": "because"},
                                "raw_response": f"Reasoning: because\nFinal Answer: A ({k})", "error": None,
                                "meta": {"model": f"model-{shift}", "fps": 1.0}}  # fmt: skip
    return out


def judged_results(bench, records, predictions, pred_file: Path) -> Path:
    """The results JSON `evqa eval --judge` would write, from verdicts made up here: yes / no alternating,
    the 3rd answered entry a judge error."""
    judgements, answered = {}, 0
    for r in records:
        rec = predictions.get(r.entry_id)
        if rec is None or rec.get("error"):
            judgements[r.entry_id] = {
                "status": "missing" if rec is None else "failed",
                "pred": "no",
                "score": 0,
            }
            continue
        answered += 1
        if answered == 3:
            judgements[r.entry_id] = {
                "status": "judge_error",
                "pred": None,
                "score": None,
                "raw_reply": "hmm",
            }
        else:
            yes = answered % 2 == 1
            judgements[r.entry_id] = {"status": "ok", "pred": "yes" if yes else "no", "score": 4 if yes else 1,
                                      "raw_reply": "{'pred': 'yes', 'score': 4}" if yes else "{'pred': 'no', 'score': 1}"}  # fmt: skip
    scores = bench.score(records, predictions, options={"judgements": judgements})
    out = pred_file.with_name(f"{pred_file.stem}{bench.results_suffix}.json")
    out.write_text(json.dumps(results_json(bench, scores, "evqa", str(pred_file))))
    return out


def _options(bench) -> dict:
    options = {o.dest: o.default for o in [*bench.options, *getattr(bench, "score_options", ())]}
    if "no_embedding" in options:
        options["no_embedding"] = True  # ReasonVQA: no sentence-transformers model here
    return options


@pytest.mark.parametrize("name", REGISTRY)
def test_every_registry_benchmark_gets_its_numbers_and_failure_types(name, tmp_path):
    bench = get_benchmark(name)
    files = bench.synthesize(tmp_path / "data")
    files = bench.locate(tmp_path / "data")
    records = bench.load(files)
    options = _options(bench)
    preds = []
    for k in range(2):
        predictions = generic_predictions(bench, records, shift=k)
        path = tmp_path / f"run{k}.json"
        path.write_text(json.dumps(predictions))
        if bench.needs_judge:
            judged_results(bench, records, predictions, path)
        preds.append(path)
    runs = [BenchmarkRun(str(p)) for p in preds]
    report = build_report(tmp_path / "view", bench, files, runs, options=options, progress=False)
    selected = getattr(bench, "selected", None)
    shown = selected(records, options) if selected else records
    assert [e.entry_id for e in report.entries] == [str(r.entry_id) for r in shown]
    metrics = _table(report, "Metrics")
    for k, (name_, path) in enumerate(zip("AB", preds, strict=True)):
        if bench.needs_judge:
            stored = json.loads(path.with_name(f"{path.stem}_eval.json").read_text())
            expected, counts = stored["metrics"], stored["counts"]
        else:
            scores, _ = bench.evaluate(files, path, options=options)
            expected, counts = scores.metrics, scores.counts
        for column in bench.columns:
            value = expected.get(column.key)
            if value is not None and math.isfinite(value):
                assert metrics[(name_, column.label)] == value, (name_, column.key)
        # the report's results JSON is the scorer's
        written = json.loads((tmp_path / "view" / "results" / f"run_{name_}.json").read_text())
        assert written["metrics"] == pytest.approx(expected, nan_ok=True)
        failures = report.failure_counts()[k]
        assert failures["failed_call"] == counts.get("failed", 0) + counts.get("missing", 0)
        assert failures["failed_call"] == sum(1 for i, _ in enumerate(records) if (i + k) % 4 in (0, 1)
                                              and (not selected or records[i] in shown))  # fmt: skip
        if bench.needs_judge:
            assert failures["judge_error"] == counts["judge_error"] == 1
        if "unparsable" in failures and "correct" in failures:
            assert failures["unparsable"] == counts.get("unparsable", 0)
    first = report.entries[0]
    assert first.category == str(getattr(shown[0], bench.breakdown_keys[0]))
    assert (
        first.runs[0].failure == "failed_call"
        and first.runs[0].detail == "call failed: timeout after 3 attempts"
    )
    assert (
        first.runs[1].failure == "failed_call"
        and first.runs[1].detail == "no prediction for this entry in the file"
    )
    index = render_report(report, tmp_path / "view")
    data = _report_data(index.parent)
    assert data["benchmark"] == name and data["failure_types"] == list(report.failure_types)
    assert len(data["index"]) == len(shown)


def tvqa_runs(root: Path):
    """TVQA's synthetic data under `root`/data and two prediction files: A right on even qids, B right on qids
    0-11; A's qid 1 unparsable, B's qid 3 failed and qid 5 missing; every record says which frames the model
    was fed. Returns (benchmark, files, records, [A path, B path])."""
    bench = get_benchmark("tvqa")
    bench.synthesize(root / "data")
    files = bench.locate(root / "data")
    records = bench.load(files)

    def record(r, letter, model):
        return {"video_id": r.vid_name, "parsed_response": {"answer": letter}, "raw_response": f"Answer: ({letter})",
                "error": None, "meta": {"model": model, "fps": 2.0, "frames": [0, 1, 3, 4]}}  # fmt: skip

    a, b = {}, {}
    for r in records:
        q, right = int(r.entry_id), LETTERS[r.answer_idx]
        wrong = LETTERS[(r.answer_idx + 1) % 5]
        a[r.entry_id] = record(r, right if q % 2 == 0 else wrong, "model-a")
        b[r.entry_id] = record(r, right if q < 12 else wrong, "model-b")
    a["1"] = {**a["1"], "parsed_response": {"answer": None}, "raw_response": "I cannot say"}
    b["3"] = {"error": "HTTP 503", "raw_response": None, "parsed_response": None}
    del b["5"]
    paths = []
    for name, preds in (("a", a), ("b", b)):
        (root / f"{name}.json").write_text(json.dumps(preds))
        paths.append(root / f"{name}.json")
    return bench, files, records, paths


@pytest.fixture
def tvqa(tmp_path):
    return tvqa_runs(tmp_path)


def test_tvqa_entries_answers_frames_and_ab(tvqa, tmp_path):
    bench, files, records, (pa, pb) = tvqa
    report = build_report(tmp_path / "view", bench, files, [BenchmarkRun(str(pa)), BenchmarkRun(str(pb))],
                          max_frames=3, thumb_width=16, progress=False)  # fmt: skip
    assert report.failure_types == ("correct", "wrong_answer", "unparsable", "failed_call")
    by_id = {e.entry_id: e for e in report.entries}
    e1, e3, e5, e12 = by_id["1"], by_id["3"], by_id["5"], by_id["12"]
    gt = LETTERS[records[1].answer_idx]
    assert (
        e1.gt_answer == f"{gt}. {records[1].options[records[1].answer_idx]}"
        and e1.gt_index == records[1].answer_idx
    )
    assert e1.options == list(records[1].options) and e1.question == records[1].question
    assert (e1.runs[0].failure, e1.runs[0].raw_reply) == ("unparsable", "I cannot say")
    assert e1.runs[1].failure == "correct" and e1.runs[1].letter == gt
    assert e3.runs[1].detail == "call failed: HTTP 503" and e5.runs[1].failure == "failed_call"
    wrong = LETTERS[(records[12].answer_idx + 1) % 5]
    assert e12.runs[1].failure == "wrong_answer" and e12.runs[1].detail.startswith(f"answered {wrong}. ")
    assert e12.category == records[12].show_name and e12.source is None
    # A/B: the entries whose failure types differ
    differ = [e.entry_id for e in report.entries if e.differs()]
    assert differ == [str(q) for q in range(24) if (q % 2 == 0) != (q < 12) or q in (1, 3, 5)]
    # frames: the fed frames 0, 1, 3, 4 (2 fps from TVQA's 3-fps folders) spread to 3 (first and last kept),
    # shown at their times on the 3-fps folder of 6 frames (2 s)
    assert [f.index for f in e1.frames] == [0, 3, 4] and [f.time for f in e1.frames] == [0.0, 1.0, 1.3333]
    assert (tmp_path / "view" / e1.frames[1].image).is_file() and e1.width == 16 and e1.duration == 2.0
    metrics = _table(report, "Metrics")
    # A: the 12 even qids (qid 1, unparsable, is odd); B: qids 0-11 but the failed 3 and the missing 5
    assert metrics[("A", "Acc")] == pytest.approx(50.0) and metrics[("B", "Acc")] == pytest.approx(
        100 * 10 / 24
    )
    shows = _table(report, "By show_name")
    assert shows[("Friends · A", "n")] == 6
    counts = _table(report, "Counts of the scorer")
    assert (counts[("A", "unparsable")], counts[("B", "failed")]) == (1, 2)


def test_cli_view_tvqa_matches_evqa_eval(tvqa, tmp_path, capsys):
    bench, files, records, (pa, pb) = tvqa
    data = str(tmp_path / "data")
    assert main(["eval", "--benchmark", "tvqa", "--data-dir", data, "--pred_file", str(pa)]) == 0
    evaluated = json.loads(pa.with_name("a_eval.json").read_text())
    out = tmp_path / "report"
    assert main(["view", "--benchmark", "tvqa", "--data-dir", data, "--pred_file", str(pa), "--pred_file", str(pb),
                 "--out", str(out), "--no_progress", "--limit", "10"]) == 0  # fmt: skip
    assert f"report written to {out / 'index.html'}" in capsys.readouterr().out
    shown = _report_data(out)
    assert [r["id"] for r in shown["index"]] == [str(q) for q in range(10)]
    metrics = next(t for t in shown["tables"] if t["title"] == "Metrics")
    assert metrics["rows"][0]["values"]["Acc"] == evaluated["metrics"]["accuracy"]  # all 24 entries' number
    assert metrics["digits"] == {"Acc": 2} and metrics["unit"] == "x100"
    assert json.loads((out / "results" / "run_A.json").read_text())["metrics"] == evaluated["metrics"]
    assert "the first 10 of 24 entries are listed" in shown["notes"][0]
    # the given results JSON is used as it is
    assert main(["view", "--benchmark", "tvqa", "--data-dir", data, "--pred_file", str(pa), "--results_file",
                 str(pa.with_name("a_eval.json")), "--out", str(tmp_path / "r2"), "--no_progress"]) == 0  # fmt: skip
    assert _report_data(tmp_path / "r2")["runs"][0]["notes"] == [f"scores from {pa.with_name('a_eval.json')}"]


def egotextvqa_run(root: Path):
    """EgoTextVQA's synthetic data under `root`/data and one prediction file `root`/ego.json.
    Returns (benchmark, files, records, predictions, prediction path)."""
    bench = get_benchmark("egotextvqa")
    bench.synthesize(root / "data")
    files = bench.locate(root / "data")
    records = bench.load(files)
    predictions = generic_predictions(bench, records, shift=2)
    pred = root / "ego.json"
    pred.write_text(json.dumps(predictions))
    return bench, files, records, predictions, pred


def test_judged_benchmark_needs_its_results_json(tmp_path, capsys):
    bench, files, records, predictions, pred = egotextvqa_run(tmp_path)
    assert main(["view", "--benchmark", "egotextvqa", "--data-dir", str(tmp_path / "data"), "--pred_file", str(pred),
                 "--out", str(tmp_path / "v"), "--no_progress"]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "scored by an LLM judge" in err and "ego_eval.json" in err and "--results_file" in err
    results = judged_results(bench, records, predictions, pred)
    index = write_benchmark_viewer(tmp_path / "v", "egotextvqa", files, [pred], progress=False)
    data = _report_data(index.parent)
    stored = json.loads(results.read_text())
    metrics = next(t for t in data["tables"] if t["title"] == "Metrics")
    assert metrics["rows"][0]["values"] == {
        "Acc": stored["metrics"]["accuracy"],
        "Score": stored["metrics"]["score"],
    }
    assert metrics["digits"] == {"Acc": 4, "Score": 4} and metrics["unit"] == "Acc: 0-1, Score: score"
    assert data["failure_types"] == ["correct", "wrong_answer", "unparsable", "failed_call", "judge_error"]
    chunk = (index.parent / "data" / "entries_000.js").read_text()
    entries = {e["entry_id"]: e for e in json.loads(chunk[len("evqaChunk(") : -3])["entries"]}
    first_ok = str(
        records[0].entry_id
    )  # shift 2: entry 0 answered (yes, 4), entry 1 too (no, 1), entry 2 judge error
    run = entries[first_ok]["runs"][0]
    assert run["failure"] == "correct" and run["judge"] == {
        "verdict": "yes",
        "score": 4.0,
        "raw": "{'pred': 'yes', 'score': 4}",
    }
    assert entries[str(records[1].entry_id)]["runs"][0]["failure"] == "wrong_answer"
    error = entries[str(records[4].entry_id)]["runs"][0]
    assert error["failure"] == "judge_error" and error["detail"].startswith("the judge gave no verdict")
    assert (
        entries[first_ok]["gt_answer"] == records[0].answer
        and entries[first_ok]["source"] == records[0].subset
    )


def test_user_errors(tvqa, tmp_path, capsys):
    bench, files, _, (pa, pb) = tvqa
    with pytest.raises(ConfigError, match="1 results file\\(s\\) for 2 prediction file\\(s\\)"):
        write_benchmark_viewer(tmp_path / "v", "tvqa", files, [pa, pb], results_files=[pa])
    data = str(tmp_path / "data")
    assert main(["view", "--benchmark", "tvqa", "--pred_file", str(pa), "--out", str(tmp_path / "v")]) == 2
    assert "give --data-dir or --qa-file" in capsys.readouterr().err
    other = tmp_path / "other_eval.json"
    other.write_text(json.dumps({"benchmark": "qbench_video", "metrics": {}, "per_item": {}}))
    assert main(["view", "--benchmark", "tvqa", "--data-dir", data, "--pred_file", str(pa), "--results_file", str(other),
                 "--out", str(tmp_path / "v")]) == 2  # fmt: skip
    assert "results of benchmark qbench_video, not tvqa" in capsys.readouterr().err
