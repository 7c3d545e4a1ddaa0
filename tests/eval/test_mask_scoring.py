"""Per-entry mask scoring: frame selection per protocol, layouts, mask_folder override, process pool."""

import numpy as np
import pytest

from evqa.data.masks import write_mask_png, write_rle_json
from evqa.eval.mask_scoring import MaskTask, score_masks
from evqa.metrics.masks import jaccard_and_boundary_f


def _box(y0, x0, h=10, w=12, shape=(40, 50)):
    m = np.zeros(shape, bool)
    m[y0 : y0 + h, x0 : x0 + w] = True
    return m


@pytest.fixture
def roots(tmp_path):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    write_rle_json(gt / "a.json", "a", {0: _box(5, 5), 6: _box(8, 9)})  # GT as RLE
    write_mask_png(pred / "a" / "masks" / "00000.png", _box(6, 6))  # pred as upstream PNG
    write_mask_png(pred / "a" / "masks" / "00012.png", _box(20, 20))  # predicted-only frame
    return str(gt), str(pred)


def test_evqa_scores_gt_frames_only(roots):
    gt, pred = roots
    (res,) = score_masks([MaskTask("a", gt, pred, "evqa")], progress=False)
    j0, f0 = jaccard_and_boundary_f(_box(6, 6), _box(5, 5))
    assert res["frames"] == 2  # frame 6 has no prediction -> empty -> (0, 0); frame 12 ignored
    assert res["J"] == pytest.approx(j0 / 2) and res["F"] == pytest.approx(f0 / 2)


def test_upstream_scores_predicted_frames_only(roots):
    gt, pred = roots
    (res,) = score_masks([MaskTask("a", gt, pred, "upstream")], progress=False)
    j0, _ = jaccard_and_boundary_f(_box(6, 6), _box(5, 5))
    assert res["frames"] == 2  # frames 0 and 12; GT frame 6 never looked at; frame 12 has an empty GT
    assert res["J"] == pytest.approx(j0 / 2)
    (dropped,) = score_masks([MaskTask("zz", gt, pred, "upstream")], progress=False)
    assert dropped["status"] == "no_gt"


def test_mask_folder_override(roots, tmp_path):
    gt, _ = roots
    folder = tmp_path / "elsewhere" / "a_masks"
    write_mask_png(folder / "00000.png", _box(5, 5))
    write_mask_png(folder / "00006.png", _box(8, 9))
    (res,) = score_masks([MaskTask("a", gt, None, "evqa", pred_folder=str(folder))], progress=False)
    assert (res["J"], res["F"]) == (1.0, 1.0)


def test_pool_equals_serial(roots):
    gt, pred = roots
    tasks = [MaskTask(e, gt, pred, p) for e in ("a", "zz", "a") for p in ("evqa", "upstream")]
    assert score_masks(tasks, num_workers=2, progress=False) == score_masks(tasks, progress=False)


def test_pool_never_forks_the_parent():
    """A forked child can inherit a mutex held by one of OpenCV's threads and hang forever."""
    from evqa.eval.mask_scoring import _pool_context

    assert _pool_context().get_start_method() in ("forkserver", "spawn")


def test_pool_twice_after_opencv_ran_in_parent(roots):
    """This sequence hung at 0 % CPU with a fork-started pool (second pool, after cv2 had run threads)."""
    gt, pred = roots
    tasks = [MaskTask("a", gt, pred, "evqa")] * 4
    serial = score_masks(tasks, progress=False)  # runs cv2 in this process
    for _ in range(2):
        assert score_masks(tasks, num_workers=2, progress=False) == serial


def test_this_process_scores_alongside_the_pool(roots, monkeypatch):
    """With 2 workers this process scores chunks too, beside one pool process, in order, errors included,
    and leaves OpenCV's thread count as it found it."""
    import cv2

    import evqa.eval.mask_scoring as ms

    gt, pred = roots
    tasks = [MaskTask(e, gt, pred, p) for e in ("a", "zz", "../x", "a") * 6 for p in ("evqa", "upstream")]
    serial = score_masks(tasks, progress=False)
    here, score = [], ms.score_entry  # the pool's processes import the module afresh: unpatched there
    monkeypatch.setattr(ms, "score_entry", lambda task: here.append(task) or score(task))
    sizes, pool_class = [], ms._pool_context().Pool
    monkeypatch.setattr(ms, "_pool_context", lambda: type("Ctx", (), {
        "Pool": staticmethod(lambda n, **kw: sizes.append(n) or pool_class(n, **kw))})())  # fmt: skip
    cv2.setNumThreads(2)
    pooled = score_masks(tasks, num_workers=2, progress=False)
    assert cv2.getNumThreads() == 2
    assert pooled == serial and sizes == [1]
    assert 0 < len(here) < len(tasks)  # this process scored some entries, the pool process the others
    assert any(r["status"] == "error" for r in pooled)
