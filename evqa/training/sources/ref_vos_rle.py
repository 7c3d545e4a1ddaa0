"""MeViS and ReVOS: `meta_expressions*.json` + `mask_dict.json` (COCO RLE per frame) + `JPEGImages/`.

meta_expressions: {"videos": {vid: {"frames": ["00000", ...],
                                    "expressions": {eid: {"exp": str, "anno_id": [..], "obj_id": [..]}}}}}
mask_dict:        {"<anno_id>": [RLE | null per frame]}   (null = the object is absent on that frame)
Every frame listed is annotated, so absent objects count as empty masks. The frames are consecutive JPEGs
at `fps` frames per second (the datasets do not store it; 6 fps unless configured). ReVOS videos from TAO
(`TAO/...`) are cropped, per expression, to the frames from the first to the last one that shows its
objects, as upstream trains them.
"""

from __future__ import annotations

from pathlib import Path

from evqa.errors import DataError
from evqa.io import read_json
from evqa.prompts import SEG_TARGET, segmentation_prompt
from evqa.training.sources.base import FrameRef, RleTrack, Source, SourceItem, frame_paths


def _videos(meta_path: Path) -> dict:
    meta = read_json(meta_path, error=DataError)
    videos = meta.get("videos") if isinstance(meta, dict) else None
    if not isinstance(videos, dict):
        raise DataError("expected an object with a 'videos' mapping", path=meta_path, field="videos")
    return videos


class RleRefVosSource(Source):
    """Referring video segmentation with RLE masks; one item per expression (its objects unioned)."""

    name = "mevis"
    meta_file = "meta_expressions.json"
    mask_file = "mask_dict.json"
    questions_are_sentences = False
    crop_tao = False

    def __init__(
        self,
        root: str,
        *,
        fps: float = 6.0,
        meta_file: str | None = None,
        mask_file: str | None = None,
        image_dir: str = "JPEGImages",
    ):
        root_path = Path(root)
        meta_path = root_path / (meta_file or self.meta_file)
        mask_path = root_path / (mask_file or self.mask_file)
        mask_dict = read_json(mask_path, error=DataError)
        items = []
        for vid, video in _videos(meta_path).items():
            names = video.get("frames")
            if not names:
                raise DataError("video has no frames", path=meta_path, entry=vid, field="frames")
            ref = FrameRef(
                "images",
                frame_paths(root_path / image_dir / vid, names),
                [i / fps for i in range(len(names))],
            )
            for eid, exp in video.get("expressions", {}).items():
                item = self._item(vid, eid, exp, ref, mask_dict, mask_path)
                if item is not None:
                    items.append(item)
        super().__init__(items)

    def _item(self, vid: str, eid: str, exp: dict, ref: FrameRef, mask_dict: dict, mask_path: Path):
        sample_id = f"{vid}/{eid}"
        try:
            text, anno_ids = exp["exp"], [str(a) for a in exp["anno_id"]]
        except (KeyError, TypeError):
            raise DataError("expression needs 'exp' and 'anno_id'", path=mask_path, entry=sample_id) from None
        missing = [a for a in anno_ids if a not in mask_dict]
        if missing:
            raise DataError(
                f"anno_id {missing[0]} not in the mask dict", path=mask_path, entry=sample_id, field="anno_id"
            )
        rles = [mask_dict[a] for a in anno_ids]
        if self.crop_tao and vid.split("/")[0] == "TAO":
            # upstream: TAO videos are long; train on the span from the first to the last frame that shows
            # an object of the expression (none when that span is shorter than 2 frames)
            shown = [i for i in range(len(ref.paths)) if any(i < len(r) and r[i] is not None for r in rles)]
            if not shown or shown[-1] + 1 - shown[0] < 2:
                return None
            start, end = shown[0], shown[-1] + 1
            ref = FrameRef("images", ref.paths[start:end], ref.timestamps[start:end])
            rles = [r[start:end] for r in rles]
        track = RleTrack(rles, dense=True, where=f"{mask_path} {sample_id}")
        text = text.strip()
        # upstream: a ReVOS expression that is a question is a 'sentence', every other one a phrase
        kind = "sentence" if self.questions_are_sentences and text.endswith("?") else "query"
        return SourceItem(self.name, sample_id, "mask", segmentation_prompt(text), SEG_TARGET, ref, track,
                          turn={"kind": kind, "text": text})  # fmt: skip


class MevisSource(RleRefVosSource):
    """MeViS `train/` (root = the split folder holding meta_expressions.json, mask_dict.json, JPEGImages)."""

    name = "mevis"


class RevosSource(RleRefVosSource):
    """ReVOS (root = the folder holding meta_expressions_train_.json, mask_dict.json, JPEGImages)."""

    name = "revos"
    meta_file = "meta_expressions_train_.json"
    questions_are_sentences = True
    crop_tao = True
