"""Dataclass arguments of a `model.kind: hf_vlm` run: which VLM, how it is fine-tuned, which data.

The `training` section is EVQA's `TrainingArguments` (HF Trainer fields + `resume`, `merge_lora`, auto
bf16 / activation checkpointing); its SAM2 / head learning rates do not exist for a plain VLM and are
refused. Defaults are POVQA's SFT (LoRA r=32, alpha=32, dropout 0.05 on the LLM's attention and MLP).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from evqa.errors import ConfigError
from evqa.training.arguments import TrainingArguments

FINETUNE_MODES = ("lora", "full", "qlora")
LLM_LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass
class HfVlmModelArguments:
    """A plain transformers VLM (Qwen2.5-VL, Qwen3-VL, SmolVLM2 / Idefics3, LLaVA-OneVision).

    base_model: local checkpoint folder (config, weights, processor), e.g. model_zoo/Qwen2.5-VL-7B-Instruct.
    tiny: instead, a tiny random checkpoint of this family (`evqa.training.hf_vlm.tiny`), built under
        `<output_dir>/tiny_base` (CPU smoke runs).
    finetune: "lora" (peft adapters, base frozen), "full" (every LLM and projector weight; the vision
        encoder too with `train_vision`), "qlora" (LoRA on a 4-bit NF4 base; needs bitsandbytes and CUDA).
    lora_r / lora_alpha / lora_dropout: the adapters' rank, scale and dropout.
    lora_target_modules: names of the LLM's linear layers that get adapters (inside the language model
        only: the vision tower's MLPs share names like `gate_proj` in Qwen2.5-VL).
    lora_projector: also put adapters on the multimodal projector's linear layers (POVQA's option).
    train_vision: full fine-tuning only: also train the vision encoder (default frozen).
    attn_implementation: "auto" (flash_attention_2 on CUDA when installed, else sdpa), or a name.
    bnb_4bit_quant_type / bnb_4bit_double_quant: QLoRA's quantisation ("nf4", double quantisation).
    image_processor: overrides of the checkpoint's image-processor settings (e.g. {max_pixels: 200704}),
        on top of the family defaults (`families.py`); saved with the processor, so inference uses them.
    """

    kind: str = "hf_vlm"
    base_model: str | None = None
    tiny: str | None = None
    finetune: str = "lora"
    lora_r: int = 32
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_target_modules: list[str] = field(default_factory=lambda: list(LLM_LORA_TARGETS))
    lora_projector: bool = False
    train_vision: bool = False
    attn_implementation: str = "auto"
    bnb_4bit_quant_type: str = "nf4"
    bnb_4bit_double_quant: bool = True
    image_processor: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.kind != "hf_vlm":
            raise ConfigError(f"expected kind hf_vlm, got {self.kind!r}", field="model.kind")
        if (self.base_model is None) == (self.tiny is None):
            raise ConfigError("give exactly one of model.base_model and model.tiny", field="model.base_model")
        if self.finetune not in FINETUNE_MODES:
            raise ConfigError(
                f"finetune must be one of {', '.join(FINETUNE_MODES)}, got {self.finetune!r}",
                field="model.finetune",
            )
        if self.train_vision and self.finetune != "full":
            raise ConfigError("train_vision needs finetune: full", field="model.train_vision")
        if self.lora_projector and self.finetune == "full":
            raise ConfigError("lora_projector needs finetune: lora or qlora", field="model.lora_projector")
        if self.finetune != "full" and not self.lora_target_modules:
            raise ConfigError("lora_target_modules is empty", field="model.lora_target_modules")

    @property
    def uses_lora(self) -> bool:
        return self.finetune in ("lora", "qlora")


@dataclass
class HfVlmDataArguments:
    """The training mixture, the held-out data and how frames are drawn.

    sources: mixture entries (`evqa.training.mixture`): `video_qa` JSONL files (the format of
        `evqa.training.sources.video_qa`) and any other text source; `ratio` on every entry mixes them by
        weight (0.7 / 0.3 = 70 % / 30 % of the samples).
    eval_sources: the same for evaluation during training (e.g. a `video_qa` entry with `split: val`).
    num_frames: frames per item, evenly spread, first and last included (`sample_frame_indices`);
        or `fps` frames per second (then set num_frames: null), at most `max_frames`.
    max_size: longest frame side in pixels before the processor (`evqa infer`'s --max-size default).
    pooling: wa | wae | war | bblf: one pooled image per second (`evqa.data.pooling`, `evqa infer
        --pooling`) instead of sampled frames; num_frames / max_frames pick or cap the seconds. None: off.
    max_length: refuse (DataError naming the item) a sample longer than this many tokens; None: no limit.
    """

    sources: list = field(default_factory=list)
    eval_sources: list = field(default_factory=list)
    num_frames: int | None = 8
    fps: float | None = None
    max_frames: int | None = None
    max_size: int | None = 448
    pooling: str | None = None
    max_length: int | None = None
    seed: int = 0

    def __post_init__(self):
        if (self.num_frames is None) == (self.fps is None):
            raise ConfigError(
                "give exactly one of data.num_frames and data.fps (set num_frames: null to sample by fps)",
                field="data.num_frames",
            )
        if self.pooling is not None:
            from evqa.data.pooling import POOLING_METHODS

            if self.pooling not in POOLING_METHODS:
                raise ConfigError(
                    f"unknown pooling '{self.pooling}' (choose from {', '.join(POOLING_METHODS)})",
                    field="data.pooling",
                )
        for key in ("num_frames", "fps", "max_frames", "max_size", "max_length"):
            value = getattr(self, key)
            if value is not None and value <= 0:
                raise ConfigError(f"must be positive, got {value}", field=f"data.{key}")


@dataclass
class HfVlmTrainingArguments(TrainingArguments):
    """EVQA's TrainingArguments without the EVQA model's extra learning rates (a plain VLM has no SAM2 and
    no seg/ref/mem heads). Evaluation reports the answer loss (`label_names` ["labels"]) and keeps no
    logits (`prediction_loss_only`: a vocabulary-wide logit tensor per eval token would fill the memory)."""

    sam2_lr: float | None = None
    head_lr: float | None = None
    prediction_loss_only: bool = True

    def __post_init__(self):
        for key in ("sam2_lr", "head_lr"):
            if getattr(self, key) is not None:
                raise ConfigError(f"{key} is for the EVQA model; hf_vlm has one learning_rate", field=key)
        if self.label_names is None:
            self.label_names = ["labels"]
        super().__post_init__()


SECTIONS = {"model": HfVlmModelArguments, "data": HfVlmDataArguments, "training": HfVlmTrainingArguments}
