"""ST-Evidence-Instruct: `gen_qa` (answer + temporal evidence, text only) and `gen_mask` (+ masks).

CSV rows (`entry_id, video_id, video_path, question, answer, candidates, temporal_evidence`, read by
`evqa.data.st_evidence.load_gen_benchmark`) become the prompt `evqa_question_prompt` and the target
`format_target(letter, segments)` ('Answer: B. Temporal Evidence: [[2.0, 5.5]]. Spatial Evidence: <|seg|>.').
`gen_mask` entries take their masks from `masks/<entry_id>.json` (polygons or RLE per frame on the 6-fps
timeline, read by `evqa.data.instruct.load_mask_annotation`). Entries whose objects carry only box prompts
have no pixel targets: they are skipped (and counted) until `evqa data boxes-to-masks` has turned the boxes
into masks through SAM2. Pixels come from `<frames_dir>/<video_id>/` when that folder exists (the released
`video_frames_6fps`), else from `<video_dir>/<video_path>`. `clip_to_annotated: true` samples gen_mask frames
only up to the last annotated one (upstream's gen_mask frame list ends there).

`st_evidence_vicas` is gen_qa as upstream trains it: the ViCaS questions with their evidence masks and
`<|seg|>`. The CSV's `mask_evidence` cell lists the ViCaS track ids of the evidence objects and `split`
picks the rows; `anno_dir/<video id, 6 digits>.json` is the ViCaS v1.0 annotation
({"segmentations": [{"filename", "track_ids", "mask_rles"}, ...]}) and `frames_dir/<video id>/<filename>`
its frames, every listed frame annotated.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import numpy as np

from evqa.errors import DataError
from evqa.io import read_json
from evqa.prompts import evqa_question_prompt, format_target, letter_of
from evqa.training.sources.base import FrameRef, MaskTrack, Source, SourceItem
from evqa.training.sources.vicas import VicasTrack
from evqa.training.sources.vicas import frame_size as _vicas_size

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

    def __init__(self, mask_path: str, video: str, *, clip_to_annotated: bool = False):
        self.mask_path = mask_path
        self.video = video
        self.clip_to_annotated = clip_to_annotated

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


def _st_turn(entry) -> dict:
    return {"kind": "st_evidence", "question": entry.question, "candidates": list(entry.candidates),
            "letter": letter_of(entry.answer_index), "segments": [tuple(s) for s in entry.segments]}  # fmt: skip


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
        self,
        csv: str,
        video_dir: str,
        *,
        mask_dir: str | None = None,
        frames_dir: str | None = None,
        clip_to_annotated: bool = False,
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
                track = StEvidenceTrack(str(mask_path), video, clip_to_annotated=clip_to_annotated)
            items.append(
                SourceItem(
                    self.name,
                    str(entry.entry_id),
                    self.data_type,
                    prompt,
                    target,
                    FrameRef("video", [video]),
                    track,
                    turn=_st_turn(entry),
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


class StEvidenceVicasSource(Source):
    """gen_qa with ViCaS evidence masks (data type "mask"); see the module docstring."""

    name = "st_evidence_vicas"
    data_type = "mask"

    def __init__(
        self, csv: str, anno_dir: str, frames_dir: str, *, split: str | None = "train", fps: float = 6.0
    ):
        from evqa.data.st_evidence import load_gen_benchmark

        items, skipped = [], 0
        for entry in load_gen_benchmark(csv):
            if split is not None and str(entry.extra.get("split", split)).strip() != split:
                continue
            track_ids = _track_ids(entry, csv)
            vid = str(entry.video_id).zfill(6)
            ann_path = Path(anno_dir) / f"{vid}.json"
            if not track_ids or entry.answer_index < 0 or not ann_path.is_file():
                skipped += 1
                continue
            annotation = read_json(ann_path, error=DataError)
            segs = annotation.get("segmentations") or []
            size = _vicas_size(segs)
            if size is None:
                skipped += 1
                continue
            names = annotation.get("filenames") or [s.get("filename") for s in segs]
            if len(names) != len(segs) or not all(isinstance(n, str) for n in names):
                raise DataError(
                    "needs one frame file name per segmentation", path=ann_path, field="filenames"
                )
            ref = FrameRef("images", [str(Path(frames_dir) / vid / n) for n in names],
                           [i / fps for i in range(len(names))])  # fmt: skip
            letter = letter_of(entry.answer_index)
            items.append(
                SourceItem(
                    self.name,
                    str(entry.entry_id),
                    "mask",
                    evqa_question_prompt(entry.question, entry.candidates, segment=True),
                    format_target(letter, entry.segments, with_seg=True),
                    ref,
                    VicasTrack(segs, track_ids, size, str(ann_path)),
                    turn=_st_turn(entry),
                )
            )
        if skipped:
            log.warning("%s: skipped %d entries without evidence tracks or ViCaS annotation", csv, skipped)
        self.skipped = skipped
        super().__init__(items)


def _track_ids(entry, csv) -> list[int]:
    import ast

    cell = entry.extra.get("mask_evidence")
    try:
        value = ast.literal_eval(cell) if isinstance(cell, str) and cell.strip() else cell
    except (ValueError, SyntaxError):
        raise DataError(
            "not a list of track ids", path=csv, entry=entry.entry_id, field="mask_evidence"
        ) from None
    if value is None:
        return []
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) for v in value):
        raise DataError("not a list of track ids", path=csv, entry=entry.entry_id, field="mask_evidence")
    return [int(v) for v in value]
