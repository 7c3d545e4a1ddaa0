"""LoRA setup (what trains, parameter groups, merging) and SAM2's loss definitions on hand-made cases."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from evqa.errors import ModelError
from evqa.model import EvqaForConditionalGeneration, apply_lora, merge_lora, parameter_groups
from evqa.model.losses import dice_loss, mask_loss_terms, sigmoid_focal_loss
from tests.model.conftest import training_batch


def test_lora_groups_and_frozen_parts(fresh_tiny):
    model, _ = fresh_tiny
    peft_model = apply_lora(model, r=4, alpha=8, dropout=0.0)
    groups = parameter_groups(peft_model)
    assert all(groups[g] for g in ("lora", "heads", "sam2"))
    trainable = {n for n, p in peft_model.named_parameters() if p.requires_grad}
    assert not any("sam2.vision_encoder" in n for n in trainable)
    assert not any("embed_tokens" in n or n.endswith("lm_head.weight") for n in trainable)
    assert any("visual.blocks.0.attn.qkv.lora_A" in n for n in trainable)
    assert any("language_model.layers.1.mlp.down_proj.lora_B" in n for n in trainable)
    assert sum(len(g) for g in groups.values()) == len(trainable)
    with pytest.raises(ModelError, match="already has LoRA"):
        apply_lora(peft_model)


def test_merge_lora_keeps_outputs(fresh_tiny):
    model, processor = fresh_tiny
    peft_model = apply_lora(model, r=4, alpha=8, dropout=0.0)
    with torch.no_grad():  # move the adapters off zero so merging matters
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.02)
    batch = training_batch(processor)
    batch.pop("mask_targets")  # the LoRA'd layers are all in the LLM: compare its logits only
    peft_model.eval()
    with torch.no_grad():
        before = peft_model(**batch).logits
        merged = merge_lora(peft_model)
        after = merged(**batch).logits
    assert type(merged) is EvqaForConditionalGeneration
    assert torch.allclose(before, after, atol=1e-4)
    with pytest.raises(ModelError, match="no LoRA"):
        merge_lora(merged)


def test_focal_and_dice_on_hand_values():
    logits = torch.tensor([[0.0, 0.0]])
    targets = torch.tensor([[1.0, 0.0]])
    # p = 0.5 everywhere: ce = ln 2, (1 - p_t)^2 = 0.25, alpha 0.25 / 0.75 -> mean of 0.25*ln2*0.25, 0.75*ln2*0.25
    assert sigmoid_focal_loss(logits, targets).item() == pytest.approx(0.5 * (0.0625 + 0.1875) * math.log(2))
    # dice: 1 - (2*0.5 + 1) / (1.0 + 1 + 1)
    assert dice_loss(logits, targets).item() == pytest.approx(1 - 2 / 3)


def test_mask_loss_terms_perfect_prediction_and_absent_object():
    targets = torch.zeros(3, 8, 8, dtype=torch.bool)
    targets[1, 2:6, 2:6] = True
    logits = torch.where(targets, 30.0, -30.0)
    iou_pred = torch.tensor([0.0, 0.75, 0.0])
    obj = torch.tensor([-30.0, 30.0, -30.0])
    terms = mask_loss_terms(logits, iou_pred, obj, targets)
    assert terms["focal"].item() < 1e-10 and terms["dice"].item() < 1e-6
    assert terms["iou"].item() == pytest.approx(0.25)  # only frame 1 (object present): |0.75 - 1|
    assert terms["object_score"].item() < 1e-10
    valid = torch.tensor([True, False, True])  # object frame not annotated -> no mask terms
    terms = mask_loss_terms(logits, iou_pred, obj, targets, valid)
    assert terms["focal"].item() == 0.0 and terms["iou"].item() == 0.0
    expected = F.binary_cross_entropy_with_logits(torch.tensor([-30.0, -30.0]), torch.zeros(2))
    assert terms["object_score"].item() == pytest.approx(expected.item())
