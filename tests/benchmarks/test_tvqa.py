"""TVQA entry: synth -> gpt-4o against the local fake OpenAI server -> eval (accuracy by hand); loader
errors; subtitles in the prompt; the stratified subset read back as the QA file."""

import json

import numpy as np
import pytest

from evqa.baselines.calling import ModelCaller
from evqa.baselines.frames import Sampling
from evqa.baselines.registry import build_model, get_model_class
from evqa.baselines.runner import run_items
from evqa.benchmarks.registry import get_benchmark
from evqa.errors import DataError
from tests.baselines import fake_api


def test_synth_load_and_errors(tmp_path):
    bench = get_benchmark("tvqa")
    bench.synthesize(tmp_path)
    records = bench.load(bench.locate(tmp_path))
    assert len(records) == 24 and all(len(r.options) == 5 for r in records)
    assert {r.show_name for r in records} == {"The Big Bang Theory", "Friends", "House M.D.", "Castle"}
    qa = tmp_path / "tvqa_qa_release" / "tvqa_val.jsonl"
    row = json.loads(qa.read_text().splitlines()[0])
    qa.write_text(json.dumps({**row, "answer_idx": 7}) + "\n")
    with pytest.raises(DataError, match="row 1.*answer_idx"):
        bench.load(bench.locate(tmp_path))
    qa.write_text(json.dumps({k: v for k, v in row.items() if k != "a3"}) + "\n")
    with pytest.raises(DataError, match="a3"):
        bench.load(bench.locate(tmp_path))


def test_synth_infer_gpt_eval_by_hand(tmp_path, monkeypatch):
    bench = get_benchmark("tvqa")
    bench.synthesize(tmp_path / "data")
    files = bench.locate(tmp_path / "data")
    records = bench.load(files)
    letters = "ABCDE"
    truth = {r.entry_id: letters[r.answer_idx] for r in records}
    # Scripted replies: the correct letter for even qids, a wrong one for odd qids, and for qid 1 a reply
    # with no letter (unparsable).
    answers = {}
    for r in records:
        q = int(r.entry_id)
        answers[r.entry_id] = truth[r.entry_id] if q % 2 == 0 else letters[(r.answer_idx + 1) % 5]
    answers["1"] = None

    def scripted(prompt):
        qid = prompt.split("[qid:", 1)[-1].split("]", 1)[0] if "[qid:" in prompt else None
        return "no letter here" if qid is None or answers.get(qid) is None else f"Answer: ({answers[qid]})"

    monkeypatch.setattr(fake_api, "reply_for", scripted)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with fake_api.FakeOpenAI() as server:
        model = build_model("gpt", "gpt-4o", base_url=server.url)
        task = bench.build_task(records, files, sampling=Sampling(fps=1.0, max_size=32), options={},
                                adapter_cls=get_model_class("gpt"))  # fmt: skip
        # tag each question with its id so the fake server can answer per item
        task.entries = [
            r.__class__(**{**r.__dict__, "question": f"{r.question} [qid:{r.entry_id}]"}) for r in records
        ]
        task.bind(ModelCaller(model))
        summary = run_items(task.items(), task.process, tmp_path / "pred.json", progress=False)
        assert len(server.requests) == 24
    assert summary.total == 24
    scores, _ = bench.evaluate(files, tmp_path / "pred.json")
    # 12 even qids right, 11 odd wrong, qid 1 unparsable (wrong): 12 / 24 = 50 %
    assert scores.metrics["accuracy"] == pytest.approx(50.0)
    assert scores.counts == {"n": 24, "scored": 23, "unparsable": 1, "failed": 0}
    by_show = scores.breakdowns["show_name"]
    assert sum(v["n"] for v in by_show.values()) == 24
    for show, value in by_show.items():
        ids = [r.entry_id for r in records if r.show_name == show]
        assert value["accuracy"] == pytest.approx(100.0 * sum(int(i) % 2 == 0 for i in ids) / len(ids))


def test_subtitles_in_prompt_and_subset_file_as_qa_file(tmp_path):
    from evqa.cli.main import main

    bench = get_benchmark("tvqa")
    bench.synthesize(tmp_path)
    files = bench.locate(tmp_path)
    records = bench.load(files)
    task = bench.build_task(records, files, sampling=Sampling(fps=1.0), options={"interleave_subtitles": True},
                            adapter_cls=get_model_class("gpt"))  # fmt: skip
    plan = task.plan(records[0])
    # 6 frames at 3 fps (frames_hq) -> frames at 0 s and 1 s; cues [0, 0.9] and [1.0, 1.9]
    assert plan["timestamps"] == [0.0, 1.0] and plan["frame_texts"][1] == "(Penny:) Really?"
    assert plan["frame_texts"][0].startswith("(Sheldon:) The box is")
    whole = bench.build_task(records, files, sampling=Sampling(fps=1.0), options={"interleave_subtitles": True},
                             adapter_cls=get_model_class("gemini"))  # fmt: skip
    prompt = whole.plan(records[0])["prompts"][0]
    assert "Frame at 0.0 s: (Sheldon:) The box is" in prompt and "Frame at 1.0 s: (Penny:) Really?" in prompt
    assert prompt.index("Subtitles") < prompt.index("A. ")
    qa = files["qa_file"]
    assert (
        main(["data", "subset", str(qa), "--by", "show_name", "--n", "8", "--out", str(tmp_path / "s.jsonl")])
        == 0
    )
    subset = bench.load(bench.locate(tmp_path, {"qa_file": tmp_path / "s.jsonl"}))
    assert len(subset) == 8 and {r.show_name for r in subset} == {r.show_name for r in records}


def test_cli_synth_infer_eval(tmp_path, monkeypatch):
    from evqa.cli.main import main

    data = tmp_path / "data"
    assert main(["synth", "--benchmark", "tvqa", "--out", str(data)]) == 0
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    pred = tmp_path / "pred.json"
    with fake_api.FakeOpenAI() as server:  # its default reply to an MCQ prompt: "The answer is A."
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        argv = ["infer", "--benchmark", "tvqa", "--data-dir", str(data), "--model", "gpt-4o", "--output",
                str(pred), "--max-size", "32", "--no-progress"]  # fmt: skip
        assert main(argv) == 0
    assert main(["eval", "--benchmark", "tvqa", "--data-dir", str(data), "--pred_file", str(pred)]) == 0
    records = get_benchmark("tvqa").load(get_benchmark("tvqa").locate(data))
    expected = 100.0 * sum(r.answer_idx == 0 for r in records) / len(records)
    summary = json.loads((tmp_path / "pred.summary.json").read_text())
    assert summary["metrics"]["accuracy"] == pytest.approx(expected)
    assert summary["counts"] == {"n": 24, "scored": 24, "unparsable": 0, "failed": 0}
    assert set(summary["breakdowns"]["show_name"]) == {r.show_name for r in records}
    # the bootstrap CI of accuracy, by hand: 1,000 resamples of the 24 entries from default_rng(0), 2.5 / 97.5 %
    # percentiles of 100 * mean(correct)
    results = json.loads((tmp_path / "pred_eval.json").read_text())
    hits = np.array([float(r.answer_idx == 0) for r in records])
    rng = np.random.default_rng(0)
    boot = [100 * hits[rng.integers(0, len(hits), size=len(hits))].mean() for _ in range(1000)]
    expected_ci = [round(float(q), 4) for q in np.quantile(boot, [0.025, 0.975])]
    assert results["ci"] == {"accuracy": expected_ci} == summary["ci"]
    assert results["ci_settings"]["n_resamples"] == 1000 and results["ci_settings"]["seed"] == 0


def test_srt_parsing_and_nearest_line(tmp_path):
    from evqa.data.subtitles import cues_between, nearest_cue, parse_srt, read_srt

    text = "1\n00:00:01,000 --> 00:00:02,500\n<i>Hello</i>\nthere\n\n2\n00:01:00,25 --> 00:01:01,000\nBye\n"
    cues = parse_srt(text)
    assert [(c.start, c.end, c.text) for c in cues] == [(1.0, 2.5, "Hello there"), (60.25, 61.0, "Bye")]
    assert nearest_cue(cues, 2.0).text == "Hello there"  # inside the first cue
    assert nearest_cue(cues, 0.0).text == "Hello there"  # 1.0 s before it
    assert nearest_cue(cues, 40.0).text == "Bye"  # 20.25 s before "Bye", 37.5 s after "Hello there"
    assert nearest_cue([], 1.0) is None
    assert [c.text for c in cues_between(cues, 2.0, 59.0)] == ["Hello there"]
    path = tmp_path / "bad.srt"
    path.write_text("1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\nno timing here\n")
    with pytest.raises(DataError, match="cue 2"):
        read_srt(path)
    with pytest.raises(DataError, match="not found"):
        read_srt(tmp_path / "missing.srt")
