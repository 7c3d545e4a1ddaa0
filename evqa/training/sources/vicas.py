"""ViCaS: videos with captions whose phrases refer to tracked objects.

`<root>/annotations/<video_id>.json` = {"video_id", "filenames": ["00000.jpg", ...], "fps" (optional),
  "object_referrals": [{"prompt": str, "track_ids": [int]}],
  "segmentations": [{"track_ids": [int], "mask_rles": [RLE]} per frame in `filenames`]}
Frames `<root>/video_frames/<video_id>/<filename>`. One item per object referral. Frames listed in
`segmentations` are annotated; a track missing on such a frame is an empty mask there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evqa.data.masks import rle_decode
from evqa.errors import DataError
from evqa.io import read_json
from evqa.prompts import SEG_TARGET, segmentation_prompt
from evqa.training.sources.base import FrameRef, MaskTrack, Source, SourceItem


class VicasTrack(MaskTrack):
    """Union of some track ids over ViCaS per-frame segmentations."""

    def __init__(self, segmentations: list, track_ids: list[int], size: tuple[int, int], where: str):
        self.segmentations = segmentations
        self.track_ids = set(track_ids)
        self.size = size
        self.where = where

    def frames(self) -> list[int]:
        return list(range(len(self.segmentations)))

    def get(self, index: int) -> np.ndarray | None:
        if index >= len(self.segmentations):
            return None
        seg = self.segmentations[index]
        mask = np.zeros(self.size, dtype=bool)
        for track, rle in zip(seg.get("track_ids", []), seg.get("mask_rles", []), strict=False):
            if track in self.track_ids:
                mask |= rle_decode(rle, self.size, where=self.where)
        return mask


def frame_size(segmentations: list) -> tuple[int, int] | None:
    for seg in segmentations:
        for rle in seg.get("mask_rles", []):
            return int(rle["size"][0]), int(rle["size"][1])
    return None


class VicasSource(Source):
    """root holds `annotations/` and `video_frames/`; `split_file` (a JSON list of ids) limits the videos."""

    name = "vicas"

    def __init__(self, root: str, *, split_file: str | None = None, fps: float = 6.0):
        root_path = Path(root)
        paths = sorted((root_path / "annotations").glob("*.json"))
        if split_file:
            keep = {str(v) for v in read_json(root_path / split_file, error=DataError)}
            paths = [p for p in paths if p.stem in keep]
        items = []
        for path in paths:
            items += self._video_items(root_path, path, fps)
        super().__init__(items)

    def _video_items(self, root_path: Path, path: Path, fps: float) -> list[SourceItem]:
        data = read_json(path, error=DataError)
        try:
            vid, files, segs = str(data["video_id"]), data["filenames"], data["segmentations"]
            referrals = data["object_referrals"]
        except (KeyError, TypeError) as err:
            raise DataError(f"missing field {err}", path=path) from None
        size = frame_size(segs)
        if size is None:
            return []
        rate = float(data.get("fps", fps))
        ref = FrameRef(
            "images",
            [str(root_path / "video_frames" / vid / f) for f in files],
            [i / rate for i in range(len(files))],
        )
        return [
            SourceItem(
                self.name,
                f"{vid}/{k}",
                "mask",
                segmentation_prompt(r["prompt"]),
                SEG_TARGET,
                ref,
                VicasTrack(segs, r["track_ids"], size, str(path)),
                turn={"kind": "sentence", "text": r["prompt"].strip()},
            )
            for k, r in enumerate(referrals)
        ]
