"""Frame sampling for baselines: which frames a model sees and at what time (seconds), on top of the data
layer's decoders (`evqa.data.video`)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Sampling:
    """How frames are drawn: `fps` frames per second (or `num_frames` evenly), at most `max_frames`,
    longest side resized to `max_size` pixels (None = original). `pooling` (wa, wae, war, bblf;
    `evqa.data.pooling`) replaces sampling by one pooled image per second of video (`fps` is then
    ignored; `num_frames` / `max_frames` pick or cap the seconds evenly). `folder_fps` is the rate of
    videos given as frame folders (None: `evqa.data.video.FRAME_FOLDER_FPS`, upstream's 6-fps folders)."""

    fps: float | None = 1.0
    num_frames: int | None = None
    max_frames: int | None = None
    max_size: int | None = None
    pooling: str | None = None
    folder_fps: float | None = None


@dataclass
class Frames:
    """Sampled frames: uint8 [T, H, W, 3] (None when not decoded), int64 [T] indices into the video,
    float64 [T] timestamps in seconds; `video_fps` and the video's original `size` (H, W) in pixels."""

    frames: np.ndarray | None
    indices: np.ndarray
    timestamps: np.ndarray
    video_fps: float
    size: tuple[int, int]


def resize_longest(frames: np.ndarray, max_size: int | None) -> np.ndarray:
    """Downscale uint8 [T, H, W, 3] so that max(H, W) <= max_size pixels (aspect kept, area filter)."""
    import cv2

    height, width = frames.shape[1:3]
    if not max_size or max(height, width) <= max_size:
        return frames
    scale = max_size / max(height, width)
    new = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.stack([cv2.resize(f, new, interpolation=cv2.INTER_AREA) for f in frames])


def resize_to(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """One uint8 [h, w, 3] image resized to [height, width, 3] (area filter when shrinking)."""
    import cv2

    if image.shape[:2] == (height, width):
        return image
    shrink = image.shape[0] * image.shape[1] > height * width
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def load_frames(video_path: str | os.PathLike, sampling: Sampling, *, decode: bool = True) -> Frames:
    """Sample a video (file or frame folder) as `sampling` says, through `evqa.data.video.sample_frames`,
    then resize to `sampling.max_size`; `decode=False` only computes indices and timestamps (dry runs,
    file-based models)."""
    from evqa.data.video import sample_frames

    if sampling.pooling:
        from evqa.data.pooling import pooled_seconds, pooled_video
        from evqa.data.video import video_info

        info = video_info(video_path, folder_fps=sampling.folder_fps)
        size = (info.height, info.width)
        if not decode:
            times, first, _ = pooled_seconds(info.num_frames, info.fps, num_images=sampling.num_frames,
                                             max_images=sampling.max_frames)  # fmt: skip
            return Frames(None, first, times, info.fps, size)
        images, times, first = pooled_video(video_path, sampling.pooling, num_images=sampling.num_frames,
                                            max_images=sampling.max_frames, folder_fps=sampling.folder_fps)  # fmt: skip
        return Frames(resize_longest(images, sampling.max_size), first, times, info.fps, size)
    sampled = sample_frames(
        video_path,
        fps=sampling.fps,
        num_frames=sampling.num_frames,
        max_frames=sampling.max_frames,
        decode=decode,
        folder_fps=sampling.folder_fps,
    )
    frames = resize_longest(sampled.frames, sampling.max_size) if decode else None
    info = sampled.info
    return Frames(frames, sampled.indices, sampled.timestamps, info.fps, (info.height, info.width))
