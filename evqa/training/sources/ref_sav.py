"""Ref-SAV: referring expressions over SA-V videos, masks from SA-V's own annotation files.

Expressions: `<root>/ref_sav.json` = [{"video_id": "sav_000001", "obj_id": 0, "expression": str}, ...]
(one record per expression; several objects may be given as a list in "obj_id").
Videos `<root>/videos/<video_id>.mp4` at 24 fps; masks `<root>/videos/<video_id>_manual.json`, SA-V's
format: {"masklet": [[RLE per object] per annotated frame], ...}, annotated frame k = video frame 4 k
(SA-V annotates at 6 fps).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evqa.data.masks import rle_decode
from evqa.errors import DataError
from evqa.io import read_json
from evqa.prompts import SEG_TARGET, segmentation_prompt
from evqa.training.sources.base import FrameRef, MaskTrack, Source, SourceItem

SAV_ANNOTATION_STRIDE = 4  # SA-V: 24 fps video, masklets every 4th frame


class SavMaskletTrack(MaskTrack):
    """Masks of some SA-V masklets on the video's frame timeline (decoded on demand)."""

    def __init__(self, path: Path, object_ids: list[int]):
        self.path = path
        self.object_ids = object_ids
        self._masklet: list | None = None

    def _load(self) -> list:
        if self._masklet is None:
            data = read_json(self.path, error=DataError)
            if not isinstance(data, dict) or not isinstance(data.get("masklet"), list):
                raise DataError("missing 'masklet' list", path=self.path, field="masklet")
            self._masklet = data["masklet"]
        return self._masklet

    def frames(self) -> list[int]:
        return [k * SAV_ANNOTATION_STRIDE for k in range(len(self._load()))]

    def get(self, index: int) -> np.ndarray | None:
        step, rest = divmod(index, SAV_ANNOTATION_STRIDE)
        masklet = self._load()
        if rest or step >= len(masklet):
            return None
        try:
            rles = [masklet[step][o] for o in self.object_ids]
        except (IndexError, TypeError):
            raise DataError(
                "obj_id out of range", path=self.path, entry=f"frame {index}", field="masklet"
            ) from None
        return np.logical_or.reduce([rle_decode(r, where=str(self.path)) for r in rles])


class RefSavSource(Source):
    """One item per expression record."""

    name = "ref_sav"

    def __init__(self, root: str, *, ann_file: str = "ref_sav.json"):
        root_path = Path(root)
        ann_path = root_path / ann_file
        records = read_json(ann_path, error=DataError)
        if not isinstance(records, list):
            raise DataError("expected a list of expression records", path=ann_path)
        items = []
        for row, rec in enumerate(records):
            try:
                video_id, text = rec["video_id"], rec["expression"]
                obj = rec["obj_id"]
            except (KeyError, TypeError):
                raise DataError(
                    "record needs video_id, obj_id, expression", path=ann_path, entry=row
                ) from None
            objects = [int(o) for o in (obj if isinstance(obj, list) else [obj])]
            video = root_path / "videos" / f"{video_id}.mp4"
            track = SavMaskletTrack(root_path / "videos" / f"{video_id}_manual.json", objects)
            items.append(
                SourceItem(
                    self.name,
                    f"{video_id}/{row}",
                    "mask",
                    segmentation_prompt(text),
                    SEG_TARGET,
                    FrameRef("video", [str(video)]),
                    track,
                    turn={"kind": "description", "text": text.strip()},
                )
            )
        super().__init__(items)
