"""Every shipped experiment YAML loads; overrides and bad configs give clear errors; sft.sh maps its arguments."""

import os
import subprocess
from pathlib import Path

import pytest

from evqa.errors import ConfigError
from evqa.training.config import parse_config
from evqa.training.sources import SOURCE_TYPES

ROOT = Path(__file__).parents[2]
CONFIGS = sorted((ROOT / "train").glob("*.yaml"))


def test_there_is_a_config_per_experiment():
    names = {p.name for p in CONFIGS}
    for size in ("3b", "7b"):
        for sam2 in ("tiny", "base", "large"):
            assert f"evqa_{size}-{sam2}_mix_sft.yaml" in names
    assert "evqa_tiny_synth_sft.yaml" in names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_config_loads_with_launch_command_in_header(path):
    model, data, training = parse_config(path)
    header = [line for line in path.read_text().splitlines() if line.startswith("#")]
    assert any("sft.sh" in line or "evqa train" in line for line in header)
    if training.stage == "dpo":  # preference pairs instead of sources: checked in test_dpo.py
        return
    assert data.sources and all(spec["type"] in SOURCE_TYPES for spec in data.sources)
    if model.kind == "hf_vlm":  # plain VLMs: their recipes are checked in test_hf_vlm_train.py
        assert (model.base_model or model.tiny) and training.output_dir.endswith(path.stem)
        return
    assert model.kind == "evqa" and data.num_frames == 8
    assert training.lr_scheduler_type.value == "cosine" and training.max_grad_norm == 1.0
    assert training.warmup_steps == 0.03
    if model.preset != "tiny":
        assert (model.lora, model.lora_r, model.lora_alpha, model.lora_dropout) == (True, 128, 256, 0.1)
        assert (training.learning_rate, training.head_lr, training.sam2_lr) == (2e-5, 2e-5, 5e-6)
        assert training.output_dir == f"work_dirs/{model.preset}/{path.stem}"
        # the full mixture: every dataset source (video_qa is the JSONL format of other fine-tunes; gen_qa
        # is trained with its ViCaS masks, st_evidence_vicas, not as text only)
        assert {s["type"] for s in data.sources} == set(SOURCE_TYPES) - {"video_qa", "st_evidence_qa"}


def test_overrides_are_parsed_as_yaml():
    model, data, training = parse_config(
        CONFIGS[0], ["training.max_steps=7", "model.sam2=large", "data.num_frames=4", "training.bf16=false"]
    )
    assert (training.max_steps, model.sam2, data.num_frames, training.bf16) == (7, "large", 4, False)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("training.max_stepz=3", "unknown key(s) ['max_stepz'] in section 'training'"),
        ("optim.lr=3", "must look like section.key=value"),
        ("max_steps", "must look like section.key=value"),
    ],
)
def test_bad_overrides_name_the_key(override, message):
    with pytest.raises(
        ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
    ):
        parse_config(CONFIGS[0], [override])


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        parse_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: {preset: tiny}\noptimizer: {lr: 1}\n")
    with pytest.raises(ConfigError, match=r"unknown section\(s\) \['optimizer'\]"):
        parse_config(bad)


def _sft(*args, gpus="0", base=None, **extra):
    env = {**os.environ, "DRY_RUN": "1", "NUM_GPUS": gpus, **extra}
    if base is not None:
        env["BASE_MODEL"] = str(base)
    return subprocess.run(
        ["bash", "scripts/sft.sh", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_sft_sh_honours_the_resume_argument(tmp_path):
    auto = _sft("tiny", "tiny").stdout
    assert "train/evqa_tiny_synth_sft.yaml" in auto and "training.resume=auto" in auto
    assert "training.output_dir=work_dirs/tiny/evqa_tiny_synth_sft" in auto and "model.sam2" not in auto
    base = tmp_path / "evqa-unipixel"
    base.mkdir()
    (base / "config.json").write_text("{}")
    assert "training.resume=scratch" in _sft("7b", "large", "--from_scratch", base=base).stdout
    ckpt = tmp_path / "checkpoint-500"
    ckpt.mkdir()
    dist = _sft("3b", "base", str(ckpt), "training.max_steps=9", gpus="8", base=base).stdout
    assert dist.startswith("torchrun") and "--nproc_per_node 8" in dist
    assert f"training.resume={ckpt}" in dist and "training.deepspeed=scripts/zero0.json" in dist
    assert "training.max_steps=9" in dist and "model.sam2=base" in dist
    assert "training.deepspeed=scripts/zero2.json" in _sft("3b", "base", gpus="8", base=base, ZERO="2").stdout
    missing = _sft("3b", "base", str(tmp_path / "missing"), base=base)
    assert missing.returncode == 2 and "checkpoint folder not found" in missing.stderr
    assert _sft("13b").returncode == 2


def test_exponent_without_dot_is_a_number():
    _, _, training = parse_config(CONFIGS[0], ["training.learning_rate=5e-4", "training.sam2_lr=3E-6"])
    assert training.learning_rate == 5e-4 and training.sam2_lr == 3e-6
