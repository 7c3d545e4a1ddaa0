"""The tiny model learns: a few dozen steps on one clip fit the answer text and the masks of frames that are
only reached through SAM2 memory (tracked, not prompted)."""

from __future__ import annotations

import torch

from tests.model.conftest import training_batch


def _iou(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    inter = (pred & target).flatten(1).sum(1).float()
    union = (pred | target).flatten(1).sum(1).float()
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))


def test_tiny_model_fits_one_clip(fresh_tiny):
    model, processor = fresh_tiny
    batch = training_batch(processor, starts=(2,))
    target = batch["mask_targets"][0]
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    model.train()
    first = None
    for _ in range(30):
        out = model(**batch)
        first = first or (out.lm_loss.item(), out.mask_loss_terms["dice"].item())
        out.loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    with torch.no_grad():
        out = model(**batch)
    iou = _iou(out.pred_masks[0] > 0, target)
    assert out.lm_loss.item() < 0.4 * first[0]
    assert out.mask_loss_terms["dice"].item() < 0.5 * first[1]
    # frame 2 is prompted (first frame with the object), frames 3..7 come from SAM2 memory, 0..1 are empty
    assert iou[2:].min().item() > 0.6, iou.tolist()
    assert not (out.pred_masks[0][:2] > 0).any()
