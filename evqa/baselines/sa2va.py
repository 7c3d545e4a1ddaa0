"""Sa2VA (ByteDance/Sa2VA-1B/4B/8B/26B, remote code): answers and segments from the sampled frames.

The published model is called as `model.predict_forward(video=[PIL frames], text='<image>...',
tokenizer=...)` and returns {'prediction': text with '[SEG]' tokens, 'prediction_masks': one bool
[T, H, W] array per '[SEG]'}. Sa2VA takes no per-frame times, so the prompt states them. Its masks cover the
sampled frames; they are unioned over the '[SEG]' tokens and returned on those frames' indices.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from evqa import prompts
from evqa.baselines.base import BaselineModel, Request, Response
from evqa.baselines.registry import AdapterFacts, register_model
from evqa.errors import BackendUnavailableError, InputError, ModelError

SEG_TEXT = "[SEG]"


def sa2va_inputs(request: Request) -> dict[str, Any]:
    """Arguments of `predict_forward` (without the tokenizer) for one request."""
    from PIL import Image

    if request.history or request.images:
        raise InputError("Sa2VA takes one turn without extra images", entry=request.entry_id)
    times = ", ".join(f"{float(t):.1f}" for t in request.timestamps)
    text = f"<image>{prompts.VIDEO_PREAMBLE} The frames are at {times} seconds.\n{request.prompt}"
    return {"video": [Image.fromarray(frame) for frame in request.frames], "text": text}


def sa2va_response(result: dict[str, Any], request: Request) -> Response:
    """`predict_forward`'s output -> Response: text, and the union of the '[SEG]' masks bool [T, H, W] on the
    request's frame indices (None when the model emitted no '[SEG]')."""
    if not isinstance(result, dict) or not isinstance(result.get("prediction"), str):
        raise ModelError(f"Sa2VA returned {type(result).__name__} without a 'prediction' text")
    text = result["prediction"]
    masks = [np.asarray(m, dtype=bool) for m in result.get("prediction_masks") or []]
    meta = {"seg_tokens": text.count(SEG_TEXT)}
    if not masks:
        return Response(text=text.replace(SEG_TEXT, "").strip(), meta=meta)
    expected = (len(request.frames), *request.frames.shape[1:3])
    for mask in masks:
        if mask.shape != expected:
            raise ModelError(f"Sa2VA mask of shape {mask.shape}, expected {expected} (frames, H, W)")
    union = np.logical_or.reduce(masks)
    return Response(
        text=text.replace(SEG_TEXT, "").strip(),
        meta=meta,
        masks=union,
        mask_frames=np.asarray(request.frame_indices),
    )


@register_model(
    "sa2va",
    AdapterFacts("ByteDance/Sa2VA-4B", "sa2va", model_keywords=("sa2va",)),
)
class Sa2VAModel(BaselineModel):
    """Sa2VA through its remote code. Options: device, dtype."""

    def __init__(
        self,
        model: str | None = "ByteDance/Sa2VA-4B",
        *,
        device: str | None = None,
        dtype: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(model, **kwargs)
        try:
            import torch
            from transformers import AutoModel, AutoTokenizer
        except ImportError as err:
            raise BackendUnavailableError("the sa2va adapter needs torch and transformers") from err
        from evqa.baselines.hf_frames import pick_device

        self.device = pick_device(device)
        torch_dtype = (
            getattr(torch, dtype)
            if dtype
            else (torch.bfloat16 if self.device.startswith("cuda") else torch.float32)
        )
        try:
            self.model = (
                AutoModel.from_pretrained(model, dtype=torch_dtype, trust_remote_code=True)
                .eval()
                .to(self.device)
            )
            self.tokenizer = AutoTokenizer.from_pretrained(model, trust_remote_code=True)
        except (OSError, ValueError) as err:
            raise ModelError(f"cannot load Sa2VA checkpoint '{model}': {err}") from None

    def generate_inner(self, request: Request) -> Response:
        result = self.model.predict_forward(**sa2va_inputs(request), tokenizer=self.tokenizer)
        return sa2va_response(result, request)
