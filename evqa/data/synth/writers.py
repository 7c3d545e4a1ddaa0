"""Write synthetic clips in the on-disk formats of the real ST-Evidence data (DESIGN.md §2).

`SynthWriter` streams: each clip's video, frames and masks are written as soon as it is rendered; the
CSV and JSON indexes are written by `finish()`. Every CSV/JSON/PNG byte depends only on the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pandas as pd
from PIL import Image

from evqa.data.instruct import BoxPrompt, EvidenceObject, MaskAnnotation, bbox_norm_of, write_mask_annotation
from evqa.data.masks import write_mask_png, write_rle_json
from evqa.data.synth.paths import SynthPaths
from evqa.data.synth.questions import Question, mask_option_masks, mcq_options, temporal_options
from evqa.data.synth.scenes import ClipSpec
from evqa.data.video import write_frame_folder, write_video
from evqa.io import write_json_atomic
from evqa.prompts import letter_of

RED = (255, 0, 0)


@dataclass(frozen=True)
class BenchmarkItem:
    """What the trivial baselines need to know about one benchmark entry (times in s, sizes in px)."""

    entry_id: str
    video_id: str
    num_candidates: int
    answer_index: int
    segments: list[list[float]]
    num_frames: int
    fps: float
    height: int
    width: int
    gt_frames: tuple[int, ...]

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps


def _row(spec: ClipSpec, question: Question, split: str, segment_column: str) -> dict:
    return {
        "entry_id": f"{spec.video_id}_0",
        "video_id": spec.video_id,
        "video_path": f"{spec.video_id}.mp4",
        "question": question.question,
        "answer": question.answer,
        "candidates": str(question.candidates),
        segment_column: str(spec.segment(spec.evidence)),
        "source": "synth",
        "split": split,
        "qa_source": "template",
        "category": question.category,
    }


def outline_image(frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A copy of an RGB frame uint8 [H, W, 3] with the outline of a bool [H, W] mask drawn in red."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    out = np.ascontiguousarray(frame.copy())
    cv2.drawContours(out, contours, -1, RED, thickness=1)
    return out


class SynthWriter:
    """Accumulates the rows of one synthetic dataset and writes every file under a SynthPaths root."""

    def __init__(self, paths: SynthPaths):
        self.paths = paths
        self.gen_rows: list[dict] = []
        self.mcq_rows: list[dict] = []
        self.temp_options: dict[str, dict] = {}
        self.mask_options: dict[str, dict] = {}
        self.instruct_rows: list[dict] = []
        self.items: list[BenchmarkItem] = []

    def add_test(
        self,
        rng: np.random.Generator,
        spec: ClipSpec,
        question: Question,
        frames: np.ndarray,
        masks: dict[int, np.ndarray],
    ) -> None:
        """Write one benchmark clip: video, GT masks (PNG + RLE); queue its CSV rows and MCQ options."""
        p = self.paths
        row = _row(spec, question, "test", "segment")
        entry_id = row["entry_id"]
        write_video(p.video_dir / row["video_path"], frames, spec.fps)
        for frame, mask in masks.items():
            write_mask_png(p.gt_mask_png_dir / entry_id / f"{frame:05d}.png", mask)
        write_rle_json(
            p.gt_mask_rle_dir / f"{entry_id}.json",
            entry_id,
            masks,
            size=(spec.height, spec.width),
            fps=spec.fps,
        )
        self.gen_rows.append(row)
        self.items.append(
            BenchmarkItem(
                entry_id,
                spec.video_id,
                len(question.candidates),
                question.answer_index,
                spec.segment(spec.evidence),
                spec.num_frames,
                spec.fps,
                spec.height,
                spec.width,
                tuple(sorted(masks)),
            )
        )
        self._add_mcq(rng, spec, question, frames, entry_id)

    def _add_mcq(self, rng, spec: ClipSpec, question: Question, frames: np.ndarray, entry_id: str) -> None:
        self.mcq_rows.append(
            {
                "entry_id": entry_id,
                "video": spec.video_id,
                "video_path": f"{spec.video_id}.mp4",
                "question": question.question,
                "options": str(mcq_options(rng, question, spec)),
                "answer": question.answer,
                "category": question.category,
            }
        )
        segments, right = temporal_options(rng, spec)
        self.temp_options[entry_id] = {
            "question": question.question,
            "time_evidence_options": segments,
            "correct_answer": letter_of(right),
        }
        regions = mask_option_masks(rng, spec)
        record: dict = {"question": question.question}
        for key, (frame, mask) in regions.items():
            rel = f"options/{entry_id}/{key}.png"
            path = self.paths.mcq_dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(outline_image(frames[frame], mask)).save(path)
            record[key] = rel
        order = [list(regions)[i] for i in rng.permutation(len(regions))]
        record.update(options=order, mcq_options=[record[k] for k in order], answer=order.index("gt"))
        self.mask_options[entry_id] = record

    def add_train(
        self, spec: ClipSpec, question: Question, frames: np.ndarray, masks: dict[int, np.ndarray]
    ) -> None:
        """Write one training clip: video, 6-fps frame folder, mask JSON (polygons + box prompt)."""
        p = self.paths
        row = _row(spec, question, "train", "temporal_evidence")
        write_video(p.instruct_video_dir / row["video_path"], frames, spec.fps)
        write_frame_folder(p.frame_folder(spec.video_id), frames)
        first = min(masks)
        prompt = BoxPrompt(
            frame=first, timestamp=round(first / spec.fps, 3), bbox_norm=tuple(bbox_norm_of(masks[first]))
        )
        obj = EvidenceObject(question.ref_expression, masks=masks, prompts=[prompt])
        ann = MaskAnnotation(row["entry_id"], row["video_path"], spec.fps, spec.width, spec.height, [obj])
        write_mask_annotation(p.instruct_mask_dir / f"{row['entry_id']}.json", ann)
        self.instruct_rows.append(row)

    def counts(self) -> dict[str, int]:
        """What has been written so far, for the summary."""
        return {
            "benchmark entries": len(self.gen_rows),
            "MCQ entries": len(self.mcq_rows),
            "instruct entries": len(self.instruct_rows),
            "GT mask frames": sum(len(item.gt_frames) for item in self.items),
        }

    def finish(self) -> None:
        """Write the CSV and JSON indexes (benchmark, MCQ, instruct)."""
        p = self.paths
        for path, rows in (
            (p.gen_csv, self.gen_rows),
            (p.mcq_csv, self.mcq_rows),
            (p.instruct_qa_csv, self.instruct_rows),
            (p.instruct_mask_csv, self.instruct_rows),
        ):
            path.parent.mkdir(parents=True, exist_ok=True)
            pd.DataFrame(rows).to_csv(path, index=False)
        write_json_atomic(p.temp_options, self.temp_options)
        write_json_atomic(p.mask_options, self.mask_options)
