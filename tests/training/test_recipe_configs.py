"""The shipped 3b/7b experiments carry upstream EVQA's recipe: every setting train/README.md's recipe table
marks as equal to upstream is checked here against upstream's value (train/scripts/sft.sh, its dataset
code and UniPixel's stage-3 training code), written out by hand from those files."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from evqa.training.config import parse_config

ROOT = Path(__file__).parents[2]
SIZES, SAM2_TYPES = ("3b", "7b"), ("tiny", "base", "large")
CONFIGS = [(size, sam2) for size in SIZES for sam2 in SAM2_TYPES]

# upstream's `--datasets` (name:repeat) in our source types; upstream's one LLaVA + VideoGPT+ file is read
# by two sources over the same file (images / videos)
UPSTREAM_REPEATS = {
    "st_evidence_mask": 2,
    "st_evidence_vicas": 2,
    "revos": 5,
    "mevis": 5,
    "lvvis": 3,
    "ref_youtube_vos": 5,
    "ref_davis17": 10,
    "ref_sav": 3,
    "groundmore": 3,
    "vicas": 3,
    "llava_instruct": 1,
    "videogpt_plus": 1,
}
UPSTREAM_MODEL = {
    "lora": True,  # --lora_enable True
    "lora_targets": "unipixel",  # --lora_type qkvo_all
    "lora_vision": True,  # qkvo_all: the visual encoder too
    "lora_r": 128,
    "lora_alpha": 256,
    "lora_dropout": 0.1,
    "train_embeddings": True,  # --tuning_modules embedding,...
    "sam2_trainable": "all",  # --tuning_modules ...,sam2
    "sam2_image_size": 768,  # --sam2_image_size 768
}
UPSTREAM_DATA = {
    "num_frames": 8,  # --sample_frames 8
    "sample_type": "segments",  # --sample_type random (one random frame per equal segment)
    "prompt_style": "upstream",
    "resolution": "upstream",
    "max_video_frames": 500,  # --max_video_frames 500
}
UPSTREAM_TRAINING = {
    "num_train_epochs": 1,
    "per_device_train_batch_size": 4,
    "gradient_accumulation_steps": 1,
    "learning_rate": 2e-5,
    "head_lr": 2e-5,  # the heads have no own rate upstream: learning_rate
    "sam2_lr": 5e-6,
    "weight_decay": 0.0,
    "warmup_steps": 0.03,  # --warmup_ratio 0.03
    "logging_steps": 1,
    "save_steps": 2000,
    "save_total_limit": 500,
    "dataloader_num_workers": 2,
    "seed": 42,  # HF's default seed; upstream sets none
}
UPSTREAM_CONVERSATION_FILE = "llava_v1_5_mix665k_with_videogpt_plus_576k.json"


def _load(size, sam2):
    return parse_config(ROOT / "train" / f"evqa_{size}-{sam2}_mix_sft.yaml")


@pytest.mark.parametrize(("size", "sam2"), CONFIGS, ids=lambda v: str(v))
def test_model_settings_equal_upstream(size, sam2):
    model, _, _ = _load(size, sam2)
    assert {key: getattr(model, key) for key in UPSTREAM_MODEL} == UPSTREAM_MODEL
    assert (model.preset, model.sam2) == (size, sam2)
    # upstream starts from UniPixel-<size> (model_zoo/UniPixel-*), here converted by `evqa convert-unipixel`
    assert model.base_model == f"model_zoo/evqa-unipixel-{size}"
    # UniPixel's own SAM2 is Hiera-B+; another size needs its SAM2.1 weights
    assert (model.sam2_pretrained is None) == (sam2 == "base")
    if sam2 != "base":
        assert model.sam2_pretrained == f"model_zoo/sam2.1-hiera-{'large' if sam2 == 'large' else 'tiny'}"


@pytest.mark.parametrize(("size", "sam2"), CONFIGS, ids=lambda v: str(v))
def test_data_settings_equal_upstream(size, sam2):
    _, data, _ = _load(size, sam2)
    assert {key: getattr(data, key) for key in UPSTREAM_DATA} == UPSTREAM_DATA
    assert {spec["type"]: spec["repeat"] for spec in data.sources} == UPSTREAM_REPEATS
    assert len(data.sources) == len(UPSTREAM_REPEATS) and not any("ratio" in s for s in data.sources)
    by_type = {spec["type"]: spec for spec in data.sources}
    assert by_type["st_evidence_mask"]["clip_to_annotated"] is True  # frames up to the last annotated one
    assert by_type["st_evidence_vicas"]["split"] == "train"
    assert (
        by_type["st_evidence_vicas"]["csv"] == "data/st-evidence-instruct/gen_qa/vicas/st_evidence_vicas.csv"
    )
    for kind in ("llava_instruct", "videogpt_plus"):
        spec = by_type[kind]
        assert Path(spec["ann_file"]).name == UPSTREAM_CONVERSATION_FILE
        assert (spec["max_num_words"], spec["max_video_len"]) == (200, 300)
    assert by_type["videogpt_plus"]["fps"] == 2  # 'fps': 2, 'max_frames': 8 (sample_frames)


@pytest.mark.parametrize(("size", "sam2"), CONFIGS, ids=lambda v: str(v))
def test_training_settings_equal_upstream(size, sam2):
    _, _, training = _load(size, sam2)
    assert {key: getattr(training, key) for key in UPSTREAM_TRAINING} == UPSTREAM_TRAINING
    assert training.lr_scheduler_type.value == "cosine"
    assert training.max_grad_norm == 1.0
    assert training.merge_lora is True  # upstream --save_full_model True: a full model at the end
    # bf16 / tf32 / activation checkpointing are "auto": upstream's True on the GPUs it needs
    assert training.output_dir == f"work_dirs/{size}/evqa_{size}-{sam2}_mix_sft"
    text = (ROOT / "train" / f"evqa_{size}-{sam2}_mix_sft.yaml").read_text()
    for key in ("bf16", "tf32", "activation_checkpointing"):
        assert f"\n  {key}: auto" in text


def _sft(*args, **env):
    full = {**os.environ, "DRY_RUN": "1", "NUM_GPUS": "8", **env}
    return subprocess.run(
        ["bash", "scripts/sft.sh", *args], cwd=ROOT, env=full, capture_output=True, text=True
    )


def test_sft_sh_picks_the_config_of_the_sam2_type_and_a_run_folder_per_type(tmp_path):
    base = tmp_path / "evqa-unipixel-3b"
    base.mkdir()
    (base / "config.json").write_text("{}")
    folders = set()
    for sam2 in SAM2_TYPES:
        out = _sft("3b", sam2, BASE_MODEL=str(base))
        assert out.returncode == 0, out.stderr
        assert f"--config train/evqa_3b-{sam2}_mix_sft.yaml" in out.stdout
        assert f"model.sam2={sam2}" in out.stdout and f"model.base_model={base}" in out.stdout
        # upstream's launcher: DeepSpeed ZeRO-0 (scripts/zero0.json)
        assert "training.deepspeed=scripts/zero0.json" in out.stdout
        folders.add(next(a for a in out.stdout.split() if a.startswith("training.output_dir=")))
    assert len(folders) == 3  # `3b tiny` and `3b base` never share (or auto-resume from) one folder
    tiny = {sam2: _sft("tiny", sam2, NUM_GPUS="0").stdout for sam2 in ("tiny", "base")}
    assert "training.output_dir=work_dirs/tiny/evqa_tiny_synth_sft " in tiny["tiny"]
    assert "training.output_dir=work_dirs/tiny/evqa_tiny_synth_sft-sam2_base " in tiny["base"]


def test_sft_sh_without_the_converted_checkpoint_names_the_conversion_command(tmp_path):
    missing = tmp_path / "nowhere"
    out = _sft("7b", "large", "--from_scratch", BASE_MODEL=str(missing))
    assert out.returncode == 2
    assert f"converted UniPixel-7B checkpoint not found: {missing}" in out.stderr
    assert f"evqa convert-unipixel model_zoo/UniPixel-7B {missing} --base-preset 7b --sam2 base" in out.stderr


def test_zero0_config_is_upstreams_stage_0():
    config = json.loads((ROOT / "scripts" / "zero0.json").read_text())
    assert config["zero_optimization"] == {"stage": 0}
    assert config["bf16"]["enabled"] == "auto" and config["train_micro_batch_size_per_gpu"] == "auto"
    assert config["gradient_accumulation_steps"] == "auto"
    # the one difference, on purpose: clipping reaches DeepSpeed (upstream's file has no gradient_clipping,
    # so DeepSpeed, which clips in place of the Trainer, did not clip)
    assert config["gradient_clipping"] == "auto"
