"""The images of a report: frame thumbnails (JPEG) and mask overlays (transparent PNG), beside the HTML.

Every image of one frame has the thumbnail's size, so the browser stacks them exactly: the frame, then the
GT mask as an outline, then a run's predicted mask as a translucent fill. A mask of another size than the
frame is resized to it (nearest pixel when enlarging, area-weighted when shrinking).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

GT_COLOUR = (0, 230, 118)  # green outline
RUN_COLOURS = ((255, 64, 64), (41, 121, 255), (255, 171, 0), (170, 0, 255))  # run A red, B blue, ...
FILL_ALPHA = 115  # of 255: the frame stays visible under a predicted mask


def run_colour(run: int) -> tuple[int, int, int]:
    """The RGB colour of run `run` (0 = A) in overlays; the stylesheet uses the same colours."""
    return RUN_COLOURS[run % len(RUN_COLOURS)]


def thumbnail_size(height: int, width: int, max_width: int) -> tuple[int, int]:
    """(h, w) of a thumbnail at most `max_width` pixels wide, aspect kept; small frames keep their size."""
    if width <= max_width:
        return int(height), int(width)
    return max(1, round(height * max_width / width)), int(max_width)


def resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """bool (H, W) mask resized to `size` = (h, w): area-weighted (>= half covered) when shrinking, nearest
    pixel when enlarging, so thin objects neither vanish nor grow."""
    mask = np.asarray(mask, dtype=bool)
    h, w = size
    if mask.shape == (h, w):
        return mask
    if h <= mask.shape[0] and w <= mask.shape[1]:
        return cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) >= 0.5
    return cv2.resize(mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)


def outline_rgba(mask: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """uint8 (H, W, 4): an opaque `colour` band about 2 px wide along the mask's boundary, transparent
    elsewhere (the morphological gradient of the mask with a 3x3 square)."""
    band = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    # a mask touching the frame border has its boundary there too
    edge = np.zeros_like(mask, dtype=bool)
    edge[[0, -1], :] = True
    edge[:, [0, -1]] = True
    band |= mask & edge
    out = np.zeros((*mask.shape, 4), np.uint8)
    out[band] = (*colour, 255)
    return out


def fill_rgba(mask: np.ndarray, colour: tuple[int, int, int], alpha: int = FILL_ALPHA) -> np.ndarray:
    """uint8 (H, W, 4): `colour` at opacity `alpha` / 255 inside the mask, transparent elsewhere."""
    out = np.zeros((*mask.shape, 4), np.uint8)
    out[mask] = (*colour, alpha)
    return out


class ReportImages:
    """Writes the images of one report under `<root>/frames/<key>/` and returns their relative paths.

    `key` names one entry's folder (the builder passes a safe name, not the raw entry id).
    """

    def __init__(self, root: str | os.PathLike, *, max_width: int = 320, quality: int = 80):
        if max_width < 16:
            raise ValueError(f"thumbnail width must be at least 16 pixels, got {max_width}")
        self.root = Path(root)
        self.max_width = int(max_width)
        self.quality = int(quality)

    def _path(self, key: str, name: str) -> tuple[Path, str]:
        relative = f"frames/{key}/{name}"
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        return path, relative

    def write_frame(self, key: str, index: int, rgb: np.ndarray) -> tuple[str, tuple[int, int]]:
        """Write frame `index` (uint8 (H, W, 3) RGB) as a thumbnail JPEG; returns (path, (h, w))."""
        size = thumbnail_size(rgb.shape[0], rgb.shape[1], self.max_width)
        if size != rgb.shape[:2]:
            rgb = cv2.resize(rgb, (size[1], size[0]), interpolation=cv2.INTER_AREA)
        path, relative = self._path(key, f"{index:05d}.jpg")
        Image.fromarray(np.ascontiguousarray(rgb)).save(path, format="JPEG", quality=self.quality)
        return relative, size

    def _write_rgba(self, key: str, name: str, rgba: np.ndarray) -> str:
        path, relative = self._path(key, name)
        Image.fromarray(rgba, mode="RGBA").save(path, format="PNG")
        return relative

    def write_gt_outline(self, key: str, index: int, mask: np.ndarray, size: tuple[int, int]) -> str:
        """Write the GT mask of frame `index` as an outline PNG of thumbnail size `size` = (h, w)."""
        return self._write_rgba(key, f"{index:05d}_gt.png", outline_rgba(resize_mask(mask, size), GT_COLOUR))

    def write_pred_fill(self, key: str, index: int, run: int, mask: np.ndarray, size: tuple[int, int]) -> str:
        """Write run `run`'s predicted mask of frame `index` as a translucent fill PNG of size `size`."""
        rgba = fill_rgba(resize_mask(mask, size), run_colour(run))
        return self._write_rgba(key, f"{index:05d}_run{run}.png", rgba)
