"""Answer-only loss, exactly, for every family: the prompt is token for token what `evqa infer` feeds the
model, padding and prompt are -100, the answer tokens (with the end-of-turn token) are the labels."""

import numpy as np
import pytest
import torch

from evqa.baselines.base import Request
from evqa.baselines.registry import build_model
from evqa.errors import DataError
from evqa.training.hf_vlm.collator import IGNORE_INDEX, AnswerOnlyCollator
from evqa.training.hf_vlm.data import VideoQAExample

from .hf_vlm_fixtures import tiny_checkpoint

# family -> (the `evqa infer` adapter that runs it, how its chat template closes an answer "<text>")
FAMILIES = {
    "qwen2_5_vl": ("qwen2_5_vl", "{}<|im_end|>"),
    "qwen3_vl": ("qwen3_vl", "{}<|im_end|>"),
    "smolvlm": ("smolvlm", " {}<end_of_utterance>"),  # "Assistant:" then " answer<end_of_utterance>"
    "llava_onevision": ("llava_ov_1_5", "{}<|im_end|>"),
}


def _examples():
    rng = np.random.default_rng(0)
    return [
        VideoQAExample(
            "toy",
            "a",
            "What colour is the car?",
            "red",
            rng.integers(0, 255, (2, 40, 56, 3), dtype=np.uint8),
            np.array([0.0, 1.5]),
        ),
        VideoQAExample(
            "toy",
            "b",
            "Which object enters first, and from which side of the frame?",
            "the dark blue car, from the left",
            rng.integers(0, 255, (3, 40, 56, 3), dtype=np.uint8),
            np.array([0.0, 2.0, 4.0]),
        ),
    ]


class _Spy:
    """Records the inputs an adapter gives `generate` (then generates as usual)."""

    def __init__(self, model):
        self.model, self.calls = model, []
        self.generate = model.generate

    def __call__(self, **inputs):
        self.calls.append({k: v.clone() for k, v in inputs.items() if torch.is_tensor(v)})
        return self.generate(**inputs)


def _inference_inputs(adapter, example) -> dict:
    """What the adapter feeds `generate` for the same frames, times and prompt (one request, no padding)."""
    spy = _Spy(adapter.model)
    adapter.model.generate = spy
    request = Request(example.sample_id, example.prompt, example.frames, example.timestamps, max_new_tokens=1)
    adapter.generate_batch([request])
    adapter.model.generate = spy.generate
    (call,) = spy.calls
    return {k: v for k, v in call.items() if k not in ("max_new_tokens", "do_sample")}


@pytest.fixture(scope="module", params=list(FAMILIES))
def family(request):
    name = request.param
    adapter_name, answer_format = FAMILIES[name]
    adapter = build_model(adapter_name, tiny_checkpoint(name), device="cpu")
    return name, adapter, answer_format


def test_labels_mask_everything_but_the_answer(family):
    name, adapter, answer_format = family
    examples = _examples()
    batch = AnswerOnlyCollator(adapter.processor).encode(examples)
    tokenizer = adapter.processor.tokenizer
    length = batch["input_ids"].shape[1]
    for b, example in enumerate(examples):
        prompt = _inference_inputs(adapter, example)["input_ids"][0].tolist()
        answer = tokenizer(answer_format.format(example.target), add_special_tokens=False)["input_ids"]
        pad = length - len(prompt) - len(answer)
        assert batch["input_ids"][b].tolist() == prompt + answer + [tokenizer.pad_token_id] * pad
        assert batch["labels"][b].tolist() == [IGNORE_INDEX] * len(prompt) + answer + [IGNORE_INDEX] * pad
        assert batch["attention_mask"][b].tolist() == [1] * (len(prompt) + len(answer)) + [0] * pad
        kept = [t for t in batch["labels"][b].tolist() if t != IGNORE_INDEX]
        assert tokenizer.decode(kept) == answer_format.format(example.target)
        assert kept[-1] == adapter.model.generation_config.eos_token_id  # the model learns to stop
    assert min(len(_inference_inputs(adapter, e)["input_ids"][0]) for e in examples) > 20  # frames are in it
    if "mm_token_type_ids" in batch:  # Qwen: 1 on image tokens, 0 on text, answer and padding
        image_token = adapter.model.config.image_token_id
        np.testing.assert_array_equal(batch["mm_token_type_ids"] == 1, batch["input_ids"] == image_token)


def test_visual_inputs_are_the_processors_own(family):
    name, adapter, _ = family
    examples = _examples()
    batch = AnswerOnlyCollator(adapter.processor).encode(examples)
    singles = [_inference_inputs(adapter, example) for example in examples]
    if name == "smolvlm":  # [B, images, 3, H, W], padded with empty images to the largest count
        assert batch["pixel_values"].shape[:2] == (2, 3)
        torch.testing.assert_close(batch["pixel_values"][0, :2], singles[0]["pixel_values"][0].float())
        assert not batch["pixel_values"][0, 2].any() and not batch["pixel_attention_mask"][0, 2].any()
        torch.testing.assert_close(batch["pixel_values"][1], singles[1]["pixel_values"][0].float())
        return
    torch.testing.assert_close(batch["pixel_values"], torch.cat([s["pixel_values"] for s in singles]).float())
    for key in ("image_grid_thw", "image_sizes"):
        if key in batch:
            torch.testing.assert_close(batch[key], torch.cat([s[key] for s in singles]))


def test_the_model_loss_is_the_answer_tokens_cross_entropy(family):
    name, adapter, _ = family
    batch = AnswerOnlyCollator(adapter.processor).encode(_examples())
    model = adapter.model
    with torch.no_grad():
        out = model(**batch)
        labels = batch["labels"][:, 1:]
        logits = out.logits[:, :-1]
        keep = labels != IGNORE_INDEX
        reference = torch.nn.functional.cross_entropy(logits[keep].float(), labels[keep])
        torch.testing.assert_close(out.loss, reference)
        # a different prompt token changes the loss only through the answer's context, never as a target
        everything = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]).float(), batch["input_ids"][:, 1:].reshape(-1)
        )
        assert abs(float(everything) - float(reference)) > 1e-3


def test_long_samples_are_refused_not_truncated(family):
    _, adapter, _ = family
    examples = _examples()
    lengths = AnswerOnlyCollator(adapter.processor).encode(examples)["attention_mask"].sum(1).tolist()
    collator = AnswerOnlyCollator(adapter.processor, max_length=max(lengths) - 1)
    with pytest.raises(DataError, match=f"{max(lengths)} tokens exceed data.max_length") as err:
        collator.encode(examples)
    assert err.value.entry == "b"
    assert (
        AnswerOnlyCollator(adapter.processor, max_length=max(lengths)).encode(examples)["labels"].shape[0]
        == 2
    )


def test_other_targets_for_preference_pairs(family):
    _, adapter, answer_format = family
    collator = AnswerOnlyCollator(adapter.processor)
    examples = _examples()
    chosen = collator.encode(examples)
    rejected = collator.encode(examples, targets=["green", "a truck"])
    prompt_lengths = (chosen["labels"] == IGNORE_INDEX).logical_and(chosen["attention_mask"] == 1).sum(1)
    for b in range(2):
        n = int(prompt_lengths[b])
        assert chosen["input_ids"][b, :n].tolist() == rejected["input_ids"][b, :n].tolist()
    kept = [t for t in rejected["labels"][1].tolist() if t != IGNORE_INDEX]
    assert adapter.processor.tokenizer.decode(kept) == answer_format.format("a truck")
