"""Acceptance 2: save_pretrained / from_pretrained round-trip, Auto-class registration, strict loading."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoConfig, AutoModelForImageTextToText

from evqa.errors import ModelError
from evqa.model import EvqaConfig, EvqaForConditionalGeneration, load_model, save_model
from tests.model.conftest import training_batch


@pytest.fixture(scope="module")
def saved(tiny, tmp_path_factory):
    model, processor = tiny
    return save_model(model, processor, tmp_path_factory.mktemp("ckpt") / "tiny")


def _weights_file(folder):
    files = sorted(folder.glob("*.safetensors"))
    assert len(files) == 1
    return files[0]


def test_round_trip_gives_identical_outputs(tiny, saved):
    model, processor = tiny
    loaded, loaded_processor = load_model(saved)
    batch = training_batch(processor)
    with torch.no_grad():
        a, b = model(**batch), loaded(**batch)
    assert torch.equal(a.logits, b.logits)
    assert torch.allclose(a.mask_loss, b.mask_loss, rtol=0, atol=1e-6)
    # SAM2's convolutions are not bit-reproducible across calls on CPU; 1e-6 is far below any mask change
    assert all(
        torch.allclose(x, y, rtol=0, atol=1e-6) for x, y in zip(a.pred_masks, b.pred_masks, strict=True)
    )
    assert loaded_processor.to_dict() == processor.to_dict()
    assert loaded_processor.token_ids == processor.token_ids


def test_auto_classes_load_the_checkpoint(saved):
    config = AutoConfig.from_pretrained(saved)
    assert isinstance(config, EvqaConfig) and config.model_type == "evqa"
    assert config.seg_token_id >= 0 and config.sam2_image_size == 128
    model = AutoModelForImageTextToText.from_pretrained(saved)
    assert type(model) is EvqaForConditionalGeneration


def test_missing_key_raises_unless_allowed(saved, tmp_path):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    for item in saved.iterdir():
        (folder / item.name).write_bytes(item.read_bytes())
    weights = load_file(_weights_file(folder))
    del weights["seg_head.mlp.0.weight"]
    save_file(weights, _weights_file(folder), metadata={"format": "pt"})
    with pytest.raises(ModelError, match=r"missing keys: \['seg_head.mlp.0.weight'\]"):
        load_model(folder)
    model, _ = load_model(folder, allow_missing=True)
    assert model.seg_head.mlp[0].weight.shape[0] == model.config.text_config.hidden_size


def test_unexpected_key_raises(saved, tmp_path):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    for item in saved.iterdir():
        (folder / item.name).write_bytes(item.read_bytes())
    weights = load_file(_weights_file(folder))
    weights["seg_head.extra.weight"] = torch.zeros(2)
    save_file(weights, _weights_file(folder), metadata={"format": "pt"})
    with pytest.raises(ModelError, match=r"unexpected keys: \['seg_head.extra.weight'\]"):
        load_model(folder)


def test_folder_without_config_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="no config.json"):
        load_model(tmp_path)
