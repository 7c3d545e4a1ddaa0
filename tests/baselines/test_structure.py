"""The code behind the runner: one frame sampler, one facts record per adapter, typed options, the demo
through library calls, INFO lines of the upstream scripts without per-request HTTP lines."""

import dataclasses
import logging

import numpy as np
import pytest

from evqa.baselines.cli_run import InferOptions
from evqa.baselines.frames import Sampling, load_frames
from evqa.baselines.registry import AdapterFacts, available_models, get_model_class, resolve_adapter
from evqa.errors import ConfigError


def test_load_frames_goes_through_the_data_layer_sampler(monkeypatch, tmp_path):
    import evqa.data.video as V

    folder = tmp_path / "clip"
    V.write_frame_folder(folder, np.zeros((12, 8, 10, 3), np.uint8))
    calls = []
    real = V.sample_frames

    def spy(path, **kwargs):
        calls.append(kwargs)
        return real(path, **kwargs)

    monkeypatch.setattr(V, "sample_frames", spy)
    out = load_frames(folder, Sampling(fps=2.0, max_frames=4, max_size=5))
    assert calls == [{"fps": 2.0, "num_frames": None, "max_frames": 4, "decode": True, "folder_fps": None}]
    assert out.indices.tolist() == [0, 3, 6, 9] and out.timestamps.tolist() == [0.0, 0.5, 1.0, 1.5]
    assert out.frames.shape == (4, 4, 5, 3) and out.size == (8, 10) and out.video_fps == 6.0
    plan = load_frames(folder, Sampling(fps=1.0), decode=False)
    assert plan.frames is None and plan.indices.tolist() == [0, 6]


def test_every_adapter_carries_its_facts_in_one_record():
    expected = {
        "gpt": ("gpt-4o", "gpt", True),
        "gemini": ("gemini-2.5-flash", "gemini", True),
        "qwen2_5_vl": ("Qwen/Qwen2.5-VL-7B-Instruct", "qwen2_5vl", False),
        "qwen3_vl": ("Qwen/Qwen3-VL-4B-Instruct", "qwen3vl", False),
        "internvl3_5": ("OpenGVLab/InternVL3_5-8B-HF", "internvl", False),
        "llava_ov_1_5": ("lmms-lab/LLaVA-OneVision-1.5-8B-Instruct", "llava_ov", False),
        "videollama3": ("DAMO-NLP-SG/VideoLLaMA3-7B", "videollama3", False),
        "smolvlm": ("HuggingFaceTB/SmolVLM2-500M-Video-Instruct", "smolvlm", False),
        "sa2va": ("ByteDance/Sa2VA-4B", "sa2va", False),
        "ours": ("model_zoo/evqa-3b", "ours", False),
        "unipixel": ("PolyU-ChenLab/UniPixel-3B", "unipixel", False),
    }
    assert available_models() == sorted(expected)
    for name, (model, folder, api) in expected.items():
        facts = get_model_class(name).facts
        assert isinstance(facts, AdapterFacts)
        assert (facts.default_model, facts.result_folder, facts.api) == (model, folder, api)
    assert resolve_adapter("o4-mini") == ("gpt", "o4-mini")
    assert resolve_adapter("lmms-lab/LLaVA-OneVision-1.5-4B") == (
        "llava_ov_1_5",
        "lmms-lab/LLaVA-OneVision-1.5-4B",
    )
    assert resolve_adapter("ByteDance/Sa2VA-8B") == ("sa2va", "ByteDance/Sa2VA-8B")


def test_the_output_path_uses_the_result_folder_fact():
    from evqa.baselines.benchmarks import default_output

    path = default_output(
        "qwen2_5_vl", "Qwen/Qwen2.5-VL-7B-Instruct", task="gen", mode="single-turn", tag="1fps"
    )
    assert str(path) == "results/qwen2_5vl/qwen2_5_vl_7b_instruct_st_evidence_single_1fps.json"


def test_the_library_takes_typed_options():
    from evqa.cli.infer import build_parser

    names = {f.name for f in dataclasses.fields(InferOptions)}
    parser = build_parser("evqa infer")
    registry_group = [g for g in parser._action_groups if g.title.startswith("benchmark")]
    registry_dests = {a.dest for g in registry_group for a in g._group_actions}  # the benchmark registry's
    dests = {a.dest for a in parser._actions if a.dest != "help"} - registry_dests
    assert dests <= names, dests - names  # every flag is an option field
    defaults = InferOptions()
    parsed = InferOptions.from_namespace(parser.parse_args([]))
    assert parsed == defaults  # same defaults as the flags
    with pytest.raises(ConfigError, match="field '--batch-size': must be greater than 0, got 0"):
        InferOptions(batch_size=0).validate()


def test_the_demo_calls_the_library_not_the_cli(monkeypatch, tmp_path):
    import evqa.baselines.cli_run as cli_run
    import evqa.cli.main as cli_main
    from evqa.baselines.runner import RunSummary
    from evqa.data.synth import SynthPaths
    from evqa.training import demo

    seen = []
    monkeypatch.setattr(
        cli_run, "run_infer", lambda options: seen.append(options) or RunSummary(total=3, done=3)
    )
    monkeypatch.setattr(cli_main, "run_command", lambda *a, **k: pytest.fail("the demo used the CLI"))
    paths = SynthPaths(tmp_path / "synth")
    pred, masks = demo.infer(tmp_path / "model", paths, tmp_path / "out", num_frames=8, limit=2)
    (options,) = seen
    assert isinstance(options, InferOptions)
    assert (options.adapter, options.num_frames, options.limit, options.max_new_tokens) == ("ours", 8, 2, 48)
    assert (
        options.overwrite
        and options.gt_file == str(paths.gen_csv)
        and pred == tmp_path / "out/predictions.json"
    )
    monkeypatch.setattr(cli_run, "run_infer", lambda options: RunSummary(total=3, done=2, failed=1))
    with pytest.raises(Exception, match=r"1 of 3 entries failed"):
        demo.infer(tmp_path / "model", paths, tmp_path / "out", num_frames=8)


def test_http_client_request_lines_are_silenced():
    from evqa.cli.main import QUIET_LOGGERS, configure_logging

    configure_logging()
    for name in ("httpx", "openai", "google_genai"):
        assert name in QUIET_LOGGERS
        assert not logging.getLogger(name).isEnabledFor(logging.INFO)


def test_upstream_scripts_show_info_lines_and_no_request_lines(synth, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from .conftest import API_KEY
    from .fake_api import FakeOpenAI

    script = Path(__file__).resolve().parents[2] / "benchmark/st_evidence_gen/gpt_st_evidence.py"
    out = tmp_path / "o3.json"
    with FakeOpenAI() as server:
        env = {**os.environ, "OPENAI_API_KEY": API_KEY, "OPENAI_BASE_URL": server.url + "/v1",
               "EVQA_SYNTH_ROOT": str(synth.root)}  # fmt: skip
        cmd = [sys.executable, str(script), "--model", "o3", "--output", str(out), "--no-progress"]
        first = subprocess.run(cmd + ["--limit", "2"], env=env, capture_output=True, text=True, timeout=120)
        second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0 and second.returncode == 0, second.stderr
    assert (
        "INFO evqa.baselines.benchmarks: no benchmark files given: using the synthetic benchmark"
        in first.stderr
    )
    assert f"wrote {out} (2 done, 0 failed, 0 resumed)" in first.stderr
    assert "2 of 6 entries already finished, 4 to run" in second.stderr
    assert "HTTP Request" not in first.stderr + second.stderr
