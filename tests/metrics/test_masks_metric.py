"""J and DAVIS boundary F: golden cases from the DAVIS 2017 toolkit, a full-frame reference, and hand-computed\ndisk-edge cases for the boundary matching."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from evqa.metrics.masks import (
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
