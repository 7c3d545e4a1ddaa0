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

Speed: everything runs inside the bounding box of the two masks grown by one pixel (boundary pixels and the
pixels that decide them lie inside it). Two full-frame row sums give the rows of the box and the mask areas;
only that band of rows is coded into one uint8 image (prediction = 1, ground truth = `_GT`, both = 255:
disjoint bits), whose OR over rows gives the columns and whose crop gives the union. Empty rows / columns
between separate objects are cut to r + 1 (objects stay more than r apart, so nothing changes but the area).
One seg2bmap pass over the crop yields both boundary maps coded the same way. F needs, per boundary pixel,
only whether a pixel of the other map lies in its disk. The disk is a union of centred rectangles (the corners
of its staircase); a rectangle's counts of predicted and GT boundary pixels decode exactly from its code sum
in one integral image (s % _GT and s // _GT, as it holds fewer than `_GT` pixels). Every pixel is first tested
with the largest rectangle, the few it leaves undecided with the others; disk pixels outside every rectangle
(large radii) are read directly. Integer offsets only, so a pixel at d^2 = r^2 matches and one at r^2 + 1 does
not. Cost: a few passes over the band and the crop plus a few gathers per boundary pixel, not crop x disk.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import cv2
import numpy as np

BOUND_TH = 0.008

_GT = 254  # code of a GT boundary pixel; a predicted one is 1, both 255 (disjoint bits)
_GT_U8 = np.uint8(_GT)
_FOUND_PRED, _FOUND_GT = 1, 2  # "a predicted / GT boundary pixel lies in the region" flags
# seen code bits -> the flags still missing: bit 0 (a predicted pixel), bit 7 (a GT pixel)
_ABSENT = np.array([3 ^ ((v & 1) * _FOUND_PRED | (v >> 7) * _FOUND_GT) for v in range(256)], np.uint8)


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


def _write_boundary(code: np.ndarray, out: np.ndarray) -> None:
    """seg2bmap of every bit of the uint8 (h, w) `code` into the zeroed uint8 (h, w) `out` (may be views).

    A pixel is a boundary iff its 2x2 block (itself, right, lower, lower-right) is not constant, i.e. iff
    (c00^c01) | (c10^c11) | (c00^c10); the last row keeps only c00^c01, the last column only c00^c10."""
    rows, cols = code.shape
    if cols > 1:
        across = cv2.bitwise_xor(code[:, :-1], code[:, 1:])
        out[-1, :-1] = across[-1]
    if rows > 1:
        cv2.bitwise_xor(code[:-1], code[1:], dst=out[:-1])
        if cols > 1:
            cv2.bitwise_or(out[:-1, :-1], across[:-1], dst=out[:-1, :-1])
            cv2.bitwise_or(out[:-1, :-1], across[1:], dst=out[:-1, :-1])


def _as_u8(mask: np.ndarray) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.dtype == np.bool_:
        return mask.view(np.uint8)
    return (mask != 0).view(np.uint8)


def seg2bmap(mask: np.ndarray) -> np.ndarray:
    """One-pixel-wide boundary map of a (H, W) mask by the DAVIS `seg2bmap` rule. Returns bool (H, W)."""
    code = np.ascontiguousarray(_as_u8(mask))
    out = np.zeros(code.shape, np.uint8)
    _write_boundary(code, out)
    return out.view(bool)


def jaccard(pred: np.ndarray, gt: np.ndarray) -> float:
    """J = |P ∩ G| / |P ∪ G| of two (H, W) masks (non-zero = foreground); 1.0 when both are empty."""
    return jaccard_and_boundary_f(pred, gt)[0]


def boundary_f(pred: np.ndarray, gt: np.ndarray, bound_th: float = BOUND_TH) -> float:
    """DAVIS boundary F-measure of two (H, W) masks (see the module docstring for the exact rule)."""
    return jaccard_and_boundary_f(pred, gt, bound_th)[1]


class _DiskPlan(NamedTuple):
    """How to test a disk of radius r: centred rectangles (w, h) = [-w, w] x [-h, h], largest first, each
    holding < `_GT` pixels, as corner coefficients; the (dy, dx) of disk pixels outside every rectangle; and
    `missing[s]`, the flags a rectangle with code sum s lacks (no predicted pixel: s % _GT == 0;
    no GT: s < _GT)."""

    first: tuple[int, int, int, int]  # (w, h, 2w + 1, 2h + 1) of the largest rectangle
    corner_rows: np.ndarray  # (4k,) row offsets of the other k rectangles' corners: k top-left (+), k
    corner_cols: np.ndarray  # bottom-right (+), k top-right (-), k bottom-left (-); matching column offsets
    rest: np.ndarray  # (m, 2) (dy, dx)
    missing: np.ndarray  # uint8 table indexed by a rectangle's code sum


@lru_cache(maxsize=32)
def _disk_plan(radius: int) -> _DiskPlan:
    """The rectangles of the disk's staircase (the widest rectangle inside the disk for each half-height h,
    narrowed to fewer than `_GT` pixels, minus those inside another), the largest one first."""
    steps = set()
    for h in range(radius + 1):  # the widest rectangle of each height, narrowed to fewer than _GT pixels
        cap = ((_GT - 1) // (2 * h + 1) - 1) // 2
        if cap >= 0:
            steps.add((min(math.isqrt(radius * radius - h * h), cap), h))
    rects = [(w, h) for w, h in steps if not any(a >= w and b >= h and (a, b) != (w, h) for a, b in steps)]
    rects.sort(key=lambda wh: (-(2 * wh[0] + 1) * (2 * wh[1] + 1), wh[1]))
    span = range(-radius, radius + 1)
    rest = [(dy, dx) for dy in span for dx in span if dy * dy + dx * dx <= radius * radius
            and not any(abs(dx) <= w and abs(dy) <= h for w, h in rects)]  # fmt: skip
    rows = [[-h, h + 1, -h, h + 1][corner] for corner in range(4) for w, h in rects[1:]]
    cols = [[-w, w + 1, w + 1, -w][corner] for corner in range(4) for w, h in rects[1:]]
    sums = np.arange(255 * max((2 * w + 1) * (2 * h + 1) for w, h in rects) + 1)
    missing = np.where(sums % _GT == 0, _FOUND_PRED, 0) | np.where(sums < _GT, _FOUND_GT, 0)
    w, h = rects[0]
    return _DiskPlan(
        (w, h, 2 * w + 1, 2 * h + 1),
        np.array(rows, np.intp),
        np.array(cols, np.intp),
        np.array(rest, np.intp).reshape(-1, 2),
        missing.astype(np.uint8),
    )


def _boundary_pixels(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices and codes of the non-zero bytes of `buf` (length a multiple of 8), scanning by words."""
    words = buf.view(np.uint64)
    nonzero_words = (words != 0).nonzero()[0]
    octets = words.take(nonzero_words).view(np.uint8)
    hit = (octets != 0).nonzero()[0]
    return (nonzero_words.take(hit >> 3) << 3) | (hit & 7), octets.take(hit)


def _first_missing(integral: np.ndarray, pos: np.ndarray, plan: _DiskPlan, stride: int) -> np.ndarray:
    """Missing-flags of the largest rectangle around each pixel (flat index `pos` in the integral's grid)."""
    w, h, width, height = plan.first
    top_left = pos - (h * stride + w)
    total = integral.take(top_left)
    total += integral[height * stride + width :].take(top_left)
    total -= integral[width:].take(top_left)
    total -= integral[height * stride :].take(top_left)
    # Every rectangle holds the pixel itself, so only the other map's flag can be missing.
    return plan.missing.take(total)


@lru_cache(maxsize=128)
def _corner_offsets(radius: int, stride: int) -> np.ndarray:
    """(4k, 1) flat offsets of the corners of the disk plan's other rectangles for a row stride."""
    plan = _disk_plan(radius)
    offsets = (plan.corner_rows * stride + plan.corner_cols)[:, None]
    offsets.setflags(write=False)
    return offsets


def _still_missing(
    integral: np.ndarray, codes: np.ndarray, pos: np.ndarray, left: np.ndarray, radius: int, stride: int
) -> np.ndarray:
    """`left` (missing-flags, uint8 (n,)) of the pixels at flat indices `pos` (n,) after the other rectangles
    of the disk plan (gathered from `integral`) and the direct reads of `codes`."""
    plan = _disk_plan(radius)
    if plan.corner_rows.size:
        corners = integral.take(_corner_offsets(radius, stride) + pos).reshape(4, -1, pos.size)
        total = corners[0] + corners[1]
        total -= corners[2]
        total -= corners[3]
        left &= np.bitwise_and.reduce(plan.missing.take(total), axis=0)
    if plan.rest.size:
        offsets = plan.rest[:, 0] * stride + plan.rest[:, 1]
        left &= _ABSENT.take(np.bitwise_or.reduce(codes.ravel().take(offsets[:, None] + pos), axis=0))
    return left


def _match_counts(codes: np.ndarray, buf: np.ndarray, radius: int) -> tuple[int, int, int, int]:
    """(predicted boundary px, GT boundary px, matched predicted, matched GT) of the code image `codes`
    ((h, stride) view of `buf`, zero outside a `radius` margin and in its last column)."""
    pos, code = _boundary_pixels(buf)
    code_sum = int(cv2.sumElems(code)[0])  # n_pred + 254 n_gt
    n_gt = (code_sum - int(cv2.sumElems(code.view(np.int8))[0])) // 256  # bytes >= 128 read 256 less
    n_pred = code_sum - _GT * n_gt
    if n_pred == 0 or n_gt == 0:
        return n_pred, n_gt, 0, 0
    stride, plan = codes.shape[1], _disk_plan(radius)
    integral = _integral(codes[:, :-1])  # (h+1, stride): a pixel's flat index is its top-left corner's
    left = _first_missing(integral, pos, plan, stride)
    undecided = (left != 0).nonzero()[0]
    if undecided.size == 0:
        return n_pred, n_gt, n_pred, n_gt
    left = _still_missing(integral, codes, pos.take(undecided), left.take(undecided), radius, stride)
    left_sum, n_left = int(cv2.sumElems(left)[0]), cv2.countNonZero(left)
    pred_misses, gt_misses = left_sum - n_left, 2 * n_left - left_sum  # a flag is 2 (predicted) or 1 (GT)
    return n_pred, n_gt, n_pred - pred_misses, n_gt - gt_misses


def _integral(codes: np.ndarray) -> np.ndarray:
    """Flat integral image of a uint8 code image; int32 unless its total could overflow (then int64)."""
    if codes.size * 255 < 2**31:
        return cv2.integral(codes, sdepth=cv2.CV_32S).ravel()
    return cv2.integral(codes, sdepth=cv2.CV_64F).ravel().astype(np.int64)


def _code_buffer(rows: int, cols: int, radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Zeroed flat buffer (length a multiple of 8), its (rows + 2r, cols + 2r + 1) code image view and the
    (rows, cols) view inside the margins."""
    height, stride = rows + 2 * radius, cols + 2 * radius + 1
    buf = np.zeros(-(-height * stride // 8) * 8, np.uint8)
    codes = buf[: height * stride].reshape(height, stride)
    return buf, codes, codes[radius : radius + rows, radius : radius + cols]


def boundary_hits(query: np.ndarray, source: np.ndarray, radius: int) -> int:
    """How many non-zero pixels of the (H, W) map `query` lie within Euclidean distance `radius` of a
    non-zero pixel of `source` (same shape) — the count of `query & dilate(source, disk(radius))`."""
    q, s = _as_u8(query), _as_u8(source)
    if q.shape != s.shape or q.ndim != 2:
        raise ValueError(f"map shapes differ: query {q.shape}, source {s.shape}")
    buf, codes, inner = _code_buffer(*q.shape, radius)
    cv2.addWeighted(q, 1, s, _GT, 0, dst=inner)
    return _match_counts(codes, buf, radius)[2]


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


def _band(first: int, last: int, height: int) -> tuple[int, int]:
    """Rows [b0, b1) holding first - 1 .. last + 1 (clipped to the frame), widened to a multiple of 4 rows
    where the frame allows (a wider band only adds empty rows)."""
    b0, b1 = max(0, first - 1), min(height, last + 2)
    b1 += -(b1 - b0) % 4
    if b1 > height:
        b0, b1 = max(0, b0 - (b1 - height)), height
    return b0, b1


def _or_rows(band: np.ndarray) -> np.ndarray:
    """uint8 (W,) OR of the rows of a C-contiguous (n, W) band (folding four rows per step when n % 4 == 0)."""
    rows, width = band.shape
    if rows % 4:
        return np.bitwise_or.reduce(band, axis=0)
    folded = np.bitwise_or.reduce(band.reshape(rows // 4, 4 * width), axis=0)
    return np.bitwise_or.reduce(folded.reshape(4, width), axis=0)


def _kept(occupied: np.ndarray, size: int, keep: int) -> list[slice] | None:
    """Slices of range(size) that leave `keep` of every run of more than `keep` unoccupied indices between
    the sorted `occupied` ones; None if there is no such run."""
    if int(occupied[-1]) - int(occupied[0]) + 1 - occupied.size <= keep:
        return None
    runs = (np.diff(occupied) > keep + 1).nonzero()[0].tolist()
    if not runs:
        return None
    starts = [0] + [int(occupied[k + 1]) for k in runs]
    stops = [int(occupied[k]) + keep + 1 for k in runs] + [size]
    return [slice(a, b) for a, b in zip(starts, stops, strict=True)]


def _squeeze(crop: np.ndarray, rows: np.ndarray, cols: np.ndarray, keep: int) -> np.ndarray:
    """`crop` without the empty rows / columns beyond `keep` in each gap between objects (`rows` / `cols`: the
    occupied ones, crop coordinates). With keep = r + 1 the objects stay more than r apart, so no boundary pixel
    gains a match, and each keeps its own boundary: J and F are unchanged, the area to process shrinks."""
    kept = _kept(rows, crop.shape[0], keep)
    if kept:
        crop = cv2.vconcat([crop[k] for k in kept])
    kept = _kept(cols, crop.shape[1], keep)
    if kept:
        crop = cv2.hconcat([crop[:, k] for k in kept])
    return crop


def _coded_crop(pred_u8: np.ndarray, gt_u8: np.ndarray, radius: int) -> tuple[np.ndarray, int] | None:
    """(crop of the mask codes 0 / 1 = pred / `_GT` = GT / 255 = both over the bounding box of the two masks
    grown by one pixel (clipped) with the gaps between objects cut to radius + 1, |P| + |G|), or None if both
    masks are empty."""
    per_row = cv2.reduce(pred_u8, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S)
    per_row += cv2.reduce(gt_u8, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S)
    rows = per_row.nonzero()[0]
    if rows.size == 0:
        return None
    height, first, last = pred_u8.shape[0], int(rows[0]), int(rows[-1])
    b0, b1 = _band(first, last, height)
    band = np.multiply(gt_u8[b0:b1], _GT_U8)
    band += pred_u8[b0:b1]
    cols = _or_rows(band).nonzero()[0]
    left, right = int(cols[0]), int(cols[-1])
    y0, x0 = max(0, first - 1), max(0, left - 1)
    crop = band[y0 - b0 : min(height, last + 2) - b0, x0 : right + 2]
    keep = radius + 1
    if last - first + 1 - rows.size > keep or right - left + 1 - cols.size > keep:  # gaps worth cutting
        crop = _squeeze(crop, rows - y0, cols - x0, keep)
    return crop, int(cv2.sumElems(per_row)[0])


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
    radius = boundary_radius(pred_u8.shape, bound_th)
    found = _coded_crop(pred_u8, gt_u8, radius)
    if found is None:
        return 1.0, 1.0
    coded, area_sum = found
    union = cv2.countNonZero(coded)
    buf, codes, inner = _code_buffer(*coded.shape, radius)
    _write_boundary(coded, inner)
    return (area_sum - union) / union, _f_from_counts(*_match_counts(codes, buf, radius))


def jaccard_and_boundary_f_upstream(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    """(J, F) as the published ST-Evidence evaluator scores one frame: if either mask is empty the frame
    scores (1, 1) when both are and (0, 0) otherwise — even where DAVIS would give F = 1 (a full-frame mask
    has no boundary); otherwise the DAVIS values."""
    pred_any, gt_any = bool(np.any(pred)), bool(np.any(gt))
    if not (pred_any and gt_any):
        return (1.0, 1.0) if pred_any == gt_any else (0.0, 0.0)
    return jaccard_and_boundary_f(pred, gt)
