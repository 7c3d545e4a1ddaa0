"""Where each VLM family keeps its parts, and how its processor is set up for video frames.

A plain transformers VLM is three parts: a vision encoder, a multimodal projector (vision features ->
LLM embeddings) and the language model. Their module prefixes (names as in `model.named_modules()` of
the `*ForConditionalGeneration` class transformers 5 ships) decide what LoRA wraps and what full
fine-tuning trains. Keyed by `config.model_type`.

Frames go in as timestamped images through the checkpoint's image processor for every family (the
transformers video processors need torchvision, which CPU-only machines lack), exactly as `evqa infer`'s
`HfFramesModel` feeds them, so a model is trained on the inputs it will be evaluated on:
    qwen2_5_vl / qwen3_vl  one image per frame (Qwen2-VL image processor: 28 / 32 px patches, 2x2 merge)
    smolvlm / idefics3     one image per frame, not split into tiles (`do_image_splitting: false`, as the
                           SmolVLM2 video processor treats frames); the setting is saved with the processor
    llava_onevision        one image per frame through its any-resolution image path
"""

from __future__ import annotations

from dataclasses import dataclass, field

from evqa.errors import ModelError


@dataclass(frozen=True)
class Family:
    """Module prefixes of one architecture (no trailing dot) and image-processor settings for frames."""

    name: str
    language_model: str
    vision: str
    projector: tuple[str, ...]
    image_processor: dict = field(default_factory=dict)


_QWEN_PROJECTOR = ("model.visual.merger",)
FAMILIES: dict[str, Family] = {
    "qwen2_vl": Family("qwen2_vl", "model.language_model", "model.visual", _QWEN_PROJECTOR),
    "qwen2_5_vl": Family("qwen2_5_vl", "model.language_model", "model.visual", _QWEN_PROJECTOR),
    # Qwen3-VL also projects intermediate vision layers into the LLM (DeepStack): part of the projector
    "qwen3_vl": Family(
        "qwen3_vl",
        "model.language_model",
        "model.visual",
        ("model.visual.merger", "model.visual.deepstack_merger_list"),
    ),
    "smolvlm": Family(
        "smolvlm",
        "model.text_model",
        "model.vision_model",
        ("model.connector",),
        {"do_image_splitting": False},
    ),
    "idefics3": Family(
        "idefics3",
        "model.text_model",
        "model.vision_model",
        ("model.connector",),
        {"do_image_splitting": False},
    ),
    "llava_onevision": Family(
        "llava_onevision", "model.language_model", "model.vision_tower", ("model.multi_modal_projector",)
    ),
}


def family_of(config) -> Family:
    """The `Family` of a loaded model's config; ModelError for an architecture not in `FAMILIES`."""
    model_type = getattr(config, "model_type", None)
    if model_type not in FAMILIES:
        raise ModelError(
            f"model.kind hf_vlm does not know the architecture {model_type!r}; "
            f"supported: {', '.join(sorted(FAMILIES))}"
        )
    return FAMILIES[model_type]


def part_of(name: str, family: Family) -> str:
    """'projector', 'vision', 'language_model' or 'other' (lm_head, ...) for a parameter/module name
    (a peft prefix `base_model.model.` is ignored). The projector is tested first: Qwen's sits inside
    the vision module."""
    name = name.removeprefix("base_model.model.")

    def under(prefix: str) -> bool:
        return name == prefix or name.startswith(prefix + ".")

    if any(under(p) for p in family.projector):
        return "projector"
    if under(family.vision):
        return "vision"
    if under(family.language_model):
        return "language_model"
    return "other"
