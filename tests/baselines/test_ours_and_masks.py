"""`ours` (EvqaPredictor) and the masks step on a tiny random EVQA checkpoint: masks for every frame in the
scorer's default folder, the scorer reads them, separate mode is the union of single expressions."""

import json

import numpy as np
import pytest

from evqa.cli.main import run_command
from evqa.data.masks import read_rle_json
from evqa.data.st_evidence import load_gen_benchmark
from evqa.data.video import video_info
from evqa.eval.st_evidence import evaluate_gen


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from evqa.model import build_model, save_model

    model, processor = build_model("tiny")
    return str(save_model(model, processor, tmp_path_factory.mktemp("evqa_tiny")))


def infer(*argv):
    return run_command("infer", [*argv, "--no-progress"])


def test_ours_writes_answers_segments_and_masks_the_scorer_reads(checkpoint, synth_env, tmp_path):
    out = tmp_path / "ours.json"
    assert (
        infer(
            "--model",
            checkpoint,
            "--limit",
            "2",
            "--batch-size",
            "2",
            "--max-new-tokens",
            "16",
            "--output",
            str(out),
        )
        == 0
    )
    preds = json.loads(out.read_text())
    entries = {e.entry_id: e for e in load_gen_benchmark(synth_env.gen_csv)}
    for entry_id, record in preds.items():
        assert record["error"] is None and record["meta"]["adapter"] == "ours"
        mask_path = record["parsed_response"]["mask_path"]
        assert mask_path == str(tmp_path / "ours" / "concat" / f"{entry_id}.json")
        info = video_info(synth_env.video_dir / entries[entry_id].video_path)
        stored = read_rle_json(mask_path)
        assert sorted(stored.frames) == list(range(info.num_frames))  # every frame of the video
        assert tuple(stored.size) == (info.height, info.width)
    results = evaluate_gen(
        synth_env.gen_csv, str(out), eval_masks=True, gt_mask_dir=synth_env.gt_mask_png_dir, progress=False
    )
    metrics = results["mask_metrics"]
    assert metrics["mask_errors"] == {} and metrics["num_entries"] >= 2 and metrics["total_masks"] > 0
    assert 0.0 <= metrics["J"] <= 100.0


def test_masks_step_separate_is_the_union_of_single_expressions(checkpoint, synth_env, tmp_path):
    entries = load_gen_benchmark(synth_env.gen_csv)[:1]
    step1 = tmp_path / "gpt_step1.json"
    records = {
        e.entry_id: {
            "video_id": e.video_id,
            "error": None,
            "raw_response": "...",
            "parsed_response": {
                "answer": "A",
                "segments": [[1.0, 2.0]],
                "referring_expressions": ["the cyan square", "the red circle"],
            },
        }
        for e in entries
    }
    step1.write_text(json.dumps(records))
    assert (
        infer(
            "--task",
            "masks",
            str(step1),
            "--model",
            checkpoint,
            "--mode",
            "seperate",
            "--every_n_frames",
            "6",
            "--save_masks",
            "--skip_viz",
            "--batch_size",
            "5",
        )
        == 0
    )
    folder = tmp_path / "gpt_step1" / "seperate"
    stored = read_rle_json(folder / f"{entries[0].entry_id}.json")
    info = video_info(synth_env.video_dir / entries[0].video_path)
    assert sorted(stored.frames) == list(range(0, info.num_frames, 6))
    status = json.loads((tmp_path / "gpt_step1" / "seperate_status.json").read_text())
    assert list(status) == [entries[0].entry_id] and status[entries[0].entry_id]["error"] is None

    from evqa.baselines.masks_step import ReferringSegmenter

    segmenter = ReferringSegmenter(checkpoint)
    video = str(synth_env.video_dir / entries[0].video_path)
    single = [
        segmenter.segment(video, [e], mode="separate", start_s=1.0)[0]
        for e in ("the cyan square", "the red circle")
    ]
    assert single[0].shape == (info.num_frames, info.height, info.width)
    union = single[0] | single[1]
    for frame in stored.frames:  # what the step wrote = the union of the single-expression masks
        np.testing.assert_array_equal(stored.decode(frame), union[frame])

    results = evaluate_gen(
        synth_env.gen_csv,
        str(step1),
        eval_masks=True,
        gt_mask_dir=synth_env.gt_mask_png_dir,
        mask_mode="seperate",
        progress=False,
    )
    assert results["mask_metrics"]["mask_errors"] == {}
    assert 0.0 <= results["mask_metrics"]["J"] <= 100.0


def test_masks_step_needs_the_step1_file(capsys):
    assert infer("--task", "masks", "--model", "x") == 2
    assert "needs the step-1 prediction file" in capsys.readouterr().err
