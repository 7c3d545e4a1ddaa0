"""DPO of a plain transformers VLM: `model.kind: hf_vlm` with `training.stage: dpo` (POVQA's SFT -> DPO).

The same trainer as the EVQA model's DPO (`evqa.training.dpo.EvqaDpoTrainer`: TRL's sigmoid loss on the
summed, or length-normalised, answer log-probabilities; TRL's `use_adapter` for the reference) on the
inputs `evqa infer` gives the model (`AnswerOnlyCollator`: the frames as timestamped images, loss on the
answer tokens only). Pairs are the JSONL of `evqa.training.pairs` without mask files.

Policy and reference: `model.sft_adapter` (a LoRA or QLoRA SFT run of this checkpoint) is loaded into the
trainable adapter "default" (the `lora_*` settings must be the SFT run's, so every adapter weight has its
place) and a second time, frozen, as "ref"; without it a new adapter starts at zero and the reference is the
base with the adapter disabled. `finetune: full` has no adapter to disable and is refused.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from torch.utils.data import Dataset

from evqa.errors import ConfigError
from evqa.training.dpo_args import REF_ADAPTER, check_dpo_arguments
from evqa.training.hf_vlm.arguments import HfVlmDataArguments, HfVlmModelArguments, HfVlmTrainingArguments
from evqa.training.hf_vlm.collator import AnswerOnlyCollator
from evqa.training.pairs import NEGATIVES

log = logging.getLogger(__name__)


@dataclass
class HfVlmDpoModelArguments(HfVlmModelArguments):
    """`HfVlmModelArguments` + `sft_adapter` (see the module docstring); dropout off, as in TRL."""

    sft_adapter: str | None = None
    lora_dropout: float = 0.0

    def __post_init__(self):
        super().__post_init__()
        if not self.uses_lora:
            raise ConfigError("DPO trains a LoRA adapter (finetune: lora or qlora); the reference is the model "
                              "without it", field="model.finetune")  # fmt: skip


@dataclass
class HfVlmDpoDataArguments(HfVlmDataArguments):
    """`pairs` / `eval_pairs` / `negatives` as for the EVQA model (`evqa.training.dpo_args`); frames as in
    hf_vlm SFT (num_frames / fps / max_frames / max_size / pooling)."""

    pairs: list = field(default_factory=list)
    eval_pairs: list = field(default_factory=list)
    negatives: list[str] | None = None

    def __post_init__(self):
        super().__post_init__()
        if self.sources or self.eval_sources:
            raise ConfigError("a DPO run reads data.pairs, not data.sources", field="data.sources")
        if self.negatives is not None and (not self.negatives or set(self.negatives) - set(NEGATIVES)):
            raise ConfigError(f"negatives must be a non-empty subset of {list(NEGATIVES)}, got {self.negatives}",
                              field="data.negatives")  # fmt: skip


@dataclass
class HfVlmDpoTrainingArguments(HfVlmTrainingArguments):
    """hf_vlm TrainingArguments + beta (0.3), length_normalize (false); lr 5e-6 and 1 epoch by default."""

    stage: str = "dpo"
    beta: float = 0.3
    length_normalize: bool = False
    learning_rate: float = 5e-6
    num_train_epochs: float = 1.0

    def __post_init__(self):
        check_dpo_arguments(self.stage, self.beta)
        super().__post_init__()

    @property
    def mask_weight(self) -> float:  # a plain VLM has no mask path
        return 0.0


SECTIONS = {
    "model": HfVlmDpoModelArguments,
    "data": HfVlmDpoDataArguments,
    "training": HfVlmDpoTrainingArguments,
}


class VlmPairsDataset(Dataset):
    """Index i -> {"example": VideoQAExample with the chosen target, "rejected": text}; the frames are drawn
    by hf_vlm's sampler (`load_item_frames`), as `evqa infer` draws them."""

    def __init__(self, pairs, sampling):
        masked = [p["id"] for p in pairs if p.get("chosen_masks")]
        if masked:
            raise ConfigError(f"pairs with mask files (e.g. {masked[0]}) are for the EVQA model; a plain VLM "
                              "trains text answers (pairs built without mask_dir)", field="data.pairs")  # fmt: skip
        self.pairs = list(pairs)
        self.sampling = sampling

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> dict:
        from evqa.training.hf_vlm.data import VideoQAExample, load_item_frames
        from evqa.training.sources.base import FrameRef, SourceItem

        pair = self.pairs[i]
        frames = pair.get("frames")
        if isinstance(frames, list):
            ref = FrameRef("images", frames, [float(t) for t in pair["timestamps"]])
        else:
            ref = FrameRef("video", [frames or pair["video"]])
        item = SourceItem("dpo_pairs", pair["id"], "text", pair["prompt"], pair["chosen"], ref)
        frames, timestamps = load_item_frames(item, self.sampling)
        example = VideoQAExample("dpo_pairs", pair["id"], pair["prompt"], pair["chosen"], frames, timestamps)
        return {"example": example, "rejected": pair["rejected"]}

    def summary(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.pairs:
            out[p["source"]] = out.get(p["source"], 0) + 1
        return out


class VlmDpoCollator(AnswerOnlyCollator):
    """B pairs -> 2B rows (the B chosen, then the B rejected), same prompt and frames per pair."""

    def __call__(self, items) -> dict:
        examples = [item["example"] for item in items]
        targets = [ex.target for ex in examples] + [item["rejected"] for item in items]
        return self.encode(examples + examples, targets=targets)


def build_vlm_dpo_model(model_args, train_args):
    """(policy peft model, processor, base checkpoint folder) as the module docstring says."""
    import safetensors.torch
    from peft import set_peft_model_state_dict

    from evqa.training.dpo import train_policy_adapter_only
    from evqa.training.hf_vlm.model import build_vlm
    from evqa.training.hf_vlm.train import base_checkpoint

    base = base_checkpoint(model_args, train_args)
    model, processor = build_vlm(model_args, base, train_args)
    if model_args.sft_adapter is not None:
        folder = Path(model_args.sft_adapter)
        weights = folder / "adapter_model.safetensors"
        if not (folder / "adapter_config.json").is_file() or not weights.is_file():
            raise ConfigError("not a LoRA adapter folder (adapter_config.json, adapter_model.safetensors)",
                              path=folder, field="model.sft_adapter")  # fmt: skip
        state = safetensors.torch.load_file(weights)
        try:
            result = set_peft_model_state_dict(model, state, adapter_name="default")
            problems = result.unexpected_keys + [
                k for k in result.missing_keys if "lora_" in k and ".default." in k
            ]
        except RuntimeError as err:  # shapes differ (another rank)
            problems = [str(err).splitlines()[1].strip() if "\n" in str(err) else str(err)]
        if problems:
            raise ConfigError(f"the SFT adapter does not fit this model's adapter (set model.lora_r / lora_alpha / "
                              f"lora_target_modules / lora_projector as in the SFT run): "
                              f"{problems[:3]}", path=folder,
                              field="model.sft_adapter")  # fmt: skip
        model.load_adapter(str(folder), adapter_name=REF_ADAPTER, is_trainable=False)
        model.set_adapter("default")
    train_policy_adapter_only(model)
    return model, processor, base


def build_vlm_dpo_trainer(model_args, data_args, train_args, callbacks=None):
    """(trainer, processor, held-out dataset or None, base checkpoint folder)."""
    from transformers import set_seed

    from evqa.training.dpo import PAIRS_FILE, EvqaDpoTrainer
    from evqa.training.dpo_data import load_pairs
    from evqa.training.hf_vlm.train import sampling_of
    from evqa.training.pairs import write_pairs

    set_seed(train_args.seed)
    sampling = sampling_of(data_args)
    pairs = load_pairs(data_args.pairs, data_args.negatives)
    dataset = VlmPairsDataset(pairs, sampling)
    held = None
    if data_args.eval_pairs:
        held = VlmPairsDataset(load_pairs(data_args.eval_pairs, data_args.negatives), sampling)
    if train_args.process_index == 0:
        write_pairs(Path(train_args.output_dir) / PAIRS_FILE, pairs)
    log.info("DPO pairs: %s", dataset.summary())
    model, processor, base = build_vlm_dpo_model(model_args, train_args)
    trainer = EvqaDpoTrainer(model=model, args=train_args, train_dataset=dataset,
                             data_collator=VlmDpoCollator(processor, max_length=data_args.max_length),
                             processing_class=processor, callbacks=callbacks)  # fmt: skip
    return trainer, processor, held, base


def run_vlm_dpo_training(model_args, data_args, train_args, callbacks=None) -> Path:
    """Train and save the DPO adapter (+ `<output_dir>/merged` with `merge_lora`); returns the model folder."""
    from evqa.training.dpo import train_and_drop_reference
    from evqa.training.hf_vlm.model import train_dtype
    from evqa.training.hf_vlm.train import merge_adapter
    from evqa.training.main import resolve_resume

    resume = resolve_resume(train_args)
    trainer, processor, held, base = build_vlm_dpo_trainer(model_args, data_args, train_args, callbacks)
    train_and_drop_reference(trainer, resume, held)
    out = Path(train_args.output_dir)
    trainer.save_model(str(out))
    processor.save_pretrained(out)
    if train_args.merge_lora and trainer.is_world_process_zero():
        return merge_adapter(base, out, out / "merged", processor, train_dtype(train_args))
    return out
