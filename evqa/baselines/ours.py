"""The EVQA model (`ours`) and UniPixel checkpoints converted to it (`unipixel`) behind the adapter interface.

A generative-task request asked with the model's own question prompt goes through `EvqaPredictor`: answer,
segments and masks for every frame of the video (SAM2 memory propagation). Any other request (MCQ prompts,
option images are not supported by the model) is answered as text from the sampled frames.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from evqa.baselines.base import BaselineModel, Request, Response
from evqa.baselines.registry import AdapterFacts, register_model
from evqa.errors import InputError, ModelError
from evqa.prompts import evqa_question_prompt


def load_evqa(path: str, device: str | None = None, dtype: str | None = None):
    """(model, processor) of an EVQA checkpoint folder; a clear error for anything else."""
    import torch

    from evqa.model import load_model

    torch_dtype = getattr(torch, dtype) if dtype else None
    try:
        return load_model(path, device=device, dtype=torch_dtype)
    except OSError as err:
        raise ModelError(
            f"cannot load an EVQA checkpoint from '{path}' ({err}); a released UniPixel checkpoint must "
            "first be converted with `evqa convert-unipixel`"
        ) from None


@register_model(
    "ours",
    AdapterFacts("model_zoo/evqa-3b", "ours"),
)
class EvqaModel(BaselineModel):
    """EVQA checkpoint (folder written by `evqa train` / `evqa model init`). Options: device, dtype,
    max_frames (LLM frames per video), chunk_frames (SAM2 frames encoded at once)."""

    prompt_style = "evqa"
    default_max_new_tokens = 96  # 'Answer: B. Temporal Evidence: [[..]]. Spatial Evidence: <|seg|>.' fits
    needs_video = True
    supports_batching = True

    def __init__(
        self,
        model: str | None = None,
        *,
        device: str | None = None,
        dtype: str | None = None,
        max_frames: int | None = 64,
        chunk_frames: int = 16,
        **kwargs: Any,
    ):
        super().__init__(model, **kwargs)
        from evqa.baselines.hf_frames import pick_device
        from evqa.model import EvqaPredictor

        self.device = pick_device(device)
        self.model, self.processor = load_evqa(model, self.device, dtype)
        self.predictor = EvqaPredictor(
            self.model, self.processor, max_frames=max_frames, chunk_frames=chunk_frames, progress=False
        )

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "device": self.device}

    def generate_inner(self, request: Request) -> Response:
        return self.generate_batch_inner([request])[0]

    def generate_batch_inner(self, requests: list[Request]) -> list[Response]:
        """EVQA-prompt requests through the predictor (with masks), the others as plain text generation."""
        for request in requests:
            if request.history:
                raise InputError("the EVQA model answers single-turn requests", entry=request.entry_id)
        own = [i for i, r in enumerate(requests) if is_own_prompt(r)]
        out: list[Response | None] = [None] * len(requests)
        if own:
            self.predictor.fps = requests[own[0]].fps or self.predictor.fps
            self.predictor.max_new_tokens = self.budget([requests[i] for i in own])
            items = [
                (requests[i].video_path, requests[i].question, list(requests[i].candidates)) for i in own
            ]
            for i, prediction in zip(own, self.predictor.predict_batch(items), strict=True):
                out[i] = prediction_response(prediction)
        rest = [i for i in range(len(requests)) if out[i] is None]
        for i, text in zip(rest, self.generate_text([requests[i] for i in rest]), strict=True):
            out[i] = Response(text=text)
        return out

    def generate_text(self, requests: list[Request]) -> list[str]:
        """Greedy text answers to arbitrary prompts over the requests' frames (no masks)."""
        import torch

        if not requests:
            return []
        from evqa.model.predictor import llm_inputs

        examples = [
            self.processor.encode_generation_prompt(*with_option_images(r), r.prompt) for r in requests
        ]
        inputs = llm_inputs(self.model, self.processor, examples)  # the backbone's generate inputs
        budget = self.budget(requests)
        with torch.inference_mode():
            sequences = self.model.generate(**inputs, max_new_tokens=budget, do_sample=False)
        new = sequences[:, inputs["input_ids"].shape[1] :].tolist()
        stop = {self.processor.token_ids["im_end"], self.processor.token_ids["pad"]}
        return [self.processor.decode(_until(tokens, stop)).strip() for tokens in new]


@register_model(
    "unipixel",
    AdapterFacts("PolyU-ChenLab/UniPixel-3B", "unipixel", model_keywords=("unipixel",)),
)
class UniPixelModel(EvqaModel):
    """A released UniPixel checkpoint converted with `evqa convert-unipixel` (same architecture as ours)."""


def is_own_prompt(request: Request) -> bool:
    """True when the request asks the generative question the way the EVQA model was trained."""
    if request.question is None or not request.candidates:
        return False
    return request.prompt == evqa_question_prompt(request.question, request.candidates)


def prediction_response(prediction) -> Response:
    """EvqaPrediction -> Response with masks bool [N, H, W] on every frame of the video."""
    meta = {**prediction.meta, "frames": prediction.frame_indices.tolist()}
    masks = prediction.masks
    return Response(text=prediction.raw_text, meta=meta, masks=masks, mask_frames=np.arange(len(masks)))


def with_option_images(request: Request) -> tuple[np.ndarray, np.ndarray]:
    """(frames uint8 [T+K, H, W, 3], timestamps [T+K] s): the model reads one frame sequence, so the K option
    images (MCQ spatial evidence) follow the video as extra frames, resized to the frame size, one second
    apart, in option order (the prompt tells the model they come after the video)."""
    from evqa.baselines.frames import resize_to

    frames, times = request.frames, np.asarray(request.timestamps, dtype=np.float64)
    if not request.images:
        return frames, times
    height, width = frames.shape[1:3]
    extra = np.stack([resize_to(image, height, width) for _, image in request.images])
    extra_times = times[-1] + 1.0 + np.arange(len(extra))
    return np.concatenate([frames, extra]), np.concatenate([times, extra_times])


def _until(tokens: list[int], stop: set[int]) -> list[int]:
    end = next((i for i, t in enumerate(tokens) if t in stop), len(tokens))
    return tokens[:end]
