"""The video-QA JSONL format, its video-grouped cached splits, mixture weights and frame sampling (no model)."""

import json

import numpy as np
import pytest
from PIL import Image

from evqa.baselines.frames import Sampling, load_frames
from evqa.errors import ConfigError, DataError
from evqa.training.hf_vlm.data import build_video_qa_dataset, load_item_frames
from evqa.training.sources import build_source
from evqa.training.splits import assign_splits, load_or_create_splits

from .hf_vlm_fixtures import toy_jsonl, write_jsonl

SAMPLING = Sampling(fps=None, num_frames=3, max_frames=None, max_size=None)


def _source(path, **kwargs):
    return build_source({"type": "video_qa", "jsonl": str(path), **kwargs})


def test_records_become_prompt_and_target():
    source = _source(toy_jsonl())
    assert len(source) == 12 and source.name == "qa" and source.data_type == "text"
    by_id = {item.sample_id: item for item in source.items}
    assert by_id["open-0"].prompt == "What colour is the clip?" and by_id["open-0"].target == "red"
    assert by_id["mcq-2"].prompt == (
        "Question: Which colour?\nOptions:\nA. red\nB. green\nC. blue\nD. yellow\n\n"
        "Answer with the option's letter only."
    )
    assert by_id["mcq-2"].target == "C"  # the option text "blue" became its letter
    assert by_id["why-1"].target == "Reasoning: Every frame is green.\nFinal Answer: green"
    assert by_id["why-1"].prompt.startswith("What colour is it?\n\nGive your reasoning, then your answer")
    assert by_id["why-1"].source == "toy-rationale" and by_id["open-1"].source == "qa"
    assert by_id["open-3"].frames.kind == "video" and by_id["open-3"].frames.paths[0].endswith("clip_3.mp4")
    assert source.groups["open-3"] == source.groups["why-3"] == "clip_3.mp4"
    without = {i.sample_id: i for i in _source(toy_jsonl(), rationale=False).items}
    assert without["why-1"].target == "green" and without["why-1"].prompt == "What colour is it?"


def test_an_mcq_answer_may_be_a_letter_and_a_rationale_keeps_it(tmp_path):
    path = write_jsonl(
        tmp_path / "m.jsonl",
        [
            {
                "video": "v.mp4",
                "question": "Who?",
                "options": ["Ann", "Bob"],
                "answer": "B",
                "rationale": "Bob waves.",
            }
        ],
    )
    (item,) = _source(path).items
    assert item.sample_id == "1"  # no id: the line number
    assert item.target == "Reasoning: Bob waves.\nFinal Answer: B"
    assert item.prompt.endswith(
        "Give your reasoning, then the option's letter, in two lines:\n"
        "Reasoning: <why, from what the frames show>\nFinal Answer: <letter>"
    )


@pytest.mark.parametrize(
    ("record", "field", "message"),
    [
        ({"video": "v.mp4", "answer": "x"}, "question", "must be a non-empty string"),
        ({"video": "v.mp4", "question": "q", "answer": " "}, "answer", "must be a non-empty string"),
        ({"question": "q", "answer": "x"}, "video", "exactly one of 'video' and 'frames'"),
        ({"video": "v", "frames": ["a.png"], "question": "q", "answer": "x"}, "video", "exactly one of"),
        ({"frames": [], "question": "q", "answer": "x"}, "frames", "non-empty list of image paths"),
        ({"frames": ["a", "b"], "timestamps": [0], "question": "q", "answer": "x"}, "timestamps", "one time"),
        (
            {"frames": ["a", "b"], "timestamps": [2, 1], "question": "q", "answer": "x"},
            "timestamps",
            "decrease",
        ),
        (
            {"video": "v", "question": "q", "options": ["a", "b"], "answer": "c"},
            "answer",
            "neither an option",
        ),
        (
            {"video": "v", "question": "q", "options": ["a", "a"], "answer": "a"},
            "answer",
            "exactly one option",
        ),
        ({"video": "v", "question": "q", "options": ["a"], "answer": "a"}, "options", "needs 2 to 6 options"),
    ],
)
def test_a_bad_record_names_file_entry_and_field(tmp_path, record, field, message):
    path = write_jsonl(
        tmp_path / "bad.jsonl",
        [{"id": "ok", "video": "v", "question": "q", "answer": "a"}, {"id": "e7", **record}],
    )
    with pytest.raises(DataError, match=message) as err:
        _source(path)
    assert err.value.path == str(path) and err.value.entry == "e7" and err.value.field == field


def test_bad_lines_and_duplicate_ids(tmp_path):
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "a", "video": "v", "question": "q", "answer": "x"}\n\n{not json\n')
    with pytest.raises(DataError, match="not valid JSON") as err:
        _source(broken)
    assert err.value.entry == "line 3"
    twice = write_jsonl(
        tmp_path / "twice.jsonl", [{"id": "a", "video": "v", "question": "q", "answer": "x"}] * 2
    )
    with pytest.raises(DataError, match="duplicate id"):
        _source(twice)
    with pytest.raises(DataError, match="file not found"):
        _source(tmp_path / "missing.jsonl")
    with pytest.raises(ConfigError, match="split must be all, train, val or test"):
        _source(twice, split="dev")


def test_split_cut_rule_by_hand():
    groups = [f"v{i}" for i in range(10)]
    split = assign_splits(groups * 3, val_fraction=0.1, test_fraction=0.2, seed=7)
    assert [len(split[s]) for s in ("train", "val", "test")] == [7, 1, 2]  # int(0.7*10), int(0.8*10) - 7
    assert sorted(split["train"] + split["val"] + split["test"]) == sorted(groups)
    assert split == assign_splits(list(reversed(groups)), val_fraction=0.1, test_fraction=0.2, seed=7)
    assert split != assign_splits(groups, val_fraction=0.1, test_fraction=0.2, seed=8)
    # POVQA: 12 movies, 0.9 / 0.1 -> int(10.8) = 10 for training, 2 held out
    povqa = assign_splits([f"m{i}" for i in range(12)], val_fraction=0.1, seed=42)
    assert (len(povqa["train"]), len(povqa["val"]), povqa["test"]) == (10, 2, [])
    with pytest.raises(ConfigError, match="sum below 1"):
        assign_splits(groups, val_fraction=0.6, test_fraction=0.4)


def _many_videos(tmp_path, count=20, per_video=3):
    records = [
        {"id": f"{v}-{q}", "video": f"videos/v{v:02d}.mp4", "question": "q", "answer": "a"}
        for v in range(count)
        for q in range(per_video)
    ]
    return write_jsonl(tmp_path / "many.jsonl", records)


def test_splits_are_grouped_by_video_seeded_and_cached(tmp_path):
    path = _many_videos(tmp_path)
    train = _source(path, split="train", val_fraction=0.2, split_seed=3)
    cache = tmp_path / "many.splits.json"
    assert cache.is_file()
    val = _source(path, split="val", val_fraction=0.2, split_seed=3)
    assert (len(train), len(val)) == (16 * 3, 4 * 3)
    train_videos, val_videos = set(train.groups.values()), set(val.groups.values())
    assert not train_videos & val_videos and len(train_videos | val_videos) == 20
    saved = json.loads(cache.read_text())
    assert saved["seed"] == 3 and sorted(saved["groups"]["val"]) == sorted(val_videos)
    # the cache, not a re-computation, decides: an edited split file is what the next run uses
    saved["groups"]["train"].append(saved["groups"]["val"].pop())
    cache.write_text(json.dumps(saved))
    assert len(_source(path, split="val", val_fraction=0.2, split_seed=3)) == 3 * 3
    with pytest.raises(ConfigError, match="split file was made with") as err:
        _source(path, split="val", val_fraction=0.2, split_seed=4)
    assert err.value.field == "split_file"
    grown = write_jsonl(
        tmp_path / "grown.jsonl", [{"id": "new", "video": "videos/v99.mp4", "question": "q", "answer": "a"}]
    )
    with pytest.raises(DataError, match=r"1 video\(s\) are not in the split file \(e.g. 'videos/v99.mp4'\)"):
        _source(grown, split="train", val_fraction=0.2, split_seed=3, split_file=str(cache))
    other = tmp_path / "elsewhere" / "s.json"
    assert len(_source(path, split="val", val_fraction=0.2, split_seed=4, split_file=str(other))) == 4 * 3
    assert other.is_file()


def test_video_id_groups_items_of_one_movie(tmp_path):
    records = [
        {
            "id": str(i),
            "frames": [f"movie{i % 3}/f{i}.png"],
            "video_id": f"movie{i % 3}",
            "question": "q",
            "answer": "a",
        }
        for i in range(9)
    ]
    path = write_jsonl(tmp_path / "m.jsonl", records)
    split = load_or_create_splits(
        tmp_path / "x.json", ["movie0", "movie1", "movie2"], val_fraction=0.34, test_fraction=0.0, seed=0
    )
    val = _source(path, split="val", val_fraction=0.34, split_seed=0, split_file=str(tmp_path / "x.json"))
    assert {g for g in val.groups.values()} == set(split["val"]) and len(val) == 3 * len(split["val"])


def test_mixture_weights_are_ratios_of_the_combined_size(tmp_path):
    small = write_jsonl(
        tmp_path / "small.jsonl",
        [{"id": str(i), "video": "v", "question": "q", "answer": "a"} for i in range(10)],
    )
    large = write_jsonl(
        tmp_path / "large.jsonl",
        [{"id": str(i), "video": "w", "question": "q", "answer": "b"} for i in range(40)],
    )
    specs = [
        {"type": "video_qa", "jsonl": str(small), "ratio": 0.7},
        {"type": "video_qa", "jsonl": str(large), "ratio": 0.3},
    ]
    dataset = build_video_qa_dataset(specs, SAMPLING, seed=0)
    assert dataset.summary() == {"small": 35, "large": 15}  # 70 % / 30 % of the 50 items
    first = [dataset.item(i).sample_id for i in range(len(dataset)) if dataset.item(i).source == "small"]
    assert sorted(set(first)) == sorted(str(i) for i in range(10))  # every small item, then a random rest


def test_mask_sources_are_refused(tmp_path):
    from pathlib import Path

    fixtures = Path(__file__).parents[1] / "fixtures" / "training"
    with pytest.raises(ConfigError, match="trains masks; model.kind hf_vlm trains text answers only"):
        build_video_qa_dataset([{"type": "mevis", "root": str(fixtures / "mevis")}], SAMPLING)


def test_video_frames_are_the_ones_evqa_infer_samples():
    dataset = build_video_qa_dataset([{"type": "video_qa", "jsonl": str(toy_jsonl())}], SAMPLING)
    example = dataset[3]
    reference = load_frames(dataset.item(3).frames.paths[0], SAMPLING)
    assert example.frames.shape == (3, 40, 56, 3) and example.frames.dtype == np.uint8
    np.testing.assert_array_equal(example.frames, reference.frames)
    np.testing.assert_allclose(example.timestamps, [0.0, 1.0, 11 / 6.0])  # frames 0, 6, 11 of 12 at 6 fps
    np.testing.assert_array_equal(reference.indices, [0, 6, 11])
    fps = build_video_qa_dataset(
        [{"type": "video_qa", "jsonl": str(toy_jsonl())}],
        Sampling(fps=2.0, num_frames=None, max_frames=3, max_size=28),
    )[0]
    assert fps.frames.shape == (3, 20, 28, 3)  # 2 fps over 2 s = 4 frames, capped at 3; 56 px -> 28 px
    np.testing.assert_allclose(fps.timestamps, [0.0, 1.0, 11 / 6.0])


def test_frame_lists_are_sampled_on_their_own_times(tmp_path):
    (tmp_path / "pooled").mkdir()
    paths = [f"pooled/frame_{i:04d}.png" for i in range(10)]
    for i, name in enumerate(paths):
        Image.fromarray(np.full((8, 12, 3), i * 20, np.uint8)).save(tmp_path / name)
    path = write_jsonl(
        tmp_path / "p.jsonl",
        [
            {
                "id": "a",
                "frames": paths,
                "question": "q",
                "answer": "x",
                "timestamps": [0.5 * i for i in range(10)],
            }
        ],
    )
    (item,) = _source(path).items
    frames, times = load_item_frames(item, Sampling(fps=None, num_frames=4, max_frames=None, max_size=None))
    np.testing.assert_allclose(times, [0.0, 1.5, 3.0, 4.5])  # frames 0, 3, 6, 9: evenly spread, ends kept
    assert frames[:, 0, 0, 0].tolist() == [0, 60, 120, 180]
    frames, times = load_item_frames(item, Sampling(fps=1.0, num_frames=None, max_frames=None, max_size=6))
    np.testing.assert_allclose(times, [0.0, 1.0, 2.0, 3.0, 4.0])  # one per second of a 2-fps list
    assert frames.shape == (5, 4, 6, 3)
