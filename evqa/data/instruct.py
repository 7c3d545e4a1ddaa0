"""ST-Evidence-Instruct training annotations: mask JSON files (polygons, RLE, box prompts) and QA CSVs.

A mask JSON (`gen_mask/masks/<entry_id>.json`, DESIGN.md §2.1) is
    {"entry_id", "video_path", "fps", "width", "height",
     "evidence_objects": [{"ref_expression": str,
                           "masks":   [{"frame": int, "mask": {"exterior": [[x, y], ...], "holes": [[[x, y], ...]]}}
                                       | {"frame": int, "rle": <COCO RLE>}],
                           "prompts": [{"timestamp": s, "frame": int, "bbox_norm": [x1, y1, x2, y2], "confidence"}]}]}
Polygon vertices are pixel coordinates (x right, y down); `mask` may also be a list of such polygons
(an object in several pieces). `bbox_norm` is on a 0-1000 scale of the frame width/height.
Frames are indices on the 6-fps timeline of the video. Polygons are the one place here; PNG/RLE IO is
`evqa.data.masks`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from evqa.data.masks import rle_decode, rle_encode
from evqa.errors import DataError
from evqa.io import read_json, write_json_atomic


@dataclass(frozen=True)
class BoxPrompt:
    """A box prompt: `bbox_norm` = (x1, y1, x2, y2) on a 0-1000 scale, at `frame` / `timestamp` (s)."""

    frame: int
    timestamp: float
    bbox_norm: tuple[float, float, float, float]
    confidence: float = 1.0

    def to_pixels(self, width: int, height: int) -> tuple[float, float, float, float]:
        """The box in pixel coordinates (x1, y1, x2, y2) of a width x height frame."""
        x1, y1, x2, y2 = self.bbox_norm
        return (x1 * width / 1000.0, y1 * height / 1000.0, x2 * width / 1000.0, y2 * height / 1000.0)


@dataclass
class EvidenceObject:
    """One evidence object: its referring expression, masks {frame: bool [H, W]} and/or box prompts."""

    ref_expression: str
    masks: dict[int, np.ndarray] | None = None
    prompts: list[BoxPrompt] | None = None


@dataclass
class MaskAnnotation:
    """The decoded content of one training mask JSON (sizes in pixels, fps in frames/s)."""

    entry_id: str
    video_path: str
    fps: float
    width: int
    height: int
    objects: list[EvidenceObject] = field(default_factory=list)


# ---------------------------------------------------------------- polygons


def mask_to_polygons(mask: np.ndarray) -> list[dict]:
    """Outer contours (with their holes) of a bool [H, W] mask via cv2.findContours.

    Returns [{"exterior": [[x, y], ...], "holes": [[[x, y], ...], ...]}, ...], one per connected piece;
    `polygons_to_mask` of the result gives the mask back.
    """
    contours, hierarchy = cv2.findContours(
        np.asarray(mask, dtype=np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE
    )
    if hierarchy is None:
        return []
    polygons = []
    for i, contour in enumerate(contours):
        if hierarchy[0][i][3] != -1:  # a hole; collected with its parent
            continue
        holes = [contours[j].reshape(-1, 2).tolist() for j in range(len(contours)) if hierarchy[0][j][3] == i]
        polygons.append({"exterior": contour.reshape(-1, 2).tolist(), "holes": holes})
    return polygons


def _ring(points, where: str) -> np.ndarray:
    try:
        ring = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    except (TypeError, ValueError):
        raise DataError(f"polygon points must be [[x, y], ...] ({where})") from None
    if len(ring) < 3:
        raise DataError(f"polygon has {len(ring)} points, at least 3 are needed ({where})")
    return np.round(ring).astype(np.int32)


def polygons_to_mask(
    polygons: dict | list[dict], height: int, width: int, *, where: str = "polygon"
) -> np.ndarray:
    """Rasterise {exterior, holes} polygon(s) (pixel coordinates) to bool [height, width].

    Exterior rings and their boundary pixels are filled, holes are cleared (boundary kept), matching
    `mask_to_polygons`. Raises DataError for a ring with fewer than 3 points.
    """
    canvas = np.zeros((height, width), dtype=np.uint8)
    for k, polygon in enumerate([polygons] if isinstance(polygons, dict) else polygons):
        if not isinstance(polygon, dict) or "exterior" not in polygon:
            raise DataError(f"polygon {k} needs an 'exterior' ring ({where})")
        exterior = _ring(polygon["exterior"], f"{where}, exterior")
        cv2.fillPoly(canvas, [exterior], 1)
        cv2.polylines(canvas, [exterior], True, 1)
        for h, hole in enumerate(polygon.get("holes") or []):
            ring = _ring(hole, f"{where}, hole {h}")
            hole_canvas = np.zeros_like(canvas)
            cv2.fillPoly(hole_canvas, [ring], 1)
            cv2.polylines(hole_canvas, [ring], True, 0)
            canvas[hole_canvas.astype(bool)] = 0
    return canvas.astype(bool)


def bbox_norm_of(mask: np.ndarray) -> list[float]:
    """Tight box of a bool [H, W] mask as [x1, y1, x2, y2] on a 0-1000 scale (pixel edges, 1 decimal)."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        raise ValueError("empty mask has no box")
    height, width = mask.shape
    box = (xs.min() / width, ys.min() / height, (xs.max() + 1) / width, (ys.max() + 1) / height)
    return [round(float(v) * 1000.0, 1) for v in box]


# ---------------------------------------------------------------- mask JSON


def _frame_masks(items, height: int, width: int, where: str) -> dict[int, np.ndarray]:
    if not isinstance(items, list):
        raise DataError(f"'masks' must be a list ({where})")
    masks: dict[int, np.ndarray] = {}
    for k, item in enumerate(items):
        here = f"{where}.masks[{k}]"
        if not isinstance(item, dict) or "frame" not in item:
            raise DataError(f"needs a 'frame' ({here})")
        frame = int(item["frame"])
        if "mask" in item:
            mask = polygons_to_mask(item["mask"], height, width, where=f"{here}.mask")
        elif "rle" in item:
            mask = rle_decode(item["rle"], (height, width), where=f"{here}.rle")
        else:
            raise DataError(f"needs 'mask' (polygon) or 'rle' ({here})")
        masks[frame] = masks[frame] | mask if frame in masks else mask
    return masks


def _prompts(items, fps: float, where: str) -> list[BoxPrompt]:
    if not isinstance(items, list):
        raise DataError(f"'prompts' must be a list ({where})")
    prompts = []
    for k, item in enumerate(items):
        try:
            box = tuple(float(v) for v in item["bbox_norm"])
            if len(box) != 4:
                raise ValueError(f"{len(box)} numbers")
            timestamp = float(item.get("timestamp", 0.0))
            frame = int(item["frame"]) if item.get("frame") is not None else int(round(timestamp * fps))
            prompts.append(
                BoxPrompt(
                    frame=frame,
                    timestamp=timestamp,
                    bbox_norm=box,
                    confidence=float(item.get("confidence", 1.0)),
                )
            )
        except (KeyError, TypeError, ValueError) as err:
            raise DataError(f"bad box prompt ({err}) ({where}.prompts[{k}])") from None
    return prompts


def _parse_object(obj, height: int, width: int, fps: float, where: str) -> EvidenceObject:
    if not isinstance(obj, dict):
        raise DataError(f"must be an object ({where})")
    masks = _frame_masks(obj["masks"], height, width, where) if obj.get("masks") is not None else None
    prompts = _prompts(obj["prompts"], fps, where) if obj.get("prompts") is not None else None
    return EvidenceObject(ref_expression=str(obj.get("ref_expression", "")), masks=masks, prompts=prompts)


def load_mask_annotation(path: str | os.PathLike) -> MaskAnnotation:
    """Read and decode one training mask JSON (polygons / RLE -> bool [H, W] masks, box prompts).

    Raises DataError naming the file, entry and field for truncated JSON, missing fields, polygons with
    fewer than 3 points or RLE masks of the wrong size. A prompt without `frame` gets
    round(timestamp * fps).
    """
    payload = read_json(path, error=DataError)
    if not isinstance(payload, dict):
        raise DataError("top level must be an object", path=path)
    entry = payload.get("entry_id", Path(path).stem)
    for key in ("width", "height", "evidence_objects"):
        if key not in payload:
            raise DataError("missing field", path=path, entry=entry, field=key)
    try:
        width, height, fps = int(payload["width"]), int(payload["height"]), float(payload.get("fps", 6.0))
    except (TypeError, ValueError) as err:
        raise DataError(f"not a number ({err})", path=path, entry=entry, field="width/height/fps") from None
    objects = []
    for k, obj in enumerate(payload["evidence_objects"] or []):
        where = f"evidence_objects[{k}]"
        try:
            parsed = _parse_object(obj, height, width, fps, where)
        except DataError as err:
            raise DataError(err.message, path=path, entry=entry, field=where) from None
        objects.append(parsed)
    return MaskAnnotation(
        entry_id=str(entry),
        video_path=str(payload.get("video_path", "")),
        fps=fps,
        width=width,
        height=height,
        objects=objects,
    )


def annotation_to_json(ann: MaskAnnotation, *, mask_format: str = "polygon") -> dict:
    """The JSON object of a MaskAnnotation; masks as polygons (`mask`) or COCO RLE (`rle`)."""
    objects = []
    for obj in ann.objects:
        item: dict = {"ref_expression": obj.ref_expression}
        if obj.masks is not None:
            item["masks"] = [_mask_item(frame, obj.masks[frame], mask_format) for frame in sorted(obj.masks)]
        if obj.prompts is not None:
            item["prompts"] = [
                {
                    "timestamp": p.timestamp,
                    "frame": p.frame,
                    "bbox_norm": list(p.bbox_norm),
                    "confidence": p.confidence,
                }
                for p in obj.prompts
            ]
        objects.append(item)
    return {
        "entry_id": ann.entry_id,
        "video_path": ann.video_path,
        "fps": ann.fps,
        "width": ann.width,
        "height": ann.height,
        "evidence_objects": objects,
    }


def _mask_item(frame: int, mask: np.ndarray, mask_format: str) -> dict:
    if mask_format == "rle":
        return {"frame": int(frame), "rle": rle_encode(mask)}
    polygons = mask_to_polygons(mask)
    return {"frame": int(frame), "mask": polygons[0] if len(polygons) == 1 else polygons}


def write_mask_annotation(
    path: str | os.PathLike, ann: MaskAnnotation, *, mask_format: str = "polygon"
) -> None:
    """Write a MaskAnnotation as a mask JSON (atomic, deterministic bytes)."""
    write_json_atomic(path, annotation_to_json(ann, mask_format=mask_format), indent=None)


def load_instruct_qa(csv_path: str | os.PathLike) -> list:
    """Rows of an instruct QA CSV (`temporal_evidence` column) as GenEntry records.

    The benchmark-CSV loader reads both segment column names, so this is that one loader.
    """
    from evqa.data.st_evidence import load_gen_benchmark

    return load_gen_benchmark(csv_path)
