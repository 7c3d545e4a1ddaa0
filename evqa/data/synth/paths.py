"""Where every file of an ST-Evidence-Synth root lives (the same tree as the real data, DESIGN.md §2).

<root>/synth_meta.json                          generation parameters (written last: "complete")
<root>/benchmark/st_evidence_gen.csv            generative benchmark (test split)
<root>/benchmark/videos/<video_id>.mp4          H.264, 6 fps
<root>/benchmark/masks/<entry_id>/<frame:05d>.png      GT masks, PNG layout
<root>/benchmark/masks_rle/<entry_id>.json             GT masks, RLE layout
<root>/benchmark/mcq/st_evidence_mcq.csv, temp_options.json, mask_options.json, options/<entry_id>/*.png
<root>/instruct/videos/<video_id>.mp4           training videos
<root>/instruct/gen_qa/synth/st_evidence_synth.csv     QA + temporal_evidence
<root>/instruct/gen_mask/st_evidence.csv        QA + temporal_evidence of the mask task
<root>/instruct/gen_mask/masks/<entry_id>.json  polygon masks + bbox_norm prompts
<root>/instruct/gen_mask/video_frames_6fps/<video_id>/frame_0000.jpg ...  (frame_0000 = frame 0)
<root>/baselines/<name>/predictions.json, masks/<entry_id>.json        trivial-baseline predictions
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_ROOT = "data/synth"
META_FILE = "synth_meta.json"


def default_root() -> Path:
    """Where the embedded synthetic benchmark lives when no root is given.

    $EVQA_SYNTH_ROOT if set; else `data/synth` of the source checkout EVQA runs from (so the upstream scripts,
    run from benchmark/ sub-folders, share one copy with `evqa` run from the top); else `data/synth` under the
    current directory (an installed, non-editable package).
    """
    if os.environ.get("EVQA_SYNTH_ROOT"):
        return Path(os.environ["EVQA_SYNTH_ROOT"])
    checkout = Path(__file__).resolve().parents[3]  # evqa/data/synth/paths.py -> the checkout
    if (checkout / "pyproject.toml").is_file() and (checkout / "evqa").is_dir():
        return checkout / DEFAULT_ROOT
    return Path(DEFAULT_ROOT)


class SynthPaths:
    """Paths of the files under one synthetic-data root (nothing is created by constructing it)."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_root()
        bench = self.root / "benchmark"
        instruct = self.root / "instruct"
        self.meta = self.root / META_FILE
        self.benchmark_dir = bench
        self.gen_csv = bench / "st_evidence_gen.csv"
        self.video_dir = bench / "videos"
        self.gt_mask_png_dir = bench / "masks"
        self.gt_mask_rle_dir = bench / "masks_rle"
        self.mcq_dir = bench / "mcq"
        self.mcq_csv = self.mcq_dir / "st_evidence_mcq.csv"
        self.temp_options = self.mcq_dir / "temp_options.json"
        self.mask_options = self.mcq_dir / "mask_options.json"
        self.mcq_option_dir = self.mcq_dir / "options"
        self.instruct_dir = instruct
        self.instruct_video_dir = instruct / "videos"
        self.instruct_qa_csv = instruct / "gen_qa" / "synth" / "st_evidence_synth.csv"
        self.instruct_mask_csv = instruct / "gen_mask" / "st_evidence.csv"
        self.instruct_mask_dir = instruct / "gen_mask" / "masks"
        self.frames_dir = instruct / "gen_mask" / "video_frames_6fps"
        self.baselines_dir = self.root / "baselines"

    def __repr__(self) -> str:
        return f"SynthPaths({str(self.root)!r})"

    def is_complete(self) -> bool:
        """True once a generation into this root has finished (the meta file is written last)."""
        return self.meta.is_file()

    def frame_folder(self, video_id: str) -> Path:
        """The 6-fps JPEG folder of one training video."""
        return self.frames_dir / video_id

    def baseline(self, name: str) -> tuple[Path, Path]:
        """(prediction JSON, RLE mask folder) of one trivial baseline."""
        return self.baselines_dir / name / "predictions.json", self.baselines_dir / name / "masks"
