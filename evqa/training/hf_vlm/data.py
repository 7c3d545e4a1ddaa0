"""The data a plain VLM trains on: the mixture's text items with their frames sampled as `evqa infer` does.

Any text source of the mixture serves (`video_qa` JSONL, ST-Evidence `gen_qa`, the instruction sets);
mask sources do not (a plain VLM has no mask head). Frames are drawn by the project's one sampler,
`evqa.data.video.sample_frame_indices` (evenly spread `num_frames`, or `fps`, capped at `max_frames`),
through the baselines' `load_frames` for videos and frame folders, and resized to `max_size` pixels on
the longest side: the frames and times a model sees in training are the ones it sees at inference.
Sampling is deterministic, so every epoch, rank and resumed run sees the same pixels for an item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from torch.utils.data import Dataset

from evqa.baselines.frames import Sampling, load_frames, resize_longest
from evqa.data.video import read_image, sample_frame_indices
from evqa.errors import ConfigError, DataError
from evqa.training.mixture import MixtureDataset, build_mixture
from evqa.training.sources import FrameRef, SourceItem


@dataclass
class VideoQAExample:
    """One decoded sample: frames uint8 [T, H, W, 3] RGB, timestamps float64 [T] seconds, and the text of
    the user turn (`prompt`) and of the answer (`target`)."""

    source: str
    sample_id: str
    prompt: str
    target: str
    frames: np.ndarray
    timestamps: np.ndarray


def _image_list_frames(ref: FrameRef, sampling: Sampling, entry: str) -> tuple[np.ndarray, np.ndarray]:
    """Sample a list of frame images with given times as a video at their mean frame rate."""
    times = np.asarray(ref.timestamps, dtype=np.float64)
    span = float(times[-1] - times[0]) if len(times) > 1 else 0.0
    rate = (len(times) - 1) / span if span > 0 else 1.0
    picks = sample_frame_indices(
        len(ref.paths),
        rate,
        fps=sampling.fps,
        num_frames_out=sampling.num_frames,
        max_frames=sampling.max_frames,
    )
    images = [resize_longest(read_image(ref.paths[i])[None], sampling.max_size)[0] for i in picks]
    if len({image.shape for image in images}) > 1:
        raise DataError("the frames of one item differ in size", path=ref.paths[0], entry=entry)
    return np.stack(images), times[picks]


def load_item_frames(item: SourceItem, sampling: Sampling) -> tuple[np.ndarray, np.ndarray]:
    """(frames uint8 [T, H, W, 3], timestamps float64 [T] seconds) of one item."""
    ref = item.frames
    if ref.kind == "video":
        frames = load_frames(ref.paths[0], sampling)
        return frames.frames, frames.timestamps
    if ref.kind == "images":
        return _image_list_frames(ref, sampling, item.sample_id)
    return resize_longest(read_image(ref.paths[0])[None], sampling.max_size), np.zeros(1)


class VideoQADataset(Dataset):
    """Index i -> `VideoQAExample` over a `MixtureDataset`'s index (its counts, repeats and ratios)."""

    def __init__(self, mixture: MixtureDataset, sampling: Sampling):
        self.mixture = mixture
        self.sampling = sampling

    def __len__(self) -> int:
        return len(self.mixture)

    def item(self, i: int) -> SourceItem:
        s, index = self.mixture.index[i]
        return self.mixture.sources[s][index]

    def __getitem__(self, i: int) -> VideoQAExample:
        item = self.item(i)
        frames, timestamps = load_item_frames(item, self.sampling)
        return VideoQAExample(item.source, item.sample_id, item.prompt, item.target, frames, timestamps)

    def summary(self) -> dict[str, int]:
        return self.mixture.summary()


def build_video_qa_dataset(specs: Sequence[dict], sampling: Sampling, *, seed: int = 0) -> VideoQADataset:
    """The mixture of `specs` (config entries) as a VideoQADataset; mask sources are refused."""
    mixture = build_mixture(specs, seed=seed)
    for source in mixture.sources:
        if source.data_type != "text":
            raise ConfigError(
                f"source {source.name!r} trains masks; model.kind hf_vlm trains text answers only",
                entry=source.name,
                field="data.sources",
            )
    return VideoQADataset(mixture, sampling)
