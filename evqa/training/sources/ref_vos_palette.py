"""Ref-YouTube-VOS and Ref-DAVIS17: `meta_expressions/<split>/meta_expressions.json` + palette PNGs.

meta_expressions: {"videos": {vid: {"frames": ["00000", "00005", ...],
                                    "expressions": {eid: {"exp": str, "obj_id": "1"}}}}}
Images `<split>/JPEGImages/<vid>/<frame>.jpg`, annotations `<split>/Annotations/<vid>/<frame>.png` whose
pixel value is the object id. Frame names are frame numbers of the original video, so the timestamp of
frame "00035" is 35 / fps (30 fps for YouTube-VOS, 24 fps for DAVIS).
"""

from __future__ import annotations

from pathlib import Path

from evqa.errors import DataError
from evqa.io import read_json
from evqa.prompts import SEG_TARGET, segmentation_prompt
from evqa.training.sources.base import FrameRef, PaletteTrack, Source, SourceItem, frame_paths


class PaletteRefVosSource(Source):
    """One item per expression; the target is the pixels whose id equals the expression's `obj_id`."""

    name = "ref_youtube_vos"
    default_fps = 30.0

    def __init__(self, root: str, *, split: str = "train", fps: float | None = None):
        root_path = Path(root)
        meta_path = root_path / "meta_expressions" / split / "meta_expressions.json"
        meta = read_json(meta_path, error=DataError)
        videos = meta.get("videos") if isinstance(meta, dict) else None
        if not isinstance(videos, dict):
            raise DataError("expected an object with a 'videos' mapping", path=meta_path, field="videos")
        fps = fps or self.default_fps
        items = []
        for vid, video in videos.items():
            names = sorted(video.get("frames") or [])
            if not names:
                raise DataError("video has no frames", path=meta_path, entry=vid, field="frames")
            try:
                stamps = [int(name) / fps for name in names]
            except ValueError:
                raise DataError(
                    "frame names must be frame numbers", path=meta_path, entry=vid, field="frames"
                ) from None
            ref = FrameRef("images", frame_paths(root_path / split / "JPEGImages" / vid, names), stamps)
            pngs = frame_paths(root_path / split / "Annotations" / vid, names, ".png")
            for eid, exp in video.get("expressions", {}).items():
                sample_id = f"{vid}/{eid}"
                if not isinstance(exp, dict) or "exp" not in exp or "obj_id" not in exp:
                    raise DataError("expression needs 'exp' and 'obj_id'", path=meta_path, entry=sample_id)
                track = PaletteTrack(pngs, [int(exp["obj_id"])])
                items.append(
                    SourceItem(
                        self.name,
                        sample_id,
                        "mask",
                        segmentation_prompt(exp["exp"]),
                        SEG_TARGET,
                        ref,
                        track,
                        turn={"kind": "query", "text": exp["exp"].strip()},
                    )  # fmt: skip
                )
        super().__init__(items)


class RefYoutubeVosSource(PaletteRefVosSource):
    """Ref-YouTube-VOS (root holds meta_expressions/ and train/)."""

    name = "ref_youtube_vos"
    default_fps = 30.0


class RefDavis17Source(PaletteRefVosSource):
    """Ref-DAVIS17 in the Ref-YouTube-VOS layout (root holds meta_expressions/ and train/ or valid/)."""

    name = "ref_davis17"
    default_fps = 24.0
