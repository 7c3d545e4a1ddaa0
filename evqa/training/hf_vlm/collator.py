"""Video-QA samples -> model inputs through the checkpoint's own processor, with loss on the answer only.

The prompt is the chat an `evqa infer` adapter sends (`evqa.baselines.hf_frames.frame_messages`: preamble,
then every frame after its time, then the question) rendered with `add_generation_prompt=True` and
tokenised by the processor, which expands each image placeholder into its visual tokens. The answer is
what the chat template adds when the assistant turn is appended (the answer text and the end-of-turn
token, e.g. 'red<|im_end|>' for Qwen, ' red<end_of_utterance>' for SmolVLM), tokenised on its own and
appended. So the model learns to continue exactly the tokens it is given at inference.

labels = -100 on every prompt token (system turn, frame times, image tokens, question) and every padding
token, the answer token ids elsewhere. (EgoTextVQA's fine-tune supervised the prompt as well.)
Batches are right-padded; the processor's own visual tensors (pixel_values, image_grid_thw,
pixel_attention_mask, image_sizes, ...) pass through unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from evqa.baselines.base import Request
from evqa.baselines.hf_frames import frame_messages
from evqa.errors import DataError, ModelError

IGNORE_INDEX = -100
# processor outputs with one value per token, and their padding value (None: the tokenizer's pad id)
TOKEN_KEYS = {"input_ids": None, "attention_mask": 0, "mm_token_type_ids": 0, "token_type_ids": 0}


def prompt_messages(example) -> tuple[list[dict], list]:
    """(chat messages of the user turn, PIL frames) of a VideoQAExample, as `evqa infer` builds them."""
    request = Request(
        entry_id=example.sample_id,
        prompt=example.prompt,
        frames=example.frames,
        timestamps=example.timestamps,
    )
    return frame_messages(request)


def split_chat(processor, messages: list[dict], target: str) -> tuple[str, str]:
    """(prompt text up to the assistant's first token, answer text including the end-of-turn token).

    Raises ModelError when the template does not render the prompt as a prefix of the whole chat (the
    answer could not be located)."""
    prompt = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    answer_turn = {"role": "assistant", "content": [{"type": "text", "text": target}]}
    full = processor.apply_chat_template(
        [*messages, answer_turn], add_generation_prompt=False, tokenize=False
    )
    if not full.startswith(prompt) or target not in full[len(prompt) :]:
        raise ModelError(
            "the chat template renders the prompt differently inside a full conversation, so the answer "
            "tokens cannot be located"
        )
    # whitespace after the end-of-turn token is never generated (generation stops at that token)
    return prompt, full[len(prompt) :].rstrip()


class AnswerOnlyCollator:
    """Callable batch builder for the HF Trainer (and for preference pairs: `encode` with other targets).

    Args:
        processor: the checkpoint's processor (image-only, `evqa.baselines.hf_frames.load_processor`).
        max_length: a sample with more tokens raises DataError naming it (None: no limit; nothing is
            ever truncated, which would cut visual tokens or the answer).
    Returns (per call) input_ids / attention_mask / labels [B, L] (+ mm_token_type_ids where the processor
    gives them) and the processor's visual tensors.
    """

    def __init__(self, processor, *, max_length: int | None = None):
        self.processor = processor
        self.tokenizer = getattr(processor, "tokenizer", processor)
        self.max_length = max_length
        if self.tokenizer.pad_token_id is None:
            raise ModelError("the tokenizer has no pad token")

    def __call__(self, examples: Sequence) -> dict[str, torch.Tensor]:
        return self.encode(examples)

    def encode(self, examples: Sequence, targets: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
        """Encode `examples` with their own targets, or with `targets` (one per example)."""
        targets = [ex.target for ex in examples] if targets is None else list(targets)
        prompts, answers, images = [], [], []
        for example, target in zip(examples, targets, strict=True):
            messages, frames = prompt_messages(example)
            prompt, answer = split_chat(self.processor, messages, target)
            prompts.append(prompt)
            answers.append(self.tokenizer(answer, add_special_tokens=False)["input_ids"])
            images.append(frames)
        encoded = self.processor(
            text=prompts, images=images if any(images) else None, return_tensors="pt", padding=True
        )
        shape = encoded["input_ids"].shape
        unknown = [
            k for k, v in encoded.items() if k not in TOKEN_KEYS and getattr(v, "shape", None) == shape
        ]
        if unknown:
            raise ModelError(f"processor output {unknown} has one value per token; its padding is unknown")
        rows = [
            self._row(encoded, b, answer, ex.sample_id)
            for b, (answer, ex) in enumerate(zip(answers, examples, strict=True))
        ]
        batch = self._pad(rows)
        batch.update({k: v for k, v in encoded.items() if k not in TOKEN_KEYS})
        return batch

    def _row(self, encoded, b: int, answer: list[int], entry: str) -> dict[str, torch.Tensor]:
        """One sample's per-token tensors: the prompt's real tokens (padding removed), then the answer."""
        if not answer:
            raise DataError("the answer is empty", entry=entry, field="answer")
        keep = encoded["attention_mask"][b].bool()
        answer_ids = torch.tensor(answer, dtype=encoded["input_ids"].dtype)
        row = {}
        for key in TOKEN_KEYS:
            if key not in encoded:
                continue
            prompt_part = encoded[key][b][keep]
            fill = {"input_ids": answer_ids, "attention_mask": torch.ones_like(answer_ids)}.get(key)
            row[key] = torch.cat([prompt_part, fill if fill is not None else torch.zeros_like(answer_ids)])
        prompt_length = int(keep.sum())
        row["labels"] = torch.cat([torch.full((prompt_length,), IGNORE_INDEX), answer_ids])
        if self.max_length is not None and len(row["labels"]) > self.max_length:
            raise DataError(
                f"{len(row['labels'])} tokens exceed data.max_length {self.max_length} (fewer frames, a "
                "smaller max_size or a higher max_length)",
                entry=entry,
            )
        return row

    def _pad(self, rows: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        """Right-pad every per-token tensor to the longest row."""
        length = max(len(row["labels"]) for row in rows)
        pads = {**TOKEN_KEYS, "input_ids": self.tokenizer.pad_token_id, "labels": IGNORE_INDEX}
        batch = {}
        for key in rows[0]:
            batch[key] = torch.stack(
                [
                    torch.nn.functional.pad(row[key], (0, length - len(row[key])), value=pads[key])
                    for row in rows
                ]
            )
        return batch
