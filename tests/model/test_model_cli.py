"""`evqa model init` writes a loadable checkpoint; `evqa predict` prints the answer and writes every mask."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evqa.cli.main import main
from evqa.data.masks import read_mask_png
from evqa.data.video import write_frame_folder
from evqa.model import EvqaForConditionalGeneration, load_model
from tests.model.conftest import CANDIDATES, synthetic_clip


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "tiny"
    assert main(["model", "init", "--preset", "tiny", "--out", str(out)]) == 0
    return out


def test_model_init_writes_config_weights_and_tokenizer(checkpoint):
    names = {p.name for p in checkpoint.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "evqa_processor_config.json"} <= names
    assert json.loads((checkpoint / "config.json").read_text())["model_type"] == "evqa"
    model, processor = load_model(checkpoint)
    assert isinstance(model, EvqaForConditionalGeneration)
    assert processor.token_ids["seg"] == model.config.seg_token_id


def test_predict_writes_a_mask_for_every_frame(checkpoint, tmp_path, capsys):
    frames, _, _ = synthetic_clip(num_frames=10, size=(72, 96), fps=6.0)
    video = tmp_path / "frames"
    write_frame_folder(video, frames)
    out = tmp_path / "pred"
    argv = ["predict", "--model", str(checkpoint), "--video", str(video), "--question", "Which object moves?"]
    argv += ["--options", *CANDIDATES, "--output-dir", str(out), "--max-new-tokens", "8"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "answer: " in printed and "segments: " in printed
    masks = sorted((out / "masks").glob("*.png"))
    assert [m.name for m in masks] == [f"{i:05d}.png" for i in range(10)]
    assert read_mask_png(masks[0]).shape == (72, 96)
    record = json.loads((out / "prediction.json").read_text())
    assert set(record) >= {"answer", "segments", "raw_response", "meta"}
    assert np.asarray(record["meta"]["frames"]).min() == 0


def test_predict_missing_video_is_a_one_line_error(checkpoint, tmp_path, capsys):
    argv = ["predict", "--model", str(checkpoint), "--video", str(tmp_path / "nope.mp4"), "--question", "Q"]
    argv += ["--options", "a", "b", "--output-dir", str(tmp_path / "o")]
    assert main(argv) == 2
    assert "nope.mp4" in capsys.readouterr().err


def test_unknown_preset_is_rejected_by_the_parser(capsys):
    with pytest.raises(SystemExit):
        main(["model", "init", "--preset", "13b", "--out", "x"])
    assert "invalid choice" in capsys.readouterr().err


def test_every_preset_can_be_initialised_from_the_cli(tmp_path):
    from evqa.cli.model import PRESETS as CLI_PRESETS
    from evqa.model.presets import PRESETS

    assert CLI_PRESETS == PRESETS
    out = tmp_path / "qwen3"
    assert main(["model", "init", "--preset", "qwen3vl-tiny", "--out", str(out)]) == 0
    assert json.loads((out / "config.json").read_text())["model_type"] == "evqa_qwen3_vl"
    model, _ = load_model(out)
    assert type(model).__name__ == "EvqaQwen3VLForConditionalGeneration"
