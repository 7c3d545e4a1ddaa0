"""VQA² scoring through OpenAI log-probabilities, with the real `openai` client against the fake server:
the request asks for one token and its top_logprobs, the score is sum p_k w_k over the level words found
among them (hand-computed here), a reply without any level word fails its item instead of being guessed,
and adapters without log-probabilities are refused for vqa2_scoring in one line."""

import base64
import io
import json
import math

import numpy as np
import pytest
from PIL import Image

from evqa.baselines.base import Request
from evqa.baselines.level_scoring import api_level_response, level_of_token
from evqa.baselines.registry import build_model, get_model_class
from evqa.benchmarks.registry import get_benchmark
from evqa.cli.main import run_command
from evqa.cli.report import build_report
from evqa.errors import ConfigError, ModelError
from evqa.metrics.quality import LEVEL_WEIGHTS

from .conftest import LogprobOpenAI

# masses: high .2 (Excellent), good .5 + .1, fair .1, poor .05, low none; "The" is no level word
SCRIPT = [("Good", math.log(0.5)), ("Excellent", math.log(0.2)), (" good", math.log(0.1)),
          ("fair", math.log(0.1)), ("The", math.log(0.05)), ("poor", math.log(0.05))]  # fmt: skip


def _request():
    frames = np.full((2, 16, 16, 3), 128, np.uint8)
    return Request("v0", "How would you rate the quality of this video?", frames, np.array([0.0, 1.0]))


def test_level_words_and_the_score_by_hand():
    assert [level_of_token(t) for t in ("Excellent", " high", "GOOD", "fair ", " Poor", "bad", "The")] == [
        0, 0, 1, 2, 3, 4, None]  # fmt: skip
    response = api_level_response(SCRIPT, {"completion_tokens": 1})
    p = np.array([0.2, 0.6, 0.1, 0.05, 0.0]) / 0.95
    assert response.meta["level_probs"] == pytest.approx(p.tolist(), abs=1e-6)
    assert response.meta["quality_score"] == pytest.approx((0.2 + 0.48 + 0.06 + 0.02) / 0.95, abs=1e-12)
    assert response.meta["quality_score"] == pytest.approx(float(p @ LEVEL_WEIGHTS), abs=1e-12)
    assert response.meta["level_tokens"]["absent"] == ["low"] and response.text == "good"
    assert response.meta["level_tokens"]["tokens"][1] == ["Good", " good"]
    with pytest.raises(ModelError, match="no quality level word among the reply's 2 most likely"):
        api_level_response([("The", -0.1), ("It", -2.0)], {})


def test_gpt_score_levels_requests_logprobs(api_env):
    with LogprobOpenAI(SCRIPT) as server:
        api_env(server)
        model = build_model("gpt", "gpt-4o")
        response = model.score_levels(_request())
        body = server.logprob_bodies[0]
    assert body["logprobs"] is True and body["top_logprobs"] == 20 and body["max_tokens"] == 1
    assert 'completes: "The quality of this video is ..."' in body["messages"][-1]["content"][-1]["text"]
    assert response.meta["quality_score"] == pytest.approx(0.8, abs=1e-12)
    assert response.usage == {"prompt_tokens": 120, "completion_tokens": 1, "total_tokens": 121}
    with LogprobOpenAI(SCRIPT) as server:
        api_env(server)
        with pytest.raises(ConfigError, match="o3 returns no log-probabilities"):
            build_model("gpt", "o3").score_levels(_request())
        assert not server.logprob_bodies


def _brightness_script(body):
    """Log-probs from the first frame's brightness: bright frames lean 'excellent', dark ones 'bad'."""
    url = next(p for p in body["messages"][-1]["content"] if p["type"] == "image_url")["image_url"]["url"]
    pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))), dtype=np.float64)
    b = pixels.mean() / 255.0
    return [("excellent", math.log(0.05 + 0.9 * b)), ("bad", math.log(0.95 - 0.9 * b)), ("The", -3.0)]


def test_vqa2_synth_infer_eval_through_the_gpt_adapter(tmp_path, api_env):
    data = tmp_path / "d"
    assert run_command("synth", ["--benchmark", "vqa2_scoring", "--out", str(data), "--num-items", "5"]) == 0
    pred = tmp_path / "gpt.json"
    with LogprobOpenAI(script_of=_brightness_script) as server:
        api_env(server)
        assert run_command("infer", ["--benchmark", "vqa2_scoring", "--data-dir", str(data), "--model", "gpt-4o",
                                     "--output", str(pred), "--no-progress", "--num_frames", "2"]) == 0  # fmt: skip
        assert len(server.logprob_bodies) == 10
    records = {k: v for k, v in json.loads(pred.read_text()).items() if k != "__run__"}
    for record in records.values():
        parsed = record["parsed_response"]
        p = np.array(parsed["level_probs"])
        assert p[1:4].sum() == 0 and parsed["score"] == pytest.approx(float(p @ LEVEL_WEIGHTS), abs=1e-5)
    assert len({round(r["parsed_response"]["score"], 6) for r in records.values()}) > 1
    assert run_command("eval", ["--benchmark", "vqa2_scoring", "--data-dir", str(data), "--pred_file", str(pred)]) == 0  # fmt: skip
    summary = json.loads((tmp_path / "gpt.summary.json").read_text())
    assert summary["counts"]["scored"] == 10 and math.isfinite(summary["metrics"]["SRCC"])
    assert summary["cost"]["api_tokens"]["prompt_tokens"] == 1200
    assert (
        summary["cost"]["api_prompt_tokens_per_query"] == 120.0 and "tflops_per_query" not in summary["cost"]
    )
    header, row = build_report([str(tmp_path / "gpt.summary.json")], "csv").splitlines()[:2]
    assert header.split(",")[-3:] == ["Frames", "API in tok/q", "API out tok/q"]
    assert row.split(",")[-3:] == ["2", "120", "1"]


def test_no_level_word_fails_the_item_and_gemini_is_unsupported(tmp_path, api_env, capsys):
    data = tmp_path / "d"
    assert run_command("synth", ["--benchmark", "vqa2_scoring", "--out", str(data), "--num-items", "1"]) == 0
    pred = tmp_path / "gpt.json"
    with LogprobOpenAI([("The", -0.2), ("It", -1.9)]) as server:
        api_env(server)
        code = run_command("infer", ["--benchmark", "vqa2_scoring", "--data-dir", str(data), "--model", "gpt-4o",
                                     "--output", str(pred), "--no-progress", "--num_frames", "1"])  # fmt: skip
    assert code == 1
    records = [v for k, v in json.loads(pred.read_text()).items() if k != "__run__"]
    assert len(records) == 2 and all("no quality level word" in r["error"] for r in records)
    bench = get_benchmark("vqa2_scoring")
    files = bench.locate(data)
    with pytest.raises(ConfigError, match="gemini adapter is unsupported for vqa2_scoring"):
        bench.build_task(
            bench.load(files), files, sampling=None, options={}, adapter_cls=get_model_class("gemini")
        )
    capsys.readouterr()
    code = run_command("infer", ["--benchmark", "vqa2_scoring", "--data-dir", str(data), "--model", "gemini-2.5-flash",
                                 "--output", str(tmp_path / "g.json"), "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "unsupported for vqa2_scoring" in err and len(err.strip().splitlines()) == 1
