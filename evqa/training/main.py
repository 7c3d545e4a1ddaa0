"""`evqa train`: experiment YAML -> model + data mixture -> `EvqaTrainer.train()` -> checkpoint.

    evqa train --config train/qwen2.5vl_3b_stevidence_sft.yaml training.max_steps=100

Resume (`training.resume`, what `scripts/sft.sh`'s third argument sets):
    auto     continue from the newest `checkpoint-*` in output_dir, or start fresh if there is none;
    scratch  start from the base weights even if checkpoints exist;
    <path>   continue from that checkpoint folder (model, optimizer, scheduler, RNG and data position).
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

import torch
from transformers import set_seed
from transformers.trainer_utils import get_last_checkpoint

from evqa.errors import ConfigError
from evqa.training.arguments import (
    RESUME_AUTO,
    RESUME_SCRATCH,
    DataArguments,
    ModelArguments,
    TrainingArguments,
)
from evqa.training.collator import EvqaTrainCollator
from evqa.training.config import parse_config
from evqa.training.mixture import build_mixture
from evqa.training.recipe import apply_recipe, check_model_args, load_base_checkpoint
from evqa.training.trainer import EvqaTrainer

log = logging.getLogger(__name__)


def build_parser(prog: str = "evqa train") -> argparse.ArgumentParser:
    """Command line of `evqa train` (also used by `scripts/sft.sh`)."""
    parser = argparse.ArgumentParser(
        prog=prog, description="Fine-tune the EVQA model from an experiment YAML."
    )
    parser.add_argument("--config", required=True, help="experiment YAML under train/")
    parser.add_argument(
        "overrides", nargs="*", help="section.key=value overrides, e.g. training.max_steps=20"
    )
    return parser


def resolve_resume(args: TrainingArguments) -> str | None:
    """The checkpoint folder to resume from (None: start from the base weights)."""
    if args.resume == RESUME_SCRATCH:
        return None
    if args.resume == RESUME_AUTO:
        last = get_last_checkpoint(args.output_dir) if os.path.isdir(args.output_dir) else None
        if last:
            log.info("auto-resume: continuing from %s", last)
        return last
    if not (Path(args.resume) / "trainer_state.json").is_file():
        raise ConfigError("not a training checkpoint (no trainer_state.json)", path=args.resume,
                          field="training.resume")  # fmt: skip
    return args.resume


def build_model(model_args: ModelArguments, train_args: TrainingArguments):
    """(model, processor) ready to train: base weights, then LoRA (or every weight trainable)."""
    from evqa.model import build_model

    dtype = torch.bfloat16 if train_args.bf16 else None
    check_model_args(model_args)
    if model_args.base_model:
        model, processor = load_base_checkpoint(model_args, dtype)
    else:
        model, processor = build_model(model_args.preset, model_args.sam2, torch_dtype=dtype,
                                       pretrained=model_args.pretrained,
                                       sam2_pretrained=model_args.sam2_pretrained, seed=train_args.seed)  # fmt: skip
        if model_args.sam2_image_size and model_args.sam2_image_size != processor.sam2_image_size:
            raise ConfigError("sam2_image_size applies to a base_model checkpoint; a preset builds at its own "
                              "side", field="model.sam2_image_size")  # fmt: skip
    model.train()
    if model_args.lora:
        model = apply_recipe(model, model_args)
    elif (
        model_args.lora_targets != "evqa"
        or model_args.train_embeddings
        or model_args.sam2_trainable != "decoder"
    ):
        raise ConfigError("lora_targets / train_embeddings / sam2_trainable apply to LoRA runs; lora: false "
                          "trains every weight", field="model.lora")  # fmt: skip
    return model, processor


def save_final(trainer: EvqaTrainer, processor, model_args: ModelArguments, out: Path) -> Path:
    """Save the trained model (+ processor) to `out`; with LoRA also `out/merged` when asked."""
    from evqa.model import merge_lora, save_model

    trainer.save_model(str(out))
    processor.save_pretrained(out)
    if model_args.lora and trainer.args.merge_lora and trainer.is_world_process_zero():
        save_model(merge_lora(trainer.model), processor, out / "merged")
        return out / "merged"
    return out


def run_training(model_args: ModelArguments, data_args: DataArguments, train_args: TrainingArguments,
                 callbacks=None) -> Path:  # fmt: skip
    """Train and save; returns the folder of the final (merged, if asked) model."""
    if getattr(train_args, "stage", "sft") == "dpo":
        from evqa.training.dpo import run_dpo_training

        return run_dpo_training(model_args, data_args, train_args, callbacks)
    if getattr(model_args, "kind", "evqa") == "hf_vlm":
        from evqa.training.hf_vlm.train import run_hf_vlm_training

        return run_hf_vlm_training(model_args, data_args, train_args, callbacks)
    set_seed(train_args.seed)
    resume = resolve_resume(train_args)
    dataset = build_mixture(data_args.sources, num_frames=data_args.num_frames, seed=data_args.seed,
                            sample_type=data_args.sample_type, prompt_style=data_args.prompt_style,
                            max_video_frames=data_args.max_video_frames)  # fmt: skip
    log.info("training mixture: %s", dataset.summary())
    model, processor = build_model(model_args, train_args)
    trainer = EvqaTrainer(model=model, args=train_args, train_dataset=dataset,
                          data_collator=EvqaTrainCollator(processor, data_args.resolution, data_args.num_frames),
                          processing_class=processor,
                          callbacks=callbacks)  # fmt: skip
    if trainer.is_deepspeed_enabled:
        stage = trainer.accelerator.state.deepspeed_plugin.zero_stage
        log.info("DeepSpeed ZeRO stage %d on %d processes", stage, train_args.world_size)
    trainer.train(resume_from_checkpoint=resume)
    trainer.save_state()
    return save_final(trainer, processor, model_args, Path(train_args.output_dir))


def main(argv: list[str] | None = None, callbacks=None) -> Path:
    """Parse `--config` + overrides and train. `callbacks`: extra `TrainerCallback`s (tests, tools)."""
    args = build_parser().parse_args(argv)
    model_args, data_args, train_args = parse_config(args.config, args.overrides)
    return run_training(model_args, data_args, train_args, callbacks)
