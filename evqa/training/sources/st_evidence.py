"""ST-Evidence-Instruct: `gen_qa` (answer + temporal evidence, text only) and `gen_mask` (+ masks).

CSV rows (`entry_id, video_id, video_path, question, answer, candidates, temporal_evidence`, read by
`evqa.data.st_evidence.load_gen_benchmark`) become the prompt `evqa_question_prompt` and the target
`format_target(letter, segments)` ('Answer: B. Temporal Evidence: [[2.0, 5.5]]. Spatial Evidence: <|seg|>.').
`gen_mask` entries take their masks from `masks/<entry_id>.json` (polygons or RLE per frame on the 6-fps
timeline, read by `evqa.data.instruct.load_mask_annotation`). Entries whose objects carry only box prompts
have no pixel targets: they are skipped (and counted) until `evqa data boxes-to-masks` has turned the boxes
into masks through SAM2. Pixels come from `<frames_dir>/<video_id>/` when that folder exists (the released
`video_frames_6fps`), else from `<video_dir>/<video_path>`.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import numpy as np

from evqa.prompts import evqa_question_prompt, format_target, letter_of
from evqa.training.sources.base import FrameRef, MaskTrack, Source, SourceItem

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=8)
def _annotation(path: str):
    from evqa.data.instruct import load_mask_annotation

    return load_mask_annotation(path)


@functools.lru_cache(maxsize=64)
def _video_fps(path: str) -> float:
    from evqa.data.video import video_info

    return float(video_info(path).fps)


class StEvidenceTrack(MaskTrack):
    """Union of an entry's evidence-object masks, mapped from the 6-fps annotation timeline to the video's.

    Frames are sampled over the whole video (not only where the evidence is annotated): the sampled times
    must not give the temporal evidence away."""

    sample_annotated = False

    def __init__(self, mask_path: str, video: str):
        self.mask_path = mask_path
        self.video = video

    def _ratio(self) -> float:
        return _video_fps(self.video) / float(_annotation(self.mask_path).fps)

    def _by_frame(self) -> dict[int, list[np.ndarray]]:
        frames: dict[int, list[np.ndarray]] = {}
        for obj in _annotation(self.mask_path).objects:
            for frame, mask in (obj.masks or {}).items():
                frames.setdefault(int(frame), []).append(mask)
        return frames

    def frames(self) -> list[int]:
        ratio = self._ratio()
        return sorted({round(f * ratio) for f in self._by_frame()})

    def get(self, index: int) -> np.ndarray | None:
        masks = self._by_frame().get(round(index / self._ratio()))
        return None if not masks else np.logical_or.reduce(masks)


def _video_ref(entry, video_dir: Path, frames_dir: Path | None) -> str:
    if frames_dir is not None and (frames_dir / str(entry.video_id)).is_dir():
        return str(frames_dir / str(entry.video_id))
    return str(video_dir / entry.video_path)


def _has_masks(mask_path: Path) -> bool:
    return mask_path.is_file() and any(obj.masks for obj in _annotation(str(mask_path)).objects)


class StEvidenceSource(Source):
    """`with_masks=False`: gen_qa (data type "text"); `with_masks=True`: gen_mask (data type "mask")."""

    name = "st_evidence_qa"

    def __init__(
        self, csv: str, video_dir: str, *, mask_dir: str | None = None, frames_dir: str | None = None
    ):
        from evqa.data.st_evidence import load_gen_benchmark

        with_masks = mask_dir is not None
        self.name = "st_evidence_mask" if with_masks else "st_evidence_qa"
        self.data_type = "mask" if with_masks else "text"
        frames_root = Path(frames_dir) if frames_dir else None
        items, skipped = [], 0
        for entry in load_gen_benchmark(csv):
            video = _video_ref(entry, Path(video_dir), frames_root)
            prompt = evqa_question_prompt(entry.question, entry.candidates, segment=with_masks)
            target = format_target(letter_of(entry.answer_index), entry.segments, with_seg=with_masks)
            track = None
            if with_masks:
                mask_path = Path(mask_dir) / f"{entry.entry_id}.json"
                if not _has_masks(mask_path):
                    skipped += 1
                    continue
                track = StEvidenceTrack(str(mask_path), video)
            items.append(
                SourceItem(
                    self.name,
                    str(entry.entry_id),
                    self.data_type,
                    prompt,
                    target,
                    FrameRef("video", [video]),
                    track,
                )
            )
        if skipped:
            log.warning(
                "%s: skipped %d entries without pixel masks (box prompts only or no mask file); "
                "run `evqa data boxes-to-masks` to use them",
                csv,
                skipped,
            )
        self.skipped = skipped
        super().__init__(items)
