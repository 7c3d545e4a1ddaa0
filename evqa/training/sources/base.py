"""The typed record every training source yields, and the one place its frames and masks are loaded.

A source indexes its annotation files once (cheap: paths, texts, frame numbers) into `SourceItem`s; the
pixels are decoded only when the mixture asks for one example (`load_example`). Frames are addressed on
the video's own timeline so the LLM sees true timestamps (seconds).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from evqa.data.masks import rle_decode
from evqa.data.video import read_image
from evqa.errors import DataError

DataType = Literal["mask", "text"]


class MaskTrack:
    """The mask targets of one item on its frame timeline (the union of the referred objects).

    Subclasses decode lazily: `frames()` lists annotated frame indices, `get(i)` returns bool (H, W) or
    None when frame i is not annotated.

    `sample_annotated`: draw the sampled frames from the annotated ones (referring segmentation: every
    frame then has a target). False when the answer is about time (ST-Evidence: the temporal evidence is
    part of the target), so the model sees frames over the whole video as at inference, and the mask loss
    covers the sampled frames that are annotated.
    """

    sample_annotated: bool = True
    # True: only frames up to the last annotated one are sampled (upstream's gen_mask clips)
    clip_to_annotated: bool = False

    def frames(self) -> list[int]:
        raise NotImplementedError

    def get(self, index: int) -> np.ndarray | None:
        raise NotImplementedError


class RleTrack(MaskTrack):
    """Objects given as per-frame COCO RLE lists (`rles[obj][frame]`, None = object absent there).

    dense=True (MeViS, ReVOS, LV-VIS: every frame is annotated): an absent object is an empty mask.
    dense=False: a frame is annotated only where some object has an RLE.
    """

    def __init__(self, rles: Sequence[Sequence[dict | None]], *, dense: bool, where: str = ""):
        self.rles = rles
        self.dense = dense
        self.where = where

    def _count(self) -> int:
        return max((len(r) for r in self.rles), default=0)

    def frames(self) -> list[int]:
        if self.dense:
            return list(range(self._count()))
        return [i for i in range(self._count()) if any(i < len(r) and r[i] is not None for r in self.rles)]

    def get(self, index: int) -> np.ndarray | None:
        present = [r[index] for r in self.rles if index < len(r) and r[index] is not None]
        if not present:
            if not self.dense or index >= self._count():
                return None
            size = next((f["size"] for r in self.rles for f in r if f is not None), None)
            return None if size is None else np.zeros([int(v) for v in size], dtype=bool)
        return np.logical_or.reduce([rle_decode(rle, where=self.where) for rle in present])


class PaletteTrack(MaskTrack):
    """Palette PNGs (`paths[i]` for frame i, None if not annotated) whose pixel value is the object id."""

    def __init__(self, paths: Sequence[str | None], object_ids: Sequence[int]):
        self.paths = list(paths)
        self.object_ids = [int(o) for o in object_ids]

    def frames(self) -> list[int]:
        return [i for i, p in enumerate(self.paths) if p is not None]

    def get(self, index: int) -> np.ndarray | None:
        path = self.paths[index] if index < len(self.paths) else None
        if path is None:
            return None
        try:
            with Image.open(path) as img:
                ids = np.asarray(img)
        except (OSError, ValueError) as err:
            raise DataError(f"cannot read annotation PNG ({err})", path=path) from None
        if ids.ndim == 3:  # an RGB annotation: objects are not recoverable by id
            raise DataError("expected a palette (P-mode) PNG with object ids", path=path)
        return np.isin(ids, self.object_ids)


@dataclass
class FrameRef:
    """Where the pixels of one item come from.

    kind "images": `paths[i]` is frame i, shown at `timestamps[i]` seconds;
    kind "video":  `paths[0]` is a video file or a `frame_%04d.jpg` folder decoded by `evqa.data.video`;
    kind "image":  `paths[0]` is one still image (timestamp 0).
    `fps` (videos): take evenly spaced frames at this rate instead, as Qwen2.5-VL's video reader does
    (`rate_frame_indices`), at most `num_frames`.
    """

    kind: Literal["images", "video", "image"]
    paths: list[str]
    timestamps: list[float] = field(default_factory=list)
    fps: float | None = None


@dataclass
class SourceItem:
    """One training sample before decoding.

    `masks` decodes the mask targets on the frame timeline of `frames` (sampling prefers its annotated
    frames for mask items); text items have none. `turn` describes the sample for the upstream prompt
    wording (`evqa.training.sources.base.upstream_turns`): {"kind": "query" | "sentence" | "description" |
    "question", "text": ..., "answer": ...} or {"kind": "st_evidence", "question", "candidates", "letter",
    "segments"}; None keeps `prompt` / `target` in every style.
    """

    source: str
    sample_id: str
    data_type: DataType
    prompt: str
    target: str
    frames: FrameRef
    masks: MaskTrack | None = None
    turn: dict | None = None


@dataclass
class TrainExample:
    """One decoded sample, what the collator hands to `EvqaProcessor.encode_example`.

    frames: uint8 [T, H, W, 3] RGB; timestamps: float64 [T] seconds; mask_targets: bool [T, H, W] or None;
    mask_valid: bool [T] (False where the frame has no annotation, so its mask loss is skipped) or None.
    """

    source: str
    sample_id: str
    data_type: DataType
    prompt: str
    target: str
    frames: np.ndarray
    timestamps: np.ndarray
    mask_targets: np.ndarray | None = None
    mask_valid: np.ndarray | None = None
    pixel_rule: str = "segment"  # the source's `pixel_rule` (see `Source`)


SAMPLE_TYPES = ("random", "segments")
PROMPT_STYLES = ("evqa", "upstream")


def segment_indices(length: int, num_frames: int, rng: random.Random) -> list[int]:
    """One random index from each of `num_frames` equal segments of range(length) (all if fewer).

    The segment edges are round(k * (length - 1) / num_frames), k = 0..num_frames, and segment k draws
    from [edge_k, max(edge_k + 1, edge_k+1)) — UniPixel's `sample_type: random`.
    """
    if length <= num_frames:
        return list(range(length))
    step = (length - 1) / num_frames
    edges = np.arange(0, length, step)[: num_frames + 1].round().astype(int).tolist()
    return [
        rng.choice(range(start, max(start + 1, end))) for start, end in zip(edges, edges[1:], strict=False)
    ]


def rate_frame_indices(total: int, video_fps: float, fps: float, max_frames: int) -> list[int]:
    """Evenly spaced frames at `fps` per second of a `total`-frame video, as qwen-vl-utils counts them:
    duration x fps frames, at least 4, at most `max_frames` and the video's length, rounded down to an even
    number (at least 2), placed at round(linspace(0, total - 1, n))."""
    if total < 2:
        return list(range(total))
    upper = max(2, min(max_frames, total) // 2 * 2)
    count = min(max(total / video_fps * fps, 4), upper, total)
    count = max(2, int(count // 2 * 2))
    return np.linspace(0, total - 1, count).round().astype(int).tolist()


def choose_frames(
    num_available: int,
    num_frames: int,
    rng: random.Random,
    preferred: Sequence[int] = (),
    sample_type: str = "random",
) -> list[int]:
    """Pick `num_frames` sorted frame indices out of `num_available` (all of them if fewer).

    sample_type "random": a random subset. When `preferred` (annotated frames) is given and long enough
    the pick is drawn from it, so every sampled frame of a mask item has a target; otherwise annotated
    frames come first, then the rest. "segments": one random frame from each of `num_frames` equal
    segments of the annotated frames (of all frames when `preferred` is empty), see `segment_indices`.
    """
    if num_available <= 0:
        raise ValueError("an item needs at least one frame")
    if sample_type not in SAMPLE_TYPES:
        raise ValueError(f"sample_type must be one of {SAMPLE_TYPES}, got {sample_type!r}")
    pool = sorted({int(i) for i in preferred if 0 <= int(i) < num_available})
    if sample_type == "segments":
        pool = pool or list(range(num_available))
        return [pool[i] for i in segment_indices(len(pool), num_frames, rng)]
    if num_available <= num_frames:
        return list(range(num_available))
    if len(pool) >= num_frames:
        return sorted(rng.sample(pool, num_frames))
    rest = [i for i in range(num_available) if i not in set(pool)]
    return sorted(pool + rng.sample(rest, num_frames - len(pool)))


def _load_pixels(
    ref: FrameRef,
    num_frames: int,
    rng: random.Random,
    preferred: Sequence[int],
    sample_type: str = "random",
    limit: int | None = None,
):
    if ref.kind == "image":
        return read_image(ref.paths[0])[None], np.zeros(1), [0]
    if ref.kind == "images":
        available = len(ref.paths) if limit is None else min(len(ref.paths), limit)
        picks = choose_frames(available, num_frames, rng, preferred, sample_type)
        frames = np.stack([read_image(ref.paths[i]) for i in picks])
        return frames, np.asarray([ref.timestamps[i] for i in picks], dtype=np.float64), picks
    from evqa.data.video import read_frames, video_info

    info = video_info(ref.paths[0])
    available = info.num_frames if limit is None else min(info.num_frames, limit)
    if ref.fps is not None:
        picks = rate_frame_indices(available, float(info.fps), ref.fps, num_frames)
    else:
        picks = choose_frames(available, num_frames, rng, preferred, sample_type)
    frames = read_frames(ref.paths[0], np.asarray(picks, dtype=np.int64))
    return frames, np.asarray(picks, dtype=np.float64) / float(info.fps), picks


def upstream_turns(turn: dict) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(prompt choices, target choices) of an item's `turn` in upstream EVQA's wording (`evqa.prompts`)."""
    from evqa.prompts import upstream_segmentation_turns, upstream_st_evidence_turns

    if turn["kind"] == "st_evidence":
        return upstream_st_evidence_turns(
            turn["question"], turn["candidates"], turn["letter"], turn["segments"]
        )
    return upstream_segmentation_turns(turn["kind"], turn["text"], turn.get("answer"))


def load_example(
    item: SourceItem,
    num_frames: int,
    rng: random.Random,
    *,
    sample_type: str = "random",
    prompt_style: str = "evqa",
) -> TrainExample:
    """Decode `num_frames` frames of `item` (with true timestamps) and their mask targets.

    sample_type: see `choose_frames`. prompt_style "evqa": the item's `prompt` / `target`; "upstream": a
    random template of the item's upstream family (`upstream_turns`), for items that describe their turn.
    """
    if prompt_style not in PROMPT_STYLES:
        raise ValueError(f"prompt_style must be one of {PROMPT_STYLES}, got {prompt_style!r}")
    preferred = item.masks.frames() if item.masks is not None and item.masks.sample_annotated else ()
    limit = None
    if item.masks is not None and item.masks.clip_to_annotated:
        annotated = item.masks.frames()
        limit = max(annotated) + 1 if annotated else None
    frames, timestamps, picks = _load_pixels(item.frames, num_frames, rng, preferred, sample_type, limit)
    prompt, target = item.prompt, item.target
    if prompt_style == "upstream" and item.turn is not None:
        prompts, targets = upstream_turns(item.turn)
        prompt, target = rng.choice(prompts), rng.choice(targets)
    mask_targets = mask_valid = None
    if item.data_type == "mask" and item.masks is not None:
        height, width = frames.shape[1:3]
        mask_targets = np.zeros((len(picks), height, width), dtype=bool)
        mask_valid = np.zeros(len(picks), dtype=bool)
        for row, index in enumerate(picks):
            mask = item.masks.get(index)
            if mask is None:
                continue
            if mask.shape != (height, width):
                raise DataError(
                    f"mask {mask.shape} differs from frame size {(height, width)}",
                    path=item.frames.paths[0],
                    entry=item.sample_id,
                    field=f"frame {index}",
                )
            mask_targets[row], mask_valid[row] = mask, True
    return TrainExample(
        item.source,
        item.sample_id,
        item.data_type,
        prompt,
        target,
        frames,
        timestamps,
        mask_targets,
        mask_valid,
    )


def frame_paths(folder: Path, names: Sequence[str], ext: str = ".jpg") -> list[str]:
    """`folder/<name><ext>` for each frame name (names without extension, as annotation files list them)."""
    return [str(folder / f"{name}{ext}") for name in names]


class Source:
    """Base of every dataset source: `items` is built once in `__init__`; subclasses only parse files."""

    name = "source"
    data_type: DataType = "mask"
    # which of upstream's frame-resolution rules applies (`data.resolution: upstream`, see the collator):
    # "segment" (segmentation and ST-Evidence videos), "conversation" (LLaVA images, VideoGPT+ videos)
    pixel_rule = "segment"

    def __init__(self, items: list[SourceItem]):
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> SourceItem:
        return self.items[index]
