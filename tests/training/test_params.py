"""Acceptance 4: parameter groups and learning rates, frozen parts stay frozen, LoRA merges to the same outputs."""

from pathlib import Path

import pytest
import torch

from evqa.model import apply_lora, build_model, merge_lora, parameter_groups
from evqa.training.arguments import TrainingArguments
from evqa.training.collator import EvqaTrainCollator
from evqa.training.mixture import build_mixture
from evqa.training.trainer import EvqaTrainer, group_of, optimizer_groups

FIX = Path(__file__).parents[1] / "fixtures" / "training"


@pytest.fixture(scope="module")
def lora_setup():
    model, processor = build_model("tiny", seed=0)
    model = apply_lora(model, r=8, alpha=16, dropout=0.1)
    dataset = build_mixture([{"type": "mevis", "root": str(FIX / "mevis"), "repeat": 4}], num_frames=2)
    return model, processor, dataset


def _args(tmp_path, **kw):
    return TrainingArguments(output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=2,
                             report_to="none", disable_tqdm=True, **kw)  # fmt: skip


def test_groups_and_learning_rates(lora_setup, tmp_path):
    model, _, _ = lora_setup
    groups = optimizer_groups(model, _args(tmp_path))
    by_lr: dict[float, int] = {}
    for group in groups:
        by_lr[group["lr"]] = by_lr.get(group["lr"], 0) + len(group["params"])
    expected = {name: len(params) for name, params in parameter_groups(model).items()}
    assert by_lr == {2e-5: expected["lora"] + expected["heads"], 5e-6: expected["sam2"]}
    assert all(v > 0 for v in expected.values())
    in_groups = {id(p) for g in groups for p in g["params"]}
    assert all(p.requires_grad for g in groups for p in g["params"])
    assert not any(id(p) in in_groups for p in model.parameters() if not p.requires_grad)
    custom = {g["lr"] for g in optimizer_groups(model, _args(tmp_path, head_lr=1e-4, sam2_lr=3e-6))}
    assert custom == {2e-5, 1e-4, 3e-6}


def test_group_of_names():
    assert (
        group_of("base_model.model.model.language_model.layers.0.self_attn.q_proj.lora_A.default.weight")
        == "lora"
    )
    assert group_of("base_model.model.seg_head.proj.weight") == "heads"
    assert group_of("sam2.mask_decoder.iou_prediction_head.proj_in.weight") == "sam2"
    assert group_of("model.language_model.embed_tokens.weight") == "base"


def test_training_moves_trainable_weights_only_and_lora_merges(lora_setup, tmp_path):
    model, processor, dataset = lora_setup
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainer = EvqaTrainer(model=model, args=_args(tmp_path, learning_rate=5e-2, sam2_lr=2e-2, save_strategy="no"),
                          train_dataset=dataset, data_collator=EvqaTrainCollator(processor))  # fmt: skip
    trainer.train()
    assert {g["initial_lr"] for g in trainer.optimizer.param_groups} == {5e-2, 2e-2}
    changed = {n for n, p in model.named_parameters() if not torch.equal(p.detach(), before[n])}
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen and not (changed & frozen), sorted(changed & frozen)[:3]
    assert any("lora_B" in n for n in changed) and any(
        n.startswith("base_model.model.sam2.mask_decoder") for n in changed
    )
    assert not any(".vision_encoder." in n for n in changed)  # SAM2's image encoder is frozen

    batch = EvqaTrainCollator(processor)([dataset[i] for i in range(2)])
    model.eval()
    with torch.no_grad():
        adapted = model(**batch)
        merged_model = merge_lora(model)
        merged = merged_model(**batch)
    torch.testing.assert_close(merged.logits, adapted.logits, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(merged.lm_loss, adapted.lm_loss, atol=1e-5, rtol=1e-5)


def test_mask_steps_train_on_their_own_thread_count(monkeypatch, tmp_path):
    """`mask_step_threads` holds for the step (forward and backward) of a batch with mask targets only, and
    the previous setting comes back even when the step fails."""
    seen = []

    def step(self, model, inputs, num_items_in_batch=None):
        seen.append(torch.get_num_threads())
        if inputs.get("fail"):
            raise RuntimeError("step failed")
        return torch.tensor(0.0)

    monkeypatch.setattr("transformers.Trainer.training_step", step)
    trainer = EvqaTrainer.__new__(EvqaTrainer)  # the step reads only `args`
    trainer.args = TrainingArguments(output_dir=str(tmp_path), mask_step_threads=2)
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        trainer.training_step(None, {"mask_targets": [None, torch.zeros(2, 4, 4)]})
        trainer.training_step(None, {"mask_targets": [None, None]})
        trainer.training_step(None, {"input_ids": torch.zeros(1, 3)})
        with pytest.raises(RuntimeError, match="step failed"):
            trainer.training_step(None, {"mask_targets": [torch.zeros(2, 4, 4)], "fail": True})
        assert seen == [2, 1, 1, 2] and torch.get_num_threads() == 1
        trainer.args = TrainingArguments(output_dir=str(tmp_path))  # 0: the setting is left alone
        trainer.training_step(None, {"mask_targets": [torch.zeros(2, 4, 4)]})
        assert seen[-1] == 1
    finally:
        torch.set_num_threads(previous)
    with pytest.raises(ValueError, match="mask_step_threads must be >= 0"):
        TrainingArguments(output_dir=str(tmp_path), mask_step_threads=-1)
