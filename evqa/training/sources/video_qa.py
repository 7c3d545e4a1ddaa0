"""Video QA in one JSONL format: what plain-VLM fine-tunes (EgoTextVQA, POVQA's ReasonVQA, TVQA) train on.

One JSON object per line:
    {"id": "q-0017",                          unique within the file (default: the line number)
     "video": "indoor/v001.mp4",              a video file or a frame folder (frame_%04d.jpg at 6 fps),
                                              relative to the source's `video_root`
     "frames": ["m1/wa/frame_0001.png", ...], or: the frames themselves (e.g. pooled, one per second),
     "timestamps": [0.0, 1.0, ...],           their times in seconds (default 0, 1, 2, ...)
     "question": "What is written on the sign?",
     "answer": "exit",                        the answer text; with options, an option's text or letter
     "rationale": "The sign above ...",       optional: trained as 'Reasoning: ...\\nFinal Answer: ...'
     "options": ["exit", "enter", ...],       optional, 2-6 options: the target is then the letter
     "source": "egotextvqa",                  optional: the dataset the item comes from
     "video_id": "v001"}                      optional: the split group (default: `video`, or the
                                              folder of the first frame)
The prompt and target are `evqa.prompts.video_qa_prompt` / `video_qa_target`. Frames are sampled at
training time (`data.num_frames` / `data.fps`), never stored here.

Splits are by video (`evqa.training.splits`): `split: train` keeps the training videos, `split: val` the
held-out ones; the assignment is cached in `split_file` (default `<jsonl>.splits.json`).
"""

from __future__ import annotations

from pathlib import Path

from evqa.errors import ConfigError, DataError
from evqa.io import read_jsonl_objects
from evqa.prompts import LETTERS, letter_of, video_qa_prompt, video_qa_target
from evqa.training.sources.base import FrameRef, Source, SourceItem
from evqa.training.splits import SPLITS, load_or_create_splits


def read_jsonl(path: Path) -> list[tuple[int, dict]]:
    """(line number, object) for every non-empty line; DataError naming the line otherwise."""
    return read_jsonl_objects(path, error=DataError)


def _text(record: dict, key: str, *, path, entry, required: bool = True) -> str | None:
    value = record.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise DataError("must be a non-empty string", path=path, entry=entry, field=key)
    return value.strip()


def answer_letter(answer: str, options: list[str], *, path, entry) -> str:
    """The letter of `answer` among `options`: a letter A-F, or an option's exact text."""
    if len(answer) == 1 and answer in LETTERS[: len(options)]:
        return answer
    matches = [i for i, option in enumerate(options) if option.strip() == answer]
    if len(matches) != 1:
        raise DataError(
            f"answer {answer!r} is neither an option letter nor exactly one option's text",
            path=path,
            entry=entry,
            field="answer",
        )
    return letter_of(matches[0])


def _frames(record: dict, root: Path, *, path, entry) -> tuple[FrameRef, str]:
    """(FrameRef, default split group) of a record with `video` or `frames`."""
    if ("video" in record) == ("frames" in record):
        raise DataError("give exactly one of 'video' and 'frames'", path=path, entry=entry, field="video")
    if "video" in record:
        video = _text(record, "video", path=path, entry=entry)
        return FrameRef("video", [str(root / video)]), video
    frames = record["frames"]
    if not isinstance(frames, list) or not frames or not all(isinstance(f, str) and f for f in frames):
        raise DataError("must be a non-empty list of image paths", path=path, entry=entry, field="frames")
    times = record.get("timestamps", list(range(len(frames))))
    if not isinstance(times, list) or len(times) != len(frames):
        raise DataError("needs one time (seconds) per frame", path=path, entry=entry, field="timestamps")
    try:
        seconds = [float(t) for t in times]
    except (TypeError, ValueError):
        raise DataError("times must be numbers", path=path, entry=entry, field="timestamps") from None
    if any(b < a for a, b in zip(seconds, seconds[1:], strict=False)):
        raise DataError("times must not decrease", path=path, entry=entry, field="timestamps")
    return FrameRef("images", [str(root / f) for f in frames], seconds), str(Path(frames[0]).parent)


def _item(number: int, record: dict, root: Path, *, path, name: str, rationale: bool):
    entry = str(record.get("id", number))
    where = {"path": path, "entry": entry}
    question = _text(record, "question", **where)
    answer = _text(record, "answer", **where)
    reasoning = _text(record, "rationale", **where, required=False) if rationale else None
    options = record.get("options") or []
    if not isinstance(options, list) or not all(isinstance(o, str) and o.strip() for o in options):
        raise DataError("must be a list of non-empty strings", **where, field="options")
    if options and not 2 <= len(options) <= len(LETTERS):
        raise DataError(f"needs 2 to {len(LETTERS)} options, got {len(options)}", **where, field="options")
    if options:
        answer = answer_letter(answer, options, **where)
    frames, group = _frames(record, root, **where)
    group = str(record.get("video_id", group))
    source = _text(record, "source", **where, required=False) or name
    prompt = video_qa_prompt(question, options, rationale=reasoning is not None)
    return SourceItem(source, entry, "text", prompt, video_qa_target(answer, reasoning), frames), group


class VideoQASource(Source):
    """The items of one video-QA JSONL file (see the module docstring), optionally one split of it.

    Args:
        jsonl: the file.
        video_root: folder the `video` / `frames` paths are relative to (default: the file's folder).
        name: the source's name in the mixture summary (default: the file's stem).
        split: "all" (default), or "train" / "val" / "test" of the video-grouped split.
        val_fraction / test_fraction / split_seed: the split (default 0.1 / 0.0 / 42, POVQA's).
        split_file: where the split is cached (default `<jsonl without .jsonl>.splits.json`).
        rationale: train 'Reasoning: ... Final Answer: ...' for records with a rationale (default True).
    """

    data_type = "text"

    def __init__(
        self,
        jsonl: str,
        *,
        video_root: str | None = None,
        name: str | None = None,
        split: str = "all",
        val_fraction: float = 0.1,
        test_fraction: float = 0.0,
        split_seed: int = 42,
        split_file: str | None = None,
        rationale: bool = True,
    ):
        path = Path(jsonl)
        if split not in ("all", *SPLITS):
            raise ConfigError(
                f"split must be all, train, val or test, got {split!r}", path=path, field="split"
            )
        self.name = name or path.stem
        root = Path(video_root) if video_root else path.parent
        items, groups, seen = [], [], set()
        for number, record in read_jsonl(path):
            item, group = _item(number, record, root, path=path, name=self.name, rationale=rationale)
            if item.sample_id in seen:
                raise DataError("duplicate id", path=path, entry=item.sample_id, field="id")
            seen.add(item.sample_id)
            items.append(item)
            groups.append(group)
        if split != "all":
            cache = (
                Path(split_file)
                if split_file
                else path.with_name(path.name.removesuffix(".jsonl") + ".splits.json")
            )
            assignment = load_or_create_splits(
                cache, groups, val_fraction=val_fraction, test_fraction=test_fraction, seed=split_seed
            )
            keep = set(assignment[split])
            kept = [(item, group) for item, group in zip(items, groups, strict=True) if group in keep]
            items, groups = [item for item, _ in kept], [group for _, group in kept]
        self.groups = {item.sample_id: group for item, group in zip(items, groups, strict=True)}
        super().__init__(items)
