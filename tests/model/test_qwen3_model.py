"""The Qwen3-VL backbone passes the Qwen2.5-VL backbone's contract: save/load round-trip through the Auto
classes, strict loading, every trainable part gets a gradient (DeepStack mergers included), and the
predictor returns a letter, segments and a mask for every frame."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoConfig, AutoModelForImageTextToText

from evqa.errors import InputError, ModelError
from evqa.model import (
    EvqaPredictor,
    EvqaQwen3VLConfig,
    EvqaQwen3VLForConditionalGeneration,
    EvqaQwen3VLProcessor,
    apply_lora,
    build_model,
    load_model,
    parameter_groups,
    save_model,
)
from evqa.prompts import LETTERS, MEM_TOKEN, REF_TOKEN
from tests.model.conftest import CANDIDATES, QUESTION, synthetic_clip, training_batch


@pytest.fixture(scope="module")
def qwen3_tiny():
    model, processor = build_model("qwen3vl-tiny", seed=0)
    return model.eval(), processor


@pytest.fixture(scope="module")
def saved(qwen3_tiny, tmp_path_factory):
    model, processor = qwen3_tiny
    return save_model(model, processor, tmp_path_factory.mktemp("ckpt") / "qwen3vl-tiny")


def _copy(folder, tmp_path):
    out = tmp_path / "ckpt"
    out.mkdir()
    for item in folder.iterdir():
        (out / item.name).write_bytes(item.read_bytes())
    files = sorted(out.glob("*.safetensors"))
    assert len(files) == 1
    return out, files[0]


def test_tiny_preset_builds_the_qwen3_backbone(qwen3_tiny):
    model, processor = qwen3_tiny
    assert type(model) is EvqaQwen3VLForConditionalGeneration and type(processor) is EvqaQwen3VLProcessor
    assert model.config.model_type == "evqa_qwen3_vl" and model.config.vision_config.patch_size == 16
    assert len(model.model.visual.deepstack_merger_list) == 1
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(2.05e6, rel=0.02)


def test_round_trip_gives_identical_outputs(qwen3_tiny, saved):
    model, processor = qwen3_tiny
    loaded, loaded_processor = load_model(saved)
    assert type(loaded) is EvqaQwen3VLForConditionalGeneration
    batch = training_batch(processor)
    with torch.no_grad():
        a, b = model(**batch), loaded(**batch)
    assert torch.equal(a.logits, b.logits)
    assert torch.allclose(a.mask_loss, b.mask_loss, rtol=0, atol=1e-6)
    assert all(
        torch.allclose(x, y, rtol=0, atol=1e-6) for x, y in zip(a.pred_masks, b.pred_masks, strict=True)
    )
    assert type(loaded_processor) is EvqaQwen3VLProcessor
    assert loaded_processor.to_dict() == processor.to_dict()


def test_auto_classes_load_the_checkpoint(saved):
    config = AutoConfig.from_pretrained(saved)
    assert isinstance(config, EvqaQwen3VLConfig) and config.sam2_image_size == 128
    assert config.seg_token_id >= 0 and config.track_mode == "bidirectional"
    assert type(AutoModelForImageTextToText.from_pretrained(saved)) is EvqaQwen3VLForConditionalGeneration


def test_missing_and_unexpected_keys_raise(saved, tmp_path):
    folder, weights_file = _copy(saved, tmp_path)
    weights = load_file(weights_file)
    del weights["model.visual.deepstack_merger_list.0.linear_fc1.weight"]
    weights["seg_head.extra.weight"] = torch.zeros(2)
    save_file(weights, weights_file, metadata={"format": "pt"})
    with pytest.raises(ModelError, match=r"missing keys: \['model.visual.deepstack_merger_list.0.linear_fc1"):
        load_model(folder)
    with pytest.raises(ModelError, match=r"unexpected keys: \['seg_head.extra.weight'\]"):
        load_model(folder)
    model, _ = load_model(folder, allow_missing=True)
    assert type(model) is EvqaQwen3VLForConditionalGeneration


def test_forward_loss_terms_and_shapes(qwen3_tiny):
    model, processor = qwen3_tiny
    batch = training_batch(processor)
    with torch.no_grad():
        out = model(**batch)
    weights = {"focal": 20.0, "dice": 1.0, "iou": 1.0, "object_score": 1.0}  # the tiny presets' EVQA weights
    assert torch.allclose(out.mask_loss, sum(weights[k] * v for k, v in out.mask_loss_terms.items()))
    assert torch.allclose(out.loss, out.lm_loss + out.mask_loss)
    assert abs(out.lm_loss.item() - np.log(model.config.text_config.vocab_size)) < 1.5
    assert out.logits.shape[:2] == batch["input_ids"].shape
    assert [tuple(m.shape) for m in out.pred_masks] == [(8, 128, 128)] * 2
    with pytest.raises(InputError, match="second_per_grid_ts is a Qwen2.5-VL input"):
        model(**batch, second_per_grid_ts=torch.ones(2))


def test_every_trainable_part_gets_a_gradient():
    model, processor = build_model("qwen3vl-tiny", seed=0)
    refs = [[{"time": 2.0, "box": [0.1, 0.2, 0.4, 0.6]}], [{"time": 3.0, "point": [0.5, 0.5]}]]
    batch = training_batch(processor, prompt_suffix=f" Track {REF_TOKEN} near {MEM_TOKEN}.", ref_prompts=refs)
    model = apply_lora(model, r=4, alpha=8, dropout=0.0)
    model.train()
    refer = []
    for grid in batch["video_grid_thw"]:
        region = torch.zeros(int(grid[0]), 1, int(grid[1]) // 2, int(grid[2]) // 2, dtype=torch.bool)
        region[0, 0, :2, :2] = True
        refer.append(region)
    batch["refer_mask"] = refer
    model(**batch).loss.backward()
    names = {id(p): n for n, p in model.named_parameters()}
    unused = ("ref_encoder.prompt.mask_embed.", "ref_encoder.prompt.no_mask_embed.")
    no_grad = [names[id(p)] for g in parameter_groups(model).values() for p in g if p.grad is None]
    assert [n for n in no_grad if not any(u in n for u in unused)] == []

    def grad_norm(fragment):
        return sum(float(p.grad.abs().sum()) for n, p in model.named_parameters()
                   if fragment in n and p.grad is not None)  # fmt: skip

    assert grad_norm("language_model.layers.0.self_attn.q_proj.lora_B") > 0
    assert grad_norm("visual.blocks.0.attn.qkv.lora_B") > 0
    for part in ("seg_head", "ref_encoder", "mem_proj", "sam2.mask_decoder", "sam2.memory_attention",
                 "sam2.memory_encoder"):  # fmt: skip
        assert grad_norm(part) > 0, part
    assert [n for n, p in model.named_parameters() if "sam2.vision_encoder" in n and p.requires_grad] == []


def test_full_training_reaches_deepstack_and_the_vision_tower():
    """Without LoRA (the demo's recipe) every weight trains: DeepStack's merger and the patch embedding too."""
    model, processor = build_model("qwen3vl-tiny", seed=0)
    model.train()
    model(**training_batch(processor)).loss.backward()
    grads = dict(model.named_parameters())
    for name in ("model.visual.deepstack_merger_list.0.linear_fc2.weight", "model.visual.patch_embed.proj.weight",
                 "model.visual.merger.linear_fc1.weight", "model.language_model.layers.1.mlp.down_proj.weight"):  # fmt: skip
        assert grads[name].grad is not None and float(grads[name].grad.abs().sum()) > 0, name


@pytest.fixture(scope="module")
def clip():
    frames, _, masks = synthetic_clip(num_frames=24, size=(90, 120), start=3, fps=6.0)
    return frames, masks


def test_predict_returns_letter_segments_and_all_masks(qwen3_tiny, clip):
    model, processor = qwen3_tiny
    frames, _ = clip
    predictor = EvqaPredictor(model, processor, fps=1.0, max_new_tokens=12, progress=False)
    pred = predictor.predict(frames, QUESTION, CANDIDATES, video_fps=6.0)
    assert pred.letter is None or pred.letter in LETTERS[: len(CANDIDATES)]
    assert pred.meta["answer_status"] in ("ok", "unparsable", "empty")
    assert pred.masks.shape == (24, 90, 120) and pred.masks.dtype == bool
    assert pred.frame_indices.tolist() == [0, 6, 12, 18] and pred.meta["timestamps"] == [0.0, 1.0, 2.0, 3.0]


def test_assemble_and_masks_follow_the_seg_state(qwen3_tiny, clip):
    model, processor = qwen3_tiny
    frames, _ = clip
    predictor = EvqaPredictor(model, processor, progress=False, chunk_frames=5)
    text = "Answer: B. Temporal Evidence: [[1.5, 3.0]]. Spatial Evidence: <|seg|>."
    gen = torch.Generator().manual_seed(0)
    h1, h2 = (torch.randn(model.config.text_config.hidden_size, generator=gen) for _ in range(2))
    pred = predictor.assemble(frames, np.array([0, 6, 12, 18]), text, CANDIDATES, h1, video_fps=6.0)
    assert pred.letter == "B" and pred.segments == [(1.5, 3.0)] and pred.meta["prompt_frame"] == 9
    assert np.array_equal(pred.masks, predictor.segment_video(frames, h1, 9, video_fps=6.0))
    assert (pred.masks != predictor.segment_video(frames, h2 * 4, 9, video_fps=6.0)).mean() > 0.001


def test_predict_batch_handles_videos_of_different_sizes(qwen3_tiny):
    model, processor = qwen3_tiny
    a, _, _ = synthetic_clip(num_frames=12, size=(64, 80), fps=6.0)
    b, _, _ = synthetic_clip(num_frames=18, size=(96, 128), fps=6.0)
    predictor = EvqaPredictor(model, processor, fps=2.0, max_new_tokens=4, progress=False)
    preds = predictor.predict_batch(
        [(a, QUESTION, CANDIDATES), (b, "What is red?", CANDIDATES)], video_fps=6.0
    )
    assert [p.masks.shape for p in preds] == [(12, 64, 80), (18, 96, 128)]
    assert [p.frame_indices.tolist() for p in preds] == [[0, 3, 6, 9], [0, 3, 6, 9, 12, 15]]
