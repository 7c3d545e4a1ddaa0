"""POVQA pooling (WA, WAE, WAR, BBLF) against pixels computed by hand."""

import numpy as np
import pytest

from evqa.data.pooling import POOLING_METHODS, pool_chunk, pool_frames, pooling_weights


def _constant_frames(values, h=2, w=3):
    return np.stack([np.full((h, w, 3), v, dtype=np.uint8) for v in values])


# Three frames of one second with constant values 10, 20, 40:
#   WA:   w = [0.1, 0.55, 1.0], sum 1.65:        (1 + 11 + 40) / 1.65           = 31.515... -> 32
#   WAE:  w = [0.85^2, 0.85, 1] = [.7225, .85, 1]: (7.225 + 17 + 40) / 2.5725   = 24.966... -> 25
#   WAR:  w = [1, 4, 9], sum 14:                 (10 + 80 + 360) / 14           = 32.142... -> 32
#   BBLF: 0.7 * 24.966... + 0.3 * 40                                            = 29.476... -> 29
HAND = {"wa": 52 / 1.65, "wae": 64.225 / 2.5725, "war": 450 / 14, "bblf": 0.7 * 64.225 / 2.5725 + 12}
ROUNDED = {"wa": 32, "wae": 25, "war": 32, "bblf": 29}


@pytest.mark.parametrize("method", POOLING_METHODS)
def test_three_constant_frames_by_hand(method):
    frames = _constant_frames([10, 20, 40])
    np.testing.assert_allclose(pool_chunk(frames, method), HAND[method])
    pooled, times = pool_frames(frames, [0.0, 1 / 3, 2 / 3], method)
    assert pooled.dtype == np.uint8 and pooled.shape == (1, 2, 3, 3)
    assert np.all(pooled == ROUNDED[method])
    assert times.tolist() == [0.0]


def test_weights_by_hand():
    np.testing.assert_allclose(pooling_weights(3, "wa"), np.array([0.1, 0.55, 1.0]) / 1.65)
    np.testing.assert_allclose(pooling_weights(3, "wae"), np.array([0.7225, 0.85, 1.0]) / 2.5725)
    np.testing.assert_allclose(pooling_weights(4, "war"), np.array([1, 4, 9, 16]) / 30)
    bblf = pooling_weights(2, "bblf")  # WAE of 2 = [.85, 1] / 1.85
    np.testing.assert_allclose(bblf, [0.7 * 0.85 / 1.85, 0.7 / 1.85 + 0.3])
    for method in POOLING_METHODS:
        assert pooling_weights(1, method).tolist() == [1.0]
        assert pooling_weights(7, method).sum() == pytest.approx(1.0)


def test_per_pixel_and_per_channel():
    # two frames; pixel values differ per position and channel: out = w1 * f1 + w2 * f2
    f1 = np.arange(12, dtype=np.uint8).reshape(1, 2, 2, 3) * 10
    f2 = np.full((1, 2, 2, 3), 200, dtype=np.uint8)
    frames = np.concatenate([f1, f2])
    w1, w2 = 1 / 5, 4 / 5  # WAR, p = 2: [1, 4] / 5
    expected = np.rint(w1 * f1[0].astype(float) + w2 * 200).astype(np.uint8)
    pooled, _ = pool_frames(frames, [3.0, 3.5], "war")
    np.testing.assert_array_equal(pooled[0], expected)
    assert pooled[0, 0, 0].tolist() == [160, 162, 164]  # 0.2 * [0, 10, 20] + 160


def test_one_image_per_second_and_times():
    frames = _constant_frames([0, 100, 50, 250, 7])
    # seconds: 0, 0, 1, 1, 4 (a gap: seconds 2 and 3 have no frame)
    pooled, times = pool_frames(frames, [0.0, 0.5, 1.0, 1.9, 4.2], "war")
    assert times.tolist() == [0.0, 1.0, 4.0]
    # second 0: WAR [1, 4] / 5 -> 80; second 1: (50 + 4 * 250) / 5 = 210; second 4: the single frame
    assert pooled[:, 0, 0, 0].tolist() == [80, 210, 7]


def test_timestamps_from_frame_indices_at_6fps():
    # frame i at i / 6 s: 13 frames -> seconds 0 (frames 0..5), 1 (6..11), 2 (12)
    frames = _constant_frames(list(range(0, 130, 10)))
    pooled, times = pool_frames(frames, np.arange(13) / 6.0, "wa")
    assert times.tolist() == [0.0, 1.0, 2.0]
    w = np.linspace(0.1, 1.0, 6)
    assert pooled[0, 0, 0, 0] == np.rint(w @ np.arange(0, 60, 10) / w.sum())
    assert pooled[1, 0, 0, 0] == np.rint(w @ np.arange(60, 120, 10) / w.sum())
    assert pooled[2, 0, 0, 0] == 120
    # i / fps just below an integer second still belongs to that second
    _, times = pool_frames(_constant_frames([1, 2]), [0.5, 3 - 1e-12], "wa")
    assert times.tolist() == [0.0, 3.0]


def test_rounding_is_half_to_even_not_truncation():
    # WA of [0, 1]: w = [0.1, 1] / 1.1 -> 1 / 1.1 = 0.909 -> 1 (POVQA's astype would give 0)
    pooled, _ = pool_frames(_constant_frames([0, 1]), [0.0, 0.5], "wa")
    assert pooled[0, 0, 0, 0] == 1
    # a convex blend never leaves [0, 255]
    pooled, _ = pool_frames(_constant_frames([255, 255, 255]), [0, 0.3, 0.6], "bblf")
    assert np.all(pooled == 255)


def test_errors():
    frames = _constant_frames([1, 2])
    with pytest.raises(ValueError, match="unknown pooling method 'mean'"):
        pool_frames(frames, [0, 0.5], "mean")
    with pytest.raises(ValueError, match="non-decreasing"):
        pool_frames(frames, [0.5, 0.1], "wa")
    with pytest.raises(ValueError, match="2 frames but timestamps"):
        pool_frames(frames, [0.5], "wa")
    with pytest.raises(ValueError, match="uint8"):
        pool_frames(frames.astype(np.float32), [0, 0.5], "wa")
    with pytest.raises(ValueError, match="non-negative"):
        pool_frames(frames, [-1.0, 0.5], "wa")
    pooled, times = pool_frames(frames[:0], [], "wae")
    assert pooled.shape == (0, 2, 3, 3) and times.shape == (0,)


def _png_folder(tmp_path, values, h=4, w=6):
    from PIL import Image

    folder = tmp_path / "clip"
    folder.mkdir()
    for i, v in enumerate(values):
        Image.fromarray(np.full((h, w, 3), v, dtype=np.uint8)).save(folder / f"frame_{i:04d}.png")
    return folder


# A 6-fps frame folder of 10 lossless frames with values 0, 10, ..., 90: second 0 holds frames 0-5,
# second 1 frames 6-9.
#   WAR s0: w = [1, 4, 9, 16, 25, 36] (sum 91): (40 + 180 + 480 + 1000 + 1800) / 91 = 38.46 -> 38
#   WAR s1: w = [1, 4, 9, 16] (sum 30): (60 + 280 + 720 + 1440) / 30               = 83.33 -> 83
#   WA  s1: w = [0.1, 0.4, 0.7, 1.0] (sum 2.2): (6 + 28 + 56 + 90) / 2.2           = 81.82 -> 82
def test_frame_loader_pools_one_image_per_second(tmp_path):
    from evqa.baselines.frames import Sampling, load_frames

    folder = _png_folder(tmp_path, [10 * i for i in range(10)])
    got = load_frames(folder, Sampling(pooling="war"))
    assert got.frames.shape == (2, 4, 6, 3)
    assert got.frames[:, 0, 0, 0].tolist() == [38, 83]
    assert got.timestamps.tolist() == [0.0, 1.0] and got.indices.tolist() == [0, 6]
    assert load_frames(folder, Sampling(pooling="wa")).frames[1, 2, 3].tolist() == [82, 82, 82]
    plan = load_frames(folder, Sampling(pooling="war"), decode=False)
    assert plan.frames is None and plan.timestamps.tolist() == [0.0, 1.0] and plan.indices.tolist() == [0, 6]
    # --max-frames 1 keeps one second (the first), pooled from all six of its frames
    one = load_frames(folder, Sampling(pooling="war", max_frames=1))
    assert one.frames[:, 0, 0, 0].tolist() == [38] and one.timestamps.tolist() == [0.0]


def test_pooling_is_a_training_and_inference_option(tmp_path):
    import argparse

    from evqa.baselines.cli_run import sampling_from
    from evqa.errors import ConfigError
    from evqa.training.hf_vlm.arguments import HfVlmDataArguments
    from evqa.training.hf_vlm.train import sampling_of

    args = argparse.Namespace(fps=None, num_frames=None, max_frames=16, max_size=None, pooling="bblf")
    assert sampling_from(args).pooling == "bblf" and sampling_from(args).fps == 1.0
    assert sampling_of(HfVlmDataArguments(pooling="wae")).pooling == "wae"
    with pytest.raises(ConfigError, match="unknown pooling 'mean'"):
        HfVlmDataArguments(pooling="mean")


def test_pooling_grid_writes_one_summary_per_cell_and_a_table(tmp_path, monkeypatch):
    import json

    from evqa.cli.main import main
    from evqa.training.pooling_grid import main as grid_main
    from tests.baselines import fake_api

    data = tmp_path / "tvqa"
    assert main(["synth", "--benchmark", "tvqa", "--out", str(data), "--num-items", "6"]) == 0
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with fake_api.FakeOpenAI() as server:  # replies "The answer is A." to every MCQ
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        argv = ["--benchmark", "tvqa", "--data-dir", str(data), "--model", "gpt-4o", "--train", "base=",
                "--eval-pooling", "none", "wa", "--out", str(tmp_path / "grid"), "--", "--max-size", "32",
                "--no-progress"]  # fmt: skip
        assert grid_main(argv) == 0
        assert len(server.requests) == 12  # 6 items x 2 cells
    grid = json.loads((tmp_path / "grid" / "grid.json").read_text())
    from evqa.benchmarks.registry import get_benchmark

    records = get_benchmark("tvqa").load(get_benchmark("tvqa").locate(data))
    expected = 100.0 * sum(r.answer_idx == 0 for r in records) / len(records)
    for pooling in ("none", "wa"):
        summary = json.loads((tmp_path / "grid" / "base" / f"{pooling}.summary.json").read_text())
        assert (
            grid["cells"]["base"][pooling]["value"]
            == pytest.approx(expected)
            == summary["metrics"]["accuracy"]
        )
    # pooled cell: 12 frames at 6 fps -> 2 pooled images at 0 s and 1 s
    pred = json.loads((tmp_path / "grid" / "base" / "wa.json").read_text())
    assert all(r["meta"]["timestamps"] == [0.0, 1.0] for r in pred.values())
    table = (tmp_path / "grid" / "grid.md").read_text()
    header, _, row = table.splitlines()[:3]
    assert [c.strip() for c in header.strip("|").split("|")] == ["train \\ eval (Acc)", "none", "wa"]
    assert [c.strip(" *") for c in row.strip("|").split("|")] == [
        "base",
        f"{expected:.2f}",
        f"{expected:.2f}",
    ]
    assert (
        grid_main([*argv[: argv.index("--train")], "--train", "x=" + str(tmp_path / "nope"), "--out", "o"])
        == 2
    )
