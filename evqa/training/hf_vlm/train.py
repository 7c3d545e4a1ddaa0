"""`evqa train` for `model.kind: hf_vlm`: checkpoint -> (LoRA / full / QLoRA) model + video-QA mixture ->
HF `Trainer` -> saved adapter or model.

What `<output_dir>` holds at the end:
    lora / qlora  the peft adapter (`adapter_config.json`, `adapter_model.safetensors`) and the processor:
                  `evqa infer --adapter qwen2_5_vl --model <base> --adapter-path <output_dir>`; with
                  `training.merge_lora: true` also `<output_dir>/merged`, a plain checkpoint (base + adapter
                  folded, reloaded unquantised for QLoRA): `evqa infer --adapter qwen2_5_vl --model .../merged`
    full          the fine-tuned checkpoint and its processor: `evqa infer --adapter ... --model <output_dir>`
Resume (`training.resume`: auto / scratch / a checkpoint) is the EVQA recipe's (`evqa.training.main`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from transformers import Trainer, set_seed

from evqa.baselines.frames import Sampling
from evqa.errors import ConfigError
from evqa.training.hf_vlm.arguments import HfVlmDataArguments, HfVlmModelArguments
from evqa.training.hf_vlm.collator import AnswerOnlyCollator
from evqa.training.hf_vlm.data import build_video_qa_dataset
from evqa.training.hf_vlm.model import build_vlm, train_dtype
from evqa.training.hf_vlm.tiny import build_tiny_checkpoint

log = logging.getLogger(__name__)


def base_checkpoint(model_args: HfVlmModelArguments, train_args) -> str:
    """The checkpoint folder to start from: `base_model`, or the tiny one built under the output folder."""
    if model_args.base_model:
        if not (Path(model_args.base_model) / "config.json").is_file():
            raise ConfigError("checkpoint folder not found (no config.json)", path=model_args.base_model,
                              field="model.base_model")  # fmt: skip
        return model_args.base_model
    out = Path(train_args.output_dir) / "tiny_base"
    with train_args.main_process_first(local=True, desc="building the tiny checkpoint"):
        if not (out / "config.json").is_file():
            build_tiny_checkpoint(model_args.tiny, out)
    return str(out)


def sampling_of(data_args: HfVlmDataArguments) -> Sampling:
    return Sampling(fps=data_args.fps, num_frames=data_args.num_frames, max_frames=data_args.max_frames,
                    max_size=data_args.max_size, pooling=data_args.pooling)  # fmt: skip


def merge_adapter(base: str, adapter_dir: Path, out: Path, processor, dtype) -> Path:
    """Load `base` unquantised, fold the adapter of `adapter_dir` into it and save it (+ processor) to `out`."""
    from peft import PeftModel
    from transformers import AutoModelForImageTextToText

    model = AutoModelForImageTextToText.from_pretrained(base, dtype=dtype)
    merged = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    merged.save_pretrained(out)
    processor.save_pretrained(out)
    return out


def run_hf_vlm_training(model_args: HfVlmModelArguments, data_args: HfVlmDataArguments, train_args,
                        callbacks=None) -> Path:  # fmt: skip
    """Train and save; returns the folder of the final model (the merged one when asked)."""
    from evqa.training.main import resolve_resume

    set_seed(train_args.seed)
    resume = resolve_resume(train_args)
    sampling = sampling_of(data_args)
    train_set = build_video_qa_dataset(data_args.sources, sampling, seed=data_args.seed)
    eval_set = (
        build_video_qa_dataset(data_args.eval_sources, sampling, seed=data_args.seed)
        if data_args.eval_sources
        else None
    )
    log.info("training mixture: %s", train_set.summary())
    base = base_checkpoint(model_args, train_args)
    model, processor = build_vlm(model_args, base, train_args)
    trainer = Trainer(model=model, args=train_args, train_dataset=train_set, eval_dataset=eval_set,
                      data_collator=AnswerOnlyCollator(processor, max_length=data_args.max_length),
                      processing_class=processor, callbacks=callbacks)  # fmt: skip
    trainer.train(resume_from_checkpoint=resume)
    trainer.save_state()
    out = Path(train_args.output_dir)
    trainer.save_model(str(out))
    if model_args.uses_lora and train_args.merge_lora and trainer.is_world_process_zero():
        return merge_adapter(base, out, out / "merged", processor, train_dtype(train_args))
    return out
