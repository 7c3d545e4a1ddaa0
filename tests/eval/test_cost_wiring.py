"""Cost columns end to end: each local query's cost record (visual tokens, analytic FLOPs) against torch's
FlopCounterMode around the adapter's own forward / generate on a tiny Qwen2.5-VL, the run summary's
`cost` block from the records, and `evqa report` showing the cost columns for a local and an API run."""

import json

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from evqa.baselines.base import Request
from evqa.baselines.registry import build_model
from evqa.cli.main import run_command
from evqa.cli.report import build_report
from evqa.eval.cost import batch_query_costs, cost_summary, local_query_cost


@pytest.fixture(scope="module")
def tiny_qwen(tmp_path_factory):
    from evqa.training.hf_vlm.tiny import qwen2_5_vl

    return qwen2_5_vl(tmp_path_factory.mktemp("qwen") / "ckpt")


def _request(frames=2):
    pixels = np.random.default_rng(0).integers(0, 256, (frames, 64, 64, 3), dtype=np.uint8)
    prompt = "How would you rate the quality of this video?"
    return Request("q0", prompt, pixels, np.arange(frames, dtype=float), max_new_tokens=3)


def test_cost_records_by_hand():
    config = {"image_token_id": 7, "video_token_id": 8, "vision_config": {"model_type": "siglip"},
              "text_config": {"hidden_size": 8}}  # fmt: skip
    cost = local_query_cost(config, [1, 7, 7, 7, 2, 8, 3], generated_tokens=4, params=1000)
    assert cost == {
        "prompt_tokens": 7,
        "visual_tokens": 4,
        "generated_tokens": 4,
        "params": 1000,
        "tflops": None,
    }
    inputs = {
        "input_ids": torch.tensor([[0, 0, 1, 7], [1, 7, 7, 2]]),
        "attention_mask": torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]]),
    }
    costs = batch_query_costs(config, inputs, [1, 1], generated_tokens=[2, 5])
    assert [(c["prompt_tokens"], c["visual_tokens"], c["generated_tokens"]) for c in costs] == [
        (2, 1, 2),
        (4, 2, 5),
    ]


def test_cost_summary_from_records():
    metas = [
        {"frames": [0, 5, 9], "usage": {"prompt_tokens": 100, "completion_tokens": 4},
         "cost": {"visual_tokens": 12, "tflops": 0.5, "params": 3_000_000}},
        {"frames": [0, 9], "usage": {"prompt_tokens": 80, "completion_tokens": 2},
         "cost": {"visual_tokens": 8, "tflops": 0.25, "params": 3_000_000}},
        {"frames": [1, 2, 3, 4], "usage": {"prompt_tokens": 90, "completion_tokens": 6},
         "cost": {"visual_tokens": 16, "tflops": 0.75, "params": 3_000_000}},
    ]  # fmt: skip
    local = cost_summary(metas, api=False)
    assert local == {"frames_fed": 3, "visual_tokens": 12.0, "tflops_per_query": 0.5, "params_m": 3.0,
                     "api_tokens": {"prompt_tokens": 270, "completion_tokens": 12}}  # fmt: skip
    api = cost_summary([{k: v for k, v in m.items() if k != "cost"} for m in metas], api=True)
    assert api["api_prompt_tokens_per_query"] == 90.0 and api["api_completion_tokens_per_query"] == 4.0
    assert "tflops_per_query" not in api and "visual_tokens" not in api


def _eager(model):
    model.model.set_attn_implementation("eager")  # the counter misses CPU SDPA's flash kernel
    return model


@pytest.mark.parametrize("family", ["qwen2_5_vl", "qwen3_vl"])
def test_recorded_flops_equal_the_flop_counter_for_scoring_and_generation(family, tiny_qwen, tmp_path):
    from evqa.training.hf_vlm.tiny import qwen3_vl

    checkpoint = tiny_qwen if family == "qwen2_5_vl" else qwen3_vl(tmp_path / "qwen3")
    model = _eager(build_model(family, checkpoint, device="cpu"))
    with FlopCounterMode(display=False) as counter:
        scored = model.score_levels(_request())
    cost = scored.meta["cost"]
    assert (
        cost["flops"]["total"] == counter.get_total_flops()
        and cost["flops"]["lm_head"] == 2 * 32 * model.model.config.text_config.vocab_size
    )
    # 64 px frames -> 4 x 4 patches (56 px / 14, or 64 px / 16 for Qwen3-VL), 2 x 2 merged: 4 tokens a frame
    assert cost["visual_tokens"] == 8 and cost["tflops"] == pytest.approx(counter.get_total_flops() / 1e12)
    with FlopCounterMode(display=False) as counter:
        replies = model.generate_batch([_request(), _request(1)])
    costs = [r.meta["cost"] for r in replies]
    assert [c["visual_tokens"] for c in costs] == [8, 4]
    assert [c["generated_tokens"] for c in costs] == [r.usage["completion_tokens"] for r in replies]
    with FlopCounterMode(display=False) as counter:
        single = model.generate(_request())
    c = single.meta["cost"]
    # 3 tokens generated: the prefill, 2 cached decode steps, 3 LM-head rows
    assert c["generated_tokens"] == 3 and c["flops"]["total"] == counter.get_total_flops()
    assert c["flops"]["total"] == costs[0]["flops"]["total"]  # the same query alone or in a padded batch


def test_summary_and_report_carry_the_cost_columns(tmp_path, tiny_qwen):
    data = tmp_path / "d"
    assert run_command("synth", ["--benchmark", "vqa2_scoring", "--out", str(data), "--num-items", "3"]) == 0
    pred = tmp_path / "local.json"
    assert run_command("infer", ["--benchmark", "vqa2_scoring", "--data-dir", str(data), "--adapter", "qwen2_5_vl",
                                 "--model", tiny_qwen, "--output", str(pred), "--no-progress", "--num_frames", "2"]) == 0  # fmt: skip
    assert run_command("eval", ["--benchmark", "vqa2_scoring", "--data-dir", str(data), "--pred_file", str(pred)]) == 0  # fmt: skip
    records = [v for k, v in json.loads(pred.read_text()).items() if k != "__run__"]
    summary = json.loads((tmp_path / "local.summary.json").read_text())
    cost = summary["cost"]
    assert cost["frames_fed"] == 2 and cost["visual_tokens"] == 8.0
    assert cost["tflops_per_query"] == pytest.approx(np.mean([r["meta"]["cost"]["tflops"] for r in records]))
    params = sum(p.numel() for p in build_model("qwen2_5_vl", tiny_qwen, device="cpu").model.parameters())
    assert cost["params_m"] == pytest.approx(params / 1e6)
    text = build_report([str(tmp_path / "local.summary.json")], "csv")
    header, row = text.splitlines()[:2]
    assert header.split(",")[-4:] == ["Params (M)", "Frames", "Vis. tokens", "TFLOPs/q"]
    assert row.split(",")[-3:-1] == ["2", "8"] and "API" not in header


def test_st_evidence_results_take_the_cost_of_the_summary_beside_them(tmp_path):
    from pathlib import Path

    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "report"
    results = tmp_path / "run_eval.json"
    results.write_text((fixtures / "base_eval.json").read_text())
    plain = build_report([str(results)], "csv").splitlines()[0]
    assert "Frames" not in plain
    cost = {
        "frames_fed": 8,
        "visual_tokens": 640.0,
        "tflops_per_query": 12.5,
        "api_tokens": {"prompt_tokens": 9},
    }
    (tmp_path / "run.summary.json").write_text(json.dumps({"cost": cost}))
    header, row = build_report([str(results)], "csv").splitlines()[:2]
    assert header.split(",")[-3:] == ["Frames", "Vis. tokens", "TFLOPs/q"]
    assert row.split(",")[-3:] == ["8", "640", "12.50"]


@pytest.mark.parametrize(("adapter", "tokens"), [("internvl3_5", 8), ("smolvlm", 8), ("videollama3", 32)])
def test_other_families_record_the_flop_counters_total(adapter, tokens, tmp_path):
    """InternVL and SmolVLM: tiles counted from the prompt's image tokens (one 4-token tile a frame in the tiny
    checkpoints); VideoLLaMA3: each frame's grid and merge size (64 px frames -> 4 x 4 patches, merge 1)."""
    from tests.baselines import tiny_vlms

    build = {
        "internvl3_5": tiny_vlms.internvl,
        "smolvlm": tiny_vlms.smolvlm,
        "videollama3": tiny_vlms.videollama3,
    }
    model = _eager(build_model(adapter, build[adapter](tmp_path / adapter), device="cpu"))
    with FlopCounterMode(display=False) as counter:
        reply = model.generate(_request(frames=2))
    cost = reply.meta["cost"]
    assert cost["visual_tokens"] == tokens and cost["generated_tokens"] == reply.usage["completion_tokens"]
    assert cost["flops"]["total"] == counter.get_total_flops() and cost["tflops"] is not None
