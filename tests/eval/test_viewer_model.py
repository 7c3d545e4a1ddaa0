"""The viewer's view model without a browser: failure types, numbers from the scorer, segment positions, frames."""

import json

import numpy as np
import pytest
from PIL import Image
from test_viewer_data import (
    DIFFER,
    EXPECTED_A,
    EXPECTED_B,
    GT_CSV,
    GT_MASKS,
    PRED_A,
    write_run_b,
)

from evqa.errors import ConfigError
from evqa.eval.results_extras import add_gen_extras
from evqa.eval.st_evidence import evaluate_gen
from evqa.eval.viewer import FAILURE_TYPES, classify_failure
from evqa.eval.viewer.frames import choose_frames, spread
from evqa.eval.viewer.images import outline_rgba, resize_mask, thumbnail_size
from evqa.eval.viewer.model import EntryView, RunEntryView, timeline_bars
from evqa.eval.viewer.st_evidence_gen import EvidenceThresholds, GenRun, build_report


@pytest.fixture(scope="module")
def ab(tmp_path_factory):
    """(report, report folder, run B's prediction file) for the sample's run A vs run B."""
    root = tmp_path_factory.mktemp("viewer_ab")
    pred_b = write_run_b(root / "preds")
    out = root / "report"
    report = build_report(out, GT_CSV, [GenRun(str(PRED_A)), GenRun(str(pred_b))], gt_mask_dir=GT_MASKS,
                          progress=False)  # fmt: skip
    return report, out, pred_b


def _entry(report, entry_id) -> EntryView:
    return next(e for e in report.entries if e.entry_id == entry_id)


def _scorer(pred):
    return evaluate_gen(GT_CSV, pred, eval_masks=True, gt_mask_dir=GT_MASKS, progress=False)


def test_failure_types_of_every_entry(ab):
    report, _, _ = ab
    assert {e.entry_id: e.runs[0].failure for e in report.entries} == EXPECTED_A
    assert {e.entry_id: e.runs[1].failure for e in report.entries} == EXPECTED_B
    assert [e.entry_id for e in report.entries if e.differs()] == DIFFER
    counts = report.failure_counts()
    assert counts[0] == {"correct": 4, "wrong_answer": 1, "right_answer_bad_evidence": 0, "unparsable": 0,
                         "failed_call": 2}  # fmt: skip
    assert counts[1] == dict.fromkeys(FAILURE_TYPES, 1) | {"correct": 2, "failed_call": 2}


def test_failure_details_say_why(ab):
    report, _, _ = ab
    s1, s3, s5, s6 = (_entry(report, i) for i in ("s1", "s3", "s5", "s6"))
    # s1 in B: IoP 0 and J 1/3 (frame 0 of the GT frames 0, 6, 12 predicted)
    assert s1.runs[1].detail == "temporal IoP 0.00 < 0.5; mask J 0.33 < 0.5"
    assert s3.runs[0].detail == "call failed: API timeout after 3 retries" and s3.runs[0].raw_reply is None
    assert s6.runs[0].detail == "no prediction for this entry in the file"
    assert s5.runs[0].detail == ("answered D, the GT is A; format: malformed_segments; "
                                 "mask error: frame 18: predicted mask (48, 64) vs GT (96, 128)")  # fmt: skip
    assert _entry(report, "s2").runs[1].detail == "no answer could be read from the reply"
    assert _entry(report, "s2").runs[1].raw_reply == "I cannot tell <b>which</b>"


@pytest.mark.parametrize("run", [0, 1])
def test_numbers_are_the_scorers(ab, run):
    report, out, pred_b = ab
    expected = _scorer([PRED_A, pred_b][run])
    add_gen_extras(
        expected, GT_CSV, [PRED_A, pred_b][run]
    )  # the viewer adds evidence-backed accuracy and CIs
    written = json.loads((out / report.runs[run].results_file).read_text())
    for results in (written, expected):
        results.pop("metadata")
    assert written == json.loads(json.dumps(expected))
    assert written["evidence_backed"]["accuracy"] == report.tables[0].rows[run]["values"]["EB-Acc"]
    main = report.tables[0]
    assert main.title == "Metrics" and main.rows[run]["run"] == run
    values = main.rows[run]["values"]
    assert values["Acc"] == expected["qa_metrics"]["accuracy"]
    assert values["mIoU"] == expected["temporal_metrics"]["mIoU"]
    assert values["t-mean"] == expected["temporal_metrics"]["t_mean"]
    assert values["J&F"] == expected["mask_metrics"]["J&F"]
    by_category = next(t for t in report.tables if t.title == "By category")
    assert [r["label"] for r in by_category.rows[:2]] == ["action · A", "action · B"]
    action = next(r for r in by_category.rows if r["label"] == f"action · {report.runs[run].name}")
    assert action["values"]["Acc"] == expected["by_category"]["action"]["accuracy"]
    for entry in report.entries:
        sample = expected["per_sample_scores"][entry.entry_id]
        view = entry.runs[run]
        assert (view.correct, view.iou, view.iop) == (sample["qa_correct"], sample["temporal_iou"],
                                                      sample["temporal_iop"])  # fmt: skip
        assert (view.j, view.f) == (sample.get("spatial_j"), sample.get("spatial_f"))


def test_hand_computed_headline(ab):
    report, _, _ = ab
    a, b = (row["values"] for row in report.tables[0].rows)
    assert a["Acc"] == 57.1429 and b["Acc"] == 42.8571  # 4/7 (s1 s2 s4 s7) and 3/7 (s1 s4 s6)
    # run B's mIoU over the 6 entries with GT segments: s1 0, s2 1, s3 0, s4 1, s5 1, s6 1
    assert b["mIoU"] == round(100 * 4 / 6, 4)
    failures = next(t for t in report.tables if t.title == "Failure types")
    assert [row["values"]["failed_call"] for row in failures.rows] == [2, 2]


def test_segments_and_timeline_positions(ab):
    report, _, _ = ab
    s1 = _entry(report, "s1")
    assert s1.duration == 20.0 and s1.gt_segments == [(2.0, 6.0)]
    assert s1.runs[0].segments == [(2.0, 5.0)] and s1.runs[1].segments == [(10.0, 12.0)]
    t = s1.timeline()
    assert t["length"] == 20.0 and t["known"] is True
    assert t["gt"] == [{"start": 2.0, "end": 6.0, "left": 10.0, "width": 20.0}]
    assert t["runs"] == [[{"start": 2.0, "end": 5.0, "left": 10.0, "width": 15.0}],
                         [{"start": 10.0, "end": 12.0, "left": 50.0, "width": 10.0}]]  # fmt: skip
    assert t["frames"] == [0.0, 5.0, 10.0, 15.0]  # frames 0, 6, 12, 18 at 6 fps = 0, 1, 2, 3 s of 20
    # s4: a flat [1, 2, 5.5, 7] list read as two segments; 8 s long
    s4 = _entry(report, "s4").timeline()
    assert [(b["left"], b["width"]) for b in s4["runs"][0]] == [(12.5, 12.5), (68.75, 18.75)]
    # s5: a non-numeric segment is a format error and nothing is drawn; s7: empty GT
    assert _entry(report, "s5").runs[0].segments == [] and _entry(report, "s7").timeline()["gt"] == []


def test_timeline_clips_and_scales_without_duration():
    assert timeline_bars([(-2.0, 3.0), (8.0, 12.0), (5.0, 5.0), (11.0, 15.0)], 10.0) == [
        {"start": -2.0, "end": 3.0, "left": 0.0, "width": 30.0},
        {"start": 8.0, "end": 12.0, "left": 80.0, "width": 20.0},
    ]
    entry = EntryView("x", "q", "a", gt_segments=[(1.0, 2.0)])
    entry.runs.append(RunEntryView(failure="correct", correct=True, segments=[(3.0, 4.0)]))
    t = entry.timeline()
    assert (t["length"], t["known"]) == (4.0, False)  # the last end when the duration is unknown
    assert t["gt"][0]["left"] == 25.0 and t["runs"][0][0]["width"] == 25.0


def test_frames_and_overlays(ab):
    report, out, _ = ab
    s1 = _entry(report, "s1")
    # no video: frames where a mask exists; GT frames 0 6 12, run A's 0 6 12 18, run B's 0
    assert [f.index for f in s1.frames] == [0, 6, 12, 18]
    assert [f.time for f in s1.frames] == [0.0, 1.0, 2.0, 3.0]
    assert all(f.image is None for f in s1.frames) and "masks are drawn on a blank frame" in s1.notes[0]
    assert [f.gt_overlay is not None for f in s1.frames] == [True, True, True, False]
    assert [[p is not None for p in f.pred_overlays] for f in s1.frames] == [[True, True], [True, False],
                                                                             [True, False], [True, False]]  # fmt: skip
    assert (s1.height, s1.width) == (96, 128)
    gt = np.asarray(Image.open(out / s1.frames[0].gt_overlay))
    pred = np.asarray(Image.open(out / s1.frames[0].pred_overlays[1]))
    assert gt.shape == pred.shape == (96, 128, 4)
    truth = np.asarray(Image.open(GT_MASKS / "s1" / "00000.png")) > 0
    assert np.array_equal(pred[..., 3] > 0, truth)  # run B's mask at frame 0 is the GT: the fill covers it
    assert (gt[..., 3] > 0).sum() < truth.sum() and (gt[..., 3] > 0)[truth].any()  # an outline, not a fill
    assert s1.frames[0].gt_area == round(truth.mean(), 4)
    assert _entry(report, "s2").frames[1].gt_area == 0.0  # an annotated, empty GT frame
    assert _entry(report, "s7").frames == []  # no mask anywhere and no video


def test_a_run_without_predicted_masks_is_scored_without_them(tmp_path):
    pred = tmp_path / "nomasks.json"
    pred.write_text(PRED_A.read_text())
    report = build_report(tmp_path / "r", GT_CSV, [GenRun(str(pred))], gt_mask_dir=GT_MASKS, progress=False)
    assert report.runs[0].notes == [
        f"no predicted masks at {tmp_path / 'nomasks' / 'concat'}: masks not scored"
    ]
    assert "J" not in report.tables[0].columns
    assert all(e.runs[0].j is None for e in report.entries)


def test_limit_scores_only_those_entries(tmp_path):
    report = build_report(tmp_path / "r", GT_CSV, [GenRun(str(PRED_A))], gt_mask_dir=GT_MASKS, limit=3,
                          progress=False)  # fmt: skip
    assert [e.entry_id for e in report.entries] == ["s1", "s2", "s3"]
    written = json.loads((tmp_path / "r" / "results" / "run_A.json").read_text())
    assert written["qa_metrics"] == {"accuracy": 66.6667, "correct": 2, "total": 3}
    assert report.tables[0].rows[0]["values"]["Acc"] == 66.6667 and "--limit 3" in report.notes[0]


def test_thresholds_decide_bad_evidence(tmp_path):
    strict = build_report(tmp_path / "r", GT_CSV, [GenRun(str(PRED_A))], gt_mask_dir=GT_MASKS,
                          thresholds=EvidenceThresholds(iop=0.7, j=0.8), progress=False)  # fmt: skip
    # s1: IoP 1, J 0.766 < 0.8; s2: J 0.907; s4: IoP 0.6 < 0.7 (no GT masks); s7: no GT segments or masks
    got = {e.entry_id: e.runs[0].failure for e in strict.entries if e.runs[0].correct}
    assert got == {"s1": "right_answer_bad_evidence", "s2": "correct", "s4": "right_answer_bad_evidence",
                   "s7": "correct"}  # fmt: skip


def test_classify_failure():
    assert classify_failure("failed", False, False) == "failed_call"
    assert classify_failure("missing", False, False) == "failed_call"
    assert classify_failure("bad_record", False, False) == "unparsable"
    assert classify_failure("ok", False, False) == "unparsable"
    assert classify_failure("ok", True, False, evidence_ok=False) == "wrong_answer"
    assert classify_failure("ok", True, True, evidence_ok=False) == "right_answer_bad_evidence"
    assert classify_failure("ok", True, True) == "correct"
    with pytest.raises(ValueError, match="unknown failure type 'oops'"):
        RunEntryView(failure="oops", correct=False)


def test_frame_choice():
    assert (
        spread([5, 1, 3], 5) == [1, 3, 5] and spread(range(10), 4) == [0, 3, 6, 9] and spread([1, 2], 0) == []
    )
    # GT frames take up to half of the places, the sampled frames the rest
    assert choose_frames(range(0, 60, 6), [1, 2, 3, 4, 5], 6) == [0, 1, 3, 5, 30, 54]
    assert choose_frames([10, 20], range(0, 100, 10), 6) == [0, 10, 20, 40, 70, 90]
    assert choose_frames([4, 8], [], 8) == [4, 8] and choose_frames([], [3, 1], 8) == [1, 3]
    assert choose_frames(range(20), [100, 200], 5) == [0, 10, 19, 100, 200]


def test_image_helpers():
    assert thumbnail_size(720, 1280, 320) == (180, 320) and thumbnail_size(112, 112, 320) == (112, 112)
    mask = np.zeros((8, 8), bool)
    mask[2:6, 2:6] = True
    assert resize_mask(mask, (4, 4)).sum() == 4 and resize_mask(mask, (16, 16)).sum() == 64
    band = outline_rgba(mask, (0, 255, 0))[..., 3] > 0
    assert band[2, 2] and band[1, 2] and not band[4, 4]  # both sides of the boundary, not the inside
    edge = np.ones((4, 4), bool)
    assert (outline_rgba(edge, (0, 255, 0))[..., 3] > 0).sum() == 12  # the frame border is a boundary too


def test_bad_inputs_are_named(tmp_path):
    with pytest.raises(ConfigError, match="folder not found: .*nowhere") as err:
        build_report(tmp_path / "r", GT_CSV, [GenRun(str(PRED_A))], video_dir=tmp_path / "nowhere")
    assert err.value.field == "--video_dir"
    with pytest.raises(ConfigError, match="at least one prediction file"):
        build_report(tmp_path / "r", GT_CSV, [])
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("x")
    with pytest.raises(ConfigError, match="not empty and holds no EVQA report"):
        build_report(foreign, GT_CSV, [GenRun(str(PRED_A))], progress=False)
    assert (foreign / "thesis.tex").read_text() == "x"


def test_run_headers(ab):
    report, _, _ = ab
    assert (
        report.runs[0].header.model is None and report.runs[0].header.sampling is None
    )  # the sample has no meta
    assert (report.runs[1].header.model, report.runs[1].header.sampling) == ("model-b", "1 fps, 3 frames")
    assert report.title == "ST-Evidence gen: predictions vs run_b"


def test_video_frames_are_the_sampled_ones_and_the_gt_ones(tmp_path):
    """With a video, the frames shown are GT-mask frames and the frames the model saw (its meta.frames)."""
    from evqa.data.masks import MaskStore
    from evqa.data.synth import generate
    from evqa.data.synth.paths import SynthPaths

    generate(tmp_path / "synth", num_train=0, num_test=2, score=False, progress=False)
    paths = SynthPaths(tmp_path / "synth")
    pred, masks = paths.baseline("oracle_gt")
    records = json.loads(pred.read_text())
    for record in records.values():
        record["meta"] = {
            "model": "m",
            "fps": 1.0,
            "frames": [0, 12, 24],
        }  # the 6-fps video's frames 0, 12, 24
    seen = tmp_path / "seen.json"
    seen.write_text(json.dumps(records))
    report = build_report(tmp_path / "r", paths.gen_csv, [GenRun(str(seen), str(masks))], video_dir=paths.video_dir,
                          gt_mask_dir=paths.gt_mask_rle_dir, max_frames=4, progress=False)  # fmt: skip
    gt = MaskStore(paths.gt_mask_rle_dir)
    for entry in report.entries:
        shown = [f.index for f in entry.frames]
        assert shown == choose_frames(gt.frames(entry.entry_id), [0, 12, 24], 4)
        assert len(shown) == 4 and {0, 12, 24} & set(shown)
        assert all(f.image and f.time == round(f.index / 6, 4) for f in entry.frames)
        with Image.open(tmp_path / "r" / entry.frames[0].image) as img:
            assert img.format == "JPEG" and img.size == (112, 112)
        assert [f.gt_overlay is not None for f in entry.frames] == [
            f.index in gt.frames(entry.entry_id) for f in entry.frames
        ]
        assert entry.runs[0].failure == "correct" and entry.runs[0].j == 1.0


def test_an_unreadable_mask_is_noted_not_fatal(tmp_path):
    import shutil

    masks = tmp_path / "gt_masks"
    shutil.copytree(GT_MASKS, masks)
    (masks / "s1" / "00006.png").write_bytes(b"not a png")
    report = build_report(tmp_path / "r", GT_CSV, [GenRun(str(PRED_A))], gt_mask_dir=masks, progress=False)
    s1 = _entry(report, "s1")
    assert any(n.startswith("mask not shown: ") and "00006.png" in n for n in s1.notes)
    assert [f.gt_overlay is not None for f in s1.frames] == [True, False, True, False]  # frames 0 6 12 18
    assert "mask error: " in s1.runs[0].detail  # the scorer lists it and scores the entry 0


def test_predicted_masks_are_shown_without_gt_masks(tmp_path):
    report = build_report(tmp_path / "r", GT_CSV, [GenRun(str(PRED_A))], progress=False)
    s1 = _entry(report, "s1")
    assert [f.index for f in s1.frames] == [0, 6, 12, 18] and all(f.pred_overlays[0] for f in s1.frames)
    assert all(f.gt_overlay is None for f in s1.frames) and s1.runs[0].j is None
    assert "J" not in report.tables[0].columns and report.runs[0].notes == []
