"""ST-Evidence-Synth: determinism, formats, task statistics, baselines and safe concurrent creation."""

import ast
import hashlib
import json
import multiprocessing as mp

import numpy as np
import pandas as pd
import pytest

from evqa.data.masks import MaskStore, read_mask_png
from evqa.data.synth import SynthPaths, ensure_synth, generate
from evqa.data.synth.baselines import TRIVIAL_BASELINES, slug
from evqa.data.synth.scenes import DISTRACTOR_COLOUR, PALETTE
from evqa.data.video import read_frames, sample_frames, video_info
from evqa.errors import ConfigError, DataError

SMALL = {"num_train": 5, "num_test": 8, "size": (64, 80), "score": False, "progress": False}


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth") / "a"
    summary = generate(root, seed=3, **SMALL)
    return SynthPaths(root), summary


def _digests(root):
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.suffix in (".csv", ".json", ".png")
    }


def test_same_seed_gives_identical_bytes(synth, tmp_path):
    paths, _ = synth
    generate(tmp_path / "b", seed=3, **SMALL)
    first, second = _digests(paths.root), _digests(tmp_path / "b")
    assert len(first) > 50 and first == second
    generate(tmp_path / "c", seed=4, **SMALL)
    assert (
        _digests(tmp_path / "c")[str(paths.gen_csv.relative_to(paths.root))]
        != first["benchmark/st_evidence_gen.csv"]
    )


def test_every_file_is_written(synth):
    paths, summary = synth
    for path in (
        paths.gen_csv,
        paths.mcq_csv,
        paths.temp_options,
        paths.mask_options,
        paths.instruct_qa_csv,
        paths.instruct_mask_csv,
        paths.meta,
    ):
        assert path.is_file(), path
    assert summary.counts == {
        "benchmark entries": 8,
        "MCQ entries": 8,
        "instruct entries": 5,
        "GT mask frames": summary.counts["GT mask frames"],
    }
    gen = pd.read_csv(paths.gen_csv)
    assert list(gen.columns)[:7] == [
        "entry_id",
        "video_id",
        "video_path",
        "question",
        "answer",
        "candidates",
        "segment",
    ]
    assert len(list(paths.video_dir.glob("*.mp4"))) == 8
    assert len(list(paths.gt_mask_rle_dir.glob("*.json"))) == 8
    assert len(list(paths.instruct_mask_dir.glob("*.json"))) == 5
    assert "temporal_evidence" in pd.read_csv(paths.instruct_qa_csv).columns
    assert len(list(paths.mcq_option_dir.glob("*/*.png"))) == 8 * 4


def test_gt_matches_the_video(synth):
    """Segments = the frames with a mask; masks sit on the evidence object's pixels in the decoded video."""
    paths, _ = synth
    store = MaskStore(paths.gt_mask_rle_dir)
    for row in pd.read_csv(paths.gen_csv).itertuples():
        info = video_info(paths.video_dir / row.video_path)
        assert (info.fps, info.height, info.width) == (6.0, 64, 80)
        frames = store.frames(row.entry_id)
        ((start, end),) = ast.literal_eval(row.segment)
        assert frames == list(range(round(start * 6), round(end * 6)))
        assert 0.3 <= len(frames) / info.num_frames <= 0.6  # whole-video IoU is far from 1
        assert start * 2 == int(start * 2) and end * 2 == int(end * 2)  # half-second grid
        mask = store.load(row.entry_id, frames[0])
        png = read_mask_png(paths.gt_mask_png_dir / row.entry_id / f"{frames[0]:05d}.png")
        np.testing.assert_array_equal(mask, png)
        assert 0.03 < mask.mean() < 0.2
        rgb = read_frames(paths.video_dir / row.video_path, [frames[0]])[0].astype(int)
        inside = rgb[mask].mean(axis=0)
        assert inside.max() > 150 and rgb[~mask].mean() < 40  # bright object on the dark background


def test_answer_colour_is_the_evidence_and_the_distractor_is_grey(synth):
    """The evidence pixels show the answer colour; whatever is visible outside the evidence is grey."""
    paths, _ = synth
    store, distractors = MaskStore(paths.gt_mask_rle_dir), 0
    for row in pd.read_csv(paths.gen_csv).itertuples():
        video = paths.video_dir / row.video_path
        frames = read_frames(video, np.arange(video_info(video).num_frames)).astype(int)
        evidence = store.frames(row.entry_id)
        seen = frames[evidence[len(evidence) // 2]][store.load(row.entry_id, evidence[len(evidence) // 2])]
        nearest = min(PALETTE, key=lambda name: np.abs(seen.mean(axis=0) - PALETTE[name]).sum())
        assert nearest == row.answer.lower()
        others = [frames[i] for i in range(len(frames)) if i not in evidence and frames[i].max() > 100]
        for frame in others:
            bright = frame[frame.max(axis=-1) > 100]
            assert np.abs(bright.mean(axis=0) - PALETTE[DISTRACTOR_COLOUR]).max() < 25
        distractors += bool(others)
    assert distractors >= 2  # most clips have one


def test_question_and_candidates(synth):
    paths, _ = synth
    gen = pd.read_csv(paths.gen_csv)
    for row in gen.itertuples():
        candidates = ast.literal_eval(row.candidates)
        assert candidates == ["Red", "Green", "Blue", "Yellow", "Magenta"] and row.answer in candidates
        assert row.category == "colour" and row.question.startswith("What colour is the ")
    mcq = pd.read_csv(paths.mcq_csv)
    assert list(mcq.columns)[:6] == ["entry_id", "video", "video_path", "question", "options", "answer"]
    for row in mcq.itertuples():
        options = ast.literal_eval(row.options)
        assert len(options) == 5 and row.answer in options


def test_mcq_option_files(synth):
    paths, _ = synth
    gen = pd.read_csv(paths.gen_csv).set_index("entry_id")
    temp = json.loads(paths.temp_options.read_text())
    masks = json.loads(paths.mask_options.read_text())
    assert set(temp) == set(masks) == set(gen.index)
    for entry_id, record in temp.items():
        options = record["time_evidence_options"]
        assert len(options) == 4 and len({json.dumps(o) for o in options}) == 4
        assert options["ABCD".index(record["correct_answer"])] == ast.literal_eval(
            gen.loc[entry_id, "segment"]
        )
        opt = masks[entry_id]
        assert len(opt["mcq_options"]) == 4 and opt["mcq_options"][opt["answer"]] == opt["gt"]
        for rel in opt["mcq_options"]:
            assert (paths.mcq_dir / rel).is_file()


def test_baselines_written_in_prediction_format(synth):
    paths, _ = synth
    gen = pd.read_csv(paths.gen_csv).set_index("entry_id")
    for name, (answer, segments, masks) in TRIVIAL_BASELINES.items():
        pred_file, mask_dir = paths.baseline(slug(name))
        preds = json.loads(pred_file.read_text())
        assert set(preds) == set(gen.index)
        for entry_id, rec in preds.items():
            parsed = rec["parsed_response"]
            letter_index = "ABCDEF".index(parsed["answer"])
            if answer == "gt":
                assert (
                    ast.literal_eval(gen.loc[entry_id, "candidates"])[letter_index]
                    == gen.loc[entry_id, "answer"]
                )
            if segments == "whole":
                assert parsed["segments"][0][0] == 0.0 and parsed["segments"][0][1] > 3.9
            stored = MaskStore(mask_dir)
            frame = stored.frames(entry_id)[0]
            fill = stored.load(entry_id, frame).mean()
            assert fill == {"full": 1.0, "empty": 0.0}.get(masks, fill)
    oracle_masks = MaskStore(paths.baseline(slug("oracle (GT)"))[1])
    gt = MaskStore(paths.gt_mask_rle_dir)
    entry = gen.index[0]
    assert oracle_masks.frames(entry) == gt.frames(entry)


def test_training_frames_folder_matches_video(synth):
    paths, _ = synth
    row = pd.read_csv(paths.instruct_mask_csv).iloc[0]
    folder = sample_frames(paths.frame_folder(row.video_id), fps=2.0)
    video = sample_frames(paths.instruct_video_dir / row.video_path, fps=2.0)
    assert folder.indices.tolist() == video.indices.tolist()
    assert np.abs(folder.frames.astype(int) - video.frames).mean() < 3


def test_scored_summary_is_perfect_for_the_oracle_only(tmp_path):
    pytest.importorskip("evqa.eval.st_evidence")
    summary = generate(tmp_path / "s", seed=0, num_train=0, num_test=10, size=(64, 64), progress=False)
    oracle = summary.scores["oracle (GT)"]
    text = summary.format()
    assert "oracle (GT)" in text and "random + whole video + empty mask" in text
    assert oracle["qa_metrics"]["accuracy"] == pytest.approx(100.0)
    for name, results in summary.scores.items():
        if name == "oracle (GT)":
            continue
        assert results["qa_metrics"]["accuracy"] < 80
        assert results["temporal_metrics"]["mIoU"] < 70


def test_bad_arguments_and_foreign_folders(tmp_path):
    with pytest.raises(ConfigError, match="even"):
        generate(tmp_path / "x", size=(63, 64), **{k: v for k, v in SMALL.items() if k != "size"})
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match="not empty"):
        generate(tmp_path / "mine", **SMALL)


def _ensure(root, queue):
    queue.put(str(ensure_synth(root, seed=0, num_train=20, num_test=10, size=(64, 64)).gen_csv))


def test_ensure_synth_from_two_processes(tmp_path):
    root = tmp_path / "shared"
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_ensure, args=(root, queue)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=240)
    assert [p.exitcode for p in procs] == [0, 0]
    assert queue.get() == queue.get() == str(SynthPaths(root).gen_csv)
    assert SynthPaths(root).is_complete()
    assert len(pd.read_csv(SynthPaths(root).gen_csv)) == 10
    assert [p.name for p in tmp_path.iterdir()] == ["shared"]  # no temporary folder left behind
    with pytest.raises(DataError, match="seed 0"):
        ensure_synth(root, seed=1)
    meta = json.loads(SynthPaths(root).meta.read_text())
    SynthPaths(root).meta.write_text(json.dumps({**meta, "version": 0}))
    with pytest.raises(DataError, match="generator version 0.*evqa synth --out"):
        ensure_synth(root, seed=0)


def test_default_root_honours_the_environment(monkeypatch, tmp_path):
    from evqa.data.synth import SynthPaths, default_root

    monkeypatch.setenv("EVQA_SYNTH_ROOT", str(tmp_path / "elsewhere"))
    assert default_root() == tmp_path / "elsewhere" and SynthPaths().root == tmp_path / "elsewhere"
    monkeypatch.delenv("EVQA_SYNTH_ROOT")
    # inside a source checkout the default does not depend on the current directory
    monkeypatch.chdir(tmp_path)
    assert default_root().is_absolute() and default_root().parts[-2:] == ("data", "synth")
