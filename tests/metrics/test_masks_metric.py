"""J and DAVIS boundary F: golden cases from the DAVIS 2017 toolkit, and a full-frame reference."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from evqa.metrics.masks import (
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


def _reference_jf(pred, gt):
    """Full-frame DAVIS-style computation (no cropping): the oracle for the cropped fast path."""
    inter, union = np.sum(pred & gt), np.sum(pred | gt)
    j = 1.0 if union == 0 else inter / union
    bp, bg = seg2bmap(pred), seg2bmap(gt)
    kernel = disk(boundary_radius(pred.shape))
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


@pytest.mark.parametrize("radius", [1, 2, 5, 8, 13])
def test_square_pretests_equal_disk_dilation(radius):
    from evqa.metrics.masks import _hits_by_squares

    rng = np.random.default_rng(radius)
    for _ in range(5):
        shape = tuple(int(v) for v in rng.integers(3, 90, size=2))
        query = (rng.random(shape) > 0.9).astype(np.uint8)
        source = (rng.random(shape) > 0.97).astype(np.uint8)
        want = int(np.sum(query & cv2.dilate(source, disk(radius))))
        assert _hits_by_squares(query, source, radius) == want
