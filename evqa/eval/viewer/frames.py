"""Which frames of an entry the viewer shows, and writing them with their mask overlays.

Frames are named by their index on the annotation timeline (6 fps for ST-Evidence: frame i is shown at
i / 6 s, as its mask files are numbered); the video itself may have another frame rate. Video frames are
decoded through `evqa.data.video` (the one decoding place); masks come from callables so that any mask
layout (`evqa.data.masks.MaskStore`, option images, ...) can feed the viewer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from evqa.data.video import read_frames, sample_frame_indices, video_info
from evqa.errors import DataError
from evqa.eval.viewer.images import ReportImages, thumbnail_size
from evqa.eval.viewer.model import FrameView

MaskSource = Callable[[int], "np.ndarray | None"]


def spread(values: Sequence[int], count: int) -> list[int]:
    """`count` items of sorted `values` spread evenly, first and last included (all when count >= len)."""
    values = sorted(set(values))
    if count >= len(values):
        return values
    if count <= 0:
        return []
    if count == 1:
        return [values[len(values) // 2]]
    return [values[int(k * (len(values) - 1) / (count - 1) + 0.5)] for k in range(count)]  # half up


def choose_frames(annotated: Sequence[int], sampled: Sequence[int], max_frames: int) -> list[int]:
    """The frames to show: at most `max_frames`, sorted.

    annotated: frames with a GT mask; sampled: frames the models saw (or an even spread over the video).
    GT frames come first because they are where the spatial evidence can be judged: with sampled frames
    too, they take up to half of the places (all of them if fewer) and sampled frames fill the rest.
    """
    annotated, sampled = sorted(set(annotated)), sorted(set(sampled) - set(annotated))
    if not sampled:
        return spread(annotated, max_frames)
    gt_places = min(len(annotated), max(math.ceil(max_frames / 2), max_frames - len(sampled)))
    chosen = spread(annotated, gt_places)
    return sorted(chosen + spread(sampled, max_frames - len(chosen)))


def even_frames(num_frames: int, count: int) -> list[int]:
    """`count` frames spread evenly over a timeline of `num_frames` frames (the sampler's uniform rule)."""
    if num_frames <= 0:
        return []
    return sample_frame_indices(num_frames, 1.0, num_frames_out=count).tolist()


class VideoFrames:
    """Reads frames of one video by timeline index; `error` says why it cannot (missing, undecodable)."""

    def __init__(self, path: str | Path | None, timeline_fps: float):
        self.path = Path(path) if path else None
        self.timeline_fps = float(timeline_fps)
        self.info = None
        self.error: str | None = None
        if self.path is None:
            self.error = "no video folder given (--video_dir) or no video_path in the CSV"
        elif not self.path.exists():
            self.error = f"video not found: {self.path}"
        else:
            try:
                self.info = video_info(self.path)
            except DataError as err:
                self.error = str(err)

    @property
    def duration(self) -> float | None:
        """Length in seconds, None when the video cannot be read."""
        return self.info.duration if self.info is not None else None

    def read(self, indices: Sequence[int]) -> np.ndarray | None:
        """uint8 [T, H, W, 3] RGB at the timeline indices (nearest video frame), None on a decoding error."""
        if self.info is None or not indices:
            return None
        video = [min(self.info.num_frames - 1, round(i / self.timeline_fps * self.info.fps)) for i in indices]
        try:
            return read_frames(self.path, video)
        except DataError as err:
            self.error = str(err)
            return None


def _mask_area(mask: np.ndarray) -> float:
    return float(np.count_nonzero(mask)) / mask.size if mask.size else 0.0


def write_entry_frames(
    images: ReportImages,
    key: str,
    indices: Sequence[int],
    timeline_fps: float,
    video: VideoFrames,
    gt_mask: MaskSource,
    pred_masks: Sequence[MaskSource],
) -> tuple[list[FrameView], tuple[int, int] | None]:
    """Write the thumbnails and overlays of one entry's frames; returns (frames, thumbnail (h, w)).

    Without a readable video the overlays are still written, at the size of the first mask found, over no
    picture (the page then draws them on a plain background and says the video is missing).
    """
    gt = {i: gt_mask(i) for i in indices}
    preds = [{i: source(i) for i in indices} for source in pred_masks]
    pixels = video.read(indices)
    if pixels is not None:
        size = thumbnail_size(pixels.shape[1], pixels.shape[2], images.max_width)
    else:
        shapes = [m.shape for m in [*gt.values(), *(v for p in preds for v in p.values())] if m is not None]
        if not shapes:
            return [], None
        size = thumbnail_size(shapes[0][0], shapes[0][1], images.max_width)
    frames = []
    for k, index in enumerate(indices):
        frame = FrameView(index=int(index), time=round(index / timeline_fps, 4))
        if pixels is not None:
            frame.image, _ = images.write_frame(key, index, pixels[k])
        if gt[index] is not None:
            frame.gt_overlay = images.write_gt_outline(key, index, gt[index], size)
            frame.gt_area = round(_mask_area(gt[index]), 4)
        for run, masks in enumerate(preds):
            mask = masks[index]
            frame.pred_overlays.append(
                None if mask is None else images.write_pred_fill(key, index, run, mask, size)
            )
            frame.pred_areas.append(None if mask is None else round(_mask_area(mask), 4))
        frames.append(frame)
    return frames, size
