"""The Trainer subclass: logs every loss term, builds per-group learning rates, samples by data type.

Parameter groups (learning rates from `TrainingArguments`):
    lora  (LoRA adapters of the LLM / vision attention)  learning_rate        (2e-5)
    base  (every other trainable weight: full fine-tuning, or embeddings / LM head)  learning_rate
    heads (seg_head, ref_encoder, mem_proj)                head_lr or learning_rate (2e-5)
    sam2  (SAM2 decoder, memory, tracking parameters)      sam2_lr              (5e-6)
"""

from __future__ import annotations

import os
from collections import defaultdict

import torch
from transformers import Trainer

from evqa.errors import ModelError
from evqa.model.lora import HEAD_PREFIXES
from evqa.training.sampler import DataTypeGroupedSampler

LOSS_KEYS = ("lm_loss", "mask_loss")
# beside a LoRA checkpoint's adapter: every other trainable weight (heads, SAM2, embeddings, LM head), which
# peft's adapter file leaves out
TRAINABLE_FILE = "trainable_weights.safetensors"


def _short(name: str) -> str:
    return name.removeprefix("base_model.model.")


def group_of(name: str) -> str:
    """The parameter group of a (possibly peft-wrapped) parameter name."""
    short = _short(name)
    if "lora_" in short:
        return "lora"
    if short.startswith(HEAD_PREFIXES):
        return "heads"
    if short.startswith("sam2."):
        return "sam2"
    return "base"


def optimizer_groups(model: torch.nn.Module, args) -> list[dict]:
    """Param groups for the optimizer: one per (group, decay) with its learning rate; frozen weights left out.

    Biases and norm weights (1-D tensors) get no weight decay.
    """
    rates = {"lora": args.learning_rate, "base": args.learning_rate, "sam2": args.sam2_lr}
    rates["heads"] = args.head_lr if args.head_lr is not None else args.learning_rate
    buckets: dict[tuple[str, bool], list] = defaultdict(list)
    for name, param in model.named_parameters():
        if param.requires_grad:
            buckets[(group_of(name), param.ndim > 1)].append(param)
    return [
        {"params": params, "lr": rates[group], "weight_decay": args.weight_decay if decay else 0.0}
        for (group, decay), params in sorted(buckets.items())
    ]


class EvqaTrainer(Trainer):
    """HF Trainer for `EvqaForConditionalGeneration`.

    `compute_loss` returns the model's total loss and accumulates lm_loss, mask_loss and every
    mask_loss_terms entry; `log` adds their means since the last log (e.g. `mask_focal`).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # our loss mixes per-token (LM) and per-sample (mask) means: let the Trainer average micro-batches
        self.model_accepts_loss_kwargs = False
        self._terms: dict[str, list[float]] = defaultdict(list)

    def _get_train_sampler(self, train_dataset=None):
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        if not hasattr(dataset, "data_types"):
            return super()._get_train_sampler(train_dataset)
        args = self.args
        block = args.per_device_train_batch_size * args.gradient_accumulation_steps
        return DataTypeGroupedSampler(dataset.data_types, block, args.world_size, seed=args.seed)

    def create_optimizer(self, model=None):
        if self.optimizer is None:
            optimizer_cls, kwargs = Trainer.get_optimizer_cls_and_kwargs(self.args, self.model)
            kwargs.pop("lr", None)
            self.optimizer = optimizer_cls(optimizer_groups(self.model, self.args), **kwargs)
        return self.optimizer

    def _trainable_state(self, state_dict: dict | None = None) -> dict[str, torch.Tensor]:
        """The non-adapter trainable weights of a peft model (tied weights once, as `named_parameters`
        lists them), taken from `state_dict` when the save has gathered one (DeepSpeed ZeRO-3)."""
        from peft import PeftModel

        model = self.accelerator.unwrap_model(self.model)
        if not isinstance(model, PeftModel):
            return {}
        state = {}
        for name, param in model.named_parameters():
            if param.requires_grad and "lora_" not in name:
                value = state_dict[name] if state_dict is not None and name in state_dict else param
                state[name] = value.detach().to("cpu").clone()
        return state

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        """The HF save, plus (LoRA runs) the non-adapter trainable weights in `TRAINABLE_FILE`."""
        import safetensors.torch

        super()._save(output_dir, state_dict)
        trainable = self._trainable_state(state_dict)
        if trainable and self.args.should_save:
            out = output_dir if output_dir is not None else self.args.output_dir
            safetensors.torch.save_file(
                trainable, os.path.join(out, TRAINABLE_FILE), metadata={"format": "pt"}
            )

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        import safetensors.torch

        super()._load_from_checkpoint(resume_from_checkpoint, model)
        path = os.path.join(resume_from_checkpoint, TRAINABLE_FILE)
        if os.path.isfile(path):
            target = self.accelerator.unwrap_model(model if model is not None else self.model)
            result = target.load_state_dict(safetensors.torch.load_file(path), strict=False)
            if result.unexpected_keys:
                raise ModelError(f"{path}: weights the model has no place for: {result.unexpected_keys[:8]}")

    def training_step(self, model, inputs, num_items_in_batch=None):
        """The HF step (forward and backward), on `args.mask_step_threads` intra-op threads when the batch
        has mask targets."""
        threads = getattr(self.args, "mask_step_threads", 0)
        if not threads or not any(t is not None for t in inputs.get("mask_targets") or ()):
            return super().training_step(model, inputs, num_items_in_batch)
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            return super().training_step(model, inputs, num_items_in_batch)
        finally:
            torch.set_num_threads(previous)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        outputs = model(**inputs)
        for key in LOSS_KEYS:
            value = getattr(outputs, key, None)
            if value is not None:
                self._terms[key].append(float(value.detach()))
        for key, value in (outputs.mask_loss_terms or {}).items():
            self._terms[f"mask_{key}"].append(float(value.detach()))
        return (outputs.loss, outputs) if return_outputs else outputs.loss

    def log(self, logs: dict, *args, **kwargs) -> None:
        if "loss" in logs:
            logs.update({k: round(sum(v) / len(v), 6) for k, v in self._terms.items() if v})
            self._terms.clear()
        super().log(logs, *args, **kwargs)
