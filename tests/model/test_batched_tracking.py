"""Tracking several objects together (`track_objects`) equals tracking each alone, outputs and gradients; the
Qwen patch embedding as a matrix product equals the convolution; text samples skip SAM2's frames."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from transformers import Sam2VideoModel

from evqa.model import sam2_tracking
from evqa.model.heads import PatchConv3d
from evqa.model.presets import sam2_config
from evqa.model.sam2_tracking import (
    TrackOptions,
    TrackRequest,
    encode_frames,
    fit_memory_width,
    track_objects,
)
from evqa.training.collator import EvqaTrainCollator
from tests.model.conftest import synthetic_clip

SIDE = 64
EVQA = TrackOptions(multimask=False, prompt_layout="evqa", backward=True)
UNIPIXEL = TrackOptions()
UNIPIXEL_BACKWARD = TrackOptions(backward=True)


@pytest.fixture(scope="module")
def sam2():
    torch.manual_seed(0)
    model = fit_memory_width(Sam2VideoModel(sam2_config("micro", SIDE)))
    for module in model.modules():
        if hasattr(module, "dropout_p"):
            module.dropout_p = 0.0
    return model


def _requests(sam2, gates: bool, backward: bool = True):
    """The same (seeded) four tracks on every call, with features encoded anew: four tracks over three videos of different lengths, prompted on different frames (so their memory
    banks differ in length at most steps when tracking backward; forward-only tracking starts on frame 0);
    two tracks share a video."""
    gen = torch.Generator().manual_seed(1)
    lengths, prompts = (6, 9, 9, 4), (0, 5, 2, 3) if backward else (0, 0, 0, 0)
    videos = {6: torch.randn(6, 3, SIDE, SIDE, generator=gen), 9: torch.randn(9, 3, SIDE, SIDE, generator=gen),
              4: torch.randn(4, 3, SIDE, SIDE, generator=gen)}  # fmt: skip
    feats = {n: encode_frames(sam2, v) for n, v in videos.items()}
    hidden = sam2.config.mask_decoder_config.hidden_size
    requests = []
    for k, (n, start) in enumerate(zip(lengths, prompts, strict=True)):
        prompt = torch.randn(2, hidden, generator=gen).requires_grad_()
        present = known = None
        if gates and k % 2 == 0:
            present = torch.rand(n, generator=gen) > 0.4
            present[start] = True
            known = torch.rand(n, generator=gen) > 0.3
        requests.append(TrackRequest(feats[n].__getitem__, n, prompt, start, present, known))
    return requests


def _loss(outputs) -> torch.Tensor:
    total = 0.0
    for k, out in enumerate(outputs):
        total = total + (k + 1) * (out.mask_logits.sigmoid().mean() + out.iou_scores.sum())
        total = total + out.object_score_logits.sum() + out.candidate_logits.mean()
    return total


def _grads(sam2, requests) -> dict[str, torch.Tensor]:
    grads = {n: p.grad.clone() for n, p in sam2.named_parameters() if p.grad is not None}
    grads.update({f"prompt{k}": r.prompt_embeddings.grad.clone() for k, r in enumerate(requests)})
    sam2.zero_grad(set_to_none=True)
    for r in requests:
        r.prompt_embeddings.grad = None
    return grads


@pytest.mark.parametrize(
    "options", [EVQA, UNIPIXEL, UNIPIXEL_BACKWARD], ids=["evqa", "unipixel", "unipixel-bwd"]
)
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_tracks_together_equal_tracks_alone(sam2, options, training, monkeypatch):
    sam2.train(training)
    calls = []
    masked = sam2_tracking._masked_memory_attention
    monkeypatch.setattr(sam2_tracking, "_masked_memory_attention", lambda *a: calls.append(1) or masked(*a))
    requests = _requests(sam2, options is EVQA, options.backward)
    together = track_objects(sam2, requests, options=options, keep_candidates=True)
    # backward tracks from other prompted frames have banks of other lengths: padded and masked
    assert bool(calls) == options.backward
    _loss(together).backward()
    grads_together = _grads(sam2, requests)
    calls.clear()
    again = _requests(sam2, options is EVQA, options.backward)  # the same tracks, a new graph
    alone = [track_objects(sam2, [r], options=options, keep_candidates=True)[0] for r in again]
    assert not calls  # one track never pads
    _loss(alone).backward()
    grads_alone = _grads(sam2, again)
    for k, (a, b) in enumerate(zip(together, alone, strict=True)):
        assert a.mask_logits.shape == (requests[k].num_frames, SIDE // 4, SIDE // 4)
        for field in (
            "mask_logits",
            "iou_scores",
            "object_score_logits",
            "candidate_logits",
            "candidate_ious",
        ):
            torch.testing.assert_close(getattr(a, field), getattr(b, field), rtol=1e-4, atol=1e-5, msg=field)
        assert torch.equal(a.best_index, b.best_index)
    assert grads_together.keys() == grads_alone.keys()
    assert len(grads_together) > 40  # decoder, memory attention, memory encoder, pointers, prompts
    for name, value in grads_alone.items():
        torch.testing.assert_close(grads_together[name], value, rtol=1e-3, atol=1e-6, msg=name)
    sam2.eval()


def test_trace_records_one_track_only(sam2):
    requests = _requests(sam2, False)
    with pytest.raises(ValueError, match="one track"):
        track_objects(sam2, requests[:2], trace={})


def test_patch_conv3d_equals_the_convolution():
    torch.manual_seed(0)
    for bias in (True, False):
        conv = nn.Conv3d(3, 8, kernel_size=(2, 4, 4), stride=(2, 4, 4), bias=bias)
        patch = PatchConv3d.adopt(nn.Conv3d(3, 8, kernel_size=(2, 4, 4), stride=(2, 4, 4), bias=bias))
        patch.load_state_dict(conv.state_dict())
        x = torch.randn(37, 3, 2, 4, 4, requires_grad=True)
        want, got = conv(x), patch(x)
        assert got.shape == want.shape == (37, 8, 1, 1, 1)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
        grad_want = torch.autograd.grad(want.square().sum(), [x, conv.weight])
        grad_got = torch.autograd.grad(got.square().sum(), [x, patch.weight])
        for a, b in zip(grad_got, grad_want, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
        bigger = torch.randn(2, 3, 4, 8, 8)  # not one patch: the convolution itself
        torch.testing.assert_close(patch(bigger), conv(bigger))


def test_the_model_embeds_patches_by_matrix_product(tiny):
    model, _ = tiny
    proj = model.model.visual.patch_embed.proj
    assert type(proj) is PatchConv3d
    assert "model.visual.patch_embed.proj.weight" in model.state_dict()


def test_text_samples_skip_sam2_frames(tiny):
    _, processor = tiny
    frames, times, masks = synthetic_clip()
    text = type("Example", (), dict(frames=frames, timestamps=times, prompt="Which?", target="B",
                                    mask_targets=None, mask_valid=None))  # fmt: skip
    mask = type("Example", (), dict(frames=frames, timestamps=times, prompt="Which?", target="B <|seg|>",
                                    mask_targets=masks, mask_valid=None))  # fmt: skip
    collator = EvqaTrainCollator(processor)
    assert "sam2_pixel_values" not in collator([text, text])
    mixed = collator([text, mask])
    assert mixed["sam2_pixel_values"][0] is None
    assert mixed["sam2_pixel_values"][1].shape == (
        len(frames),
        3,
        processor.sam2_image_size,
        processor.sam2_image_size,
    )
    alone = processor.encode_video(frames, times)["sam2_pixel_values"]
    assert np.array_equal(mixed["sam2_pixel_values"][1].numpy(), alone.numpy())
