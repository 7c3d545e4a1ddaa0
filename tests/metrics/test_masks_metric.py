"""J and DAVIS boundary F: golden cases from the DAVIS 2017 toolkit, a full-frame reference, and hand-computed\ndisk-edge cases for the boundary matching."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from evqa.metrics.masks import (
    _disk_plan,
    boundary_hits,
    boundary_radius,
    disk,
    jaccard_and_boundary_f,
    jaccard_and_boundary_f_upstream,
    seg2bmap,
)

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "davis_jf"
CASES = json.loads((GOLDEN / "expected.json").read_text())


def _png(path):
    return np.asarray(Image.open(path)) != 0


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_davis_cases(case):
    pred, gt = _png(GOLDEN / f"{case}_pred.png"), _png(GOLDEN / f"{case}_gt.png")
    assert list(gt.shape) == CASES[case]["shape"]
    j, f = jaccard_and_boundary_f(pred, gt)
    assert abs(j - CASES[case]["J"]) <= 1e-9
    assert abs(f - CASES[case]["F"]) <= 1e-9


def test_golden_set_covers_edge_cases():
    assert len(CASES) >= 40
    for name in ("both_empty", "gt_empty", "pred_empty", "full_vs_full", "single_pixel", "border_lines"):
        assert name in CASES


def _reference_jf(pred, gt, bound_th=0.008):
    """Full-frame DAVIS-style computation (no cropping): the oracle for the cropped fast path."""
    inter, union = np.sum(pred & gt), np.sum(pred | gt)
    j = 1.0 if union == 0 else inter / union
    bp, bg = seg2bmap(pred), seg2bmap(gt)
    kernel = disk(boundary_radius(pred.shape, bound_th))
    dp, dg = cv2.dilate(bp.astype(np.uint8), kernel), cv2.dilate(bg.astype(np.uint8), kernel)
    n_p, n_g = bp.sum(), bg.sum()
    if n_p == 0 or n_g == 0:
        prec, rec = (1.0 if n_p == 0 else 0.0), (1.0 if n_g == 0 else 0.0)
    else:
        prec, rec = np.sum(bp & (dg > 0)) / n_p, np.sum(bg & (dp > 0)) / n_g
    return j, (0.0 if prec + rec == 0 else 2 * prec * rec / (prec + rec))


@pytest.mark.parametrize("seed", range(12))
def test_crop_equals_full_frame(seed):
    rng = np.random.default_rng(seed)
    h, w = rng.integers(5, 200, size=2)
    gt = np.zeros((h, w), bool)
    pred = np.zeros((h, w), bool)
    for mask in (gt, pred):
        for _ in range(3):
            cy, cx, r = rng.integers(0, h), rng.integers(0, w), rng.integers(1, 30)
            yy, xx = np.ogrid[:h, :w]
            mask |= (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    if seed % 4 == 0:
        pred[-1, :] = True  # touch the bottom border, where seg2bmap has its special rule
    got, want = jaccard_and_boundary_f(pred, gt), _reference_jf(pred, gt)
    assert got == pytest.approx(want, abs=1e-12)


def test_seg2bmap_rules():
    full = np.ones((4, 5), bool)
    assert not seg2bmap(full).any()  # a full frame has no boundary
    one = np.zeros((4, 5), bool)
    one[1, 2] = True
    expect = np.zeros((4, 5), bool)
    expect[1, 2] = expect[0, 1] = expect[0, 2] = expect[1, 1] = True
    assert np.array_equal(seg2bmap(one), expect)
    corner = np.zeros((3, 3), bool)
    corner[2, 2] = True
    assert seg2bmap(corner)[2, 1] and seg2bmap(corner)[1, 2] and not seg2bmap(corner)[2, 2]


def test_disk_and_radius():
    assert boundary_radius((480, 854)) == 8  # ceil(0.008 * 979.6)
    assert boundary_radius((120, 160)) == 2
    assert boundary_radius((10, 10), bound_th=3) == 3
    k = disk(2)
    assert k.shape == (5, 5) and k.sum() == 13 and k[0, 2] == 1 and k[0, 1] == 0


def test_accepts_uint8_and_rejects_shape_mismatch():
    a = np.zeros((8, 8), np.uint8)
    a[2:5, 2:5] = 255
    assert jaccard_and_boundary_f(a, a > 0) == (1.0, 1.0)
    with pytest.raises(ValueError, match="shapes differ"):
        jaccard_and_boundary_f(a, np.zeros((8, 9), bool))


def test_upstream_empty_rule_differs_from_davis():
    full = np.ones((20, 30), bool)
    empty = np.zeros((20, 30), bool)
    assert jaccard_and_boundary_f(empty, full) == (0.0, 1.0)  # DAVIS: neither has a boundary
    assert jaccard_and_boundary_f_upstream(empty, full) == (0.0, 0.0)
    assert jaccard_and_boundary_f_upstream(empty, empty) == (1.0, 1.0)


@pytest.mark.parametrize("case", ["rand04_480x854", "border_lines", "rand17_270x480"])
def test_column_major_inputs_give_the_same_values(case):
    pred, gt = _png(GOLDEN / f"{case}_pred.png"), _png(GOLDEN / f"{case}_gt.png")
    want = jaccard_and_boundary_f(pred, gt)
    assert jaccard_and_boundary_f(np.asfortranarray(pred), np.asfortranarray(gt)) == want
    assert jaccard_and_boundary_f(np.asfortranarray(pred), gt) == want
    assert jaccard_and_boundary_f(pred.T, gt.T) == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("shape", [(1, 1), (1, 5), (5, 1), (2, 2)])
def test_seg2bmap_tiny_shapes_match_the_shift_formula(shape):
    rng = np.random.default_rng(sum(shape))
    for _ in range(10):
        seg = rng.random(shape) > 0.5
        e, s, se = np.zeros_like(seg), np.zeros_like(seg), np.zeros_like(seg)
        e[:, :-1], s[:-1, :], se[:-1, :-1] = seg[:, 1:], seg[1:, :], seg[1:, 1:]
        want = seg ^ e | seg ^ s | seg ^ se
        want[-1, :] = seg[-1, :] ^ e[-1, :]
        want[:, -1] = seg[:, -1] ^ s[:, -1]
        want[-1, -1] = 0
        assert np.array_equal(seg2bmap(seg), want)


@pytest.mark.parametrize("radius", [0, 1, 2, 5, 8, 9, 12, 20])
def test_boundary_hits_equal_disk_dilation(radius):
    rng = np.random.default_rng(radius)
    shapes = [(1, 1), (1, 17), (23, 1), (2, 2)] + [
        tuple(int(v) for v in rng.integers(3, 90, 2)) for _ in range(5)
    ]
    for shape in shapes:
        for density in (0.5, 0.9, 0.99):
            query = (rng.random(shape) > density).astype(np.uint8)
            source = (rng.random(shape) > density).astype(np.uint8)
            want = int(np.sum(query & cv2.dilate(source, disk(radius))))
            assert boundary_hits(query, source, radius) == want, (shape, density)


def _points(shape, *pixels):
    out = np.zeros(shape, bool)
    for y, x in pixels:
        out[y, x] = True
    return out


@pytest.mark.parametrize(
    ("radius", "dy", "dx", "hit"),
    [
        (8, 0, 8, True),  # exactly r along an axis
        (8, 0, 9, False),  # r + 1
        (8, 1, 8, False),  # d^2 = r^2 + 1, the closest miss
        (8, 5, 6, True),  # d^2 = 61, outside both pre-test rectangles
        (8, 6, 6, False),  # d^2 = 72
        (5, 3, 4, True),  # d = 5 exactly on a diagonal
        (5, 4, 4, False),  # d^2 = 32
        (12, 7, 9, True),  # d^2 = 130 <= 144, a radius whose rectangles are capped
        (12, 8, 9, False),  # d^2 = 145
    ],
)
def test_boundary_hits_at_the_disk_edge(radius, dy, dx, hit):
    shape = (40, 50)
    for y, x, sy, sx in ((20, 20, 20 + dy, 20 + dx), (20, 30, 20 - dx, 30 - dy)):
        query, source = _points(shape, (y, x)), _points(shape, (sy, sx))
        assert boundary_hits(query, source, radius) == int(hit)
        assert boundary_hits(source, query, radius) == int(hit)


def test_boundary_hits_empty_single_and_border_pixels():
    shape = (12, 15)
    empty, corner = np.zeros(shape, bool), _points(shape, (0, 0))
    assert boundary_hits(empty, corner, 3) == 0 and boundary_hits(corner, empty, 3) == 0
    assert boundary_hits(corner, corner, 0) == 1  # distance 0 matches even with r = 0
    far_corner = _points(shape, (11, 14))
    assert boundary_hits(corner, far_corner, 17) == 0  # d^2 = 121 + 196 = 317 > 289
    assert boundary_hits(corner, far_corner, 18) == 1  # 317 <= 324
    left, right = np.zeros(shape, bool), np.zeros(shape, bool)
    left[:, 0], right[:, -1] = True, True  # two border lines 14 columns apart
    assert boundary_hits(left, right, 13) == 0
    assert boundary_hits(left, right, 14) == shape[0]
    with pytest.raises(ValueError, match="map shapes differ"):
        boundary_hits(left, right[:, 1:], 3)


@pytest.mark.parametrize(("gap", "f"), [(8, 1.0), (9, 0.5), (10, 0.0)])
def test_single_pixels_a_disk_radius_apart(gap, f):
    """A lone pixel's seg2bmap boundary is its 2x2 block up-left of it; on a 480x854 frame r = 8, so
    columns {99, 100} vs {99 + gap, 100 + gap}: gap 8 matches all, 9 only 100 <-> 108, 10 nothing."""
    pred, gt = _points((480, 854), (100, 100)), _points((480, 854), (100, 100 + gap))
    assert jaccard_and_boundary_f(pred, gt) == (0.0, f)
    assert jaccard_and_boundary_f(pred.T, gt.T) == (0.0, f)


@pytest.mark.parametrize("seed", range(6))
def test_large_radius_equals_full_frame(seed):
    rng = np.random.default_rng(100 + seed)
    pred, gt = (rng.random((70, 90)) > 0.97 for _ in range(2))
    pred = cv2.dilate(pred.view(np.uint8), disk(3)).astype(bool)
    gt = cv2.dilate(gt.view(np.uint8), disk(2)).astype(bool)
    radius = int(rng.integers(9, 25))
    got = jaccard_and_boundary_f(pred, gt, bound_th=radius)
    assert got == pytest.approx(_reference_jf(pred, gt, bound_th=radius), abs=1e-12)


@pytest.mark.parametrize("shape", [(1, 1), (1, 2), (2, 1), (1, 30), (30, 1), (2, 2), (3, 7)])
def test_tiny_frames_equal_full_frame(shape):
    rng = np.random.default_rng(shape[0] * 100 + shape[1])
    for _ in range(40):
        pred, gt = rng.random(shape) > 0.5, rng.random(shape) > 0.5
        for bound_th in (0.008, 1, 3):
            want = _reference_jf(pred, gt, bound_th=bound_th)
            assert jaccard_and_boundary_f(pred, gt, bound_th) == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("radius", [0, 1, 2, 3, 5, 8, 9, 12, 18, 25, 30])
def test_disk_plan_covers_the_disk_exactly(radius):
    """The first rectangle, the other rectangles and the direct reads cover exactly the disk; every
    rectangle holds fewer than 254 pixels (so its code sum decodes) and holds the centre pixel."""
    plan = _disk_plan(radius)
    w, h, width, height = plan.first
    assert (width, height) == (2 * w + 1, 2 * h + 1) and width * height < 254
    rects = [(-h, h, -w, w)]
    k = plan.corner_rows.size // 4
    top, bottom = plan.corner_rows[:k], plan.corner_rows[k : 2 * k] - 1
    left, right = plan.corner_cols[:k], plan.corner_cols[k : 2 * k] - 1
    assert np.array_equal(plan.corner_rows[2 * k : 3 * k], top)  # top-right corner
    assert np.array_equal(plan.corner_cols[2 * k : 3 * k], right + 1)
    assert np.array_equal(plan.corner_rows[3 * k :], bottom + 1)  # bottom-left corner
    assert np.array_equal(plan.corner_cols[3 * k :], left)
    rects += list(zip(top.tolist(), bottom.tolist(), left.tolist(), right.tolist(), strict=True))
    covered = set()
    for y0, y1, x0, x1 in rects:
        assert (y1 - y0 + 1) * (x1 - x0 + 1) < 254 and y0 <= 0 <= y1 and x0 <= 0 <= x1
        covered |= {(dy, dx) for dy in range(y0, y1 + 1) for dx in range(x0, x1 + 1)}
    rest = {tuple(v) for v in plan.rest.tolist()}
    assert not rest & covered
    span = range(-radius, radius + 1)
    assert covered | rest == {(dy, dx) for dy in span for dx in span if dy * dy + dx * dx <= radius * radius}
    assert plan.missing[0] == 3 and plan.missing[1] == 2 and plan.missing[254] == 1 and plan.missing[255] == 0


def _masks_touching(shape, sides, rng):
    """Random blobs plus a stripe along each frame side named in `sides` (top / bottom / left / right)."""
    h, w = shape
    masks = []
    for _ in range(2):
        m = rng.random(shape) > 0.8
        m = cv2.dilate(m.view(np.uint8), disk(1)).astype(bool)
        for side, index in (("top", (0, slice(None))), ("bottom", (h - 1, slice(None)))):
            if side in sides:
                m[index] = rng.random(w) > 0.3
        for side, index in (("left", (slice(None), 0)), ("right", (slice(None), w - 1))):
            if side in sides:
                m[index] = rng.random(h) > 0.3
        masks.append(m)
    return masks


@pytest.mark.parametrize("sides", [(), ("top",), ("bottom",), ("left", "right"), ("top", "bottom", "left")])
@pytest.mark.parametrize("shape", [(5, 9), (6, 31), (7, 8), (13, 40), (41, 23)])
def test_masks_on_the_frame_border_equal_full_frame(sides, shape):
    """Heights that are not a multiple of 4 (the band of rows is widened to fold four rows at a time) and masks
    on every frame side (where seg2bmap's last-row / last-column rule applies)."""
    rng = np.random.default_rng(sum(shape) + len(sides))
    for bound_th in (0.008, 2, 5):
        pred, gt = _masks_touching(shape, sides, rng)
        want = _reference_jf(pred, gt, bound_th=bound_th)
        assert jaccard_and_boundary_f(pred, gt, bound_th) == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("radius", [2, 5, 8, 12, 20])
def test_dense_noise_masks_equal_full_frame(radius):
    """Noise masks make dense boundaries: rectangles near the 253-pixel cap and, for r >= 12, the direct reads."""
    rng = np.random.default_rng(radius)
    for density in (0.3, 0.5, 0.7):
        pred, gt = rng.random((50, 70)) < density, rng.random((50, 70)) < density
        want = _reference_jf(pred, gt, bound_th=radius)
        assert jaccard_and_boundary_f(pred, gt, radius) == pytest.approx(want, abs=1e-12)


def test_full_empty_and_single_pixel_frames():
    shape = (30, 44)
    full, empty = np.ones(shape, bool), np.zeros(shape, bool)
    corner = _points(shape, (29, 43))
    assert jaccard_and_boundary_f(full, full) == (1.0, 1.0)  # no boundary on either side
    assert jaccard_and_boundary_f(empty, empty) == (1.0, 1.0)
    assert jaccard_and_boundary_f(full, empty) == (0.0, 1.0)
    assert jaccard_and_boundary_f(corner, empty) == (0.0, 0.0)  # the corner pixel's block has a boundary
    for pred, gt in ((corner, full), (full, corner), (corner, corner), (_points(shape, (0, 0)), corner)):
        assert jaccard_and_boundary_f(pred, gt) == pytest.approx(_reference_jf(pred, gt), abs=1e-12)


def test_input_layouts_give_identical_values():
    """C / Fortran order, mixed, strided views and integer / float masks all score like the bool arrays."""
    pred, gt = (_png(GOLDEN / f"rand04_480x854_{k}.png") for k in ("pred", "gt"))
    want = jaccard_and_boundary_f(pred, gt)
    layouts = [
        (np.asfortranarray(pred), gt),
        (pred, np.asfortranarray(gt)),
        (pred.astype(np.uint8) * 255, gt.astype(np.int64)),
        (pred.astype(np.float32), gt),
    ]
    for p, g in layouts:
        assert jaccard_and_boundary_f(p, g) == want
    big_p, big_g = np.zeros((960, 1708), bool), np.zeros((960, 1708), bool)
    big_p[::2, ::2], big_g[::2, ::2] = pred, gt
    assert jaccard_and_boundary_f(big_p[::2, ::2], big_g[::2, ::2]) == want


def test_separated_objects_equal_full_frame():
    """Two objects far apart (a box spanning mostly empty rows and columns) and a third one a disk radius away."""
    pred, gt = np.zeros((480, 854), bool), np.zeros((480, 854), bool)
    gt[20:60, 30:90] = pred[22:61, 28:88] = True
    gt[400:470, 700:840] = pred[395:470, 705:845] = True
    gt[200:210, 400:410] = True
    pred[200:210, 418:428] = True  # 8 columns of gap: the facing edges are a radius (8) apart
    assert jaccard_and_boundary_f(pred, gt) == pytest.approx(_reference_jf(pred, gt), abs=1e-12)


@pytest.mark.parametrize("gap", [7, 8, 9, 10, 11, 40])
@pytest.mark.parametrize("axis", [0, 1])
def test_gaps_between_objects_equal_full_frame(gap, axis):
    """Empty rows / columns between objects are cut to r + 1 = 9 before matching: facing edges `gap` apart,
    the predicted object shifted so that some pixels match across the gap only when gap <= r."""
    shape = (160, 200) if axis == 0 else (200, 160)
    gt, pred = np.zeros(shape, bool), np.zeros(shape, bool)
    first, second = slice(20, 60), slice(60 + gap, 100 + gap)
    other = slice(30, 90)
    gt[(first, other) if axis == 0 else (other, first)] = True
    gt[(second, other) if axis == 0 else (other, second)] = True
    pred[(slice(22, 61), slice(25, 92)) if axis == 0 else (slice(25, 92), slice(22, 61))] = True
    pred[(slice(62 + gap, 140), other) if axis == 0 else (other, slice(62 + gap, 140))] = True
    got = jaccard_and_boundary_f(pred, gt, bound_th=8)
    assert got == pytest.approx(_reference_jf(pred, gt, bound_th=8), abs=1e-12)
