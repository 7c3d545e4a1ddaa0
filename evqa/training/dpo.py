"""The DPO stage of the EVQA model: `evqa train --config train/<...>_dpo.yaml` (`training.stage: dpo`).

Policy and reference (no second copy of the base weights):
    policy     base model + the SFT LoRA adapter (`model.sft_adapter`, trainable adapter "default"), or a new
               LoRA adapter on a fully fine-tuned SFT checkpoint (`model.base_model`);
    reference  the same model with the adapter switched to "ref" (the SFT adapter loaded a second time,
               frozen: TRL's `ref_adapter_name`) or, for a new adapter, with the adapter disabled. TRL's
               `use_adapter` context switches between them. Every non-adapter weight is frozen and shared.

Score of one sequence y (the assistant turn) given the prompt x and the video:
    s(y) = sum_t log p(y_t | y_<t, x)  [/ |y| with `length_normalize`]  -  mask_weight * L_mask(y)
where the sum runs over the answer tokens (labels != -100, the `<|im_end|>` included) and L_mask is the
model's SAM2 mask loss (focal, dice, IoU and object-score terms with the model's weights, `mask_loss_style`
as configured) of the masks predicted from the answer's `<|seg|>` against that side's mask targets; it is 0
for a side without targets. exp(-L_mask) thus stands for the likelihood of the evidence mask. In a "mask" pair
both sides have the same text, so the token terms cancel exactly and the preference is carried by the mask
loss of the chosen (right object) vs the rejected (wrong object) targets.

Loss (the sigmoid DPO loss, equal to TRL's `DPOTrainer` on the same log-probabilities, see the tests):
    loss = -log sigmoid(beta * ((s_pol(c) - s_ref(c)) - (s_pol(r) - s_ref(r))))
Logged: `rewards/chosen`, `rewards/rejected` (beta * (s_pol - s_ref)), `rewards/margins`, `rewards/accuracies`,
`logps/chosen`, `logps/rejected` and, on mask batches, `mask_loss/chosen`, `mask_loss/rejected`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import set_seed

from evqa.errors import ConfigError
from evqa.training.dpo_args import REF_ADAPTER
from evqa.training.dpo_data import DpoCollator, PairsDataset, load_pairs
from evqa.training.pairs import write_pairs
from evqa.training.trainer import TRAINABLE_FILE, EvqaTrainer

log = logging.getLogger(__name__)

PAIRS_FILE = "dpo_pairs.jsonl"


def dpo_sigmoid_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta: float):
    """Per-pair sigmoid DPO losses and the implicit rewards beta * (policy - reference) of both sides."""
    chosen_logratios = policy_chosen - ref_chosen
    rejected_logratios = policy_rejected - ref_rejected
    losses = -F.logsigmoid(beta * (chosen_logratios - rejected_logratios))
    return losses, beta * chosen_logratios.detach(), beta * rejected_logratios.detach()


def sequence_logps(
    logits: torch.Tensor, labels: torch.Tensor, length_normalize: bool = False
) -> torch.Tensor:
    """[N, L, V] logits (position i predicts token i+1) and [N, L] labels (-100 outside the answer) -> [N]
    summed (or, with `length_normalize`, per-token mean) answer log-probabilities."""
    shift_logits, shift_labels = logits[:, :-1].float(), labels[:, 1:]
    mask = shift_labels != -100
    per_token = -F.cross_entropy(shift_logits.transpose(1, 2), shift_labels.clamp(min=0), reduction="none")
    sums = (per_token * mask).sum(dim=1)
    return sums / mask.sum(dim=1).clamp(min=1) if length_normalize else sums


def _core(model):
    """The EvqaForConditionalGeneration inside a (DDP-unwrapped) peft model."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def pair_scores(model, inputs: dict, *, length_normalize: bool = False, mask_weight: float = 1.0) -> dict:
    """Scores s(y) (module docstring) of every sequence of a [chosen; rejected] batch.

    Returns {"scores", "logps", "mask_losses"} of shape [2B]; mask_losses is 0 where a side has no targets.
    Only the logits from the first answer position on are computed (`logits_to_keep`)."""
    labels = inputs["labels"]
    answer = labels != -100
    first = (
        int(answer.float().argmax(dim=1)[answer.any(dim=1)].min()) if answer.any() else labels.shape[1] - 1
    )
    start = max(first - 1, 0)
    skip = {"labels", "mask_targets", "mask_valid", "prompt_frames"}
    out = model(**{k: v for k, v in inputs.items() if k not in skip}, logits_to_keep=labels.shape[1] - start)
    logps = sequence_logps(out.logits, labels[:, start:], length_normalize)
    mask_losses = torch.zeros_like(logps)
    targets = inputs.get("mask_targets")
    if targets is not None and any(t is not None for t in targets):
        core = _core(model.module if hasattr(model, "module") else model)
        valid = inputs.get("mask_valid")
        losses = []
        for b, target in enumerate(targets):
            value = None
            if target is not None:
                value, _, _ = core._mask_losses(
                    out.prenorm_hidden[b : b + 1], inputs["input_ids"][b : b + 1], labels[b : b + 1],
                    [inputs["sam2_pixel_values"][b]], [target], None if valid is None else [valid[b]], None,
                )  # fmt: skip
            losses.append(value if value is not None else logps.new_zeros(()))
        mask_losses = torch.stack(losses).to(logps.dtype)
    return {"scores": logps - mask_weight * mask_losses, "logps": logps, "mask_losses": mask_losses}


def reference_context(model):
    """Context in which `model` (a peft model) computes the reference: adapter "ref" when loaded, else no
    adapter (TRL's `use_adapter`)."""
    from trl.trainer.utils import use_adapter

    unwrapped = model.module if hasattr(model, "module") else model
    return use_adapter(unwrapped, REF_ADAPTER if REF_ADAPTER in unwrapped.peft_config else None)


class EvqaDpoTrainer(EvqaTrainer):
    """`EvqaTrainer` with the sigmoid DPO loss on [chosen; rejected] batches (`DpoCollator`).

    One step runs the reference forward (no gradient, `reference_context`) and then the policy forward on
    the same 2B sequences; beta, length normalisation and the mask weight come from `DpoTrainingArguments`."""

    def _pair_stats(self, model, inputs: dict) -> dict:
        kwargs = {"length_normalize": self.args.length_normalize, "mask_weight": self.args.mask_weight}
        with torch.no_grad(), reference_context(self.accelerator.unwrap_model(model)):
            ref = pair_scores(model, inputs, **kwargs)
        policy = pair_scores(model, inputs, **kwargs)
        n = policy["scores"].shape[0] // 2
        losses, chosen, rejected = dpo_sigmoid_loss(policy["scores"][:n], policy["scores"][n:],
                                                    ref["scores"][:n], ref["scores"][n:], self.args.beta)  # fmt: skip
        return {
            "losses": losses,
            "chosen_rewards": chosen,
            "rejected_rewards": rejected,
            "policy": policy,
            "n": n,
        }

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        stats = self._pair_stats(model, inputs)
        n, policy = stats["n"], stats["policy"]
        margins = stats["chosen_rewards"] - stats["rejected_rewards"]
        terms = {
            "rewards/chosen": stats["chosen_rewards"].mean(),
            "rewards/rejected": stats["rejected_rewards"].mean(),
            "rewards/margins": margins.mean(),
            "rewards/accuracies": (margins > 0).float().mean(),
            "logps/chosen": policy["logps"][:n].mean(),
            "logps/rejected": policy["logps"][n:].mean(),
        }
        if inputs.get("mask_targets") is not None:
            terms["mask_loss/chosen"] = policy["mask_losses"][:n].mean()
            terms["mask_loss/rejected"] = policy["mask_losses"][n:].mean()
        for key, value in terms.items():
            self._terms[key].append(float(value.detach()))
        loss = stats["losses"].mean()
        return (loss, stats) if return_outputs else loss

    @torch.no_grad()
    def evaluate_pairs(self, dataset: PairsDataset, batch_size: int | None = None) -> dict[str, float]:
        """Held-out preference metrics of the current policy on `dataset`:
        loss (DPO loss vs the reference), reward_margin / reward_accuracy (beta * log-ratio margin, share > 0),
        logp_margin / logp_accuracy (the policy's own s(chosen) - s(rejected), share > 0)."""
        from torch.utils.data import DataLoader

        model = self.accelerator.unwrap_model(self.model)
        was_training = model.training
        model.eval()
        size = batch_size or self.args.per_device_eval_batch_size
        totals = {"loss": [], "reward_margin": [], "logp_margin": []}
        try:
            for batch in DataLoader(dataset, batch_size=size, collate_fn=self.data_collator):
                batch = self._prepare_inputs(batch)
                stats = self._pair_stats(model, batch)
                n, scores = stats["n"], stats["policy"]["scores"]
                totals["loss"].append(stats["losses"])
                totals["reward_margin"].append(stats["chosen_rewards"] - stats["rejected_rewards"])
                totals["logp_margin"].append(scores[:n] - scores[n:])
        finally:
            model.train(was_training)
        cat = {k: torch.cat(v).float() for k, v in totals.items()}
        return {
            "loss": float(cat["loss"].mean()),
            "reward_margin": float(cat["reward_margin"].mean()),
            "reward_accuracy": float((cat["reward_margin"] > 0).float().mean()),
            "logp_margin": float(cat["logp_margin"].mean()),
            "logp_accuracy": float((cat["logp_margin"] > 0).float().mean()),
            "pairs": len(dataset),
        }


def _base_model(model_args, train_args):
    """(model, processor) of `base_model` (or `preset`), without adapters."""
    from evqa.model import build_model
    from evqa.training.recipe import check_model_args, load_base_checkpoint

    dtype = torch.bfloat16 if train_args.bf16 else None
    check_model_args(model_args)
    if model_args.base_model:
        return load_base_checkpoint(model_args, dtype)
    return build_model(model_args.preset, model_args.sam2, torch_dtype=dtype, pretrained=model_args.pretrained,
                       sam2_pretrained=model_args.sam2_pretrained, seed=train_args.seed)  # fmt: skip


def train_policy_adapter_only(model) -> None:
    """Leave only the policy's LoRA weights trainable (the frozen reference adapter and the base are not),
    switch dropout off (TRL's `disable_dropout_in_model`, so policy and reference see the same network) and
    put the model in training mode."""
    from trl.trainer.utils import disable_dropout_in_model

    for name, param in model.named_parameters():
        param.requires_grad_("lora_" in name and f".{REF_ADAPTER}." not in name)
    disable_dropout_in_model(model)
    model.train()


def build_dpo_model(model_args, train_args):
    """(policy peft model, processor) as the module docstring says; only the "default" adapter trains."""
    import safetensors.torch
    from peft import PeftModel

    from evqa.training.main import build_model as build_lora_model

    if model_args.sft_adapter is None:
        model, processor = build_lora_model(model_args, train_args)
    else:
        folder = Path(model_args.sft_adapter)
        if not (folder / "adapter_config.json").is_file():
            raise ConfigError("not a LoRA adapter folder (no adapter_config.json)", path=folder,
                              field="model.sft_adapter")  # fmt: skip
        base, processor = _base_model(model_args, train_args)
        model = PeftModel.from_pretrained(base, str(folder), adapter_name="default", is_trainable=True)
        if (folder / TRAINABLE_FILE).is_file():  # the heads / SAM2 / embeddings the SFT run trained
            result = model.load_state_dict(safetensors.torch.load_file(folder / TRAINABLE_FILE), strict=False)
            if result.unexpected_keys:
                raise ConfigError(f"{TRAINABLE_FILE} has weights the model lacks: {result.unexpected_keys[:4]}",
                                  path=folder, field="model.sft_adapter")  # fmt: skip
        model.load_adapter(str(folder), adapter_name=REF_ADAPTER, is_trainable=False)
        model.set_adapter("default")
    train_policy_adapter_only(model)
    return model, processor


def build_dpo_trainer(model_args, data_args, train_args, callbacks=None):
    """(trainer, processor, held-out PairsDataset or None) of a DPO run; writes the pairs it trains on to
    `<output_dir>/dpo_pairs.jsonl`."""
    if getattr(model_args, "kind", "evqa") != "evqa":
        raise ConfigError(
            "training.stage dpo is for the EVQA model (model.kind: evqa)", field="training.stage"
        )
    set_seed(train_args.seed)
    out = Path(train_args.output_dir)
    pairs = load_pairs(data_args.pairs, data_args.negatives)
    options = {
        "num_frames": data_args.num_frames,
        "seed": data_args.seed,
        "sample_type": data_args.sample_type,
    }
    dataset = PairsDataset(pairs, **options)
    eval_set = None
    if data_args.eval_pairs:
        eval_set = PairsDataset(load_pairs(data_args.eval_pairs, data_args.negatives), **options)
    if train_args.process_index == 0:
        write_pairs(out / PAIRS_FILE, pairs)
    log.info("DPO pairs: %s (written to %s)", dataset.summary(), out / PAIRS_FILE)
    model, processor = build_dpo_model(model_args, train_args)
    trainer = EvqaDpoTrainer(model=model, args=train_args, train_dataset=dataset,
                             data_collator=DpoCollator(processor, data_args.resolution, data_args.num_frames),
                             processing_class=processor, callbacks=callbacks)  # fmt: skip
    return trainer, processor, eval_set


def train_and_drop_reference(trainer, resume, held_out) -> None:
    """Train (resuming from `resume`), save the trainer state, score the held-out pairs when there are any
    (logged and saved as `eval` metrics), and delete the frozen reference adapter, which is not part of the
    result (the SFT adapter it copies is already saved elsewhere)."""
    trainer.train(resume_from_checkpoint=resume)
    trainer.save_state()
    if held_out is not None:
        metrics = trainer.evaluate_pairs(held_out)
        log.info("held-out pairs: %s", metrics)
        trainer.save_metrics("eval", metrics)
    unwrapped = trainer.accelerator.unwrap_model(trainer.model)
    if REF_ADAPTER in unwrapped.peft_config:
        unwrapped.delete_adapter(REF_ADAPTER)


def run_dpo_training(model_args, data_args, train_args, callbacks=None) -> Path:
    """Build the pairs, the policy and the trainer; train, save, score `eval_pairs`; returns the model folder."""
    from evqa.training.main import resolve_resume, save_final

    if getattr(model_args, "kind", "evqa") == "hf_vlm":
        from evqa.training.dpo_hf_vlm import run_vlm_dpo_training

        return run_vlm_dpo_training(model_args, data_args, train_args, callbacks)
    resume = resolve_resume(train_args)
    trainer, processor, eval_set = build_dpo_trainer(model_args, data_args, train_args, callbacks)
    train_and_drop_reference(trainer, resume, eval_set)
    return save_final(trainer, processor, model_args, Path(train_args.output_dir))
