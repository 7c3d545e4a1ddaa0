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
pixels that decide them lie inside it). The two masks are coded into one uint8 image (prediction = 1,
ground truth = `_GT`, both = 255: disjoint bits), so one seg2bmap pass yields both boundary maps coded the
same way. F needs, per boundary pixel, only whether a pixel of the other map lies in its disk: that is answered from one integral image of the codes (a rectangle's counts of predicted and of
GT boundary pixels decode exactly from its one code sum, s % _GT and s // _GT, because it holds fewer than
`_GT` pixels) for two rectangles inside the disk, and, for the few pixels they leave undecided, by reading
the rest of the disk. Integer offsets only, so a pixel at d^2 = r^2 matches and one at r^2 + 1 does not.
Cost: a few passes over the crop plus a little work per boundary pixel, not crop area x disk size.
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np

BOUND_TH = 0.008

_GT = 254  # code of a GT boundary pixel; a predicted one is 1, both 255 (disjoint bits)
_FOUND_PRED, _FOUND_GT = 1, 2  # "a predicted / GT boundary pixel lies in the disk" flags
_NEED = np.zeros(256, np.uint8)  # code -> flags a pixel needs: a predicted pixel needs a GT one and so on
_NEED[1], _NEED[_GT], _NEED[_GT | 1] = _FOUND_GT, _FOUND_PRED, _FOUND_GT | _FOUND_PRED
_FOUND_BY_OR = np.array([(v & 1) * _FOUND_PRED | (v >> 7) * _FOUND_GT for v in range(256)], np.uint8)


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


@lru_cache(maxsize=32)
def _disk_plan(radius: int) -> tuple[int, int, np.ndarray, np.ndarray]:
    """(w, h, rest, decode) for matching within disk(radius).

    [-w, w] x [-h, h] and its transpose are the largest rectangles inside the disk holding < `_GT` pixels
    (so one code sum decodes); `rest` lists the (dy, dx) of the disk outside both, and `decode[s]` is the
    found-flags of a rectangle whose code sum is s (GT pixels = s // _GT, predicted = s % _GT)."""
    best = (0, 0)
    for h in range(radius + 1):
        w = math.isqrt(radius * radius - h * h)
        w = min(w, ((_GT - 1) // (2 * h + 1) - 1) // 2)
        if w >= h and (2 * w + 1) * (2 * h + 1) > (2 * best[0] + 1) * (2 * best[1] + 1):
            best = (w, h)
    w, h = best
    span = range(-radius, radius + 1)
    rest = [(dy, dx) for dy in span for dx in span if dy * dy + dx * dx <= radius * radius
            and not (abs(dx) <= w and abs(dy) <= h) and not (abs(dx) <= h and abs(dy) <= w)]  # fmt: skip
    sums = np.arange(255 * (2 * w + 1) * (2 * h + 1) + 1)
    decode = np.where(sums % _GT != 0, _FOUND_PRED, 0) | np.where(sums >= _GT, _FOUND_GT, 0)
    return w, h, np.array(rest, np.intp).reshape(-1, 2), decode.astype(np.uint8)


def _boundary_pixels(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices and codes of the non-zero bytes of `buf` (length a multiple of 8), scanning by words."""
    words = buf.view(np.uint64)
    nonzero_words = (words != 0).nonzero()[0]
    octets = words.take(nonzero_words).view(np.uint8)
    hit = (octets != 0).nonzero()[0]
    return (nonzero_words.take(hit >> 3) << 3) | (hit & 7), octets.take(hit)


def _rect_flags(integral: np.ndarray, origin: np.ndarray, plan, stride: int, radius: int) -> np.ndarray:
    """Found-flags from the two rectangles of `plan` around each pixel (origin = its disk's top-left)."""
    w, h, _, decode = plan
    flags = None
    for ww, hh in ((w, h), (h, w)):
        top_left = (radius - hh) * stride + radius - ww
        down, right = (2 * hh + 1) * stride, 2 * ww + 1
        base = integral[top_left:]
        total = base[down + right :].take(origin)
        total += base.take(origin)
        total -= base[right:].take(origin)
        total -= base[down:].take(origin)
        flags = decode.take(total) if flags is None else flags | decode.take(total)
    return flags


def _integral(codes: np.ndarray) -> np.ndarray:
    """Flat integral image of a uint8 code image; int32 unless its total could overflow (then int64)."""
    if codes.size * 255 < 2**31:
        return cv2.integral(codes, sdepth=cv2.CV_32S).ravel()
    return cv2.integral(codes, sdepth=cv2.CV_64F).ravel().astype(np.int64)


def _match_counts(codes: np.ndarray, buf: np.ndarray, radius: int) -> tuple[int, int, int, int]:
    """(predicted boundary px, GT boundary px, matched predicted, matched GT) of the code image `codes`
    ((h, stride) view of `buf`, zero outside a `radius` margin and in its last column)."""
    pos, code = _boundary_pixels(buf)
    need = _NEED.take(code)
    n_pred, n_gt = int(np.count_nonzero(need & _FOUND_GT)), int(np.count_nonzero(need & _FOUND_PRED))
    if n_pred == 0 or n_gt == 0:
        return n_pred, n_gt, 0, 0
    stride = codes.shape[1]
    plan = _disk_plan(radius)
    integral = _integral(codes[:, :-1])  # (h+1, stride): a pixel's flat index is its top-left corner's
    origin = pos - (radius * stride + radius)
    hits = need & _rect_flags(integral, origin, plan, stride, radius)
    left = need & ~hits
    undecided = left.nonzero()[0]
    if undecided.size and plan[2].size:
        rest = (plan[2][:, 0] + radius) * stride + plan[2][:, 1] + radius
        seen = np.bitwise_or.reduce(codes.ravel().take(rest[:, None] + origin.take(undecided)), axis=0)
        hits[undecided] |= _FOUND_BY_OR.take(seen) & left.take(undecided)
    return n_pred, n_gt, int(np.count_nonzero(hits & _FOUND_GT)), int(np.count_nonzero(hits & _FOUND_PRED))


def _code_buffer(rows: int, cols: int, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Zeroed flat buffer (length a multiple of 8) and its (rows + 2r, cols + 2r + 1) code image view."""
    height, stride = rows + 2 * radius, cols + 2 * radius + 1
    buf = np.zeros(-(-height * stride // 8) * 8, np.uint8)
    return buf, buf[: height * stride].reshape(height, stride)


def boundary_hits(query: np.ndarray, source: np.ndarray, radius: int) -> int:
    """How many non-zero pixels of the (H, W) map `query` lie within Euclidean distance `radius` of a
    non-zero pixel of `source` (same shape) — the count of `query & dilate(source, disk(radius))`."""
    q, s = _as_u8(query), _as_u8(source)
    if q.shape != s.shape or q.ndim != 2:
        raise ValueError(f"map shapes differ: query {q.shape}, source {s.shape}")
    buf, codes = _code_buffer(*q.shape, radius)
    inner = codes[radius : radius + q.shape[0], radius : radius + q.shape[1]]
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


def _crop_box(coded: np.ndarray) -> tuple[slice, slice] | None:
    """Rows/cols of the bounding box of the non-zero pixels grown by one pixel on each side (clipped),
    None if there are none."""
    rows = cv2.reduce(coded, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).nonzero()[0]
    if rows.size == 0:
        return None
    y0, y1 = int(rows[0]), int(rows[-1]) + 1
    cols = cv2.reduce(coded[y0:y1], 0, cv2.REDUCE_SUM, dtype=cv2.CV_32S).nonzero()[1]
    x0, x1 = int(cols[0]), int(cols[-1]) + 1
    height, width = coded.shape
    return slice(max(0, y0 - 1), min(height, y1 + 1)), slice(max(0, x0 - 1), min(width, x1 + 1))


def _crop_jf(coded: np.ndarray, radius: int) -> tuple[float, float]:
    """(J, F) of a crop of mask codes (0, 1 = pred, `_GT` = GT, 255 = both) with a zero (or frame-edge)
    margin around the masks."""
    buf, codes = _code_buffer(*coded.shape, radius)
    union = cv2.countNonZero(coded)
    inter = cv2.countNonZero(cv2.threshold(coded, _GT, 1, cv2.THRESH_BINARY)[1])  # code 255
    _write_boundary(coded, codes[radius : radius + coded.shape[0], radius : radius + coded.shape[1]])
    return inter / union, _f_from_counts(*_match_counts(codes, buf, radius))


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
    coded = np.multiply(gt_u8, _GT, dtype=np.uint8, order="C")  # 0, 1 (pred), _GT (GT), 255 (both)
    coded += pred_u8
    box = _crop_box(coded)
    if box is None:
        return 1.0, 1.0
    return _crop_jf(coded[box], boundary_radius(coded.shape, bound_th))


def jaccard_and_boundary_f_upstream(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    """(J, F) as the published ST-Evidence evaluator scores one frame: if either mask is empty the frame
    scores (1, 1) when both are and (0, 0) otherwise — even where DAVIS would give F = 1 (a full-frame mask
    has no boundary); otherwise the DAVIS values."""
    pred_any, gt_any = bool(np.any(pred)), bool(np.any(gt))
    if not (pred_any and gt_any):
        return (1.0, 1.0) if pred_any == gt_any else (0.0, 0.0)
    return jaccard_and_boundary_f(pred, gt)
