"""Acceptance 1: forward + backward of the tiny model; every trainable part gets a gradient; a mask loss on
a frame after the prompted one reaches the prompted frame's `seg_head` through SAM2 memory."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from evqa.errors import InputError
from evqa.model import apply_lora, parameter_groups
from evqa.prompts import MEM_TOKEN, REF_TOKEN
from tests.model.conftest import synthetic_clip, training_batch


def test_forward_returns_all_loss_terms(tiny):
    model, processor = tiny
    batch = training_batch(processor)
    with torch.no_grad():
        out = model(**batch)
    assert set(out.mask_loss_terms) == {"focal", "dice", "iou", "object_score"}
    weights = {"focal": 20.0, "dice": 1.0, "iou": 1.0, "object_score": 1.0}
    expected_mask = sum(weights[k] * v for k, v in out.mask_loss_terms.items())
    assert torch.allclose(out.mask_loss, expected_mask)
    assert torch.allclose(out.loss, out.lm_loss + out.mask_loss)
    # random init: LM loss is near log(vocab), every term finite
    assert abs(out.lm_loss.item() - math.log(model.config.text_config.vocab_size)) < 1.5
    assert out.logits.shape[:2] == batch["input_ids"].shape
    side = model.config.sam2_image_size
    assert [tuple(m.shape) for m in out.pred_masks] == [(8, side, side)] * 2


def test_every_trainable_part_gets_a_gradient(fresh_tiny):
    model, processor = fresh_tiny
    refs = [[{"time": 2.0, "box": [0.1, 0.2, 0.4, 0.6]}], [{"time": 3.0, "point": [0.5, 0.5]}]]
    batch = training_batch(processor, prompt_suffix=f" Track {REF_TOKEN} near {MEM_TOKEN}.", ref_prompts=refs)
    frames, _, masks = synthetic_clip(start=2)
    model = apply_lora(model, r=4, alpha=8, dropout=0.0)
    model.train()
    # <|mem|>: a region on the first temporal group of each video (one <|mem|> token per sample)
    refer = []
    for grid in batch["video_grid_thw"]:
        region = torch.zeros(int(grid[0]), 1, int(grid[1]) // 2, int(grid[2]) // 2, dtype=torch.bool)
        region[0, 0, :2, :2] = True
        refer.append(region)
    batch["refer_mask"] = refer
    out = model(**batch)
    out.loss.backward()
    groups = parameter_groups(model)
    names = {id(p): n for n, p in model.named_parameters()}
    # the `<|ref|>` prompt encoder's mask path is unused (UniPixel prompts it with points and boxes only)
    unused = ("ref_encoder.prompt.mask_embed.", "ref_encoder.prompt.no_mask_embed.")
    no_grad = [names[id(p)] for g in groups.values() for p in g if p.grad is None]
    assert [n for n in no_grad if unused[0] not in n and unused[1] not in n] == []

    def grad_norm(fragment):
        return sum(
            float(p.grad.abs().sum())
            for n, p in model.named_parameters()
            if fragment in n and p.grad is not None
        )

    for part in ("language_model", "visual"):  # LoRA B matrices (A gets zero grad while B is zero at init)
        assert (
            grad_norm(
                f"{part}.layers.0.self_attn.q_proj.lora_B"
                if part == "language_model"
                else "visual.blocks.0.attn.qkv.lora_B"
            )
            > 0
        )
    for part in (
        "seg_head",
        "ref_encoder",
        "mem_proj",
        "sam2.mask_decoder",
        "sam2.memory_attention",
        "sam2.memory_encoder",
    ):
        assert grad_norm(part) > 0, part
    frozen = [n for n, p in model.named_parameters() if "sam2.vision_encoder" in n and p.requires_grad]
    assert frozen == []
    assert frames.shape == (8, 96, 128, 3) and masks.any()


def test_later_frame_mask_loss_moves_seg_head(fresh_tiny):
    """Only frame 6 is annotated, frame 0 is prompted: its seg_head changes only through SAM2 memory."""
    model, processor = fresh_tiny
    valid = np.zeros(8, dtype=bool)
    valid[6] = True
    batch = training_batch(processor, mask_valid=[valid, valid])
    batch["prompt_frames"] = torch.tensor([0, 0])
    model.train()
    optimizer = torch.optim.SGD(model.seg_head.parameters(), lr=1.0)
    before = [p.detach().clone() for p in model.seg_head.parameters()]
    out = model(**batch)
    out.mask_loss.backward()
    assert sum(float(p.grad.abs().sum()) for p in model.seg_head.parameters()) > 0
    optimizer.step()
    after = list(model.seg_head.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))


def test_no_annotated_frame_means_no_mask_loss(tiny):
    model, processor = tiny
    none = np.zeros(8, dtype=bool)
    batch = training_batch(processor, mask_valid=[none, none])
    with torch.no_grad():
        out = model(**batch)
    assert all(float(v) == 0.0 for v in out.mask_loss_terms.values())


def test_ref_count_mismatch_is_an_error(tiny):
    model, processor = tiny
    batch = training_batch(
        processor, prompt_suffix=f" {REF_TOKEN}", ref_prompts=[[{"time": 1.0, "point": [0.5, 0.5]}]] * 2
    )
    batch["ref_boxes"] = [batch["ref_boxes"][0], batch["ref_boxes"][1][:0]]
    batch["ref_times"] = [batch["ref_times"][0], batch["ref_times"][1][:0]]
    with pytest.raises(InputError, match="field 'ref_boxes': 2 <\\|ref\\|> tokens in input_ids but 1"):
        model(**batch)
