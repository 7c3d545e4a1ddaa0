"""SAM2's mask losses (its training `loss_fns.py` definitions), written over per-frame tensors.

Per frame: sigmoid focal loss (alpha 0.25, gamma 2, mean over pixels), dice loss (sigmoid, +1 smoothing),
L1 between the predicted IoU and the IoU of the thresholded mask with the target (SAM2.1 uses L1), all three
only on frames where the object is present; and binary cross-entropy of the object-score logit against
"object present" on every frame. Each term is averaged over the frames it applies to.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def sigmoid_focal_loss(logits: torch.Tensor, targets: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0):
    """logits, targets [N, P] (P pixels) -> [N] focal loss, mean over pixels."""
    prob = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = prob * targets + (1 - prob) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss.mean(dim=1)


def dice_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """logits, targets [N, P] -> [N] dice loss 1 - (2|P∩G| + 1) / (|P| + |G| + 1) on sigmoid probabilities."""
    prob = logits.sigmoid()
    numerator = 2 * (prob * targets).sum(dim=1)
    denominator = prob.sum(dim=1) + targets.sum(dim=1)
    return 1 - (numerator + 1) / (denominator + 1)


def mask_iou(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """IoU [N] of (logits > 0) with targets [N, P]; both empty -> 1."""
    pred = logits > 0
    gt = targets > 0.5
    inter = (pred & gt).sum(dim=1).float()
    union = (pred | gt).sum(dim=1).float()
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))


def mask_loss_terms(
    mask_logits: torch.Tensor,
    iou_scores: torch.Tensor,
    object_score_logits: torch.Tensor,
    targets: torch.Tensor,
    valid: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """Loss terms of one tracked object.

    Args:
        mask_logits: [T, H, W] mask logits at the target's resolution.
        iou_scores: [T] predicted IoU. object_score_logits: [T] object-presence logits.
        targets: [T, H, W] bool ground-truth masks.
        valid: optional bool [T]; frames where it is False (no annotation) get no loss at all.
    Returns:
        {"focal", "dice", "iou", "object_score"}: scalar tensors (0 for mask terms when the object is never
        present).
    """
    if valid is not None:
        mask_logits, iou_scores, object_score_logits = (
            mask_logits[valid],
            iou_scores[valid],
            object_score_logits[valid],
        )
        targets = targets[valid]
    flat_logits = mask_logits.flatten(1).float()
    flat_targets = targets.flatten(1).float()
    if flat_logits.shape[0] == 0:
        zero = mask_logits.sum() * 0.0
        return {"focal": zero, "dice": zero, "iou": zero, "object_score": zero}
    present = flat_targets.sum(dim=1) > 0
    obj = F.binary_cross_entropy_with_logits(object_score_logits.float(), present.float())
    if not present.any():
        zero = flat_logits.sum() * 0.0
        return {"focal": zero, "dice": zero, "iou": zero, "object_score": obj}
    logits_p, targets_p = flat_logits[present], flat_targets[present]
    actual_iou = mask_iou(logits_p.detach(), targets_p)
    return {
        "focal": sigmoid_focal_loss(logits_p, targets_p).mean(),
        "dice": dice_loss(logits_p, targets_p).mean(),
        "iou": F.l1_loss(iou_scores[present].float(), actual_iou),
        "object_score": obj,
    }


def unipixel_loss_terms(
    candidate_logits: torch.Tensor,
    candidate_ious: torch.Tensor,
    object_score_logits: torch.Tensor,
    targets: torch.Tensor,
    selection_weights: tuple[float, float] = (100.0, 5.0),
    valid: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """UniPixel's SAM2 loss terms (its `MultiStepMultiMasksAndIous` with supervise-all-IoU, L1 IoU, plain
    BCE object score), each summed over objects and frames.

    Args:
        candidate_logits: [O, T, M, h, w] low-res logits of every candidate mask (M = 3 with multimask).
        candidate_ious: [O, T, M] predicted IoUs. object_score_logits: [O, T].
        targets: bool [O, T, S, S] at SAM2's input size; the candidates are upsampled bilinearly to it.
        selection_weights: (focal, dice) weights that pick, per object and frame, the candidate whose mask
            and dice terms count (the smallest weighted sum).
        valid: optional bool [T]; frames where it is False contribute nothing.
    Per frame and object: focal (alpha 0.25, gamma 2, mean over pixels), dice, L1 between predicted and
    actual IoU averaged over all candidates (each / O); mask, dice and IoU terms are zero where the target
    is empty; object-score BCE against "target not empty" (/ O) on every frame.
    Returns: {"focal", "dice", "iou", "object_score"} scalars (sums over frames).
    """
    num_objects, num_frames, num_masks = candidate_logits.shape[:3]
    side = targets.shape[-2:]
    if valid is not None:
        candidate_logits, candidate_ious = candidate_logits[:, valid], candidate_ious[:, valid]
        object_score_logits, targets = object_score_logits[:, valid], targets[:, valid]
        num_frames = int(valid.sum())
    if num_frames == 0:
        zero = candidate_logits.sum() * 0.0
        return {"focal": zero, "dice": zero, "iou": zero, "object_score": zero}
    low = candidate_logits.flatten(0, 2)[:, None].float()
    logits = F.interpolate(low, size=side, mode="bilinear", align_corners=False)
    logits = logits.reshape(num_objects * num_frames, num_masks, -1)
    target = targets.reshape(num_objects * num_frames, 1, -1).float().expand_as(logits)
    flat_logits, flat_target = logits.flatten(0, 1), target.flatten(0, 1)
    focal = sigmoid_focal_loss(flat_logits, flat_target).view(-1, num_masks) / num_objects
    dice = dice_loss(flat_logits, flat_target).view(-1, num_masks) / num_objects
    pred, gt = logits > 0, target > 0
    actual = (pred & gt).sum(-1).float() / (pred | gt).sum(-1).float().clamp(min=1.0)
    iou = F.l1_loss(candidate_ious.reshape(-1, num_masks).float(), actual, reduction="none") / num_objects
    present = target[:, 0].sum(-1) > 0  # [O*T]
    score = object_score_logits.reshape(-1).float()
    bce = F.binary_cross_entropy_with_logits(score, present.float(), reduction="none") / num_objects
    w_focal, w_dice = selection_weights
    best = torch.argmin(w_focal * focal + w_dice * dice, dim=-1)
    rows = torch.arange(best.shape[0], device=best.device)
    gate = present.float()
    return {
        "focal": (focal[rows, best] * gate).sum(),
        "dice": (dice[rows, best] * gate).sum(),
        "iou": (iou.mean(dim=-1) * gate).sum(),
        "object_score": bce.sum(),
    }
