"""Convert a released UniPixel checkpoint into an EVQA checkpoint folder.

A UniPixel checkpoint (`PixelQwen2_5_VLForConditionalGeneration`) is a Qwen2.5-VL checkpoint plus
- `sam2.*`: Meta SAM2 parameters -> our `sam2.*` (transformers `Sam2VideoModel`, see `convert_sam2`);
- `seg_head.{0..3}` = RMSNorm, Linear, GELU, Linear, applied to the hidden state *before* the LLM's final
  norm. Our `SegHead` reads the hidden state *after* it (`hidden_states[-1]`). Both norms divide by the same
  root-mean-square, so RMSNorm_seg(h) = FinalNorm(h) * w_seg / w_final and the ratio folds exactly into the
  first Linear's input columns;
- `ref_encoder`, `ref_proj*`, `tem_*` (SAM2 prompt encoder + time embedding for `<|ref|>`) and `msk_proj`
  (vision-merger features for `<|mem|>`): their inputs differ from ours (normalised box + seconds; pooled
  SAM2 features), so they are not converted; our `ref_encoder` / `mem_proj` keep their initialisation.
  The report lists both groups. Question answering, temporal evidence and `<|seg|>` masks use only
  converted weights.
Every other key must be known: an unknown UniPixel key or a missing EVQA key raises `ModelError`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import AutoTokenizer, Qwen2_5_VLConfig

from evqa.errors import InputError, ModelError
from evqa.io import write_json_atomic
from evqa.model.convert_sam2 import meta_sam2_to_hf
from evqa.model.processing import EvqaProcessor
from evqa.model.tokenizer import prepare_tokenizer, special_token_ids

logger = logging.getLogger(__name__)

DROPPED_PREFIXES = (
    "ref_encoder.",
    "ref_proj_single.",
    "ref_proj_double.",
    "ref_proj.",
    "tem_pe.",
    "tem_emb.",
)
DROPPED_PREFIXES += ("tem_proj.", "msk_proj.")
INITIALISED_PREFIXES = ("ref_encoder.", "mem_proj.")
SAM2_NAMES = {"t": "tiny", "s": "small", "b+": "base", "l": "large"}
HIDDEN_SIZES = {"3b": 2048, "7b": 3584}


@dataclass
class ConversionReport:
    """What `convert_unipixel` did: counts of converted tensors per part, UniPixel keys not converted, and
    EVQA parameters that kept their initialisation."""

    source: str
    sam2: str
    sam2_image_size: int
    converted: dict[str, int] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)
    initialised: list[str] = field(default_factory=list)


def load_state_dict(src: Path) -> dict[str, torch.Tensor]:
    """All tensors of a checkpoint folder: model.safetensors, sharded safetensors (index json) or
    pytorch_model.bin. A LoRA adapter folder is refused (merge it into its base model first)."""
    if (src / "adapter_model.safetensors").is_file() or (src / "adapter_config.json").is_file():
        raise ModelError(f"{src} holds a LoRA adapter; merge it into its base model before converting")
    index = src / "model.safetensors.index.json"
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        state: dict[str, torch.Tensor] = {}
        for shard in shards:
            state.update(load_file(str(src / shard)))
        return state
    if (src / "model.safetensors").is_file():
        return load_file(str(src / "model.safetensors"))
    if (src / "pytorch_model.bin").is_file():
        return torch.load(src / "pytorch_model.bin", map_location="cpu", weights_only=True)
    raise InputError("no model.safetensors(.index.json) or pytorch_model.bin", path=str(src))


def qwen_key(key: str) -> str:
    """Qwen2.5-VL key in either layout (legacy `visual.*` / `model.layers.*` or current `model.visual.*` /
    `model.language_model.*`) -> the current layout."""
    if key.startswith("visual."):
        return "model." + key
    if key.startswith("model.") and not key.startswith(("model.visual.", "model.language_model.")):
        return "model.language_model." + key[len("model.") :]
    return key


def fold_seg_head(state: dict[str, torch.Tensor], final_norm: torch.Tensor) -> dict[str, torch.Tensor]:
    """UniPixel `seg_head.{0,1,3}` (RMSNorm, Linear, Linear) -> our `seg_head.mlp.{0,2}` reading the
    final-normed hidden state (see module docstring). Raises ModelError when a final-norm weight is ~0."""
    if final_norm.abs().min() < 1e-6:
        raise ModelError("the LLM's final norm has a zero weight; the seg_head norm cannot be folded")
    ratio = state["seg_head.0.weight"].float() / final_norm.float()
    first = state["seg_head.1.weight"]
    return {
        "seg_head.mlp.0.weight": (first.float() * ratio[None, :]).to(first.dtype),
        "seg_head.mlp.0.bias": state["seg_head.1.bias"],
        "seg_head.mlp.2.weight": state["seg_head.3.weight"],
        "seg_head.mlp.2.bias": state["seg_head.3.bias"],
    }


def split_unipixel(state: dict[str, torch.Tensor]) -> tuple[dict, dict, dict, list[str]]:
    """UniPixel tensors -> (qwen, meta_sam2 without prefix, seg_head, dropped key names)."""
    qwen, sam2, seg, dropped = {}, {}, {}, []
    for key, value in state.items():
        if key.startswith("sam2."):
            sam2[key[len("sam2.") :]] = value
        elif key.startswith("seg_head."):
            seg[key] = value
        elif key.startswith(DROPPED_PREFIXES):
            dropped.append(key)
        elif key.startswith(("model.", "visual.", "lm_head.")):
            qwen[qwen_key(key)] = value
        else:
            raise ModelError(f"unknown UniPixel parameter '{key}'")
    if not sam2:
        raise ModelError("no 'sam2.*' parameters: not a UniPixel checkpoint")
    if not {"seg_head.0.weight", "seg_head.1.weight", "seg_head.3.weight"} <= set(seg):
        raise ModelError(f"seg_head must be RMSNorm, Linear, GELU, Linear; found {sorted(seg)}")
    return qwen, sam2, seg, dropped


def sam2_name(src_config: dict, override: str | None) -> str:
    """'tiny' / 'base' / 'large' from --sam2 or UniPixel's `sam2_config` (e.g. 'sam2.1_hiera_b+')."""
    if override:
        return override
    match = re.search(r"hiera_(b\+|t|s|l)(?![a-z])", str(src_config.get("sam2_config") or ""))
    if not match:
        raise ModelError(
            "cannot tell the SAM2 size from config.json 'sam2_config'; pass --sam2 tiny|base|large"
        )
    return SAM2_NAMES[match[1]]


@contextlib.contextmanager
def default_dtype(dtype: torch.dtype):
    """Create parameters in `dtype` inside the block (halves the memory of a bf16 conversion)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def evqa_config_from(src_config: dict, tokenizer, sam2_config, num_seg_tokens: int):
    """`EvqaConfig` with UniPixel's Qwen2.5-VL hyper-parameters (flat legacy or nested config.json),
    the given SAM2 `Sam2VideoConfig` and EVQA's token ids from `tokenizer`."""
    from evqa.model.configuration import EvqaConfig

    qwen = Qwen2_5_VLConfig(
        **{k: v for k, v in src_config.items() if k not in ("architectures", "model_type")}
    )
    ids = special_token_ids(tokenizer)
    return EvqaConfig(
        text_config=qwen.text_config.to_dict(),
        vision_config=qwen.vision_config.to_dict(),
        image_token_id=qwen.image_token_id,
        video_token_id=qwen.video_token_id,
        vision_start_token_id=qwen.vision_start_token_id,
        vision_end_token_id=qwen.vision_end_token_id,
        tie_word_embeddings=bool(getattr(qwen, "tie_word_embeddings", False)),
        sam2_config=sam2_config,
        seg_token_id=ids["seg"],
        ref_token_id=ids["ref"],
        mem_token_id=ids["mem"],
        num_seg_prompt_tokens=num_seg_tokens,
    )


def _load_into(model, converted: dict[str, torch.Tensor]) -> list[str]:
    """Strictly load `converted`; only parameters under INITIALISED_PREFIXES may be missing (returned)."""
    try:
        result = model.load_state_dict(converted, strict=False, assign=True)
    except RuntimeError as err:  # shape mismatches
        raise ModelError(f"converted weights do not fit the EVQA model: {err}") from err
    missing = [k for k in result.missing_keys if not k.startswith(INITIALISED_PREFIXES)]
    if missing or result.unexpected_keys:
        raise ModelError(
            f"conversion mismatch: missing {missing[:8]}, unexpected {result.unexpected_keys[:8]}"
        )
    if model.config.tie_word_embeddings:
        model.tie_weights()
    return sorted(result.missing_keys)


def convert_unipixel(
    src: str | Path,
    dst: str | Path,
    *,
    sam2: str | None = None,
    base_preset: str | None = None,
    dtype: torch.dtype | None = None,
    sam2_config=None,
) -> ConversionReport:
    """Convert the UniPixel checkpoint folder `src` (config.json, tokenizer, weights) into an EVQA
    checkpoint folder `dst` that `load_model(dst)` reads; writes `dst/conversion_report.json`.

    Args:
        sam2: 'tiny' | 'base' | 'large'; default from config.json `sam2_config`.
        base_preset: '3b' | '7b'; when given, the checkpoint's LLM width must match it.
        dtype: parameter dtype of the written checkpoint; default config.json `torch_dtype`, else float32.
        sam2_config: an explicit `Sam2VideoConfig` instead of a named preset (used for tiny test models).
    Needs about twice the checkpoint's size in RAM (the source tensors + the model).
    """
    from evqa.model.loading import save_model
    from evqa.model.modeling import EvqaForConditionalGeneration
    from evqa.model.presets import sam2_config as preset_sam2_config

    src, dst = Path(src), Path(dst)
    if not (src / "config.json").is_file():
        raise InputError("no config.json: not a checkpoint folder", path=str(src))
    src_config = json.loads((src / "config.json").read_text())
    qwen, meta_sam2, seg, dropped = split_unipixel(load_state_dict(src))
    image_size = int(src_config.get("sam2_image_size") or 1024)
    name = "custom" if sam2_config is not None else sam2_name(src_config, sam2)
    sam2_config = sam2_config if sam2_config is not None else preset_sam2_config(name, image_size)
    tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(str(src)))
    sam2_hidden = sam2_config.vision_config.fpn_hidden_size
    config = evqa_config_from(
        src_config, tokenizer, sam2_config, seg["seg_head.3.weight"].shape[0] // sam2_hidden
    )
    if base_preset and HIDDEN_SIZES[base_preset] != config.text_config.hidden_size:
        raise ModelError(f"--base-preset {base_preset} expects LLM width {HIDDEN_SIZES[base_preset]}, "
                         f"the checkpoint has {config.text_config.hidden_size}")  # fmt: skip
    if len(tokenizer) > config.text_config.vocab_size:
        raise ModelError(
            f"tokenizer has {len(tokenizer)} tokens but the checkpoint {config.text_config.vocab_size}"
        )
    if config.tie_word_embeddings and "lm_head.weight" not in qwen:
        qwen["lm_head.weight"] = qwen["model.language_model.embed_tokens.weight"]
    sam2_state = {f"sam2.{k}": v for k, v in meta_sam2_to_hf(meta_sam2).items()}
    heads = fold_seg_head(seg, qwen["model.language_model.norm.weight"])
    dtype = dtype or getattr(
        torch, str(src_config.get("torch_dtype") or src_config.get("dtype") or "float32")
    )
    with default_dtype(dtype):
        model = EvqaForConditionalGeneration(config)
    initialised = _load_into(model, {**qwen, **sam2_state, **heads})
    save_model(model.to(dtype), EvqaProcessor(tokenizer, sam2_image_size=image_size), dst)
    report = ConversionReport(str(src), name, image_size, dropped=sorted(dropped), initialised=initialised)
    report.converted = {"qwen": len(qwen), "sam2": len(sam2_state), "seg_head": len(heads)}
    write_json_atomic(dst / "conversion_report.json", asdict(report))
    logger.info("converted %s -> %s (%s)", src, dst, report.converted)
    return report
