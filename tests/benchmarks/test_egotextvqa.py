"""EgoTextVQA and EgoTempo: real-format loaders and synthetic versions, the real-time cut, synth -> infer
(gpt-4o on the fake OpenAI server) -> eval with a scripted judge, and hand-computed judge metrics."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from evqa.baselines.frames import Sampling
from evqa.benchmarks import get_benchmark
from evqa.benchmarks.egotextvqa import OpenQaTask
from evqa.cli.main import run_command
from evqa.data.video import video_info
from evqa.errors import DataError

from .conftest import ScriptedJudgeOpenAI

REAL_KEYS = {
    "video_id",
    "question_id",
    "question_type",
    "question",
    "correct_answer",
    "timestamp",
    "video_url",
}


def test_synth_writes_the_real_formats_in_seconds(tmp_path):
    started = time.perf_counter()
    assert run_command("synth", ["--benchmark", "egotextvqa", "--out", str(tmp_path / "etv")]) == 0
    assert run_command("synth", ["--benchmark", "egotempo", "--out", str(tmp_path / "et")]) == 0
    assert time.perf_counter() - started < 60
    for subset in ("indoor", "outdoor"):
        lines = (tmp_path / f"etv/egotextvqa_{subset}_annotation.jsonl").read_text().splitlines()
        assert len(lines) == 6 and all(set(json.loads(line)) == REAL_KEYS for line in lines)
    bench = get_benchmark("egotextvqa")
    records = bench.load(bench.locate(tmp_path / "etv"))
    assert len(records) == 12 and {r.subset for r in records} == {"indoor", "outdoor"}
    video = tmp_path / "etv/EgoTextVQA_fps6/EgoTextVQA-Indoor" / f"{records[0].video_id}.mp4"
    assert video_info(video).fps == pytest.approx(6.0)
    tempo = json.loads((tmp_path / "et/egotempo_openQA.json").read_text())
    assert set(tempo) == {"info", "annotations"} and len(tempo["annotations"]) == 10
    assert set(tempo["annotations"][0]) == {"question_id", "clip_id", "question_type", "question", "answer"}
    et = get_benchmark("egotempo")
    clips = et.load(et.locate(tmp_path / "et"))
    assert len({r.question_type for r in clips}) == 10
    assert (tmp_path / "et/trimmed_clips" / f"{clips[0].video_id}.mp4").is_file()


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def row(video_id="v1", qid="1", **kw):
    base = {"video_id": video_id, "question_id": qid, "question_type": "Kitchen", "question": "what is written?",
            "correct_answer": "Exit", "timestamp": 2.0}  # fmt: skip
    return {**base, **kw}


def test_loader_errors_name_file_row_and_field(tmp_path):
    bench = get_benchmark("egotextvqa")
    (tmp_path / "EgoTextVQA_fps6").mkdir()
    bad = _jsonl(tmp_path / "egotextvqa_indoor_annotation.jsonl", [row(), row("v2", question="")])
    with pytest.raises(DataError, match=r"egotextvqa_indoor_annotation.jsonl: entry row 2: field 'question'"):
        bench.load(bench.locate(tmp_path))
    _jsonl(bad, [row(timestamp="soon")])
    with pytest.raises(DataError, match=r"row 1: field 'timestamp': must be seconds"):
        bench.load(bench.locate(tmp_path))
    _jsonl(bad, [row(), row()])
    with pytest.raises(DataError, match="duplicate"):
        bench.load(bench.locate(tmp_path))
    table = _jsonl(tmp_path / "qa.jsonl", [{**row(), "answer": "exit", "subset": "EgoTextVQA-Outdoor"}])
    [record] = bench.load(bench.locate(tmp_path, {"qa_file": str(table)}))
    assert (record.subset, record.answer, record.question_type) == ("outdoor", "exit", "kitchen")
    assert record.video == "EgoTextVQA-Outdoor/v1.mp4" and record.entry_id == "outdoor__v1__1"
    _jsonl(table, [{**row(), "subset": "attic"}])
    with pytest.raises(DataError, match="unknown subset 'attic'"):
        bench.load(bench.locate(tmp_path, {"qa_file": str(table)}))
    with pytest.raises(DataError, match="does not exist"):
        bench.locate(tmp_path, {"qa_file": str(tmp_path / "nope.jsonl")})


def test_realtime_protocol_cuts_at_timestamp_plus_one_second(tmp_path):
    bench = get_benchmark("egotextvqa")
    files = bench.synthesize(tmp_path, num_items=2)
    record = bench.load(files)[0]
    every = Sampling(fps=None)  # every frame: the cut is visible exactly
    full = OpenQaTask([record], video_dir=files["video_dir"], realtime=False, offset_s=1.0, sampling=every)
    cut = OpenQaTask([record], video_dir=files["video_dir"], realtime=True, offset_s=1.0, sampling=every)
    t_full = np.array(full.plan(record)["timestamps"])
    t_cut = np.array(cut.plan(record)["timestamps"])
    end = record.timestamp + 1.0
    assert t_full[-1] == pytest.approx(4.0 - 1 / 6, abs=1e-3)  # the 4 s clip at 6 fps
    assert t_cut[-1] <= end + 1e-9 and t_cut[-1] > end - 1 / 6
    assert len(t_cut) == int(np.floor(end * 6 + 1e-9)) + 1
    assert cut.plan(record)["prompts"] == [record.question]  # the question alone


def test_synth_infer_gpt4o_then_eval_with_judge(tmp_path, api_env):
    data = tmp_path / "etv"
    assert run_command("synth", ["--benchmark", "egotextvqa", "--out", str(data), "--num-items", "4"]) == 0
    pred = tmp_path / "pred.json"
    with ScriptedJudgeOpenAI() as server:
        api_env(server)
        code = run_command("infer", ["--benchmark", "egotextvqa", "--data-dir", str(data), "--model", "gpt-4o",
                                     "--output", str(pred), "--realtime", "--no-progress"])  # fmt: skip
        assert code == 0
        records = json.loads(pred.read_text())
        assert len(records) == 4
        first = next(iter(records.values()))
        assert first["parsed_response"] == {"answer": "The answer is A."} and first["error"] is None
        assert {"question_id", "subset", "question_type", "video_id"} <= set(first)
        assert first["meta"]["frame_end_s"] is not None and first["meta"]["model"] == "gpt-4o"
        answers = [json.loads(line)["correct_answer"] for f in ("indoor", "outdoor")
                   for line in (data / f"egotextvqa_{f}_annotation.jsonl").read_text().splitlines()]  # fmt: skip
        server.script = {a: ["{'pred': 'yes', 'score': 3}"] for a in answers}
        code = run_command("eval", ["--benchmark", "egotextvqa", "--data-dir", str(data), "--pred_file", str(pred),
                                    "--judge", "gpt-4o", "--no_progress"])  # fmt: skip
        assert code == 0
    summary = json.loads((tmp_path / "pred.summary.json").read_text())
    assert summary["benchmark"] == "egotextvqa" and summary["run"]["judge"] == "gpt-4o"
    assert summary["metrics"]["accuracy"] == 1.0 and summary["metrics"]["score"] == 3.0
    assert summary["counts"] == {
        "n": 4,
        "scored": 4,
        "unparsable": 0,
        "failed": 0,
        "missing": 0,
        "judge_error": 0,
    }
    assert summary["units"] == {"accuracy": "fraction", "score": "score"}
    assert summary["sampling"]["fps"] == 1.0
    assert set(summary["data_sha256"]) == {
        "egotextvqa_indoor_annotation.jsonl",
        "egotextvqa_outdoor_annotation.jsonl",
    }
    results = json.loads((tmp_path / "pred_eval.json").read_text())
    assert all(item["pred"] == "yes" for item in results["per_item"].values())


# --- the judge against scripted verdicts: hand-computed accuracy and score -----------------------------

INDOOR = [row("in1", question_type="hands-on", correct_answer="alpha"),
          row("in2", question_type="hands-on", correct_answer="bravo"),
          row("in3", question_type="kitchen", correct_answer="charlie")]  # fmt: skip
OUTDOOR = [row("out1", question_type="location", correct_answer="delta"),
           row("out2", question_type="location", correct_answer="echo"),
           row("out3", question_type="direction", correct_answer="foxtrot")]  # fmt: skip
SCRIPT = {
    "alpha": ["{'pred': 'yes', 'score': 5}"],
    "bravo": ['```json\n{"pred": "no", "score": 2}\n```'],
    "charlie": ["I would say yes."],  # never a verdict: judge_error after the reply retries
    "delta": ["Verdict: {'pred': 'YES', 'score': '4'}"],
    "foxtrot": ["{'pred': 'maybe', 'score': 9}", "{'pred': 'no', 'score': 1}"],  # unusable, then fine
}


@pytest.fixture
def judged_data(tmp_path):
    data = tmp_path / "data"
    (data / "EgoTextVQA_fps6").mkdir(parents=True)
    _jsonl(data / "egotextvqa_indoor_annotation.jsonl", INDOOR)
    _jsonl(data / "egotextvqa_outdoor_annotation.jsonl", OUTDOOR)
    preds = {}
    for subset, rows in (("indoor", INDOOR), ("outdoor", OUTDOOR)):
        for r in rows:
            preds[f"{subset}__{r['video_id']}__1"] = {"parsed_response": {"answer": f"It says\n{r['video_id'].upper()}"},
                                                       "raw_response": "x", "error": None, "meta": {"fps": 1.0}}  # fmt: skip
    preds["outdoor__out2__1"] = {"parsed_response": None, "raw_response": None, "error": "ApiError: gave up"}
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps(preds))
    return data, pred


def judge(data, pred, *extra):
    return run_command("judge", ["--benchmark", "egotextvqa", "--data-dir", str(data), "--pred_file", str(pred),
                                 "--judge", "gpt-4o", "--judge-concurrency", "1", "--no_progress", *extra])  # fmt: skip


def test_judge_scripted_verdicts_hand_computed(judged_data, api_env):
    data, pred = judged_data
    with ScriptedJudgeOpenAI(SCRIPT, faults=["429", "500"]) as server:
        api_env(server)
        assert judge(data, pred) == 1  # one judge error: reported, exit 1
        # in1: 429 + 500 then ok (3); in2 1; in3 1 + 2 reply retries; out1 1; out3 2; out2 failed: not sent
        assert len(server.requests) == 3 + 1 + 3 + 1 + 2
        assert ("alpha", "it saysin1") in server.judge_calls  # lower-cased, newline removed
        summary = json.loads((pred.parent / "pred.summary.json").read_text())
        # verdicts: in1 yes 5, in2 no 2, out1 yes 4, out3 no 1, out2 (failed) no 0; in3 judge_error left out
        assert summary["metrics"]["accuracy"] == pytest.approx(2 / 5)
        assert summary["metrics"]["score"] == pytest.approx(12 / 5)
        assert summary["counts"] == {
            "n": 6,
            "scored": 4,
            "unparsable": 0,
            "failed": 1,
            "missing": 0,
            "judge_error": 1,
        }
        by_subset = summary["breakdowns"]["subset"]
        assert by_subset["indoor"]["accuracy"] == pytest.approx(1 / 2) and by_subset["indoor"]["score"] == 3.5
        assert by_subset["outdoor"]["accuracy"] == pytest.approx(1 / 3)
        assert by_subset["outdoor"]["score"] == pytest.approx(5 / 3)
        by_type = summary["breakdowns"]["question_type"]
        assert by_type["hands-on"] == {"accuracy": 0.5, "score": 3.5, "yes": 1, "no": 1, "judged": 2, "n": 2}
        assert by_type["kitchen"]["judged"] == 0 and by_type["location"]["score"] == 2.0
        results = json.loads((pred.parent / "pred_eval.json").read_text())
        assert results["per_item"]["indoor__in3__1"]["status"] == "judge_error"
        assert results["per_item"]["indoor__in3__1"]["raw_reply"] == "I would say yes."
        # bootstrap CIs by hand: accuracy = #yes / #(yes or no) and score = mean over the scored, resampling
        # all 6 entries (the judge error included: it resamples as "no verdict")
        pairs = np.array([[(v["pred"] == "yes"), v["pred"] in ("yes", "no"), v["score"] or 0, v["score"] is not None]
                          for v in results["per_item"].values()], dtype=float)  # fmt: skip
        rng = np.random.default_rng(0)
        acc, score = [], []
        for _ in range(1000):
            x = pairs[rng.integers(0, 6, size=6)]
            acc.append(x[:, 0].sum() / x[:, 1].sum() if x[:, 1].sum() else np.nan)
            score.append(x[:, 2].sum() / x[:, 3].sum() if x[:, 3].sum() else np.nan)
        for key, boot in (("accuracy", acc), ("score", score)):
            kept = np.array(boot)[~np.isnan(boot)]
            assert results["ci"][key] == [round(float(q), 4) for q in np.quantile(kept, [0.025, 0.975])]
        assert summary["ci"] == results["ci"]

        server.requests.clear()
        assert judge(data, pred, "--protocol", "upstream") == 1
        assert len(server.requests) == 3  # only the judge error is asked again (its 3 attempts)
        up = json.loads((pred.parent / "pred.summary.json").read_text())
        assert up["protocol"] == "upstream"
        assert up["metrics"]["accuracy"] == pytest.approx(2 / 6) and up["metrics"]["score"] == pytest.approx(
            12 / 6
        )

        server.script["charlie"] = ["{'pred': 'yes', 'score': 3}"]
        server.seen.clear()
        server.requests.clear()
        assert judge(data, pred) == 0
        assert len(server.requests) == 1
        final = json.loads((pred.parent / "pred.summary.json").read_text())
        assert final["metrics"]["accuracy"] == pytest.approx(3 / 6) and final["metrics"][
            "score"
        ] == pytest.approx(15 / 6)
        cache = json.loads((pred.parent / "pred.judge.json").read_text())
        assert len(cache) == 5 and all(r["prompt_version"] == "open_qa_judge/v1" for r in cache.values())


def test_killed_judge_run_resumes_without_rejudging(judged_data, api_env, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    data, pred = judged_data
    script = {**SCRIPT, "charlie": ["{'pred': 'yes', 'score': 3}"], "foxtrot": ["{'pred': 'no', 'score': 1}"]}
    with ScriptedJudgeOpenAI(script, latency=0.4) as server:
        api_env(server)
        cmd = [sys.executable, "-m", "evqa.cli.main", "judge", "--benchmark", "egotextvqa", "--data-dir", str(data),
               "--pred_file", str(pred), "--judge", "gpt-4o", "--judge-concurrency", "1", "--no_progress"]  # fmt: skip
        proc = subprocess.Popen(
            cmd, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        jsonl = pred.parent / "pred.judge.jsonl"
        deadline = time.time() + 60
        while time.time() < deadline and (not jsonl.exists() or len(jsonl.read_text().splitlines()) < 2):
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        done = {json.loads(line)["entry_id"] for line in jsonl.read_text().splitlines() if line.endswith("}")}
        assert 2 <= len(done) < 5 and not (pred.parent / "pred.judge.json").exists()
        server.requests.clear()
        assert judge(data, pred) == 0
        assert len(server.requests) == 5 - len(done)  # the finished judgements were not asked again
    summary = json.loads((pred.parent / "pred.summary.json").read_text())
    assert summary["metrics"]["accuracy"] == pytest.approx(3 / 6) and summary["metrics"][
        "score"
    ] == pytest.approx(15 / 6)


def test_tiny_local_transformers_model_judges(judged_data, tmp_path):
    from evqa.eval.judge import JudgeSettings, judge_predictions
    from evqa.training.hf_vlm.tiny import qwen2_5_vl

    data, pred = judged_data
    checkpoint = qwen2_5_vl(tmp_path / "tiny_judge")
    bench = get_benchmark("egotextvqa")
    records = bench.load(bench.locate(data))
    predictions = bench.read_predictions(pred)
    settings = JudgeSettings(model=checkpoint, device="cpu", reply_retries=0, progress=False)
    judged = judge_predictions(records, predictions, settings, pred_file=pred)
    # a random model writes no verdict: every judged item is a judge_error with its raw reply kept
    assert judged["outdoor__out2__1"]["status"] == "failed"
    others = [v for k, v in judged.items() if k != "outdoor__out2__1"]
    assert all(v["status"] in ("ok", "judge_error") and isinstance(v["raw_reply"], str) for v in others)
    cache = json.loads((tmp_path / "pred.judge.json").read_text())
    assert len(cache) == 5
    assert {r["judge_adapter"] for r in cache.values()} == {"qwen2_5_vl"}
    assert all(r["meta"]["usage"]["prompt_tokens"] > 50 for r in cache.values())
    scores = bench.score(records, predictions, options={"judgements": judged})
    assert scores.counts["n"] == 6 and scores.counts["failed"] == 1
    assert scores.counts["scored"] + scores.counts["judge_error"] == 5


def test_gemini_judges_through_its_client(judged_data, monkeypatch):
    from .conftest import API_KEY, VerdictGemini

    data, pred = judged_data
    with VerdictGemini() as server:
        monkeypatch.setenv("GEMINI_API_KEY", API_KEY)
        monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
        monkeypatch.setenv("GEMINI_BASE_URL", server.url)
        code = run_command("judge", ["--benchmark", "egotextvqa", "--data-dir", str(data), "--pred_file", str(pred),
                                     "--judge", "gemini-2.5-flash", "--no_progress"])  # fmt: skip
        assert code == 0
    assert len(server.bodies) == 5
    body = server.bodies[0]
    assert body["generationConfig"]["temperature"] == 0.0
    assert "meaningful match" in body["systemInstruction"]["parts"][0]["text"]
    asked = [b["contents"][0]["parts"][0]["text"] for b in server.bodies]  # concurrent: any order
    assert sum("Correct Answer: alpha\nPredicted Answer: it saysin1" in text for text in asked) == 1
    summary = json.loads((pred.parent / "pred.summary.json").read_text())
    assert summary["metrics"]["accuracy"] == pytest.approx(5 / 6)  # out2 failed: no, 0
    assert summary["metrics"]["score"] == pytest.approx(20 / 6)
    assert summary["run"]["judge"] == "gemini-2.5-flash"
    assert API_KEY not in (pred.parent / "pred.judge.json").read_text()


def test_realtime_refuses_a_whole_video_model(tmp_path):
    from evqa.baselines.registry import get_model_class
    from evqa.errors import ConfigError

    bench = get_benchmark("egotextvqa")
    files = bench.synthesize(tmp_path, num_items=2)
    with pytest.raises(ConfigError, match="--realtime needs a model fed sampled frames"):
        bench.build_task(bench.load(files), files, sampling=Sampling(), options={"realtime": True},
                         adapter_cls=get_model_class("gemini"))  # fmt: skip


def test_tiny_causal_lm_folder_judges(judged_data, tmp_path):
    """A plain transformers causal LM folder (no registered adapter) is a judge too."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from evqa.eval.judge import JudgeSettings, LocalChatJudge, build_judge, judge_predictions
    from evqa.model.tokenizer import build_tiny_tokenizer

    tok = build_tiny_tokenizer()
    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=4, num_key_value_heads=2, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id)  # fmt: skip
    folder = tmp_path / "tiny_lm"
    Qwen2ForCausalLM(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    settings = JudgeSettings(model=str(folder), device="cpu", reply_retries=0, progress=False)
    client = build_judge(settings)
    assert isinstance(client, LocalChatJudge) and client.adapter == "transformers"
    data, pred = judged_data
    bench = get_benchmark("egotextvqa")
    records = bench.load(bench.locate(data))
    judged = judge_predictions(records, bench.read_predictions(pred), settings, pred_file=pred, client=client)
    assert sum(v["status"] in ("ok", "judge_error") for v in judged.values()) == 5
    cache = json.loads((tmp_path / "pred.judge.json").read_text())
    assert {r["judge_model"] for r in cache.values()} == {str(folder)}
    assert all(r["meta"]["usage"]["completion_tokens"] >= 1 for r in cache.values())
