"""LLaVA-Instruct (images) and VideoGPT+ (videos): conversation JSON, text-only targets.

[{"id": str, "image": "coco/train2017/x.jpg" | "video": "clips/y.mp4",
  "conversations": [{"from": "human", "value": "<image>\\nWhat is ...?"}, {"from": "gpt", "value": "..."}, ...]}]
The first human/gpt exchange becomes the (prompt, target) pair; the `<image>` / `<video>` placeholders are
removed because the processor places the visual tokens itself.

Length filters (upstream's, off by default): `max_num_words` drops records whose first gpt reply has more
space-separated words; `max_video_len` drops records whose `duration` (seconds) is longer. `fps` (videos):
evenly spaced frames at that rate, at most `data.num_frames` (upstream: 2), instead of the mixture's
sampling. Records without
an image or a video (text-only LLaVA turns) are left out: this model always sees a visual input.
"""

from __future__ import annotations

import re
from pathlib import Path

from evqa.errors import DataError
from evqa.io import read_json
from evqa.training.sources.base import FrameRef, Source, SourceItem

_PLACEHOLDER = re.compile(r"<(image|video)>\s*")


def first_exchange(conversations, *, path, entry) -> tuple[str, str]:
    """(question, answer) of the first human -> gpt turn pair, placeholders stripped."""
    try:
        human, gpt = conversations[0], conversations[1]
        if human["from"] != "human" or gpt["from"] != "gpt":
            raise ValueError
        return _PLACEHOLDER.sub("", human["value"]).strip(), gpt["value"].strip()
    except (IndexError, KeyError, TypeError, ValueError):
        raise DataError(
            "expected a human turn then a gpt turn", path=path, entry=entry, field="conversations"
        ) from None


class ConversationSource(Source):
    """One item per record; `media_key` is "image" or "video"."""

    name = "conversation"
    data_type = "text"
    media_key = "image"
    pixel_rule = "conversation"

    def __init__(
        self,
        root: str,
        *,
        ann_file: str,
        media_dir: str = "",
        max_num_words: int | None = None,
        max_video_len: float | None = None,
        fps: float | None = None,
    ):
        root_path = Path(root)
        ann_path = root_path / ann_file
        records = read_json(ann_path, error=DataError)
        if not isinstance(records, list):
            raise DataError("expected a list of conversation records", path=ann_path)
        items = []
        self.filtered = 0  # records dropped by the length filters
        for row, rec in enumerate(records):
            entry = rec.get("id", row) if isinstance(rec, dict) else row
            if not isinstance(rec, dict) or self.media_key not in rec:
                continue  # text-only conversations carry no visual input; this model always has one
            prompt, target = first_exchange(rec.get("conversations"), path=ann_path, entry=entry)
            if max_num_words is not None and len(rec["conversations"][1]["value"].split(" ")) > max_num_words:
                self.filtered += 1
                continue
            if max_video_len is not None and float(rec.get("duration", 0) or 0) > max_video_len:
                self.filtered += 1
                continue
            media = str(root_path / media_dir / rec[self.media_key])
            kind = "image" if self.media_key == "image" else "video"
            ref = FrameRef(kind, [media], fps=fps if kind == "video" else None)
            items.append(SourceItem(self.name, str(entry), "text", prompt, target, ref))
        super().__init__(items)


class LlavaInstructSource(ConversationSource):
    """LLaVA-Instruct-150K: root holds `llava_instruct_150k.json` and the images under `media_dir`."""

    name = "llava_instruct"
    media_key = "image"

    def __init__(
        self, root: str, *, ann_file: str = "llava_instruct_150k.json", media_dir: str = "images", **filters
    ):
        super().__init__(root, ann_file=ann_file, media_dir=media_dir, **filters)


class VideoGptPlusSource(ConversationSource):
    """VideoGPT+ instruction data: root holds the conversation JSON and the videos under `media_dir`."""

    name = "videogpt_plus"
    media_key = "video"

    def __init__(
        self, root: str, *, ann_file: str = "videogpt_plus.json", media_dir: str = "videos", **filters
    ):
        super().__init__(root, ann_file=ann_file, media_dir=media_dir, **filters)
