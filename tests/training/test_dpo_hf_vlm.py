"""DPO of a plain VLM (`model.kind: hf_vlm`, `training.stage: dpo`): correctness pairs from a video-QA JSONL,
policy from an SFT adapter with the same adapter as reference, a few steps on a tiny Qwen2.5-VL."""

import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from evqa.errors import ConfigError
from evqa.training.config import parse_config
from evqa.training.dpo_hf_vlm import build_vlm_dpo_trainer
from evqa.training.main import main
from evqa.training.pairs import build_video_qa_pairs, read_pairs, write_pairs

from .hf_vlm_fixtures import logged_losses, tiny_checkpoint, toy_jsonl, write_config

ROOT = Path(__file__).parents[2]
DATA = {"num_frames": 2, "max_size": 64}


def test_video_qa_pairs_are_correctness_only_with_the_rationale_kept():
    pairs = build_video_qa_pairs(toy_jsonl())
    assert len(pairs) == 12 and {p["source"] for p in pairs} == {"correctness"}
    by_id = {p["entry_id"]: p for p in pairs}
    assert by_id["open-0"]["chosen"] == "red" and by_id["open-0"]["rejected"] in {"green", "blue", "yellow"}
    assert by_id["mcq-1"]["chosen"] == "B" and by_id["mcq-1"]["rejected"] in {"A", "C", "D"}
    why = by_id["why-2"]
    assert why["chosen"] == "Reasoning: Every frame is blue.\nFinal Answer: blue"
    assert why["rejected"].startswith("Reasoning: Every frame is blue.\nFinal Answer: ")
    assert why["rejected"] != why["chosen"] and Path(why["video"]).is_file()
    assert all(p["prompt"] and p["chosen_masks"] is None for p in pairs)


@pytest.fixture
def sft_adapter(tmp_path):
    """An 'SFT' LoRA adapter (non-zero B) of the tiny Qwen2.5-VL, as `evqa train` saves one."""
    from evqa.training.hf_vlm.arguments import HfVlmModelArguments, HfVlmTrainingArguments
    from evqa.training.hf_vlm.model import build_vlm

    base = tiny_checkpoint("qwen2_5_vl")
    args = HfVlmModelArguments(base_model=base, lora_r=8, lora_alpha=16)
    model, _ = build_vlm(args, base, HfVlmTrainingArguments(output_dir=str(tmp_path / "x"), report_to="none"))
    torch.manual_seed(1)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.05)
    model.save_pretrained(tmp_path / "sft")
    return base, tmp_path / "sft"


def _config(tmp_path, name, base, sft, pairs, **training):
    model = {"base_model": base, "sft_adapter": str(sft), "lora_r": 8, "lora_alpha": 16}
    options = {"stage": "dpo", "output_dir": str(tmp_path / name), "max_steps": 3, "learning_rate": 1e-2,
               "beta": 0.1, **training}  # fmt: skip
    return write_config(tmp_path / f"{name}.yaml", model=model, data={**DATA, "pairs": [str(pairs)]},
                        training=options)  # fmt: skip


def test_plain_vlm_dpo_from_an_sft_adapter_trains_against_the_same_adapter(sft_adapter, tmp_path):
    base, sft = sft_adapter
    pairs = tmp_path / "pairs.jsonl"
    write_pairs(pairs, build_video_qa_pairs(toy_jsonl()))
    config = _config(tmp_path, "run", base, sft, pairs, max_steps=6)
    trainer, _, _, _ = build_vlm_dpo_trainer(*parse_config(config))
    model = trainer.model
    assert set(model.peft_config) == {"default", "ref"}
    params = dict(model.named_parameters())
    saved = load_file(sft / "adapter_model.safetensors")
    for key, value in saved.items():  # policy and reference both start as the SFT adapter
        assert torch.equal(params[key.replace(".weight", ".default.weight")], value)
        assert torch.equal(params[key.replace(".weight", ".ref.weight")], value)
    assert all(".default." in n for n, p in params.items() if p.requires_grad)
    batch = trainer._prepare_inputs(trainer.data_collator([trainer.train_dataset[i] for i in range(2)]))
    assert batch["input_ids"].shape[0] == 4  # 2 chosen rows, then 2 rejected rows
    assert torch.equal(batch["pixel_values"][: len(batch["pixel_values"]) // 2],
                       batch["pixel_values"][len(batch["pixel_values"]) // 2 :])  # fmt: skip
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert losses[0] == pytest.approx(math.log(2), abs=1e-5) and losses[1] != pytest.approx(
        losses[0], abs=1e-4
    )
    seen = trainer.evaluate_pairs(trainer.train_dataset, 4)  # the pairs it trained on are now preferred
    assert seen["loss"] < math.log(2) - 0.01 and seen["reward_accuracy"] > 0.5, seen
    params = dict(model.named_parameters())
    assert all(torch.equal(params[k.replace(".weight", ".ref.weight")], v) for k, v in saved.items())
    assert any(not torch.equal(params[k.replace(".weight", ".default.weight")], v) for k, v in saved.items())


def test_plain_vlm_dpo_run_saves_the_adapter_and_resumes(sft_adapter, tmp_path):
    from transformers import TrainerCallback

    base, sft = sft_adapter
    pairs = tmp_path / "pairs.jsonl"
    write_pairs(pairs, build_video_qa_pairs(toy_jsonl()))
    steps = {"save_strategy": "steps", "save_steps": 1}
    main(["--config", str(_config(tmp_path, "full", base, sft, pairs, **steps))])
    reference = logged_losses(tmp_path / "full")
    assert (tmp_path / "full" / "adapter_model.safetensors").is_file() and not (
        tmp_path / "full" / "ref"
    ).exists()
    assert len(read_pairs(tmp_path / "full" / "dpo_pairs.jsonl")) == 12

    class Kill(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.global_step == 1:
                raise KeyboardInterrupt

    config = _config(tmp_path, "killed", base, sft, pairs, **steps)
    with pytest.raises(KeyboardInterrupt):
        main(["--config", str(config)], callbacks=[Kill()])
    main(["--config", str(config)])
    resumed = logged_losses(tmp_path / "killed")
    for step in (2, 3):
        assert resumed[step] == pytest.approx(reference[step], rel=1e-5, abs=1e-6)


def test_plain_vlm_dpo_refuses_what_it_cannot_train(sft_adapter, tmp_path):
    base, sft = sft_adapter
    pairs = tmp_path / "pairs.jsonl"
    write_pairs(pairs, build_video_qa_pairs(toy_jsonl()))
    with pytest.raises(ConfigError, match="DPO trains a LoRA adapter"):
        parse_config(write_config(tmp_path / "f.yaml", model={"base_model": base, "finetune": "full"},
                                  data={**DATA, "pairs": [str(pairs)]}, training={"stage": "dpo"}))  # fmt: skip
    config = write_config(tmp_path / "r.yaml", model={"base_model": base, "sft_adapter": str(sft), "lora_r": 4},
                          data={**DATA, "pairs": [str(pairs)]},
                          training={"stage": "dpo", "output_dir": str(tmp_path / "r")})  # fmt: skip
    with pytest.raises(ConfigError, match="does not fit this model's adapter"):
        build_vlm_dpo_trainer(*parse_config(config))
    masked = tmp_path / "masked.jsonl"
    record = {**read_pairs(pairs)[0], "chosen_masks": "m.json"}
    masked.write_text(json.dumps(record) + "\n")
    config = write_config(tmp_path / "m.yaml", model={"base_model": base}, data={**DATA, "pairs": [str(masked)]},
                          training={"stage": "dpo", "output_dir": str(tmp_path / "m")})  # fmt: skip
    with pytest.raises(ConfigError, match="are for the EVQA model"):
        build_vlm_dpo_trainer(*parse_config(config))


def test_shipped_plain_vlm_dpo_yaml_has_povqas_settings():
    model, data, training = parse_config(ROOT / "train/qwen2_5vl_7b_reasonvqa_qlora_dpo.yaml")
    sft = parse_config(ROOT / "train/qwen2_5vl_7b_reasonvqa_qlora_sft.yaml")
    assert (training.stage, training.beta, training.learning_rate, training.num_train_epochs) == (
        "dpo",
        0.3,
        5e-6,
        1,
    )
    assert data.negatives == ["correctness"] and not training.length_normalize
    assert model.sft_adapter == sft[2].output_dir and model.finetune == "qlora"
    for key in ("base_model", "lora_r", "lora_alpha", "lora_projector", "lora_target_modules"):
        assert getattr(model, key) == getattr(sft[0], key)  # the adapter must fit
    assert data.num_frames == sft[1].num_frames and data.max_size == sft[1].max_size
