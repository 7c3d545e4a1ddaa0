"""Plug-in frame selectors: a small model scores the candidate frames of a query and keeps the k that the
answering model then sees (VideoEspresso's core-frame selection; `evqa infer --frame-selector NAME`).

The candidates are the frames the benchmark's frame rule draws (EVQA sampling, the upstream uniform rule,
or the annotated core frames); the selector returns one score per candidate and the positions it keeps,
in time order. Registered selectors (`--frame-selector NAME`, or `NAME:CHECKPOINT` for one that loads
weights):

- `scene_change` (question-agnostic, pixels only): a frame's score is how much it differs from the
  candidate before it — the mean absolute difference of 32 x 32 grey thumbnails, 0..255 (the first
  candidate is compared with the second). The k highest are kept: frames just after cuts and motion.
- `uniqueness` (question-agnostic, pixels only): farthest-point picking on 16 x 16 colour thumbnails —
  first the frame farthest from the mean frame, then each time the frame farthest (L2, per pixel) from
  every frame already kept. A frame's score is its distance to the nearest kept frame when it was taken
  (kept frames) or at the end (the rest): the k kept frames cover the video's distinct looks.
- `clip:CHECKPOINT` (question-aware): a transformers CLIP-style dual encoder (`get_image_features` /
  `get_text_features`); a frame's score is the cosine similarity of its embedding to the question's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from evqa.errors import BackendUnavailableError, ConfigError, InputError, ModelError


@dataclass(frozen=True)
class Selection:
    """What a selector decided: `kept` int64 [k] positions into the candidates (increasing) and `scores`
    float64 [N], one per candidate (higher = more worth showing)."""

    kept: np.ndarray
    scores: np.ndarray


def _thumbnails(frames: np.ndarray, side: int, *, grey: bool) -> np.ndarray:
    """float64 [N, side, side(, 3)] thumbnails of uint8 [N, H, W, 3] frames (area filter)."""
    import cv2

    small = [cv2.resize(f, (side, side), interpolation=cv2.INTER_AREA) for f in frames]
    if grey:
        small = [cv2.cvtColor(s, cv2.COLOR_RGB2GRAY) for s in small]
    return np.stack(small).astype(np.float64)


def _check_frames(frames) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise InputError(
            f"frames must be uint8 [N>0, H, W, 3], got {frames.dtype} {frames.shape}", field="frames"
        )
    return frames


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k highest scores (ties: the earlier frame), in increasing order."""
    order = np.lexsort((np.arange(len(scores)), -np.asarray(scores, dtype=np.float64)))
    return np.sort(order[:k]).astype(np.int64)


class FrameSelector:
    """Base of every selector. `score(frames, question)` -> float [N]; `select` keeps the top k."""

    name: str = "base"
    question_aware: bool = False

    def __init__(self, checkpoint: str | None = None, **options: Any):
        if checkpoint is not None:
            raise ConfigError(f"frame selector {self.name} takes no checkpoint", field="--frame-selector")
        self.options = options

    def describe(self) -> dict[str, Any]:
        return {"selector": self.name}

    def score(self, frames: np.ndarray, question: str | None) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def select(self, frames: np.ndarray, question: str | None, k: int) -> Selection:
        """Keep min(k, N) of the N candidate frames uint8 [N, H, W, 3]."""
        frames = _check_frames(frames)
        if k < 1:
            raise ConfigError(f"--select-frames must be at least 1, got {k}", field="--select-frames")
        scores = np.asarray(self.score(frames, question), dtype=np.float64)
        if scores.shape != (len(frames),):
            raise ModelError(
                f"frame selector {self.name} gave {scores.shape} scores for {len(frames)} frames"
            )
        return Selection(top_k(scores, min(k, len(frames))), scores)


_SELECTORS: dict[str, type[FrameSelector]] = {}


def register_selector(name: str) -> Callable[[type[FrameSelector]], type[FrameSelector]]:
    """Class decorator: `--frame-selector name` builds this class; sets `cls.name`."""

    def wrap(cls: type[FrameSelector]) -> type[FrameSelector]:
        if name in _SELECTORS and _SELECTORS[name] is not cls:
            raise ValueError(f"frame selector '{name}' registered twice")
        cls.name = name
        _SELECTORS[name] = cls
        return cls

    return wrap


def list_selectors() -> list[str]:
    return sorted(_SELECTORS)


def build_selector(spec: str, **options: Any) -> FrameSelector:
    """The selector of `--frame-selector` `spec`: `NAME` or `NAME:CHECKPOINT`."""
    name, _, checkpoint = str(spec).partition(":")
    if name not in _SELECTORS:
        raise ConfigError(
            f"unknown frame selector '{name}' (known: {', '.join(list_selectors())})",
            field="--frame-selector",
        )
    return _SELECTORS[name](checkpoint or None, **options)


@register_selector("scene_change")
class SceneChangeSelector(FrameSelector):
    """Question-agnostic: the mean absolute grey-level change from the previous candidate (module doc)."""

    side = 32

    def score(self, frames, question=None):
        grey = _thumbnails(frames, self.side, grey=True)
        if len(grey) == 1:
            return np.zeros(1)
        change = np.abs(np.diff(grey, axis=0)).mean(axis=(1, 2))
        return np.concatenate([change[:1], change])


@register_selector("uniqueness")
class UniquenessSelector(FrameSelector):
    """Question-agnostic farthest-point picking on colour thumbnails (module doc)."""

    side = 16

    def _features(self, frames) -> np.ndarray:
        small = _thumbnails(frames, self.side, grey=False)
        return small.reshape(len(small), -1) / 255.0

    def select(self, frames, question, k):
        frames = _check_frames(frames)
        if k < 1:
            raise ConfigError(f"--select-frames must be at least 1, got {k}", field="--select-frames")
        x = self._features(frames)
        rms = np.sqrt(x.shape[1])  # distances per pixel: comparable across thumbnail sizes
        nearest = np.linalg.norm(x - x.mean(axis=0), axis=1) / rms
        scores = np.empty(len(x))
        kept: list[int] = []
        for _ in range(min(k, len(x))):
            pick = int(np.argmax(np.where(np.isin(np.arange(len(x)), kept), -np.inf, nearest)))
            scores[pick] = nearest[pick]
            kept.append(pick)
            nearest = np.minimum(nearest, np.linalg.norm(x - x[pick], axis=1) / rms)
        rest = np.setdiff1d(np.arange(len(x)), kept)
        scores[rest] = nearest[rest]
        return Selection(np.sort(np.asarray(kept, dtype=np.int64)), scores)

    def score(self, frames, question=None):
        return self.select(frames, question, len(frames)).scores


@register_selector("clip")
class ClipSelector(FrameSelector):
    """Question-aware: cosine similarity of each frame's and the question's embeddings from a transformers
    dual encoder (`clip:CHECKPOINT`, e.g. a CLIP or SigLIP folder). Options: device."""

    question_aware = True

    def __init__(self, checkpoint: str | None = None, *, device: str | None = None, **options: Any):
        if not checkpoint:
            raise ConfigError(
                "the clip frame selector needs a checkpoint: clip:PATH", field="--frame-selector"
            )
        self.options = options
        self.checkpoint = checkpoint
        try:
            import torch
            from transformers import AutoModel, AutoProcessor
        except ImportError as err:
            raise BackendUnavailableError("the clip frame selector needs torch and transformers") from err
        from evqa.baselines.hf_frames import pick_device

        self.device = pick_device(device)
        try:
            self.processor = AutoProcessor.from_pretrained(checkpoint)
            self.model = AutoModel.from_pretrained(checkpoint, dtype=torch.float32).to(self.device).eval()
        except (OSError, ValueError, KeyError) as err:
            raise ModelError(f"cannot load the frame selector checkpoint '{checkpoint}': {err}") from None
        if not callable(getattr(self.model, "get_image_features", None)):
            raise ModelError(f"'{checkpoint}' is not a dual encoder (no get_image_features)")

    def describe(self) -> dict[str, Any]:
        return {"selector": self.name, "checkpoint": self.checkpoint}

    @staticmethod
    def _tensor(features):
        return getattr(features, "pooler_output", features)  # transformers 5 returns an output object

    def score(self, frames, question=None):
        import torch
        from PIL import Image

        if not question:
            raise ConfigError("the clip frame selector needs the question", field="--frame-selector")
        images = self.processor(images=[Image.fromarray(f) for f in frames], return_tensors="pt")
        text = self.processor(text=[question], return_tensors="pt", padding=True, truncation=True)
        with torch.inference_mode():
            img = self._tensor(
                self.model.get_image_features(pixel_values=images["pixel_values"].to(self.device))
            )
            txt = self._tensor(
                self.model.get_text_features(**{k: v.to(self.device) for k, v in text.items()})
            )
        img = torch.nn.functional.normalize(img.float(), dim=-1)
        txt = torch.nn.functional.normalize(txt.float(), dim=-1)
        return (img @ txt[0]).cpu().numpy().astype(np.float64)
