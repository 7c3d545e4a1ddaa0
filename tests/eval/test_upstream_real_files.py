"""Issue 12 §1: `--protocol upstream` on the files people produce, against hand-computed values of the
published evaluator (frame rule: both empty -> 1, one empty -> 0, else Jaccard / DAVIS F)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from evqa.data.masks import write_mask_png
from evqa.data.st_evidence import GenEntry
from evqa.errors import ConfigError
from evqa.eval.st_evidence import evaluate_gen

H, W = 20, 20


def _entry(eid: str) -> GenEntry:
    return GenEntry(entry_id=eid, video_id="v", video_path="", question="q", answer="A desk",
                    candidates=["A desk", "A book"], answer_index=0, segments=[(0.0, 2.0)])  # fmt: skip


def _record(**extra) -> dict:
    return {"parsed_response": {"answer": "A", "segments": [[0, 2]]}, **extra}


def _box(r0, r1, c0, c1) -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[r0:r1, c0:c1] = True
    return m


def _score(tmp_path, preds, protocol="upstream", entries=None, **kw):
    entries = entries or [_entry(e) for e in preds]
    return evaluate_gen(entries, preds, protocol=protocol, eval_masks=True, gt_mask_dir=tmp_path / "gt",
                        pred_mask_dir=tmp_path / "pred", progress=False, **kw)  # fmt: skip


def test_unpadded_names_pair_by_file_name_and_never_crash(tmp_path):
    gt, pred = _box(0, 10, 0, 10), _box(0, 10, 0, 9)  # J = 90/100
    write_mask_png(tmp_path / "gt" / "e" / "0.png", gt)
    write_mask_png(tmp_path / "pred" / "e" / "masks" / "0.png", pred)
    write_mask_png(tmp_path / "pred" / "e" / "masks" / "6.png", np.zeros((H, W), bool))  # GT 6.png absent
    up = _score(tmp_path, {"e": _record()})
    assert up["mask_metrics"]["J"] == round(100 * (0.9 + 1.0) / 2, 2)  # frame 6: both empty -> 1
    assert up["mask_metrics"]["total_masks"] == 2
    ev = _score(tmp_path, {"e": _record()}, protocol="evqa")
    assert ev["mask_metrics"]["J"] == pytest.approx(90.0)  # evqa: the GT frames only


def test_rgba_opaque_black_background_reads_by_luminance(tmp_path):
    gt = _box(2, 12, 2, 12)
    pred = _box(2, 12, 2, 11)  # J = 90/100
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[pred, :3] = 255
    (tmp_path / "pred" / "e" / "masks").mkdir(parents=True)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "pred" / "e" / "masks" / "00000.png")
    write_mask_png(tmp_path / "gt" / "e" / "00000.png", gt)
    for protocol in ("upstream", "evqa"):
        assert _score(tmp_path, {"e": _record()}, protocol=protocol)["mask_metrics"]["J"] == pytest.approx(
            90.0
        )


def test_upstream_discovery_mask_folder_and_stray_png(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    gt = _box(0, 10, 0, 10)
    write_mask_png(tmp_path / "gt" / "e" / "00000.png", gt)
    write_mask_png(tmp_path / "own" / "00000.png", gt)  # the record's mask_folder, relative to the cwd
    write_mask_png(tmp_path / "own" / "all_refs.png", gt)  # a stray file: a frame with an empty GT -> 0
    write_mask_png(tmp_path / "pred" / "e" / "masks" / "00000.png", np.zeros((H, W), bool))  # overridden
    up = _score(tmp_path, {"e": _record(mask_folder="own")})
    assert up["mask_metrics"]["J"] == 50.0 and up["mask_metrics"]["total_masks"] == 2


def test_lenient_layout_keeps_upstream_number_and_warns(tmp_path):
    gt = _box(0, 10, 0, 10)
    write_mask_png(tmp_path / "gt" / "e" / "00000.png", gt)
    write_mask_png(tmp_path / "pred" / "e" / "00000.png", gt)  # no masks/ folder
    up = _score(tmp_path, {"e": _record()})
    assert up["mask_metrics"]["J"] == 0.0
    assert any("<dir>/<id>/masks/" in w for w in up["warnings"])
    assert _score(tmp_path, {"e": _record()}, protocol="evqa")["mask_metrics"]["J"] == 100.0


def test_unreadable_pngs_are_skipped_and_an_all_unreadable_entry_drops_out(tmp_path):
    gt = _box(0, 10, 0, 10)
    for eid in ("good", "bad"):
        write_mask_png(tmp_path / "gt" / eid / "00000.png", gt)
    write_mask_png(tmp_path / "pred" / "good" / "masks" / "00000.png", gt)
    (tmp_path / "pred" / "good" / "masks" / "00006.png").write_bytes(b"broken")
    (tmp_path / "pred" / "bad" / "masks").mkdir(parents=True)
    (tmp_path / "pred" / "bad" / "masks" / "00000.png").write_bytes(b"broken")
    up = _score(tmp_path, {"good": _record(), "bad": _record()})
    assert (up["mask_metrics"]["J"], up["mask_metrics"]["num_entries"]) == (100.0, 1)
    assert any("unreadable" in w for w in up["warnings"])
    ev = _score(tmp_path, {"good": _record(), "bad": _record()}, protocol="evqa")
    assert set(ev["mask_metrics"]["mask_errors"]) == {"bad"}  # evqa reads the GT frames only


def test_size_mismatch_drops_mask_metrics_only_when_both_non_empty(tmp_path):
    write_mask_png(tmp_path / "gt" / "e" / "00000.png", _box(0, 10, 0, 10))
    write_mask_png(tmp_path / "pred" / "e" / "masks" / "00000.png", np.zeros((8, 8), bool))
    assert _score(tmp_path, {"e": _record()})["mask_metrics"]["J"] == 0.0  # empty pred: no abort
    small = np.zeros((8, 8), bool)
    small[1, 1] = True
    write_mask_png(tmp_path / "pred" / "e" / "masks" / "00000.png", small)
    up = _score(tmp_path, {"e": _record()})
    assert "mask_metrics" not in up and any("dropped" in w for w in up["warnings"])


def test_missing_pred_mask_dir_is_an_error(tmp_path):
    write_mask_png(tmp_path / "gt" / "e" / "00000.png", _box(0, 10, 0, 10))
    for protocol in ("upstream", "evqa"):
        with pytest.raises(ConfigError, match="predicted-mask folder not found"):
            _score(tmp_path, {"e": _record()}, protocol=protocol)


def test_readme_shaped_records(tmp_path):
    preds = {"e": {"answer": "A desk", "time_segments": [[0, 2]], "mask_dir": "x"}}
    ev = evaluate_gen([_entry("e")], preds)
    assert ev["qa_metrics"]["accuracy"] == 100.0 and ev["temporal_metrics"]["mIoU"] == 100.0
    up = evaluate_gen([_entry("e")], preds, protocol="upstream")
    assert up["qa_metrics"]["accuracy"] == 0.0 and up["format_errors"]["none_responses"] == 1
    assert any("parsed_response" in w for w in up["warnings"])


def test_ids_cannot_escape_the_mask_folders(tmp_path):
    write_mask_png(tmp_path / "outside" / "masks" / "00000.png", _box(0, 10, 0, 10))
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred").mkdir()
    for bad in ("../outside", str(tmp_path / "outside")):
        for protocol in ("upstream", "evqa"):
            result = _score(tmp_path, {bad: _record()}, protocol=protocol)
            assert result.get("mask_metrics", {}).get("total_masks", 0) == 0


@pytest.mark.parametrize(
    ("column", "cell", "upstream_miou"),
    [
        ("segment", "[[0, 2]]", 100.0),
        ("segment", "[(0, 2)]", 0.0),
        ("segment", "[0, 2]", 0.0),
        ("temporal_evidence", "[[0, 2]]", 0.0),
    ],  # fmt: skip
)
def test_gt_csv_variants(tmp_path, column, cell, upstream_miou):
    import csv

    path = tmp_path / "gt.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["entry_id", "question", "answer", "candidates", column])
        writer.writerow(["e", "q", "A desk", "['A desk', 'A book']", cell])
    preds = {"e": _record()}
    up = evaluate_gen(str(path), preds, protocol="upstream")
    assert up["temporal_metrics"]["mIoU"] == upstream_miou
    assert ("warnings" in up) == (upstream_miou == 0.0)
    assert evaluate_gen(str(path), preds)["temporal_metrics"]["mIoU"] == 100.0
