"""`evqa demo --backbone qwen3_vl`: the Qwen3-VL recipe reaches training and inference (stages stubbed out
here; the full run is the slow demo, measured in README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evqa.cli.demo import build_parser
from evqa.errors import ConfigError
from evqa.training import demo
from evqa.training.config import parse_config


def test_backbones_and_their_training_config():
    assert build_parser("evqa demo").parse_args([]).backbone == "qwen2_5_vl"
    assert build_parser("evqa demo").parse_args(["--backbone", "qwen3_vl"]).backbone == "qwen3_vl"
    model, data, _ = parse_config(demo.DEMO_CONFIG, list(demo.backbone_of("qwen3_vl").overrides))
    assert (model.preset, data.sample_type, data.num_frames) == ("qwen3vl-tiny", "segments", 16)
    assert demo.backbone_of("qwen2_5_vl").overrides == ()
    with pytest.raises(ConfigError, match="unknown demo backbone 'llama'"):
        demo.backbone_of("llama")


@pytest.mark.parametrize(
    ("backbone", "sampling"),
    [("qwen2_5_vl", {"num_frames": 8}), ("qwen3_vl", {"num_frames": None, "fps": 6.0, "max_frames": 16})],
)
def test_run_demo_passes_the_backbone_recipe(monkeypatch, tmp_path, backbone, sampling):
    calls = {}

    class Paths:
        root = tmp_path

    monkeypatch.setattr("evqa.data.synth.ensure_synth", lambda root, progress: Paths())

    def train(paths, out, config, overrides, sources):
        calls["overrides"] = overrides
        return Path(out)

    def infer(model_dir, paths, out, **options):
        calls["infer"] = options
        return out / "predictions.json", out / "pred_masks"

    monkeypatch.setattr(demo, "train_model", train)
    monkeypatch.setattr(demo, "infer", infer)
    monkeypatch.setattr(demo, "score", lambda *args: {"qa_metrics": {"accuracy": 1.0}})
    monkeypatch.setattr(demo, "baseline_results", lambda paths: {})
    demo.run_demo(tmp_path / "out", data_root=None, backbone=backbone, overrides=["training.max_steps=3"])
    assert calls["overrides"] == [*demo.backbone_of(backbone).overrides, "training.max_steps=3"]
    assert calls["infer"] == sampling
    assert (tmp_path / "out" / "demo_results.json").is_file()
