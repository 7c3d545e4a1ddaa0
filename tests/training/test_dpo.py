"""The DPO stage: TRL's loss on the same log-probabilities, the pairs format and builder, the mask path,
the policy / reference set-up from an SFT adapter, held-out preference gains and kill-and-resume."""

import copy
import json
import math
from pathlib import Path

import pytest
import torch
import yaml
from transformers import TrainerCallback

from evqa.errors import ConfigError, DataError
from evqa.training.config import parse_config
from evqa.training.dpo import build_dpo_trainer, dpo_sigmoid_loss, pair_scores, sequence_logps
from evqa.training.dpo_data import DpoCollator, PairsDataset
from evqa.training.main import main
from evqa.training.pairs import (
    MAX_NEGATIVE_IOU,
    build_pairs,
    mask_overlap,
    read_pairs,
    segment_iou,
    shifted_segments,
    write_pairs,
)

ROOT = Path(__file__).parents[2]
HELD_OUT = {f"synth_train_{i:04d}_0" for i in range(45, 60)}  # the last 15 of 60 clips


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    """ST-Evidence-Synth instruct split of 60 clips (a few seconds to write)."""
    from evqa.data.synth import generate

    root = tmp_path_factory.mktemp("dpo") / "synth"
    generate(root, seed=0, num_train=60, num_test=1, score=False, progress=False)
    return root / "instruct"


def _qa_pairs(synth, **kw):
    return build_pairs(synth / "gen_qa/synth/st_evidence_synth.csv", synth / "videos", **kw)


def _mask_pairs(synth, **kw):
    return build_pairs(synth / "gen_mask/st_evidence.csv", synth / "videos", mask_dir=synth / "gen_mask/masks",
                       frames_dir=synth / "gen_mask/video_frames_6fps", **kw)  # fmt: skip


# ------------------------------------------------------------------ the loss is TRL's


@pytest.mark.parametrize(("loss_type", "length_normalize"), [("sigmoid", False), ("sigmoid_norm", True)])
def test_sigmoid_loss_equals_trl_dpo_trainer_on_the_same_log_probs(tmp_path, loss_type, length_normalize):
    from datasets import Dataset
    from transformers import Qwen2Config, Qwen2ForCausalLM
    from trl import DPOConfig, DPOTrainer

    from evqa.model.tokenizer import build_tiny_tokenizer

    tokenizer = build_tiny_tokenizer()
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=128)  # fmt: skip
    torch.manual_seed(0)
    policy = Qwen2ForCausalLM(config)
    reference = copy.deepcopy(policy)
    with torch.no_grad():  # a reference that differs from the policy, so the log-ratios are not zero
        for param in reference.parameters():
            param.add_(0.05 * torch.randn_like(param))
    data = Dataset.from_list([
        {"prompt": "What colour is the square?", "chosen": " Answer: B. Temporal Evidence: [[2.0, 5.0]].",
         "rejected": " Answer: D."},
        {"prompt": "Which shape moves?", "chosen": " Answer: A.",
         "rejected": " Answer: C. Temporal Evidence: [[0.0, 3.0]]."},
    ])  # fmt: skip
    args = DPOConfig(output_dir=str(tmp_path), beta=0.3, loss_type=[loss_type], report_to="none",
                     per_device_train_batch_size=2, use_cpu=True, max_length=None)  # fmt: skip
    trainer = DPOTrainer(model=policy, ref_model=reference, args=args, train_dataset=data,
                         processing_class=tokenizer)  # fmt: skip
    batch = trainer._prepare_inputs(trainer.data_collator([trainer.train_dataset[i] for i in range(2)]))
    trainer.model.eval()
    with torch.no_grad():
        trl_loss = float(trainer._compute_loss(trainer.model, batch, False))
        labels = batch["input_ids"].masked_fill(batch["completion_mask"] == 0, -100)
        inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
        ours_policy = sequence_logps(trainer.model(**inputs).logits, labels, length_normalize)
        ours_ref = sequence_logps(trainer.ref_model(**inputs).logits, labels, length_normalize)
        summed = sequence_logps(trainer.model(**inputs).logits, labels)
    losses, chosen, rejected = dpo_sigmoid_loss(
        ours_policy[:2], ours_policy[2:], ours_ref[:2], ours_ref[2:], 0.3
    )
    assert float(losses.mean()) == pytest.approx(trl_loss, rel=1e-5, abs=1e-6)
    assert abs(trl_loss - math.log(2)) > 1e-3  # not the trivial value every equal pair gives
    metrics = trainer._metrics["eval"]
    assert float(summed[:2].mean()) == pytest.approx(metrics["logps/chosen"][-1], rel=1e-5)
    if not length_normalize:  # TRL's rewards are beta * summed log-ratios
        assert float(chosen.mean()) == pytest.approx(metrics["rewards/chosen"][-1], rel=1e-4, abs=1e-6)
        assert float(rejected.mean()) == pytest.approx(metrics["rewards/rejected"][-1], rel=1e-4, abs=1e-6)


# ------------------------------------------------------------------ pairs: builder and format


def test_builder_makes_every_negative_kind_in_the_documented_format(synth, tmp_path):
    from evqa.data.video import video_info

    pairs = _mask_pairs(synth)
    kinds = {k: [p for p in pairs if p["source"] == k] for k in ("correctness", "time", "mask")}
    assert len(kinds["correctness"]) == 60 and len(kinds["mask"]) == 60
    assert 50 <= len(kinds["time"]) <= 60  # evidence covering most of a clip has no clear time negative
    keys = ["id", "source", "entry_id", "video", "frames", "timestamps", "prompt", "chosen", "rejected",
            "chosen_masks", "rejected_masks"]  # fmt: skip
    assert all(list(p) == keys for p in pairs)
    assert len({p["id"] for p in pairs}) == len(pairs)
    for p in kinds["correctness"]:
        letter = p["chosen"].split("Answer: ")[1][0]
        assert p["rejected"].split("Answer: ")[1][0] != letter
        assert p["rejected"].split(".", 1)[1] == p["chosen"].split(".", 1)[1]  # same segments and <|seg|>
        assert p["chosen"].endswith("Spatial Evidence: <|seg|>.") and "segment the evidence" in p["prompt"]
    for p in kinds["time"]:
        chosen = json.loads(p["chosen"].split("Temporal Evidence: ")[1].split("]].")[0] + "]]")
        rejected = json.loads(p["rejected"].split("Temporal Evidence: ")[1].split("]].")[0] + "]]")
        assert p["chosen"][:10] == p["rejected"][:10]  # the right letter
        assert segment_iou(chosen, rejected) < MAX_NEGATIVE_IOU
        duration = video_info(p["frames"]).duration  # moved to the start or the end of the clip
        assert rejected[0][0] == 0.0 or rejected[-1][1] == pytest.approx(duration, abs=0.051)
    for p in kinds["mask"]:
        assert p["chosen"] == p["rejected"] and p["rejected_masks"] != p["chosen_masks"]
        assert Path(p["frames"]).is_dir() and Path(p["rejected_masks"]).is_file()
        assert mask_overlap(p["chosen_masks"], p["rejected_masks"]) < MAX_NEGATIVE_IOU
    # text-only split: no masks, no <|seg|>; correctness-only is POVQA's setting
    qa = _qa_pairs(synth, negatives=["correctness"])
    assert {p["source"] for p in qa} == {"correctness"} and len(qa) == 60
    assert all(p["chosen_masks"] is None and "<|seg|>" not in p["chosen"] for p in qa)
    # JSONL round trip, and the negative filter of the reader
    path = tmp_path / "pairs.jsonl"
    assert write_pairs(path, pairs) == len(pairs)
    assert read_pairs(path) == pairs
    assert read_pairs(path, ["time"]) == kinds["time"]
    assert len(path.read_text().splitlines()) == len(pairs)


def test_shifted_segments_go_where_they_overlap_the_evidence_least():
    assert shifted_segments([(2.0, 5.0)], 6.0) == [(0.0, 3.0)]
    assert shifted_segments([(0.5, 2.0)], 8.0) == [(6.5, 8.0)]
    assert shifted_segments([(1.0, 2.0), (3.0, 4.0)], 10.0) == [
        (0.0, 1.0),
        (2.0, 3.0),
    ]  # together; a tie: start
    assert segment_iou([(0, 2)], [(1, 3)]) == pytest.approx(1 / 3)


def test_pairs_reader_names_the_line_and_field_of_a_bad_record(tmp_path):
    good = {"id": "a/correctness", "source": "correctness", "video": "v.mp4", "prompt": "q", "chosen": "A",
            "rejected": "B"}  # fmt: skip
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "id": "b", "rejected": ""}) + "\n")
    with pytest.raises(DataError, match=r"p\.jsonl: entry b: field 'rejected': missing"):
        read_pairs(path)
    path.write_text(json.dumps(good) + "\n" + json.dumps(good) + "\n")
    with pytest.raises(DataError, match="duplicate pair id"):
        read_pairs(path)
    path.write_text(json.dumps({**good, "source": "mask"}) + "\n")
    with pytest.raises(DataError, match="field 'chosen_masks': a mask pair needs both mask files"):
        read_pairs(path)
    path.write_text("{not json\n")
    with pytest.raises(DataError, match="entry line 1: not valid JSON"):
        read_pairs(path)
    with pytest.raises(ConfigError, match="unknown negative kind"):
        build_pairs(path, tmp_path, negatives=["shuffled"])


def test_dpo_pairs_command_writes_the_pairs_and_documents_every_flag(synth, tmp_path, capsys):
    import argparse

    from evqa.cli.dpo_pairs import build_parser
    from evqa.cli.main import main as evqa

    out = tmp_path / "pairs.jsonl"
    code = evqa(["dpo-pairs", "--csv", str(synth / "gen_qa/synth/st_evidence_synth.csv"), "--video-dir",
                 str(synth / "videos"), "--negatives", "correctness,time", "--wrong-options", "2", "--out", str(out)])  # fmt: skip
    assert code == 0
    pairs = read_pairs(out)
    assert sum(p["source"] == "correctness" for p in pairs) == 120
    assert f"{len(pairs)} pairs (correctness 120, time " in capsys.readouterr().out
    for action in build_parser("evqa dpo-pairs")._actions:
        if not isinstance(action, argparse._HelpAction):
            assert action.help
            if action.default is not None:
                assert f"default: {action.default}" in action.help
    assert (
        evqa(["dpo-pairs", "--csv", str(tmp_path / "none.csv"), "--video-dir", ".", "--out", str(out)]) == 2
    )
    assert "file not found" in capsys.readouterr().err


# ------------------------------------------------------------------ configs


def test_shipped_dpo_yamls_load_with_their_settings():
    _, data, training = parse_config(ROOT / "train/evqa_7b-base_stevidence_dpo.yaml")
    model = parse_config(ROOT / "train/evqa_7b-base_stevidence_dpo.yaml")[0]
    # POVQA's DPO: beta 0.3, lr 5e-6, 1 epoch, correctness-only negatives, policy from the SFT adapter
    assert (training.stage, training.beta, training.learning_rate, training.num_train_epochs) == (
        "dpo",
        0.3,
        5e-6,
        1,
    )
    assert data.negatives == ["correctness"] and not training.length_normalize
    assert model.sft_adapter == "work_dirs/7b/evqa_7b-base_mix_sft" and model.lora
    assert training.output_dir == "work_dirs/7b/evqa_7b-base_stevidence_dpo"
    model, data, training = parse_config(ROOT / "train/evqa_tiny_synth_dpo.yaml")
    assert model.preset == "tiny" and model.base_model == "work_dirs/tiny/evqa_tiny_synth_sft"
    assert [p["csv"] for p in data.pairs] == ["data/synth/instruct/gen_qa/synth/st_evidence_synth.csv",
                                              "data/synth/instruct/gen_mask/st_evidence.csv"]  # fmt: skip
    assert data.eval_pairs[0]["split"] == "test" and training.output_dir.endswith("evqa_tiny_synth_dpo")


def test_dpo_config_mistakes_are_config_errors(tmp_path):
    def write(**sections):
        path = tmp_path / "c.yaml"
        path.write_text(yaml.safe_dump(sections))
        return path

    with pytest.raises(ConfigError, match="unknown model.kind 'sam2'"):
        parse_config(write(model={"kind": "sam2"}, training={"stage": "dpo"}))
    with pytest.raises(ConfigError, match="reads data.pairs, not data.sources"):
        parse_config(write(data={"sources": [{"type": "mevis"}]}, training={"stage": "dpo"}))
    with pytest.raises(ConfigError, match="DPO trains a LoRA adapter"):
        parse_config(write(model={"lora": False}, training={"stage": "dpo"}))
    with pytest.raises(ConfigError, match="unknown training.stage 'ppo'"):
        parse_config(write(training={"stage": "ppo"}))
    with pytest.raises(ConfigError, match="negatives must be a non-empty subset"):
        parse_config(write(data={"negatives": ["wrong"]}, training={"stage": "dpo"}))
    with pytest.raises(ConfigError, match="beta must be positive"):
        parse_config(write(training={"stage": "dpo", "beta": 0}))


# ------------------------------------------------------------------ the mask path


def test_mask_pair_scores_are_token_log_probs_minus_the_sam2_mask_loss(synth):
    from evqa.model import apply_lora, build_model

    pairs = [p for p in _mask_pairs(synth, negatives=["mask"]) if p["entry_id"] == "synth_train_0003_0"]
    dataset = PairsDataset(pairs, num_frames=4, seed=0)
    item = dataset[0]
    assert (item["chosen"].frames == item["rejected"].frames).all()  # same frames on both sides
    assert (item["chosen"].mask_valid == item["rejected"].mask_valid).all() and item[
        "chosen"
    ].mask_valid.any()
    valid = item["chosen"].mask_valid
    assert (item["chosen"].mask_targets[valid] != item["rejected"].mask_targets[valid]).any()
    model, processor = build_model("tiny", "micro", seed=0)
    model = apply_lora(model, r=8, alpha=16, dropout=0.0)
    model.eval()
    collator = DpoCollator(processor, num_frames=4)
    batch = collator([item])
    with torch.no_grad():
        scores = pair_scores(model, batch, mask_weight=0.5)
    assert scores["logps"][0] == scores["logps"][1]  # same text: the token terms cancel
    with torch.no_grad():  # only the answer's logits are computed, and they give the full-logits values
        plain = {k: v for k, v in batch.items() if k not in ("labels", "mask_targets", "mask_valid")}
        full = sequence_logps(model(**plain).logits, batch["labels"])
    assert torch.allclose(scores["logps"], full, rtol=1e-5, atol=1e-4)
    assert torch.allclose(scores["scores"], scores["logps"] - 0.5 * scores["mask_losses"])
    assert scores["mask_losses"][0] != pytest.approx(float(scores["mask_losses"][1]), rel=1e-3)
    with torch.no_grad():  # each side's term is the model's own mask loss of that sample alone
        for side, name in enumerate(("chosen", "rejected")):
            single = processor.collate([collator.encode(item[name])])
            assert float(model(**single).mask_loss) == pytest.approx(
                float(scores["mask_losses"][side]), rel=1e-4
            )
    # the DPO loss of the pair reaches the adapters through the mask term
    model.train()
    with torch.no_grad():
        ref = pair_scores(model, batch)["scores"]
    policy = pair_scores(model, batch)["scores"]
    dpo_sigmoid_loss(policy[:1], policy[1:], ref[:1], ref[1:], 0.3)[0].mean().backward()
    grads = [p.grad for n, p in model.named_parameters() if "lora_B" in n and p.grad is not None]
    assert grads and sum(float(g.abs().sum()) for g in grads) > 0


# ------------------------------------------------------------------ policy, reference, training


def _dpo_config(path: Path, out: Path, pairs, eval_pairs=None, model=None, **training) -> Path:
    cfg = {
        "model": model or {"preset": "tiny", "sam2": "micro", "lora": True, "lora_r": 32, "lora_alpha": 64},
        "data": {"num_frames": 4, "pairs": [str(pairs)], "eval_pairs": [str(eval_pairs)] if eval_pairs else []},
        "training": {"stage": "dpo", "output_dir": str(out), "per_device_train_batch_size": 4, "logging_steps": 5,
                     "save_strategy": "no", "dataloader_num_workers": 0, "disable_tqdm": True, "seed": 0,
                     "warmup_steps": 0, **training},
    }  # fmt: skip
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.slow
def test_a_few_dpo_steps_raise_the_margin_and_preference_accuracy_on_held_out_pairs(synth, tmp_path):
    pairs = _qa_pairs(synth, negatives=["correctness", "time"])
    write_pairs(tmp_path / "train.jsonl", [p for p in pairs if p["entry_id"] not in HELD_OUT])
    write_pairs(tmp_path / "held.jsonl", [p for p in pairs if p["entry_id"] in HELD_OUT])
    config = _dpo_config(tmp_path / "c.yaml", tmp_path / "run", tmp_path / "train.jsonl", tmp_path / "held.jsonl",
                         max_steps=60, learning_rate=1e-3, beta=0.1)  # fmt: skip
    trainer, _, held = build_dpo_trainer(*parse_config(config))
    assert len(held) == 29 and len(trainer.train_dataset) == 86  # no held-out clip is trained on
    before = trainer.evaluate_pairs(held, 8)
    assert before["loss"] == pytest.approx(math.log(2), abs=1e-5)  # policy == reference at the start
    trainer.train()
    after = trainer.evaluate_pairs(held, 8)
    # measured (2 CPU cores, ~40 s): the policy's own margin s(chosen) - s(rejected) -0.43 -> 2.28, its accuracy
    # 0.48 -> 0.66; implicit-reward margin 0 -> 0.27, accuracy 0.59; the held-out DPO loss stays ~log 2 (0.699)
    assert after["logp_margin"] > before["logp_margin"] + 1.0
    assert after["logp_accuracy"] >= before["logp_accuracy"] + 0.1
    assert after["reward_margin"] > 0.1 and after["reward_accuracy"] > 0.5


@pytest.fixture
def sft_adapter(tmp_path):
    """A base checkpoint and an 'SFT' LoRA adapter on it (adapter weights and a seg head that differ from
    the base), as an SFT run leaves them."""
    import safetensors.torch

    from evqa.model import apply_lora, build_model, save_model
    from evqa.training.trainer import TRAINABLE_FILE

    model, processor = build_model("tiny", "micro", seed=0)
    save_model(model, processor, tmp_path / "base")
    peft = apply_lora(model, r=8, alpha=16, dropout=0.0)
    torch.manual_seed(1)
    with torch.no_grad():
        for name, param in peft.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.05)
    peft.save_pretrained(tmp_path / "sft")
    head = {n: p.detach() + 0.01 for n, p in peft.named_parameters() if ".seg_head." in n}
    safetensors.torch.save_file(head, tmp_path / "sft" / TRAINABLE_FILE)
    return tmp_path / "base", tmp_path / "sft", head


def test_policy_starts_from_the_sft_adapter_and_the_reference_is_the_same_adapter(
    synth, sft_adapter, tmp_path
):
    import safetensors.torch

    base, sft, head = sft_adapter
    write_pairs(tmp_path / "p.jsonl", _qa_pairs(synth, negatives=["correctness"])[:8])
    model_cfg = {"preset": "tiny", "sam2": "micro", "base_model": str(base), "sft_adapter": str(sft)}
    config = _dpo_config(tmp_path / "c.yaml", tmp_path / "run", tmp_path / "p.jsonl", model=model_cfg,
                         max_steps=2, learning_rate=1e-3, logging_steps=1, per_device_train_batch_size=2)  # fmt: skip
    trainer, _, _ = build_dpo_trainer(*parse_config(config))
    model = trainer.model
    assert set(model.peft_config) == {"default", "ref"} and model.active_adapter == "default"
    params = dict(model.named_parameters())
    for name, value in head.items():  # the SFT run's non-adapter weights are loaded (and frozen)
        assert torch.equal(params[name], value) and not params[name].requires_grad
    trainable = [n for n, p in params.items() if p.requires_grad]
    assert trainable and all("lora_" in n and ".default." in n for n in trainable)
    # the base weights exist once: only the adapters are doubled
    base_count = sum(p.numel() for n, p in params.items() if "lora_" not in n)
    from evqa.model import load_model

    assert base_count == sum(p.numel() for p in load_model(str(base))[0].parameters())
    adapter = safetensors.torch.load_file(sft / "adapter_model.safetensors")
    lora = {n: p for n, p in params.items() if "lora_" in n}
    assert sum(p.numel() for p in lora.values()) == 2 * sum(v.numel() for v in adapter.values())
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert losses[0] == pytest.approx(math.log(2), abs=1e-5)  # policy == reference (the same SFT adapter)
    assert losses[1] != pytest.approx(math.log(2), abs=1e-4)  # the policy moved away from it
    for key, value in adapter.items():  # the reference adapter is the SFT one, untouched; the policy moved
        ref_name = key.replace(".weight", ".ref.weight").replace("base_model.model.", "base_model.model.", 1)
        assert torch.equal(params[ref_name], value)
    assert any(
        not torch.equal(params[k.replace(".weight", ".default.weight")], v) for k, v in adapter.items()
    )


class Killed(RuntimeError):
    pass


class KillAfterSave(TrainerCallback):
    def on_save(self, args, state, control, **kwargs):
        if state.global_step == 1:
            raise Killed("killed after saving step 1")


def test_a_dpo_run_killed_after_a_checkpoint_resumes_to_the_same_losses(synth, sft_adapter, tmp_path):
    base, sft, _ = sft_adapter
    write_pairs(tmp_path / "p.jsonl", _qa_pairs(synth, negatives=["correctness", "time"])[:12])
    model_cfg = {"preset": "tiny", "sam2": "micro", "base_model": str(base), "sft_adapter": str(sft)}
    options = {"max_steps": 3, "learning_rate": 1e-3, "logging_steps": 1, "per_device_train_batch_size": 2,
               "save_strategy": "steps", "save_steps": 1}  # fmt: skip

    def losses(out):
        history = json.loads((out / "trainer_state.json").read_text())["log_history"]
        return {h["step"]: h["loss"] for h in history if "loss" in h}

    main(["--config", str(_dpo_config(tmp_path / "full.yaml", tmp_path / "full", tmp_path / "p.jsonl",
                                      model=model_cfg, **options))])  # fmt: skip
    reference = losses(tmp_path / "full")
    assert sorted(reference) == [1, 2, 3]
    assert (tmp_path / "full" / "adapter_model.safetensors").is_file()
    assert not (tmp_path / "full" / "ref").exists()  # the final folder holds the trained adapter only
    config = _dpo_config(tmp_path / "killed.yaml", tmp_path / "killed", tmp_path / "p.jsonl", model=model_cfg,
                         **options)  # fmt: skip
    with pytest.raises(Killed):
        main(["--config", str(config)], callbacks=[KillAfterSave()])
    assert (tmp_path / "killed" / "checkpoint-1").is_dir()
    assert not (tmp_path / "killed" / "checkpoint-2").exists()
    begun = []

    class Record(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            begun.append(state.global_step)

    main(["--config", str(config)], callbacks=[Record()])  # training.resume: auto
    assert begun == [1]
    resumed = losses(tmp_path / "killed")
    assert sorted(resumed) == [1, 2, 3]
    for step in (2, 3):
        assert resumed[step] == pytest.approx(reference[step], rel=1e-5, abs=1e-6)
    assert resumed[3] != pytest.approx(resumed[1], abs=1e-3)  # training moved: the check can fail
