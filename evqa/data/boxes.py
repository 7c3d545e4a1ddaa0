"""Box prompts -> masks with SAM2 (transformers `Sam2Model`), the data-preparation step that turns the
`prompts[].bbox_norm` boxes of ST-Evidence-Instruct mask JSONs into pixel masks for training.

Each prompt gives one mask on its own frame (SAM2's image path, no propagation). Frames come from the
6-fps frame folder `<frames_dir>/<video stem>/` or from `<video_dir>/<video_path>`. The output is a mask
JSON of the same entry whose objects carry `masks: [{frame, rle}]` (COCO RLE) next to their prompts.
Preprocessing (square resize, ImageNet normalisation) is `evqa.model.image_ops.sam2_pixels`, so no
torchvision-based processor is needed.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from evqa.data.instruct import MaskAnnotation, load_mask_annotation, write_mask_annotation
from evqa.data.video import read_frames, video_info
from evqa.errors import DataError, ModelError


def sam2_image_size(model) -> int:
    """Side (pixels) of the square images a Sam2Model encodes."""
    return int(model.config.prompt_encoder_config.image_size)


def load_sam2(name_or_path: str, *, device: str = "cpu"):
    """A pretrained transformers Sam2Model (e.g. 'facebook/sam2.1-hiera-large' or a local folder)."""
    from transformers import Sam2Model

    try:
        return Sam2Model.from_pretrained(name_or_path).to(device).eval()
    except (OSError, ValueError) as err:
        raise ModelError(f"cannot load SAM2 from '{name_or_path}' ({err})") from None


def segment_boxes(model, frame: np.ndarray, boxes: np.ndarray, *, threshold: float = 0.0) -> np.ndarray:
    """Masks of the objects in `boxes` on one frame.

    Args:
        model: a transformers Sam2Model.
        frame: uint8 [H, W, 3] RGB.
        boxes: float [N, 4] (x1, y1, x2, y2) in pixels of `frame`.
    Returns:
        bool [N, H, W]: SAM2's single-mask output per box, upsampled bilinearly to H x W and thresholded
        on the logits.
    """
    import torch
    import torch.nn.functional as F

    from evqa.model.image_ops import sam2_pixels

    height, width = frame.shape[:2]
    side = sam2_image_size(model)
    device = next(model.parameters()).device
    pixels = torch.from_numpy(sam2_pixels(frame[None], side)).to(device)
    scale = np.array([side / width, side / height, side / width, side / height], dtype=np.float32)
    prompt = torch.from_numpy(np.asarray(boxes, dtype=np.float32).reshape(-1, 4) * scale)[None].to(device)
    with torch.no_grad():
        out = model(pixel_values=pixels, input_boxes=prompt, multimask_output=False)
    logits = out.pred_masks[0, :, 0].float()  # [N, h, w] low-resolution logits
    full = F.interpolate(logits[:, None], size=(height, width), mode="bilinear", align_corners=False)[:, 0]
    return (full > threshold).cpu().numpy()


def _frame_source(ann: MaskAnnotation, frames_dir: Path | None, video_dir: Path | None) -> tuple[Path, float]:
    """(frame folder or video file, its fps) for an annotation."""
    if frames_dir is not None:
        folder = frames_dir / Path(ann.video_path).stem
        if folder.is_dir():
            return folder, ann.fps
    if video_dir is not None:
        video = video_dir / ann.video_path
        if video.is_file():
            return video, video_info(video).fps
    raise DataError("no frame folder or video found for this entry", entry=ann.entry_id, field="video_path")


def annotate_entry(
    model, ann: MaskAnnotation, *, frames_dir=None, video_dir=None
) -> tuple[MaskAnnotation, int]:
    """Give every prompt-only object masks on its prompt frames. Returns (new annotation, masks made)."""
    todo = [k for k, obj in enumerate(ann.objects) if obj.prompts and not obj.masks]
    if not todo:
        return ann, 0
    source, fps = _frame_source(ann, frames_dir, video_dir)
    objects, made = list(ann.objects), 0
    for k in todo:
        masks: dict[int, np.ndarray] = {}
        for prompt in objects[k].prompts:
            index = int(round(prompt.frame / ann.fps * fps))
            frame = read_frames(source, [index])[0]
            box = np.array([prompt.to_pixels(frame.shape[1], frame.shape[0])])
            mask = segment_boxes(model, frame, box)[0]
            if mask.shape != (ann.height, ann.width):
                raise DataError(
                    f"frame is {mask.shape[1]}x{mask.shape[0]}, the annotation says {ann.width}x{ann.height}",
                    entry=ann.entry_id,
                    field="width/height",
                )
            masks[prompt.frame] = masks[prompt.frame] | mask if prompt.frame in masks else mask
            made += 1
        objects[k] = replace(objects[k], masks=masks)
    return replace(ann, objects=objects), made


def boxes_to_masks(
    model,
    mask_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    frames_dir=None,
    video_dir=None,
    progress: bool = True,
) -> dict[str, int]:
    """Run `annotate_entry` over every `<mask_dir>/*.json` and write `<out_dir>/<name>.json` (RLE masks).

    Returns counts: files, masks_made, unchanged (entries that already had masks or had no prompts).
    """
    files = sorted(Path(mask_dir).glob("*.json"))
    if not files:
        raise DataError("no mask JSON files", path=mask_dir)
    frames_dir = Path(frames_dir) if frames_dir else None
    video_dir = Path(video_dir) if video_dir else None
    counts = {"files": len(files), "masks_made": 0, "unchanged": 0}
    for path in tqdm(files, desc="boxes-to-masks", unit="entry", disable=not progress):
        ann, made = annotate_entry(
            model, load_mask_annotation(path), frames_dir=frames_dir, video_dir=video_dir
        )
        counts["masks_made"] += made
        counts["unchanged"] += made == 0
        write_mask_annotation(Path(out_dir) / path.name, ann, mask_format="rle")
    return counts
