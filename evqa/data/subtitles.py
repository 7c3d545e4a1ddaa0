"""SRT subtitles: parsing (errors name file and cue) and the line nearest to a moment of the video."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from evqa.errors import DataError

_TIME = re.compile(r"(\d+):(\d{2}):(\d{2})[,.](\d{1,3})")
_ARROW = re.compile(rf"{_TIME.pattern}\s*-->\s*{_TIME.pattern}")
_TAGS = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Cue:
    """One subtitle: shown from `start` to `end` seconds, `text` on one line (tags removed)."""

    start: float
    end: float
    text: str


def _seconds(h: str, m: str, s: str, ms: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms.ljust(3, "0")) / 1000.0


def parse_srt(text: str, *, source: str | os.PathLike | None = None) -> list[Cue]:
    """The cues of SRT `text`, in file order. A block without a valid `start --> end` line is a DataError
    naming the file and the block number."""
    cues: list[Cue] = []
    blocks = [b for b in re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\ufeff", "").strip()) if b]
    for number, block in enumerate(blocks, 1):
        lines = block.strip().split("\n")
        timing = next((i for i, line in enumerate(lines) if "-->" in line), None)
        match = _ARROW.search(lines[timing]) if timing is not None else None
        if match is None:
            raise DataError("no 'HH:MM:SS,mmm --> HH:MM:SS,mmm' line", path=source, entry=f"cue {number}")
        g = match.groups()
        start, end = _seconds(*g[:4]), _seconds(*g[4:])
        if end < start:
            raise DataError(
                f"ends ({end:g} s) before it starts ({start:g} s)", path=source, entry=f"cue {number}"
            )
        words = " ".join(_TAGS.sub("", line).strip() for line in lines[timing + 1 :])
        cues.append(Cue(start, end, " ".join(words.split())))
    return cues


def read_srt(path: str | os.PathLike) -> list[Cue]:
    """`parse_srt` of a file (UTF-8, falling back to Latin-1)."""
    path = Path(path)
    if not path.is_file():
        raise DataError("subtitle file not found", path=path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return parse_srt(text, source=path)


def nearest_cue(cues: list[Cue], t: float) -> Cue | None:
    """The cue shown at `t` seconds, else the one whose nearer end is closest to `t` (ties: the earlier
    cue); None when there are no cues."""
    best, best_key = None, None
    for k, cue in enumerate(cues):
        distance = 0.0 if cue.start <= t <= cue.end else min(abs(t - cue.start), abs(t - cue.end))
        key = (distance, k)
        if best_key is None or key < best_key:
            best, best_key = cue, key
    return best


def cues_between(cues: list[Cue], start: float, end: float) -> list[Cue]:
    """The cues overlapping [start, end] seconds, in order."""
    return [c for c in cues if c.end >= start and c.start <= end]
