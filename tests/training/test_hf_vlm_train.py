"""`model.kind: hf_vlm` end to end on tiny random checkpoints: what trains in each mode, LoRA and full
fine-tuning learn a repeated batch for every family, a trained adapter answers through `evqa infer`'s
adapters (peft `--adapter-path` and the merged checkpoint), resume, the shipped recipes, and QLoRA."""

import functools
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import TrainerCallback

from evqa.baselines.base import Request
from evqa.baselines.frames import Sampling
from evqa.baselines.registry import build_model
from evqa.cli.main import run_command
from evqa.errors import BackendUnavailableError, ConfigError
from evqa.training.config import parse_config
from evqa.training.hf_vlm.arguments import HfVlmModelArguments, HfVlmTrainingArguments
from evqa.training.hf_vlm.collator import AnswerOnlyCollator
from evqa.training.hf_vlm.data import build_video_qa_dataset
from evqa.training.hf_vlm.families import FAMILIES, part_of
from evqa.training.hf_vlm.model import build_vlm, trainable_summary
from evqa.training.main import main

from .hf_vlm_fixtures import (
    _ROOT,
    logged_losses,
    tiny_checkpoint,
    write_config,
    write_jsonl,
    write_toy_videos,
)

ROOT = Path(__file__).parents[2]
ADAPTERS = {
    "qwen2_5_vl": "qwen2_5_vl",
    "qwen3_vl": "qwen3_vl",
    "smolvlm": "smolvlm",
    "llava_onevision": "llava_ov_1_5",
}
LEARNING_RATES = {"lora": 3e-2, "full": 1e-2}
STEPS = 12
DATA = {"num_frames": 2, "max_size": 64}


@functools.cache
def _cpu_training() -> HfVlmTrainingArguments:
    return HfVlmTrainingArguments(output_dir=str(_ROOT / "unused"), report_to="none")


@functools.cache
def two_clips() -> Path:
    """A red and a blue clip, one question each: with batch 2 every step sees the same batch."""
    videos = write_toy_videos(_ROOT / "two")
    question = "What colour is the clip?"
    records = [{"id": c, "video": videos[c].name, "question": question, "answer": c} for c in ("red", "blue")]
    return write_jsonl(_ROOT / "two" / "two.jsonl", records)


def _source():
    return {"type": "video_qa", "jsonl": str(two_clips())}


@functools.cache
def trained(family: str, mode: str) -> Path:
    """Output folder of a STEPS-step run (LoRA runs also write the merged checkpoint)."""
    out = _ROOT / "runs" / f"{family}-{mode}"
    config = write_config(
        _ROOT / "runs" / f"{family}-{mode}.yaml",
        model={"base_model": tiny_checkpoint(family), "finetune": mode, "lora_r": 8, "lora_alpha": 16},
        data={**DATA, "sources": [_source()]},
        training={"output_dir": str(out), "max_steps": STEPS, "learning_rate": LEARNING_RATES[mode],
                  "merge_lora": mode == "lora"},
    )  # fmt: skip
    main(["--config", str(config)])
    return out


def _vlm(family, **model):
    args = HfVlmModelArguments(base_model=tiny_checkpoint(family), **model)
    return build_vlm(args, args.base_model, _cpu_training())


@pytest.mark.parametrize("family", list(ADAPTERS))
def test_lora_wraps_the_language_model_and_the_projector_when_asked(family):
    parts = FAMILIES[family]
    model, _ = _vlm(family)
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in name for name in trainable)
    assert {part_of(name, parts) for name in trainable} == {"language_model"}
    wrapped = {name.rsplit(".", 1)[-1] for name, m in model.named_modules() if hasattr(m, "lora_A")}
    assert wrapped == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    layers = model.base_model.model.config.get_text_config().num_hidden_layers
    assert sum(1 for _, m in model.named_modules() if hasattr(m, "lora_A")) == 7 * layers
    projector, _ = _vlm(family, lora_projector=True, lora_target_modules=["q_proj", "v_proj"])
    parts_trained = {part_of(n, parts) for n, p in projector.named_parameters() if p.requires_grad}
    assert parts_trained == {"language_model", "projector"}
    assert not any(
        part_of(n, parts) == "vision" for n, m in projector.named_modules() if hasattr(m, "lora_A")
    )


def test_lora_leaves_the_vision_mlp_of_qwen2_5_vl_alone():
    model, _ = _vlm("qwen2_5_vl")  # its vision blocks also have gate_proj / up_proj / down_proj
    vision_mlp = model.base_model.model.model.visual.blocks[0].mlp.gate_proj
    assert isinstance(vision_mlp, torch.nn.Linear) and not hasattr(vision_mlp, "lora_A")


@pytest.mark.parametrize("family", list(ADAPTERS))
def test_full_fine_tuning_trains_llm_and_projector_and_vision_only_when_asked(family):
    model, _ = _vlm(family, finetune="full")
    summary = trainable_summary(model, FAMILIES[family])
    assert set(summary) == {"language_model", "projector"} | ({"other"} if "other" in summary else set())
    total = sum(p.numel() for p in model.parameters())
    vision = sum(p.numel() for n, p in model.named_parameters() if part_of(n, FAMILIES[family]) == "vision")
    assert sum(summary.values()) == total - vision
    everything, _ = _vlm(family, finetune="full", train_vision=True)
    assert all(p.requires_grad for p in everything.parameters())


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ({"base_model": "x", "tiny": "smolvlm"}, "exactly one of model.base_model and model.tiny"),
        ({"tiny": "smolvlm", "finetune": "dora"}, "finetune must be one of lora, full, qlora"),
        ({"tiny": "smolvlm", "train_vision": True}, "train_vision needs finetune: full"),
        ({"tiny": "smolvlm", "finetune": "full", "lora_projector": True}, "lora_projector needs finetune"),
        ({"tiny": "smolvlm", "lora_target_modules": []}, "lora_target_modules is empty"),
        ({"kind": "hf_vlm2", "tiny": "smolvlm"}, "unknown model.kind 'hf_vlm2'"),
    ],
)
def test_bad_model_settings_are_refused(tmp_path, model, message):
    config = write_config(tmp_path / "c.yaml", model=model, data={"sources": [_source()]}, training={})
    with pytest.raises(ConfigError, match=message):
        parse_config(config)


def test_bad_data_and_training_settings_are_refused(tmp_path):
    def config(data=None, training=None):
        data = {"sources": [_source()], **(data or {})}
        return write_config(
            tmp_path / "c.yaml", model={"tiny": "smolvlm"}, data=data, training=training or {}
        )

    with pytest.raises(ConfigError, match="exactly one of data.num_frames and data.fps"):
        parse_config(config({"fps": 1.0}))
    with pytest.raises(ConfigError, match="must be positive"):
        parse_config(config({"num_frames": 0}))
    with pytest.raises(ConfigError, match="sam2_lr is for the EVQA model"):
        parse_config(config(training={"sam2_lr": 1e-5}))
    with pytest.raises(ConfigError, match="unknown key\\(s\\) \\['preset'\\] in section 'model'"):
        parse_config(config(), ["model.preset=3b"])
    missing = write_config(tmp_path / "m.yaml", model={"base_model": str(tmp_path / "nowhere")},
                           data={"sources": [_source()]}, training={"output_dir": str(tmp_path / "o")})  # fmt: skip
    with pytest.raises(ConfigError, match="checkpoint folder not found") as err:
        main(["--config", str(missing)])
    assert err.value.field == "model.base_model"
    wrong = write_config(tmp_path / "w.yaml", model={"tiny": "internvl"}, data={"sources": [_source()]},
                         training={"output_dir": str(tmp_path / "w")})  # fmt: skip
    with pytest.raises(ConfigError, match="no tiny checkpoint for 'internvl'"):
        main(["--config", str(wrong)])


@pytest.mark.parametrize("mode", ["lora", "full"])
@pytest.mark.parametrize("family", list(ADAPTERS))
def test_fine_tuning_learns_a_repeated_batch(family, mode):
    out = trained(family, mode)
    losses = [loss for _, loss in sorted(logged_losses(out).items())]
    assert len(losses) == STEPS
    assert losses[-1] < 0.5 * losses[0] and max(losses[-3:]) < min(losses[:3]), losses
    parts = FAMILIES[family]
    if mode == "lora":
        adapter = load_file(out / "adapter_model.safetensors")
        assert adapter and all("lora_" in key for key in adapter)
        assert {part_of(key, parts) for key in adapter} == {"language_model"}
        assert json.loads((out / "adapter_config.json").read_text())[
            "base_model_name_or_path"
        ] == tiny_checkpoint(family)
        return
    from transformers import AutoModelForImageTextToText

    base = dict(AutoModelForImageTextToText.from_pretrained(tiny_checkpoint(family)).named_parameters())
    tuned = dict(AutoModelForImageTextToText.from_pretrained(out).named_parameters())
    changed = {part_of(k, parts) for k in base if not torch.equal(base[k], tuned[k])}
    assert {"language_model", "projector"} <= changed and "vision" not in changed


def _examples(family):
    sampling = Sampling(fps=None, num_frames=DATA["num_frames"], max_frames=None, max_size=DATA["max_size"])
    dataset = build_video_qa_dataset([_source()], sampling)
    return [dataset[i] for i in range(len(dataset))]


def _logits(model, batch):
    with torch.no_grad():
        return model(**batch).logits


@pytest.mark.parametrize("family", ["qwen2_5_vl", "qwen3_vl", "smolvlm"])
def test_a_trained_adapter_answers_through_the_infer_adapter(family, tmp_path, monkeypatch):
    from peft import PeftModel
    from transformers import AutoModelForImageTextToText

    out = trained(family, "lora")
    name = ADAPTERS[family]
    tuned = build_model(name, tiny_checkpoint(family), device="cpu", adapter_path=str(out))
    base = build_model(name, tiny_checkpoint(family), device="cpu")
    merged = build_model(name, str(out / "merged"), device="cpu")
    assert tuned.describe()["adapter_path"] == str(out) and "adapter_path" not in base.describe()
    examples = _examples(family)
    for example in examples:  # greedy decoding gives back the trained answer for each clip
        request = Request(
            example.sample_id, example.prompt, example.frames, example.timestamps, max_new_tokens=4
        )
        assert tuned.generate(request).text == example.target
        assert merged.generate(request).text == example.target
    batch = AnswerOnlyCollator(tuned.processor).encode(examples)
    reference = PeftModel.from_pretrained(
        AutoModelForImageTextToText.from_pretrained(tiny_checkpoint(family)), str(out)
    )
    expected = _logits(reference, batch)
    torch.testing.assert_close(_logits(tuned.model, batch), expected, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(_logits(merged.model, batch), expected, atol=1e-4, rtol=1e-4)
    assert (_logits(base.model, batch) - expected).abs().max() > 0.1  # the adapter changed the model

    from evqa.data.synth import generate

    generate(tmp_path / "synth", seed=0, num_train=1, num_test=2, score=False, progress=False)
    monkeypatch.setenv("EVQA_SYNTH_ROOT", str(tmp_path / "synth"))
    pred = tmp_path / "pred.json"
    argv = ["--model", tiny_checkpoint(family), "--adapter", name, "--adapter-path", str(out), "--batch-size",
            "2", "--max-new-tokens", "3", "--max-size", "64", "--output", str(pred), "--no-progress"]  # fmt: skip
    assert run_command("infer", argv) == 0
    records = json.loads(pred.read_text())
    assert len(records) == 2
    assert all(r["error"] is None and r["meta"]["adapter_path"] == str(out) for r in records.values())
    assert run_command("infer", [*argv[:2], "--adapter", "ours", *argv[4:]]) == 2  # ours takes no adapter


class Killed(RuntimeError):
    pass


class KillAfterSave(TrainerCallback):
    def on_save(self, args, state, control, **kwargs):
        if state.global_step == 1:
            raise Killed


def test_the_shipped_tiny_recipe_trains_and_resumes_with_the_same_losses(tmp_path):
    shipped = ROOT / "train" / "qwen2_5vl_tiny_synth_lora_sft.yaml"
    assert parse_config(shipped)[0].tiny == "qwen2_5_vl"

    def run(name, callbacks=None):
        overrides = [f"training.output_dir={tmp_path / name}", "training.max_steps=3", "training.save_steps=1",
                     "training.logging_steps=1", "training.dataloader_num_workers=0", "training.warmup_steps=0",
                     "model.tiny=smolvlm", "data.num_frames=2", "data.max_size=64",
                     f"data.sources=[{{type: video_qa, jsonl: {two_clips()}}}]"]  # fmt: skip
        return main(["--config", str(shipped), *overrides], callbacks=callbacks)

    assert run("full") == tmp_path / "full"
    assert (tmp_path / "full" / "tiny_base" / "config.json").is_file()
    assert (tmp_path / "full" / "adapter_config.json").is_file()
    reference = logged_losses(tmp_path / "full")
    with pytest.raises(Killed):
        run("killed", [KillAfterSave()])
    assert (tmp_path / "killed" / "checkpoint-1").is_dir() and not (
        tmp_path / "killed" / "checkpoint-2"
    ).exists()
    run("killed")  # training.resume defaults to auto
    resumed = logged_losses(tmp_path / "killed")
    assert sorted(resumed) == [1, 2, 3]
    for step in (2, 3):
        assert resumed[step] == pytest.approx(reference[step], rel=1e-4, abs=1e-4)
    assert resumed[3] != pytest.approx(resumed[1], rel=1e-3)


def test_evaluation_on_the_held_out_videos_reports_the_answer_loss(tmp_path):
    videos = write_toy_videos(tmp_path / "clips")
    records = [{"id": f"{c}-{q}", "video": v.name, "question": f"Colour {q}?", "answer": c}
               for c, v in videos.items() for q in range(2)]  # fmt: skip
    jsonl = write_jsonl(tmp_path / "clips" / "qa.jsonl", records)
    split = {"type": "video_qa", "jsonl": str(jsonl), "val_fraction": 0.25}
    config = write_config(
        tmp_path / "e.yaml",
        model={"base_model": tiny_checkpoint("smolvlm"), "finetune": "lora"},
        data={**DATA, "sources": [{**split, "split": "train"}], "eval_sources": [{**split, "split": "val"}]},
        training={
            "output_dir": str(tmp_path / "e"),
            "max_steps": 2,
            "eval_strategy": "steps",
            "eval_steps": 1,
        },
    )
    main(["--config", str(config)])
    history = json.loads((tmp_path / "e" / "trainer_state.json").read_text())["log_history"]
    evals = [h for h in history if "eval_loss" in h]
    assert [h["step"] for h in evals] == [1, 2] and all(h["eval_loss"] > 0 for h in evals)
    assert evals[1]["eval_loss"] != evals[0]["eval_loss"]
    splits = json.loads((tmp_path / "clips" / "qa.splits.json").read_text())["groups"]
    assert [len(splits[s]) for s in ("train", "val", "test")] == [3, 1, 0]


def _meta_model(family: str):
    """A model of `family` on the meta device: the tiny checkpoint's config, or a small one for the
    families without a tiny checkpoint (Qwen2-VL, Idefics3: the layouts of Qwen2.5-VL and SmolVLM)."""
    from transformers import AutoConfig, AutoModelForImageTextToText, Idefics3Config, Qwen2VLConfig

    text = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 4,
            "num_key_value_heads": 2, "vocab_size": 100}  # fmt: skip
    if family == "qwen2_vl":
        config = Qwen2VLConfig(text_config={**text, "rope_scaling": {"type": "mrope", "mrope_section": [1, 1, 2]}},
                               vision_config={"depth": 1, "embed_dim": 32, "hidden_size": 32, "num_heads": 2})  # fmt: skip
    elif family == "idefics3":
        config = Idefics3Config(text_config={"model_type": "llama", **text},
                                vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                                               "num_attention_heads": 2, "image_size": 32, "patch_size": 8})  # fmt: skip
    else:
        config = AutoConfig.from_pretrained(tiny_checkpoint(family))
    with torch.device("meta"):
        return AutoModelForImageTextToText.from_config(config)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_family_has_its_parts_where_the_table_says(family):
    model = _meta_model(family)
    parts = FAMILIES[family]
    assert model.config.model_type == family
    for prefix in (parts.language_model, parts.vision, *parts.projector):
        model.get_submodule(prefix)
    linear = {
        name: part_of(name, parts) for name, m in model.named_modules() if isinstance(m, torch.nn.Linear)
    }
    assert {"language_model", "vision", "projector"} <= set(linear.values())
    leaves = {n.rsplit(".", 1)[-1] for n, part in linear.items() if part == "language_model"}
    assert leaves >= {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    assert {part for name, part in linear.items() if name == "lm_head"} == {"other"}


def test_the_shipped_recipes_have_their_published_settings():
    povqa = parse_config(ROOT / "train" / "qwen2_5vl_7b_reasonvqa_qlora_sft.yaml")
    model, data, training = povqa
    assert (model.finetune, model.lora_r, model.lora_alpha, model.lora_dropout, model.lora_projector) == (
        "qlora", 32, 32, 0.05, True,
    )  # fmt: skip
    assert (model.bnb_4bit_quant_type, model.bnb_4bit_double_quant) == ("nf4", True)
    assert (data.num_frames, data.max_length) == (16, 4096)  # POVQA: 16 frames at train time
    assert [(s["split"], s["val_fraction"], s["split_seed"]) for s in data.sources] == [("train", 0.1, 42)]
    assert [s["split"] for s in data.eval_sources] == ["val"]
    assert (training.learning_rate, training.warmup_steps, training.num_train_epochs) == (5e-5, 0.08, 2)
    assert (training.per_device_train_batch_size, training.gradient_accumulation_steps) == (1, 8)
    smol = parse_config(ROOT / "train" / "smolvlm2_500m_egotextvqa-egotempo_full_sft.yaml")
    assert (smol[0].finetune, smol[0].train_vision) == ("full", True)
    assert [s["ratio"] for s in smol[1].sources] == [0.7, 0.3]  # EgoTextVQA's --train-weights 0.7 0.3
    assert all(
        (s["val_fraction"], s["test_fraction"], s["split_seed"]) == (0.1, 0.1, 42) for s in smol[1].sources
    )
    assert (smol[2].learning_rate, smol[2].weight_decay, smol[2].gradient_accumulation_steps) == (
        1e-4,
        0.01,
        8,
    )
    ego = parse_config(ROOT / "train" / "qwen2_5vl_7b_egotextvqa_lora_sft.yaml")
    assert (ego[0].finetune, ego[1].fps, ego[1].num_frames, ego[1].max_frames) == ("lora", 1.0, None, 32)


def test_qlora_needs_bitsandbytes_and_a_gpu_on_this_machine():
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present: test_qlora_trains_on_a_gpu runs instead")
    with pytest.raises(BackendUnavailableError, match="finetune: qlora needs (bitsandbytes|a CUDA GPU)"):
        _vlm("qwen2_5_vl", finetune="qlora")


@pytest.mark.gpu
def test_qlora_trains_on_a_gpu(tmp_path):
    import bitsandbytes as bnb

    model, _ = _vlm("qwen2_5_vl", finetune="qlora", lora_projector=True)
    quantized = {n for n, m in model.named_modules() if isinstance(m, bnb.nn.Linear4bit)}
    parts = FAMILIES["qwen2_5_vl"]
    assert quantized and {part_of(n, parts) for n in quantized} == {"language_model"}
    config = write_config(
        tmp_path / "q.yaml",
        model={"base_model": tiny_checkpoint("qwen2_5_vl"), "finetune": "qlora", "lora_projector": True},
        data={**DATA, "sources": [_source()]},
        training={"output_dir": str(tmp_path / "q"), "max_steps": STEPS, "learning_rate": 3e-2, "merge_lora": True,
                  "bf16": True},
    )  # fmt: skip
    out = main(["--config", str(config)])
    losses = [loss for _, loss in sorted(logged_losses(tmp_path / "q").items())]
    assert losses[-1] < 0.7 * losses[0], losses
    assert out == tmp_path / "q" / "merged" and (out / "config.json").is_file()
    tuned = build_model("qwen2_5_vl", tiny_checkpoint("qwen2_5_vl"), adapter_path=str(tmp_path / "q"))
    assert tuned.describe()["adapter_path"] == str(tmp_path / "q")


@pytest.mark.slow
def test_deepspeed_zero2_two_processes_match_one_process(tmp_path):
    import os
    import subprocess
    import sys

    def config(name, **training):
        return write_config(
            tmp_path / f"{name}.yaml",
            model={"base_model": tiny_checkpoint("smolvlm"), "finetune": "lora"},
            data={**DATA, "sources": [_source()]},
            training={"output_dir": str(tmp_path / name), "max_steps": 3, "per_device_train_batch_size": 1,
                      "learning_rate": 3e-3, "save_strategy": "no", **training},
        )  # fmt: skip

    main(["--config", str(config("single", gradient_accumulation_steps=2))])
    ds = config("zero2", ddp_backend="gloo", use_cpu=True, deepspeed=str(ROOT / "scripts" / "zero2.json"))
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1", "DS_ACCELERATOR": "cpu"}
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
              "-m", "evqa.cli.main", "train", "--config", str(ds)]  # fmt: skip
    done = subprocess.run(launch, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    single = [v for _, v in sorted(logged_losses(tmp_path / "single").items())]
    distributed = [v for _, v in sorted(logged_losses(tmp_path / "zero2").items())]
    assert len(single) == len(distributed) == 3 and single[-1] < single[0]
    assert distributed == pytest.approx(single, rel=2e-3, abs=2e-3)
    assert (tmp_path / "zero2" / "adapter_model.safetensors").is_file()
