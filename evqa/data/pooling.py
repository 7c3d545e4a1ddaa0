"""POVQA's temporal pooling: one image per second of video, a weighted blend of that second's frames.

For the frames f_1 .. f_n whose timestamps fall in the same second [s, s + 1) (in time order), in float:
    WA    w_i = linspace(0.1, 1.0, n)_i                 out = sum_i w_i f_i / sum_i w_i
    WAE   w_i proportional to gamma^(n - i), gamma = 0.85 (normalised: the last frame weighs most)
    WAR   w_i proportional to i^p, p = 2 (normalised)
    BBLF  out = 0.7 * WAE(f_1..f_n) + 0.3 * f_n          (a blur blended with the last frame)
BBLF is itself a weighting (0.7 * w_WAE + 0.3 on the last frame), so every method is `sum_i w_i f_i` with
weights summing to 1 (`pooling_weights`). A second with one frame pools to that frame.

Arithmetic: weights and the blend in float64, one rounding at the end: round half to even (`np.rint`) and
clip to [0, 255], back to uint8. (POVQA truncates with `astype(uint8)`, which darkens by half a grey level
on average, and rounds BBLF twice — once for the blur, once in cv2.addWeighted; ours rounds once.)

Pure numpy, no video IO: the frame sampler decodes the frames and calls `pool_frames`.
"""

from __future__ import annotations

import numpy as np

POOLING_METHODS = ("wa", "wae", "war", "bblf")
# POVQA's folder names for the same methods (out_preprocessed/<movie>/<name>/).
POVQA_NAMES = {
    "wa": "weighted_average",
    "wae": "weighted_average_exponential",
    "war": "weighted_average_ramp",
    "bblf": "blend_blur_with_last_frame",
}
WAE_GAMMA = 0.85
WAR_POWER = 2.0
BBLF_ALPHA = 0.7
# Timestamps like i / fps can land a hair below an integer second; this much slack assigns them to it.
_SECOND_SLACK = 1e-9


def pooling_weights(n: int, method: str) -> np.ndarray:
    """The weights [n] (float64, sum 1) that `method` gives frames 1..n of one second, oldest first."""
    if method not in POOLING_METHODS:
        raise ValueError(f"unknown pooling method {method!r} (choose from {', '.join(POOLING_METHODS)})")
    if n < 1:
        raise ValueError(f"a second to pool needs at least one frame, got {n}")
    i = np.arange(1, n + 1, dtype=np.float64)
    if method == "wa":
        w = np.linspace(0.1, 1.0, n)
    elif method == "war":
        w = i**WAR_POWER
    else:
        w = WAE_GAMMA ** (n - i)
    w = w / w.sum()
    if method == "bblf":
        w = BBLF_ALPHA * w
        w[-1] += 1.0 - BBLF_ALPHA
    return w


def pool_chunk(frames: np.ndarray, method: str) -> np.ndarray:
    """Pool the frames of one second, uint8 [n, H, W, C] in time order -> float64 [H, W, C] (unrounded)."""
    w = pooling_weights(len(frames), method)
    out = np.zeros(frames.shape[1:], dtype=np.float64)
    for weight, frame in zip(w, frames, strict=True):  # one frame at a time: bounded memory for 1080p
        out += weight * frame
    return out


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Round half to even and clip to [0, 255] (the one rounding step of pooling)."""
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def second_of(timestamps: np.ndarray) -> np.ndarray:
    """The whole second each timestamp (seconds) falls in: floor(t), robust to i / fps rounding."""
    return np.floor(np.asarray(timestamps, dtype=np.float64) + _SECOND_SLACK).astype(np.int64)


def pool_frames(frames: np.ndarray, timestamps, method: str) -> tuple[np.ndarray, np.ndarray]:
    """One pooled image per second of video.

    Args:
        frames: uint8 [N, H, W, 3], in time order.
        timestamps: seconds [N], non-decreasing (frame i shown at timestamps[i]).
        method: one of `POOLING_METHODS`.
    Returns:
        pooled: uint8 [S, H, W, 3], one image per second that has at least one frame, in time order;
        times: float64 [S], the start s of the second [s, s + 1) each image summarises.
    """
    frames = np.asarray(frames)
    t = np.asarray(timestamps, dtype=np.float64)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be uint8 [N, H, W, 3], got {frames.dtype} {list(frames.shape)}")
    if t.shape != (frames.shape[0],):
        raise ValueError(f"{frames.shape[0]} frames but timestamps of shape {list(t.shape)}")
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValueError("timestamps must be finite, non-negative seconds")
    if np.any(np.diff(t) < 0):
        raise ValueError("timestamps must be non-decreasing (frames in time order)")
    pooling_weights(1, method)  # validates the name even for an empty video
    if frames.shape[0] == 0:
        return np.zeros((0, *frames.shape[1:]), dtype=np.uint8), np.zeros(0, dtype=np.float64)
    seconds = second_of(t)
    starts = np.flatnonzero(np.r_[True, seconds[1:] != seconds[:-1]])
    ends = np.r_[starts[1:], len(seconds)]
    pooled = np.stack([to_uint8(pool_chunk(frames[a:b], method)) for a, b in zip(starts, ends, strict=True)])
    return pooled, seconds[starts].astype(np.float64)


def pooled_seconds(
    num_frames: int, video_fps: float, *, num_images: int | None = None, max_images: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which seconds of a video of `num_frames` frames at `video_fps` are pooled, and their frames.

    Every second [s, s + 1) with at least one frame is a candidate; `num_images` keeps that many spread
    evenly (first and last included), `max_images` caps the count the same way (`sample_frame_indices`
    on the seconds' timeline). Returns (times float64 [S]: each second's start s, first int64 [S] and
    end int64 [S]: the frame-index range [first, end) of each kept second).
    """
    from evqa.data.video import sample_frame_indices

    seconds = second_of(np.arange(num_frames) / video_fps)
    starts = np.flatnonzero(np.r_[True, seconds[1:] != seconds[:-1]])
    ends = np.r_[starts[1:], len(seconds)]
    keep = sample_frame_indices(len(starts), 1.0, num_frames_out=num_images, max_frames=max_images)
    return (
        seconds[starts[keep]].astype(np.float64),
        starts[keep].astype(np.int64),
        ends[keep].astype(np.int64),
    )


def pooled_video(
    path,
    method: str,
    *,
    num_images: int | None = None,
    max_images: int | None = None,
    folder_fps: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode a video (file or frame folder) and pool it: one image per second (`pooled_seconds` chooses
    the seconds), each the `pool_chunk` of all that second's frames, decoded one second at a time.

    Returns (pooled uint8 [S, H, W, 3], times float64 [S] (second starts), first frame index int64 [S]).
    `folder_fps`: a frame folder's rate (`evqa.data.video.video_info`).
    """
    from evqa.data.video import read_frames, video_info

    pooling_weights(1, method)
    info = video_info(path, folder_fps=folder_fps)
    times, first, end = pooled_seconds(
        info.num_frames, info.fps, num_images=num_images, max_images=max_images
    )
    images = [
        to_uint8(pool_chunk(read_frames(path, np.arange(a, b)), method))
        for a, b in zip(first, end, strict=True)
    ]
    return np.stack(images), times, first
