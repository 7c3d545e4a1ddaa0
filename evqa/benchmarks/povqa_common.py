"""What POVQA's two benchmarks share: the JSONL / JSON annotation reader, synthetic frame folders,
subtitle context beside the frames (`--interleave-subtitles`) and the appended keyframe (`--keyframe-time`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from evqa import prompts
from evqa.benchmarks.base import Option
from evqa.benchmarks.task import BenchmarkTask
from evqa.errors import DataError

CONTEXT_OPTIONS = (
    Option(
        "interleave_subtitles",
        ("--interleave-subtitles", "--interleave_subtitles"),
        "give each frame's nearest subtitle line (SRT files) right after that frame; models that take the "
        "whole video file get the lines in the prompt, in frame order (default: off)",
    ),
    Option(
        "keyframe_time",
        ("--keyframe-time", "--keyframe_time"),
        "append the frame at T seconds as a keyframe with a one-line hint; 'item' uses each item's own "
        "keyframe time (default: no keyframe)",
        type="str",
    ),
)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file, or of a JSON file holding a list of objects; errors name file and line/row."""
    from evqa.data.subset import read_jsonl_rows

    if path.suffix == ".jsonl":
        return read_jsonl_rows(path)
    from evqa.io import read_json

    rows = read_json(path, error=DataError)
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise DataError("expected a JSON list of objects", path=path)
    return rows


def field(row: dict, key: str, path: Path, where: str, kind=str, required: bool = True):
    """row[key] as `kind`; a missing (required) or ill-typed value is a DataError naming file, row, field."""
    value = row.get(key)
    if value is None or (kind is str and not str(value).strip()):
        if required:
            raise DataError("missing field", path=path, entry=where, field=key)
        return None
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise DataError(f"not a {kind.__name__}: {value!r}", path=path, entry=where, field=key) from None


def write_frame_folder(folder: Path, num_frames: int, rng: np.random.Generator, size=(24, 32)) -> None:
    """A synthetic frame folder (lossless PNG, read at the frame-folder fps): a moving bright square."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    base = rng.integers(0, 80, size=3)
    for i in range(num_frames):
        image = np.zeros((*size, 3), dtype=np.uint8) + base.astype(np.uint8)
        x = (2 * i) % (size[1] - 6)
        image[8:14, x : x + 6] = 255
        Image.fromarray(image).save(folder / f"frame_{i:04d}.png")


def write_srt(path: Path, cues: list[tuple[float, float, str]]) -> None:
    def stamp(t: float) -> str:
        ms = int(round(t * 1000))
        return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(f"{k}\n{stamp(a)} --> {stamp(b)}\n{text}\n\n" for k, (a, b, text) in enumerate(cues, 1))
    )


class PovqaTask(BenchmarkTask):
    """A BenchmarkTask with POVQA's context shaping: nearest-subtitle lines for the frames and an appended
    keyframe with a hint. Subclasses name the record fields of the video (`video_field`, under the video
    folder) and of the subtitle file (`subtitle_field`: `<subtitle_dir>/<value>.srt`), and give `base_prompt`
    and `item_keyframe`."""

    video_field: str = "video"
    subtitle_field: str | None = None

    def __init__(self, records, *, options, files=None, interleaves_frame_texts: bool = False, **kw):
        super().__init__(records, **kw)
        self.subtitle_dir = (files or {}).get("subtitle_dir")
        self.interleave = bool(options.get("interleave_subtitles"))
        # frame-based adapters place the lines between the frames; the others read them in the prompt
        self.in_prompt = self.interleave and not (interleaves_frame_texts and self.needs_frames)
        self.keyframe = options.get("keyframe_time")

    def base_prompt(self, record) -> str:
        raise NotImplementedError

    def video_of(self, record) -> str:
        return self.video_path(getattr(record, self.video_field))

    def subtitle_file(self, record) -> Path | None:
        if self.subtitle_dir is None or self.subtitle_field is None:
            return None
        return Path(self.subtitle_dir) / f"{getattr(record, self.subtitle_field)}.srt"

    def item_keyframe(self, record) -> float | None:
        return None

    def keyframe_of(self, record) -> float | None:
        if self.keyframe in (None, ""):
            return None
        if self.keyframe == "item":
            return self.item_keyframe(record)
        return float(self.keyframe)

    def frame_subtitles(self, record, timestamps) -> tuple[str, ...]:
        """The nearest subtitle line of each frame time ('' where there is none)."""
        from evqa.data.subtitles import nearest_cue, read_srt

        path = self.subtitle_file(record)
        if path is None:
            raise DataError("--interleave-subtitles needs a subtitle file", entry=str(record.entry_id))
        cues = read_srt(path)
        return tuple(getattr(nearest_cue(cues, float(t)), "text", "") for t in timestamps)

    def context(self, record, timestamps) -> list[str]:
        parts = []
        if self.in_prompt:
            lines = self.frame_subtitles(record, timestamps)
            parts.append(
                prompts.subtitle_lines([(float(t), line) for t, line in zip(timestamps, lines, strict=True)])
            )
        key = self.keyframe_of(record)
        if key is not None:
            parts.append(prompts.keyframe_hint(key))
        return parts

    def prompt(self, record) -> str:
        return self.base_prompt(record)

    def full_prompt(self, record, timestamps) -> str:
        return "\n\n".join([*self.context(record, timestamps), self.base_prompt(record)])

    def plan(self, record) -> dict[str, Any]:
        out = super().plan(record)
        out["prompts"] = [self.full_prompt(record, out["timestamps"])]
        if self.interleave and not self.in_prompt:
            out["frame_texts"] = list(self.frame_subtitles(record, out["timestamps"]))
        return out

    def steps(self, record):
        from evqa.baselines.tasks import add_usage

        video = self.video_of(record)
        frames = self.frames_of(record)
        prompt = self.full_prompt(record, frames.timestamps)
        images = ()
        key = self.keyframe_of(record)
        if key is not None and self.needs_frames:
            images = ((prompts.KEYFRAME_LABEL, self.keyframe_image(video, key)),)
        texts = (
            self.frame_subtitles(record, frames.timestamps) if self.interleave and not self.in_prompt else ()
        )
        response = yield self.request(
            str(record.entry_id),
            prompt,
            frames,
            video,
            question=getattr(record, "question", None),
            images=images,
            frame_texts=texts,
        )
        usage = add_usage({}, getattr(response, "usage", {}) or {})
        out = {**self.record_fields(record), **self.read_reply(record, response), "error": None}
        extra = {"keyframe_s": key} if key is not None else {}
        if self.interleave:
            extra["subtitles"] = "in_prompt" if self.in_prompt else "interleaved"

        out["meta"] = self.meta(frames, usage, [response], **extra)
        return out

    def keyframe_image(self, video: str, t: float) -> np.ndarray:
        from evqa.baselines.frames import resize_longest
        from evqa.data.video import read_frames, video_info

        info = video_info(video, folder_fps=self.sampling.folder_fps)
        index = int(min(info.num_frames - 1, max(0, np.floor(t * info.fps + 1e-9))))
        return resize_longest(read_frames(video, [index]), self.sampling.max_size)[0]
