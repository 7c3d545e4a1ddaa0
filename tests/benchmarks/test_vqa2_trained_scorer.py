"""The VQA² scoring path is real: a tiny Qwen2.5-VL fine-tuned with `evqa train` (model.kind hf_vlm) on
synthetic clips of known quality scores held-out synthetic clips with SRCC >= 0.8 against their MOS through
`evqa infer` / `evqa eval`, while the same untrained checkpoint's score is unrelated to quality."""

import json

import pytest
import yaml

from evqa.baselines.level_scoring import level_token_ids
from evqa.benchmarks.vqa2_synth import write_synthetic, write_training_jsonl
from evqa.cli.main import run_command
from evqa.model.tokenizer import build_tiny_tokenizer

# the degradations a 2-layer, 32-wide model learns from one frame in a few hundred steps: both remove the
# clips' fixed fine pattern (noise, which adds energy, and frame drops, which need several frames, are not)
DEGRADATIONS = ("blur", "blockiness")
TRAINING = {"max_steps": 400, "per_device_train_batch_size": 8, "learning_rate": 3e-3, "warmup_steps": 0,
            "lr_scheduler_type": "constant", "logging_steps": 50, "save_steps": 100000,
            "dataloader_num_workers": 0, "disable_tqdm": True, "seed": 0, "report_to": "none"}  # fmt: skip


def _srcc(tmp_path, data, model, name):
    pred = tmp_path / f"{name}.json"
    assert run_command("infer", ["--benchmark", "vqa2_scoring", "--data-dir", str(data), "--adapter", "qwen2_5_vl",
                                 "--model", model, "--output", str(pred), "--no-progress", "--num_frames", "1",
                                 "--batch-size", "8"]) == 0  # fmt: skip
    assert run_command("eval", ["--benchmark", "vqa2_scoring", "--data-dir", str(data), "--pred_file", str(pred)]) == 0  # fmt: skip
    summary = json.loads((tmp_path / f"{name}.summary.json").read_text())
    assert summary["counts"]["scored"] == summary["counts"]["n"]
    return summary["metrics"]["SRCC"], {k: v["SRCC"] for k, v in summary["breakdowns"]["dataset"].items()}


@pytest.mark.slow
def test_a_tiny_scorer_trained_with_evqa_train_ranks_held_out_videos(tmp_path):
    train = tmp_path / "train"
    labels = write_synthetic(train / "vqa2", seed=0, num_items=200, degradations=DEGRADATIONS)
    words = level_token_ids(build_tiny_tokenizer())[
        "words"
    ]  # the tokens the scorer reads are the trained ones
    jsonl = write_training_jsonl(labels, train / "vqa2" / "quality.jsonl", words=words)
    held_out = tmp_path / "held_out"
    write_synthetic(held_out / "vqa2", seed=1, num_items=40, degradations=DEGRADATIONS)
    out = tmp_path / "run"
    config = {
        "model": {"kind": "hf_vlm", "tiny": "qwen2_5_vl", "finetune": "full", "train_vision": True,
                  # the 64 px clips at 112 px: 8 x 8 patches of 14 px per frame instead of 4 x 4
                  "image_processor": {"size": {"shortest_edge": 112 * 112, "longest_edge": 112 * 112}}},
        "data": {"sources": [{"type": "video_qa", "jsonl": str(jsonl)}], "num_frames": 1, "max_size": 64},
        "training": {**TRAINING, "output_dir": str(out)},
    }  # fmt: skip
    (tmp_path / "quality.yaml").write_text(yaml.safe_dump(config))
    assert run_command("train", ["--config", str(tmp_path / "quality.yaml")]) == 0
    trained, trained_by = _srcc(tmp_path, held_out, str(out), "trained")
    untrained, untrained_by = _srcc(tmp_path, held_out, str(out / "tiny_base"), "untrained")
    print(f"held-out SRCC: trained {trained:.3f} {trained_by}, untrained {untrained:.3f} {untrained_by}")
    assert trained >= 0.8 and min(trained_by.values()) >= 0.75
    assert abs(untrained) < 0.3
