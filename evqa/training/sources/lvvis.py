"""LV-VIS: a YouTube-VIS style instances JSON with RLE segmentations.

{"videos": [{"id", "file_names": ["<vid>/00000.jpg", ...], "height", "width"}],
 "annotations": [{"id", "video_id", "category_id", "segmentations": [RLE | null per frame]}],
 "categories": [{"id", "name"}]}
Frames live under `<root>/JPEGImages/`. One item per (video, category): the prompt names the category
and the target is every instance of it. Every listed frame is annotated (null = instance absent).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from evqa.errors import DataError
from evqa.io import read_json
from evqa.prompts import SEG_TARGET, segmentation_prompt
from evqa.training.sources.base import FrameRef, RleTrack, Source, SourceItem


class LvvisSource(Source):
    """root holds `train_instances.json` (or `ann_file`) and `JPEGImages/`."""

    name = "lvvis"

    def __init__(self, root: str, *, ann_file: str = "train_instances.json", fps: float = 6.0):
        root_path = Path(root)
        ann_path = root_path / ann_file
        data = read_json(ann_path, error=DataError)
        try:
            videos = {v["id"]: v for v in data["videos"]}
            names = {c["id"]: c["name"].replace("_", " ") for c in data["categories"]}
            annotations = data["annotations"]
        except (KeyError, TypeError) as err:
            raise DataError(f"not a YouTube-VIS style file (missing {err})", path=ann_path) from None
        groups: dict[tuple, list] = defaultdict(list)
        for ann in annotations:
            key = (ann.get("video_id"), ann.get("category_id"))
            if key[0] not in videos or key[1] not in names:
                raise DataError("unknown video_id or category_id", path=ann_path, entry=ann.get("id"))
            groups[key].append(ann.get("segmentations") or [])
        items = []
        for (video_id, category_id), rles in groups.items():
            files = videos[video_id]["file_names"]
            ref = FrameRef(
                "images",
                [str(root_path / "JPEGImages" / f) for f in files],
                [i / fps for i in range(len(files))],
            )
            sample_id = f"{video_id}/{category_id}"
            track = RleTrack(rles, dense=True, where=f"{ann_path} {sample_id}")
            items.append(
                SourceItem(
                    self.name,
                    sample_id,
                    "mask",
                    segmentation_prompt(names[category_id]),
                    SEG_TARGET,
                    ref,
                    track,
                    turn={"kind": "query", "text": names[category_id].replace("_", " ").strip()},
                )
            )
        super().__init__(items)
