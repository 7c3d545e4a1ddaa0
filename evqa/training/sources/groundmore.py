"""GroundMoRe: motion-grounded questions whose answer is an object to segment.

`<root>/annotations.json` = {"videos": {vid: {"frames": ["00000", ...], "fps": 6.0 (optional),
                             "questions": {qid: {"question": str, "answer": str, "obj_id": [ids]}}}}}
Images `<root>/JPEGImages/<vid>/<frame>.jpg`, palette annotations `<root>/Annotations/<vid>/<frame>.png`
(pixel value = object id). The model answers with the object's name followed by its mask.
"""

from __future__ import annotations

from pathlib import Path

from evqa.errors import DataError
from evqa.io import read_json
from evqa.prompts import SEG_TOKEN, grounded_question_prompt
from evqa.training.sources.base import FrameRef, PaletteTrack, Source, SourceItem, frame_paths


class GroundmoreSource(Source):
    """One item per question."""

    name = "groundmore"

    def __init__(self, root: str, *, ann_file: str = "annotations.json", fps: float = 6.0):
        root_path = Path(root)
        ann_path = root_path / ann_file
        data = read_json(ann_path, error=DataError)
        videos = data.get("videos") if isinstance(data, dict) else None
        if not isinstance(videos, dict):
            raise DataError("expected an object with a 'videos' mapping", path=ann_path, field="videos")
        items = []
        for vid, video in videos.items():
            names = video.get("frames") or []
            if not names:
                raise DataError("video has no frames", path=ann_path, entry=vid, field="frames")
            rate = float(video.get("fps", fps))
            ref = FrameRef(
                "images",
                frame_paths(root_path / "JPEGImages" / vid, names),
                [i / rate for i in range(len(names))],
            )
            pngs = frame_paths(root_path / "Annotations" / vid, names, ".png")
            for qid, q in video.get("questions", {}).items():
                sample_id = f"{vid}/{qid}"
                try:
                    question, answer, objects = q["question"], q["answer"], q["obj_id"]
                except (KeyError, TypeError):
                    raise DataError(
                        "question needs question, answer, obj_id", path=ann_path, entry=sample_id
                    ) from None
                objects = objects if isinstance(objects, list) else [objects]
                target = f"{answer.strip().rstrip('.')}: {SEG_TOKEN}."
                items.append(
                    SourceItem(
                        self.name,
                        sample_id,
                        "mask",
                        grounded_question_prompt(question),
                        target,
                        ref,
                        PaletteTrack(pngs, objects),
                        turn={
                            "kind": "question",
                            "answer": answer,
                            "text": question.strip()
                            if question.strip().endswith("?")
                            else f"{question.strip()}?",
                        },
                    )
                )
        super().__init__(items)
