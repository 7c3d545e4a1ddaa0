"""Region similarity J and DAVIS boundary F-measure for one frame — pure functions over (H, W) masks.

Definitions follow the DAVIS 2017 evaluation (`db_eval_iou`, `db_eval_boundary`, bound_th = 0.008):
  * J = |P ∩ G| / |P ∪ G|; both masks empty -> 1.
  * boundary map by the `seg2bmap` rule: a pixel is on the boundary when it differs from its right, lower or
    lower-right neighbour; on the last row only the right neighbour counts, on the last column only the lower
    one, and the bottom-right pixel is never a boundary (so a full-frame mask has no boundary at all);
  * tolerance bound_pix = ceil(bound_th * ||(H, W)||_2) pixels, matching by dilation with the disk
    {(dx, dy): dx^2 + dy^2 <= r^2} (skimage.morphology.disk semantics);
  * precision = matched predicted boundary pixels / predicted boundary pixels, recall likewise for GT;
    both boundaries empty -> P = R = 1; only GT empty -> P = 0, R = 1; only prediction empty -> P = 1, R = 0;
    F = 2PR / (P + R), 0 when P + R = 0.

Speed: every operation is restricted to the bounding box of the two masks grown by one pixel (boundary
pixels and the pixels that decide them lie inside it), and dilation in that crop is exact because boundary
pixels outside it do not exist. On small crops `cv2.dilate` with the exact disk does the morphology; on
large ones two square dilations decide most pixels and only the rest are checked against the disk.
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np

BOUND_TH = 0.008


@lru_cache(maxsize=64)
def boundary_radius(shape: tuple[int, int], bound_th: float = BOUND_TH) -> int:
    """Tolerance in pixels: `bound_th` itself if >= 1, else ceil(bound_th * sqrt(H^2 + W^2))."""
    if bound_th >= 1:
        return int(bound_th)
    return int(math.ceil(bound_th * float(np.linalg.norm(shape[:2]))))


@lru_cache(maxsize=32)
def disk(radius: int) -> np.ndarray:
    """uint8 (2r+1, 2r+1) disk: 1 where dx^2 + dy^2 <= r^2 (skimage.morphology.disk semantics)."""
    offsets = np.arange(-radius, radius + 1)
    kernel = (offsets[None, :] ** 2 + offsets[:, None] ** 2) <= radius**2
    kernel = kernel.astype(np.uint8)
    kernel.setflags(write=False)
    return kernel


def _seg2bmap_u8(seg: np.ndarray) -> np.ndarray:
    """seg2bmap of a 0/1 uint8 (H, W) array (may be a strided crop); returns 0/1 uint8 (H, W).

    OpenCV's element-wise ops take the crop's row stride as is, so no copy is made."""
    out = np.zeros(seg.shape, dtype=np.uint8)
    if seg.shape[0] < 2 or seg.shape[1] < 2:
        if seg.shape[0] == 1:  # a single row: only the right neighbour exists
            out[0, :-1] = seg[0, :-1] != seg[0, 1:]
        else:
            out[:-1, 0] = seg[:-1, 0] != seg[1:, 0]
        return out
    core = seg[:-1, :-1]
    edges = cv2.bitwise_xor(core, seg[:-1, 1:])
    cv2.bitwise_or(edges, cv2.bitwise_xor(core, seg[1:, :-1]), dst=edges)
    cv2.bitwise_or(edges, cv2.bitwise_xor(core, seg[1:, 1:]), dst=edges)
    out[:-1, :-1] = edges
    out[-1, :-1] = seg[-1, :-1] != seg[-1, 1:]
    out[:-1, -1] = seg[:-1, -1] != seg[1:, -1]
    return out


def seg2bmap(mask: np.ndarray) -> np.ndarray:
    """One-pixel-wide boundary map of a (H, W) mask by the DAVIS `seg2bmap` rule. Returns bool (H, W)."""
    return _seg2bmap_u8(np.ascontiguousarray(_as_u8(mask))).view(bool)


def jaccard(pred: np.ndarray, gt: np.ndarray) -> float:
    """J = |P ∩ G| / |P ∪ G| of two (H, W) masks (non-zero = foreground); 1.0 when both are empty."""
    return jaccard_and_boundary_f(pred, gt)[0]


def boundary_f(pred: np.ndarray, gt: np.ndarray, bound_th: float = BOUND_TH) -> float:
    """DAVIS boundary F-measure of two (H, W) masks (see the module docstring for the exact rule)."""
    return jaccard_and_boundary_f(pred, gt, bound_th)[1]


def _as_u8(mask: np.ndarray) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.dtype == np.bool_:
        return mask.view(np.uint8)
    return (mask != 0).view(np.uint8)


# Below this crop area one disk dilation is as cheap; above it the square pre-tests win (up to ~1.5x).
_SQUARE_TEST_MIN_AREA = 4096


@lru_cache(maxsize=32)
def _square_tests(radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kernels of the inscribed square (half side a = floor(r / sqrt 2), inside the disk) and the bounding
    square (half side r), and the (dy, dx) offsets of the disk outside the inscribed square."""
    half = math.isqrt(radius * radius // 2)
    inner = np.ones((2 * half + 1, 2 * half + 1), np.uint8)
    outer = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    ring = [(dy, dx) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1)
            if dy * dy + dx * dx <= radius * radius and max(abs(dy), abs(dx)) > half]  # fmt: skip
    return inner, outer, np.array(ring, dtype=np.int64).reshape(-1, 2)


def _hits_by_squares(query: np.ndarray, source: np.ndarray, radius: int) -> int:
    """Exact disk matching with cheap separable square dilations: a query pixel with a source pixel in the
    inscribed square is matched, one with none in the bounding square is not, and only the few left are
    checked against the disk offsets outside the inscribed square."""
    inner_k, outer_k, ring = _square_tests(radius)
    inner = cv2.dilate(source, inner_k)
    matched = cv2.countNonZero(cv2.bitwise_and(query, inner))
    undecided = cv2.bitwise_and(cv2.bitwise_and(query, cv2.dilate(source, outer_k)), cv2.bitwise_not(inner))
    points = cv2.findNonZero(undecided)
    if points is None:
        return matched
    padded = cv2.copyMakeBorder(source, radius, radius, radius, radius, cv2.BORDER_CONSTANT, value=0)
    stride = padded.shape[1]
    points = points.reshape(-1, 2).astype(np.int64) + radius
    flat = (points[:, 1] * stride + points[:, 0])[:, None] + (ring[:, 0] * stride + ring[:, 1])[None, :]
    return matched + int(padded.ravel()[flat].any(axis=1).sum())


def boundary_hits(query: np.ndarray, source: np.ndarray, radius: int) -> int:
    """How many pixels of the 0/1 uint8 boundary map `query` lie within Euclidean distance `radius` of a
    pixel of `source` (same shape) — the count of `query & dilate(source, disk(radius))`."""
    if query.size < _SQUARE_TEST_MIN_AREA:
        return cv2.countNonZero(cv2.bitwise_and(query, cv2.dilate(source, disk(radius))))
    return _hits_by_squares(query, source, radius)


def _f_from_counts(n_pred: int, n_gt: int, pred_hits: int, gt_hits: int) -> float:
    if n_pred == 0 and n_gt == 0:
        precision, recall = 1.0, 1.0
    elif n_pred == 0:
        precision, recall = 1.0, 0.0
    elif n_gt == 0:
        precision, recall = 0.0, 1.0
    else:
        precision, recall = pred_hits / float(n_pred), gt_hits / float(n_gt)
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def _crop_box(union: np.ndarray) -> tuple[slice, slice] | None:
    """Rows/cols of the union's bounding box grown by one pixel on each side (clipped), None if empty."""
    x, y, w, h = cv2.boundingRect(union)
    if w == 0 or h == 0:
        return None
    rows, cols = union.shape
    return slice(max(0, y - 1), min(rows, y + h + 1)), slice(max(0, x - 1), min(cols, x + w + 1))


def _crop_counts(p: np.ndarray, g: np.ndarray, radius: int) -> tuple[int, int, int, int, int, int]:
    """[|P ∩ G|, |P ∪ G|, predicted boundary px, GT boundary px, matched predicted, matched GT]."""
    bp, bg = _seg2bmap_u8(p), _seg2bmap_u8(g)
    n_pred, n_gt = cv2.countNonZero(bp), cv2.countNonZero(bg)
    hits = (boundary_hits(bp, bg, radius), boundary_hits(bg, bp, radius)) if n_pred and n_gt else (0, 0)
    inter, union = cv2.countNonZero(cv2.bitwise_and(p, g)), cv2.countNonZero(cv2.bitwise_or(p, g))
    return inter, union, n_pred, n_gt, *hits


def jaccard_and_boundary_f(
    pred: np.ndarray, gt: np.ndarray, bound_th: float = BOUND_TH
) -> tuple[float, float]:
    """(J, F) of one frame; pred and gt are (H, W) masks of the same shape (any dtype, non-zero = fg).

    Identical to the DAVIS 2017 toolkit values (to floating-point round-off) but computed inside the
    bounding box of the two masks. Raises ValueError if the shapes differ.
    """
    pred_u8, gt_u8 = _as_u8(pred), _as_u8(gt)
    if pred_u8.shape != gt_u8.shape or pred_u8.ndim != 2:
        raise ValueError(f"mask shapes differ: prediction {pred_u8.shape}, ground truth {gt_u8.shape}")
    if pred_u8.flags.f_contiguous and gt_u8.flags.f_contiguous and not pred_u8.flags.c_contiguous:
        # COCO RLE decodes column-major. J and F are invariant under transposing both masks (seg2bmap's
        # right/down rules swap into each other, the disk is symmetric), so work on the C-ordered views.
        pred_u8, gt_u8 = pred_u8.T, gt_u8.T
    pred_u8, gt_u8 = np.ascontiguousarray(pred_u8), np.ascontiguousarray(gt_u8)
    box = _crop_box(cv2.bitwise_or(pred_u8, gt_u8))
    if box is None:
        return 1.0, 1.0
    radius = boundary_radius(tuple(pred_u8.shape), bound_th)
    inter, union, n_pred, n_gt, pred_hits, gt_hits = _crop_counts(pred_u8[box], gt_u8[box], radius)
    return inter / union, _f_from_counts(n_pred, n_gt, pred_hits, gt_hits)


def jaccard_and_boundary_f_upstream(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    """(J, F) as the published ST-Evidence evaluator scores one frame: if either mask is empty the frame
    scores (1, 1) when both are and (0, 0) otherwise — even where DAVIS would give F = 1 (a full-frame mask
    has no boundary); otherwise the DAVIS values."""
    pred_any, gt_any = bool(np.any(pred)), bool(np.any(gt))
    if not (pred_any and gt_any):
        return (1.0, 1.0) if pred_any == gt_any else (0.0, 0.0)
    return jaccard_and_boundary_f(pred, gt)
