"""Every transformers adapter end to end on a tiny random checkpoint saved to a temporary folder: the
checkpoint's processor loads without a video processor, frames go in with their times, batches and single
requests agree, and the runner writes a complete prediction file."""

import json

import numpy as np
import pytest

from evqa.baselines.base import Request
from evqa.baselines.registry import build_model
from evqa.cli.main import run_command

from . import tiny_vlms

ARCHITECTURES = [
    ("qwen2_5_vl", tiny_vlms.qwen2_5_vl),
    ("qwen3_vl", tiny_vlms.qwen3_vl),
    ("internvl3_5", tiny_vlms.internvl),
    ("llava_ov_1_5", tiny_vlms.llava_onevision),
    ("videollama3", tiny_vlms.videollama3),
]


@pytest.mark.parametrize(("adapter", "build"), ARCHITECTURES, ids=[a for a, _ in ARCHITECTURES])
def test_runner_end_to_end_on_a_tiny_checkpoint(adapter, build, synth_env, tmp_path):
    checkpoint = build(tmp_path / "ckpt")
    out = tmp_path / "pred.json"
    argv = [
        "--model",
        checkpoint,
        "--adapter",
        adapter,
        "--limit",
        "3",
        "--batch-size",
        "2",
        "--max-new-tokens",
        "4",
        "--max-size",
        "64",
        "--output",
        str(out),
        "--no-progress",
    ]
    assert run_command("infer", argv) == 0
    preds = json.loads(out.read_text())
    assert len(preds) == 3
    for record in preds.values():
        assert record["error"] is None
        assert isinstance(record["raw_response"], str)
        assert set(record["parsed_response"]) == {"answer", "segments", "referring_expressions"}
        meta = record["meta"]
        assert meta["adapter"] == adapter and meta["device"] == "cpu" and meta["dtype"] == "float32"
        assert meta["timestamps"] == [float(t) for t in range(len(meta["frames"]))]
        assert meta["usage"]["prompt_tokens"] > 20 * len(meta["frames"]) / 10
        assert 1 <= meta["usage"]["completion_tokens"] <= 4
    assert sorted(r["meta"]["batch_size"] for r in preds.values()) == [1, 2, 2]


def test_batched_and_single_requests_agree_and_frames_carry_their_times(tmp_path):
    model = build_model("qwen2_5_vl", tiny_vlms.qwen2_5_vl(tmp_path / "ckpt"))
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (3, 48, 64, 3), dtype=np.uint8)
    options = (("A", rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)),)
    first = Request("e1", "Which option?", frames, np.array([0.0, 0.5, 1.0]), max_new_tokens=5)
    second = Request(
        "e2",
        "And now?",
        frames[:2],
        np.array([2.0, 3.0]),
        images=options,
        max_new_tokens=5,
        history=(("Which option?", "A"),),
    )
    batched = model.generate_batch([first, second])
    assert [r.text for r in batched] == [model.generate(first).text, model.generate(second).text]
    messages, images = model.messages(second)
    labels = [p["text"] for p in messages[0]["content"] if p["type"] == "text"]
    assert labels[1:4] == ["Frame at 2.0 s:", "Frame at 3.0 s:", "Image A:"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert len(images) == 3 and images[2].size == (40, 40)
    text = model.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert text.count("<|image_pad|>") == 3


def test_a_missing_checkpoint_is_a_model_error(tmp_path):
    from evqa.errors import ModelError

    with pytest.raises(ModelError, match="cannot load qwen3_vl checkpoint"):
        build_model("qwen3_vl", str(tmp_path / "nowhere"))
