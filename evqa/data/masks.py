"""Mask IO in every layout EVQA reads or writes — the one place masks touch the disk.

Layouts (DESIGN.md §2):
  * PNG folder, GT:   <root>/<entry_id>/<frame:05d>.png
  * PNG folder, pred: <root>/<entry_id>/masks/<frame:05d>.png      (upstream prediction layout)
  * RLE JSON:         <root>/<entry_id>.json  = {"entry_id", "fps", "size": [H, W], "frames": {"<frame>": RLE}}
Frame numbers are indices on the video's 6-fps timeline; a PNG's frame is its number with or without zero
padding (`6.png` = `00006.png`). A PNG pixel is foreground iff its luminance (PIL's "L" conversion, alpha
ignored) is non-zero — in every mode (1-bit, L, P, RGB, RGBA, 16-bit), as the published evaluator reads
them. Masks in memory are `bool` arrays of shape (H, W). Entry ids reach the file system only through
`evqa.paths.child_path`.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

from evqa.errors import DataError
from evqa.io import write_json_atomic
from evqa.paths import child_path

_FRAME_PNG = re.compile(r"^(\d+)\.png$")


def read_mask_png(path: str | os.PathLike) -> np.ndarray:
    """Read a mask PNG of any mode. Returns bool (H, W): luminance > 0 (alpha ignored), so an RGBA image
    with an opaque black background reads as its drawn shape. Raises DataError if it cannot be decoded."""
    try:
        with Image.open(path) as img:
            if img.mode not in ("L", "1"):
                img = img.convert("L")
            arr = np.asarray(img)
    except (OSError, ValueError, SyntaxError) as err:
        raise DataError(f"cannot read mask PNG ({err})", path=path) from None
    return arr > 0 if arr.dtype != bool else arr


def write_mask_png(path: str | os.PathLike, mask: np.ndarray) -> None:
    """Write a (H, W) mask as an 8-bit PNG with 0 = background, 255 = foreground (parents created)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(mask, dtype=bool).astype(np.uint8) * 255).save(path)


def rle_encode(mask: np.ndarray) -> dict:
    """COCO RLE of a (H, W) mask: {"size": [H, W], "counts": str} (JSON-serialisable)."""
    rle = mask_utils.encode(np.asfortranarray(np.asarray(mask, dtype=np.uint8)))
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"].decode("ascii")}


# Object masks have few runs, and decoding their compressed counts with numpy is several times faster than
# pycocotools' per-pixel loop; noise-like masks with very long count strings go to pycocotools instead.
_NUMPY_RLE_MAX_CHARS = 20000


def _rle_counts(counts: str | bytes) -> np.ndarray:
    """Run lengths from a compressed COCO counts string (5-bit groups with a continuation bit, offset 48;
    from the fourth count on, each is stored as a difference to the count two places before)."""
    raw = counts.encode("ascii") if isinstance(counts, str) else bytes(counts)
    chars = np.frombuffer(raw, np.uint8).astype(np.int64) - 48
    if chars.size == 0:
        return chars
    more = (chars & 0x20) != 0
    if more[-1] or (chars < 0).any():
        raise ValueError("truncated or invalid counts string")
    ends = np.flatnonzero(~more)
    starts = np.concatenate(([0], ends[:-1] + 1))
    group = np.concatenate(([0], np.cumsum(~more[:-1])))
    pos = np.arange(chars.size) - starts[group]
    values = np.add.reduceat((chars & 0x1F) << (5 * pos), starts)
    negative = (chars[ends] & 0x10) != 0
    values[negative] |= -1 << (5 * (pos[ends][negative] + 1))
    values[1::2] = np.cumsum(values[1::2])
    values[2::2] = np.cumsum(values[2::2])
    return values


def _decode_rle_string(counts: str | bytes, size: list[int]) -> np.ndarray:
    """bool (H, W) mask (a column-major view, as COCO stores it) from compressed counts."""
    runs = _rle_counts(counts)
    if (runs < 0).any() or int(runs.sum()) != size[0] * size[1]:
        raise ValueError("run lengths do not add up to H*W")
    values = np.zeros(runs.size, dtype=bool)
    values[1::2] = True
    return np.repeat(values, runs).reshape(size[1], size[0]).T


def rle_decode(
    rle: dict, expected_size: tuple[int, int] | None = None, *, where: str | None = None
) -> np.ndarray:
    """Decode a COCO RLE (compressed string or uncompressed list counts) to bool (H, W).

    Raises DataError if it is malformed or its size differs from `expected_size` (H, W).
    """
    try:
        size = [int(v) for v in rle["size"]]
        counts = rle["counts"]
        if isinstance(counts, list):
            if sum(int(c) for c in counts) != size[0] * size[1]:
                raise ValueError("run lengths do not add up to H*W")
            coded = mask_utils.frPyObjects({"size": size, "counts": counts}, size[0], size[1])
            mask = mask_utils.decode(coded).astype(bool)
        elif len(counts) <= _NUMPY_RLE_MAX_CHARS:
            mask = _decode_rle_string(counts, size)
        else:
            coded = {"size": size, "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
            mask = mask_utils.decode(coded).astype(bool)
    except (KeyError, TypeError, ValueError, AttributeError, UnicodeEncodeError) as err:
        raise DataError(f"malformed RLE ({err})", path=where) from None
    if mask.shape != tuple(size):
        raise DataError(f"RLE decodes to {mask.shape}, header says {tuple(size)}", path=where)
    if expected_size is not None and tuple(size) != tuple(expected_size):
        raise DataError(
            f"RLE size {tuple(size)} differs from the expected {tuple(expected_size)}", path=where
        )
    return mask


@dataclass
class RleMasks:
    """The masks of one entry as stored in an RLE JSON file. `frames` maps frame index -> RLE dict."""

    entry_id: str
    size: tuple[int, int]
    fps: float = 6.0
    frames: dict[int, dict] = field(default_factory=dict)

    def decode(self, frame: int) -> np.ndarray:
        return rle_decode(self.frames[frame], self.size, where=f"{self.entry_id} frame {frame}")


def write_rle_json(
    path: str | os.PathLike,
    entry_id: str,
    masks: dict[int, np.ndarray],
    *,
    size: tuple[int, int] | None = None,
    fps: float = 6.0,
) -> None:
    """Write {frame: (H, W) mask} as one RLE JSON file (keys sorted, so output bytes are deterministic)."""
    if size is None:
        if not masks:
            raise ValueError("size is required when there are no masks")
        size = next(iter(masks.values())).shape[:2]
    frames = {}
    for frame in sorted(masks):
        if masks[frame].shape[:2] != tuple(size):
            raise ValueError(f"frame {frame} has shape {masks[frame].shape}, expected {tuple(size)}")
        frames[str(int(frame))] = rle_encode(masks[frame])
    payload = {
        "entry_id": entry_id,
        "fps": float(fps),
        "size": [int(size[0]), int(size[1])],
        "frames": frames,
    }
    write_json_atomic(path, payload, indent=None, sort_keys=True)


def read_rle_json(path: str | os.PathLike) -> RleMasks:
    """Read an RLE JSON mask file; raises DataError naming the file and field if malformed."""
    try:
        payload = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise DataError("file not found", path=path) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"not valid JSON ({err})", path=path) from None
    if not isinstance(payload, dict):
        raise DataError("top level must be an object", path=path)
    for key in ("size", "frames"):
        if key not in payload:
            raise DataError("missing field", path=path, field=key)
    try:
        size = (int(payload["size"][0]), int(payload["size"][1]))
        frames = {int(k): v for k, v in payload["frames"].items()}
    except (TypeError, ValueError, IndexError, AttributeError) as err:
        raise DataError(f"malformed ({err})", path=path, field="size/frames") from None
    entry_id = str(payload.get("entry_id", Path(path).stem))
    return RleMasks(entry_id=entry_id, size=size, fps=float(payload.get("fps", 6.0)), frames=frames)


class MaskStore:
    """Read-only access to the masks under a root folder, whatever the layout of each entry.

    For entry `e` it looks, in order, for `<root>/e.json` (RLE), `<root>/e/masks/*.png` (upstream
    prediction layout) and `<root>/e/*.png` (GT layout). Nothing is decoded until `load` is called.
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self._rle_cache: dict[str, RleMasks] = {}
        self._png_cache: dict[str, tuple[Path, dict[int, str]] | None] = {}

    def _png_dir(self, entry_id: str) -> Path | None:
        base = child_path(self.root, entry_id)
        if (base / "masks").is_dir():
            return base / "masks"
        if base.is_dir():
            return base
        return None

    def _rle(self, entry_id: str) -> RleMasks | None:
        if entry_id not in self._rle_cache:
            path = child_path(self.root, f"{entry_id}.json")
            if not path.is_file():
                return None
            self._rle_cache[entry_id] = read_rle_json(path)
        return self._rle_cache[entry_id]

    def forget(self, entry_id: str) -> None:
        """Drop the cached RLE file of one entry (a scorer calls this when it is done with the entry)."""
        self._rle_cache.pop(entry_id, None)
        self._png_cache.pop(entry_id, None)

    def has(self, entry_id: str) -> bool:
        """True if the entry has an RLE file or a PNG folder (possibly empty)."""
        return child_path(self.root, f"{entry_id}.json").is_file() or self._png_dir(entry_id) is not None

    def png_frames(self, entry_id: str) -> tuple[Path, dict[int, str]] | None:
        """(PNG folder, {frame: file name}) of an entry stored as PNGs, or None. Raises DataError when two
        files name the same frame (`6.png` and `00006.png`)."""
        if entry_id not in self._png_cache:
            folder = self._png_dir(entry_id)
            names: dict[int, str] = {}
            if folder is not None:
                for name in sorted(os.listdir(folder)):
                    if (m := _FRAME_PNG.match(name)) is None:
                        continue
                    frame = int(m.group(1))
                    if frame in names:
                        raise DataError(f"{names[frame]} and {name} are both frame {frame}", path=folder)
                    names[frame] = name
            self._png_cache[entry_id] = None if folder is None else (folder, names)
        return self._png_cache[entry_id]

    def frames(self, entry_id: str) -> list[int]:
        """Sorted frame indices that have a mask for this entry ([] if the entry is absent)."""
        rle = self._rle(entry_id)
        if rle is not None:
            return sorted(rle.frames)
        found = self.png_frames(entry_id)
        return sorted(found[1]) if found is not None else []

    def load(self, entry_id: str, frame: int) -> np.ndarray | None:
        """The bool (H, W) mask of one frame, or None if that frame has no mask."""
        rle = self._rle(entry_id)
        if rle is not None:
            return rle.decode(frame) if frame in rle.frames else None
        found = self.png_frames(entry_id)
        if found is None or frame not in found[1]:
            return None
        return read_mask_png(found[0] / found[1][frame])
