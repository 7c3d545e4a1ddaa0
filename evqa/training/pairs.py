"""Preference pairs for the DPO stage: the JSONL format, its reader, and the builder from a benchmark split.

One JSON object per line:
    id              unique pair id, `<entry_id>/[seg/]<negative>[/<k>]` (`seg/`: built from a mask split, whose
                    prompt asks to segment; the same entry's text-only pairs keep their own ids)
    source          how the rejected answer was made: "correctness" (a wrong option), "time" (the right
                    answer with a wrong time segment) or "mask" (the right answer and segment, a wrong
                    object's mask)
    entry_id        the benchmark entry the pair comes from
    video           the video file (or frame folder) the prompt is about
    frames          a folder of its frames (`frame_0000.jpg` ..., the released 6-fps folders) read instead of
                    `video` when given, or a list of frame images (e.g. POVQA's pooled frames), else null
    timestamps      with a `frames` list: the time of each image in seconds; else null
    prompt          the user turn (after the video), `evqa_question_prompt`
    chosen          the preferred assistant turn, `format_target(...)`
    rejected        the dispreferred assistant turn (equal to `chosen` for "mask" pairs)
    chosen_masks    "mask" pairs (and every pair built from a mask split): the evidence mask JSON of the
                    entry (`gen_mask/masks/<entry_id>.json`, polygons or RLE on the annotation timeline)
    rejected_masks  "mask" pairs: the mask JSON of another entry, whose objects stand for the wrong object
                    (see `build_pairs`); null otherwise

`build_pairs` makes them from an ST-Evidence-style CSV (`entry_id, video_id, video_path, question, answer,
candidates, temporal_evidence[, split]`), e.g. the synthetic benchmark's instruct split;
`build_video_qa_pairs` correctness-only pairs from a video-QA JSONL (ReasonVQA, EgoTextVQA: plain VLMs).
"""

from __future__ import annotations

import json
import logging
import os
import random
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from evqa.errors import ConfigError, DataError
from evqa.prompts import evqa_question_prompt, format_target, letter_of

log = logging.getLogger(__name__)

NEGATIVES = ("correctness", "time", "mask")
REQUIRED_KEYS = ("id", "source", "prompt", "chosen", "rejected")
# a rejected segment (or mask) that still overlaps the evidence this much is no negative: the pair is skipped
MAX_NEGATIVE_IOU = 0.3


def segment_iou(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]]) -> float:
    """Temporal IoU of two lists of [start, end] segments (each list taken as the union of its segments)."""

    def length(segs):
        merged = []
        for s, e in sorted((float(s), float(e)) for s, e in segs):
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        return merged, sum(e - s for s, e in merged)

    ua, la = length(a)
    ub, lb = length(b)
    inter = sum(max(0.0, min(e1, e2) - max(s1, s2)) for s1, e1 in ua for s2, e2 in ub)
    union = la + lb - inter
    return inter / union if union > 0 else 0.0


def shifted_segments(segments: Sequence[Sequence[float]], duration: float) -> list[tuple[float, float]]:
    """The evidence segments moved, together, to the start or the end of the video, whichever overlaps them
    less (ties: the start); times rounded to 0.1 s as `format_segments` writes them."""
    start = min(float(s) for s, _ in segments)
    end = max(float(e) for _, e in segments)
    span = end - start
    candidates = [0.0, max(0.0, duration - span)]
    best = None
    for target in candidates:
        moved = [
            (round(float(s) - start + target, 1), round(float(e) - start + target, 1)) for s, e in segments
        ]
        iou = segment_iou(moved, segments)
        if best is None or iou < best[0]:
            best = (iou, moved)
    return best[1]


def resize_bool(mask: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """bool [h, w] -> bool `shape` [H, W] (nearest neighbour); returned as is when the size matches."""
    if tuple(mask.shape) == tuple(shape[:2]):
        return mask
    import cv2

    return (
        cv2.resize(mask.astype(np.uint8), (int(shape[1]), int(shape[0])), interpolation=cv2.INTER_NEAREST) > 0
    )


def _union_masks(path: str) -> dict[int, np.ndarray]:
    from evqa.training.sources.st_evidence import _annotation

    frames: dict[int, np.ndarray] = {}
    for obj in _annotation(str(path)).objects:
        for frame, mask in (obj.masks or {}).items():
            frames[int(frame)] = frames[int(frame)] | mask if int(frame) in frames else mask.copy()
    return frames


def mask_overlap(path_a: str, path_b: str) -> float:
    """Mean IoU, over the annotation frames both files have (resized to the first's size), of the two
    files' unioned evidence masks; 0 when they share no frame."""
    a, b = _union_masks(path_a), _union_masks(path_b)
    shared = sorted(set(a) & set(b))
    if not shared:
        return 0.0
    ious = []
    for f in shared:
        mb = resize_bool(b[f], a[f].shape)
        union = np.logical_or(a[f], mb).sum()
        ious.append(float(np.logical_and(a[f], mb).sum() / union) if union else 0.0)
    return float(np.mean(ious))


def _wrong_object(entry, entries: list, mask_dir: Path, rng: random.Random, tries: int = 8) -> Path | None:
    """Mask JSON of another entry for `entry`'s "mask" negative: one of the same video first (another object
    there), then random others; the first whose masks overlap `entry`'s by less than MAX_NEGATIVE_IOU."""
    own = mask_dir / f"{entry.entry_id}.json"
    same = [e for e in entries if e.video_id == entry.video_id and e.entry_id != entry.entry_id]
    others = [e for e in entries if e.video_id != entry.video_id]
    rng.shuffle(same)
    candidates = same + rng.sample(others, min(tries, len(others)))
    for other in candidates:
        path = mask_dir / f"{other.entry_id}.json"
        if path.is_file() and _has_masks(path) and mask_overlap(str(own), str(path)) < MAX_NEGATIVE_IOU:
            return path
    return None


def _has_masks(path: Path) -> bool:
    from evqa.training.sources.st_evidence import _has_masks as has

    return has(path)


def _duration(video: str) -> float:
    from evqa.data.video import video_info

    return float(video_info(video).duration)


def build_pairs(
    csv: str | os.PathLike,
    video_dir: str | os.PathLike,
    *,
    mask_dir: str | os.PathLike | None = None,
    frames_dir: str | os.PathLike | None = None,
    negatives: Iterable[str] | None = None,
    split: str | None = "train",
    wrong_options: int = 1,
    seed: int = 0,
) -> list[dict]:
    """Preference pairs (records of the module docstring) from one benchmark CSV.

    Every entry with a known answer gives, for each kind in `negatives` (default: all that apply):
      correctness  `wrong_options` pairs whose rejected turn names a wrong option (drawn without
                   repeats), with the entry's own time segments (POVQA's "correctness-only" negatives);
      time         the right letter with the evidence segments moved to the start or the end of the video,
                   whichever overlaps them less (`shifted_segments`); skipped when that still overlaps by
                   tIoU >= MAX_NEGATIVE_IOU (evidence covering most of the video);
      mask         (only with `mask_dir`, the gen_mask split) the same text as chosen; `rejected_masks` is
                   the mask JSON of another entry: one of the same video when the split has one (another
                   object of that video), else another video's evidence object, taken on the same frame
                   numbers; the first candidate whose masks overlap the entry's by IoU < MAX_NEGATIVE_IOU.
    With `mask_dir` the prompt asks to segment and targets end in `<|seg|>`; entries without pixel masks
    are skipped. `split`: keep rows whose `split` column equals it (rows without the column are kept);
    None keeps every row. `frames_dir/<video_id>/` is recorded as `frames` when it exists.
    """
    from evqa.data.st_evidence import load_gen_benchmark

    wanted = tuple(negatives) if negatives is not None else NEGATIVES
    unknown = sorted(set(wanted) - set(NEGATIVES))
    if unknown:
        raise ConfigError(
            f"unknown negative kind(s) {unknown}; choose from {list(NEGATIVES)}", field="negatives"
        )
    if wrong_options < 1:
        raise ConfigError(f"wrong_options must be >= 1, got {wrong_options}", field="wrong_options")
    with_masks = mask_dir is not None
    if "mask" in wanted and negatives is not None and not with_masks:
        raise ConfigError("'mask' negatives need mask_dir (a gen_mask split)", field="negatives")
    rng = random.Random(seed)
    entries = [
        e for e in load_gen_benchmark(csv)
        if e.answer_index >= 0 and (split is None or str(e.extra.get("split", split)).strip() == split)
    ]  # fmt: skip
    if with_masks:
        entries = [e for e in entries if _has_masks(Path(mask_dir) / f"{e.entry_id}.json")]
    pairs, skipped = [], {"time": 0, "mask": 0}
    for entry in entries:
        video = str(Path(video_dir) / entry.video_path)
        folder = Path(frames_dir) / str(entry.video_id) if frames_dir is not None else None
        frames = str(folder) if folder is not None and folder.is_dir() else None
        letter = letter_of(entry.answer_index)
        key = f"{entry.entry_id}/seg" if with_masks else str(entry.entry_id)
        base = {
            "entry_id": str(entry.entry_id),
            "video": video,
            "frames": frames,
            "prompt": evqa_question_prompt(entry.question, entry.candidates, segment=with_masks),
            "chosen": format_target(letter, entry.segments, with_seg=with_masks),
            "chosen_masks": str(Path(mask_dir) / f"{entry.entry_id}.json") if with_masks else None,
            "rejected_masks": None,
        }
        if "correctness" in wanted:
            wrong = [i for i in range(len(entry.candidates)) if i != entry.answer_index]
            for k, index in enumerate(rng.sample(wrong, min(wrong_options, len(wrong)))):
                rejected = format_target(letter_of(index), entry.segments, with_seg=with_masks)
                suffix = "" if wrong_options == 1 else f"/{k}"
                pairs.append({"id": f"{key}/correctness{suffix}", "source": "correctness", **base,
                              "rejected": rejected})  # fmt: skip
        if "time" in wanted and entry.segments:
            moved = shifted_segments(entry.segments, _duration(frames or video))
            if segment_iou(moved, entry.segments) < MAX_NEGATIVE_IOU:
                rejected = format_target(letter, moved, with_seg=with_masks)
                pairs.append({"id": f"{key}/time", "source": "time", **base, "rejected": rejected})
            else:
                skipped["time"] += 1
        if "mask" in wanted and with_masks:
            other = _wrong_object(entry, entries, Path(mask_dir), rng)
            if other is None:
                skipped["mask"] += 1
            else:
                pairs.append({"id": f"{key}/mask", "source": "mask", **base, "rejected": base["chosen"],
                              "rejected_masks": str(other)})  # fmt: skip
    if any(skipped.values()):
        log.info("%s: pairs skipped (no clear negative): %s", csv, skipped)
    return [_ordered(p) for p in pairs]


def _ordered(pair: dict) -> dict:
    keys = ("id", "source", "entry_id", "video", "frames", "timestamps", "prompt", "chosen", "rejected",
            "chosen_masks", "rejected_masks")  # fmt: skip
    return {k: pair.get(k) for k in keys}


def write_pairs(path: str | os.PathLike, pairs: Iterable[dict]) -> int:
    """Write pairs as JSONL (one object per line, keys in the documented order); returns the count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w") as fh:
        for pair in pairs:
            fh.write(json.dumps(_ordered(pair), ensure_ascii=False) + "\n")
            count += 1
    tmp.replace(path)
    return count


def validate_pair(pair, *, path=None, line=None) -> dict:
    """Check one record (DataError naming the file, line and field); returns it."""
    if not isinstance(pair, dict):
        raise DataError("a pair must be a JSON object", path=path, entry=line)
    where = {"path": path, "entry": pair.get("id", line)}
    for key in REQUIRED_KEYS:
        if not isinstance(pair.get(key), str) or not pair[key]:
            raise DataError("missing or not a non-empty string", field=key, **where)
    if pair["source"] not in NEGATIVES:
        raise DataError(f"unknown source {pair['source']!r}; expected one of {list(NEGATIVES)}", field="source",
                        **where)  # fmt: skip
    if not (pair.get("video") or pair.get("frames")):
        raise DataError("needs a video or a frames folder", field="video", **where)
    if isinstance(pair.get("frames"), list):
        times = pair.get("timestamps")
        if not isinstance(times, list) or len(times) != len(pair["frames"]) or not pair["frames"]:
            raise DataError("a frames list needs one timestamp per frame", field="timestamps", **where)
        if pair.get("chosen_masks"):
            raise DataError("mask pairs name a video or a frame folder, not a frames list", field="frames",
                            **where)  # fmt: skip
    if pair["source"] == "mask":
        for key in ("chosen_masks", "rejected_masks"):
            if not pair.get(key):
                raise DataError("a mask pair needs both mask files", field=key, **where)
    elif pair["chosen"] == pair["rejected"]:
        raise DataError("chosen and rejected are the same text", field="rejected", **where)
    if pair.get("rejected_masks") and not pair.get("chosen_masks"):
        raise DataError("rejected_masks without chosen_masks", field="chosen_masks", **where)
    return pair


def read_pairs(path: str | os.PathLike, sources: Iterable[str] | None = None) -> list[dict]:
    """Read and validate a pairs JSONL; `sources` keeps only those negative kinds (e.g. ["correctness"])."""
    from evqa.io import read_jsonl_objects

    path = Path(path)
    if not path.is_file():
        raise DataError("pairs file not found", path=path)
    keep = set(sources) if sources is not None else None
    pairs, seen = [], set()
    for number, record in read_jsonl_objects(path, error=DataError):
        pair = validate_pair(record, path=path, line=f"line {number}")
        if pair["id"] in seen:
            raise DataError("duplicate pair id", path=path, entry=pair["id"], field="id")
        seen.add(pair["id"])
        if keep is None or pair["source"] in keep:
            pairs.append(pair)
    return pairs


def build_video_qa_pairs(
    jsonl: str | os.PathLike,
    *,
    video_root: str | os.PathLike | None = None,
    wrong_options: int = 1,
    seed: int = 0,
) -> list[dict]:
    """Correctness-only pairs (POVQA's negatives) from a video-QA JSONL (`evqa.training.sources.video_qa`):
    the prompt and chosen turn are that source's (`video_qa_prompt` / `video_qa_target`, the rationale kept);
    the rejected turn keeps the rationale and gives a wrong answer: another option's letter for a
    multiple-choice item, else the answer of another item (of the same `source` when it has one) that
    differs from it after normalisation (case and spaces). `video` / `frames` (+ `timestamps`) as in the
    record, the paths joined to `video_root` (default: the file's folder)."""
    from evqa.prompts import video_qa_target
    from evqa.text import normalize_text
    from evqa.training.sources.video_qa import _item, read_jsonl

    path = Path(jsonl)
    root = Path(video_root) if video_root is not None else path.parent
    rng = random.Random(seed)
    records = read_jsonl(path)
    items = [(r, _item(n, r, root, path=path, name=path.stem, rationale=True)[0]) for n, r in records]
    pairs = []
    for record, item in items:
        reasoning = record.get("rationale") if item.target.startswith("Reasoning: ") else None
        options = record.get("options") or []
        if options:
            letter = item.target.rsplit(" ", 1)[-1] if reasoning else item.target
            wrong = [letter_of(i) for i in range(len(options)) if letter_of(i) != letter]
        else:
            own = normalize_text(record["answer"])
            pool = [r for r, _ in items if r.get("source") == record.get("source") and r is not record]
            pool = pool or [r for r, _ in items if r is not record]
            wrong = sorted({r["answer"].strip() for r in pool if normalize_text(r["answer"]) != own})
        for k, answer in enumerate(rng.sample(wrong, min(wrong_options, len(wrong)))):
            suffix = "" if wrong_options == 1 else f"/{k}"
            ref = item.frames
            where = {"video": ref.paths[0], "frames": None} if ref.kind == "video" else {
                "video": None, "frames": list(ref.paths), "timestamps": list(ref.timestamps)}  # fmt: skip
            pairs.append({"id": f"{item.sample_id}/correctness{suffix}", "source": "correctness",
                          "entry_id": item.sample_id, **where,
                          "prompt": item.prompt, "chosen": item.target,
                          "rejected": video_qa_target(answer, reasoning)})  # fmt: skip
    return [_ordered(p) for p in pairs]
