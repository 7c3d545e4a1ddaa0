"""What every baseline adapter receives and returns, and the base class that validates both.

A model never knows which benchmark or task calls it: it gets a `Request` (frames with their times, a prompt,
optional extra images and earlier turns) and returns a `Response`. Batching, retries, resume and JSON writing
live in `evqa.baselines.runner`, once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from evqa.errors import InputError


@dataclass(frozen=True)
class Request:
    """One model call.

    Attributes:
        entry_id: the benchmark entry this call belongs to (for error messages and logs only).
        prompt: the user text of the current turn.
        frames: uint8 [T, H, W, 3] RGB frames sampled from the video, or None for file-based models.
        timestamps: float64 [T] — the time of each frame in seconds (same length as `frames`).
        frame_indices: int64 [T] — the frames' indices in the source video.
        video_path: the source video (models that take a whole file, e.g. Gemini, use it).
        fps: the sampling rate in frames per second the frames were drawn with (None = fixed count).
        images: extra (label, uint8 [H, W, 3]) images shown after the video, e.g. MCQ mask options.
        frame_texts: one text per frame shown right after that frame (e.g. its nearest subtitle line;
            '' = none), or () for none. Only adapters with `interleaves_frame_texts` are given any.
        history: earlier (user, assistant) turns of a multi-turn conversation; the video belongs to the
            first user turn.
        question / candidates: the structured question, for models trained on their own prompt (`ours`).
        max_new_tokens: generation budget in tokens (None: the adapter's `default_max_new_tokens`).
        timeout: seconds left for this call (set by the runner's per-item deadline; None = no limit).
    """

    entry_id: str
    prompt: str
    frames: np.ndarray | None = None
    timestamps: np.ndarray | None = None
    frame_indices: np.ndarray | None = None
    video_path: str | None = None
    fps: float | None = None
    images: tuple[tuple[str, np.ndarray], ...] = ()
    frame_texts: tuple[str, ...] = ()
    history: tuple[tuple[str, str], ...] = ()
    question: str | None = None
    candidates: tuple[str, ...] = ()
    max_new_tokens: int | None = None
    timeout: float | None = None


@dataclass
class Response:
    """A model's reply: `text`, token `usage` ({'prompt_tokens', 'completion_tokens', ...}) and free `meta`.

    Grounded models may fill `masks` (bool [N, H, W] at the video's original size) and `mask_frames`
    (int64 [N], indices on the video's frame timeline).
    """

    text: str
    usage: dict[str, int] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    masks: np.ndarray | None = None
    mask_frames: np.ndarray | None = None


def validate_request(request: Request, *, needs_frames: bool, needs_video: bool) -> None:
    """Raise InputError (naming the entry and field) if `request` is not something a model can take."""
    where = {"entry": request.entry_id}
    if not isinstance(request.prompt, str) or not request.prompt.strip():
        raise InputError("the prompt is empty", field="prompt", **where)
    if needs_video and not request.video_path:
        raise InputError("this model needs the video file", field="video_path", **where)
    if request.frames is None:
        if needs_frames:
            raise InputError("this model needs sampled frames", field="frames", **where)
        return
    frames = request.frames
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise InputError(
            f"frames must be uint8 [T>0, H, W, 3], got {frames.dtype} {frames.shape}", field="frames", **where
        )
    if request.timestamps is None or len(request.timestamps) != len(frames):
        raise InputError("every frame needs a timestamp in seconds", field="timestamps", **where)
    if np.any(np.diff(np.asarray(request.timestamps, dtype=float)) < 0):
        raise InputError("frame timestamps must not decrease", field="timestamps", **where)
    if request.frame_texts and len(request.frame_texts) != len(frames):
        raise InputError(
            f"{len(request.frame_texts)} frame texts for {len(frames)} frames", field="frame_texts", **where
        )


class BaselineModel:
    """Base of every adapter: `generate()` validates the request, times the call and calls `generate_inner()`.

    Class attributes a subclass may set:
        name: the registry name (set by `@register_model`).
        needs_frames / needs_video: what the request must carry.
        default_concurrency: requests in flight the runner uses by default (API models: many; local: 1).
        supports_batching: `generate_batch` runs several requests in one forward pass (local models).
        default_max_new_tokens: the generation budget when a request names none.
        interleaves_frame_texts: the adapter places `Request.frame_texts` between the frames; tasks give
            the others those texts in the prompt instead.
    """

    name: str = "base"
    needs_frames: bool = True
    needs_video: bool = False
    default_concurrency: int = 1
    supports_batching: bool = False
    default_max_new_tokens: int = 1024
    interleaves_frame_texts: bool = False

    def __init__(self, model: str | None = None, **kwargs: Any):
        self.model_id = model
        self.options = kwargs

    def budget(self, requests: list[Request]) -> int:
        """Tokens to generate for these requests: the largest budget they ask for, else the default."""
        asked = [r.max_new_tokens for r in requests if r.max_new_tokens]
        return max(asked) if asked else self.default_max_new_tokens

    def endpoint(self) -> str | None:
        """Where a remote model is served (API adapters; None for local models). Never holds secrets."""
        return None

    def describe(self) -> dict[str, Any]:
        """Identity recorded in every prediction's meta (never secrets)."""
        return {"model": self.model_id or self.name, "adapter": self.name}

    def generate(self, request: Request) -> Response:
        """Validate `request`, call `generate_inner`, and add `latency_s` to the response meta."""
        validate_request(request, needs_frames=self.needs_frames, needs_video=self.needs_video)
        start = time.perf_counter()
        response = self.generate_inner(request)
        if not isinstance(response, Response):
            raise TypeError(f"{type(self).__name__}.generate_inner must return a Response")
        response.meta.setdefault("latency_s", round(time.perf_counter() - start, 4))
        return response

    def generate_batch(self, requests: list[Request]) -> list[Response]:
        """Validate every request and answer them together (`generate_batch_inner`); adapters that do not
        batch answer them one by one."""
        for request in requests:
            validate_request(request, needs_frames=self.needs_frames, needs_video=self.needs_video)
        start = time.perf_counter()
        responses = self.generate_batch_inner(requests)
        each = round((time.perf_counter() - start) / max(1, len(requests)), 4)
        for response in responses:
            response.meta.setdefault("latency_s", each)
            response.meta.setdefault("batch_size", len(requests))
        return responses

    def generate_batch_inner(self, requests: list[Request]) -> list[Response]:
        return [self.generate_inner(r) for r in requests]

    def generate_inner(self, request: Request) -> Response:  # pragma: no cover - abstract
        raise NotImplementedError
