"""EvqaProcessor: token expansion, labels, time, masks, batching and save/load."""

import numpy as np
import pytest
import torch
from transformers import Qwen2_5_VLConfig, Qwen2_5_VLModel

from evqa.errors import InputError
from evqa.model.processing import IGNORE_INDEX, EvqaProcessor
from evqa.model.tokenizer import build_tiny_tokenizer
from evqa.prompts import evqa_question_prompt, format_target

TARGET = format_target("B", [[2.0, 5.5]])
PROMPT = evqa_question_prompt("Which ball moves?", ["red", "blue", "green"])


@pytest.fixture(scope="module")
def processor():
    return EvqaProcessor(build_tiny_tokenizer(), min_pixels=56 * 56, max_pixels=112 * 112, sam2_image_size=32)


def _frames(num, height=60, width=80, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (num, height, width, 3), dtype=np.uint8)


def test_video_tokens_expanded_and_typed(processor):
    ex = processor.encode_example(_frames(8), np.arange(8.0), PROMPT, TARGET)
    grid = ex["video_grid_thw"][0].tolist()
    assert grid == [4, 4, 6]  # 8 frames / 2; 60x80 -> 56x84 -> 4x6 patches
    expected = 4 * 4 * 6 // 4
    video = ex["input_ids"] == processor.token_ids["video_pad"]
    assert int(video.sum()) == expected
    assert ex["mm_token_type_ids"].tolist() == (video.long() * 2).tolist()
    assert ex["pixel_values_videos"].shape == (4 * 4 * 6, 3 * 2 * 14 * 14)
    # the video tokens form one run right after <|vision_start|>
    start = int(video.nonzero()[0])
    assert ex["input_ids"][start - 1] == processor.token_ids["vision_start"]
    assert ex["input_ids"][start + expected] == processor.token_ids["vision_end"]


def test_labels_cover_only_the_target_and_im_end(processor):
    ex = processor.encode_example(_frames(2), [0.0, 1.0], PROMPT, TARGET)
    trained = ex["labels"] != IGNORE_INDEX
    assert processor.decode(ex["input_ids"][trained]) == TARGET + "<|im_end|>"
    first = int(trained.nonzero()[0])
    assert trained[first:].all()  # one contiguous block at the end
    assert processor.decode(ex["input_ids"][:first]).endswith("<|im_start|>assistant\n")
    assert (ex["labels"][trained] == ex["input_ids"][trained]).all()
    gen = processor.encode_generation_prompt(_frames(2), [0.0, 1.0], PROMPT)
    assert "labels" not in gen and torch.equal(gen["input_ids"], ex["input_ids"][:first])


def test_prompt_order_and_time_hint(processor):
    text = processor.decode(
        processor.encode_generation_prompt(_frames(3), [4.0, 4.5, 5.0], PROMPT)["input_ids"]
    )
    assert text.index("<|vision_end|>") < text.index(
        "The video frames span 4.0 to 5.0 seconds (3 frames at 2.0 fps)."
    )
    assert text.index("seconds (3 frames") < text.index("Which ball moves?")
    assert text.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n")


def test_time_hint_can_be_disabled(processor):
    plain = EvqaProcessor(processor.tokenizer, min_pixels=56 * 56, max_pixels=112 * 112, timestamp_hint=False)
    text = plain.decode(plain.encode_generation_prompt(_frames(2), [0.0, 1.0], "Q?")["input_ids"])
    assert "<|vision_end|>Q?<|im_end|>" in text and "seconds" not in text


@pytest.mark.parametrize(
    ("timestamps", "expected"),
    [([0.0, 1.0, 2.0, 3.0], 2.0), ([0.0, 0.5, 1.0, 1.5], 1.0), ([10.0, 12.0], 4.0), ([3.0], 2.0)],
)
def test_second_per_grid_ts_is_true_seconds_per_temporal_patch(processor, timestamps, expected):
    ex = processor.encode_generation_prompt(_frames(len(timestamps)), timestamps, "q")
    assert ex["second_per_grid_ts"].tolist() == [pytest.approx(expected)]
    assert ex["frame_timestamps"].tolist() == pytest.approx(timestamps)


def test_rope_positions_follow_real_seconds(processor):
    """Qwen2.5-VL's own get_rope_index, fed our batch, spaces temporal patches by tokens_per_second x
    seconds: 2 frames per patch at 0.5 s spacing -> 1.0 s -> 4 positions per patch with tokens_per_second=4."""
    config = Qwen2_5_VLConfig(
        text_config={
            "hidden_size": 16,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "intermediate_size": 32,
            "vocab_size": len(processor.tokenizer),
            "rope_parameters": {"rope_type": "default", "mrope_section": [2, 1, 1], "rope_theta": 1e4},
        },
        vision_config={
            "depth": 1,
            "hidden_size": 16,
            "num_heads": 2,
            "out_hidden_size": 16,
            "tokens_per_second": 4,
        },
        video_token_id=processor.token_ids["video_pad"],
    )
    model = Qwen2_5_VLModel(config)
    batch = processor.collate([processor.encode_generation_prompt(_frames(6), np.arange(6) * 0.5, "q")])
    positions, _ = model.get_rope_index(
        batch["input_ids"],
        batch["mm_token_type_ids"],
        video_grid_thw=batch["video_grid_thw"],
        second_per_grid_ts=batch["second_per_grid_ts"],
        attention_mask=batch["attention_mask"],
    )
    video = batch["mm_token_type_ids"][0] == 2
    temporal = positions[0, 0, video].reshape(3, -1)  # 3 temporal patches
    steps = (temporal[1:, 0] - temporal[:-1, 0]).tolist()
    assert steps == [4, 4]
    assert (temporal == temporal[:, :1]).all()


def test_mask_targets_resized_to_sam2_side(processor):
    masks = np.zeros((2, 60, 80), dtype=bool)
    masks[1, 30:, :] = True
    ex = processor.encode_example(
        _frames(2), [0.0, 1.0], PROMPT, TARGET, mask_targets=masks, mask_valid=[False, True]
    )
    assert ex["mask_targets"].shape == (2, 32, 32) and ex["mask_targets"].dtype == torch.bool
    assert (
        not ex["mask_targets"][0].any()
        and ex["mask_targets"][1, 16:].all()
        and not ex["mask_targets"][1, :16].any()
    )
    assert ex["mask_valid"].tolist() == [False, True]
    assert ex["sam2_pixel_values"].shape == (2, 3, 32, 32)
    with pytest.raises(InputError, match="mask targets shape"):
        processor.encode_example(_frames(2), [0.0, 1.0], PROMPT, TARGET, mask_targets=masks[:, :10])


def test_ref_prompts(processor):
    prompt = "Track <|ref|> and <|ref|>."
    refs = [{"time": 1.5, "box": [0.1, 0.2, 0.3, 0.4]}, {"time": 0.0, "point": [0.5, 0.6]}]
    ex = processor.encode_generation_prompt(_frames(2), [0.0, 1.0], prompt, ref_prompts=refs)
    expected = torch.tensor([[0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.5, 0.6]])
    torch.testing.assert_close(ex["ref_boxes"], expected)
    assert ex["ref_times"].tolist() == [1.5, 0.0]
    assert int((ex["input_ids"] == processor.token_ids["ref"]).sum()) == 2
    with pytest.raises(InputError, match="2 <\\|ref\\|> tokens but 1 ref prompts"):
        processor.encode_generation_prompt(_frames(2), [0.0, 1.0], prompt, ref_prompts=refs[:1])


def test_input_errors(processor):
    with pytest.raises(InputError, match="2 frames but 3 timestamps"):
        processor.encode_example(_frames(2), [0.0, 1.0, 2.0], PROMPT)
    with pytest.raises(InputError, match="must increase"):
        processor.encode_example(_frames(2), [1.0, 1.0], PROMPT)


@pytest.mark.parametrize("side", ["right", "left"])
def test_collate_pads_and_concatenates(processor, side):
    long = processor.encode_example(
        _frames(4), np.arange(4.0), PROMPT, TARGET, mask_targets=np.ones((4, 60, 80), bool)
    )
    short = processor.encode_example(_frames(2, 28, 28, seed=1), [0.0, 1.0], "short", "x")
    batch = processor.collate([long, short], padding_side=side)
    n_long, n_short = len(long["input_ids"]), len(short["input_ids"])
    assert batch["input_ids"].shape == (2, n_long)
    pad = n_long - n_short
    short_slice = slice(0, n_short) if side == "right" else slice(pad, n_long)
    pad_slice = slice(n_short, n_long) if side == "right" else slice(0, pad)
    assert torch.equal(batch["input_ids"][1, short_slice], short["input_ids"])
    assert (batch["input_ids"][1, pad_slice] == processor.token_ids["pad"]).all()
    assert (batch["attention_mask"][1, pad_slice] == 0).all() and batch["attention_mask"][0].all()
    assert (batch["labels"][1, pad_slice] == IGNORE_INDEX).all()
    assert (batch["mm_token_type_ids"][1, pad_slice] == 0).all()
    assert batch["pixel_values_videos"].shape[0] == len(long["pixel_values_videos"]) + len(
        short["pixel_values_videos"]
    )
    assert batch["video_grid_thw"].tolist() == [[2, 4, 6], [1, 4, 4]]
    assert batch["second_per_grid_ts"].tolist() == [2.0, 2.0]
    assert batch["mask_targets"][1] is None and batch["mask_targets"][0].shape == (4, 32, 32)
    assert [t.shape[0] for t in batch["sam2_pixel_values"]] == [4, 2]


def test_collate_rejects_mixed_labels(processor):
    with pytest.raises(InputError, match="'labels' is present in some examples"):
        processor.collate(
            [
                processor.encode_example(_frames(2), [0.0, 1.0], "q", "a"),
                processor.encode_generation_prompt(_frames(2), [0.0, 1.0], "q"),
            ]
        )


def test_save_and_load_round_trip(processor, tmp_path):
    processor.save_pretrained(tmp_path)
    loaded = EvqaProcessor.from_pretrained(tmp_path)
    assert loaded.to_dict() == processor.to_dict()
    assert loaded.token_ids == processor.token_ids
    a = processor.encode_example(_frames(3), [0.0, 1.0, 2.0], PROMPT, TARGET)
    b = loaded.encode_example(_frames(3), [0.0, 1.0, 2.0], PROMPT, TARGET)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert EvqaProcessor.from_pretrained(tmp_path, sam2_image_size=64).sam2_image_size == 64
    with pytest.raises(InputError, match="missing: no evqa_processor_config.json"):
        EvqaProcessor.from_pretrained(tmp_path / "missing")
