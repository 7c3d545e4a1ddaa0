"""Dataclass arguments of a DPO run (`training.stage: dpo` in an experiment YAML).

Defaults are POVQA's DPO (BENCHMARKS.md §2): beta 0.3, learning rate 5e-6, 1 epoch, sigmoid loss on summed
answer log-probabilities (`length_normalize: true` averages them per token instead).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from evqa.errors import ConfigError
from evqa.training.arguments import DataArguments, ModelArguments, TrainingArguments
from evqa.training.pairs import NEGATIVES

STAGES = ("sft", "dpo")
REF_ADAPTER = "ref"


def check_dpo_arguments(stage: str, beta: float) -> None:
    """The checks both DPO stages (EVQA and plain VLMs) make on `training.stage` and `training.beta`."""
    if stage != "dpo":
        raise ConfigError(f"expected stage dpo, got {stage!r}", field="training.stage")
    if beta <= 0:
        raise ConfigError(f"beta must be positive, got {beta}", field="training.beta")


@dataclass
class DpoModelArguments(ModelArguments):
    """The policy: `base_model` (or `preset`) + an SFT LoRA adapter, trained further by DPO.

    sft_adapter: the folder of an SFT LoRA run (`adapter_config.json`, `adapter_model.safetensors` and, from
        `evqa train`, `trainable_weights.safetensors` with the heads / SAM2 weights it trained). The policy
        starts from it (adapter "default", trainable) and the frozen reference is the same adapter loaded a
        second time under the name "ref" (TRL's `ref_adapter_name` mechanism): only the adapter weights
        exist twice, never the base weights. None: a new LoRA adapter (`lora_r`, `lora_alpha`, ...) goes on
        `base_model`, e.g. a fully fine-tuned SFT checkpoint, and the reference is that model with the
        adapter disabled.
    Every weight outside the trainable adapter (heads, SAM2, embeddings) is frozen during DPO, so policy and
    reference share it.
    """

    sft_adapter: str | None = None
    lora_dropout: float = 0.0  # dropout is off in DPO (both forwards must be deterministic), as in TRL

    def __post_init__(self):
        if not self.lora:
            raise ConfigError("DPO trains a LoRA adapter (model.lora: true); the reference is the model without "
                              "it", field="model.lora")  # fmt: skip


@dataclass
class DpoDataArguments(DataArguments):
    """The preference pairs.

    pairs: entries that are a pairs JSONL path (`evqa.training.pairs`) or a mapping of `build_pairs`
        arguments ({csv, video_dir, mask_dir, frames_dir, negatives, split, wrong_options, seed}) built when the
        run starts. eval_pairs: the same for held-out pairs, scored at the end (`eval_results.json`).
    negatives: keep only these pair sources (e.g. [correctness], POVQA's correctness-only negatives);
        None keeps every kind. num_frames / seed / sample_type / resolution: as in SFT.
    """

    pairs: list = field(default_factory=list)
    eval_pairs: list = field(default_factory=list)
    negatives: list[str] | None = None

    def __post_init__(self):
        if self.sources:
            raise ConfigError("a DPO run reads data.pairs, not data.sources", field="data.sources")
        if self.negatives is not None:
            unknown = sorted(set(self.negatives) - set(NEGATIVES))
            if unknown or not self.negatives:
                raise ConfigError(f"negatives must be a non-empty subset of {list(NEGATIVES)}, got "
                                  f"{self.negatives}", field="data.negatives")  # fmt: skip


@dataclass
class DpoTrainingArguments(TrainingArguments):
    """EVQA's TrainingArguments with the DPO knobs.

    beta: the DPO temperature (KL strength). length_normalize: score a sequence by its mean answer-token
        log-probability instead of the sum (TRL's `sigmoid_norm`). mask_weight: weight of the SAM2 mask loss in
        a sequence's score (see `evqa.training.dpo`). head_lr / sam2_lr do not apply (those weights are
        frozen).
    """

    stage: str = "dpo"
    beta: float = 0.3
    length_normalize: bool = False
    mask_weight: float = 1.0
    learning_rate: float = 5e-6
    num_train_epochs: float = 1.0

    def __post_init__(self):
        check_dpo_arguments(self.stage, self.beta)
        if self.mask_weight < 0:
            raise ConfigError(
                f"mask_weight must be >= 0, got {self.mask_weight}", field="training.mask_weight"
            )
        super().__post_init__()


SECTIONS = {"model": DpoModelArguments, "data": DpoDataArguments, "training": DpoTrainingArguments}
