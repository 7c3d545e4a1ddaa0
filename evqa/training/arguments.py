"""Dataclass arguments of a training run: model, data, and an HF `TrainingArguments` subclass.

Defaults are EVQA's own setup: LoRA r=128 / alpha=256 / dropout 0.1 on the LLM's attention + MLP (and the
vision tower's attention) at lr 2e-5, the seg/ref/mem heads at 2e-5, SAM2's decoder and memory at 5e-6,
cosine schedule with 3 % warm-up, gradient clipping at 1.0, 8 random frames per video. The shipped 3b/7b
experiments set upstream EVQA's recipe instead (train/README.md, "The EVQA recipe").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import transformers

RESUME_AUTO, RESUME_SCRATCH = "auto", "scratch"


@dataclass
class ModelArguments:
    """Which model to start from and which parts train.

    `base_model`: an EVQA checkpoint folder (`evqa model init` / a converted UniPixel) to start from;
    None builds `preset` with SAM2 `sam2` (random init, or the Qwen2.5-VL / SAM2.1 weights found in the
    local folders `pretrained` / `sam2_pretrained`). `lora`: LoRA adapters + trainable heads and SAM2
    decoder/memory (`evqa.model.apply_lora`); False trains every parameter (the tiny demo model).
    `kind`: "evqa" (this model); `hf_vlm` configs use `evqa.training.hf_vlm.arguments` instead.

    The recipe knobs (`evqa.training.recipe`; defaults keep EVQA's own setup, the 3b/7b YAMLs set
    upstream's): `lora_targets` "evqa" (LLM attention + MLP, `evqa.model.apply_lora`) or "unipixel"
    (q/k/v/o of the LLM + the vision attention's qkv/proj, UniPixel's `qkvo_all`); `train_embeddings`:
    the token embeddings and LM head train (at `learning_rate`); `sam2_trainable` "decoder" (mask decoder,
    memory and tracking parameters) or "all" (the image encoder too); `sam2_image_size`: the side SAM2
    encodes at (None: the checkpoint's); with `base_model`, a `sam2` whose image encoder differs from the
    checkpoint's replaces it with the SAM2.1 weights of `sam2_pretrained`.
    """

    kind: str = "evqa"
    preset: str = "tiny"
    sam2: str = "tiny"
    base_model: str | None = None
    pretrained: str | None = None
    sam2_pretrained: str | None = None
    lora: bool = True
    lora_r: int = 128
    lora_alpha: int = 256
    lora_dropout: float = 0.1
    lora_vision: bool = True
    lora_targets: str = "evqa"
    train_embeddings: bool = False
    sam2_trainable: str = "decoder"
    sam2_image_size: int | None = None


@dataclass
class DataArguments:
    """The mixture (`sources`: one config entry per source, see `evqa.training.mixture`) and frames/video.

    sample_type: "random" (a random subset of the frames) or "segments" (one random frame from each of
    `num_frames` equal segments, upstream's); prompt_style: "evqa" (`evqa.prompts` EVQA wording) or
    "upstream" (upstream EVQA's template families, drawn at random per sample); resolution: "processor"
    (the processor's pixel bounds for every frame) or "upstream" (upstream's per-sample bounds, see
    `evqa.training.collator.upstream_pixels`). max_video_frames: leave out items that list more frames
    (sources that give a frame list; a video file is not probed).
    """

    sources: list = field(default_factory=list)
    num_frames: int = 8
    seed: int = 0
    sample_type: str = "random"
    prompt_style: str = "evqa"
    resolution: str = "processor"
    max_video_frames: int | None = None  # drop items whose frame list is longer (upstream: 500)


@dataclass
class TrainingArguments(transformers.TrainingArguments):
    """HF TrainingArguments with the recipe's defaults and EVQA's extra knobs.

    sam2_lr: learning rate of the SAM2 parameters; head_lr: of the seg/ref/mem projections (default:
    `learning_rate`). resume: "auto" (latest checkpoint in output_dir, if any), "scratch" (ignore existing
    checkpoints), or a checkpoint folder. merge_lora: also save `<output_dir>/merged` with LoRA folded in.
    bf16 / activation_checkpointing / tf32: "auto" turns them on exactly when a CUDA GPU (Ampere or newer for
    tf32) is present. mask_step_threads: CPU intra-op threads for the steps of batches with mask targets (SAM2's
    image encoder and tracking have large convolutions and matrix products that spread over cores, while
    text-only steps of a small model are latency-bound and keep the process's setting); 0 leaves the
    setting alone.
    """

    def __post_init__(self):
        if self.stage not in ("sft", "dpo"):
            raise ValueError(f"stage must be sft or dpo, got {self.stage!r}")
        if self.mask_step_threads < 0:
            raise ValueError(f"mask_step_threads must be >= 0, got {self.mask_step_threads}")
        gpu = torch.cuda.is_available()
        if self.bf16 == "auto":
            self.bf16 = gpu and torch.cuda.is_bf16_supported()
        if self.activation_checkpointing == "auto":
            self.activation_checkpointing = gpu
        if self.tf32 == "auto":  # TF32 matmuls need an Ampere or newer GPU
            self.tf32 = gpu and torch.cuda.get_device_capability()[0] >= 8
        self.dataloader_pin_memory = self.dataloader_pin_memory and gpu
        super().__post_init__()

    stage: str = "sft"  # "dpo": the DPO stage (`evqa.training.dpo_args`)
    output_dir: str = "work_dirs/tiny/run"
    learning_rate: float = 2e-5
    sam2_lr: float = 5e-6
    head_lr: float | None = None
    lr_scheduler_type: str = "cosine"
    warmup_steps: float = 0.03  # a float < 1 is a ratio of the total steps
    max_grad_norm: float = 1.0
    weight_decay: float = 0.0
    per_device_train_batch_size: int = 1
    num_train_epochs: float = 1.0
    logging_steps: float = 10
    save_steps: float = 500
    save_total_limit: int | None = 3
    report_to: str | list[str] | None = "none"
    remove_unused_columns: bool = False
    resume: str = RESUME_AUTO
    merge_lora: bool = False
    bf16: bool | str = "auto"  # "auto": on when a CUDA GPU supports it
    tf32: bool | str | None = None  # "auto": on with an Ampere or newer GPU
    activation_checkpointing: bool | str | None = "auto"  # "auto": on with a CUDA GPU
    ddp_find_unused_parameters: bool | None = True  # text-only steps leave SAM2 without gradients
    mask_step_threads: int = 0  # CPU intra-op threads while a batch with mask targets trains; 0: unchanged
