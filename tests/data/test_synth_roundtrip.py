"""What the generator writes reads back through every loader, and `evqa eval` scores the GT as perfect."""

import ast
import json

import pandas as pd
import pytest

from evqa.cli.main import run_command
from evqa.data.instruct import load_instruct_qa, load_mask_annotation
from evqa.data.masks import MaskStore
from evqa.data.st_evidence import load_gen_benchmark, load_mcq_benchmark
from evqa.data.synth import SynthPaths
from evqa.data.synth.baselines import items_from_benchmark, slug, write_trivial_baselines


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    root = tmp_path_factory.mktemp("rt") / "synth"
    code = run_command(
        "synth",
        [
            "--out",
            str(root),
            "--seed",
            "7",
            "--num-train",
            "4",
            "--num-test",
            "6",
            "--size",
            "64x64",
            "--no-score",
        ],
    )
    assert code == 0
    return SynthPaths(root)


def test_gen_benchmark_round_trip(paths):
    rows = pd.read_csv(paths.gen_csv)
    entries = load_gen_benchmark(paths.gen_csv)
    assert [e.entry_id for e in entries] == rows.entry_id.tolist()
    for entry, row in zip(entries, rows.itertuples(), strict=True):
        assert entry.candidates == ast.literal_eval(row.candidates)
        assert entry.candidates[entry.answer_index] == row.answer
        assert [list(s) for s in entry.segments] == ast.literal_eval(row.segment)
        assert entry.category == row.category and entry.source == "synth"


def test_instruct_round_trip(paths):
    qa = load_instruct_qa(paths.instruct_qa_csv)
    assert len(qa) == 4 and all(len(e.segments) == 1 for e in qa)
    for entry in qa:
        ann = load_mask_annotation(paths.instruct_mask_dir / f"{entry.entry_id}.json")
        masks = ann.objects[0].masks
        start, end = entry.segments[0]
        assert sorted(masks) == list(range(round(start * 6), round(end * 6)))
        assert ann.video_path == entry.video_path and (ann.width, ann.height) == (64, 64)


def test_mcq_round_trip(paths):
    entries = load_mcq_benchmark(paths.mcq_csv, paths.temp_options, paths.mask_options)
    temp = json.loads(paths.temp_options.read_text())
    masks = json.loads(paths.mask_options.read_text())
    assert len(entries) == 6
    for entry in entries:
        assert len(entry.options) == 5 and entry.answer in "ABCDE"
        assert entry.time_answer == temp[entry.entry_id]["correct_answer"]
        assert entry.mask_answer == "ABCD"[masks[entry.entry_id]["answer"]]
        assert len(entry.time_options) == 4 and len(entry.mask_options) == 4


def test_png_and_rle_layouts_agree(paths):
    png, rle = MaskStore(paths.gt_mask_png_dir), MaskStore(paths.gt_mask_rle_dir)
    for entry in load_gen_benchmark(paths.gen_csv):
        assert png.frames(entry.entry_id) == rle.frames(entry.entry_id)
        for frame in rle.frames(entry.entry_id):
            assert (png.load(entry.entry_id, frame) == rle.load(entry.entry_id, frame)).all()


@pytest.mark.parametrize("gt_layout", ["gt_mask_rle_dir", "gt_mask_png_dir"])
def test_evqa_eval_scores_the_ground_truth_as_perfect(paths, tmp_path, gt_layout):
    pred, masks = paths.baseline(slug("oracle (GT)"))
    out = tmp_path / "results.json"
    code = run_command(
        "eval",
        [
            "--gt_file",
            str(paths.gen_csv),
            "--pred_file",
            str(pred),
            "--eval_masks",
            "--gt_mask_dir",
            str(getattr(paths, gt_layout)),
            "--pred_mask_dir",
            str(masks),
            "--output_file",
            str(out),
            "--no_progress",
        ],
    )
    assert code == 0
    results = json.loads(out.read_text())
    assert results["qa_metrics"]["accuracy"] == pytest.approx(100.0)
    assert results["temporal_metrics"]["mIoU"] == pytest.approx(100.0)
    assert results["mask_metrics"]["J&F"] == pytest.approx(100.0)


def test_trivial_baselines_score_clearly_below_perfect(paths, tmp_path):
    for name in ("random + whole video + full frame", "random + whole video + empty mask"):
        pred, masks = paths.baseline(slug(name))
        out = tmp_path / f"{slug(name)}.json"
        run_command(
            "eval",
            [
                "--gt_file",
                str(paths.gen_csv),
                "--pred_file",
                str(pred),
                "--eval_masks",
                "--gt_mask_dir",
                str(paths.gt_mask_rle_dir),
                "--pred_mask_dir",
                str(masks),
                "--output_file",
                str(out),
                "--no_progress",
            ],
        )
        results = json.loads(out.read_text())
        assert results["temporal_metrics"]["mIoU"] < 70
        assert results["mask_metrics"]["J&F"] < 20


def test_baselines_rebuilt_from_disk_are_identical(paths, tmp_path):
    items = items_from_benchmark(paths.gen_csv, paths.video_dir, paths.gt_mask_png_dir)
    assert [i.entry_id for i in items] == [e.entry_id for e in load_gen_benchmark(paths.gen_csv)]
    written = write_trivial_baselines(tmp_path, items, gt_mask_dir=paths.gt_mask_png_dir, seed=7)
    for name, (pred, mask_dir) in written.items():
        original_pred, original_masks = paths.baseline(slug(name))
        assert pred.read_bytes() == original_pred.read_bytes()
        for path in sorted(original_masks.glob("*.json")):
            assert (mask_dir / path.name).read_bytes() == path.read_bytes()
